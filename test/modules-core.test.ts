/**
 * Core modules: command, shell, copy, template, file, lineinfile, systemd, stat.
 *
 * 1. Pure helpers (modes, globs, Python regex templates, Ansible's lineinfile algorithm).
 * 2. Data-driven plan tables: params + raw probe output -> expected steps / reason / diff / failure.
 * 3. The law, against the REAL local machine in a fresh temp dir: probe with /bin/sh, plan, apply the steps with
 *    the real interpreter (lib/executor/apply.ts) on the local connection, probe + plan again -> zero steps. A no-op always carries a reason, and a probe never
 *    changes anything (the temp dir is hashed before and after it).
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planFrom } from '../lib/modules/types.js';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { quote } from 'shlex';
import Ajv2020Import from 'ajv/dist/2020.js';

import type { ExecResult } from '../lib/connection/types.js';
import type { ModuleContext, ModuleDef, Plan, Step } from '../lib/modules/types.js';
import { RunbookError } from '../lib/errors.js';
import { LocalConnection } from '../lib/connection/local.js';
import { applySteps } from '../lib/executor/apply.js';
import { normaliseMode, parseFrame, isFrameError, formatFrame } from '../lib/modules/common.js';
import command, { globWord } from '../lib/modules/command.js';
import shell from '../lib/modules/shell.js';
import copy from '../lib/modules/copy.js';
import template from '../lib/modules/template.js';
import file from '../lib/modules/file.js';
import lineinfile, { expandTemplate, presentLines, absentLines, readLines, pyRegex, type LineInFileParams } from '../lib/modules/lineinfile.js';
import systemd from '../lib/modules/systemd.js';
import stat from '../lib/modules/stat.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'modules');
const ALL = { command, shell, copy, template, file, lineinfile, systemd, stat } as Record<string, ModuleDef<any>>;
const IS_ROOT = process.getuid?.() === 0;

// ------------------------------------------------------------------------------------------------------------------
// harness

function sh(script: string, input?: Buffer | string): ExecResult {
  const r = spawnSync('/bin/sh', ['-c', script], { input: input ?? '', maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status ?? 128, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

const VARS: Record<string, unknown> = { name: 'web1', port: 8080 };
const ctx: ModuleContext = {
  host: 'local',
  vars: VARS,
  findFile(kind, name) {
    const p = path.isAbsolute(name) ? name : path.join(FIXTURES, kind, name);
    return fs.existsSync(p) ? p : undefined;
  },
  // a stand-in renderer ({{ var }} only): the real one lives in lib/vars/
  renderTemplateFile(p) {
    return fs.readFileSync(p, 'utf8').replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, k: string) => String(VARS[k]));
  },
};

async function prep(mod: ModuleDef<any>, params: Record<string, unknown>): Promise<any> {
  return mod.prepare ? await mod.prepare(params, ctx) : params;
}

/** The steps run through the REAL interpreter (lib/executor/apply.ts) on the local connection. */
const local = new LocalConnection('local');
function apply(steps: Step[]): Promise<ExecResult[]> {
  return applySteps(local, steps, {});
}

/** Everything a probe could change in a tree (not atime: reading is allowed). */
function hashTree(root: string): string {
  const h = createHash('sha1');
  const walk = (p: string): void => {
    const st = fs.lstatSync(p, { bigint: true });
    h.update(`${p}\0${st.mode}\0${st.uid}\0${st.gid}\0${st.size}\0${st.mtimeNs}\0${st.ctimeNs}\0${st.nlink}\0`);
    if (st.isSymbolicLink()) h.update(fs.readlinkSync(p));
    else if (st.isFile()) h.update(fs.readFileSync(p));
    else if (st.isDirectory()) for (const e of fs.readdirSync(p).sort()) walk(path.join(p, e));
  };
  walk(root);
  return h.digest('hex');
}

let tmp = '';
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rb-modules-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function probeAndPlan(mod: ModuleDef<any>, p: unknown): Promise<{ plan: Plan; probe: ExecResult | null }> {
  const script = mod.probe(p)?.script ?? null;
  const before = hashTree(tmp);
  const probe = script === null ? null : sh(script);
  expect(hashTree(tmp), 'a probe must not change anything').toBe(before);
  const plan = planFrom(mod, p, probe);
  return { plan, probe };
}

/**
 * The law: probe, plan, apply, probe, plan -> no steps. Returns both plans. `idempotent: false` is for what
 * Ansible itself always reports as changed (touch, restarted).
 */
async function law(mod: ModuleDef<any>, params: Record<string, unknown>, opts: { idempotent?: boolean } = {}) {
  const p = await prep(mod, params);
  const { plan: plan1 } = await probeAndPlan(mod, p);
  expect(plan1.fail?.message, `unexpected failure: ${plan1.fail?.message}`).toBeUndefined();
  expect(plan1.reason).toBeTruthy();
  // plans are pure: planning the same probe output twice gives the same plan
  const outputs = await apply(plan1.steps);
  const finish = mod.finish ? mod.finish(p, outputs, plan1) : undefined;
  const { plan: plan2 } = await probeAndPlan(mod, p);
  expect(plan2.fail?.message).toBeUndefined();
  expect(plan2.reason, 'a no-op must say why').toBeTruthy();
  if (opts.idempotent !== false) expect(plan2.steps, `second plan: ${plan2.reason}`).toEqual([]);
  return { plan1, plan2, finish, p };
}

// ------------------------------------------------------------------------------------------------------------------
// probe output fixtures: readable key/values -> the framed raw output a probe prints

type Val = string | Buffer;
function frame(kv: Record<string, Val>, opts: { end?: boolean; code?: number } = {}): ExecResult {
  return { code: opts.code ?? 0, stdout: formatFrame(kv, opts.end !== false), stderr: '' };
}

const TYPE_BITS: Record<string, number> = { file: 0o100000, directory: 0o040000, link: 0o120000, fifo: 0o010000 };
/** stat keys for prefix: a file of `type` with mode, owner ... */
function st(prefix: string, s: { type: string; mode?: string; owner?: string; uid?: number; group?: string; gid?: number; size?: number; target?: string } | 'absent'): Record<string, string> {
  if (s === 'absent') return { [`${prefix}_raw`]: 'absent' };
  const bits = (TYPE_BITS[s.type] ?? 0) | parseInt(s.mode ?? (s.type === 'link' ? '0777' : '0644'), 8);
  const out: Record<string, string> = {
    [`${prefix}_raw`]: `${bits.toString(16)} ${s.uid ?? 0} ${s.gid ?? 0} ${s.size ?? 0} 1700000000 1700000000 1700000000 42 2049 1`,
    [`${prefix}_owner`]: s.owner ?? 'root',
    [`${prefix}_group`]: s.group ?? 'root',
  };
  if (s.target !== undefined) out[`${prefix}_target`] = s.target;
  return out;
}
const sha1 = (s: string | Buffer): string => createHash('sha1').update(s).digest('hex');

interface Case {
  name: string;
  params: Record<string, unknown>;
  probe: ExecResult | null;
  steps?: Array<Record<string, unknown>>;
  reason?: string | RegExp;
  fail?: string | RegExp;
  diffs?: Array<{ label: string; before: string; after: string }>;
  result?: Record<string, unknown>;
}

