/**
 * The per-host run lock: two `runbook apply` against the same host never interleave (docs/adr: host lock).
 *
 * A holder script runs for the whole run on its own channel of the host's persistent connection:
 * `flock -w TIMEOUT 9` on the lock file (default /run/lock/runbook.lock, /tmp/.runbook.lock where /run/lock is
 * missing), then writes who holds it (controller pid, controller host name, user, since, a random run token) into
 * the file and keeps fd 9 open, printing one byte a second. The kernel drops the lock when that shell dies:
 * - at the end of the run we kill it (release), and the connection closes;
 * - when the controller dies or the connection drops, its stdout pipe loses its reader, and the next write kills it
 *   with SIGPIPE (within about a second), so a crashed run leaves no stale lock behind.
 * The controller learns the lock is held by polling the file for its run token; a holder that gives up (flock
 * timeout) exits 75 and the error names the current holder: "host X is locked by runbook pid N on CTL since T".
 *
 * Re-entrant per run: two inventory hosts of one run that share a filesystem (lab hosts sharing /run, two names
 * for one machine) find the lock held by their own run (same run token) and share it instead of waiting for it.
 */
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import { RunbookError } from '../errors.js';
import { q } from '../connection/scripts.js';
import type { Connection, ExecResult, RunOptions } from '../connection/types.js';

export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

export interface HostLockOptions {
  /** lock file on the host; default /run/lock/runbook.lock (or /tmp/.runbook.lock without /run/lock) */
  file?: string;
  /** how long to wait for another run's lock; 0 = do not wait */
  timeoutMs: number;
  /** called once when the lock is held by someone else and we start waiting (with the holder's description) */
  onWait?: (holder: string) => void;
}

export interface HolderInfo {
  pid?: string;
  controller?: string;
  user?: string;
  since?: string;
  run?: string;
  acq?: string;
}

/** Parses the holder line `runbook pid=N controller=C user=U since=T run=R rpid=P`. */
export function parseHolder(text: string): HolderInfo {
  const line = text.split('\n').find((l) => l.startsWith('runbook ')) ?? '';
  const out: Record<string, string> = {};
  for (const m of line.matchAll(/(\w+)=(\S+)/g)) out[m[1]!] = m[2]!;
  return out as HolderInfo;
}

export function describeHolder(text: string): string {
  const h = parseHolder(text);
  if (!h.pid) return 'another runbook run (its details are not readable)';
  return `runbook pid ${h.pid} on ${h.controller ?? '?'}${h.user ? ` (user ${h.user})` : ''} since ${h.since ?? '?'}`;
}

/** one token per controller process: hosts of this run that share a lock file share the lock */
const RUN_TOKEN = randomBytes(8).toString('hex');

const EXIT_TIMEOUT = 75;
const EXIT_NO_FLOCK = 69;
const EXIT_CANNOT_OPEN = 73;

function holderScript(file: string | undefined, info: string, timeoutMs: number): string {
  const secs = Math.ceil(Math.max(0, timeoutMs) / 1000);
  return [
    `f=${q(file ?? '')}`,
    `if [ -z "$f" ]; then if [ -d /run/lock ] && [ -w /run/lock ]; then f=/run/lock/runbook.lock; else f=/tmp/.runbook.lock; fi; fi`,
    `command -v flock >/dev/null 2>&1 || { printf 'no flock command on this host (util-linux); set runbook_lock=false to run without the host lock\\n' >&2; exit ${EXIT_NO_FLOCK}; }`,
    `[ -e "$f" ] || (umask 000; : >> "$f") 2>/dev/null`,
    `exec 9<"$f" || { printf 'cannot open the lock file %s\\n' "$f" >&2; exit ${EXIT_CANNOT_OPEN}; }`,
    // wait in 1 s steps: between them, a lock held by this very run (another inventory name for this machine) is shared
    `end=$(( $(date +%s) + ${secs} ))`,
    `until flock -n 9; do`,
    `  grep -qF ${q(`run=${RUN_TOKEN}`)} "$f" 2>/dev/null && { printf 'SHARED\n'; exit 0; }`,
    `  [ "$(date +%s)" -ge "$end" ] && { head -c 2000 "$f" 2>/dev/null; exit ${EXIT_TIMEOUT}; }`,
    `  flock -w 1 9 && break`,
    `done`,
    `printf '%s rpid=%s\\n' ${q(info)} "$$" > "$f" || { printf 'cannot write the lock file %s (it must be writable by every user runbook logs in as)\\n' "$f" >&2; exit ${EXIT_CANNOT_OPEN}; }`,
    // hold fd 9 until killed (release) or until our stdout has no reader any more (connection gone: SIGPIPE)
    `while printf .; do sleep 1 9<&-; done`,
    `exit 0`,
  ].join('\n');
}

