/**
 * Faults, in the lab against real sshd (issue #6): sshd killed mid-run and mid-write, the link dropped, a host that
 * accepts TCP but never speaks SSH, SIGINT/SIGTERM, a full disk, two runs at once. Every wait is bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { Lab } from '../lib/lab/lab.js';
import { atomicWriteScript } from '../lib/connection/scripts.js';
import { BIN, ROOT, cliAsync, events, type CliResult } from './helpers.js';

const FIX = path.join(ROOT, 'test/fixtures/faults');
const SLOW = path.join(FIX, 'slow.yml');
const BIG = path.join(FIX, 'bigcopy.yml');
const MARKERS = path.join(FIX, 'markers.yml');
const base = `/tmp/rbk-faults-${process.pid}`;
let lab: Lab;
let inv: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls check every 50 ms until it holds or ms pass; returns whether it held. */
async function until(check: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(50);
  }
  return false;
}

/** Waits for check while a background run goes on; on timeout, fails with the run's output. */
async function waitDuring(run: { child: ChildProcess; done: Promise<CliResult> }, what: string, check: () => Promise<boolean> | boolean, ms = 90_000): Promise<void> {
  if (await until(check, ms)) return;
  run.child.kill('SIGKILL');
  const r = await run.done;
  expect.fail(`${what} did not happen within ${ms} ms; the run (exit ${r.code}) said:\n${r.stdout}\n${r.stderr}`);
}

const exists = async (host: string, p: string) => (await lab.exec(host, ['test', '-e', p])).code === 0;
const cat = async (host: string, p: string) => (await lab.exec(host, ['cat', p])).stdout;

/** Leftover temp files of atomic writes under dir (on that host's view of the filesystem). */
async function tempFiles(host: string, dir: string): Promise<string[]> {
  const r = await lab.exec(host, ['find', dir, '-name', '.runbook-tmp.*']);
  return r.stdout.split('\n').filter(Boolean);
}

/** The host lock is free: nobody holds /run/lock/runbook/lock (a run) or lock.work (a run's remote command) on that host. */
const lockFree = async (host: string) =>
  (await lab.exec(host, ['sh', '-c', 'flock -n /run/lock/runbook/lock true && flock -n /run/lock/runbook/lock.work true'])).code === 0;

/** Starts the CLI in the background (so the test can signal it), collecting its output. */
function startCli(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<CliResult & { ms: number }> } {
  const t0 = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', CI: 'true', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const done = new Promise<CliResult & { ms: number }>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code: code ?? (signal ? -1 : -2), stdout, stderr, ms: Date.now() - t0 });
    });
  });
  return { child, done };
}

function results(stdout: string, host: string): Record<string, any>[] {
  return events(stdout).filter((e) => e.event === 'task:result' && e.host === host);
}

function recapOf(stdout: string): Record<string, any> {
  const end = events(stdout).find((e) => e.event === 'run:end');
  expect(end, stdout).toBeDefined();
  return Object.fromEntries(end!.recap.map((r: any) => [r.host, r]));
}

beforeAll(async () => {
  lab = await Lab.create({ name: 'faults', hosts: 3 });
  inv = path.join(lab.dir, 'faults-inventory.yml');
  fs.writeFileSync(inv, lab.inventoryYaml());
  fs.mkdirSync(base, { recursive: true });
});

afterAll(async () => {
  await lab?.destroy();
  fs.rmSync(base, { recursive: true, force: true });
});

