/**
 * The reboot action (ansible.builtin.reboot): it drops and re-opens the host's connection, so the executor runs it
 * itself (lib/actions/reboot.ts), not as a module.
 *
 * 1. read the boot id (boot_time_command, default `cat /proc/sys/kernel/random/boot_id`);
 * 2. run the reboot command (default `shutdown -r +MIN "msg"`, MIN = pre_reboot_delay / 60 like Ansible; a given
 *    reboot_command runs as it is). It may return (the reboot is scheduled) or the connection may die under it:
 *    both are fine; a non-zero exit that leaves the connection up fails the task;
 * 3. wait post_reboot_delay, then, until reboot_timeout, poll over the connection: the host counts as rebooted when
 *    its boot id changed, or when the connection dropped and a new one answers (a lab host, or a container, whose
 *    "reboot" restarts sshd keeps its boot id). Each connection attempt is bounded by connect_timeout;
 * 4. run test_command (default `whoami`) on the new connection until it succeeds.
 * Always changed; in check mode nothing runs and the task reports that it would reboot.
 */
import { quote } from 'shlex';
import type { Connection, RunOptions } from '../connection/types.js';

export interface RebootArgs {
  reboot_timeout?: number;
  connect_timeout?: number;
  pre_reboot_delay?: number;
  post_reboot_delay?: number;
  test_command?: string;
  msg?: string;
  reboot_command?: string;
  boot_time_command?: string;
}

export interface RebootHooks {
  /** the host's connection (opened when needed) */
  connect(): Promise<Connection>;
  /** forget (and close) the current connection, so the next connect() opens a new one */
  reset(): Promise<void>;
  runOpts: RunOptions;
  /** sleep (ms); injectable for tests */
  sleep?: (ms: number) => Promise<void>;
}

export interface RebootOutcome {
  ok: boolean;
  reason: string;
  result: Record<string, unknown>;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function rebootCommand(a: RebootArgs): string {
  if (a.reboot_command !== undefined) return a.reboot_command;
  const min = Math.floor((a.pre_reboot_delay ?? 0) / 60);
  return `shutdown -r +${min} ${quote(a.msg ?? 'Reboot initiated by runbook')}`;
}

export async function runReboot(a: RebootArgs, h: RebootHooks): Promise<RebootOutcome> {
  const sleep = h.sleep ?? defaultSleep;
  const started = Date.now();
  const elapsed = () => Math.round((Date.now() - started) / 1000);
  const timeoutMs = (a.reboot_timeout ?? 600) * 1000;
  const connectMs = (a.connect_timeout ?? 30) * 1000;
  const bootCmd = a.boot_time_command ?? 'cat /proc/sys/kernel/random/boot_id';
  const testCmd = a.test_command ?? 'whoami';
  const command = rebootCommand(a);

  const first = await h.connect();
  const b = await first.run(bootCmd, h.runOpts);
  if (b.code !== 0) return { ok: false, reason: `cannot read the boot id before rebooting (${bootCmd}: exit ${b.code}): ${b.stderr.trim()}`, result: { rebooted: false } };
  const bootId = b.stdout.trim();

  let dropped = false;
  try {
    const r = await first.run(command, { ...h.runOpts, timeoutMs: Math.max(connectMs, 10_000) });
    if (r.code !== 0) {
      // a reboot that kills the shell under the command looks like a failure: only a host still answering says it was one
      const alive = await first.run('true', h.runOpts).then((x) => x.code === 0, () => false);
      if (alive) return { ok: false, reason: `reboot command failed (exit ${r.code}): ${command}: ${r.stderr.trim() || r.stdout.trim()}`, result: { rebooted: false } };
      dropped = true;
    }
  } catch {
    dropped = true;
  }
  if (a.post_reboot_delay) await sleep(a.post_reboot_delay * 1000);

  let lastError = 'the host did not reboot';
  for (let attempt = 1; ; attempt++) {
    if (dropped) await h.reset();
    try {
      const c = await withTimeout(h.connect(), connectMs, `connect timed out after ${connectMs / 1000}s`);
      const r = await withTimeout(c.run(bootCmd, h.runOpts), connectMs, `${bootCmd} timed out`);
      const id = r.stdout.trim();
      if (r.code === 0 && (id !== bootId || dropped)) {
        const t = await c.run(testCmd, h.runOpts);
        if (t.code === 0) {
          const how = id !== bootId ? 'the boot id changed' : 'the connection dropped and the host answers again';
          return { ok: true, reason: `rebooted (${how}); back after ${elapsed()}s, ${attempt} attempt(s)`, result: { rebooted: true, elapsed: elapsed() } };
        }
        lastError = `test command ${testCmd} failed (exit ${t.code}): ${t.stderr.trim()}`;
      } else if (r.code !== 0) lastError = `${bootCmd} failed (exit ${r.code})`;
    } catch (e) {
      dropped = true;
      lastError = (e as Error).message;
    }
    if (Date.now() - started > timeoutMs) {
      return { ok: false, reason: `timed out after ${timeoutMs / 1000}s waiting for the host to reboot: ${lastError}`, result: { rebooted: false, elapsed: elapsed() } };
    }
    await sleep(1000);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, msg: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(msg)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
