/**
 * Bad input: every class gives one clear message naming file:line, exit 1, and no host is contacted. The
 * inventory points at an address where nothing listens: a run that tried to connect would report it unreachable
 * (exit 4), so exit 1 with no "unreachable" in the output shows no host was contacted.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli } from './helpers.js';

const BAD = path.resolve(import.meta.dirname, 'fixtures/bad');
let inv: string;

beforeAll(() => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-bad-'));
  inv = path.join(d, 'inv.yml');
  // 127.0.0.9:1: nothing listens there; connecting would fail fast and show up as unreachable
  fs.writeFileSync(inv, 'all:\n  hosts:\n    target:\n      ansible_host: 127.0.0.9\n      ansible_port: 1\n');
});

const cases: [string, RegExp, number][] = [
  ['malformed.yml', /malformed\.yml:\d+:\d+: .*(flow sequence|indented|\])/, 0],
  ['tabs.yml', /tabs\.yml:3:1: tabs are not allowed/, 3],
  ['unknown-module.yml', /unknown-module\.yml:4:7: unknown module "coppy" \(did you mean "copy"\?\)/, 4],
  ['unknown-arg.yml', /unknown-arg\.yml:7:\d+: unknown argument "colour" for module copy/, 7],
  ['wrong-type.yml', /wrong-type\.yml:6:\d+: argument "state" of file must be one of/, 6],
  ['missing-role.yml', /missing-role\.yml:3:7: role "does-not-exist" not found/, 3],
  ['missing-template.yml', /missing-template\.yml:3:7: tasks file not found: nowhere\.yml/, 3],
  ['role-arg.yml', /role-arg\.yml:3:7: role needsarg: required argument "port" is missing \(the port to use\)/, 3],
  ['unquoted.yml', /unquoted\.yml:4:\d+: found unquoted "\{\{"/, 4],
  ['undefined-var.yml', /undefined-var\.yml:4:7: undefined variable "not_defined_anywhere"/, 4],
];

describe('configuration errors', () => {
  for (const [file, re] of cases) {
    it(`${file}: names the file and line, exit 1, no host contacted`, () => {
      const r = cli(['apply', path.join(BAD, file), '-i', inv]);
      expect(r.stderr).toMatch(re);
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).not.toMatch(/unreachable|PLAY RECAP/);
      expect(r.stderr).not.toMatch(/\n\s+at .*\.js:\d+/); // no stack trace
    });
  }

  it('reports every error at once', () => {
    const r = cli(['apply', path.join(BAD, 'many.yml'), '-i', inv]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/many\.yml:4:7: unknown module "nosuchmodule"/);
    expect(r.stderr).toMatch(/many\.yml:7:\d+: unknown argument "nope" for module copy/);
    expect(r.stderr).toMatch(/3 configuration errors; no host was contacted/);
  });

  it('a missing playbook and a bad -e are usage errors', () => {
    const r = cli(['apply', path.join(BAD, 'nope.yml'), '-i', inv, '-e', 'not a kv']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/playbook not found/);
    expect(r.stderr).toMatch(/-e "not": expected key=value/);
  });

  it('--syntax-check validates without contacting a host', () => {
    const ok = cli(['apply', 'playbooks/web-arm.yml', '-i', 'inventory/web-arm', '--syntax-check']);
    expect(ok.stdout).toMatch(/syntax OK \(3 plays\)/);
    expect(ok.code).toBe(0);
    const bad = cli(['apply', path.join(BAD, 'unknown-arg.yml'), '-i', inv, '--syntax-check']);
    expect(bad.code).toBe(1);
  });
});

describe('cli basics', () => {
  it('--help and --version', () => {
    const h = cli(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/Usage: runbook/);
    expect(h.stdout).toMatch(/apply/);
    const v = cli(['--version']);
    const pkg = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../package.json'), 'utf8'));
    expect(v.stdout.trim()).toBe(pkg.version);
    const a = cli(['apply', '--help']);
    for (const f of ['--inventory', '--check', '--diff', '--limit', '--tags', '--skip-tags', '--extra-vars', '--forks', '--format']) expect(a.stdout).toContain(f);
  });
});
