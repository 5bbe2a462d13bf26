/**
 * ansible-playbook's flags on a lab host: -u, --private-key, -b, --become-user and -T set the variables they name as
 * the lowest-precedence defaults (an inventory value wins), and -v/-vv show results and task paths in plain output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { cli, cliAsync } from './helpers.js';

describe('connection and become flags', () => {
  let lab: Lab;
  let bare: string;
  let withUser: string;
  let site: string;
  beforeAll(async () => {
    lab = await Lab.create({ name: 'habits-flags', hosts: 1, internet: false });
    const h = lab.hosts[0]!;
    const inv = (extra: string) =>
      `all:\n  vars:\n    runbook_known_hosts: ${lab.knownHostsFile}\n  hosts:\n    ${h.name}:\n      ansible_host: ${h.address}\n      ansible_port: ${h.port}\n${extra}`;
    bare = path.join(lab.dir, 'flags-bare.yml');
    withUser = path.join(lab.dir, 'flags-user.yml');
    fs.writeFileSync(bare, inv(''));
    fs.writeFileSync(withUser, inv('      ansible_user: root\n'));
    site = path.join(lab.dir, 'flags-site.yml');
    fs.writeFileSync(
      site,
      ['- hosts: all', '  gather_facts: false', '  tasks:', '    - name: who am i', '      command: id -un', '      register: who', '    - name: show', '      debug:', '        msg: "user={{ who.stdout }}"', ''].join('\n'),
    );
  }, 300_000);
  afterAll(async () => {
    await lab?.destroy();
  });

  it('-u, --private-key, -b, --become-user, -T and -vv reach the host as given', async () => {
    const r = await cliAsync(['apply', site, '-i', bare, '-u', 'root', '--private-key', lab.keyFile, '-b', '--become-user', 'nobody', '-T', '20', '-vv', '--format', 'plain'], { timeoutMs: 600_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('"msg": "user=nobody"');
    expect(r.stdout).toMatch(/^task path: .*flags-site\.yml:4$/m);
    expect(r.stdout).toMatch(/^changed: \[host1\] => \{"changed": true, "reason": ".+"\}$/m);
    expect(r.stdout).toMatch(/^PLAYBOOK: flags-site\.yml \*+$/m);
  }, 620_000);

  it('without the key the host is unreachable; an inventory ansible_user wins over -u', async () => {
    // the key the flag names is what logs in: without it, root's own keys are not authorized on the lab host
    const none = await cliAsync(['apply', site, '-i', bare, '-u', 'root', '-T', '10', '--format', 'plain'], { timeoutMs: 300_000 });
    expect(none.code, none.stdout + none.stderr).toBe(4);
    expect(none.stdout).toMatch(/^fatal: \[host1\]: UNREACHABLE! => \{"changed": false, "msg": ".+", "unreachable": true\}$/m);
    const r = await cliAsync(['apply', site, '-i', withUser, '-u', 'nobody', '--key-file', lab.keyFile, '--format', 'plain'], { timeoutMs: 600_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok: \[host1\] => \{\n {4}"msg": "user=root"\n\}$/m);
  }, 920_000);

  it('-T needs a positive number of seconds', () => {
    const r = cli(['apply', site, '-i', bare, '-T', 'soon']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/-T\/--timeout needs a number of seconds above 0/);
  });
});
