/**
 * docs/adr/0012: load-time errors only for certainties. What only the run can decide (a module Ansible has but
 * runbook lacks, anything in a task that may not run) is a one-line warning naming file:line at load, and fails
 * the task only if it is reached. Real CLI, real files, local connection into a temporary directory.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli } from './helpers.js';
import { splitArgs } from '../lib/playbook/loader.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-loadtime-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function tree(root: string, files: Record<string, string>): string {
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), text);
  }
  return root;
}

const out = path.join(dir, 'out');
const base = tree(path.join(dir, 'deferred'), {
  'inventory.yml': 'all:\n  hosts:\n    box:\n      ansible_connection: local\n  vars:\n    runbook_lock: false\n',
  'site.yml': `- hosts: box
  gather_facts: false
  vars:
    os: Debian
  roles:
    - pkgs
`,
  'roles/pkgs/tasks/main.yml': `- name: marker
  copy:
    dest: ${out}/{{ os }}.txt
    content: "ran on {{ os }}\\n"

- include_tasks: setup-RedHat.yml
  when: os == 'RedHat'

- include_tasks: "setup-{{ os }}.yml"

- name: Arch only
  pacman:
    name: git
  when: os == 'Archlinux'

- name: a lookup runbook lacks
  debug:
    msg: "{{ item }}"
  with_dig:
    - example.org
  when: os == 'Archlinux'

- name: typo only under a skipped tag
  copy:
    dest: /tmp/x
    colour: red
  tags: [debugonly]
`,
  'roles/pkgs/tasks/setup-RedHat.yml': `- name: install with yum
  yum:
    name: httpd
`,
  'roles/pkgs/tasks/setup-Debian.yml': `- name: debian marker
  copy:
    dest: ${out}/debian-include.txt
    content: "dynamic include reached\\n"
`,
});
const site = path.join(base, 'site.yml');
const inv = path.join(base, 'inventory.yml');
const main = path.join(base, 'roles/pkgs/tasks/main.yml');
const redhat = path.join(base, 'roles/pkgs/tasks/setup-RedHat.yml');
const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** `main.yml:LINE:` of the first line of main.yml holding `text` */
const at = (text: string) => `${esc(main)}:${fs.readFileSync(main, 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1}:`;

describe('deferred at load: a warning naming file:line, exit 0 for --syntax-check', () => {
  const r = cli(['apply', site, '-i', inv, '--syntax-check', '--skip-tags', 'debugonly']);
  it('loads', () => {
    expect(r.stderr).not.toMatch(/^error/m);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/syntax OK/);
  });
  it('a module Ansible has and runbook lacks, in a when-guarded include', () => {
    expect(r.stderr).toContain(`warning: ${redhat}:2:3: module "yum" is not supported (yet) by runbook (ansible.builtin.yum); this task fails if it runs`);
  });
  it('a module under a when (a redirected short name)', () => {
    expect(r.stderr).toMatch(new RegExp(`warning: ${at('pacman:')}3: module "pacman" is not supported \\(yet\\) by runbook \\(community\\.general\\.pacman\\); this task fails if it runs`));
  });
  it('a with_<lookup> loop runbook cannot do', () => {
    // with_first_found is supported now (lib/vars/loop-lookups.ts): the case is kept with a lookup runbook lacks
    expect(r.stderr).toMatch(new RegExp(`warning: ${at('with_dig')}3: loop "with_dig" is not supported by runbook yet; this task fails if it runs`));
  });
  it('an argument error in a task --skip-tags leaves out', () => {
    expect(r.stderr).toMatch(new RegExp(`warning: ${at('colour')}\\d+: unknown argument "colour" for module copy.*\\(the task may not run: left out by --skip-tags\\); this task fails if it runs`));
  });
  it('a templated include file name is left to the run (no warning about setup-{{ os }}.yml)', () => {
    expect(r.stderr).not.toMatch(/setup-\{\{/);
  });
  it('each warning is one line with file:line:col', () => {
    for (const l of r.stderr.split('\n').filter((x) => x.startsWith('warning:'))) expect(l).toMatch(/^warning: \/\S+:\d+:\d+: /);
  });
});

describe('the same problems are errors when the task is certain to run', () => {
  it('without --skip-tags the bad copy argument is an error, exit 1', () => {
    const r = cli(['apply', site, '-i', inv, '--syntax-check']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`error: ${at('colour')}\\d+: unknown argument "colour" for module copy`));
  });
  it('a name neither Ansible nor runbook knows stays an error, also under when (Ansible refuses it too)', () => {
    const d = tree(path.join(dir, 'typo'), {
      'site.yml': '- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: typo\n      coppy:\n        dest: /tmp/x\n      when: false\n',
    });
    const r = cli(['apply', path.join(d, 'site.yml'), '--syntax-check']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/site\.yml:5:7: unknown module "coppy" \(did you mean "copy"\?\)/);
  });
});

