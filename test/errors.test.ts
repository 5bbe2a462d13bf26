/**
 * One error base (lib/errors.ts): every error class is a RunbookError with a code; an error that points into a file
 * is shown with the offending line and a caret under the column (by the CLI, never inside the message); one
 * function maps outcomes and errors to exit codes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli } from './helpers.js';
import { ConfigErrors, RunbookError, exitCodeFor, renderError, sourceSnippet } from '../lib/errors.js';
import { TemplateError } from '../lib/vars/template.js';
import { VaultError, vaultDecrypt } from '../lib/vars/vault.js';
import { LookupUndefined } from '../lib/vars/lookups.js';
import { StepFailed } from '../lib/executor/apply.js';
import { HostNameError, expandHostRange } from '../lib/inventory/host-names.js';
import { KvParseError } from '../lib/cli/parse-kv.js';
import { ConnectError } from '../lib/connection/happy-eyeballs.js';
import { LabError } from '../lib/lab/proc.js';

let dir: string;
let inv: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-errors-'));
  inv = path.join(dir, 'inv.yml');
  // nothing listens at 127.0.0.9:1: a run that got as far as connecting would say "unreachable" and exit 4
  fs.writeFileSync(inv, 'all:\n  hosts:\n    target:\n      ansible_host: 127.0.0.9\n      ansible_port: 1\n');
});

/** The `error:` line and the two lines after it. */
function shown(stderr: string): string[] {
  const lines = stderr.split('\n');
  const i = lines.findIndex((l) => l.startsWith('error: '));
  expect(i, stderr).toBeGreaterThanOrEqual(0);
  return lines.slice(i, i + 3);
}

describe('errors shown by the CLI', () => {
  it('bad YAML: file:line:col, then the offending line with a caret under the column', () => {
    const pb = path.join(dir, 'bad.yml');
    fs.writeFileSync(pb, '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: greet\n      debug:\n        msg: "hello" extra\n');
    const r = cli(['apply', pb, '-i', inv]);
    expect(r.code, r.stderr).toBe(1);
    const [err, src, caret] = shown(r.stderr);
    expect(err).toMatch(new RegExp(`^error: ${pb.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:6:22: `));
    expect(src).toBe('  6 |         msg: "hello" extra');
    expect(caret).toBe('    |                      ^');
    // the caret sits under column 22 of the source line: the `e` of `extra`
    expect(src!.indexOf('extra')).toBe(caret!.indexOf('^'));
    expect(r.stderr).toMatch(/1 configuration error; no host was contacted/);
    expect(r.stdout + r.stderr).not.toMatch(/unreachable/);
  });

  it('a template syntax error in a template file: the line of the .j2 file with a caret', () => {
    fs.writeFileSync(path.join(dir, 't.j2'), 'line one\n{% if x %}\nnever closed {{ y\n');
    const pb = path.join(dir, 'tpl.yml');
    fs.writeFileSync(pb, '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: render\n      template:\n        src: t.j2\n        dest: /tmp/x\n');
    const r = cli(['apply', '--syntax-check', pb, '-i', inv]);
    expect(r.code, r.stderr).toBe(1);
    const [err, src, caret] = shown(r.stderr);
    expect(err).toMatch(/^error: .*t\.j2:3:1: template syntax error: /);
    expect(src).toBe('  3 | never closed {{ y');
    expect(caret).toBe('    | ^');
  });

  it('several errors: each with its own line and caret', () => {
    const pb = path.join(dir, 'two.yml');
    fs.writeFileSync(pb, '- hosts: all\n  gather_facts: false\n  tasks:\n    - nosuchmodule: {}\n    - copy: { dest: /tmp/x, content: a, colour: red }\n');
    const r = cli(['apply', pb, '-i', inv]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/two\.yml:4:7: unknown module "nosuchmodule"\n {2}4 \| {5}- nosuchmodule: \{\}\n {4}\| {7}\^\n/);
    expect(r.stderr).toMatch(/two\.yml:5:\d+: unknown argument "colour" for module copy[^\n]*\n {2}5 \| {5}- copy: /);
    expect(r.stderr).toMatch(/2 configuration errors; no host was contacted/);
  });
});

