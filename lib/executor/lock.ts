/**
 * The per-host run lock: two `runbook apply` against the same host never interleave (docs/adr/0008-host-lock.md).
 *
 * Two files in a lock directory that only its owner can write (default /run/lock/runbook for root, 0755, files
 * 0644; see lockPathScript): `lock` (the run lock, with the holder line) and `lock.work` (the work lock).
 * - A **holder** shell, on its own channel of the run's connection, takes `flock -x` on `lock`, writes the holder
 *   line (controller pid, controller host name, user, since, run token, acquisition id) and keeps the lock until
 *   the controller releases it (a byte written into a FIFO only the owner can reach) or the channel is gone (its
 *   heartbeat, one byte a second on stdout, fails: controller dead, connection cut).
 * - **Every remote command of the run** (LockedConnection.run) first takes `flock -s` on `lock.work` and keeps it
 *   until the command's last process of its own has ended; the command itself runs in a subshell that does not
 *   inherit that fd (a daemon it starts does not keep the host locked).
 * - A new holder, once it has `lock`, writes its line and then waits for `flock -x` on `lock.work`: the commands
 *   of a previous run whose controller died are still running until then. Only after that does it mark itself
 *   `state=held` and the controller starts its own commands. A command of the dead run that had not yet taken its
 *   shared lock when the new holder drained finds a foreign run token in `lock` and exits without running.
 * Nothing is ever killed by a pid found in a file: the holder ends itself.
 *
 * Re-entrant per run: two inventory hosts of one run that share a filesystem (two names for one machine) find the
 * lock held by their own run (same run token) and share it instead of waiting for it.
 */
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import { RunbookError } from '../errors.js';
import { euidShell, q } from '../connection/scripts.js';
import type { Connection, ExecResult, RunOptions } from '../connection/types.js';

export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

export interface HostLockOptions {
  /** lock file on the host; default /run/lock/runbook/lock (root) or /run/lock/runbook-UID/lock (other users) */
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
  state?: string;
}

/** Parses the holder line `runbook pid=N controller=C user=U since=T run=R acq=A state=S`. */
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
const EXIT_UNSAFE = 77;
/** a command of this run found the host lock taken over by another run (ours was lost): it did not run */
export const EXIT_LOCK_LOST = 76;

/**
 * Sets d (lock directory), n (lock file name in it) for the user running the script, from f (the runbook_lock_file
 * value, may be empty). The default directory is per user: only root can own one that every run shares safely.
 */
function lockPathScript(file: string | undefined): string {
  return [
    `f=${q(file ?? '')}`,
    `if [ -z "$f" ]; then`,
    `  if [ -d /run/lock ]; then b=/run/lock; else b=/tmp; fi`,
    `  ${euidShell('u')}; if [ "$u" = 0 ]; then d=$b/runbook; else d=$b/runbook-$u; fi; n=lock`,
    `else`,
    `  case $f in /*) ;; *) printf 'runbook_lock_file must be an absolute path, got %s\\n' "$f" >&2; exit ${EXIT_UNSAFE};; esac`,
    `  d=\${f%/*}; n=\${f##*/}; [ -n "$d" ] || d=/`,
    `  [ -n "$n" ] || { printf 'runbook_lock_file must name a file, got %s\\n' "$f" >&2; exit ${EXIT_UNSAFE}; }`,
    `fi`,
  ].join('\n');
}