describe('a deferred task fails only when it is reached', () => {
  it('not reached (when false, other-OS include not taken): the run succeeds and the dynamic include runs', () => {
    fs.rmSync(out, { recursive: true, force: true });
    fs.mkdirSync(out, { recursive: true });
    const r = cli(['apply', site, '-i', inv, '--skip-tags', 'debugonly', '--format', 'plain']);
    expect(r.stderr + r.stdout).not.toMatch(/failed=[1-9]/);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(out, 'Debian.txt'), 'utf8')).toBe('ran on Debian\n');
    expect(fs.readFileSync(path.join(out, 'debian-include.txt'), 'utf8')).toBe('dynamic include reached\n');
  });
  it('reached (-e os=RedHat): the task fails with the deferred message, exit 2', () => {
    fs.rmSync(out, { recursive: true, force: true });
    fs.mkdirSync(out, { recursive: true });
    const r = cli(['apply', site, '-i', inv, '--skip-tags', 'debugonly', '-e', 'os=RedHat', '--format', 'plain']);
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toContain(`${redhat}:2:3: module "yum" is not supported (yet) by runbook (ansible.builtin.yum)`);
    // the tasks before it ran
    expect(fs.readFileSync(path.join(out, 'RedHat.txt'), 'utf8')).toBe('ran on RedHat\n');
  });
});

describe('undefined variables', () => {
  it('one only a when-guarded task needs is a warning; one a certain task needs stays an error', () => {
    const d = tree(path.join(dir, 'undef'), {
      'guarded.yml': '- hosts: localhost\n  gather_facts: false\n  tasks:\n    - debug:\n        msg: "{{ not_defined_anywhere }}"\n      when: flavour is defined\n',
      'certain.yml': '- hosts: localhost\n  gather_facts: false\n  tasks:\n    - debug:\n        msg: "{{ not_defined_anywhere }}"\n',
    });
    const g = cli(['apply', path.join(d, 'guarded.yml'), '--syntax-check']);
    expect(g.code).toBe(0);
    expect(g.stderr).toMatch(/warning: \S+guarded\.yml:4:7: undefined variable "not_defined_anywhere" .*the task may not run \(its when may be false\) and fails if it does/);
    const c = cli(['apply', path.join(d, 'certain.yml'), '--syntax-check']);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/error: \S+certain\.yml:4:7: undefined variable "not_defined_anywhere"/);
  });
});

describe('old-style include', () => {
  it('a static include: is read as import_tasks (with a deprecation warning) and runs', () => {
    const o = path.join(dir, 'inc-out.txt');
    const d = tree(path.join(dir, 'include'), {
      'site.yml': `- hosts: localhost\n  gather_facts: false\n  vars: {runbook_lock: false}\n  tasks:\n    - include: more.yml\n`,
      'more.yml': `- copy:\n    dest: ${o}\n    content: "included\\n"\n`,
    });
    const chk = cli(['apply', path.join(d, 'site.yml'), '--syntax-check']);
    expect(chk.code).toBe(0);
    expect(chk.stderr).toMatch(/warning: .*site\.yml:5:\d+: "include" is deprecated .*read as import_tasks/);
    const r = cli(['apply', path.join(d, 'site.yml'), '--format', 'plain']);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(o, 'utf8')).toBe('included\n');
  });
});

describe('k=v arguments are split as Ansible does', () => {
  it('keeps a {{ }} expression with spaces in one word', () => {
    expect(splitArgs(`name={{ svc | default('a b') }} state=started enabled=yes`)).toEqual([`name={{ svc | default('a b') }}`, 'state=started', 'enabled=yes']);
    expect(splitArgs(`msg="hello world" x='y z'`)).toEqual(['msg=hello world', 'x=y z']);
    expect(() => splitArgs('a="b')).toThrow(/closing quotation/);
    expect(() => splitArgs('a={{ b')).toThrow(/unclosed/);
  });
  it('a service task with a templated k=v name loads', () => {
    const d = tree(path.join(dir, 'kv'), {
      'site.yml': `- hosts: localhost\n  gather_facts: false\n  vars: {svc: nginx}\n  handlers:\n    - name: restart\n      service: "name={{ svc }} state=restarted"\n  tasks:\n    - debug: msg=hi\n`,
    });
    const r = cli(['apply', path.join(d, 'site.yml'), '--syntax-check']);
    expect(r.stderr).not.toMatch(/expected k=v/);
    expect(r.code).toBe(0);
  });
});
