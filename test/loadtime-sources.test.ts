/**
 * Where Ansible finds things, so real code loads unchanged: roles in collections (collections_path,
 * ANSIBLE_COLLECTIONS_PATH, ns.coll.role, the play's `collections:`), ANSIBLE_ROLES_PATH, the implicit localhost's
 * `all` vars, and --syntax-check of SOPS-encrypted vars without any key. Real CLI, real files, local connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { cli } from './helpers.js';
import { encryptSops } from '../lib/vars/sops.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-loadsrc-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function tree(root: string, files: Record<string, string>): string {
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), text);
  }
  return root;
}

describe('roles from collections', () => {
  const out = path.join(dir, 'coll-out');
  const d = tree(path.join(dir, 'coll'), {
    'vendor/ansible_collections/acme/tools/roles/hello/tasks/main.yml': `- copy:\n    dest: ${out}/{{ who }}.txt\n    content: "hello {{ who }}\\n"\n`,
    'vendor/ansible_collections/acme/tools/roles/hello/defaults/main.yml': 'who: fqcn\n',
    'fqcn.yml': `- hosts: localhost\n  gather_facts: false\n  vars: {runbook_lock: false}\n  roles:\n    - acme.tools.hello\n`,
    'short.yml': `- hosts: localhost\n  gather_facts: false\n  vars: {runbook_lock: false}\n  collections: [acme.tools]\n  roles:\n    - role: hello\n      who: short\n`,
    'ansible.cfg': '[defaults]\ncollections_path = ./vendor\n',
  });
  beforeAll(() => fs.mkdirSync(out, { recursive: true }));
  it('ns.coll.role on ansible.cfg collections_path loads and runs', () => {
    expect(cli(['apply', 'fqcn.yml', '--syntax-check'], { cwd: d }).code).toBe(0);
    const r = cli(['apply', 'fqcn.yml', '--format', 'plain'], { cwd: d });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(out, 'fqcn.txt'), 'utf8')).toBe('hello fqcn\n');
  });
  it("a short role name in the play's collections:", () => {
    const r = cli(['apply', 'short.yml', '--format', 'plain'], { cwd: d });
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(out, 'short.txt'), 'utf8')).toBe('hello short\n');
  });
  it('ANSIBLE_COLLECTIONS_PATH (no ansible.cfg), and a clear error naming where it looked', () => {
    const elsewhere = fs.mkdtempSync(path.join(dir, 'cwd-'));
    const ok = cli(['apply', path.join(d, 'fqcn.yml'), '--syntax-check'], { cwd: elsewhere, env: { ANSIBLE_COLLECTIONS_PATH: path.join(d, 'vendor'), HOME: elsewhere } });
    expect(ok.code).toBe(0);
    const missing = cli(['apply', path.join(d, 'fqcn.yml'), '--syntax-check'], { cwd: elsewhere, env: { ANSIBLE_COLLECTIONS_PATH: path.join(dir, 'nothing-here'), HOME: elsewhere } });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/fqcn\.yml:5:7: role "acme\.tools\.hello" not found \(looked for collection acme\.tools in .*nothing-here/);
  });
});

describe('ANSIBLE_ROLES_PATH for apply', () => {
  it('finds a role only that variable names', () => {
    const d = tree(path.join(dir, 'rolespath'), {
      'elsewhere/greet/tasks/main.yml': '- debug: msg=hi\n',
      'play/site.yml': '- hosts: localhost\n  gather_facts: false\n  roles: [greet]\n',
    });
    const without = cli(['apply', path.join(d, 'play/site.yml'), '--syntax-check'], { cwd: d });
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(/role "greet" not found/);
    const r = cli(['apply', path.join(d, 'play/site.yml'), '--syntax-check'], { cwd: d, env: { ANSIBLE_ROLES_PATH: path.join(d, 'elsewhere') } });
    expect(r.code).toBe(0);
  });
});

describe('the implicit localhost', () => {
  it("sees the inventory's all vars, group_vars/all and host_vars/localhost", () => {
    const o = path.join(dir, 'local.txt');
    const d = tree(path.join(dir, 'implicit'), {
      'inventory/hosts.yml': 'all:\n  hosts:\n    faraway:\n      ansible_host: 127.0.0.9\n  vars:\n    repo_url: https://example.invalid/repo.git\n    runbook_lock: false\n',
      'inventory/group_vars/all.yml': 'from_group_vars: gv\n',
      'inventory/host_vars/localhost.yml': 'only_local: hv\n',
      'site.yml': `- hosts: localhost\n  gather_facts: false\n  tasks:\n    - copy:\n        dest: ${o}\n        content: "{{ repo_url }} {{ from_group_vars }} {{ only_local }}\\n"\n`,
    });
    const r = cli(['apply', path.join(d, 'site.yml'), '-i', path.join(d, 'inventory'), '--format', 'plain']);
    expect(r.stderr).not.toMatch(/host_vars\/localhost: no host/);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(o, 'utf8')).toBe('https://example.invalid/repo.git gv hv\n');
    // the listed hosts are untouched: `all` is still only faraway
    const all = cli(['apply', path.join(d, 'site.yml'), '-i', path.join(d, 'inventory'), '--syntax-check', '--limit', 'all']);
    expect(all.code).toBe(0);
  });
});

describe('--syntax-check needs no secrets', () => {
  let d: string;
  beforeAll(async () => {
    const recipient = await identityToRecipient(await generateIdentity());
    d = tree(path.join(dir, 'sops'), {
      'inventory/hosts.yml': 'all:\n  hosts:\n    box:\n      ansible_connection: local\n',
      'inventory/group_vars/all/secrets.sops.yaml': encryptSops({ db_password: 'hunter2-very-secret', db_port: 5432 }, [recipient]),
      'roles/db/meta/argument_specs.yml': 'argument_specs:\n  main:\n    options:\n      db_password: {type: str, required: true}\n      db_port: {type: int, required: true}\n',
      'roles/db/tasks/main.yml': '- debug:\n    msg: "{{ db_password | length }} on {{ db_port }}"\n',
      'site.yml': '- hosts: box\n  gather_facts: false\n  roles: [db]\n',
    });
  });
  const noKey = () => ({ SOPS_AGE_KEY_FILE: path.join(dir, 'absent-key.txt'), SOPS_AGE_KEY: '', HOME: dir });
  it('an SOPS-encrypted group_vars passes without any age key; the values stay unknown (role argument types not judged)', () => {
    const r = cli(['apply', path.join(d, 'site.yml'), '-i', path.join(d, 'inventory'), '--syntax-check'], { env: noKey() });
    expect(r.stderr).not.toMatch(/age key/);
    expect(r.code).toBe(0);
  });
  it('a real run still needs the key', () => {
    const r = cli(['apply', path.join(d, 'site.yml'), '-i', path.join(d, 'inventory')], { env: noKey() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no age key found/);
  });
  it('the shape is still checked: a value that should be encrypted but is not is an error', () => {
    const f = path.join(d, 'inventory/group_vars/all/secrets.sops.yaml');
    const good = fs.readFileSync(f, 'utf8');
    try {
      fs.writeFileSync(f, good.replace(/^db_password: .*$/m, 'db_password: plain-text'));
      const r = cli(['apply', path.join(d, 'site.yml'), '-i', path.join(d, 'inventory'), '--syntax-check'], { env: noKey() });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/secrets\.sops\.yaml:\d+:\d+: .*the value at db_password is not SOPS-encrypted/);
    } finally {
      fs.writeFileSync(f, good);
    }
  });
});
