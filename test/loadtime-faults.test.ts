/**
 * Everything knowable before the run is reported before the run (issue 15): a table of load-time faults, each
 * reported by `apply --syntax-check` and by a normal run with exit 1, the file:line that holds the fault (the .j2
 * line, the keyword's YAML line), the line shown with a caret, and no host contacted. The inventory's one host is
 * a TCP listener on loopback that counts connections: a control playbook without faults does connect to it, so
 * the count of 0 for each fault means something. Real CLI, real files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { cliAsync } from './helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-ltfaults-'));
let server: net.Server;
let contacts = 0;
let port = 0;

beforeAll(async () => {
  server = net.createServer((s) => {
    contacts++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as net.AddressInfo).port;
  fs.writeFileSync(path.join(dir, 'inv.yml'), `all:\n  hosts:\n    target:\n      ansible_host: 127.0.0.1\n      ansible_port: ${port}\n      ansible_user: nobody\n  vars:\n    runbook_lock: false\n    app_dir: /opt/app\n`);
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  fs.rmSync(dir, { recursive: true, force: true });
});

function tree(name: string, files: Record<string, string>): string {
  const root = path.join(dir, name);
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), text);
  }
  return root;
}
const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const play = (tasks: string, head = '') => `- hosts: all\n  gather_facts: false\n${head}  tasks:\n${tasks}`;

interface Case {
  name: string;
  files: Record<string, string>;
  /** the file (relative to the case's directory) and line:col the error must name */
  at: [string, number, number];
  message: RegExp;
  /** the source line renderError shows under it */
  shows: string;
}

const CASES: Case[] = [
  {
    name: 'undefined variable in a .j2 template',
    files: {
      'site.yml': play('    - template: {src: motd.j2, dest: /etc/motd}\n'),
      'templates/motd.j2': 'Welcome to {{ inventory_hostname }}\nApp: {{ app_dir }}\nOwner: {{ app_owner }}\n',
    },
    at: ['templates/motd.j2', 3, 11],
    message: /undefined variable "app_owner" \(in template motd\.j2\) in task "template"/,
    shows: 'Owner: {{ app_owner }}',
  },
  {
    name: "unknown filter in a role's .j2 template, with a did-you-mean",
    files: {
      'site.yml': '- hosts: all\n  gather_facts: false\n  roles: [web]\n',
      'roles/web/tasks/main.yml': '- name: config\n  template:\n    src: app.conf.j2\n    dest: /etc/app.conf\n',
      'roles/web/templates/app.conf.j2': '# app\n{% for d in [app_dir] %}\ndir={{ d | to_jsn }}\n{% endfor %}\n',
    },
    at: ['roles/web/templates/app.conf.j2', 3, 12],
    message: /unknown filter "to_jsn" \(template\) \(did you mean "to_json"\?\)/,
    shows: 'dir={{ d | to_jsn }}',
  },
  {
    name: 'Jinja syntax error in when: what the user wrote, no internal }',
    files: { 'site.yml': play('    - debug: msg=hi\n      when: app_dir == "/opt/app" and (app_dir != ""\n') },
    at: ['site.yml', 5, 13],
    message: /template syntax error: unexpected end of expression, expected `\)` in expression "app_dir == "\/opt\/app" and \(app_dir != """ \(when\)$/m,
    shows: '      when: app_dir == "/opt/app" and (app_dir != ""',
  },
  {
    name: 'undefined variable in become_user',
    files: { 'site.yml': play('    - name: as the app user\n      command: id\n      become: true\n      become_user: "{{ app_user }}"\n') },
    at: ['site.yml', 7, 21],
    message: /undefined variable "app_user" \(in become_user\) in task "as the app user"/,
    shows: '      become_user: "{{ app_user }}"',
  },
  {
    name: 'a templated vars_files entry that resolves at load to a missing file',
    files: {
      'site.yml': play('    - debug: msg=hi\n', '  vars:\n    stage: prod\n  vars_files:\n    - vars/common.yml\n    - "vars/{{ stage }}.yml"\n'),
      'vars/common.yml': 'a: 1\n',
    },
    at: ['site.yml', 7, 8],
    message: /vars file not found: "vars\/\{\{ stage \}\}\.yml" is .*vars\/prod\.yml for host target/,
    shows: '    - "vars/{{ stage }}.yml"',
  },
  {
    name: 'unknown test in failed_when',
    files: { 'site.yml': play('    - command: "true"\n      register: r\n      failed_when: r.rc is sucess\n') },
    at: ['site.yml', 6, 28],
    message: /unknown test "sucess" \(failed_when\) \(did you mean "success"\?\)/,
    shows: '      failed_when: r.rc is sucess',
  },
  {
    name: 'Jinja syntax error in a .j2 template',
    files: {
      'site.yml': play('    - template: {src: broken.j2, dest: /tmp/x}\n'),
      'templates/broken.j2': 'ok\n{% if app_dir %}\nstill ok\n',
    },
    at: ['templates/broken.j2', 3, 1],
    message: /template syntax error: unexpected end of input, expected end of block/,
    shows: '',
  },
  {
    name: 'an import cycle of three files (test/load-cycles.test.ts)',
    files: {
      'site.yml': play('    - import_tasks: a.yml\n'),
      'a.yml': '- debug: msg=a\n- import_tasks: b.yml\n',
      'b.yml': '- debug: msg=b\n- debug: msg=b2\n- import_tasks: c.yml\n',
      'c.yml': '- import_tasks: a.yml\n',
    },
    at: ['c.yml', 1, 3],
    message: /import cycle: .*a\.yml:2 -> .*b\.yml:3 -> .*c\.yml:1 -> .*a\.yml/,
    shows: '- import_tasks: a.yml',
  },
  {
    name: '20,000 levels of blocks (test/load-cycles.test.ts)',
    files: { 'site.yml': play(`    - ${'{block: ['.repeat(20_000)}{debug: {msg: hi}}${']}'.repeat(20_000)}\n`) },
    at: ['site.yml', 0, 0],
    message: /nested too deeply/,
    shows: '',
  },
];

