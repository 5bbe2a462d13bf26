/**
 * Check mode and a user an earlier task creates: a task that runs as that user (become_user) cannot be probed in
 * check mode (sudo: unknown user), so it is reported as a change after an earlier change, which is what the apply
 * then does; without the earlier task (user absent, nothing creates it) it is still a failure. Real sshd, real
 * useradd and sudo on a lab host with a private copy-on-write root.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { cliAsync, events, ROOT } from './helpers.js';

const FIX = path.join(ROOT, 'test/fixtures/check-new-user');

describe('check mode: become_user of a user an earlier task creates', () => {
  let lab: Lab;
  let inv: string;
  beforeAll(async () => {
    lab = await Lab.create({ name: 'newuser', hosts: 1 });
    inv = path.join(lab.dir, 'newuser-inventory.yml');
    fs.writeFileSync(inv, lab.inventoryYaml());
  }, 300_000);
  afterAll(async () => {
    await lab?.destroy();
  });
  const run = async (args: string[]) => {
    const r = await cliAsync(['apply', path.join(FIX, 'play.yml'), '-i', inv, '--format', 'json', ...args], { timeoutMs: 300_000 });
    const ev = events(r.stdout).filter((e) => e.event === 'task:result');
    return { r, ev, status: ev.map((e) => `${e.task as string}: ${e.status as string}`) };
  };
  const sh = async (cmd: string) => (await lab.exec(lab.hosts[0]!, ['sh', '-c', cmd])).stdout;

  it('--check predicts the apply; the second apply and check change nothing', async () => {
    const check = await run(['--check']);
    expect(check.r.code, check.r.stdout + check.r.stderr).toBe(0);
    expect(check.status).toEqual(['create the service user: changed', 'write a file as that user: changed']);
    expect(check.ev[1]!.reason).toMatch(/after an earlier change \(user rbknewuser/);
    expect(await sh('getent passwd rbknewuser || echo absent')).toBe('absent\n');

    const apply = await run([]);
    expect(apply.r.code, apply.r.stdout + apply.r.stderr).toBe(0);
    expect(apply.status).toEqual(['create the service user: changed', 'write a file as that user: changed']);
    expect(await sh('stat -c "%U %a" /home/rbknewuser/hello.txt; cat /home/rbknewuser/hello.txt')).toBe('rbknewuser 600\nhello\n');

    expect((await run([])).status).toEqual(['create the service user: ok', 'write a file as that user: ok']);
    expect((await run(['--check'])).status).toEqual(['create the service user: ok', 'write a file as that user: ok']);
  }, 900_000);

  it('a become_user nothing creates is still a failure in check mode', async () => {
    // the user exists now (previous test): remove it, and start after the task that creates it
    await sh('userdel -r rbknewuser');
    expect(await sh('getent passwd rbknewuser || echo absent')).toBe('absent\n');
    const c = await run(['--check', '--start-at-task', 'write a file as that user']);
    expect(c.status).toEqual(['write a file as that user: failed']);
    expect(c.ev[0]!.reason).toMatch(/unknown user rbknewuser/);
  }, 600_000);
});
