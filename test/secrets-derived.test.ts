/**
 * Secrets stay masked whatever their encoding and after filters derive values from them: vault values holding
 * quotes and backslashes, a 3-character secret, and `upper` / `b64encode` / slice results of a secret, used in
 * debug (var and msg), set_fact copies, a template diff, failure messages and a command's stderr. Every byte of
 * stdout, stderr and the --report file of tty, plain and json runs with --diff is searched for the secrets in every
 * form they could be printed in (as is, JSON-escaped, Python repr), and `runbook vars` / `runbook inventory` show
 * `<encrypted>` unless --show-secrets is given.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { vaultEncrypt } from '../lib/vars/vault.js';
import { cliAsync, events } from './helpers.js';

const QUOTED = `Qu"ot\\ed'Secr3t`;
const SHORT = 'Q7~';
const API = 'apikey-derived-77';
const DERIVED = [API.toUpperCase(), Buffer.from(API).toString('base64'), API.slice(0, 9), Buffer.from(QUOTED).toString('base64')];
const PW = 'derived-test-pw';

/** every form a secret could be printed in */
function forms(s: string): string[] {
  const json = JSON.stringify(s).slice(1, -1);
  const py = s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  return [...new Set([s, json, py, JSON.stringify(json).slice(1, -1)])];
}

function expectClean(text: string, what: string): void {
  for (const s of [QUOTED, SHORT, API, ...DERIVED]) {
    for (const f of forms(s)) expect(text.includes(f), `${what} contains ${f}:\n${text}`).toBe(false);
  }
}

let lab: Lab;
let dir: string;
const base = `/tmp/rbk-derived-${process.pid}`;

const vault = (v: string) => `!vault |\n${vaultEncrypt(v, PW).trimEnd().split('\n').map((l) => `  ${l}`).join('\n')}`;

