// Small process helpers for the test lab: run a command with a bounded time, check a TCP port, bounded waits.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { RunbookError } from '../errors.js';

export class LabError extends RunbookError {
  declare readonly code: 'lab_error';
  constructor(message: string) {
    super('lab_error', message);
    this.name = 'LabError';
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * Runs argv (no shell) in its own process group. On timeout the whole group gets SIGKILL and the result has
 * code 124. Resolves once the process has exited and its pipes closed (or at most 2 s after exit, so a daemon
 * that keeps our pipes open cannot hang us).
 */
export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let exitCode: number | null = null;
    let settled = false;
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const finish = (code: number, extraErr = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + extraErr,
        timedOut,
      });
    };
    let grace: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      // If even the kill does not release us (a setsid'd grandchild holding the pipes), give up after 2 s.
      grace = setTimeout(() => finish(124, `\n[lab] timed out after ${timeoutMs} ms: ${argv.join(' ')}\n`), 2000);
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => finish(127, `\n[lab] cannot run ${argv[0]}: ${e.message}\n`));
    child.on('exit', (code, signal) => {
      exitCode = code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : 1);
      if (!timedOut) clearTimeout(timer);
      if (!grace) grace = setTimeout(() => finish(timedOut ? 124 : exitCode!), 2000);
    });
    child.on('close', (code, signal) => {
      const c = exitCode ?? code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : 1);
      finish(timedOut ? 124 : c, timedOut ? `\n[lab] timed out after ${timeoutMs} ms: ${argv.join(' ')}\n` : '');
    });
    child.stdin.on('error', () => {
      /* EPIPE when the command does not read its input */
    });
    child.stdin.end(opts.input ?? '');
  });
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  const table: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13, SIGABRT: 6 };
  return table[sig];
}

/** Runs argv and throws a LabError (with stderr) unless it exits 0. */
export async function must(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    throw new LabError(`command failed (exit ${r.code}): ${argv.join(' ')}\n${r.stderr.trim()}`);
  }
  return r;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One TCP connect attempt from the root namespace; true if the port accepted the connection. */
export function tcpOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean) => {
      sock.removeAllListeners();
      sock.on('error', () => {});
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Polls `check` up to `tries` times, `intervalMs` apart. Returns whether it ever returned true. */
export async function waitFor(check: () => Promise<boolean> | boolean, tries = 100, intervalMs = 50): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return true;
    await sleep(intervalMs);
  }
  return false;
}

/** Runs fn over items with at most `limit` in flight; rejects with the first error after all settled. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let firstError: unknown;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (e) {
        if (firstError === undefined) firstError = e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (firstError !== undefined) throw firstError;
  return results;
}

/** Process start time (clock ticks since boot, field 22 of /proc/PID/stat), to tell a live owner from a reused pid. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19]; // field 22 overall = index 19 after dropping pid and comm
  } catch {
    return undefined;
  }
}

export function processAlive(pid: number, startTime?: string): boolean {
  const st = processStartTime(pid);
  if (st === undefined) return false;
  return startTime === undefined || st === startTime;
}

/** Reads /proc/PID/comm; undefined if the process is gone. */
export function processComm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}
