/**
 * The per-host run lock (docs/adr/0008-host-lock.md), in the lab against real sshd: who can touch the lock files,
 * symlinks planted at the lock path, a pid planted in the lock file, and a controller killed (SIGKILL) while its
 * remote command still runs. Every wait is bounded; no timing thresholds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { EXIT_LOCK_LOST, lockedCommand } from '../lib/executor/lock.js';
import { BIN, ROOT, cliAsync, events, type CliResult } from './helpers.js';

const MARKERS = path.join(ROOT, 'test/fixtures/faults/markers.yml');
const GATED = path.join(ROOT, 'test/fixtures/lock/gated.yml');
const DIR = '/run/lock/runbook';
const LOCK = `${DIR}/lock`;
const base = `/tmp/rbk-lock-${process.pid}`;
let lab: Lab;
let inv: string;
let host: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(100);
  }
  return false;
}

function startCli(args: string[]): { child: ChildProcess; out: () => string; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', CI: 'true' } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 180_000);
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code: code ?? (signal ? -1 : -2), stdout, stderr });
    });
  });
  return { child, out: () => stdout, done };
}

/** `sh -c script` as root in the host, or as nobody with asNobody */
const sh = (script: string, asNobody = false) =>
  lab.exec(host, asNobody ? ['runuser', '-u', 'nobody', '--', 'sh', '-c', script] : ['sh', '-c', script]);
const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : []);
const markers = (log: string, runId: string, extra: string[] = []) =>
  cliAsync(['apply', MARKERS, '-i', inv, '--limit', host, '--format', 'json', '-e', `log=${log}`, '-e', `run_id=${runId}`, '-e', 'pause=0', ...extra], {
    timeoutMs: 120_000,
  });
const lockError = (r: CliResult) => events(r.stdout).find((e) => e.event === 'task:result' && e.status === 'unreachable')?.reason as string | undefined;

beforeAll(async () => {
  // root's own login shell (bash) sources a slow ~/.bashrc for every SSH command on this machine: use sh
  lab = await Lab.create({ name: 'lock', hosts: 1, shell: '/bin/sh' });
  host = lab.hosts[0]!.name;
  inv = path.join(lab.dir, 'lock-inventory.yml');
  fs.writeFileSync(inv, lab.inventoryYaml());
  fs.mkdirSync(base, { recursive: true });
  fs.chmodSync(base, 0o755);
});

afterAll(async () => {
  await lab?.destroy();
  fs.rmSync(base, { recursive: true, force: true });
});

