/**
 * Issue 15 on a lab host: a play whose hosts: matches nothing warns as Ansible does and the run goes on; of two
 * handlers with the same name only the last runs; --start-at-task skips what comes before; SIGINT during a long
 * command keeps the grace it announces, ends with exit 130 and a recap that says "interrupted".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { BIN, ROOT, cliAsync } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('issue 15 habits on a lab host', () => {
  let lab: Lab;
  let inv: string;
  let host: string;
  const base = `/tmp/rbk-habits-run-${process.pid}`;
  const exists = async (p: string) => (await lab.exec(host, ['test', '-e', p])).code === 0;
  const write = (name: string, lines: string[]) => {
    const p = path.join(lab.dir, name);
    fs.writeFileSync(p, lines.join('\n') + '\n');
    return p;
  };

  beforeAll(async () => {
    lab = await Lab.create({ name: 'habits-run', hosts: 1, internet: false });
    host = lab.hosts[0]!.name;
    inv = path.join(lab.dir, 'inventory.yml');
    fs.writeFileSync(inv, lab.inventoryYaml());
  }, 300_000);
  afterAll(async () => {
    await lab?.destroy();
  });

  it('an unmatched play pattern warns and the run goes on; of two same-name handlers only the last runs', async () => {
    const d = `${base}/handlers`;
    const pb = write('handlers.yml', [
      '- hosts: webz',
      '  gather_facts: false',
      '  tasks:',
      '    - name: never runs',
      `      command: touch ${d}/webz`,
      '- hosts: lab',
      '  gather_facts: false',
      '  tasks:',
      '    - name: make the directory',
      `      command: mkdir -p ${d}`,
      '      notify: restart app',
      '  handlers:',
      '    - name: restart app',
      `      command: touch ${d}/first`,
      '    - name: restart app',
      `      command: touch ${d}/last`,
    ]);
    const r = await cliAsync(['apply', pb, '-i', inv, '--format', 'plain'], { timeoutMs: 300_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    const w = lines.indexOf('[WARNING]: Could not match supplied host pattern, ignoring: webz');
    expect(w, r.stdout).toBeGreaterThanOrEqual(0);
    expect(lines.slice(w + 1, w + 4)).toEqual(['', `PLAY [webz] ${'*'.repeat(79 - 11)}`, 'skipping: no hosts matched']);
    expect(r.stdout).toMatch(/^RUNNING HANDLER \[restart app\] \*+\nchanged: \[host1\]$/m);
    expect(r.stdout.match(/RUNNING HANDLER/g)).toHaveLength(1);
    expect(r.stderr).toContain(`handler "restart app" at ${pb}:13 is shadowed by the handler of the same name at ${pb}:15`);
    expect(await exists(`${d}/last`)).toBe(true);
    expect(await exists(`${d}/first`)).toBe(false);
    expect(await exists(`${d}/webz`)).toBe(false);
  }, 320_000);

  it('--start-at-task runs from the first task of that name on', async () => {
    const d = `${base}/start`;
    const pb = write('start.yml', [
      '- hosts: lab',
      '  gather_facts: false',
      '  tasks:',
      '    - name: step one',
      `      command: mkdir -p ${d}/one`,
      '    - block:',
      '        - name: step two',
      `          command: mkdir -p ${d}/two`,
      '    - name: step three',
      `      command: mkdir -p ${d}/three`,
    ]);
    const r = await cliAsync(['apply', pb, '-i', inv, '--format', 'plain', '--start-at-task', 'step t*'], { timeoutMs: 300_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).not.toContain('TASK [step one]');
    expect(await exists(`${d}/one`)).toBe(false);
    expect(await exists(`${d}/two`)).toBe(true);
    expect(await exists(`${d}/three`)).toBe(true);
  }, 320_000);

  it('SIGINT during a long command: the announced grace is kept, exit 130, the recap says interrupted', async () => {
    const pb = write('sigint.yml', [
      '- hosts: lab',
      '  gather_facts: false',
      '  become: true',
      '  tasks:',
      '    - name: long',
      '      command: sleep 317',
      '    - name: after',
      `      command: mkdir -p ${base}/after`,
    ]);
    const child = spawn(process.execPath, [BIN, 'apply', pb, '-i', inv, '--format', 'plain'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', CI: 'true', RUNBOOK_ABORT_GRACE: '3' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      // the command runs on the host: its sleep is in the host's process list
      const end = Date.now() + 120_000;
      let running = false;
      for (let i = 0; i < 2400 && Date.now() < end && !running; i++) {
        running = (await lab.exec(host, ['pgrep', '-x', '-f', 'sleep 317'])).code === 0;
        if (!running) await sleep(50);
      }
      expect(running, stdout + stderr).toBe(true);
      const t0 = Date.now();
      child.kill('SIGINT');
      const code = await closed;
      const ms = Date.now() - t0;
      expect(code, stdout + stderr).toBe(130);
      const announced = /the tasks in flight get (\d+(?:\.\d+)?) s/.exec(stderr);
      expect(announced, stderr).not.toBeNull();
      expect(Number(announced![1])).toBe(3);
      // ended after the grace it announced: well before the command's own 317 s (a generous margin for a loaded machine)
      expect(ms, `exit ${ms} ms after SIGINT`).toBeLessThan(3_000 + 60_000);
      expect(stdout).toMatch(/^fatal: \[host1\]: FAILED! => \{"changed": false, "msg": "interrupted by SIGINT: .*"\}$/m);
      expect(stdout).not.toContain('channel closed without an exit status');
      expect(stdout).not.toContain('TASK [after]');
      expect(stdout).toMatch(/PLAY RECAP \*+\nhost1 +: ok=0 +changed=0 +unreachable=0 +failed=1 /);
      expect(stdout).toContain('interrupted by SIGINT: the run stopped early; tasks after the interrupted ones did not run (exit 130)');
      expect(await exists(`${base}/after`)).toBe(false);
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
      // the interrupted command itself (in this lab host's namespaces only)
      await lab.exec(host, ['pkill', '-x', '-f', 'sleep 317']);
    }
  }, 320_000);
});
