/**
 * The bad-input corpus (test/fixtures/broken/): every broken input gives ONE clear message naming the right
 * file:line, exit 1, no stack trace, and no host is contacted. The inventory points at 127.0.0.9 port 1, where
 * nothing listens: a run that tried to connect would say "unreachable" (exit 4). test/config-errors.test.ts covers
 * the first classes with test/fixtures/bad/; this corpus extends them (one fixture per way of being wrong).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli, ROOT } from './helpers.js';

const DIR = path.join(ROOT, 'test/fixtures/broken');
let tmp: string;
let inv: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-broken-'));
  inv = path.join(tmp, 'inv.yml');
  fs.writeFileSync(inv, 'all:\n  hosts:\n    target:\n      ansible_host: 127.0.0.9\n      ansible_port: 1\n');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Case {
  /** the playbook (relative to the corpus) */
  pb: string;
  /** the file the message must name (default: the playbook), relative to the corpus */
  file?: string;
  line: number;
  msg: RegExp;
  args?: string[];
  /** use this inventory instead of the unreachable one (relative to the corpus) */
  inventory?: string;
}

const cases: Case[] = [
  // YAML
  { pb: 'yaml-unclosed-flow.yml', line: 6, msg: /flow sequence .* end with a \]/ },
  { pb: 'yaml-tabs.yml', line: 5, msg: /tabs are not allowed for indentation/ },
  { pb: 'yaml-duplicate-task-key.yml', line: 6, msg: /duplicate key "name"/ },
  { pb: 'yaml-duplicate-play-key.yml', line: 3, msg: /duplicate key "hosts"/ },
  { pb: 'yaml-unquoted-jinja.yml', line: 5, msg: /found unquoted "\{\{": quote the whole value/ },
  { pb: 'yaml-bad-indent.yml', line: 7, msg: /sequence item without - indicator/ },
  { pb: 'yaml-unclosed-quote.yml', line: 6, msg: /missing closing "quote/ },
  { pb: 'yaml-two-documents.yml', line: 3, msg: /more than one YAML document/ },
  { pb: 'yaml-unknown-tag.yml', line: 5, msg: /unknown tag !nosuchtag/ },
  { pb: 'yaml-undefined-alias.yml', line: 5, msg: /alias \*nowhere refers to no anchor/ },
  { pb: 'binary-garbage.yml', line: 1, msg: /binary file \(contains a NUL byte\), not text/ },
  { pb: 'invalid-utf8.yml', line: 1, msg: /not valid UTF-8 text/ },
  // structure
  { pb: 'play-not-a-list.yml', line: 1, msg: /a playbook must be a list of plays/ },
  { pb: 'play-not-a-mapping.yml', line: 1, msg: /each play must be a mapping/ },
  { pb: 'play-no-hosts.yml', line: 1, msg: /a play needs "hosts"/ },
  { pb: 'play-unknown-keyword.yml', line: 4, msg: /unknown play keyword "taks" \(did you mean "tasks"\?\)/ },
  { pb: 'task-unknown-keyword.yml', line: 5, msg: /unknown task keyword "whenn" \(did you mean "when"\?\)/ },
  { pb: 'task-no-module.yml', line: 4, msg: /task has no module/ },
  { pb: 'task-two-modules.yml', line: 4, msg: /task has more than one module: copy, file/ },
  { pb: 'task-not-a-mapping.yml', line: 5, msg: /a task must be a mapping/ },
  { pb: 'tasks-not-a-list.yml', line: 4, msg: /expected a list of tasks/ },
  { pb: 'vars-not-a-mapping.yml', line: 4, msg: /"vars" must be a mapping/ },
  { pb: 'when-is-a-mapping.yml', line: 6, msg: /a "when" condition must be an expression/ },
  { pb: 'register-bad-name.yml', line: 5, msg: /register name "my-result" is not a valid variable name/ },
  { pb: 'role-entry-bad.yml', line: 4, msg: /a role entry is a name or a mapping with "role:"/ },
  { pb: 'import-self.yml', line: 1, msg: /import_playbook recursion/ },
  // modules and arguments
  { pb: 'module-unknown.yml', line: 5, msg: /unknown module "linefile" \(did you mean "lineinfile"\?\)/ },
  { pb: 'module-unknown-fqcn.yml', line: 4, msg: /unknown module "ansible\.builtin\.sysctll"/ },
  { pb: 'arg-unknown.yml', line: 8, msg: /unknown argument "colour" for module file/ },
  { pb: 'arg-missing-required.yml', line: 6, msg: /module copy needs argument "dest"/ },
  { pb: 'arg-missing-required-assert.yml', line: 7, msg: /module assert needs argument "that"/ },
  { pb: 'arg-bad-enum.yml', line: 7, msg: /argument "state" of file must be one of .*got "exploded"/ },
  { pb: 'arg-wrong-type.yml', line: 6, msg: /argument "dest" of copy must be string, got \["a","b"\]/ },
  { pb: 'args-not-a-mapping.yml', line: 5, msg: /arguments of file must be a mapping or k=v text/ },
  { pb: 'kv-unparsable.yml', line: 4, msg: /cannot parse arguments/ },
  // missing things
  { pb: 'missing-role.yml', line: 5, msg: /role "no_such_role" not found/ },
  { pb: 'missing-include-tasks.yml', line: 5, msg: /tasks file not found: tasks\/nowhere\.yml/ },
  { pb: 'missing-import-playbook.yml', line: 1, msg: /imported playbook not found: other-missing\.yml/ },
  { pb: 'missing-vars-file.yml', line: 4, msg: /vars file not found: vars\/none\.yml/ },
  { pb: 'missing-template.yml', line: 6, msg: /template source not found: app\.conf\.j2/ },
  { pb: 'missing-copy-src.yml', line: 6, msg: /copy source not found: files\/nothing-here\.txt/ },
  { pb: 'missing-role-template.yml', file: 'roles/tmplrole/tasks/main.yml', line: 5, msg: /template source not found: missing\.conf\.j2/ },
  { pb: 'error-in-role-file.yml', file: 'roles/badtasks/tasks/main.yml', line: 5, msg: /unknown argument "contnet" for module copy/ },
  { pb: 'undefined-variable.yml', line: 5, msg: /undefined variable "nobody_defined_this"/ },
  // host patterns and inventories
  { pb: 'host-pattern-bad-regex.yml', line: 1, msg: /bad host pattern "~web\[\(": unclosed "\("/ },
  { pb: 'host-pattern-bad-range.yml', line: 4, msg: /bad host pattern "web\[1:": unclosed "\["/ },
  { pb: 'bad-extra-vars.yml', inventory: 'inventory-duplicate-host.yml', file: 'inventory-duplicate-host.yml', line: 6, msg: /duplicate key "target"/ },
  { pb: 'bad-extra-vars.yml', inventory: 'inventory-bad-range.yml', file: 'inventory-bad-range.yml', line: 3, msg: /bad host range \[01:zz\]/ },
  // -e
  { pb: 'bad-extra-vars.yml', args: ['-e', '@vars/broken-extra.yml'], file: 'vars/broken-extra.yml', line: 2, msg: /flow sequence .* end with a \]/ },
  { pb: 'bad-extra-vars.yml', args: ['-e', '@binary-garbage.yml'], file: 'binary-garbage.yml', line: 1, msg: /binary file/ },
  // role argument_specs
  { pb: 'role-args-missing.yml', line: 4, msg: /role specd: required argument "port" is missing \(the port\)/ },
  { pb: 'role-args-type.yml', line: 4, msg: /role specd: argument "port" must be of type int, got "eighty"/ },
  { pb: 'role-args-choice.yml', line: 4, msg: /role specd: argument "mode" must be one of "up", "down", got "sideways"/ },
  // podman_network subnets, checked by the module's pure validate hook before any host is contacted
  { pb: 'podman-net-host-bits.yml', line: 4, msg: /podman_network appnet: subnet 10\.89\.1\.5\/24 has host bits set; did you mean 10\.89\.1\.0\/24\?/ },
  { pb: 'podman-net-non-ula.yml', line: 4, msg: /subnet 2001:db8:1::\/64 is not a unique local \(fd00::\/8\) IPv6 subnet/ },
  { pb: 'podman-net-overlap-default.yml', line: 4, msg: /subnet 10\.88\.5\.0\/24 overlaps podman's default network 10\.88\.0\.0\/16/ },
  { pb: 'podman-net-from-vars.yml', line: 7, msg: /podman_network egress: subnet fdaa:bb::1\/64 has host bits set/ },
  { pb: 'podman-net-role-default.yml', file: 'roles/netrole/tasks/main.yml', line: 2, msg: /subnet 10\.88\.7\.0\/24 overlaps podman's default network/ },
  // loops over something that is not a list
  { pb: 'loop-literal-string.yml', line: 4, msg: /loop needs a list, got a string "nginx, php"/ },
  { pb: 'loop-literal-mapping.yml', line: 4, msg: /loop needs a list, got a mapping/ },
  { pb: 'loop-var-not-list.yml', line: 7, msg: /loop needs a list, got a string "nginx" \(\{\{ packages \}\}/ },
  { pb: 'with-dict-not-dict.yml', line: 6, msg: /with_dict needs a dictionary, got a list/ },
  // recursion in variables
  { pb: 'vars-recursion.yml', line: 9, msg: /recursion in variables: a -> b -> c -> a/ },
  { pb: 'vars-self-reference.yml', line: 6, msg: /recursion in variables: path_list -> path_list/ },
];

function expectOneError(r: { code: number; stdout: string; stderr: string }, file: string, line: number, msg: RegExp): void {
  const out = r.stdout + r.stderr;
  expect(r.code, out).toBe(1);
  const errs = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
  expect(errs, out).toHaveLength(1);
  const m = /^error: (.+?):(\d+):(\d+): (.*)$/.exec(errs[0]!);
  expect(m, errs[0]).not.toBeNull();
  expect(path.resolve(DIR, m![1]!)).toBe(path.resolve(DIR, file)); // relative names are relative to the cwd (the corpus)
  expect(Number(m![2])).toBe(line);
  expect(m![4]).toMatch(msg);
  expect(r.stderr).toMatch(/1 configuration error; no host was contacted/);
  expect(out).not.toMatch(/unreachable|PLAY RECAP|TASK \[/);
  expect(out).not.toMatch(/\n\s+at .*:\d+:\d+|internal error/); // no stack trace
}

describe('bad-input corpus: one message at the right file:line, exit 1, no host contacted', () => {
  it('the corpus has at least 40 cases and every fixture is used', () => {
    expect(cases.length + 1).toBeGreaterThanOrEqual(40); // +1: the 10 MB file below
    const used = new Set(cases.flatMap((c) => [c.pb, c.inventory, c.file].filter(Boolean) as string[]));
    for (const f of fs.readdirSync(DIR).filter((f) => f.endsWith('.yml'))) expect(used, f).toContain(f);
  });

  for (const c of cases) {
    const label = `${c.pb}${c.args ? ' ' + c.args.join(' ') : ''}${c.inventory ? ` -i ${c.inventory}` : ''}`;
    it(label, () => {
      const r = cli(['apply', path.join(DIR, c.pb), '-i', c.inventory ? path.join(DIR, c.inventory) : inv, ...(c.args ?? [])], { cwd: DIR, timeoutMs: 60_000 });
      expectOneError(r, c.file ?? c.pb, c.line, c.msg);
    });
  }

  it('a 10 MB YAML file is refused without being parsed', () => {
    const big = path.join(tmp, 'huge.yml');
    const line = '- hosts: all\n  tasks: [' + '{debug: {msg: "' + 'x'.repeat(200) + '"}}, '.repeat(1) + ']\n';
    const fd = fs.openSync(big, 'w');
    for (let n = 0; n < 10.5 * 1024 * 1024; n += line.length) fs.writeSync(fd, line);
    fs.closeSync(fd);
    const t0 = Date.now();
    const r = cli(['apply', big, '-i', inv]);
    expectOneError(r, big, 1, /file too large to be YAML configuration \(10\.\d MB; limit 10 MB\)/);
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it('bad -e values and a bad --limit are usage errors, no host contacted', () => {
    const pb = path.join(DIR, 'bad-extra-vars.yml');
    for (const [args, re] of [
      [['-e', '@vars/none.yml'], /-e @vars\/none\.yml: file not found/],
      [['-e', '{"a": 1'], /<-e>:1:\d+: flow map must end with a \}/],
      [['-e', 'a: [1'], /-e "a:": expected key=value/],
      [['-l', 'web['], /bad host pattern "web\[": unclosed "\["/],
    ] as [string[], RegExp][]) {
      const r = cli(['apply', pb, '-i', inv, ...args], { cwd: DIR });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(re);
      expect(r.stdout + r.stderr).not.toMatch(/unreachable|PLAY RECAP|\n\s+at .*:\d+:\d+/);
    }
  });

  it('--syntax-check finds the same static errors (podman subnet, loop, recursion)', () => {
    for (const f of ['podman-net-from-vars.yml', 'loop-var-not-list.yml', 'vars-recursion.yml']) {
      const r = cli(['apply', path.join(DIR, f), '-i', inv, '--syntax-check'], { cwd: DIR });
      expect(r.code, f).toBe(1);
    }
  });
});
