/**
 * Secrets never appear in any output: a real playbook against a lab host, run with each output format (tty, plain,
 * json), --diff and --report, uses secrets from a secret-named vars file, an inline !vault value and the vars of a
 * no_log task in every way that used to print them (debug of the var, the registered result of a no_log task, a
 * diff of a templated file, failure messages, loop item labels, module argument errors, a configuration error) -
 * and every byte of stdout, stderr and the report file is grepped for each secret. The secrets do reach the host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { vaultEncrypt } from '../lib/vars/vault.js';
import { cliAsync, events } from './helpers.js';

const NAMED = 'Named-F1le-Secret-9137';
const VAULTED = 'Vaulted-Inl1ne-Secret-4471';
const NOLOG = 'NoLog-Task-Var-2290';
const ALL = [NAMED, VAULTED, NOLOG];
const PW = 'secrets-test-pw';

let lab: Lab;
let dir: string;
const base = `/tmp/rbk-secrets-${process.pid}`;

beforeAll(async () => {
  lab = await Lab.create({ name: 'secrets', hosts: 1 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-secrets-'));
  const inv = path.join(dir, 'inventory');
  fs.mkdirSync(path.join(inv, 'group_vars', 'all'), { recursive: true });
  fs.writeFileSync(path.join(inv, 'hosts.yml'), lab.inventoryYaml());
  fs.writeFileSync(path.join(inv, 'group_vars', 'all', 'secrets.yml'), `db_pass: "${NAMED}"\n`);
  fs.writeFileSync(path.join(inv, 'group_vars', 'all', 'main.yml'), `app_base: ${base}\nrun_id: 1\napi_key: !vault |\n${vaultEncrypt(VAULTED, PW).trimEnd().split('\n').map((l) => `  ${l}`).join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'pw'), `${PW}\n`);
  fs.mkdirSync(path.join(dir, 'templates'));
  fs.writeFileSync(path.join(dir, 'templates', 'app.conf.j2'), 'user = app\npassword = {{ db_pass }}\nkey = {{ api_key }}\nrun = {{ run_id }}\n');
  fs.writeFileSync(
    path.join(dir, 'site.yml'),
    `- hosts: lab
  gather_facts: false
  tasks:
    - file: { path: "{{ app_base }}/{{ inventory_hostname }}", state: directory }
    - name: config from a template (diff shows before/after)
      template: { src: app.conf.j2, dest: "{{ app_base }}/{{ inventory_hostname }}/app.conf", mode: "0600" }
    - name: a no_log task with its own secret var
      no_log: true
      vars: { token: "${NOLOG}" }
      shell: 'printf "%s" "{{ token }}" > {{ app_base }}/{{ inventory_hostname }}/token; echo "{{ token }}"'
      register: tok
    - name: the registered result of the no_log task
      debug: { var: tok }
    - name: its stdout again
      debug: { msg: "token was {{ tok.stdout | default('(not run)') }}" }
    - name: debug of a secret var
      debug: { var: db_pass }
    - name: debug msg with the vaulted var
      debug: { msg: "key={{ api_key }}" }
    - name: a loop over secrets (item labels)
      debug: { msg: "item" }
      loop: ["{{ db_pass }}", "{{ api_key }}"]
    - name: a command whose stderr holds a secret fails
      command: sh -c 'echo "bad password {{ db_pass }}" >&2; exit 3'
      ignore_errors: true
    - name: fail with the secret in its message
      fail: { msg: "cannot log in with {{ api_key }}" }
      ignore_errors: true
    - name: assert with the secret in fail_msg
      assert: { that: ["db_pass == 'x'"], fail_msg: "db_pass was {{ db_pass }}" }
      ignore_errors: true
    - name: a module argument error naming the secret value
      file: { path: "{{ app_base }}/x", state: "{{ db_pass }}" }
      ignore_errors: true
    - name: a no_log task that fails
      no_log: true
      command: sh -c 'echo "{{ db_pass }}"; exit 1'
      ignore_errors: true
`,
  );
});

afterAll(async () => {
  await lab?.destroy();
  fs.rmSync(base, { recursive: true, force: true });
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function expectNoSecret(text: string, what: string): void {
  for (const s of ALL) {
    expect(text.includes(s), `${what} contains ${s}:\n${text}`).toBe(false);
    // nor in base64 or hex: a reporter must not print a secret merely encoded
    expect(text.includes(Buffer.from(s).toString('base64')), `${what}: base64 of ${s}`).toBe(false);
  }
}

describe('secrets never reach any output', () => {
  for (const format of ['plain', 'json', 'tty'] as const) {
    for (const check of [false, true]) {
      it(`--format ${format}${check ? ' --check' : ''} --diff --report: no secret anywhere`, async () => {
        if (!check) fs.rmSync(base, { recursive: true, force: true });
        const report = path.join(dir, `report-${format}-${check}.json`);
        const r = await cliAsync(['apply', path.join(dir, 'site.yml'), '-i', path.join(dir, 'inventory'), '--vault-password-file', path.join(dir, 'pw'), '--diff', '--format', format, '--report', report, ...(check ? ['--check'] : [])]);
        expect(r.code, r.stderr + r.stdout).toBe(0);
        const rep = fs.readFileSync(report, 'utf8');
        expectNoSecret(r.stdout, 'stdout');
        expectNoSecret(r.stderr, 'stderr');
        expectNoSecret(rep, 'report');
        expect(r.stdout).toContain('********');
        if (format === 'json') {
          const ev = events(r.stdout).filter((e) => e.event === 'task:result');
          const failed = ev.filter((e) => e.status === 'failed').map((e) => e.task);
          // the failures really happened (and were scrubbed, not skipped)
          const always = ['fail with the secret in its message', 'assert with the secret in fail_msg', 'a module argument error naming the secret value'];
          // commands do not run in check mode, so they cannot fail there
          expect(failed).toEqual(expect.arrayContaining(check ? always : [...always, 'a command whose stderr holds a secret fails', 'a no_log task that fails']));
          const tpl = ev.find((e) => e.task === 'config from a template (diff shows before/after)')!;
          expect(tpl.status).toBe(check ? 'ok' : 'changed');
          if (!check) expect(JSON.stringify(tpl.diff)).toContain('password = ********');
        }
        if (!check) {
          // the secrets did reach the host
          const h = lab.hosts[0]!;
          const conf = await lab.exec(h, ['cat', `${base}/${h.name}/app.conf`]);
          expect(conf.stdout).toBe(`user = app\npassword = ${NAMED}\nkey = ${VAULTED}\nrun = 1\n`);
          expect((await lab.exec(h, ['cat', `${base}/${h.name}/token`])).stdout).toBe(NOLOG);
        }
      });
    }
  }

  it('a changed secret shows in --diff only as a mask (before and after)', async () => {
    const r = await cliAsync(['apply', path.join(dir, 'site.yml'), '-i', path.join(dir, 'inventory'), '--vault-password-file', path.join(dir, 'pw'), '--diff', '--format', 'json', '-e', 'run_id=2']);
    expect(r.code, r.stderr).toBe(0);
    const tpl = events(r.stdout).find((e) => e.event === 'task:result' && e.task.startsWith('config from a template'))!;
    expect(tpl.status).toBe('changed');
    expect(tpl.diff[0].before).toContain('password = ********');
    expect(tpl.diff[0].after).toContain('run = 2');
    expectNoSecret(r.stdout + r.stderr, 'output');
  });

  it('a configuration error that quotes a secret value masks it', async () => {
    const pb = path.join(dir, 'bad.yml');
    fs.writeFileSync(pb, '- hosts: lab\n  gather_facts: false\n  tasks:\n    - debug: { msg: "{{ item }}" }\n      loop: "{{ db_pass }}"\n');
    const r = await cliAsync(['apply', pb, '-i', path.join(dir, 'inventory'), '--vault-password-file', path.join(dir, 'pw')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.yml:4:7: loop needs a list, got a string "\*\*\*\*\*\*\*\*"/);
    expectNoSecret(r.stdout + r.stderr, 'stderr');
  });
});