beforeAll(async () => {
  lab = await Lab.create({ name: 'derived', hosts: 1 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-derived-'));
  const inv = path.join(dir, 'inventory');
  fs.mkdirSync(path.join(inv, 'group_vars', 'all'), { recursive: true });
  fs.writeFileSync(path.join(inv, 'hosts.yml'), lab.inventoryYaml());
  fs.writeFileSync(path.join(inv, 'group_vars', 'all', 'main.yml'), `base: ${base}\nrun_id: 1\nquoted: ${vault(QUOTED)}\nshort: ${vault(SHORT)}\napi: ${vault(API)}\n`);
  fs.writeFileSync(path.join(dir, 'pw'), `${PW}\n`);
  fs.mkdirSync(path.join(dir, 'templates'));
  fs.writeFileSync(path.join(dir, 'templates', 'app.conf.j2'), 'user = app\nquoted = {{ quoted }}\nshort = {{ short }}\nupper = {{ api | upper }}\nb64 = {{ api | b64encode }}\n{% set k = api[:9] %}slice = {{ k }}\nrun = {{ run_id }}\n');
  fs.writeFileSync(
    path.join(dir, 'site.yml'),
    `- hosts: lab
  gather_facts: false
  tasks:
    - file: { path: "{{ base }}", state: directory }
    - name: template
      template: { src: app.conf.j2, dest: "{{ base }}/app.conf", mode: "0600" }
    - name: debug var quoted
      debug: { var: quoted }
    - name: debug var short
      debug: { var: short }
    - name: debug derived
      debug: { msg: "upper={{ api | upper }} b64={{ api | b64encode }} slice={{ api[:9] }} qb64={{ quoted | b64encode }}" }
    - name: set_fact of a derived value
      set_fact: { derived: "{{ api | upper }}", derived_list: ["{{ api | b64encode }}"] }
    - name: debug the copy
      debug: { var: derived }
    - name: debug the list
      debug: { var: derived_list }
    - name: debug a dict holding the secrets
      debug: { msg: { q: "{{ quoted }}", s: "{{ short }}" } }
    - name: fail with derived values
      fail: { msg: "cannot use {{ quoted }} / {{ api | upper }}" }
      ignore_errors: true
    - name: a command prints a derived value on stderr and fails
      command: sh -c 'echo "bad key {{ api | b64encode }} {{ short }}" >&2; exit 3'
      ignore_errors: true
`,
  );
});

afterAll(async () => {
  await lab?.destroy();
  fs.rmSync(base, { recursive: true, force: true });
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('secrets and values derived from them never reach any output', () => {
  for (const format of ['plain', 'json', 'tty'] as const) {
    it(`--format ${format} --diff --report`, async () => {
      fs.rmSync(base, { recursive: true, force: true });
      const report = path.join(dir, `report-${format}.json`);
      const r = await cliAsync(['apply', path.join(dir, 'site.yml'), '-i', path.join(dir, 'inventory'), '--vault-password-file', path.join(dir, 'pw'), '--diff', '--format', format, '--report', report]);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expectClean(r.stdout, 'stdout');
      expectClean(r.stderr, 'stderr');
      expectClean(fs.readFileSync(report, 'utf8'), 'report');
      expect(r.stdout).toContain('********');
      if (format === 'json') {
        const ev = events(r.stdout).filter((e) => e.event === 'task:result');
        expect(ev.find((e) => e.task === 'fail with derived values')?.status).toBe('failed');
        expect(ev.find((e) => e.task === 'a command prints a derived value on stderr and fails')?.status).toBe('failed');
        expect(JSON.stringify(ev.find((e) => e.task === 'template')?.diff)).toContain('upper = ********');
      }
      // the values did reach the host, derived as asked
      const conf = (await lab.exec(lab.hosts[0]!, ['cat', `${base}/app.conf`])).stdout;
      expect(conf).toBe(`user = app\nquoted = ${QUOTED}\nshort = ${SHORT}\nupper = ${API.toUpperCase()}\nb64 = ${Buffer.from(API).toString('base64')}\nslice = ${API.slice(0, 9)}\nrun = 1\n`);
    });
  }

  it('a changed templated file shows derived secrets only masked in --diff', async () => {
    const r = await cliAsync(['apply', path.join(dir, 'site.yml'), '-i', path.join(dir, 'inventory'), '--vault-password-file', path.join(dir, 'pw'), '--diff', '--format', 'json', '-e', 'run_id=2']);
    expect(r.code, r.stderr).toBe(0);
    const tpl = events(r.stdout).find((e) => e.event === 'task:result' && e.task === 'template')!;
    expect(tpl.status).toBe('changed');
    expect(tpl.diff[0].after).toContain('run = 2');
    expectClean(r.stdout + r.stderr, 'output');
  });

  it('runbook vars and runbook inventory show <encrypted>, and the plaintext only with --show-secrets', async () => {
    const inv = path.join(dir, 'inventory');
    const host = lab.hosts[0]!.name;
    const pwArgs = ['--vault-password-file', path.join(dir, 'pw')];
    for (const args of [['vars', host, '-i', inv], ['vars', host, 'quoted', '-i', inv, '--format', 'json'], ['inventory', '--host', host, '-i', inv], ['inventory', '--list', '-i', inv]]) {
      const r = await cliAsync([...args, ...pwArgs]);
      const withVault = r.code === 0 ? r : await cliAsync(args, { env: { ANSIBLE_VAULT_PASSWORD_FILE: path.join(dir, 'pw') } });
      expect(withVault.code, withVault.stderr).toBe(0);
      expectClean(withVault.stdout + withVault.stderr, args.join(' '));
      expect(withVault.stdout).toContain('<encrypted>');
    }
    const shown = await cliAsync(['vars', host, 'quoted', '-i', inv, '--show-secrets', '--format', 'json'], { env: { ANSIBLE_VAULT_PASSWORD_FILE: path.join(dir, 'pw') } });
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout.trim().split('\n')[0]!).value).toBe(QUOTED);
  });
});