function holderScript(file: string | undefined, info: string, acq: string, timeoutMs: number): string {
  const secs = Math.ceil(Math.max(0, timeoutMs) / 1000);
  const unsafe = (what: string) => `{ printf '%s\\n' ${what} >&2; exit ${EXIT_UNSAFE}; }`;
  return [
    lockPathScript(file),
    `command -v flock >/dev/null 2>&1 || { printf 'no flock command on this host (util-linux); set runbook_lock=false to run without the host lock\\n' >&2; exit ${EXIT_NO_FLOCK}; }`,
    `${euidShell('me')}; if [ "$me" = 0 ]; then who=root; else who="root or $(id -un 2>/dev/null || echo "uid $me")"; fi`,
    // owned by root or by us, writable by no one else (ls -n: mode, links, uid)
    // safe_ls MODE LINKS UID (a line of ls -ldn): writable by owner only, owned by root or by us
    `safe_ls() { case $1 in ?????w*|????????w*) return 1;; esac; [ "$3" = 0 ] || [ "$3" = "$me" ]; }`,
    `safe() { set -- $(ls -ldn -- "$1" 2>/dev/null); [ $# -ge 3 ] || return 1; safe_ls "$@"; }`,
    `[ -L "$d" ] && ${unsafe(`"the lock directory $d is a symbolic link; refusing to use it"`)}`,
    `[ -d "$d" ] || (umask 022; mkdir -m 755 -- "$d") 2>/dev/null`,
    `[ -d "$d" ] && [ ! -L "$d" ] || { printf 'cannot create the lock directory %s\\n' "$d" >&2; exit ${EXIT_CANNOT_OPEN}; }`,
    // from here on every name is relative to the checked directory, which no other user can change
    `cd -P -- "$d" || { printf 'cannot enter the lock directory %s\\n' "$d" >&2; exit ${EXIT_CANNOT_OPEN}; }`,
    // the directory and both files in one ls when the files exist and all three are safe (every run after the first);
    // else the directory first (nothing is created in an unsafe one), then each file, naming what is wrong
    `safe3() { [ -f "$n" ] && [ ! -L "$n" ] && [ -f "$n.work" ] && [ ! -L "$n.work" ] || return 1; _o=$(ls -ldn -- . "$n" "$n.work" 2>/dev/null) || return 1; _k=0; ` +
      `while read -r _m _l _u _r; do safe_ls "$_m" "$_l" "$_u" || return 1; _k=$((_k+1)); done <<_RB_LS_`,
    `$_o`,
    `_RB_LS_`,
    `[ "$_k" = 3 ]; }`,
    `if ! safe3; then`,
    `safe . || ${unsafe(`"the lock directory $d must be owned by $who and writable by no one else; refusing to use it"`)}`,
    `for x in "$n" "$n.work"; do`,
    `  [ -L "$x" ] && ${unsafe(`"the lock file $d/$x is a symbolic link; refusing to follow it"`)}`,
    `  [ -e "$x" ] || (umask 022; : >> "$x") 2>/dev/null || { printf 'cannot create the lock file %s\\n' "$d/$x" >&2; exit ${EXIT_CANNOT_OPEN}; }`,
    `  [ -f "$x" ] && [ ! -L "$x" ] || ${unsafe(`"the lock file $d/$x is not a regular file; refusing to use it"`)}`,
    `  safe "$x" || ${unsafe(`"the lock file $d/$x must be owned by $who and writable by no one else; refusing to use it"`)}`,
    `done`,
    `fi`,
    `exec 9<"$n" || { printf 'cannot open the lock file %s\\n' "$d/$n" >&2; exit ${EXIT_CANNOT_OPEN}; }`,
    // wait in 1 s steps: between them, a lock held by this very run (another inventory name for this machine) is shared
    `end=`,
    `flock -n 9 || { end=$(( $(date +%s) + ${secs} )); false; } ||`,
    `until flock -n 9; do`,
    `  grep -F ${q(` run=${RUN_TOKEN} `)} "$n" 2>/dev/null | grep -qF ' state=held' && { printf 'SHARED\\n'; exit 0; }`,
    `  [ "$(date +%s)" -ge "$end" ] && { head -c 2000 "$n" 2>/dev/null; exit ${EXIT_TIMEOUT}; }`,
    `  flock -w 1 9 && break`,
    `done`,
    `IFS= read -r prev < "$n" || :`,
    // our line first (a late command of a dead previous run sees a foreign token and stops), then wait for the
    // previous run's remote commands (their shared lock on the work file) to end
    `printf '%s state=draining\\nwas: %s\\n' ${q(info)} "$prev" > "$n" || { printf 'cannot write the lock file %s\\n' "$d/$n" >&2; exit ${EXIT_CANNOT_OPEN}; }`,
    `exec 8<"$n.work" || { printf 'cannot open the lock file %s\\n' "$d/$n.work" >&2; exit ${EXIT_CANNOT_OPEN}; }`,
    `if ! flock -x -n 8; then`,
    `  [ -n "$end" ] || end=$(( $(date +%s) + ${secs} ))`,
    `  rem=$(( end - $(date +%s) )); [ "$rem" -ge 0 ] || rem=0`,
    `  flock -x -w "$rem" 8 || { printf '%s\\n' "$prev" > "$n"; printf 'DRAINING\\n%s\\n' "$prev"; exit ${EXIT_TIMEOUT}; }`,
    `fi`,
    `exec 8<&-`,
    `printf '%s state=held\\n' ${q(info)} > "$n" || { printf 'cannot write the lock file %s\\n' "$d/$n" >&2; exit ${EXIT_CANNOT_OPEN}; }`,
    // wait for the release (a line in our FIFO) or for the heartbeat to fail (our channel is gone)
    `p=${q(`release.${acq}`)}`,
    `{ [ ! -e "$p" ] && [ ! -L "$p" ]; } || rm -f -- "$p"; mkfifo -m 600 -- "$p" && exec 3<>"$p" || { printf 'cannot make the release FIFO in %s\\n' "$d" >&2; exit ${EXIT_CANNOT_OPEN}; }`,
    `( trap '' PIPE; while printf .; do sleep 1; done; printf 'gone\\n' >&3 ) 9<&- 2>/dev/null &`,
    `hb=$!`,
    `IFS= read -r why <&3`,
    `kill "$hb" 2>/dev/null; rm -f -- "$p"`,
    `exit 0`,
  ].join('\n');
}

