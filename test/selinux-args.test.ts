/**
 * SELinux contexts (seuser/serole/setype/selevel) on a host without SELinux: accepted at load, ignored at run time
 * as Ansible does, and the tasks are exact and idempotent like any other (real sshd, a lab host with a private
 * root). Where SELinux is enabled runbook refuses them (it does not set contexts yet): selinuxEnabled reads the same
 * /sys/fs/selinux as Ansible's facts, checked here against the machine itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { cliAsync, events, ROOT } from './helpers.js';

const PLAY = path.join(ROOT, 'test/fixtures/selinux-args/play.yml');

describe('SELinux contexts on a host without SELinux', () => {
  let lab: Lab;
  let inv: string;
  beforeAll(async () => {
    lab = await Lab.create({ name: 'selnx', hosts: 1 });
    inv = path.join(lab.dir, 'selnx-inventory.yml');
    fs.writeFileSync(inv, lab.inventoryYaml());
  }, 300_000);
  afterAll(async () => {
    await lab?.destroy();
  });
  const run = async (args: string[]) => {
    const r = await cliAsync(['apply', PLAY, '-i', inv, '--format', 'json', ...args], { timeoutMs: 300_000 });
    return { r, changed: events(r.stdout).filter((e) => e.event === 'task:result' && e.status === 'changed').length };
  };

  it('loads, checks, applies, and changes nothing the second time', async () => {
    expect(fs.existsSync('/sys/fs/selinux/enforce'), 'this test needs a machine without SELinux').toBe(false);
    const syntax = await cliAsync(['apply', PLAY, '-i', inv, '--syntax-check']);
    expect(syntax.code, syntax.stdout + syntax.stderr).toBe(0);
    expect(syntax.stdout + syntax.stderr).not.toMatch(/setype|seuser|not supported/);
    const check = await run(['--check']);
    expect(check.r.code, check.r.stdout + check.r.stderr).toBe(0);
    const apply = await run([]);
    expect(apply.r.code, apply.r.stdout + apply.r.stderr).toBe(0);
    expect(apply.changed).toBe(check.changed);
    expect(apply.changed).toBeGreaterThanOrEqual(2);
    const sh = await lab.exec(lab.hosts[0]!, ['sh', '-c', 'stat -c %a /srv/rbk-selinux/data; cat /srv/rbk-selinux/client.cnf /srv/rbk-selinux/server.cnf']);
    expect(sh.stdout).toBe('750\n[client]\n[server]\n');
    expect((await run([])).changed).toBe(0);
    expect((await run(['--check'])).changed).toBe(0);
  }, 600_000);
});