function runTable(mod: ModuleDef<any>, cases: Case[]): void {
  for (const c of cases) {
    it(c.name, async () => {
      const p = await prep(mod, c.params);
      const plan = planFrom(mod, p, c.probe);
      // pure: same input, same plan
      expect(planFrom(mod, p, c.probe)).toEqual(plan);
      if (c.fail !== undefined) {
        expect(plan.fail?.message).toMatch(c.fail);
        expect(plan.steps).toEqual([]);
      } else {
        expect(plan.fail?.message).toBeUndefined();
      }
      if (c.steps !== undefined) {
        expect(plan.steps.length).toBe(c.steps.length);
        c.steps.forEach((s, i) => expect(plan.steps[i]).toMatchObject(s));
      }
      if (c.reason !== undefined) expect(plan.reason).toMatch(c.reason);
      expect(plan.reason, 'every plan says why').toBeTruthy();
      if (c.diffs !== undefined) expect(plan.diffs).toEqual(c.diffs);
      if (c.result !== undefined) expect(plan.result).toMatchObject(c.result);
    });
  }
}

// ==================================================================================================================
// 1. helpers

describe('helpers', () => {
  it.each([
    [420, '0644'],
    [0o755, '0755'],
    [0o1777, '1777'],
    [0, '0000'],
    ['0644', '0644'],
    ['644', '0644'],
    ['0600', '0600'],
    ['01777', '1777'],
    ['2755', '2755'],
    ['0o640', '0640'],
  ])('normaliseMode(%j) = %s', (input, out) => {
    expect(normaliseMode(input)).toBe(out);
  });

  it('keeps symbolic modes (resolved by the plan) and refuses junk modes clearly', () => {
    expect(normaliseMode('u=rw,g=r,o=r')).toBe('u=rw,g=r,o=r');
    expect(normaliseMode('u+x')).toBe('u+x');
    expect(() => normaliseMode('u+q')).toThrow(/not a valid file mode/);
    expect(() => normaliseMode('0999')).toThrow(/not a valid file mode/);
    expect(() => normaliseMode(0o17777)).toThrow(/not a valid file mode/);
    expect(() => normaliseMode(4.5)).toThrow(RunbookError);
  });

  it('frames are unambiguous and a truncated probe is a failure', () => {
    const f = parseFrame(frame({ path: 'a b\nc=d', x: Buffer.from([0, 255, 10]) }));
    expect(isFrameError(f)).toBe(false);
    if (!isFrameError(f)) {
      expect(f.str('path')).toBe('a b\nc=d');
      expect(f.buf('x')).toEqual(Buffer.from([0, 255, 10]));
    }
    expect(isFrameError(parseFrame(frame({ path: 'x' }, { end: false })))).toBe(true);
    expect(isFrameError(parseFrame(frame({ path: 'x' }, { code: 2 })))).toBe(true);
  });

  it.each([
    ['/tmp/x', "/tmp/x"],
    ['/tmp/a b/*.log', "'/tmp/a b/'*.log"],
    ["/tmp/it's?", `'/tmp/it'"'"'s'?`],
    ['/tmp/[abc]x', '/tmp/[abc]x'],
    ['/tmp/[;rm]x', "'/tmp/[;rm]x'"],
    ['$(reboot)', "'$(reboot)'"],
  ])('globWord(%j) = %s', (input, out) => {
    expect(globWord(input)).toBe(out);
  });

  it('expands Python match templates', () => {
    const m = pyRegex('^(?P<key>\\w+)=(\\d+)$', 'regexp').exec('port=80')!;
    expect(expandTemplate('\\1 is \\2', m)).toBe('port is 80');
    expect(expandTemplate('\\g<key>=\\g<2>0\\n', m)).toBe('port=800\n');
    expect(expandTemplate('a\\.b\\\\', m)).toBe('a\\.b\\');
    expect(() => expandTemplate('\\3', m)).toThrow(/invalid group reference/);
    expect(() => expandTemplate('\\q', m)).toThrow(/bad escape/);
  });

  it('every module answers to its names and has a strict draft-2020 schema', () => {
    const Ajv = ((Ajv2020Import as any).default ?? Ajv2020Import) as any;
    const ajv = new Ajv({ strict: false, allErrors: true });
    const names: Record<string, string[]> = {
      command: ['command', 'ansible.builtin.command', 'ansible.legacy.command'],
      shell: ['shell', 'ansible.builtin.shell', 'ansible.legacy.shell'],
      copy: ['copy', 'ansible.builtin.copy', 'ansible.legacy.copy'],
      template: ['template', 'ansible.builtin.template', 'ansible.legacy.template'],
      file: ['file', 'ansible.builtin.file', 'ansible.legacy.file'],
      lineinfile: ['lineinfile', 'ansible.builtin.lineinfile', 'ansible.legacy.lineinfile'],
      systemd: ['systemd', 'ansible.builtin.systemd', 'ansible.legacy.systemd', 'systemd_service', 'ansible.builtin.systemd_service'],
      stat: ['stat', 'ansible.builtin.stat', 'ansible.legacy.stat'],
    };
    for (const [key, mod] of Object.entries(ALL)) {
      const all = [mod.name, ...mod.aliases];
      for (const n of names[key]!) expect(all).toContain(n);
      expect(mod.schema.additionalProperties).toBe(false);
      const validate = ajv.compile(mod.schema);
      expect(validate({ no_such_argument: 1 }), `${key} must reject unknown arguments`).toBe(false);
    }
    const v = (m: ModuleDef<any>, x: unknown) => ajv.compile(m.schema)(x) as boolean;
    expect(v(copy, { dest: '/x', content: 'a', mode: 420 })).toBe(true);
    expect(v(copy, { dest: '/x', content: 'a', mode: '0644' })).toBe(true);
    expect(v(copy, { dest: '/x', content: 'a', mode: true })).toBe(false);
    expect(v(copy, { dest: '/x', content: 'a', backup: true })).toBe(true);
    expect(v(copy, { dest: '/x', content: 'a', unsafe_writes: true })).toBe(false);
    expect(v(file, { path: '/x', state: 'hard' })).toBe(false);
    expect(v(file, { path: '/x', recurse: true })).toBe(true);
    expect(v(file, { path: '/x', selevel: 's0' })).toBe(false);
    expect(v(systemd, { name: 'x', enabled: 'yes' })).toBe(false);
    expect(v(command, { argv: ['ls', '-l'], chdir: '/' })).toBe(true);
    expect(v(shell, { argv: ['ls'] })).toBe(false);
    expect(v(lineinfile, { path: '/x', line: 'a', backup: true })).toBe(true);
    expect(v(lineinfile, { path: '/x', line: 'a', unsafe_writes: true })).toBe(false);
  });
});

// ==================================================================================================================
// 2. lineinfile's algorithm (Ansible's behaviour, case by case)

