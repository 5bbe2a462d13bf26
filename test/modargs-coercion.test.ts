/**
 * Ansible's argument type conversions (AnsibleModule's check_type_*), the "not supported by runbook yet" message
 * for real Ansible arguments runbook lacks (vs "unknown argument ... did you mean" for typos), and load-time
 * acceptance of arguments as real codebases write them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ansibleKnowsArgument, coerceArgs, coerceValue, validateArgs, type AnsibleType } from '../lib/playbook/validate.js';
import { ANSIBLE_ARGS } from '../lib/modules/ansible-args.js';
import { allActions, allModules } from '../lib/modules/registry.js';
import { aptSchema } from '../lib/modules/apt.js';
import service from '../lib/modules/service.js';
import file from '../lib/modules/file.js';
import pkg, { preparePackage } from '../lib/modules/package.js';
import { cli, ROOT } from './helpers.js';

const FIX = path.join(ROOT, 'test/fixtures/modargs');
const NO = Symbol('refused');

// input -> what Ansible 2.14's check_type_<type> returns (NO: it raises "cannot be converted")
const TABLE: Array<[AnsibleType, unknown, unknown]> = [
  ['bool', 'yes', true], ['bool', 'YES', true], ['bool', 'no', false], ['bool', 'true', true], ['bool', 'False', false],
  ['bool', 'on', true], ['bool', 'Off', false], ['bool', '1', true], ['bool', '0', false], ['bool', 'y', true],
  ['bool', 'N', false], ['bool', 't', true], ['bool', 'f', false], ['bool', ' yes ', true], ['bool', 1, true],
  ['bool', 0, false], ['bool', true, true], ['bool', 'maybe', NO], ['bool', 2, NO], ['bool', '', NO], ['bool', ['yes'], NO],
  ['int', '86400', 86400], ['int', ' 42 ', 42], ['int', '-7', -7], ['int', '+7', 7], ['int', '1_000', 1000], ['int', 5, 5],
  ['int', '1.5', NO], ['int', '0x10', NO], ['int', 'abc', NO], ['int', '', NO], ['int', true, 1], ['int', false, 0], ['int', 1.5, NO],
  ['float', '1.5', 1.5], ['float', '3', 3], ['float', '1e3', 1000], ['float', '.5', 0.5], ['float', '5.', 5], ['float', 2, 2],
  ['float', 'inf', Infinity], ['float', '-Infinity', -Infinity], ['float', 'x1', NO], ['float', true, 1],
  ['str', 'x', 'x'], ['str', 3, '3'], ['str', 1.5, '1.5'], ['str', true, 'True'], ['str', false, 'False'], ['str', ['a'], NO],
  ['path', '/etc/x', '/etc/x'], ['path', 7, '7'],
  ['list', 'a,b,c', ['a', 'b', 'c']], ['list', 'a, b', ['a', ' b']], ['list', 'one', ['one']], ['list', '', ['']],
  ['list', 5, ['5']], ['list', ['x', 1], ['x', 1]], ['list', { a: 1 }, NO], ['list', true, NO],
  ['dict', 'a=1,b=2', { a: '1', b: '2' }], ['dict', 'a=1 b="x y"', { a: '1', b: 'x y' }], ['dict', 'k=v=w', { k: 'v=w' }],
  ['dict', '{"a": [1]}', { a: [1] }], ['dict', '{bad', NO], ['dict', 'novalue', NO], ['dict', 'a=1,b', NO], ['dict', { x: 1 }, { x: 1 }],
  ['dict', 3, NO],
  ['raw', 'yes', 'yes'], ['raw', 3, 3],
];

describe('Ansible type coercion, case by case', () => {
  for (const [type, input, want] of TABLE) {
    it(`${type}: ${JSON.stringify(input)} -> ${want === NO ? 'refused' : JSON.stringify(want)}`, () => {
      const r = coerceValue(input, type);
      if (want === NO) expect(r.ok).toBe(false);
      else expect(r).toEqual({ ok: true, value: want });
    });
  }
});

describe('coerceArgs: by what the module schema accepts', () => {
  it('apt: update_cache=yes cache_valid_time=86400 reach the module as boolean and number', () => {
    expect(coerceArgs(aptSchema, { update_cache: 'yes', cache_valid_time: '86400', name: 'a,b' })).toEqual({ update_cache: true, cache_valid_time: 86400, name: 'a,b' });
    expect(validateArgs(aptSchema, { update_cache: 'yes', cache_valid_time: '86400' }, 'apt', true)).toEqual([]);
    expect(validateArgs(aptSchema, { update_cache: 'yes', cache_valid_time: '86400' }, 'apt')).toEqual([]);
  });
  it('service: enabled=yes validates; a non-boolean still fails with the value shown', () => {
    expect(validateArgs(service.schema, { name: 'x', enabled: 'yes' }, 'service', true)).toEqual([]);
    expect(coerceArgs(service.schema, { name: 'x', enabled: 'no' })).toEqual({ name: 'x', enabled: false });
    expect(validateArgs(service.schema, { name: 'x', enabled: 'maybe' }, 'service', true).map((e) => e.message)).toEqual(['argument "enabled" of service must be boolean, got "maybe"']);
  });
  it('file: owner/group numbers become strings (Ansible type str)', () => {
    expect(coerceArgs(file.schema, { path: '/x', owner: 1000, group: 0 })).toEqual({ path: '/x', owner: '1000', group: '0' });
  });
  it('a boolean where the module wants a word: Ansible maps True back to the one boolean-like choice', () => {
    const s = { type: 'object', properties: { x: { enum: ['yes', 'no', 'safe'] }, y: { enum: ['a', 'b'] } } };
    expect(coerceArgs(s, { x: true, y: true })).toEqual({ x: 'yes', y: 'True' });
    expect(coerceArgs(s, { x: false })).toEqual({ x: 'no' });
  });
  it('list items and nested objects are converted too; templates are left for later at load time; input untouched', () => {
    const s = { type: 'object', properties: { l: { type: 'array', items: { type: 'integer' } }, o: { type: 'object', additionalProperties: { type: 'boolean' } } } };
    const args = { l: '1,2', o: 'a=yes b=off', __internal: 'yes' };
    expect(coerceArgs(s, args)).toEqual({ l: [1, 2], o: { a: true, b: false }, __internal: 'yes' });
    expect(args.l).toBe('1,2');
    expect(coerceArgs(aptSchema, { update_cache: '{{ u }}' }, false)).toEqual({ update_cache: '{{ u }}' });
    expect(validateArgs(aptSchema, { update_cache: '{{ u }}' }, 'apt')).toEqual([]);
  });
  it('package prepare converts, whatever its caller did: update_cache=no means no update', () => {
    expect(preparePackage({ name: 'sl', update_cache: 'no', cache_valid_time: '0' })).toMatchObject({ updateCache: false, cacheValidTime: 0 });
    expect(preparePackage({ name: 'sl', update_cache: 'yes', purge: 'yes' })).toMatchObject({ updateCache: true, purge: true });
    expect(() => preparePackage({ name: 'sl', use: 'yum' })).toThrow(/use=yum is not supported.*drives apt/);
  });
});

describe('"not supported by runbook yet" vs "unknown argument"', () => {
  it('a real argument of Ansible\'s module is runbook\'s gap; a typo is the user\'s, with a hint', () => {
    const m = (args: Record<string, unknown>) => validateArgs(file.schema, { path: '/x', ...args }, 'file', true).map((e) => e.message);
    // SELinux contexts are decided per host at run time (ignored without SELinux, as Ansible does: ADR 0018)
    expect(m({ selevel: 's0' })).toEqual([]);
    expect(m({ unsafe_writes: true })).toEqual(['argument "unsafe_writes" of module file is not supported by runbook yet']);
    expect(m({ recurse: true, access_time: 'now' })).toEqual([]);
    expect(m({ ownr: 'x' })[0]).toMatch(/^unknown argument "ownr" for module file \(did you mean "owner"\?\)/);
    expect(m({ colour: 'x' })[0]).toMatch(/^unknown argument "colour" for module file \(supported: /);
    // aliases count as Ansible's arguments too (apt's pkg / package are implemented; cron's dow is an alias)
    expect(ansibleKnowsArgument('cron', 'dow')).toBe(true);
    expect(ansibleKnowsArgument('file', 'colour')).toBe(false);
  });
  it('the generated facts cover every runbook module and action that has an Ansible counterpart', () => {
    const ours = [...allModules(), ...allActions()].map((d) => d.name).filter((n) => !['adr_doc', 'meta', 'gather_facts'].includes(n));
    expect(ours.filter((n) => !ANSIBLE_ARGS[n])).toEqual([]);
    // and they are facts about Ansible: apt's update_cache is a bool with the alias update-cache
    expect(ANSIBLE_ARGS.apt!.options.update_cache).toEqual({ type: 'bool', aliases: ['update-cache'] });
  });
  it('package accepts apt\'s arguments, as Ansible hands them to apt on Debian', () => {
    expect(validateArgs(pkg.schema, { name: 'sl', state: 'present', update_cache: 'yes', use: 'auto' }, 'package', true)).toEqual([]);
    expect(validateArgs(pkg.schema, { name: 'sl', use: 'yum' }, 'package', true).map((e) => e.message)).toEqual(['argument "use" of package must be one of "auto", "apt", got "yum"']);
  });
});

describe('over the CLI (load time, no host contacted)', () => {
  let inv: string;
  beforeAll(() => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-modargs-'));
    inv = path.join(d, 'inv.yml');
    // nothing listens at 127.0.0.9:1: a run that tried to connect would report it unreachable
    fs.writeFileSync(inv, 'all:\n  hosts:\n    target:\n      ansible_host: 127.0.0.9\n      ansible_port: 1\n');
  });
  it('k=v strings, numbers for owners and package load cleanly (--syntax-check)', () => {
    const r = cli(['apply', path.join(FIX, 'load.yml'), '-i', inv, '--syntax-check']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
  it('each problem at its line: not supported yet, unknown with a hint, a bad boolean, another package manager', () => {
    const r = cli(['apply', path.join(FIX, 'unsupported-args.yml'), '-i', inv, '--syntax-check']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unsupported-args\.yml:9:\d+: argument "unsafe_writes" of module file is not supported by runbook yet/);
    expect(r.stderr).toMatch(/unsupported-args\.yml:13:\d+: unknown argument "updte_cache" for module apt \(did you mean "update_cache"\?\)/);
    expect(r.stderr).toMatch(/unsupported-args\.yml:15:\d+: argument "update_cache" of apt must be boolean, got "maybe"/);
    expect(r.stderr).toMatch(/unsupported-args\.yml:19:\d+: argument "use" of package must be one of "auto", "apt", got "yum"/);
    expect(r.stderr).not.toMatch(/unknown argument "unsafe_writes"/);
    expect(r.stdout + r.stderr).not.toMatch(/unreachable/i);
  });
});
