/**
 * Magic variables real roles read, and argument values Ansible accepts: devsec.hardening's os_hardening names its
 * files after `ansible_role_name`; geerlingguy.nginx passes `default_release: ""` to apt by default. Real CLI, local
 * connection into a temporary directory.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli } from './helpers.js';
import { prepareApt } from '../lib/modules/apt.js';
import { validateArgs } from '../lib/playbook/validate.js';
import apt from '../lib/modules/apt.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-rolemagic-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function tree(files: Record<string, string>): void {
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
}

describe('magic variables of roles', () => {
  it('ansible_role_name is the running role, as role_name; outside a role it is undefined', () => {
    tree({
      'inventory.yml': 'all:\n  hosts:\n    box:\n      ansible_connection: local\n  vars:\n    runbook_lock: false\n',
      'site.yml': `- hosts: box\n  gather_facts: false\n  roles:\n    - hardening\n  tasks:\n    - copy:\n        dest: ${dir}/out/play.txt\n        content: "{{ ansible_role_name | default('none') }}\\n"\n`,
      'roles/hardening/tasks/main.yml': `- copy:\n    dest: ${dir}/out/role.txt\n    content: "{{ ansible_role_name }} {{ role_name }}\\n"\n`,
    });
    fs.mkdirSync(path.join(dir, 'out'), { recursive: true });
    const r = cli(['apply', path.join(dir, 'site.yml'), '-i', path.join(dir, 'inventory.yml'), '--format', 'plain']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'out/role.txt'), 'utf8')).toBe('hardening hardening\n');
    expect(fs.readFileSync(path.join(dir, 'out/play.txt'), 'utf8')).toBe('none\n');
  });
});

describe('ansible_verbosity', () => {
  it('is the -v count (willshersystems.sshd reads it)', () => {
    tree({
      'inventory.yml': 'all:\n  hosts:\n    box:\n      ansible_connection: local\n  vars:\n    runbook_lock: false\n',
      'verb.yml': `- hosts: box\n  gather_facts: false\n  tasks:\n    - copy:\n        dest: ${dir}/out/verbosity.txt\n        content: "{{ ansible_verbosity }} {{ ansible_connection }}\\n"\n`,
    });
    fs.mkdirSync(path.join(dir, 'out'), { recursive: true });
    for (const [flags, want] of [[[], '0 local\n'], [['-vv'], '2 local\n']] as const) {
      const r = cli(['apply', path.join(dir, 'verb.yml'), '-i', path.join(dir, 'inventory.yml'), '--format', 'plain', ...flags]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(fs.readFileSync(path.join(dir, 'out/verbosity.txt'), 'utf8')).toBe(want);
    }
  });
});

describe('ansible_connection', () => {
  it('is defined without the inventory setting it: the play\'s connection (else ssh, local for localhost)', () => {
    tree({
      'inv2.yml': 'all:\n  hosts:\n    box2:\n  vars:\n    runbook_lock: false\n',
      'conn.yml': `- hosts: box2\n  connection: local\n  gather_facts: false\n  tasks:\n    - copy:\n        dest: ${dir}/out/conn.txt\n        content: "{{ ansible_connection }}\\n"\n`,
    });
    fs.mkdirSync(path.join(dir, 'out'), { recursive: true });
    const r = cli(['apply', path.join(dir, 'conn.yml'), '-i', path.join(dir, 'inv2.yml'), '--format', 'plain']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'out/conn.txt'), 'utf8')).toBe('local\n');
  });
});

describe('fail with a mapping as msg', () => {
  it('shows it as JSON (willshersystems.sshd re-raises ansible_failed_result), never [object Object]', () => {
    tree({
      'inventory.yml': 'all:\n  hosts:\n    box:\n      ansible_connection: local\n  vars:\n    runbook_lock: false\n',
      'fail.yml': `- hosts: box\n  gather_facts: false\n  tasks:\n    - fail:\n        msg: {rc: 3, why: nope}\n`,
    });
    const r = cli(['apply', path.join(dir, 'fail.yml'), '-i', path.join(dir, 'inventory.yml'), '--format', 'json']);
    expect(r.code).toBe(2);
    const ev = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((e) => e.event === 'task:result');
    expect(ev.status).toBe('failed');
    expect(JSON.parse(ev.reason)).toEqual({ rc: 3, why: 'nope' });
  });
});

describe('apt default_release', () => {
  it('an empty default_release is valid and means no release, as in Ansible', () => {
    expect(validateArgs(apt.schema, { name: 'nginx', default_release: '' }, 'apt', true)).toEqual([]);
    expect(prepareApt({ name: 'nginx', default_release: '' }).defaultRelease).toBeUndefined();
    expect(prepareApt({ name: 'nginx', default_release: 'bookworm-backports' }).defaultRelease).toBe('bookworm-backports');
  });
});