describe('lineinfile algorithm (as ansible.builtin.lineinfile)', () => {
  const base: LineInFileParams = { path: '/f', state: 'present', backrefs: false, create: false, firstmatch: false, attrs: {} };
  const run = (text: string, extra: Partial<LineInFileParams>) => {
    const p = { ...base, ...extra };
    const r = p.state === 'present' ? presentLines(readLines(text), p) : absentLines(readLines(text), p);
    return { text: r.lines.join(''), changed: r.changed, msg: r.msg };
  };
  it.each<[string, string, Partial<LineInFileParams>, string, string]>([
    ['appends at EOF by default', 'a\nb\n', { line: 'c' }, 'a\nb\nc\n', 'line added'],
    ['adds the missing final newline first', 'a\nb', { line: 'c' }, 'a\nb\nc\n', 'line added'],
    ['exact line present: no change', 'a\nc\nb\n', { line: 'c' }, 'a\nc\nb\n', ''],
    ['replaces the LAST regexp match', 'x=1\ny\nx=2\n', { line: 'x=3', regexp: '^x=' }, 'x=1\ny\nx=3\n', 'line replaced'],
    ['firstmatch replaces the first', 'x=1\ny\nx=2\n', { line: 'x=3', regexp: '^x=', firstmatch: true }, 'x=3\ny\nx=2\n', 'line replaced'],
    ['regexp no match: inserted at EOF', 'a\n', { line: 'x=3', regexp: '^x=' }, 'a\nx=3\n', 'line added'],
    ['insertafter the last match', 'a\n#s\nb\n#s\nc\n', { line: 'N', insertafter: '^#s' }, 'a\n#s\nb\n#s\nN\nc\n', 'line added'],
    ['insertafter with firstmatch', 'a\n#s\nb\n#s\nc\n', { line: 'N', insertafter: '^#s', firstmatch: true }, 'a\n#s\nN\nb\n#s\nc\n', 'line added'],
    ['insertafter no match: EOF', 'a\n', { line: 'N', insertafter: '^zz' }, 'a\nN\n', 'line added'],
    ['insertafter at last line', 'a\n#s\n', { line: 'N', insertafter: '^#s' }, 'a\n#s\nN\n', 'line added'],
    ['insertafter: already after', 'a\n#s\nN\n', { line: 'N', insertafter: '^#s' }, 'a\n#s\nN\n', ''],
    ['insertbefore the last match', 'a\n#s\nb\n', { line: 'N', insertbefore: '^#s' }, 'a\nN\n#s\nb\n', 'line added'],
    ['insertbefore BOF', 'a\n', { line: 'N', insertbefore: 'BOF' }, 'N\na\n', 'line added'],
    ['insertafter BOF', 'a\n', { line: 'N', insertafter: 'BOF' }, 'N\na\n', 'line added'],
    ['backrefs expand the match', 'Port 22\n', { line: 'Port \\g<1>0', regexp: '^Port (\\d+)$', backrefs: true }, 'Port 220\n', 'line replaced'],
    ['backrefs without match: nothing', 'a\n', { line: 'x', regexp: '^zz', backrefs: true }, 'a\n', ''],
    ['regexp $ matches before the newline (Python)', 'a = 1\n', { line: 'a = 2', regexp: '^a = \\d$' }, 'a = 2\n', 'line replaced'],
    ['empty file', '', { line: 'a' }, 'a\n', 'line added'],
    // Ansible finds the line (rstrip) but then compares with 'a' + os.linesep, so it rewrites the CRLF ending
    ['CRLF line found, rewritten with \\n (as Ansible)', 'a\r\nb\r\n', { line: 'a' }, 'a\nb\r\n', 'line replaced'],
  ])('%s', (_n, input, extra, out, msg) => {
    const r = run(input, extra);
    expect(r.text).toBe(out);
    expect(r.msg).toBe(msg);
    expect(r.changed).toBe(msg !== '');
  });

  it.each<[string, string, Partial<LineInFileParams>, string, string]>([
    ['removes every exact line', 'a\nb\na\n', { state: 'absent', line: 'a' }, 'b\n', '2 line(s) removed'],
    ['removes every regexp match', 'x=1\ny\nx=2\n', { state: 'absent', regexp: '^x' }, 'y\n', '2 line(s) removed'],
    ['search_string', 'foo bar\nbaz\n', { state: 'absent', search_string: 'o b' }, 'baz\n', '1 line(s) removed'],
    ['nothing matches', 'a\n', { state: 'absent', line: 'z' }, 'a\n', ''],
  ])('absent: %s', (_n, input, extra, out, msg) => {
    const r = run(input, extra);
    expect(r.text).toBe(out);
    expect(r.msg).toBe(msg);
  });
});

// ==================================================================================================================
// 3. data-driven plan tables: params + raw probe output -> plan