/**
 * Prints `RBDIR <lock directory>` and the lock file; waits up to 40 steps of 50 ms for this run's line in state
 * held: exit 0 when held by this run (our holder or a sibling host's), 1 otherwise. With `quick` (the first poll),
 * it answers after 5 steps already when the lock is held by someone else (a foreign line, or ours still draining),
 * so the controller can say whom it waits for before that run ends, however slow the host is.
 */
function pollScript(file: string | undefined, token: string, acq: string, quick: boolean): string {
  return [
    lockPathScript(file),
    `cd -P -- "$d" 2>/dev/null || exit 1`,
    `printf 'RBDIR %s\n' "$PWD"`,
    `i=0; other=0; free=`,
    `while [ $i -lt 40 ]; do`,
    `  IFS= read -r l < "$n" || l=`,
    `  case $l in`,
    `    *${q(` run=${token} `)}*' state=held'*) head -c 2000 "$n"; exit 0;;`,
    `    *${q(` acq=${acq} `)}*) other=$((other+1));;`,
    // a foreign line: is its run's lock still held? (asked once per line: a line seen free stays free until another
    // run writes its own)
    `    'runbook '*) if [ "$l" = "$free" ]; then other=0; elif flock -n -s 9 9<"$n" 2>/dev/null; then other=0; free=$l; else other=$((other+1)); fi;;`,
    `  esac`,
    quick ? `  [ $other -lt 5 ] || break` : `  :`,
    `  sleep 0.05; i=$((i+1))`,
    `done`,
    `head -c 2000 "$n" 2>/dev/null`,
    `exit 1`,
  ].join('\n');
}

/**
 * Wraps one remote command of the run: it holds the shared work lock until its own processes (not daemons it
 * starts: the subshell closes fd 8) have ended, and it does not run at all when another run holds the host lock.
 */
export function lockedCommand(script: string, lockFile: string, host: string): string {
  return [
    `exec 8<${q(`${lockFile}.work`)} && flock -s -w 30 8 || { printf 'runbook: cannot take the shared host lock %s\\n' ${q(`${lockFile}.work`)} >&2; exit ${EXIT_LOCK_LOST}; }`,
    `IFS= read -r rb_l < ${q(lockFile)} || rb_l=`,
    `case $rb_l in *${q(` run=${RUN_TOKEN} `)}*) ;; *) printf 'runbook: host %s is no longer locked by this run (another run holds it now); command not run\\n' ${q(host)} >&2; exit ${EXIT_LOCK_LOST};; esac`,
    `unset rb_l`,
    `(`,
    script,
    `) 8<&-`,
  ].join('\n');
}