describe('host lock against real sshd', () => {
  it('the lock directory and files belong to root and nobody else can write, replace or add to them', async () => {
    const r = await markers(`${base}/owner.log`, 'X');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const st = await sh(`stat -c '%U %a %F' ${DIR} ${LOCK} ${LOCK}.work`);
    expect(st.stdout.trim().split('\n')).toEqual(['root 755 directory', 'root 644 regular file', 'root 644 regular empty file']);
    const before = (await sh(`cat ${LOCK}`)).stdout;
    expect(before).toMatch(/^runbook pid=\d+ .* run=\S+ acq=\S+ state=held\n$/);
    expect(before).not.toContain('rpid=');
    // as an unprivileged user: no edit, no truncation, no new file, no rename, no symlink swap
    for (const attack of [
      `printf 'runbook rpid=1\\n' >> ${LOCK}`,
      `: > ${LOCK}`,
      `: > ${LOCK}.work`,
      `touch ${DIR}/new`,
      `mv ${LOCK} ${DIR}/old`,
      `rm -f ${LOCK}`,
      `ln -s /etc/shadow ${DIR}/release.x`,
    ]) {
      const a = await sh(attack, true);
      expect(a.code, `as nobody: ${attack}`).not.toBe(0);
      expect(a.stderr).toMatch(/Permission denied|Operation not permitted/);
    }
    expect((await sh(`cat ${LOCK}`)).stdout).toBe(before);
    expect((await sh(`ls -A ${DIR}`)).stdout.trim().split('\n')).toEqual(['lock', 'lock.work']);
  });

  it('a symlink planted at the lock file is not followed: the run refuses naming the host, the target is unchanged', async () => {
    const target = `${base}/precious`;
    fs.writeFileSync(target, 'precious\n');
    const log = `${base}/symlink.log`;
    expect((await sh(`rm -f ${LOCK} && ln -s ${target} ${LOCK}`)).code).toBe(0);
    try {
      const r = await markers(log, 'S');
      expect(r.code, r.stderr + r.stdout).toBe(4);
      expect(lockError(r)).toBe(`host ${host}: cannot take the host lock: the lock file ${LOCK} is a symbolic link; refusing to follow it`);
      expect(fs.readFileSync(target, 'utf8')).toBe('precious\n');
      expect(fs.existsSync(log)).toBe(false); // no task ran
    } finally {
      await sh(`rm -f ${LOCK}`);
    }
  });

  it('a lock directory planted by an unprivileged user (symlink or own directory) is refused, nothing written into it', async () => {
    const theirs = `${base}/nobody-dir`;
    fs.mkdirSync(theirs);
    fs.chownSync(theirs, 65534, 65534);
    const log = `${base}/planted-dir.log`;
    // /run/lock is world-writable (sticky): anyone can create the name before root's first run
    expect((await sh(`rm -rf ${DIR}`)).code).toBe(0);
    try {
      expect((await sh(`ln -s ${theirs} ${DIR}`, true)).code).toBe(0);
      const r1 = await markers(log, 'D1');
      expect(r1.code, r1.stderr + r1.stdout).toBe(4);
      expect(lockError(r1)).toBe(`host ${host}: cannot take the host lock: the lock directory ${DIR} is a symbolic link; refusing to use it`);
      expect(fs.readdirSync(theirs)).toEqual([]);

      expect((await sh(`rm -f ${DIR} && mkdir ${DIR}`, true)).code).toBe(0);
      const r2 = await markers(log, 'D2');
      expect(r2.code, r2.stderr + r2.stdout).toBe(4);
      expect(lockError(r2)).toBe(
        `host ${host}: cannot take the host lock: the lock directory ${DIR} must be owned by root and writable by no one else; refusing to use it`,
      );
      expect((await sh(`ls -A ${DIR}`)).stdout).toBe('');
      expect(fs.existsSync(log)).toBe(false);
    } finally {
      await sh(`rm -rf ${DIR}`);
    }
    // once the name is gone, root's next run makes its own directory again
    const ok = await markers(log, 'D3');
    expect(ok.code, ok.stderr + ok.stdout).toBe(0);
    expect((await sh(`stat -c '%U %a' ${DIR}`)).stdout.trim()).toBe('root 755');
  });

  it('a pid written into the lock file during a run is not killed at its end', async () => {
    // a process of our own, leader of its process group: the old release did `kill -TERM -- -<rpid>`
    const victim = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    const alive = () => {
      try {
        process.kill(victim.pid!, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      const log = `${base}/rpid.log`;
      const a = startCli(['apply', MARKERS, '-i', inv, '--limit', host, '--format', 'json', '-e', `log=${log}`, '-e', 'run_id=P', '-e', 'pause=3']);
      expect(await until(() => fs.existsSync(log), 90_000), 'the run started its first task').toBe(true);
      // as root, in place (same inode, the lock stays held): the holder line now names our process
      const w = await sh(`l=$(cat ${LOCK}); printf '%s rpid=%s\\n' "$l" ${victim.pid} > ${LOCK}; cat ${LOCK}`);
      expect(w.stdout).toMatch(new RegExp(` rpid=${victim.pid}\\n$`));
      const r = await a.done;
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(lines(log)).toEqual(['begin P 1', 'end P 1', 'begin P 2', 'end P 2']);
      await sleep(500);
      expect(alive(), 'the process named in the lock file is still alive').toBe(true);
    } finally {
      victim.kill('SIGKILL');
    }
  });

  it('controller killed (SIGKILL) mid-task: the next run waits until that remote command has ended', async () => {
    const log = `${base}/gated.log`;
    const go = `${base}/gated.go`;
    const args = (id: string) => ['apply', GATED, '-i', inv, '--limit', host, '--format', 'json', '-e', `log=${log}`, '-e', `go=${go}`, '-e', `run_id=${id}`];
    const a = startCli(args('A'));
    expect(await until(() => lines(log).includes('A waiting'), 90_000), 'A reached its waiting task').toBe(true);
    a.child.kill('SIGKILL');
    await a.done;
    const b = startCli(args('B'));
    try {
      // B either says it waits (the fix) or starts its work while A's command still runs (the bug)
      const waits = () => events(b.out()).some((e) => e.event === 'warning' && e.host === host && e.message.includes(`runbook pid ${a.child.pid} `));
      expect(await until(() => waits() || lines(log).includes('B first'), 120_000), 'B waited or started').toBe(true);
      expect(lines(log), 'B did not start while A\'s command runs').toEqual(['A first', 'A waiting']);
      expect(waits()).toBe(true);
    } finally {
      fs.writeFileSync(go, ''); // A's remote command ends now
    }
    const rb = await b.done;
    expect(rb.code, rb.stderr + rb.stdout).toBe(0);
    expect(lines(log)).toEqual(['A first', 'A waiting', 'A end', 'B first', 'B waiting', 'B end']);
  });

  it('a command of a run whose lock was taken over by another run does not run', async () => {
    const out = `${base}/late.out`;
    // the lock file names another run (the last one of this file), not this test process's run token
    const r = await lab.exec(host, ['sh', '-c', lockedCommand(`echo ran > ${out}`, LOCK, host)]);
    expect(r.code).toBe(EXIT_LOCK_LOST);
    expect(r.stderr).toBe(`runbook: host ${host} is no longer locked by this run (another run holds it now); command not run\n`);
    expect(fs.existsSync(out)).toBe(false);
  });
});