describe('plan tables', () => {
  describe('command', () => {
    runTable(command, [
      { name: 'no creates/removes: runs', params: { _raw_params: 'echo "a b" c' }, probe: null, steps: [{ kind: 'run', script: "exec echo 'a b' c", capture: true, allowFailure: true }], reason: 'command would run', result: { cmd: ['echo', 'a b', 'c'] } },
      { name: 'creates exists: no-op', params: { cmd: 'touch /x', creates: '/x' }, probe: frame({ creates: '1' }), steps: [], reason: 'creates: /x exists' },
      { name: 'creates missing: runs', params: { cmd: 'touch /x', creates: '/x' }, probe: frame({ creates: '0' }), steps: [{ kind: 'run' }] },
      { name: 'removes missing: no-op', params: { cmd: 'rm /x', removes: '/x' }, probe: frame({ removes: '0' }), steps: [], reason: 'removes: /x does not exist' },
      { name: 'chdir prefix', params: { argv: ['ls', '-l', 'a b'], chdir: '/tmp/my dir' }, probe: null, steps: [{ script: "cd -- '/tmp/my dir' || exit 1\nexec ls -l 'a b'" }] },
      { name: 'stdin with newline', params: { cmd: 'cat', stdin: 'hi' }, probe: null, steps: [{ input: 'hi\n' }] },
      { name: 'stdin without newline', params: { cmd: 'cat', stdin: 'hi', stdin_add_newline: false }, probe: null, steps: [{ input: 'hi' }] },
      { name: 'chdir missing: fails like Ansible', params: { cmd: 'ls', chdir: '/nope', creates: 'x' }, probe: frame({ chdir_missing: '1' }), fail: /Unable to change directory/ },
      { name: 'broken probe: fails', params: { cmd: 'ls', creates: 'x' }, probe: { code: 127, stdout: '', stderr: 'base64: not found' }, fail: /probe failed .*base64: not found/ },
    ]);
    it('rejects bad combinations at prepare time', async () => {
      await expect(prep(command, { cmd: 'ls', argv: ['ls'] })).rejects.toThrow(/not both/);
      await expect(prep(command, { cmd: '  ' })).rejects.toThrow(/no command given/);
      await expect(prep(command, { cmd: 'echo "unterminated' })).rejects.toThrow(/cannot split/);
    });
  });

  describe('shell', () => {
    runTable(shell, [
      { name: 'runs the text with /bin/sh -c', params: { _raw_params: 'echo a | tr a b > /tmp/o' }, probe: null, steps: [{ kind: 'run', script: "exec /bin/sh -c 'echo a | tr a b > /tmp/o'" }], reason: 'shell command would run', result: { cmd: 'echo a | tr a b > /tmp/o' } },
      { name: 'executable', params: { cmd: 'echo $BASH_VERSION', executable: '/bin/bash', chdir: '/' }, probe: null, steps: [{ script: "cd -- / || exit 1\nexec /bin/bash -c 'echo $BASH_VERSION'" }] },
      { name: 'creates glob exists', params: { cmd: 'x', creates: '/var/log/*.log' }, probe: frame({ creates: '1' }), steps: [], reason: 'creates: /var/log/*.log exists' },
    ]);
  });

  const fileWith = (content: string, mode = '0644', extra: Record<string, string> = {}) => ({
    path: '/etc/app.conf', parent: '1', ...st('d', { type: 'file', mode, size: content.length }), sha1: sha1(content), content, uid: '0', ...extra,
  });

  describe('copy', () => {
    runTable(copy, [
      {
        name: 'absent dest: write with the requested attributes',
        params: { dest: '/etc/app.conf', content: 'a\n', mode: 420, owner: 'app' },
        probe: frame({ path: '/etc/app.conf', parent: '1', ...st('d', 'absent'), uid: '0' }),
        steps: [{ kind: 'write', path: '/etc/app.conf', content: Buffer.from('a\n'), mode: '0644', owner: 'app' }],
        reason: '/etc/app.conf does not exist',
        diffs: [{ label: '/etc/app.conf', before: '', after: 'a\n' }],
      },
      {
        name: 'content differs: write keeps mode and owner, diff before/after',
        params: { dest: '/etc/app.conf', content: 'new\n' },
        probe: frame(fileWith('old\n', '0640', st('d', { type: 'file', mode: '0640', uid: 33, gid: 33, owner: 'www-data', group: 'www-data' }))),
        steps: [{ kind: 'write', mode: '0640', owner: '33', group: '33' }],
        reason: 'content differs',
        diffs: [{ label: '/etc/app.conf', before: 'old\n', after: 'new\n' }],
      },
      {
        name: 'only mode differs: chmod',
        params: { dest: '/etc/app.conf', content: 'same\n', mode: '0600' },
        probe: frame(fileWith('same\n')),
        steps: [{ kind: 'run', script: "chmod 0600 -- /etc/app.conf" }],
        reason: 'mode 0644 -> 0600',
      },
      {
        name: 'content and mode differ: one write',
        params: { dest: '/etc/app.conf', content: 'new\n', mode: '600' },
        probe: frame(fileWith('old\n')),
        steps: [{ kind: 'write', mode: '0600' }],
        reason: 'content differs, mode 0644 -> 0600',
      },
      {
        name: 'owner by name or uid both match',
        params: { dest: '/etc/app.conf', content: 'same\n', owner: '0', group: 'root' },
        probe: frame(fileWith('same\n')),
        steps: [],
        reason: '/etc/app.conf exists with same content and attributes',
      },
      {
        name: 'owner differs: chown',
        params: { dest: '/etc/app.conf', content: 'same\n', owner: 'app', group: 'app' },
        probe: frame(fileWith('same\n')),
        steps: [{ kind: 'run', script: 'chown app -- /etc/app.conf && chgrp app -- /etc/app.conf' }],
        reason: 'owner root -> app, group root -> app',
      },
      {
        name: 'force false and dest exists: no-op',
        params: { dest: '/etc/app.conf', content: 'new\n', force: false },
        probe: frame(fileWith('old\n')),
        steps: [],
        reason: /exists and force is false/,
      },
      {
        name: 'missing parent directory fails like Ansible',
        params: { dest: '/nope/app.conf', content: 'x' },
        probe: frame({ path: '/nope/app.conf', parent: '0', ...st('d', 'absent'), uid: '0' }),
        fail: 'Destination directory /nope does not exist',
      },
      {
        name: 'dest/ creates the directory, then the file',
        params: { dest: '/srv/new/', src: 'hello.txt' },
        probe: frame({ path: '/srv/new/hello.txt', parent: '0', ...st('d', 'absent'), uid: '0' }),
        steps: [{ kind: 'run', script: 'mkdir -p -- /srv/new' }, { kind: 'write', path: '/srv/new/hello.txt' }],
      },
      {
        name: 'content into an existing directory is refused',
        params: { dest: '/srv', content: 'x' },
        probe: frame({ dest_is_dir: '1', path: '/srv', parent: '1', ...st('d', { type: 'directory', mode: '0755' }), uid: '0' }),
        fail: /can not use content with a dir as dest/,
      },
      {
        name: 'binary content: placeholder diff',
        params: { dest: '/bin.dat', content: 'text\n' },
        probe: frame({ ...fileWith('x'), path: '/bin.dat', sha1: sha1(Buffer.from([0, 1, 2])), content: Buffer.from([0, 1, 2]) }),
        steps: [{ kind: 'write' }],
        diffs: [{ label: '/bin.dat', before: `(binary content, sha1 ${sha1(Buffer.from([0, 1, 2]))})\n`, after: 'text\n' }],
      },
      {
        name: 'dest is a directory at the resolved path: fails',
        params: { dest: '/srv/x', src: 'hello.txt' },
        probe: frame({ path: '/srv/x/hello.txt', parent: '1', ...st('d', { type: 'directory' }), uid: '0' }),
        fail: /is a directory, not a regular file/,
      },
    ]);
    it('missing src is a missing_file error naming the file', async () => {
      const e = await Promise.resolve(prep(copy, { dest: '/x', src: 'nope.txt' })).catch((x) => x);
      expect(e).toBeInstanceOf(RunbookError);
      expect(e.code).toBe('missing_file');
      expect(e.message).toContain('nope.txt');
    });
    it('a symbolic mode is kept at prepare (the plan resolves it against the file)', async () => {
      expect((await prep(copy, { dest: '/x', content: 'a', mode: 'u=rw' })).attrs.mode).toBe('u=rw');
    });
  });

  describe('template', () => {
    runTable(template, [
      {
        name: 'renders then plans as copy',
        params: { src: 'app.conf.j2', dest: '/etc/app.conf' },
        probe: frame(fileWith('server old\nport=8080\n')),
        steps: [{ kind: 'write', content: Buffer.from('server web1\nport=8080\n') }],
        diffs: [{ label: '/etc/app.conf', before: 'server old\nport=8080\n', after: 'server web1\nport=8080\n' }],
      },
      { name: 'same rendering: no-op', params: { src: 'app.conf.j2', dest: '/etc/app.conf' }, probe: frame(fileWith('server web1\nport=8080\n')), steps: [], reason: /same content/ },
    ]);
    it('refuses whitespace options it cannot honour, and missing templates', async () => {
      await expect(prep(template, { src: 'app.conf.j2', dest: '/x', trim_blocks: false })).rejects.toThrow(/trim_blocks/);
      const e = await Promise.resolve(prep(template, { src: 'nope.j2', dest: '/x' })).catch((x) => x);
      expect(e.code).toBe('missing_file');
    });
  });

  describe('file', () => {
    const P = '/srv/data';
    runTable(file, [
      { name: 'directory: create with parents, mode on the leaf', params: { path: P, state: 'directory', mode: '0750' }, probe: frame(st('l', 'absent')), steps: [{ kind: 'run', script: 'mkdir -p -m 0750 -- /srv/data' }], reason: 'create directory /srv/data' },
      { name: 'directory exists: no-op', params: { path: P, state: 'directory', mode: 0o755 }, probe: frame({ ...st('l', { type: 'directory', mode: '0755' }), empty: '0' }), steps: [], reason: /is a directory with the requested attributes/ },
      { name: 'directory mode differs', params: { path: P, state: 'directory', mode: '0700' }, probe: frame(st('l', { type: 'directory', mode: '0755' })), steps: [{ script: 'chmod 0700 -- /srv/data' }], reason: 'mode 0755 -> 0700' },
      { name: 'directory over a file: fails', params: { path: P, state: 'directory' }, probe: frame(st('l', { type: 'file' })), fail: /already exists as a file/ },
      { name: 'directory through a link to a directory', params: { path: P, state: 'directory' }, probe: frame({ ...st('l', { type: 'link', target: '/x' }), ...st('t', { type: 'directory', mode: '0755' }) }), steps: [] },
      { name: 'state=file on a missing path fails like Ansible', params: { path: P, state: 'file' }, probe: frame(st('l', 'absent')), fail: 'file (/srv/data) is absent, cannot continue' },
      { name: 'no state, missing path: file, fails', params: { path: P, mode: '0644' }, probe: frame(st('l', 'absent')), fail: /is absent, cannot continue/ },
      { name: 'no state, directory: attributes of the directory', params: { path: P, mode: '0700' }, probe: frame(st('l', { type: 'directory', mode: '0755' })), steps: [{ script: 'chmod 0700 -- /srv/data' }] },
      { name: 'state=file owner change', params: { path: P, state: 'file', owner: 'app' }, probe: frame(st('l', { type: 'file' })), steps: [{ script: 'chown app -- /srv/data' }], reason: 'owner root -> app' },
      { name: 'absent: rm -rf a directory', params: { path: P, state: 'absent' }, probe: frame({ ...st('l', { type: 'directory' }), empty: '0' }), steps: [{ script: 'rm -rf -- /srv/data' }], reason: 'remove directory /srv/data' },
      { name: 'absent: already absent', params: { path: P, state: 'absent' }, probe: frame(st('l', 'absent')), steps: [], reason: '/srv/data is already absent' },
      { name: 'touch: always changed', params: { path: P, state: 'touch' }, probe: frame(st('l', { type: 'file' })), steps: [{ script: 'touch -- /srv/data' }], reason: /always changed/ },
      { name: 'link: create', params: { path: P, state: 'link', src: '/opt/data' }, probe: frame({ ...st('l', 'absent'), src_exists: '1' }), steps: [{ script: 'ln -s -- /opt/data /srv/data' }], reason: 'create link /srv/data -> /opt/data' },
      { name: 'link: right target: no-op', params: { path: P, state: 'link', src: '/opt/data' }, probe: frame({ ...st('l', { type: 'link', target: '/opt/data' }), src_exists: '1' }), steps: [], reason: /already a link to \/opt\/data/ },
      { name: 'link: retarget', params: { path: P, state: 'link', src: '/opt/new' }, probe: frame({ ...st('l', { type: 'link', target: '/opt/old' }), src_exists: '1' }), steps: [{ script: 'ln -sfn -- /opt/new /srv/data' }], diffs: [{ label: P, before: 'state: link -> /opt/old\n', after: 'state: link -> /opt/new\n' }] },
      { name: 'link: src missing without force fails', params: { path: P, state: 'link', src: 'rel' }, probe: frame({ ...st('l', 'absent'), src_exists: '0' }), fail: /src file does not exist.*: \/srv\/rel$/ },
      { name: 'link over a file without force fails', params: { path: P, state: 'link', src: '/opt/data' }, probe: frame({ ...st('l', { type: 'file' }), src_exists: '1' }), fail: 'refusing to convert from file to symlink for /srv/data' },
      { name: 'link over a file with force', params: { path: P, state: 'link', src: '/opt/data', force: true }, probe: frame({ ...st('l', { type: 'file' }), src_exists: '1' }), steps: [{ script: 'ln -sfn -- /opt/data /srv/data' }] },
      { name: 'link over a non-empty directory with force fails', params: { path: P, state: 'link', src: '/opt/data', force: true }, probe: frame({ ...st('l', { type: 'directory' }), empty: '0', src_exists: '1' }), fail: /is not empty/ },
    ]);
    it('argument errors at prepare', async () => {
      await expect(prep(file, { path: '/x', state: 'link' })).rejects.toThrow(/src is required/);
      await expect(prep(file, { path: '/x', state: 'link', src: '/y', mode: '0644' })).rejects.toThrow(/mode is not supported with state=link/);
      await expect(prep(file, { path: '/x', dest: '/y' })).rejects.toThrow(/aliases/);
    });
  });

  describe('lineinfile', () => {
    const F = '/etc/ssh/sshd_config';
    const withText = (text: string, mode = '0644') => frame({ path: F, parent: '1', ...st('d', { type: 'file', mode, size: text.length }), content: text, uid: '0' });
    runTable(lineinfile, [
      { name: 'replace: one whole-file write + diff', params: { path: F, regexp: '^#?PermitRootLogin', line: 'PermitRootLogin no' }, probe: withText('a\n#PermitRootLogin yes\nb\n'), steps: [{ kind: 'write', path: F, content: Buffer.from('a\nPermitRootLogin no\nb\n'), mode: '0644', owner: '0', group: '0' }], reason: 'line replaced', diffs: [{ label: F, before: 'a\n#PermitRootLogin yes\nb\n', after: 'a\nPermitRootLogin no\nb\n' }] },
      { name: 'present: no-op says why', params: { path: F, line: 'b' }, probe: withText('a\nb\n'), steps: [], reason: /line already present/ },
      { name: 'present with mode change only', params: { path: F, line: 'b', mode: '0600' }, probe: withText('a\nb\n'), steps: [{ kind: 'run', script: `chmod 0600 -- ${F}` }], reason: 'mode 0644 -> 0600' },
      { name: 'missing file without create fails', params: { path: F, line: 'b' }, probe: frame({ path: F, parent: '1', ...st('d', 'absent'), uid: '0' }), fail: `Destination ${F} does not exist !` },
      { name: 'create with a missing parent', params: { path: '/new/dir/f', line: 'b', create: true, mode: '0600' }, probe: frame({ path: '/new/dir/f', parent: '0', ...st('d', 'absent'), uid: '0' }), steps: [{ kind: 'run', script: 'mkdir -p -- /new/dir' }, { kind: 'write', content: Buffer.from('b\n'), mode: '0600' }] },
      { name: 'absent on a missing file: no-op', params: { path: F, line: 'b', state: 'absent' }, probe: frame({ path: F, parent: '1', ...st('d', 'absent'), uid: '0' }), steps: [], reason: /file not present/ },
      { name: 'absent removes', params: { path: F, regexp: '^b', state: 'absent' }, probe: withText('a\nb1\nb2\n'), steps: [{ kind: 'write', content: Buffer.from('a\n') }], reason: '2 line(s) removed', result: { found: 2 } },
      { name: 'a directory fails', params: { path: F, line: 'x' }, probe: frame({ path: F, parent: '1', ...st('d', { type: 'directory' }), uid: '0' }), fail: `Path ${F} is a directory !` },
      { name: 'non-UTF-8 bytes survive', params: { path: F, line: 'z' }, probe: frame({ path: F, parent: '1', ...st('d', { type: 'file' }), content: Buffer.from([0xff, 0xfe, 0x0a]), uid: '0' }), steps: [{ kind: 'write', content: Buffer.from([0xff, 0xfe, 0x0a, 0x7a, 0x0a]) }] },
      { name: 'utf-8 line', params: { path: F, line: 'naïve = ✓', regexp: '^naïve' }, probe: withText('naïve = x\n'), steps: [{ kind: 'write', content: Buffer.from('naïve = ✓\n') }], diffs: [{ label: F, before: 'naïve = x\n', after: 'naïve = ✓\n' }] },
    ]);
    it('argument errors at prepare', async () => {
      await expect(prep(lineinfile, { path: '/x', backrefs: true, line: 'a' })).rejects.toThrow(/regexp is required with backrefs/);
      await expect(prep(lineinfile, { path: '/x' })).rejects.toThrow(/line is required/);
      await expect(prep(lineinfile, { path: '/x', line: 'a', insertafter: 'a', insertbefore: 'b' })).rejects.toThrow(/mutually exclusive/);
      await expect(prep(lineinfile, { path: '/x', line: 'a', regexp: '(' })).rejects.toThrow(/invalid regular expression/);
      await expect(prep(lineinfile, { path: '/x', state: 'absent' })).rejects.toThrow(/one of line, search_string, or regexp/);
    });
  });

  describe('systemd', () => {
    const off = (enabled: string, extra: Record<string, string> = {}) => frame({ running: '0', enabled, ...extra });
    const on = (enabled: string, active: string, extra: Record<string, string> = {}) => frame({ running: '1', enabled, active, load_state: 'loaded', need_reload: 'no', ...extra });
    runTable(systemd, [
      { name: 'offline: enable works', params: { name: 'nginx', enabled: true }, probe: off('disabled'), steps: [{ kind: 'run', script: 'systemctl enable -- nginx.service' }], reason: 'enable nginx.service' },
      { name: 'offline: already enabled', params: { name: 'nginx', enabled: true }, probe: off('enabled'), steps: [], reason: 'nginx.service is already enabled' },
      { name: 'offline: state is not managed, and the plan says so', params: { name: 'nginx', state: 'started' }, probe: off('enabled'), steps: [], reason: 'systemd is not running on this host: state not managed', result: { state_managed: false, systemd_running: false } },
      { name: 'offline: enable + state', params: { name: 'nginx', enabled: true, state: 'restarted', daemon_reload: true }, probe: off('disabled'), steps: [{ script: 'systemctl enable -- nginx.service' }], reason: /enable nginx.service; systemd is not running on this host: daemon-reload skipped; systemd is not running on this host: state not managed/ },
      { name: 'offline: daemon_reload alone', params: { daemon_reload: true }, probe: frame({ running: '0' }), steps: [], reason: /not running.*daemon-reload skipped/ },
      { name: 'unit not found fails', params: { name: 'nope', enabled: true }, probe: off(''), fail: 'Could not find the requested service nope: host' },
      { name: 'static unit: nothing to enable', params: { name: 'dbus', enabled: true }, probe: off('static'), steps: [], reason: /static: it has no \[Install\] section/ },
      { name: 'alias resolved', params: { name: 'sshd', enabled: false }, probe: off('enabled', { alias_of: 'ssh.service' }), steps: [{ script: 'systemctl disable -- ssh.service' }], reason: /sshd.service is an alias of ssh.service/ },
      { name: 'mask', params: { name: 'x.timer', masked: true }, probe: off('enabled'), steps: [{ script: 'systemctl mask -- x.timer' }] },
      { name: 'masked and enabled: true fails', params: { name: 'x', enabled: true }, probe: off('masked'), fail: /is masked/ },
      { name: 'unmask then enable', params: { name: 'x', enabled: true, masked: false }, probe: off('masked'), steps: [{ script: 'systemctl unmask -- x.service' }, { script: 'systemctl enable -- x.service' }] },
      { name: 'running: start', params: { name: 'nginx', state: 'started' }, probe: on('enabled', 'inactive'), steps: [{ script: 'systemctl start -- nginx.service' }], reason: 'start nginx.service' },
      { name: 'running: already active', params: { name: 'nginx', state: 'started', enabled: true }, probe: on('enabled', 'active'), steps: [], reason: 'nginx.service is already enabled; nginx.service is already active' },
      { name: 'running: stop', params: { name: 'nginx', state: 'stopped' }, probe: on('enabled', 'active'), steps: [{ script: 'systemctl stop -- nginx.service' }] },
      { name: 'running: restarted always', params: { name: 'nginx', state: 'restarted' }, probe: on('enabled', 'active'), steps: [{ script: 'systemctl restart -- nginx.service' }] },
      { name: 'running: reloaded when stopped starts', params: { name: 'nginx', state: 'reloaded' }, probe: on('enabled', 'failed'), steps: [{ script: 'systemctl start -- nginx.service' }] },
      { name: 'running: daemon-reload only when needed', params: { name: 'nginx', daemon_reload: true, state: 'started' }, probe: on('enabled', 'inactive', { need_reload: 'yes' }), steps: [{ script: 'systemctl daemon-reload' }, { script: 'systemctl start -- nginx.service' }] },
      { name: 'running: daemon-reload not needed', params: { name: 'nginx', daemon_reload: true }, probe: on('enabled', 'active'), steps: [], reason: /NeedDaemonReload=no/ },
      { name: 'no systemctl', params: { name: 'nginx', enabled: true }, probe: frame({ running: '0', no_systemctl: '1', enabled: '' }), fail: /systemctl is not installed/ },
    ]);
  });

  describe('stat', () => {
    runTable(stat, [
      { name: 'absent', params: { path: '/x' }, probe: frame(st('s', 'absent')), steps: [], result: { stat: { exists: false } } },
      {
        name: 'file with checksum',
        params: { path: '/x' },
        probe: frame({ ...st('s', { type: 'file', mode: '0640', uid: 33, gid: 4, owner: 'www-data', group: 'adm', size: 5 }), checksum: 'abc', readable: '1' }),
        steps: [],
        reason: /read-only/,
        result: { stat: { exists: true, isreg: true, isdir: false, islnk: false, mode: '0640', uid: 33, gid: 4, pw_name: 'www-data', gr_name: 'adm', size: 5, mtime: 1700000000, checksum: 'abc', readable: true, writeable: false } },
      },
      { name: 'link', params: { path: '/x' }, probe: frame({ ...st('s', { type: 'link', target: 'y' }), lnk_source: '/y' }), result: { stat: { islnk: true, lnk_target: 'y', lnk_source: '/y' } } },
    ]);
  });
});