describe('faults against real sshd', () => {
  const h = (i: number) => lab.hosts[i]!.name;

  it('sshd killed during a task: the host is unreachable at that task, nothing half-written, the next run converges', async () => {
    const b = `${base}/killed`;
    const victim = h(0);
    const run = startCli(['apply', SLOW, '-i', inv, '--format', 'json', '-e', `base=${b}`, '-e', 'pause=3']);
    await waitDuring(run, 'the first file', () => exists(victim, `${b}/${victim}/first`));
    await sleep(500); // the slow step is in flight now
    await lab.killSshd(victim);
    const r = await run.done;
    expect(r.code, r.stderr + r.stdout).toBe(4);
    const mine = results(r.stdout, victim);
    const last = mine[mine.length - 1]!;
    expect(last.task).toBe('Slow step');
    expect(last.status).toBe('unreachable');
    expect(last.reason).toMatch(/connection lost|closed/i);
    const recap = recapOf(r.stdout);
    expect(recap[victim].unreachable).toBe(1);
    for (const other of [h(1), h(2)]) {
      expect(recap[other].failed + recap[other].unreachable).toBe(0);
      expect(await cat(other, `${b}/${other}/third`)).toBe(`third ${other}\n`);
    }
    // the victim: the file before the fault is whole, the ones after were never started, no temp file anywhere
    expect(await cat(victim, `${b}/${victim}/first`)).toBe(`first ${victim}\n`);
    expect(await exists(victim, `${b}/${victim}/second`)).toBe(false);
    expect(await tempFiles(victim, b)).toEqual([]);

    await lab.startSshd(victim);
    // the run's lock holder died with its connection: the host lock is free again, within a bounded time
    expect(await until(() => lockFree(victim), 10_000)).toBe(true);
    const again = await cliAsync(['apply', SLOW, '-i', inv, '--format', 'json', '-e', `base=${b}`, '-e', 'pause=0'], { timeoutMs: 60_000 });
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(await cat(victim, `${b}/${victim}/third`)).toBe(`third ${victim}\n`);
    const changed = recapOf(again.stdout);
    expect(changed[victim].changed).toBe(2); // second and third
    expect(changed[h(1)].changed).toBe(0);
    const third = await cliAsync(['apply', SLOW, '-i', inv, '--format', 'json', '-e', `base=${b}`, '-e', 'pause=0'], { timeoutMs: 60_000 });
    expect(third.code).toBe(0);
    for (const x of Object.values(recapOf(third.stdout))) expect(x.changed).toBe(0);
  });

  it('sshd killed while a large file is streaming: the old file stays, no truncated file, no temp file', async () => {
    const victim = h(1);
    const dir = `${base}/bigcopy/${victim}`;
    fs.mkdirSync(dir, { recursive: true });
    const dest = `${dir}/data`;
    fs.writeFileSync(dest, 'old content\n');
    const src = path.join(lab.dir, 'big.bin');
    const size = 3 * 1024 * 1024;
    fs.writeFileSync(src, randomBytes(size / 2).toString('hex'));
    // slow the host's link to ~4 Mbit/s (root-side veth egress): the 3 MB transfer takes ~6 s
    const veth = lab.linkOf(victim);
    const tc = spawnSyncOk(['tc', 'qdisc', 'add', 'dev', veth, 'root', 'tbf', 'rate', '4mbit', 'burst', '32kb', 'latency', '400ms']);
    expect(tc, 'tc qdisc add').toBe(true);
    try {
        const run = startCli(['apply', BIG, '-i', inv, '--limit', victim, '--format', 'json', '-e', `src=${src}`, '-e', `dest=${dest}`]);
      // wait until the temp file is there and partly written, then kill sshd (listener and sessions)
      const partly = await until(async () => {
        const t = await tempFiles(victim, dir);
        if (t.length !== 1) return false;
        const n = Number((await lab.exec(victim, ['stat', '-c', '%s', t[0]!])).stdout.trim());
        return n > 100_000 && n < size;
      }, 30_000);
      expect(partly, 'a partly written temp file appeared').toBe(true);
      await lab.killSshd(victim);
      const r = await run.done;
      expect(r.code, r.stderr + r.stdout).toBe(4);
      const res = results(r.stdout, victim);
      expect(res[res.length - 1]!.task).toBe('Large file');
      expect(res[res.length - 1]!.status).toBe('unreachable');
      // the remote script saw its input end early: it refused the short file and removed its temp file
      expect(await until(async () => (await tempFiles(victim, dir)).length === 0, 10_000)).toBe(true);
      expect(fs.readFileSync(dest, 'utf8')).toBe('old content\n');
    } finally {
      spawnSyncOk(['tc', 'qdisc', 'del', 'dev', veth, 'root']);
      await lab.startSshd(victim);
    }
    expect(await until(() => lockFree(victim), 10_000)).toBe(true);
    const again = await cliAsync(['apply', BIG, '-i', inv, '--limit', victim, '--format', 'json', '-e', `src=${src}`, '-e', `dest=${dest}`], { timeoutMs: 60_000 });
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(fs.readFileSync(dest).equals(fs.readFileSync(src)), 'the whole file arrived').toBe(true);
  });

  it('the atomic write refuses input that ended early (length check), leaving the target and no temp file', async () => {
    const host = h(2);
    const dir = `${base}/short/${host}`;
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(`${dir}/f`, 'before\n');
    const r = await lab.exec(host, ['sh', '-c', atomicWriteScript(`${dir}/f`, { size: 100 })], { input: 'x'.repeat(50) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('received 50 of 100 bytes');
    expect(fs.readFileSync(`${dir}/f`, 'utf8')).toBe('before\n');
    expect(await tempFiles(host, dir)).toEqual([]);
    // the same script with the whole input writes it
    const ok = await lab.exec(host, ['sh', '-c', atomicWriteScript(`${dir}/f`, { size: 100 })], { input: 'y'.repeat(100) });
    expect(ok.code, ok.stderr).toBe(0);
    expect(fs.readFileSync(`${dir}/f`, 'utf8')).toBe('y'.repeat(100));
  });

  it('disk full on the target: the task fails with a clear message, the original file is intact, no temp file', async () => {
    const host = h(0);
    const dir = `${base}/full-${host}`;
    expect((await lab.exec(host, ['mkdir', '-p', dir])).code).toBe(0);
    // a 64 KiB tmpfs, mounted in the host's own mount namespace only
    const m = await lab.exec(host, ['mount', '-t', 'tmpfs', '-o', 'size=64k', 'rbk-full', dir]);
    expect(m.code, m.stderr).toBe(0);
    try {
      expect((await lab.exec(host, ['sh', '-c', `printf 'original\\n' > ${dir}/data`])).code).toBe(0);
      const src = path.join(lab.dir, 'too-big.txt');
      fs.writeFileSync(src, 'z'.repeat(200_000));
      const r = await cliAsync(['apply', BIG, '-i', inv, '--limit', host, '--format', 'json', '-e', `src=${src}`, '-e', `dest=${dir}/data`], { timeoutMs: 60_000 });
      expect(r.code, r.stderr + r.stdout).toBe(2);
      const res = results(r.stdout, host).find((e) => e.task === 'Large file')!;
      expect(res.status).toBe('failed');
      expect(res.reason).toMatch(/No space left on device|disk full/);
      expect(res.reason).toContain(`${dir}/data`);
      expect(await cat(host, `${dir}/data`)).toBe('original\n');
      expect(await tempFiles(host, dir)).toEqual([]);
    } finally {
      await lab.exec(host, ['umount', dir]);
    }
  });

  it('SIGTERM during a run: the task in flight finishes, no new task starts, recap printed, connections closed, exit 143', async () => {
    const b = `${base}/term`;
    // a generous grace: the loaded CI machine may need more than the default 5 s for a 2 s step
    const run = startCli(['apply', SLOW, '-i', inv, '--format', 'json', '-e', `base=${b}`, '-e', 'pause=2'], { RUNBOOK_ABORT_GRACE: '20' });
    await waitDuring(run, 'the first file on every host', async () => (await Promise.all([h(0), h(1), h(2)].map((x) => exists(x, `${b}/${x}/first`)))).every(Boolean));
    await sleep(300);
    run.child.kill('SIGTERM');
    const r = await run.done;
    expect(r.code, r.stderr + r.stdout).toBe(143);
    expect(r.stderr).toMatch(/SIGTERM received/);
    const evs = events(r.stdout);
    const end = evs.find((e) => e.event === 'run:end');
    expect(end, 'recap printed').toBeDefined();
    expect(end!.exit_code).toBe(143);
    for (const x of [h(0), h(1), h(2)]) {
      const res = results(r.stdout, x);
      expect(res.map((e) => e.task)).toEqual(['Host directory', 'First file', 'Slow step']);
      expect(res[2]!.status).toBe('ok'); // the step in flight finished within the grace time
      expect(await exists(x, `${b}/${x}/second`)).toBe(false);
      expect(await tempFiles(x, b)).toEqual([]);
      // its connection is closed: the run's lock holder is gone
      expect(await until(() => lockFree(x), 5_000)).toBe(true);
    }
  });

  it('SIGINT during a long command: after the grace time the connection is cut, the task fails as interrupted, recap, exit 130', async () => {
    const b = `${base}/int`;
    const host = h(2);
    const run = startCli(['apply', SLOW, '-i', inv, '--limit', host, '--format', 'plain', '-e', `base=${b}`, '-e', 'pause=60'], { RUNBOOK_ABORT_GRACE: '1' });
    await waitDuring(run, 'the first file', () => exists(host, `${b}/${host}/first`));
    await sleep(300);
    const t0 = Date.now();
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(r.code, r.stderr + r.stdout).toBe(130);
    expect(r.stdout).toMatch(/interrupted by SIGINT/);
    expect(r.stdout).toMatch(/PLAY RECAP/);
    expect(r.stdout).toMatch(new RegExp(`${host}\\s+: ok=\\d+\\s+changed=\\d+\\s+unreachable=0\\s+failed=1`));
    expect(await exists(host, `${b}/${host}/second`)).toBe(false);
    expect(await tempFiles(host, b)).toEqual([]);
    // the run's holder is gone, but the interrupted command still runs on the host: it keeps the host locked
    // (lock.work) until it ends, so that a next run cannot interleave with it (ADR 0008)
    expect(await until(async () => (await lab.exec(host, ['flock', '-n', '/run/lock/runbook/lock', 'true'])).code === 0, 5_000)).toBe(true);
    expect((await lab.exec(host, ['flock', '-n', '/run/lock/runbook/lock.work', 'true'])).code).toBe(1);
    await lab.exec(host, ['pkill', '-x', '-f', 'sleep 60']); // the interrupted command itself (ours, in this host's netns only)
    expect(await until(() => lockFree(host), 5_000)).toBe(true);
  });

  it('two runs at once against one host are serialised by the host lock: their markers never interleave', async () => {
    const host = h(0);
    const log = `${base}/markers-${host}.log`;
    fs.rmSync(log, { force: true });
    const a = startCli(['apply', MARKERS, '-i', inv, '--limit', host, '--format', 'json', '-e', `log=${log}`, '-e', 'run_id=A', '-e', 'pause=2']);
    await waitDuring(a, 'the first marker of A', () => fs.existsSync(log));
    const b = startCli(['apply', MARKERS, '-i', inv, '--limit', host, '--format', 'json', '-e', `log=${log}`, '-e', 'run_id=B', '-e', 'pause=2']);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.code, ra.stderr + ra.stdout).toBe(0);
    expect(rb.code, rb.stderr + rb.stdout).toBe(0);
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
    expect(lines).toEqual(['begin A 1', 'end A 1', 'begin A 2', 'end A 2', 'begin B 1', 'end B 1', 'begin B 2', 'end B 2']);
    // B said whom it waited for
    const warn = events(rb.stdout).find((e) => e.event === 'warning' && /is locked by/.test(e.message));
    expect(warn?.message).toMatch(new RegExp(`host ${host} is locked by runbook pid ${a.child.pid} on \\S+ \\(user \\S+\\) since \\d{4}-`));
  });

  it('without the lock (runbook_lock=false) the same two runs do interleave: the marker test can fail', async () => {
    const host = h(0);
    const log = `${base}/markers-nolock-${host}.log`;
    fs.rmSync(log, { force: true });
    const a = startCli(['apply', MARKERS, '-i', inv, '--limit', host, '--format', 'json', '-e', `log=${log}`, '-e', 'run_id=A', '-e', 'runbook_lock=false', '-e', 'pause=5']);
    await waitDuring(a, 'the first marker of A', () => fs.existsSync(log));
    const b = startCli(['apply', MARKERS, '-i', inv, '--limit', host, '--format', 'json', '-e', `log=${log}`, '-e', 'run_id=B', '-e', 'runbook_lock=false', '-e', 'pause=5']);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.code + rb.code).toBe(0);
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
    expect(lines.indexOf('begin B 1')).toBeLessThan(lines.indexOf('end A 2'));
  });

  it('a run that cannot get the lock within --lock-timeout gives up naming the holder, touches nothing, exit 4', async () => {
    const host = h(0);
    const log = `${base}/markers-timeout-${host}.log`;
    fs.rmSync(log, { force: true });
    const a = startCli(['apply', MARKERS, '-i', inv, '--limit', host, '--format', 'json', '-e', `log=${log}`, '-e', 'run_id=A', '-e', 'pause=6']);
    await waitDuring(a, 'the first marker of A', () => fs.existsSync(log));
    const rb = await cliAsync(['apply', MARKERS, '-i', inv, '--limit', host, '--lock-timeout', '1', '-e', `log=${log}`, '-e', 'run_id=B'], { timeoutMs: 30_000 });
    // B gave up while A still held the lock (ordering, not a wall-clock bound): A had not ended when B returned
    const atGiveUp = fs.readFileSync(log, 'utf8');
    expect(rb.code, rb.stderr + rb.stdout).toBe(4);
    expect(rb.stdout).toMatch(new RegExp(`host ${host} is locked by runbook pid ${a.child.pid} on \\S+ \\(user \\S+\\) since \\d{4}-\\S+; gave up after 1 s`));
    expect(atGiveUp).not.toContain('end A 2');
    const ra = await a.done;
    expect(ra.code).toBe(0);
    expect(fs.readFileSync(log, 'utf8')).not.toContain(' B ');
  });

  it('two inventory names for one machine in one run share the run\'s lock instead of waiting for themselves', async () => {
    const host = lab.hosts[0]!;
    const log = `${base}/markers-alias.log`;
    fs.rmSync(log, { force: true });
    // host1 and an alias of it: same address, same /run/lock
    const doc = YAML.parse(lab.inventoryYaml());
    const hosts = doc.all.children.lab.hosts;
    hosts[`${host.name}-alias`] = { ...hosts[host.name] };
    const aliasInv = path.join(lab.dir, 'alias-inventory.yml');
    fs.writeFileSync(aliasInv, YAML.stringify(doc));
    const r = await cliAsync(['apply', MARKERS, '-i', aliasInv, '--limit', `${host.name}*`, '--lock-timeout', '30', '--format', 'json', '-e', `log=${log}`, '-e', 'run_id=X', '-e', 'pause=0'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(Object.keys(recapOf(r.stdout)).sort()).toEqual([host.name, `${host.name}-alias`]);
    expect(events(r.stdout).filter((e) => e.event === 'warning' && /is locked by/.test(e.message))).toEqual([]);
    expect(await until(() => lockFree(host.name), 5_000)).toBe(true);
  });

  it('a host that accepts TCP but never speaks SSH: bounded connect timeout, the others go on, exit 4', async () => {
    const b = `${base}/silent`;
    const silent = lab.hosts[2]!;
    await lab.stopSshd(silent);
    // a listener on the host's SSH address and port, in its netns, that accepts and then says nothing
    const listener = spawn('ip', ['netns', 'exec', silent.ns, 'socat', `TCP-LISTEN:${silent.port},bind=${silent.address},reuseaddr,fork`, 'SYSTEM:sleep 60'], {
      stdio: 'ignore',
      detached: true,
    });
    try {
      expect(await until(async () => (await lab.exec(silent, ['sh', '-c', `ss -Hltn 'sport = :${silent.port}' | grep -q .`])).code === 0, 10_000)).toBe(true);
      const t0 = Date.now();
      const r = await cliAsync(['apply', SLOW, '-i', inv, '--format', 'json', '-e', `base=${b}`, '-e', 'pause=0', '-e', 'ansible_ssh_timeout=2'], { timeoutMs: 60_000 });
      const ms = Date.now() - t0;
      expect(r.code, r.stderr + r.stdout).toBe(4);
      const res = results(r.stdout, silent.name);
      expect(res[0]!.status).toBe('unreachable');
      expect(res[0]!.reason).toMatch(/SSH handshake timed out after \d+ ms \(port \d+ accepts TCP/);
      expect(res[0]!.duration_ms).toBeLessThan(8_000); // 2 s timeout, plus a loaded machine's slack
      // (the whole run is bounded by cliAsync's 60 s kill: a hang fails the exit-code check above)
      void ms;
      for (const other of [h(0), h(1)]) expect(await cat(other, `${b}/${other}/third`)).toBe(`third ${other}\n`);
    } finally {
      try {
        process.kill(-listener.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      await until(async () => (await lab.exec(silent, ['sh', '-c', `ss -Hltn 'sport = :${silent.port}' | grep -q .`])).code !== 0, 5_000);
      await lab.startSshd(silent);
    }
  });

  it('the link dropped mid-run: detected within the keepalive bound, the others go on, exit 4', async () => {
    const b = `${base}/link`;
    const cut = h(1);
    // keepalive every 1 s, 2 unanswered = dead (default 5 s x 3)
    const fastInv = path.join(lab.dir, 'fast-inventory.yml');
    fs.writeFileSync(fastInv, lab.inventoryYaml({ runbook_keepalive_interval: 1, runbook_keepalive_count: 2, ansible_ssh_timeout: 3 }));
    const run = startCli(['apply', SLOW, '-i', fastInv, '--format', 'json', '-e', `base=${b}`, '-e', 'pause=3']);
    await waitDuring(run, 'the first file', () => exists(cut, `${b}/${cut}/first`));
    await sleep(300);
    await lab.setLink(cut, false);
    try {
      const r = await run.done;
      expect(r.code, r.stderr + r.stdout).toBe(4);
      const res = results(r.stdout, cut);
      const last = res[res.length - 1]!;
      expect(last.task).toBe('Slow step');
      expect(last.status).toBe('unreachable');
      expect(last.reason).toMatch(/connection lost.*keepalive/i);
      // the 3 s step, then ~3 keepalive intervals (plus a loaded machine's slack); the default would be 15-20 s
      expect(last.duration_ms).toBeLessThan(12_000);
      for (const other of [h(0), h(2)]) expect(await cat(other, `${b}/${other}/third`)).toBe(`third ${other}\n`);
      expect(await exists(cut, `${b}/${cut}/second`)).toBe(false);
      expect(await tempFiles(cut, b)).toEqual([]);
    } finally {
      await lab.setLink(cut, true);
    }
  });
});

function spawnSyncOk(argv: string[]): boolean {
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}