/** A connection that holds the host lock; close() releases it, then closes the connection. */
class LockedConnection implements Connection {
  constructor(
    private readonly inner: Connection,
    private readonly lockFile: string,
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
    return this.inner.run(lockedCommand(script, this.lockFile, this.inner.host), opts);
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
 * Takes the host lock on an open connection. Resolves with a connection whose commands hold the host's work lock
 * and whose close() releases the lock; rejects (after closing conn) with a RunbookError code 'lock' naming the
 * holder when the lock stays taken past the timeout, or when the lock path is unsafe.
 */
export async function acquireHostLock(conn: Connection, opts: HostLockOptions): Promise<Connection> {
  const token = RUN_TOKEN;
  const acq = randomBytes(8).toString('hex');
  const fail = async (msg: string, cause?: unknown): Promise<never> => {
    await conn.close().catch(() => {});
    throw new RunbookError('lock', msg, { host: conn.host, cause });
  };
  if (opts.file !== undefined && /[\n\r]/.test(opts.file)) return fail(`host ${conn.host}: runbook_lock_file must not contain a line break`);
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

  let holderDone: ExecResult | Error | undefined;
  const holder = conn.run(holderScript(opts.file, info, acq, opts.timeoutMs)).then(
    (r) => (holderDone = r),
    (e: Error) => (holderDone = e),
  );
  const deadline = Date.now() + Math.max(0, opts.timeoutMs) + 15_000;
  let waitedFor: string | undefined;
  let own = false; // the lock line is our holder's (else a sibling host of this run holds it)
  let dir: string | undefined;
  for (;;) {
    let poll: ExecResult;
    try {
      poll = await conn.run(pollScript(opts.file, token, acq, waitedFor === undefined));
    } catch (e) {
      // the connection died while we waited: that is the caller's unreachable, not a lock problem
      await holder;
      throw e;
    }
    const m = /^RBDIR (.*)$/m.exec(poll.stdout);
    if (m) dir = m[1];
    const content = poll.stdout.replace(/^RBDIR .*\n?/m, '');
    if (poll.code === 0) {
      own = parseHolder(content).acq === acq;
      if (!own || holderDone === undefined) break;
    }
    if (holderDone !== undefined) {
      const r = holderDone;
      if (r instanceof Error) throw r;
      if (r.code === 0 && r.stdout.startsWith('SHARED') && dir !== undefined) break; // a sibling host of this run holds it
      if (r.code === EXIT_TIMEOUT) {
        const draining = r.stdout.startsWith('DRAINING');
        const who = describeHolder(r.stdout);
        return fail(
          draining
            ? `host ${conn.host} is still busy with the remote commands of ${who}, whose controller is gone; gave up after ${(opts.timeoutMs / 1000).toFixed(0)} s (--lock-timeout). ` +
                'The lock is free once those commands have ended.'
            : `host ${conn.host} is locked by ${who}; gave up after ${(opts.timeoutMs / 1000).toFixed(0)} s (--lock-timeout). ` +
                'Wait for that run to finish, or stop it; the lock is released when its connection closes and its remote commands have ended.',
        );
      }
      return fail(`host ${conn.host}: cannot take the host lock: ${(r.stderr || r.stdout).trim() || `exit code ${r.code}`}`);
    }
    if (waitedFor === undefined) {
      const h = parseHolder(content);
      if (h.acq === acq && h.state === 'draining') {
        const was = /^was: (.*)$/m.exec(content)?.[1] ?? '';
        waitedFor = describeHolder(was);
        opts.onWait?.(
          `host ${conn.host}: the remote commands of ${waitedFor} are still running (its controller is gone); waiting for them up to ${(opts.timeoutMs / 1000).toFixed(0)} s`,
        );
      } else if (h.pid && h.run !== token) {
        // (a line of this run is a sibling host's holder: we share its lock once it is held, without a warning)
        waitedFor = describeHolder(content);
        opts.onWait?.(`host ${conn.host} is locked by ${waitedFor}; waiting up to ${(opts.timeoutMs / 1000).toFixed(0)} s`);
      }
    }
    if (Date.now() > deadline) return fail(`host ${conn.host}: the host lock holder did not answer in time`);
  }
  if (!dir) return fail(`host ${conn.host}: cannot take the host lock: the lock directory was not reported`);
  const lockDir = dir;
  const lockFile = `${lockDir.replace(/\/$/, '')}/${opts.file !== undefined ? opts.file.slice(opts.file.lastIndexOf('/') + 1) : 'lock'}`;

  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    // a sibling's lock is released by the sibling; a holder that is gone already (connection lost) took the lock with it
    if (!own || holderDone !== undefined) return;
    // a line into the holder's FIFO ends it; wait (bounded) until it is gone, so the lock is free when close() returns
    const p = q(`${lockDir.replace(/\/$/, '')}/release.${acq}`);
    const script = [
      `p=${p}`,
      `[ -p "$p" ] && [ ! -L "$p" ] || exit 0`,
      `exec 3<>"$p" && printf 'release\\n' >&3; exec 3>&-`,
      `i=0; while [ -p "$p" ] && [ $i -lt 100 ]; do sleep 0.02; i=$((i+1)); done; exit 0`,
    ].join('\n');
    await conn.run(script, { timeoutMs: 10_000 }).catch(() => {});
  };
  return new LockedConnection(conn, lockFile, release);
}
