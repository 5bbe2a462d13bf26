/**
 * `runbook run` as Ansible users expect: -a parsed by Ansible's parse_kv rules (checked against Ansible's own results,
 * recorded once by scripts/record-parse-kv.py into test/fixtures/golden/parse-kv.json), and each host's result in
 * `ansible`'s one-line form, on the local connection and an unreachable loopback port.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseKv, splitArgs, KvParseError } from '../lib/cli/parse-kv.js';
import { parseModuleArgs } from '../lib/cli/adhoc.js';
import { cli, ROOT } from './helpers.js';

interface Case {
  args: string;
  check_raw: boolean;
  result?: Record<string, string>;
  error?: string;
}
const GOLDEN: { ansible: string; cases: Case[] } = JSON.parse(fs.readFileSync(path.join(ROOT, 'test/fixtures/golden/parse-kv.json'), 'utf8'));

describe('-a is parsed as Ansible\'s parse_kv parses it', () => {
  it('the table has the cases that matter', () => {
    expect(GOLDEN.cases.length).toBeGreaterThan(40);
    expect(GOLDEN.cases.some((c) => c.error)).toBe(true);
    expect(GOLDEN.cases.find((c) => c.args === 'msg="line1\\nline2"')?.result).toEqual({ msg: 'line1\nline2' });
  });

  for (const c of GOLDEN.cases) {
    it(`${JSON.stringify(c.args)}${c.check_raw ? ' (free-form)' : ''}`, () => {
      if (c.error) {
        expect(() => parseKv(c.args, c.check_raw)).toThrow(KvParseError);
        try {
          parseKv(c.args, c.check_raw);
        } catch (e) {
          expect((e as Error).message).toBe(c.error.replace(/\. list index out of range$/, ''));
        }
      } else {
        const got = parseKv(c.args, c.check_raw);
        expect(got).toEqual(c.result);
        // Python dicts keep insertion order; so does this
        expect(Object.keys(got)).toEqual(Object.keys(c.result!));
      }
    });
  }

  it('split_args keeps a {{ }} expression with spaces as one word', () => {
    expect(splitArgs("a={{ x | default('p q') }} b=2")).toEqual(["a={{ x | default('p q') }}", 'b=2']);
  });

  it('module arguments: free-form for command/shell, a JSON mapping, errors as usage errors', () => {
    expect(parseModuleArgs('echo "a b" chdir=/tmp', '_raw_params')).toEqual({ chdir: '/tmp', _raw_params: 'echo "a b"' });
    expect(parseModuleArgs('content="x\\ny" dest=/tmp/f', undefined)).toEqual({ content: 'x\ny', dest: '/tmp/f' });
    expect(parseModuleArgs('{"msg": "hi", "n": 1}', undefined)).toEqual({ msg: 'hi', n: 1 });
    expect(() => parseModuleArgs('msg="open', undefined)).toThrow(/unbalanced jinja2 block or quotes/);
    expect(() => parseModuleArgs('msg=hi stray', undefined)).toThrow(/expected key=value arguments or a JSON mapping, got "stray"/);
  });
});

describe('ad hoc output is ansible\'s one-line form', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rb-habits-adhoc-'));
  const inv = path.join(dir, 'inventory.yml');
  // a loopback port nothing listens on: refused at once, never leaves the machine
  fs.writeFileSync(inv, 'all:\n  hosts:\n    closed:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n      ansible_user: root\n');
  const run = (...args: string[]) => cli(['run', ...args, '-i', inv], { cwd: dir, timeoutMs: 60_000 });

  it('command: "host | CHANGED | rc=0 >>" and the output', () => {
    const r = run('localhost', '-m', 'command', '-a', 'printf "%s\\n" one two');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('localhost | CHANGED | rc=0 >>\none\ntwo\n');
    const argv = cli(['run', 'localhost', '-i', inv, '--', 'echo', 'a  b'], { cwd: dir });
    expect(argv.stdout).toBe('localhost | CHANGED | rc=0 >>\na  b\n');
  });

  it('a failing shell command: "host | FAILED | rc=N >>", stdout, stderr and msg as ansible joins them, exit 2', () => {
    const r = run('localhost', '-m', 'shell', '-a', 'echo out; echo err >&2; exit 3');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('localhost | FAILED | rc=3 >>\nouterrnon-zero return code\n');
  });

  it('other modules: "host | SUCCESS => {...}" / CHANGED / FAILED!, result indented and sorted', () => {
    const p = run('localhost', '-m', 'ping');
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toBe('localhost | SUCCESS => {\n    "changed": false,\n    "ping": "pong"\n}\n');
    const d = run('localhost', '-m', 'debug', '-a', 'msg="tab\\there {{ inventory_hostname }}"');
    expect(d.stdout).toBe('localhost | SUCCESS => {\n    "msg": "tab\\there localhost"\n}\n');
    const dest = path.join(dir, 'f.txt');
    const c = run('localhost', '-m', 'copy', '-a', `content="two\\nlines" dest=${dest}`);
    expect(c.code, c.stderr).toBe(0);
    expect(fs.readFileSync(dest, 'utf8')).toBe('two\nlines');
    expect(c.stdout).toMatch(/^localhost \| CHANGED => \{\n {4}"changed": true,\n/);
    expect(c.stdout).toContain(`    "dest": ${JSON.stringify(dest)},\n`);
    const again = run('localhost', '-m', 'copy', '-a', `content="two\\nlines" dest=${dest}`);
    expect(again.stdout).toMatch(/^localhost \| SUCCESS => \{\n {4}"changed": false,/);
    const f = run('localhost', '-m', 'fail', '-a', 'msg=nope');
    expect(f.code).toBe(2);
    expect(f.stdout).toBe('localhost | FAILED! => {\n    "changed": false,\n    "msg": "nope"\n}\n');
  });

  it('an unreachable host: "host | UNREACHABLE! => {...}", exit 4', () => {
    const r = run('closed', '-m', 'ping', '--no-host-key-checking');
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stdout).toMatch(/^closed \| UNREACHABLE! => \{\n {4}"changed": false,\n {4}"msg": ".+",\n {4}"unreachable": true\n\}\n$/);
  });

  it('--format json keeps the run events', () => {
    const r = run('localhost', '-m', 'ping', '--format', 'json');
    expect(r.stdout.split('\n').filter(Boolean).every((l) => l.startsWith('{'))).toBe(true);
  });
});