// ==================================================================================================================
// 4. the law, on the real machine

describe('the law on the real machine: apply, then plan again -> no steps', () => {
  describe('command / shell', () => {
    it('creates: runs once, then says why not', async () => {
      const target = path.join(tmp, 'made by me');
      const { plan1, plan2, finish } = await law(command, { argv: ['touch', target], creates: target });
      expect(plan1.steps).toHaveLength(1);
      expect(fs.existsSync(target)).toBe(true);
      expect(finish).toMatchObject({ rc: 0, failed: false });
      expect(plan2.reason).toBe(`creates: ${target} exists`);
    });
    it('removes, chdir and a relative glob', async () => {
      fs.writeFileSync(path.join(tmp, 'a 1.log'), 'x');
      fs.writeFileSync(path.join(tmp, 'b 2.log'), 'x');
      const { plan2 } = await law(command, { cmd: 'find . -name "* ?.log" -delete', chdir: tmp, removes: '* ?.log' });
      expect(fs.readdirSync(tmp)).toEqual([]);
      expect(plan2.reason).toBe('removes: * ?.log does not exist');
    });
    it('shell: pipes, redirections, odd file names', async () => {
      const name = "it's a\nfile";
      const { plan2 } = await law(shell, { cmd: `printf 'x y' | tr x z > ${quote(name)}`, chdir: tmp, creates: name });
      expect(fs.readFileSync(path.join(tmp, name), 'utf8')).toBe('z y');
      expect(plan2.reason).toBe(`creates: ${name} exists`);
    });
    it('shell: creates with spaces and quotes, stdin', async () => {
      const name = path.join(tmp, "we're here");
      const { finish, plan2 } = await law(shell, { cmd: `cat > ${quote(name)}; echo done`, stdin: 'in put', creates: name });
      expect(fs.readFileSync(name, 'utf8')).toBe('in put\n');
      expect(finish).toMatchObject({ stdout: 'done', rc: 0 });
      expect(plan2.reason).toContain('exists');
    });
    it('finish: output trimmed like Ansible (all trailing newlines), lines, rc and failure', async () => {
      const p = await prep(shell, { cmd: 'printf "a\\nb\\n\\n"; printf "err\\n" >&2; exit 3' });
      const plan = planFrom(shell, p, null);
      const out = shell.finish!(p, await apply(plan.steps), plan);
      expect(out).toEqual({
        cmd: 'printf "a\\nb\\n\\n"; printf "err\\n" >&2; exit 3',
        stdout: 'a\nb',
        stderr: 'err',
        rc: 3,
        stdout_lines: ['a', 'b'],
        stderr_lines: ['err'],
        failed: true,
        msg: 'non-zero return code',
      });
      const p2 = await prep(command, { argv: ['printf', '%s', 'x\n\n'], strip_empty_ends: false });
      const plan2 = planFrom(command, p2, null);
      expect(command.finish!(p2, await apply(plan2.steps), plan2)).toMatchObject({ stdout: 'x\n\n', rc: 0, failed: false });
    });
    it('command does no shell expansion', async () => {
      const p = await prep(command, { cmd: `echo $HOME '*' ; ls`, chdir: tmp });
      const plan = planFrom(command, p, null);
      expect(command.finish!(p, await apply(plan.steps), plan)).toMatchObject({ stdout: '$HOME * ; ls' });
    });
  });

  describe('copy / template', () => {
    it('new file with a mode (YAML 1.1 number), then no-op', async () => {
      const dest = path.join(tmp, 'app conf');
      const { plan2 } = await law(copy, { dest, content: 'hello\n', mode: 0o600 });
      expect(fs.readFileSync(dest, 'utf8')).toBe('hello\n');
      expect((fs.statSync(dest).mode & 0o7777).toString(8)).toBe('600');
      expect(plan2.reason).toBe(`${dest} exists with same content and attributes`);
    });
    it('content change keeps the existing mode', async () => {
      const dest = path.join(tmp, 'f');
      fs.writeFileSync(dest, 'old\n');
      fs.chmodSync(dest, 0o640);
      const { plan1 } = await law(copy, { dest, content: 'new\n' });
      expect(plan1.reason).toBe('content differs');
      expect(plan1.diffs).toEqual([{ label: dest, before: 'old\n', after: 'new\n' }]);
      expect(fs.statSync(dest).mode & 0o7777).toBe(0o640);
    });
    it('only the mode differs: chmod, content untouched', async () => {
      const dest = path.join(tmp, 'f');
      fs.writeFileSync(dest, 'same\n');
      fs.chmodSync(dest, 0o644);
      const { plan1 } = await law(copy, { dest, content: 'same\n', mode: '0600' });
      expect(plan1.steps).toMatchObject([{ kind: 'run' }]);
      expect(plan1.reason).toBe('mode 0644 -> 0600');
    });
    it.runIf(IS_ROOT)('owner and group', async () => {
      const dest = path.join(tmp, 'owned');
      fs.writeFileSync(dest, 'x');
      const { plan1 } = await law(copy, { dest, content: 'x', owner: 'nobody', group: 'nogroup', mode: '0640' });
      expect(plan1.reason).toMatch(/owner root -> nobody, group root -> nogroup, mode 0644 -> 0640/);
      expect(fs.statSync(dest).uid).not.toBe(0);
    });
    it.runIf(IS_ROOT)('a content change keeps a foreign owner', async () => {
      const dest = path.join(tmp, 'owned');
      fs.writeFileSync(dest, 'x');
      sh(`chown nobody -- ${quote(dest)}`);
      const uid = fs.statSync(dest).uid;
      await law(copy, { dest, content: 'y' });
      expect(fs.statSync(dest).uid).toBe(uid);
    });
    it('src into an existing directory, and dest/ that does not exist yet', async () => {
      await law(copy, { src: 'hello.txt', dest: tmp });
      expect(fs.readFileSync(path.join(tmp, 'hello.txt'), 'utf8')).toBe('hello from src\nline two\n');
      await law(copy, { src: 'hello.txt', dest: path.join(tmp, 'sub', 'dir') + '/' });
      expect(fs.existsSync(path.join(tmp, 'sub', 'dir', 'hello.txt'))).toBe(true);
    });
    it('names with spaces and newlines; binary content', async () => {
      const dest = path.join(tmp, 'a b\nc');
      const bin = Buffer.from([0, 1, 2, 255, 10, 13]);
      await law(copy, { dest, content: 'first' });
      const p = await prep(copy, { dest, content: 'x' });
      p.content = bin;
      const { plan } = await probeAndPlan(copy, p);
      expect(plan.diffs![0]!.after).toMatch(/binary content/);
      await apply(plan.steps);
      expect(fs.readFileSync(dest)).toEqual(bin);
      expect((await probeAndPlan(copy, p)).plan.steps).toEqual([]);
    });
    it('a symlinked dest is followed: the link stays, its target changes', async () => {
      const real = path.join(tmp, 'real');
      const link = path.join(tmp, 'link');
      fs.writeFileSync(real, 'old');
      fs.symlinkSync(real, link);
      await law(copy, { dest: link, content: 'new' });
      expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
      expect(fs.readFileSync(real, 'utf8')).toBe('new');
    });
    it('a missing parent directory fails without touching anything', async () => {
      const p = await prep(copy, { dest: path.join(tmp, 'no', 'f'), content: 'x' });
      const { plan } = await probeAndPlan(copy, p);
      expect(plan.fail?.message).toBe(`Destination directory ${path.join(tmp, 'no')} does not exist`);
    });
    it('a file larger than the diff limit still compares by sha1', async () => {
      const dest = path.join(tmp, 'big');
      const big = Buffer.alloc(1024 * 1024 + 10, 'a');
      fs.writeFileSync(dest, big);
      const p = await prep(copy, { dest, content: 'x' });
      p.content = Buffer.concat([big, Buffer.from('b')]);
      const { plan } = await probeAndPlan(copy, p);
      expect(plan.diffs![0]!.before).toMatch(/content not fetched/);
      await apply(plan.steps);
      expect((await probeAndPlan(copy, p)).plan.steps).toEqual([]);
    });
    it('template', async () => {
      const dest = path.join(tmp, 'app.conf');
      const { plan1 } = await law(template, { src: 'app.conf.j2', dest, mode: '0644' });
      expect(fs.readFileSync(dest, 'utf8')).toBe('server web1\nport=8080\n');
      expect(plan1.diffs).toEqual([{ label: dest, before: '', after: 'server web1\nport=8080\n' }]);
    });
  });

  describe('file', () => {
    it('directory with parents: mode on the leaf only', async () => {
      const d = path.join(tmp, 'a', 'b c', 'd');
      await law(file, { path: d, state: 'directory', mode: '0700' });
      expect(fs.statSync(d).mode & 0o7777).toBe(0o700);
      expect(fs.statSync(path.join(tmp, 'a')).mode & 0o7777).not.toBe(0o700);
      await law(file, { path: d, state: 'directory', mode: 0o750 });
      expect(fs.statSync(d).mode & 0o7777).toBe(0o750);
    });
    it('absent: a full directory, then already absent', async () => {
      const d = path.join(tmp, 'full');
      fs.mkdirSync(path.join(d, 'x'), { recursive: true });
      fs.writeFileSync(path.join(d, 'x', 'f'), 'y');
      const { plan2 } = await law(file, { path: d, state: 'absent' });
      expect(fs.existsSync(d)).toBe(false);
      expect(plan2.reason).toBe(`${d} is already absent`);
    });
    it('state=file changes attributes only, and fails on a missing path', async () => {
      const f = path.join(tmp, 'f');
      fs.writeFileSync(f, 'x');
      await law(file, { path: f, mode: '0604' });
      expect(fs.statSync(f).mode & 0o7777).toBe(0o604);
      const p = await prep(file, { path: path.join(tmp, 'nope'), state: 'file' });
      expect((await probeAndPlan(file, p)).plan.fail?.message).toBe(`file (${path.join(tmp, 'nope')}) is absent, cannot continue`);
    });
    it('link: create, retarget, relative src, force over a file', async () => {
      const l = path.join(tmp, 'the link');
      fs.writeFileSync(path.join(tmp, 'target one'), '1');
      fs.writeFileSync(path.join(tmp, 'target two'), '2');
      await law(file, { path: l, state: 'link', src: path.join(tmp, 'target one') });
      expect(fs.readlinkSync(l)).toBe(path.join(tmp, 'target one'));
      await law(file, { path: l, state: 'link', src: 'target two' });
      expect(fs.readlinkSync(l)).toBe('target two');
      expect(fs.readFileSync(l, 'utf8')).toBe('2');
      const f = path.join(tmp, 'plain');
      fs.writeFileSync(f, 'x');
      const p = await prep(file, { path: f, state: 'link', src: 'target one' });
      expect((await probeAndPlan(file, p)).plan.fail?.message).toMatch(/refusing to convert from file to symlink/);
      await law(file, { path: f, state: 'link', src: 'target one', force: true });
      expect(fs.readlinkSync(f)).toBe('target one');
      await law(file, { path: path.join(tmp, 'dangling'), state: 'link', src: '/nonexistent/x', force: true });
    });
    it('link over a directory that is a link target is not followed', async () => {
      fs.mkdirSync(path.join(tmp, 'd1'));
      fs.mkdirSync(path.join(tmp, 'd2'));
      const l = path.join(tmp, 'cur');
      await law(file, { path: l, state: 'link', src: 'd1' });
      await law(file, { path: l, state: 'link', src: 'd2' });
      expect(fs.readlinkSync(l)).toBe('d2');
      expect(fs.readdirSync(path.join(tmp, 'd1'))).toEqual([]);
    });
    it('touch: creates, and is always a change (like Ansible)', async () => {
      const f = path.join(tmp, 'touched');
      const { plan1, plan2 } = await law(file, { path: f, state: 'touch', mode: '0600' }, { idempotent: false });
      expect(plan1.reason).toBe(`create ${f} (touch)`);
      expect(fs.statSync(f).mode & 0o7777).toBe(0o600);
      expect(plan2.steps).toHaveLength(1);
      expect(plan2.reason).toMatch(/always changed/);
    });
  });

  describe('lineinfile', () => {
    it('replace, insert, absent on a real file', async () => {
      const f = path.join(tmp, 'sshd config');
      fs.writeFileSync(f, '# top\n#PermitRootLogin yes\nPort 22\n');
      fs.chmodSync(f, 0o600);
      await law(lineinfile, { path: f, regexp: '^#?PermitRootLogin', line: 'PermitRootLogin no' });
      await law(lineinfile, { path: f, line: 'Banner none', insertafter: '^# top' });
      await law(lineinfile, { path: f, line: 'First', insertbefore: 'BOF' });
      await law(lineinfile, { path: f, regexp: '^#?(Port) (\\d+)$', line: '\\1 2222', backrefs: true });
      await law(lineinfile, { path: f, regexp: '^#', state: 'absent' });
      expect(fs.readFileSync(f, 'utf8')).toBe('First\nBanner none\nPermitRootLogin no\nPort 2222\n');
      expect(fs.statSync(f).mode & 0o7777).toBe(0o600);
    });
    it('backrefs are applied once, then the line is stable', async () => {
      const f = path.join(tmp, 'f');
      fs.writeFileSync(f, 'x=1\n');
      const { plan2 } = await law(lineinfile, { path: f, regexp: '^x=(\\d)$', line: 'x=\\1', backrefs: true });
      expect(plan2.reason).toMatch(/already present/);
    });
    it('create with missing parents and a mode; file without final newline', async () => {
      const f = path.join(tmp, 'new', 'dir', 'f');
      await law(lineinfile, { path: f, line: 'a=1', create: true, mode: '0640' });
      expect(fs.readFileSync(f, 'utf8')).toBe('a=1\n');
      expect(fs.statSync(f).mode & 0o7777).toBe(0o640);
      const g = path.join(tmp, 'g');
      fs.writeFileSync(g, 'no newline');
      await law(lineinfile, { path: g, line: 'b' });
      expect(fs.readFileSync(g, 'utf8')).toBe('no newline\nb\n');
    });
    it('a symlinked path is followed', async () => {
      const real = path.join(tmp, 'real');
      const link = path.join(tmp, 'link');
      fs.writeFileSync(real, 'a\n');
      fs.symlinkSync(real, link);
      await law(lineinfile, { path: link, line: 'b' });
      expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
      expect(fs.readFileSync(real, 'utf8')).toBe('a\nb\n');
    });
  });

  describe('stat', () => {
    it('reads a file and a link, changes nothing', async () => {
      const f = path.join(tmp, 'f x');
      fs.writeFileSync(f, 'hello');
      fs.chmodSync(f, 0o640);
      fs.symlinkSync(f, path.join(tmp, 'l'));
      const { plan2 } = await law(stat, { path: f });
      const s = (plan2.result as any).stat;
      expect(s).toMatchObject({ exists: true, isreg: true, isdir: false, islnk: false, mode: '0640', size: 5, checksum: sha1('hello') });
      expect(s.uid).toBe(process.getuid!());
      expect(s.mtime).toBe(Math.floor(fs.statSync(f).mtimeMs / 1000));
      const l = (await law(stat, { path: path.join(tmp, 'l') })).plan2.result as any;
      expect(l.stat).toMatchObject({ islnk: true, lnk_target: f, lnk_source: f });
      expect(l.stat.checksum).toBeUndefined();
      const fl = (await law(stat, { path: path.join(tmp, 'l'), follow: true })).plan2.result as any;
      expect(fl.stat).toMatchObject({ isreg: true, checksum: sha1('hello') });
      const d = (await law(stat, { path: tmp, get_checksum: false })).plan2.result as any;
      expect(d.stat).toMatchObject({ exists: true, isdir: true });
      expect((await law(stat, { path: path.join(tmp, 'nope') })).plan2.result).toEqual({ stat: { exists: false } });
    });
  });

  // systemd: this machine has systemctl but PID 1 is not systemd, like the lab's namespaces and containers.
  const offline = IS_ROOT && sh('command -v systemctl').code === 0 && !fs.existsSync('/run/systemd/system') && fs.existsSync('/lib/systemd/system');
  describe.runIf(offline)('systemd, offline (systemctl present, systemd not running)', () => {
    const unit = `rbtest-${process.pid}-${randomBytes(3).toString('hex')}.service`;
    const unitFile = path.join('/lib/systemd/system', unit);
    afterAll(() => {
      sh(`systemctl unmask -- ${unit} >/dev/null 2>&1; systemctl disable -- ${unit} >/dev/null 2>&1; rm -f -- ${quote(unitFile)}`);
    });
    it('enabled and masked work offline, state is skipped with a clear reason', async () => {
      fs.writeFileSync(unitFile, '[Unit]\nDescription=runbook test\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n');
      const wants = `/etc/systemd/system/multi-user.target.wants/${unit}`;
      const r1 = await law(systemd, { name: unit, enabled: true, state: 'started' });
      expect(r1.plan1.reason).toBe(`enable ${unit}; systemd is not running on this host: state not managed`);
      expect(fs.lstatSync(wants).isSymbolicLink()).toBe(true);
      expect(r1.plan2.reason).toBe(`${unit} is already enabled; systemd is not running on this host: state not managed`);
      await law(systemd, { name: unit, enabled: false });
      expect(fs.existsSync(wants)).toBe(false);
      await law(systemd, { name: unit, masked: true });
      expect(fs.readlinkSync(`/etc/systemd/system/${unit}`)).toBe('/dev/null');
      const m = await prep(systemd, { name: unit, enabled: true });
      expect((await probeAndPlan(systemd, m)).plan.fail?.message).toMatch(/is masked/);
      await law(systemd, { name: unit, masked: false, enabled: true });
      expect(fs.existsSync(`/etc/systemd/system/${unit}`)).toBe(false);
      expect(fs.lstatSync(wants).isSymbolicLink()).toBe(true);
      await law(systemd, { name: unit, enabled: false, daemon_reload: true, state: 'restarted' });
    });
    it('a unit that does not exist fails; a static unit is a reasoned no-op', async () => {
      const p = await prep(systemd, { name: 'rbtest-does-not-exist', enabled: true });
      expect((await probeAndPlan(systemd, p)).plan.fail?.message).toBe('Could not find the requested service rbtest-does-not-exist: host');
      if (sh('systemctl is-enabled dbus.service').stdout.trim() === 'static') {
        const { plan2 } = await law(systemd, { name: 'dbus', enabled: true });
        expect(plan2.reason).toMatch(/static/);
      }
    });
  });
});