describe('load-time faults: reported before any host is contacted, at the file and line that hold them', () => {
  it('control: a playbook without faults does contact the host (the listener counts)', async () => {
    const d = tree('control', { 'site.yml': play('    - command: id\n') });
    const before = contacts;
    const r = await cliAsync(['apply', path.join(d, 'site.yml'), '-i', path.join(dir, 'inv.yml'), '--format', 'plain'], { timeoutMs: 60_000 });
    expect(r.code).not.toBe(1);
    expect(contacts).toBeGreaterThan(before);
  });

  for (const c of CASES) {
    for (const mode of ['--syntax-check', 'run'] as const) {
      it(`${c.name} (${mode})`, async () => {
        const d = tree(c.name.replace(/\W+/g, '-').slice(0, 40) + (mode === 'run' ? '-run' : ''), c.files);
        const before = contacts;
        const args = ['apply', path.join(d, 'site.yml'), '-i', path.join(dir, 'inv.yml'), '--format', 'plain', ...(mode === 'run' ? [] : ['--syntax-check'])];
        const r = await cliAsync(args, { timeoutMs: 60_000 });
        expect(r.stderr).not.toMatch(/call stack|ENOENT|__cap|__U\b/i);
        const [file, line, col] = c.at;
        const where = line ? `${esc(path.join(d, file))}:${line}:${col}` : `${esc(path.join(d, file))}:\\d+:\\d+`;
        expect(r.stderr).toMatch(new RegExp(`error: ${where}: `));
        expect(r.stderr).toMatch(c.message);
        if (c.shows) expect(r.stderr).toContain(` | ${c.shows}\n`);
        expect(r.stderr).toMatch(/no host was contacted/);
        expect(r.code).toBe(1);
        expect(contacts).toBe(before);
      });
    }
  }

  it('all faults of one playbook are listed at once', async () => {
    const d = tree('all-at-once', {
      'site.yml': play('    - template: {src: a.j2, dest: /tmp/a}\n    - debug: msg=hi\n      when: (x\n    - command: id\n      become_user: "{{ nobody_defines_this }}"\n'),
      'templates/a.j2': '{{ 1 | nosuchfilter }}\n',
    });
    const r = await cliAsync(['apply', path.join(d, 'site.yml'), '-i', path.join(dir, 'inv.yml'), '--syntax-check'], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${path.join(d, 'templates/a.j2')}:1:8: unknown filter "nosuchfilter"`);
    expect(r.stderr).toContain(`${path.join(d, 'site.yml')}:6:13: template syntax error: unexpected end of expression`);
    expect(r.stderr).toContain(`${path.join(d, 'site.yml')}:8:21: undefined variable "nobody_defines_this"`);
  });

  it('what may not run is a warning, and what Ansible would run still loads', async () => {
    const d = tree('deferred', {
      'site.yml': play(
        [
          '    - template: {src: guarded.j2, dest: /tmp/g}',
          '      when: ansible_os_family == "RedHat"',
          '    - debug: msg="{{ x | ansible.netcommon.ipaddr }}"',
          '    - debug: msg="{{ lookup(\'env\', \'HOME\') | default(\'\') }} {{ maybe is defined }}"',
          '    - command: id',
          '      become_user: "{{ maybe | default(\'root\') }}"',
          '',
        ].join('\n'),
        '  vars:\n    x: 10.0.0.1\n',
      ),
      'templates/guarded.j2': '{{ only_on_redhat }} {{ x | nosuchfilter }}\n',
      // a vars file named after a fact: only the run knows it
      'facts.yml': play('    - debug: msg=hi\n', '  vars_files:\n    - "vars/{{ ansible_distribution }}.yml"\n'),
    });
    const f = await cliAsync(['apply', path.join(d, 'facts.yml'), '-i', path.join(dir, 'inv.yml'), '--syntax-check'], { timeoutMs: 60_000 });
    expect(f.stderr).toBe('');
    expect(f.code).toBe(0);
    const r = await cliAsync(['apply', path.join(d, 'site.yml'), '-i', path.join(dir, 'inv.yml'), '--syntax-check'], { timeoutMs: 60_000 });
    expect(r.stderr).toContain(`warning: ${path.join(d, 'templates/guarded.j2')}:1:4: undefined variable "only_on_redhat"`);
    expect(r.stderr).toContain(`warning: ${path.join(d, 'templates/guarded.j2')}:1:29: unknown filter "nosuchfilter"`);
    // a filter by its collection name runs in Ansible: runbook's gap, a warning even where the task is certain
    expect(r.stderr).toMatch(/warning: .*site\.yml:8:\d+: "ansible\.netcommon\.ipaddr" \(a filter or test by its collection name\)/);
    expect(r.stderr).not.toMatch(/^error:/m);
    expect(r.code).toBe(0);
  });
});
