/**
 * Module plans as data: params + typed State -> steps, diff, reason (or a structured failure), with no shell.
 * The State is what a probe's parse returns; here it is written down (or, for modules whose State is the probe's
 * frame, parsed from a frame written down: formatFrame -> frameState, still no shell).
 *
 * Then the idempotence law through the REAL step interpreter (lib/executor/apply.ts) on the local connection
 * (lib/connection/local.ts), in a temp dir: probe -> plan -> apply -> probe -> plan again gives no steps.
 *
 * And check mode's overlay as data: planned paths recorded from plans, consulted with a failure's `path`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { LocalConnection } from '../lib/connection/local.js';
import { applySteps, StepFailed } from '../lib/executor/apply.js';
import { overlayHit, recordPlanned } from '../lib/executor/task-outcome.js';
import type { FileStat } from '../lib/modules/common.js';
import { formatFrame, frameState } from '../lib/modules/common.js';
import type { FileDiff, ModuleContext, ModuleDef, Plan, Step } from '../lib/modules/types.js';
import copy, { prepareCopy, type ContentState } from '../lib/modules/copy.js';
import template from '../lib/modules/template.js';
import file, { prepareFile, type FileProbeState } from '../lib/modules/file.js';
import lineinfile, { prepareLineInFile } from '../lib/modules/lineinfile.js';
import blockinfile, { prepareBlockInFile } from '../lib/modules/blockinfile.js';
import replace, { prepareReplace } from '../lib/modules/replace.js';
import type { EditState } from '../lib/modules/edit-state.js';
import command, { prepareCommand } from '../lib/modules/command.js';
import shell from '../lib/modules/shell.js';
import systemd, { prepareSystemd } from '../lib/modules/systemd.js';
import group, { prepareGroup } from '../lib/modules/group.js';
import slurp, { prepareSlurp } from '../lib/modules/slurp.js';
import statModule, { prepareStat } from '../lib/modules/stat.js';
import sysctl from '../lib/modules/sysctl.js';
import timezone, { prepareTimezone } from '../lib/modules/timezone.js';
import debconf, { prepareDebconf } from '../lib/modules/debconf.js';

// ------------------------------------------------------------------------------------------------------------------
// State builders (data, no shell)

const ABSENT: FileStat = { type: 'absent', mode: '', uid: -1, gid: -1, owner: '', group: '', size: 0, mtime: 0, atime: 0, ctime: 0, inode: 0, dev: 0, nlink: 0 };
function stat(type: FileStat['type'], mode: string, more: Partial<FileStat> = {}): FileStat {
  return { ...ABSENT, type, mode, uid: 0, gid: 0, owner: 'root', group: 'root', size: 1, nlink: 1, ...more };
}
function frame(values: Record<string, string | Buffer>) {
  return frameState({ code: 0, stdout: formatFrame(values), stderr: '' });
}
const ctx: ModuleContext = {
  host: 'local',
  vars: {},
  findFile: (_kind, name) => (path.isAbsolute(name) && fs.existsSync(name) ? name : undefined),
  renderTemplateFile: (p) => fs.readFileSync(p, 'utf8').replace(/\{\{\s*port\s*\}\}/g, '8080'),
};

interface Case<S> {
  name: string;
  params: Record<string, unknown>;
  state: S | null;
  steps?: Partial<Step>[];
  reason?: string | RegExp;
  diffs?: FileDiff[];
  result?: Record<string, unknown>;
  fail?: { code: string; path?: string; message: string | RegExp };
}

function table<S>(mod: ModuleDef<any, S>, prepare: (p: Record<string, unknown>) => unknown, cases: Case<S>[]): void {
  describe(mod.name, () => {
    for (const c of cases) {
      it(c.name, () => {
        const p = prepare(c.params);
        const plan: Plan = mod.plan(p, c.state);
        expect(mod.plan(p, c.state), 'plans are pure').toEqual(plan);
        if (c.fail) {
          expect(plan.steps).toEqual([]);
          expect(plan.fail).toMatchObject({ code: c.fail.code, ...(c.fail.path !== undefined ? { path: c.fail.path } : {}) });
          if (c.fail.path === undefined) expect(plan.fail!.path).toBeUndefined();
          expect(plan.fail!.message).toMatch(c.fail.message);
        } else {
          expect(plan.fail, plan.reason).toBeUndefined();
        }
        if (c.steps) {
          expect(plan.steps).toHaveLength(c.steps.length);
          c.steps.forEach((s, i) => expect(plan.steps[i]).toMatchObject(s));
        }
        if (c.reason !== undefined) expect(plan.reason).toMatch(c.reason);
        expect(plan.reason, 'a plan always says why').not.toBe('');
        if (c.diffs) expect(plan.diffs).toEqual(c.diffs);
        if (c.result) expect(plan.result).toMatchObject(c.result);
      });
    }
  });
}

const destFile = (over: Partial<Exclude<ContentState, { probeFailed: unknown }>> = {}): ContentState => ({
  destIsDir: false, path: '/etc/app.conf', stat: ABSENT, parentExists: true, root: true, ...over,
});
const hi = Buffer.from('hi\n');

// ------------------------------------------------------------------------------------------------------------------
// tables

table(copy, (p) => prepareCopy(p, ctx), [
  {
    name: 'absent dest: one write, the whole content as the diff',
    params: { dest: '/etc/app.conf', content: 'hi\n', mode: '0644' },
    state: destFile(),
    steps: [{ kind: 'write', path: '/etc/app.conf', content: hi, mode: '0644' }],
    reason: '/etc/app.conf does not exist',
    diffs: [{ label: '/etc/app.conf', before: '', after: 'hi\n' }],
    result: { dest: '/etc/app.conf', size: 3, state: 'file' },
  },
  {
    name: 'same content and mode: no steps, and says why',
    params: { dest: '/etc/app.conf', content: 'hi\n', mode: '0644' },
    state: destFile({ stat: stat('file', '0644', { size: 3 }), content: hi }),
    steps: [],
    reason: '/etc/app.conf exists with same content and attributes',
  },
  {
    name: 'content differs as root: the rewrite keeps mode, owner and group',
    params: { dest: '/etc/app.conf', content: 'hi\n' },
    state: destFile({ stat: stat('file', '0640', { uid: 7, gid: 8 }), content: Buffer.from('old\n') }),
    steps: [{ kind: 'write', path: '/etc/app.conf', mode: '0640', owner: '7', group: '8' }],
    reason: 'content differs',
    diffs: [{ label: '/etc/app.conf', before: 'old\n', after: 'hi\n' }],
  },
  {
    name: 'only the mode differs: chmod, no write',
    params: { dest: '/etc/app.conf', content: 'hi\n', mode: '0600' },
    state: destFile({ stat: stat('file', '0644'), content: hi }),
    steps: [{ kind: 'run', script: 'chmod 0600 -- /etc/app.conf' }],
    reason: 'mode 0644 -> 0600',
  },
  {
    name: 'a missing parent directory fails about that directory',
    params: { dest: '/etc/nope/app.conf', content: 'hi\n' },
    state: destFile({ path: '/etc/nope/app.conf', parentExists: false }),
    fail: { code: 'missing_parent', path: '/etc/nope', message: 'Destination directory /etc/nope does not exist' },
  },
  {
    name: 'content into a directory dest fails',
    params: { dest: '/etc', content: 'hi\n' },
    state: destFile({ destIsDir: true, path: '/etc' }),
    fail: { code: 'is_directory', path: '/etc', message: /can not use content with a dir as dest/ },
  },
  {
    name: 'a probe that failed fails the plan with its message',
    params: { dest: '/etc/app.conf', content: 'hi\n' },
    state: { probeFailed: { code: 'probe_failed', message: 'probe failed (exit 2): boom' } },
    fail: { code: 'probe_failed', message: 'probe failed (exit 2): boom' },
  },
]);

const pathState = (s: FileStat, more: Partial<Exclude<FileProbeState, { probeFailed: unknown }>> = {}): FileProbeState => ({ stat: s, ...more });

table(file, prepareFile, [
  {
    name: 'directory that is absent: mkdir -p, then the mode',
    params: { path: '/srv/d', state: 'directory', mode: '0755' },
    state: pathState(ABSENT),
    steps: [{ kind: 'run', script: 'mkdir -p -m 0755 -- /srv/d' }],
    reason: 'create directory /srv/d',
    diffs: [{ label: '/srv/d', before: 'state: absent\n', after: 'state: directory\n' }],
  },
  { name: 'directory already there with its mode', params: { path: '/srv/d', state: 'directory', mode: '0755' }, state: pathState(stat('directory', '0755')), steps: [], reason: '/srv/d is a directory with the requested attributes' },
  { name: 'absent: a file is removed', params: { path: '/srv/f', state: 'absent' }, state: pathState(stat('file', '0644')), steps: [{ kind: 'run', script: 'rm -f -- /srv/f' }], reason: 'remove file /srv/f' },
  { name: 'absent: already absent', params: { path: '/srv/f', state: 'absent' }, state: pathState(ABSENT), steps: [], reason: '/srv/f is already absent' },
  {
    name: 'state=file on a missing path fails about the path',
    params: { path: '/srv/f', state: 'file' },
    state: pathState(ABSENT),
    fail: { code: 'missing_path', path: '/srv/f', message: 'file (/srv/f) is absent, cannot continue' },
  },
  { name: 'link: created', params: { path: '/srv/l', state: 'link', src: '/srv/t' }, state: pathState(ABSENT, { srcExists: true }), steps: [{ kind: 'run', script: 'ln -s -- /srv/t /srv/l' }], reason: 'create link /srv/l -> /srv/t' },
  { name: 'link: already right', params: { path: '/srv/l', state: 'link', src: '/srv/t' }, state: pathState(stat('link', '0777', { target: '/srv/t' }), { srcExists: true }), steps: [] },
  {
    name: 'link to a missing src fails about the src',
    params: { path: '/srv/l', state: 'link', src: '/srv/t' },
    state: pathState(ABSENT, { srcExists: false }),
    fail: { code: 'missing_path', path: '/srv/t', message: /src file does not exist/ },
  },
]);

const editFile = (content: string | undefined, over: Partial<Exclude<EditState, { probeFailed: unknown }>> = {}): EditState => ({
  path: '/etc/f',
  stat: content === undefined ? ABSENT : stat('file', '0644', { size: content.length }),
  parentExists: true,
  root: false,
  tooBig: false,
  ...(content === undefined ? {} : { content: Buffer.from(content, 'latin1') }),
  ...over,
});

table(lineinfile, prepareLineInFile, [
  {
    name: 'a missing line is appended; the file is written whole',
    params: { path: '/etc/f', line: 'c' },
    state: editFile('a\nb\n'),
    steps: [{ kind: 'write', path: '/etc/f', content: Buffer.from('a\nb\nc\n'), mode: '0644' }],
    reason: 'line added',
    diffs: [{ label: '/etc/f', before: 'a\nb\n', after: 'a\nb\nc\n' }],
  },
  { name: 'the line is there', params: { path: '/etc/f', line: 'b' }, state: editFile('a\nb\n'), steps: [], reason: 'line already present in /etc/f' },
  {
    name: 'regexp replaces the last match',
    params: { path: '/etc/f', regexp: '^port=', line: 'port=8080' },
    state: editFile('port=1\nx\nport=2\n'),
    diffs: [{ label: '/etc/f', before: 'port=1\nx\nport=2\n', after: 'port=1\nx\nport=8080\n' }],
    reason: 'line replaced',
  },
  { name: 'absent: removes every match', params: { path: '/etc/f', regexp: '^x', state: 'absent' }, state: editFile('a\nx1\nx2\n'), diffs: [{ label: '/etc/f', before: 'a\nx1\nx2\n', after: 'a\n' }] },
  {
    name: 'a missing file without create fails about the path',
    params: { path: '/etc/f', line: 'c' },
    state: editFile(undefined),
    fail: { code: 'missing_path', path: '/etc/f', message: 'Destination /etc/f does not exist !' },
    result: { rc: 257 },
  },
  { name: 'a directory fails', params: { path: '/etc/f', line: 'c' }, state: editFile(undefined, { stat: stat('directory', '0755') }), fail: { code: 'is_directory', path: '/etc/f', message: 'Path /etc/f is a directory !' } },
  {
    name: 'create with a missing parent: mkdir, then the write',
    params: { path: '/etc/new/f', line: 'c', create: true },
    state: editFile(undefined, { path: '/etc/new/f', parentExists: false }),
    steps: [{ kind: 'run', script: 'mkdir -p -- /etc/new' }, { kind: 'write', path: '/etc/new/f', content: Buffer.from('c\n') }],
  },
]);

const BLOCK = '# BEGIN ANSIBLE MANAGED BLOCK\nx=1\n# END ANSIBLE MANAGED BLOCK\n';
table(blockinfile, prepareBlockInFile, [
  { name: 'a block is inserted at EOF', params: { path: '/etc/f', block: 'x=1' }, state: editFile('a\n'), reason: 'Block inserted', diffs: [{ label: '/etc/f', before: 'a\n', after: `a\n${BLOCK}` }] },
  { name: 'the block is there', params: { path: '/etc/f', block: 'x=1' }, state: editFile(`a\n${BLOCK}`), steps: [], reason: 'the block is already in /etc/f' },
  { name: 'absent: removed', params: { path: '/etc/f', state: 'absent' }, state: editFile(`a\n${BLOCK}`), reason: 'Block removed', diffs: [{ label: '/etc/f', before: `a\n${BLOCK}`, after: 'a\n' }] },
  { name: 'absent on a missing file: nothing to do', params: { path: '/etc/f', state: 'absent' }, state: editFile(undefined), steps: [], reason: '/etc/f does not exist: no block to remove' },
]);

table(replace, prepareReplace, [
  { name: 'every match replaced', params: { path: '/etc/f', regexp: 'foo', replace: 'bar' }, state: editFile('foo\nfoo\n'), reason: '2 replacements made', diffs: [{ label: '/etc/f', before: 'foo\nfoo\n', after: 'bar\nbar\n' }] },
  { name: 'no match', params: { path: '/etc/f', regexp: 'foo', replace: 'bar' }, state: editFile('baz\n'), steps: [], reason: 'regexp matches nothing in /etc/f' },
  { name: 'a missing file fails about the path', params: { path: '/etc/f', regexp: 'foo' }, state: editFile(undefined), fail: { code: 'missing_path', path: '/etc/f', message: 'Path /etc/f does not exist !' } },
]);

table(command, (p) => prepareCommand(p, false), [
  { name: 'no creates/removes: no probe, one captured run', params: { _raw_params: 'echo hi' }, state: null, steps: [{ kind: 'run', script: 'exec echo hi', capture: true, allowFailure: true }], reason: 'command would run' },
  { name: 'creates exists: skipped, says why', params: { _raw_params: 'make', creates: '/x' }, state: frame({ creates: '1' }), steps: [], reason: 'creates: /x exists' },
  { name: 'removes missing: skipped', params: { _raw_params: 'make', removes: '/x' }, state: frame({ removes: '0' }), steps: [], reason: 'removes: /x does not exist' },
  { name: 'chdir missing fails about the directory', params: { _raw_params: 'make', creates: '/x', chdir: '/w' }, state: frame({ chdir_missing: '1' }), fail: { code: 'missing_path', path: '/w', message: /Unable to change directory/ } },
]);

describe('done wording is data', () => {
  it('command and shell give both wordings; the executor picks doneReason once the steps ran', () => {
    expect(command.plan(prepareCommand({ _raw_params: 'true' }, false), null)).toMatchObject({ reason: 'command would run', doneReason: 'command ran' });
    expect(shell.plan(prepareCommand({ _raw_params: 'true' }, true), null)).toMatchObject({ reason: 'shell command would run', doneReason: 'shell command ran' });
  });
});

table(systemd, prepareSystemd, [
  {
    name: 'a unit that is not there fails about its unit file name',
    params: { name: 'app.service', state: 'started' },
    state: frame({ running: '1', enabled: 'not-found', active: 'inactive', load_state: 'not-found' }),
    fail: { code: 'unit_not_found', path: 'app.service', message: 'Could not find the requested service app.service: host' },
  },
  {
    // systemctl reads `app` as app.service: check mode's overlay can match it to a planned app.service or
    // /etc/init.d/app, or to a planned install (geerlingguy.security: service fail2ban after installing fail2ban)
    name: 'a name without a suffix is about its .service unit',
    params: { name: 'app', state: 'started' },
    state: frame({ running: '1', enabled: '', active: '', load_state: '' }),
    fail: { code: 'unit_not_found', path: 'app.service', message: 'Could not find the requested service app: host' },
  },
  { name: 'enabled and active: nothing to do', params: { name: 'app.service', state: 'started', enabled: true }, state: frame({ running: '1', enabled: 'enabled', active: 'active', load_state: 'loaded' }), steps: [] },
  { name: 'stopped unit is started', params: { name: 'app.service', state: 'started' }, state: frame({ running: '1', enabled: 'enabled', active: 'inactive', load_state: 'loaded' }), steps: [{ kind: 'run', script: 'systemctl start -- app.service' }] },
]);

table(group, prepareGroup, [
  { name: 'absent group is created', params: { name: 'web', gid: 1500 }, state: frame({ entry: '', by_gid: '' }), steps: [{ kind: 'run', script: 'groupadd -g 1500 -- web' }], reason: 'create group web with gid 1500' },
  { name: 'group with that gid exists', params: { name: 'web', gid: 1500 }, state: frame({ entry: 'web:x:1500:', by_gid: 'web:x:1500:' }), steps: [], reason: 'group web exists with gid 1500' },
  { name: 'gid taken by another group', params: { name: 'web', gid: 100 }, state: frame({ entry: '', by_gid: 'users:x:100:' }), fail: { code: 'group', message: /GID '100' already exists \(group users\)/ } },
]);

table(slurp, prepareSlurp, [
  { name: 'read-only: the content as base64, no steps', params: { src: '/etc/hostname' }, state: { content: Buffer.from('h1\n') }, steps: [], result: { content: Buffer.from('h1\n').toString('base64'), encoding: 'base64' } },
  { name: 'a directory fails about it', params: { src: '/etc' }, state: { err: 'dir' }, fail: { code: 'is_directory', path: '/etc', message: 'source is a directory and must be a file: /etc' } },
  { name: 'a missing file fails about it', params: { src: '/etc/nope' }, state: { err: 'absent' }, fail: { code: 'missing_path', path: '/etc/nope', message: 'file not found: /etc/nope' } },
]);

table(statModule, prepareStat, [
  { name: 'absent: exists false, no steps', params: { path: '/etc/x' }, state: { stat: ABSENT, readable: false, writeable: false, executable: false }, steps: [], reason: 'stat is read-only: /etc/x does not exist', result: { stat: { exists: false } } },
  {
    name: 'a link: Ansible\'s names, the link target and source',
    params: { path: '/etc/l', follow: false },
    state: { stat: stat('link', '0777', { target: 'x' }), readable: true, writeable: false, executable: false, lnkSource: '/etc/x' },
    steps: [],
    result: { stat: { exists: true, islnk: true, isreg: false, lnk_target: 'x', lnk_source: '/etc/x', pw_name: 'root', readable: true, writeable: false } },
  },
  { name: 'a file with its checksum', params: { path: '/etc/f' }, state: { stat: stat('file', '0600'), readable: true, writeable: true, executable: false, checksum: 'abc' }, result: { stat: { isreg: true, mode: '0600', checksum: 'abc' } }, reason: 'stat is read-only: /etc/f is a regular file' },
]);

table(timezone, prepareTimezone, [
  {
    name: 'with systemd: timedatectl; /etc/timezone kept in step',
    params: { name: 'Europe/Berlin' },
    state: frame({ localtime_link: '/usr/share/zoneinfo/Etc/UTC', etc_timezone: 'Etc/UTC\n', zone_exists: '1', systemd: '1' }),
    steps: [{ kind: 'run', script: "timedatectl set-timezone Europe/Berlin" }, { kind: 'write', path: '/etc/timezone', content: 'Europe/Berlin\n' }],
    diffs: [{ label: 'timezone', before: 'Etc/UTC\n', after: 'Europe/Berlin\n' }],
  },
  { name: 'already set', params: { name: 'Etc/UTC' }, state: frame({ localtime_link: '../usr/share/zoneinfo/Etc/UTC', etc_timezone: 'Etc/UTC\n', zone_exists: '1' }), steps: [], reason: 'time zone is Etc/UTC' },
  {
    name: 'an unknown zone fails about its zoneinfo file',
    params: { name: 'Mars/Base' },
    state: frame({ localtime_link: '/usr/share/zoneinfo/Etc/UTC', zone_exists: '0' }),
    fail: { code: 'unknown_zone', path: '/usr/share/zoneinfo/Mars/Base', message: 'timezone: Mars/Base is not a known time zone (no /usr/share/zoneinfo/Mars/Base on the host)' },
  },
]);

table(debconf, prepareDebconf, [
  { name: 'the answer is there', params: { name: 'tzdata', question: 'tzdata/Areas', vtype: 'select', value: 'Europe' }, state: frame({ show: '* tzdata/Areas: Europe\n' }), steps: [], reason: "tzdata tzdata/Areas is already 'Europe'" },
  {
    name: 'a different answer is set through stdin',
    params: { name: 'tzdata', question: 'tzdata/Areas', vtype: 'select', value: 'Asia' },
    state: frame({ show: '* tzdata/Areas: Europe\n' }),
    steps: [{ kind: 'run', script: 'debconf-set-selections', input: 'tzdata tzdata/Areas select Asia\n' }],
    reason: "tzdata tzdata/Areas: 'Europe' -> 'Asia'",
  },
  { name: 'no debconf on the host', params: { name: 'tzdata', question: 'q', vtype: 'string', value: 'v' }, state: frame({ no_debconf: '1' }), fail: { code: 'no_debconf', message: /does not use debconf/ } },
]);

table(sysctl, (p) => sysctl.prepare!(p, ctx), [
  {
    name: 'a key the kernel does not have fails about its /proc/sys path',
    params: { name: 'net.ipv4.nope', value: 1, sysctl_file: '/etc/sysctl.d/99-x.conf' },
    state: { live: { kind: 'unknown' }, file: { kind: 'absent' } },
    fail: { code: 'unknown_key', path: '/proc/sys/net/ipv4/nope', message: 'unknown sysctl key net.ipv4.nope (no /proc/sys/net/ipv4/nope)' },
  },
  {
    name: 'live value and file already right',
    params: { name: 'net.ipv4.ip_forward', value: 1, sysctl_file: '/etc/sysctl.d/99-x.conf' },
    state: { live: { kind: 'value', value: '1' }, file: { kind: 'file', content: 'net.ipv4.ip_forward=1\n', mode: '0644' } },
    steps: [],
  },
]);

// ------------------------------------------------------------------------------------------------------------------
// the idempotence law, through the real interpreter on the local connection

describe('idempotence law: probe -> plan -> apply (lib/executor/apply.ts) -> probe -> plan has no steps', () => {
  let tmp = '';
  const conn = new LocalConnection('local');
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rb-plans-'));
  });
  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function probePlan(mod: ModuleDef<any, any>, p: unknown): Promise<Plan> {
    const probe = mod.probe(p);
    return mod.plan(p, probe === null ? null : probe.parse(await conn.run(probe.script)));
  }

  async function law(mod: ModuleDef<any, any>, params: Record<string, unknown>): Promise<Plan> {
    const p = mod.prepare ? await mod.prepare(params, ctx) : params;
    const first = await probePlan(mod, p);
    expect(first.fail, first.fail?.message).toBeUndefined();
    expect(first.steps.length, `${mod.name} had nothing to do: ${first.reason}`).toBeGreaterThan(0);
    await applySteps(conn, first.steps, {});
    const again = await probePlan(mod, p);
    expect(again.fail, again.fail?.message).toBeUndefined();
    expect(again.steps, `${mod.name} again: ${again.reason}`).toEqual([]);
    expect(again.reason).not.toBe('');
    return first;
  }

  it('copy: create, then a content change, then a mode change', async () => {
    const dest = path.join(tmp, 'a b.conf');
    await law(copy, { dest, content: 'one\n', mode: '0640' });
    await law(copy, { dest, content: 'two\n' });
    expect(fs.readFileSync(dest, 'utf8')).toBe('two\n');
    await law(copy, { dest, content: 'two\n', mode: '0600' });
    expect(fs.statSync(dest).mode & 0o7777).toBe(0o600);
  });

  it('copy: dest/ that does not exist yet is created', async () => {
    const src = path.join(tmp, 'src.txt');
    fs.writeFileSync(src, 'payload\n');
    await law(copy, { src, dest: path.join(tmp, 'new', 'dir') + '/' });
    expect(fs.readFileSync(path.join(tmp, 'new', 'dir', 'src.txt'), 'utf8')).toBe('payload\n');
  });

  it('template: rendered content, then no-op', async () => {
    const src = path.join(tmp, 'app.conf.j2');
    fs.writeFileSync(src, 'port={{ port }}\n');
    await law(template, { src, dest: path.join(tmp, 'app.conf') });
    expect(fs.readFileSync(path.join(tmp, 'app.conf'), 'utf8')).toBe('port=8080\n');
  });

  it('file: directory with parents, link, touch-free attributes, absent', async () => {
    const d = path.join(tmp, 'x', 'y');
    await law(file, { path: d, state: 'directory', mode: '0750' });
    expect(fs.statSync(d).mode & 0o7777).toBe(0o750);
    await law(file, { path: path.join(tmp, 'l'), state: 'link', src: d });
    expect(fs.readlinkSync(path.join(tmp, 'l'))).toBe(d);
    fs.writeFileSync(path.join(tmp, 'f'), 'x');
    fs.chmodSync(path.join(tmp, 'f'), 0o644);
    await law(file, { path: path.join(tmp, 'f'), state: 'file', mode: '0600' });
    await law(file, { path: path.join(tmp, 'x'), state: 'absent' });
    expect(fs.existsSync(path.join(tmp, 'x'))).toBe(false);
  });

  it('lineinfile: create, replace by regexp, remove', async () => {
    const f = path.join(tmp, 'etc', 'app.ini');
    await law(lineinfile, { path: f, line: 'port=1', create: true });
    await law(lineinfile, { path: f, regexp: '^port=', line: 'port=2' });
    await law(lineinfile, { path: f, line: 'debug=1' });
    await law(lineinfile, { path: f, regexp: '^debug', state: 'absent' });
    expect(fs.readFileSync(f, 'utf8')).toBe('port=2\n');
  });

  it('blockinfile: insert, change, remove', async () => {
    const f = path.join(tmp, 'hosts');
    fs.writeFileSync(f, '127.0.0.1 localhost\n');
    await law(blockinfile, { path: f, block: '10.0.0.1 a' });
    await law(blockinfile, { path: f, block: '10.0.0.1 a\n10.0.0.2 b' });
    await law(blockinfile, { path: f, state: 'absent' });
    expect(fs.readFileSync(f, 'utf8')).toBe('127.0.0.1 localhost\n');
  });

  it('replace: every match, keeping the mode', async () => {
    const f = path.join(tmp, 'r.conf');
    fs.writeFileSync(f, 'a=old\nb=old\n');
    fs.chmodSync(f, 0o640);
    await law(replace, { path: f, regexp: '=old$', replace: '=new' });
    expect(fs.readFileSync(f, 'utf8')).toBe('a=new\nb=new\n');
    expect(fs.statSync(f).mode & 0o7777).toBe(0o640);
  });

  it('command with creates: runs once, then says why not', async () => {
    const marker = path.join(tmp, 'done');
    const first = await law(command, { _raw_params: `touch ${marker}`, creates: marker });
    expect(first.doneReason).toBe('command ran');
    expect(fs.existsSync(marker)).toBe(true);
  });

  it('a failing step is a structured failure: code, and the path a write was for', async () => {
    const dest = path.join(tmp, 'missing-dir', 'f');
    const err = await applySteps(conn, [{ kind: 'write', path: dest, content: 'x' }], {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepFailed);
    expect((err as StepFailed).failure).toMatchObject({ code: 'step_failed', path: dest });
    expect((err as StepFailed).failure.message).toMatch(`write ${dest} failed`);
  });
});

// ------------------------------------------------------------------------------------------------------------------
// check mode's overlay: data recorded from plans, consulted with a failure's path

describe('check-mode overlay', () => {
  it('records write paths, result path/dest and the directories they imply', () => {
    const overlay = new Set<string>();
    recordPlanned(overlay, { steps: [{ kind: 'write', path: '/etc/app/conf.d/a.conf', content: 'x' }], reason: 'r' });
    recordPlanned(overlay, { steps: [{ kind: 'run', script: 'mkdir -p -- /srv/data/x' }], reason: 'r', result: { path: '/srv/data/x' } });
    expect([...overlay].sort()).toEqual(['/etc', '/etc/app', '/etc/app/conf.d', '/etc/app/conf.d/a.conf', '/srv', '/srv/data', '/srv/data/x']);
  });

  it("a failure whose path is planned is a hit; its message text plays no part", () => {
    const overlay = new Set<string>();
    recordPlanned(overlay, { steps: [{ kind: 'write', path: '/etc/systemd/system/app.service', content: 'x' }], reason: 'r' });
    expect(overlayHit(overlay, { code: 'missing_parent', path: '/etc/systemd/system', message: 'anything' })).toBe('/etc/systemd/system');
    expect(overlayHit(overlay, { code: 'unit_not_found', path: 'app.service', message: 'Could not find the requested service app.service: host' })).toBe('/etc/systemd/system/app.service');
    // the path named in a message, but not as the failure's path: not a hit
    expect(overlayHit(overlay, { code: 'x', message: 'Destination /etc/systemd/system does not exist' })).toBeUndefined();
    expect(overlayHit(overlay, { code: 'x', path: '/etc/systemd/system2', message: '/etc/systemd/system' })).toBeUndefined();
    expect(overlayHit(overlay, { code: 'x', path: 'other.service', message: 'app.service' })).toBeUndefined();
  });

  it('a unit NAME.service not found after a planned SysV script /etc/init.d/NAME is a hit (geerlingguy.firewall)', () => {
    const overlay = new Set<string>();
    recordPlanned(overlay, { steps: [{ kind: 'write', path: '/etc/init.d/firewall', content: '#!/bin/sh' }], reason: 'r' });
    expect(overlayHit(overlay, { code: 'unit_not_found', path: 'firewall.service', message: 'Could not find the requested service firewall: host' })).toBe('/etc/init.d/firewall');
    expect(overlayHit(overlay, { code: 'unit_not_found', path: 'other.service', message: 'x' })).toBeUndefined();
    expect(overlayHit(overlay, { code: 'unit_not_found', path: 'firewall.socket', message: 'x' })).toBeUndefined();
  });

  it('a unit not found carries the plans for the unit written (disabled, inactive) and installed by a package (enabled, started)', () => {
    const notRunning = systemd.plan(prepareSystemd({ name: 'fail2ban', state: 'started', enabled: true }), frame({ running: '0', enabled: '', active: '', load_state: '' }));
    expect(notRunning.fail?.code).toBe('unit_not_found');
    // geerlingguy.security on a host without systemd: the package enables its unit; the state is not managed
    expect(notRunning.fail?.ifInstalled?.steps).toEqual([]);
    expect(notRunning.fail?.ifInstalled?.reason).toMatch(/already enabled; systemd is not running/);
    // geerlingguy.firewall: an init script it writes itself is not enabled yet
    expect(notRunning.fail?.ifCreated?.steps.map((st) => (st.kind === 'run' ? st.script : st.kind))).toEqual(['systemctl enable -- fail2ban.service']);
    const running = systemd.plan(prepareSystemd({ name: 'app', state: 'restarted' }), frame({ running: '1', enabled: '', active: '', load_state: '' }));
    expect(running.fail?.ifCreated?.steps.map((st) => (st.kind === 'run' ? st.script : st.kind))).toEqual(['systemctl start -- app.service']);
    expect(running.fail?.ifInstalled?.steps.map((st) => (st.kind === 'run' ? st.script : st.kind))).toEqual(['systemctl restart -- app.service']);
  });

  it('a unit not found after a planned package install is a hit (geerlingguy.security: service fail2ban); a planned user is not a path', () => {
    const overlay = new Set<string>();
    recordPlanned(overlay, { steps: [{ kind: 'run', script: 'apt-get install fail2ban' }], reason: 'r', installs: ['fail2ban'], accounts: ['caddy'] });
    expect([...overlay].sort()).toEqual(['account:caddy', 'package:fail2ban']);
    expect(overlayHit(overlay, { code: 'unit_not_found', path: 'fail2ban.service', message: 'Could not find the requested service fail2ban: host' })).toBe('fail2ban.service (after installing fail2ban)');
    expect(overlayHit(overlay, { code: 'x', path: 'caddy', message: 'x' })).toBeUndefined();
  });
});