/** Polls the lock file for our run's token for up to ~2 s; prints the file; exit 0 when held by this run. */
function pollScript(file: string | undefined, token: string): string {
  return [
    `f=${q(file ?? '')}`,
    `if [ -z "$f" ]; then if [ -d /run/lock ] && [ -w /run/lock ]; then f=/run/lock/runbook.lock; else f=/tmp/.runbook.lock; fi; fi`,
    `i=0`,
    `while [ $i -lt 40 ]; do`,
    `  grep -F ${q(`run=${token}`)} "$f" 2>/dev/null && exit 0`,
    `  sleep 0.05; i=$((i+1))`,
    `done`,
    `head -c 2000 "$f" 2>/dev/null`,
    `exit 1`,
  ].join('\n');
}

/** A connection that holds the host lock; close() releases it, then closes the connection. */
class LockedConnection implements Connection {
  constructor(
    private readonly inner: Connection,
    private readonly releaseLock: () => Promise<void>,
  ) {}
  get host(): string {
    return this.inner.host;
  }
  get commandCount(): number {
    return this.inner.commandCount;
  }
  open(): Promise<void> {
    return this.inner.open();
  }
  run(script: string, opts?: RunOptions): Promise<ExecResult> {
    return this.inner.run(script, opts);
  }
  async close(): Promise<void> {
    try {
      await this.releaseLock();
    } finally {
      await this.inner.close();
    }
  }
}

/**
 * Takes the host lock on an open connection. Resolves with a connection whose close() releases the lock; rejects
 * (after closing conn) with a RunbookError code 'lock' naming the holder when the lock stays taken past the timeout.
 */
export async function acquireHostLock(conn: Connection, opts: HostLockOptions): Promise<Connection> {
  const token = RUN_TOKEN;
  const acq = randomBytes(8).toString('hex');
  const info = [
    'runbook',
    `pid=${process.pid}`,
    `controller=${os.hostname().replace(/\s/g, '_') || 'unknown'}`,
    `user=${(() => {
      try {
        return os.userInfo().username.replace(/\s/g, '_');
      } catch {
        return 'unknown';
      }
    })()}`,
    `since=${new Date().toISOString()}`,
    `run=${token}`,
    `acq=${acq}`,
  ].join(' ');
  const fail = async (msg: string, cause?: unknown): Promise<never> => {
    await conn.close().catch(() => {});
    throw new RunbookError('lock', msg, { host: conn.host, cause });
  };

  let holderDone: ExecResult | Error | undefined;
  const holder = conn.run(holderScript(opts.file, info, opts.timeoutMs)).then(
    (r) => (holderDone = r),
    (e: Error) => (holderDone = e),
  );
  const deadline = Date.now() + Math.max(0, opts.timeoutMs) + 15_000;
  let waitedFor: string | undefined;
  let own = false; // the lock line is our holder's (else a sibling host of this run holds it)
  for (;;) {
    let poll: ExecResult;
    try {
      poll = await conn.run(pollScript(opts.file, token));
    } catch (e) {
      // the connection died while we waited: that is the caller's unreachable, not a lock problem
      await holder;
      throw e;
    }
    if (poll.code === 0) {
      own = parseHolder(poll.stdout).acq === acq;
      if (!own || holderDone === undefined) break;
    }
    if (holderDone !== undefined) {
      const r = holderDone;
      if (r instanceof Error) throw r;
      if (r.code === 0 && r.stdout.startsWith('SHARED')) break;
      if (r.code === EXIT_TIMEOUT) {
        const who = describeHolder(r.stdout);
        return fail(
          `host ${conn.host} is locked by ${who}; gave up after ${(opts.timeoutMs / 1000).toFixed(0)} s (--lock-timeout). ` +
            'Wait for that run to finish, or stop it; the lock is released when its connection closes.',
        );
      }
      return fail(`host ${conn.host}: cannot take the host lock: ${(r.stderr || r.stdout).trim() || `exit code ${r.code}`}`);
    }
    if (waitedFor === undefined && poll.stdout.includes('runbook ')) {
      waitedFor = describeHolder(poll.stdout);
      opts.onWait?.(`host ${conn.host} is locked by ${waitedFor}; waiting up to ${(opts.timeoutMs / 1000).toFixed(0)} s`);
    }
    if (Date.now() > deadline) return fail(`host ${conn.host}: the host lock holder did not answer in time`);
  }

  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    // a sibling's lock is released by the sibling; a holder that is gone already (connection lost) took the lock with it
    if (!own || holderDone !== undefined) return;
    const f = q(opts.file ?? '');
    const script = [
      `f=${f}`,
      `if [ -z "$f" ]; then if [ -d /run/lock ] && [ -w /run/lock ]; then f=/run/lock/runbook.lock; else f=/tmp/.runbook.lock; fi; fi`,
      `l=$(grep -F ${q(`acq=${acq}`)} "$f" 2>/dev/null) || exit 0`,
      `p=\${l##*rpid=}`,
      `case $p in ''|*[!0-9]*) exit 0;; esac`,
      // the holder is its session's process group leader (sshd setsid()s each session): end its sleep too, so the
      // channel closes at once; a lone kill is the fallback where it is not (the lock goes with the shell anyway)
      `kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; exit 0`,
    ].join('\n');
    await conn.run(script, { timeoutMs: 10_000 }).catch(() => {});
  };
  return new LockedConnection(conn, release);
}