describe('the error base', () => {
  it('every error class is a RunbookError with a code; the message never holds the source line', () => {
    const cases: [Error, string][] = [
      [new TemplateError('template_syntax', 'bad', { line: 3 }), 'template_syntax'],
      [new LookupUndefined('x'), 'undefined_variable'],
      [new StepFailed('step failed', { kind: 'run', script: 'false' }, { code: 1, stdout: '', stderr: '' }, []), 'step_failed'],
      [new HostNameError('bad host'), 'host_name'],
      [new KvParseError('bad kv'), 'kv_parse'],
      [new ConnectError('refused', false, []), 'connect'],
      [new LabError('lab broke'), 'lab_error'],
    ];
    for (const [e, code] of cases) {
      expect(e, e.name).toBeInstanceOf(RunbookError);
      expect((e as RunbookError).code, e.name).toBe(code);
    }
    // real throws, not constructed by hand
    expect(() => vaultDecrypt('$ANSIBLE_VAULT;1.1;AES256\nzz\n', 'pw')).toThrow(VaultError);
    try {
      vaultDecrypt('$ANSIBLE_VAULT;1.1;AES256\nzz\n', 'pw');
    } catch (e) {
      expect((e as RunbookError).code).toBe('vault');
    }
    expect(() => expandHostRange('web[1:')).toThrow(HostNameError);
  });

  it('sourceSnippet: tabs kept before the caret, out-of-range lines and vault files give nothing', () => {
    const f = path.join(dir, 'tabs.txt');
    fs.writeFileSync(f, 'a\n\tkey: value\n');
    expect(sourceSnippet({ file: f, line: 2, col: 3 })).toBe('  2 | \tkey: value\n    | \t ^');
    expect(sourceSnippet({ file: f, line: 9, col: 1 })).toBeUndefined();
    expect(sourceSnippet({ file: path.join(dir, 'missing'), line: 1, col: 1 })).toBeUndefined();
    const v = path.join(dir, 'vaulted.yml');
    fs.writeFileSync(v, '$ANSIBLE_VAULT;1.1;AES256\n6162\n');
    expect(sourceSnippet({ file: v, line: 2, col: 1 })).toBeUndefined();
    // a column past the end of the line puts the caret just after it
    expect(sourceSnippet({ file: f, line: 1, col: 40 })).toBe('  1 | a\n    |  ^');
  });

  it('renderError: format() plus the snippet; the message itself is unchanged', () => {
    const f = path.join(dir, 'pb.yml');
    fs.writeFileSync(f, 'one\ntwo three\n');
    const e = new RunbookError('schema', 'bad thing', { pos: { file: f, line: 2, col: 5 } });
    expect(e.message).toBe('bad thing');
    expect(e.format()).toBe(`${f}:2:5: bad thing`);
    expect(renderError(e)).toBe(`${f}:2:5: bad thing\n  2 | two three\n    |     ^`);
    expect(renderError(new RunbookError('usage', 'no position'))).toBe('no position');
    expect(renderError(new ConfigErrors([e, e])).split('\n')).toHaveLength(6);
  });

  it('exitCodeFor: the one mapping of outcomes and errors to exit codes', () => {
    const ok = { failed: 0, unreachable: 0 };
    expect(exitCodeFor({ recap: [ok, ok] })).toBe(0);
    expect(exitCodeFor({ recap: [ok, { failed: 1, unreachable: 1 }] })).toBe(2);
    expect(exitCodeFor({ recap: [ok, { failed: 0, unreachable: 1 }] })).toBe(4);
    expect(exitCodeFor({ recap: [{ failed: 1, unreachable: 0 }], aborted: { exitCode: 130 } })).toBe(130);
    expect(exitCodeFor({ error: new RunbookError('usage', 'x') })).toBe(1);
    expect(exitCodeFor({ error: new ConfigErrors([]) })).toBe(1);
    expect(exitCodeFor({ error: new TypeError('bug') })).toBe(3);
  });
});
