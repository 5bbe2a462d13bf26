/**
 * Byte for byte with Ansible: runbook's template module renders the real-style role templates of
 * test/fixtures/templates-compat (ansible_managed | comment headers, loops, whitespace control, indent, to_nice_yaml,
 * to_nice_json, default chains, a non-UTF-8 file through lookup('file')) onto a lab host over SSH, and every file must
 * equal, byte for byte, what Ansible 2.14 wrote for the same playbook.
 *
 * How expected/ was recorded: on the development machine (Debian 12, Debian's ansible 2.14 package, Jinja2 3.1,
 * PyYAML 6 with libyaml), `node bench/compat/template-diff.js --record`, which runs
 *   ansible-playbook -i localhost, -c local site.yml -e out_dir=TMP -e fixture_dir=<this fixture dir>
 * with the fixture's ansible.cfg (its ansible_managed) and copies TMP/* to expected/. The test itself needs no Ansible.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { cliAsync, events, ROOT } from './helpers.js';

const FIX = path.join(ROOT, 'test/fixtures/templates-compat');
const EXPECTED = path.join(FIX, 'expected');
const out = `/tmp/rbk-tplcompat-${process.pid}`;
let lab: Lab;
let inv: string;

const apply = () =>
  cliAsync(['apply', 'site.yml', '-i', inv, '--format', 'json', '-e', `out_dir=${out}`, '-e', `fixture_dir=${FIX}`], {
    cwd: FIX, env: { ANSIBLE_CONFIG: path.join(FIX, 'ansible.cfg') }, timeoutMs: 180_000,
  });

beforeAll(async () => {
  lab = await Lab.create({ name: 'tplcompat', hosts: 1 });
  inv = path.join(lab.dir, 'tplcompat-inventory.yml');
  fs.writeFileSync(inv, lab.inventoryYaml());
  fs.mkdirSync(out, { recursive: true });
}, 120_000);

afterAll(async () => {
  await lab?.destroy();
  fs.rmSync(out, { recursive: true, force: true });
});

describe('templates rendered by runbook on a lab host equal Ansible 2.14 output byte for byte', () => {
  const files = fs.readdirSync(EXPECTED).sort();

  it('has the recorded outputs', () => {
    expect(files).toEqual(['app.yml', 'comments', 'defaults.conf', 'indent', 'latin1.conf', 'nginx.conf', 'settings.json']);
  });

  it('apply renders every template as Ansible did', async () => {
    const r = await apply();
    expect(r.code, r.stderr + r.stdout).toBe(0);
    for (const f of files) {
      const want = fs.readFileSync(path.join(EXPECTED, f));
      const got = fs.readFileSync(path.join(out, f));
      // compare as latin1 text for a readable diff; any byte difference shows
      expect(got.toString('latin1'), f).toBe(want.toString('latin1'));
      expect(got.equals(want), f).toBe(true);
    }
    // the non-UTF-8 bytes of files/latin1.txt came through lookup('file') unchanged
    expect(fs.readFileSync(path.join(out, 'latin1.conf')).includes(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20]))).toBe(true);
  });

  it('a second apply changes nothing', async () => {
    const r = await apply();
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const changed = events(r.stdout).filter((e) => e.event === 'task:result' && e.status === 'changed');
    expect(changed).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------------------------------
// the pure pieces (expected values are Ansible 2.14 / Jinja2 3.1 / libyaml output for the same input)

import * as os from 'node:os';
import { createTemplar } from '../lib/vars/template.js';
import { pyYamlDump } from '../lib/vars/pyyaml-dump.js';
import { commentFilter, jinjaIndent } from '../lib/vars/text-filters.js';
import { preserveTrailingNewlines, strftime, templateVars } from '../lib/vars/template-vars.js';
import { loadAnsibleCfg, cfgConnectionDefaults } from '../lib/cli/ansible-cfg.js';

describe('filters and template variables', () => {
  const t = createTemplar();
  it('default(): an undefined argument is fine when the value is defined (and with boolean=true)', () => {
    expect(t.renderString('{{ x | default(undefined_var) }}', { x: 'X' })).toBe('X');
    expect(t.renderString('{{ x | default(a.b.c) }}', { x: 'X' })).toBe('X');
    expect(t.renderString("{{ '' | d(y, true) }}", { y: 'Y' })).toBe('Y');
    expect(t.renderString("{{ nope | default(other | default('z')) }}", {})).toBe('z');
    // a variable that is undefined outside default()'s arguments still raises
    expect(() => t.renderString('{{ x | default(y) ~ missing }}', { x: 1 })).toThrow(/'missing' is undefined/);
  });
  it('comment: styles and parameters', () => {
    expect(commentFilter('a\nb', 'plain', {})).toBe('#\n# a\n# b\n#');
    expect(commentFilter('a', 'cblock', {})).toBe('/*\n *\n * a\n *\n */');
    expect(commentFilter('a', 'xml', {})).toBe('<!--\n -\n - a\n -\n-->');
    expect(commentFilter('a', 'plain', { prefix: '', postfix: '' })).toBe('# a\n'); // postfix_count lines joined by newline
    expect(commentFilter('a', 'plain', { decoration: '!! ', prefix: '\n', prefix_count: 2 })).toBe('\n\n!! a\n!!');
    expect(() => commentFilter('a', 'nope', {})).toThrow(/unknown style/);
  });
  it('indent keeps a trailing newline (Jinja2 3.x)', () => {
    expect(jinjaIndent('a\nb\n', 2, false, false)).toBe('a\n  b\n');
    expect(jinjaIndent('a\n\nb', 2, true, false)).toBe('  a\n\n  b');
    expect(jinjaIndent('a\n\nb\n', 2, true, true)).toBe('  a\n  \n  b\n  ');
    expect(t.renderString("[{{ 'a\nb\n' | indent(2) }}]", {})).toBe('[a\n  b\n]');
  });
  it('to_nice_yaml / to_yaml as PyYAML with libyaml writes them', () => {
    expect(pyYamlDump({ b: [1, 'yes', '', null, 1.5], a: { x: '012', y: 'a: b', z: [] } }, { indent: 4 })).toBe(
      "a:\n    x: '012'\n    y: 'a: b'\n    z: []\nb:\n- 1\n- 'yes'\n- ''\n- null\n- 1.5\n",
    );
    expect(pyYamlDump([{ a: 1, b: [2] }], { indent: 4 })).toBe('-   a: 1\n    b:\n    - 2\n');
    expect(pyYamlDump({ a: [1, 2], b: { c: 'x' } }, { defaultFlowStyle: null })).toBe('a: [1, 2]\nb: {c: x}\n');
    expect(pyYamlDump({ t: 'a\tb', m: 'one\ntwo\n' })).toBe('m: \'one\n\n  two\n\n  \'\nt: "a\\tb"\n');
    expect(pyYamlDump('word')).toBe('word\n');
  });
  it('the template module keeps as many trailing newlines as the source has', () => {
    expect(preserveTrailingNewlines('x\n\n', 'x')).toBe('x\n\n');
    expect(preserveTrailingNewlines('x\n', 'x\n\n')).toBe('x\n\n');
  });
  it('ansible_managed: ansible.cfg format with {file}, {host}, {uid} and strftime of the template mtime', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-managed-'));
    try {
      const cfg = path.join(dir, 'ansible.cfg');
      fs.writeFileSync(cfg, '[defaults]\nansible_managed = Managed: {file} on {host} by {uid}, %Y\n');
      const loaded = loadAnsibleCfg(cfg);
      expect(cfgConnectionDefaults(loaded)['ansible_managed']).toBe('Managed: {file} on {host} by {uid}, %Y');
      const tpl = path.join(dir, 'x.j2');
      fs.writeFileSync(tpl, 'x');
      const when = new Date(2024, 4, 6, 7, 8, 9);
      fs.utimesSync(tpl, when, when);
      const v = templateVars('x.j2', tpl, '/etc/x', loaded.managed);
      expect(v['ansible_managed']).toBe(`Managed: x.j2 on ${os.hostname()} by ${os.userInfo().username}, 2024`);
      expect(v['template_path']).toBe('x.j2');
      expect(v['template_destpath']).toBe('/etc/x');
      expect(templateVars('x.j2', tpl, undefined, undefined)['ansible_managed']).toBe('Ansible managed');
      expect(strftime('%Y-%m-%d %H:%M:%S %j %a %b', when)).toBe('2024-05-06 07:08:09 127 Mon May');
      // template_uid is the template file's owner's name (getpwuid), whoever runs runbook
      if (process.getuid?.() === 0) {
        const other = path.join(dir, 'y.j2');
        fs.writeFileSync(other, 'y');
        fs.chownSync(other, 65534, 65534);
        const nobody = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.split(':')[2] === '65534')?.split(':')[0];
        expect(nobody).toBeTruthy();
        expect(templateVars('y.j2', other, undefined, undefined)['template_uid']).toBe(nobody);
        fs.chownSync(other, 54321, 54321); // a uid no user has: its number
        expect(templateVars('y.j2', other, undefined, undefined)['template_uid']).toBe('54321');
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { cli } from './helpers.js';

describe('default(undefined_var) at load time', () => {
  it('is no "undefined variable" error, while an unguarded unknown name still is', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-dflt-'));
    try {
      const play = (msg: string) => {
        const f = path.join(dir, 'p.yml');
        fs.writeFileSync(f, `- hosts: localhost\n  gather_facts: false\n  vars:\n    x: present\n  tasks:\n    - debug:\n        msg: "${msg}"\n`);
        return cli(['apply', f, '--syntax-check'], { cwd: dir });
      };
      const ok = play('{{ x | default(undefined_var) }}');
      expect(ok.code, ok.stderr).toBe(0);
      const bad = play('{{ x ~ undefined_var }}');
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/undefined variable "undefined_var"/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
