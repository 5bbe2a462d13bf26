/**
 * Issue 14, batch B: backup / validate (copy, template, lineinfile, blockinfile, replace), symbolic modes, file's
 * recurse / follow / access_time / modification_time, user's password_expire_*, and the modules raw, script, uri,
 * fetch, wait_for, pause, community.sops.sops_encrypt.
 *
 * 1. Pure data: params + State (a framed probe output) -> steps / reason / failure; Ansible's symbolic-mode rules.
 * 2. Real scripts on this machine: atomicWriteScript's backup and validate; wait_for's probe loop.
 * 3. Over SSH against a lab host: --check predicts exactly what apply changes, apply does it (checked on the host and
 *    the controller), a second apply and --check change nothing; the always-changed and failing cases separately.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';

import type { ExecResult } from '../lib/connection/types.js';
import { planFrom, type ModuleContext } from '../lib/modules/types.js';
import { formatFrame } from '../lib/modules/common.js';
import { resolveMode } from '../lib/modules/file-attrs.js';
import { atomicWriteScript, validateCommand } from '../lib/connection/scripts.js';
import copy from '../lib/modules/copy.js';
import lineinfile from '../lib/modules/lineinfile.js';
import replace from '../lib/modules/replace.js';
import file from '../lib/modules/file.js';
import { strptimeLocal } from '../lib/modules/file-times.js';
import user from '../lib/modules/user.js';
import raw from '../lib/modules/raw.js';
import script from '../lib/modules/script.js';
import uri from '../lib/modules/uri.js';
import waitFor from '../lib/modules/wait-for.js';
import sopsEncrypt from '../lib/modules/sops-encrypt.js';
import ufw from '../lib/modules/ufw.js';
import { fetchDest, planFetch } from '../lib/actions/fetch.js';
import { resolveAction } from '../lib/modules/registry.js';
import { unsupportedModule } from '../lib/modules/unsupported.js';
import { Lab } from '../lib/lab/lab.js';
import { cliAsync, events, ROOT } from './helpers.js';

const frame = (kv: Record<string, string | Buffer>): ExecResult => ({ code: 0, stdout: formatFrame(kv), stderr: '' });
const sh = (script: string, input?: string): ExecResult => {
  const r = spawnSync('/bin/sh', ['-c', script], { input: input ?? '' });
  return { code: r.status ?? 128, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
};
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-modsb-'));
const ctx: ModuleContext = {
  host: 'h',
  vars: {},
  findFile: (_k, name) => (fs.existsSync(path.join(TMP, name)) ? path.join(TMP, name) : undefined),
  renderTemplateFile: () => '',
};
const prep = async (m: { prepare?: (p: Record<string, unknown>, c: ModuleContext) => unknown }, params: Record<string, unknown>): Promise<any> => (m.prepare ? await m.prepare(params, ctx) : params);

// a regular file's stat record as statShell prints it (%f %u %g %s %Y %X %Z %i %d %h), mode in octal
const fileRaw = (mode: number, type = 0o100000) => `${(type | mode).toString(16)} 0 0 4 1700000000 1700000000 1700000000 1 1 1`;
const existing = (mode: number, content: string, extra: Record<string, string> = {}) =>
  frame({ path: '/etc/app.conf', parent: '1', d_raw: fileRaw(mode), d_owner: 'root', d_group: 'root', content: Buffer.from(content), uid: '0', umask: '0022', ...extra });

afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }));

// ------------------------------------------------------------------------------------------------------------------
describe('symbolic modes: Ansible _symbolic_mode_to_octal', () => {
  const cases: Array<[string, string, boolean, string, number?]> = [
    ['u+rwx,go-w', '0644', false, '0744'],
    ['u+rwx,go-w', '0666', false, '0744'],
    ['a=r', '0755', false, '0444'],
    ['u=rwX', '0600', false, '0600'], // a file with no x bit: X adds nothing
    ['u=rwX', '0610', false, '0710'], // some x bit: X means x
    ['u=rwX,go=rX', '0700', true, '0755'], // a directory: X is x
    ['go=rX', '0600', false, '0644'],
    ['+x', '0644', false, '0755'], // no who: a, the umask's bits untouched
    ['+w', '0644', false, '0644', 0o022],
    ['g=u', '0750', false, '0770'],
    ['o-rwx', '0777', false, '0770'],
    ['u+s', '0755', false, '4755'],
    ['u=', '4755', false, '0055'], // = clears the class's setuid bit too
    ['o+t', '0777', true, '1777'],
    ['0644', '0600', false, '0644'], // octal passes through
  ];
  for (const [mode, cur, dir, want, umask] of cases) {
    it(`${mode} on ${cur}${dir ? ' (dir)' : ''} -> ${want}`, () => expect(resolveMode(mode, { mode: cur, directory: dir }, umask ?? 0o022)).toBe(want));
  }

  it('copy: a symbolic mode is resolved against the file as it is; a new file starts at 0666 minus the umask', async () => {
    const p = await prep(copy, { dest: '/etc/app.conf', content: 'x\n', mode: 'u+x,go-w' });
    const plan = planFrom(copy, p, existing(0o664, 'x\n'));
    expect(plan.steps).toEqual([{ kind: 'run', script: "chmod 0744 -- /etc/app.conf", describe: "mode 0664 -> 0744" }]);
    const fresh = planFrom(copy, p, frame({ path: '/etc/app.conf', parent: '1', d_raw: 'absent', uid: '0', umask: '0027' }));
    expect(fresh.steps[0]).toMatchObject({ kind: 'write', mode: '0740' });
    expect(planFrom(copy, p, existing(0o744, 'x\n')).steps).toEqual([]);
  });
});

describe('backup and validate (data)', () => {
  it('copy: an existing file rewritten gets backup + validate on its write step; a new file only validate', async () => {
    const p = await prep(copy, { dest: '/etc/app.conf', content: 'new\n', backup: true, validate: '/usr/sbin/visudo -cf %s' });
    const plan = planFrom(copy, p, existing(0o644, 'old\n'));
    expect(plan.steps).toHaveLength(1);
    expect(plan.steps[0]).toMatchObject({ kind: 'write', path: '/etc/app.conf', backup: true, validate: '/usr/sbin/visudo -cf %s' });
    const fresh = planFrom(copy, p, frame({ path: '/etc/app.conf', parent: '1', d_raw: 'absent', uid: '0' }));
    expect(fresh.steps[0]).toMatchObject({ kind: 'write', validate: '/usr/sbin/visudo -cf %s' });
    expect((fresh.steps[0] as { backup?: boolean }).backup).toBeUndefined();
    // same content: nothing to write, nothing backed up
    expect(planFrom(copy, p, existing(0o644, 'new\n')).steps).toEqual([]);
  });

  it('lineinfile and replace carry them too; finish reports the backup under Ansible\'s key', async () => {
    const p = await prep(lineinfile, { path: '/etc/app.conf', line: 'b', backup: true, validate: 'true %s' });
    const plan = planFrom(lineinfile, p, existing(0o600, 'a\n'));
    expect(plan.steps[0]).toMatchObject({ kind: 'write', backup: true, validate: 'true %s', mode: '0600' });
    const out = [{ code: 0, stdout: 'backup_file=/etc/app.conf.42.2026-12-02@09:00:00~\n', stderr: '' }];
    expect(lineinfile.finish!(p, out, plan)).toEqual({ backup: '/etc/app.conf.42.2026-12-02@09:00:00~' });
    expect(lineinfile.finish!(p, [{ code: 0, stdout: '', stderr: '' }], plan)).toEqual({ backup: '' });
    const r = await prep(replace, { path: '/etc/app.conf', regexp: 'a', replace: 'c', backup: true });
    expect(planFrom(replace, r, existing(0o644, 'a\n')).steps[0]).toMatchObject({ kind: 'write', backup: true });
    expect(replace.finish!(r, out, plan)).toEqual({ backup_file: '/etc/app.conf.42.2026-12-02@09:00:00~' });
  });

  it('validate without %s is refused with Ansible\'s message', async () => {
    await expect(prep(copy, { dest: '/x', content: 'a', validate: 'visudo -c' })).rejects.toThrow('validate must contain %s: visudo -c');
    expect(validateCommand("sh -c 'grep -q ok %s' x")).toBe(`sh -c 'grep -q ok '"$tmp" x`);
  });

  it('atomicWriteScript: backup copies the old file to PATH.PID.DATE~; a failing validate leaves the target alone', () => {
    const dir = fs.mkdtempSync(path.join(TMP, 'w-'));
    const target = path.join(dir, 'app.conf');
    fs.writeFileSync(target, 'old\n');
    const bad = sh(atomicWriteScript(target, { validate: 'grep -q good %s' }), 'bad\n');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('failed to validate: rc:1 error:\n');
    expect(fs.readFileSync(target, 'utf8')).toBe('old\n');
    expect(fs.readdirSync(dir)).toEqual(['app.conf']);
    const ok = sh(atomicWriteScript(target, { validate: 'grep -q good %s', backup: true, mode: '0640' }), 'good\n');
    expect(ok.code, ok.stderr).toBe(0);
    const m = /^backup_file=(.*)$/m.exec(ok.stdout);
    expect(m![1]).toMatch(new RegExp(`^${dir}/app\\.conf\\.\\d+\\.\\d{4}-\\d\\d-\\d\\d@\\d\\d:\\d\\d:\\d\\d~$`));
    expect(fs.readFileSync(m![1]!, 'utf8')).toBe('old\n');
    expect(fs.readFileSync(target, 'utf8')).toBe('good\n');
  });
});

describe('file: recurse, follow, times (data)', () => {
  const dirState = (extra: Record<string, string | Buffer> = {}) => frame({ l_raw: fileRaw(0o755, 0o040000), l_owner: 'root', l_group: 'root', empty: '0', umask: '0022', ...extra });
  it('recurse resolves the mode per entry (X for directories) and changes only what differs', async () => {
    const p = await prep(file, { path: '/srv/t', state: 'directory', recurse: true, mode: 'u=rwX,go=rX' });
    const tree = Buffer.from(['d 700 0 0 root:root:/srv/t/sub', 'f 600 0 0 root:root:/srv/t/sub/a', 'f 644 0 0 root:root:/srv/t/b', 'l 777 0 0 root:root:/srv/t/link'].join('\0') + '\0');
    const plan = planFrom(file, p, dirState({ tree }));
    expect(plan.steps).toHaveLength(1);
    expect((plan.steps[0] as { script: string }).script).toBe('chmod 00755 -- /srv/t/sub && chmod 0644 -- /srv/t/sub/a');
    expect(plan.reason).toBe('2 entries below /srv/t (recurse)');
    const done = Buffer.from(['d 755 0 0 root:root:/srv/t/sub', 'f 644 0 0 root:root:/srv/t/sub/a'].join('\0') + '\0');
    expect(planFrom(file, p, dirState({ tree: done })).steps).toEqual([]);
    await expect(prep(file, { path: '/x', state: 'file', recurse: true })).rejects.toThrow("recurse option requires state to be 'directory'");
  });
  it('follow: false on a link refuses state=file, as Ansible', async () => {
    const p = await prep(file, { path: '/l', state: 'file', follow: false, mode: '0644' });
    const link = frame({ l_raw: fileRaw(0o777, 0o120000), l_target: '/f', t_raw: fileRaw(0o600), umask: '0022' });
    expect(planFrom(file, p, link).fail?.message).toBe('file (/l) is link, cannot continue');
    const followed = await prep(file, { path: '/l', state: 'file', mode: '0644' });
    expect(planFrom(file, followed, link).steps).toHaveLength(1);
  });
  it('modification_time in the default format: the host turns it into seconds; equal times are a no-op', async () => {
    expect(strptimeLocal('202401020304.05', '%Y%m%d%H%M.%S')).toBe('2024-01-02 03:04:05');
    expect(strptimeLocal('02/01/2024 3:04 PM', '%d/%m/%Y %I:%M %p')).toBe('2024-01-02 15:04:00');
    const p = await prep(file, { path: '/f', modification_time: '202401020304.05' });
    expect(p.mtime).toEqual({ kind: 'at', local: '2024-01-02 03:04:05' });
    const st = (m: string) => frame({ l_raw: fileRaw(0o644), umask: '0022', times: `${m} 1700000000.500000000`, at_m: '1704164645' });
    expect(planFrom(file, p, st('1704164645.000000000')).steps).toEqual([]);
    expect(planFrom(file, p, st('1704164645.250000000')).steps).toEqual([{ kind: 'run', script: 'touch -m -d @1704164645 -- /f', describe: 'modification time 1704164645.250000000 -> 1704164645' }]);
    const now = await prep(file, { path: '/f', access_time: 'now' });
    expect(planFrom(file, now, st('1')).steps).toHaveLength(1); // 'now' always differs, as in Ansible
    await expect(prep(file, { path: '/f', modification_time: 'yesterday' })).rejects.toThrow(/Error while obtaining timestamp for time yesterday/);
  });
});

describe('user password_expire_* (data)', () => {
  const pw = 'rbk:x:1001:1001::/home/rbk:/bin/sh';
  it('chage only for the aging fields that differ', async () => {
    const p = await prep(user, { name: 'rbk', password_expire_max: 90, password_expire_min: 1, password_expire_warn: 7 });
    const plan = planFrom(user, p, frame({ passwd: pw, member: '', home_exists: '1', aging: 'rbk:!:19000:0:99999:7:::' }));
    expect(plan.steps).toEqual([{ kind: 'run', script: 'chage -m 1 -M 90 -- rbk', describe: 'chage rbk' }]);
    expect(planFrom(user, p, frame({ passwd: pw, member: '', home_exists: '1', aging: 'rbk:!:19000:1:90:7:::' })).steps).toEqual([]);
    const fresh = planFrom(user, p, frame({ passwd: '', member: '' }));
    expect((fresh.steps[0] as { script: string }).script).toMatch(/^useradd .* -- rbk && chage -m 1 -M 90 -W 7 -- rbk$/);
  });
});

describe('raw, script, uri, wait_for, fetch, sops_encrypt (data)', () => {
  it('raw: no probe, always one step; executable runs the text with that shell', async () => {
    const p = await prep(raw, { _raw_params: 'echo hi', executable: '/bin/bash' });
    expect(raw.probe(p)).toBeNull();
    expect(planFrom(raw, p, null).steps).toEqual([{ kind: 'run', script: "exec /bin/bash -c 'echo hi'", capture: true, allowFailure: true, describe: 'echo hi' }]);
    expect(raw.finish!(p, [{ code: 2, stdout: 'a\n', stderr: '' }], planFrom(raw, p, null))).toMatchObject({ rc: 2, failed: true, msg: 'non-zero return code', stdout_lines: ['a'] });
    expect(resolveAction('ansible.builtin.raw')?.kind).toBe('module');
  });
  it('script: the controller file travels as stdin; creates skips', async () => {
    fs.writeFileSync(path.join(TMP, 'hello.sh'), '#!/bin/sh\necho "hello $1"\n');
    const p = await prep(script, { _raw_params: "hello.sh 'big world'", creates: '/done' });
    expect(p.args).toBe("'big world'");
    const plan = planFrom(script, p, frame({ creates: '0' }));
    expect(plan.steps[0]).toMatchObject({ kind: 'run', input: Buffer.from('#!/bin/sh\necho "hello $1"\n'), capture: true });
    const r = sh((plan.steps[0] as { script: string }).script, '#!/bin/sh\necho "hello $1"\n');
    expect(r.stdout).toBe('hello big world\n');
    expect(planFrom(script, p, frame({ creates: '1' }))).toMatchObject({ steps: [], reason: 'creates: /done exists' });
    await expect(prep(script, { _raw_params: 'nope.sh' })).rejects.toThrow(/could not find or access 'nope.sh'/);
  });
  it('uri: GET is answered by the probe (never changed); a wrong status fails with Ansible\'s message; POST is the step', async () => {
    const get = await prep(uri, { url: 'http://h/x', return_content: true });
    const resp = (status: string) => frame({ status, url: 'http://h/x', headers: Buffer.from(`HTTP/1.0 ${status} X\r\nContent-Type: application/json\r\n\r\n`), body: Buffer.from('{"a":1}'), elapsed: '0' });
    const ok = planFrom(uri, get, resp('200'));
    expect(ok.steps).toEqual([]);
    expect(ok.result).toMatchObject({ status: 200, content: '{"a":1}', json: { a: 1 }, content_type: 'application/json', redirected: false });
    expect(planFrom(uri, get, resp('404')).fail?.message).toBe('Status code was 404 and not [200]: HTTP Error 404');
    expect(planFrom(uri, get, frame({ curl_error: 'curl: (7) Failed to connect', elapsed: '0' })).fail?.message).toMatch(/^Status code was -1 and not \[200\]: Request failed: curl: \(7\)/);
    const post = await prep(uri, { url: 'http://h/x', method: 'POST', body: { a: 1 }, body_format: 'json', status_code: [201] });
    const plan = planFrom(uri, post, frame({}));
    expect(plan.steps[0]).toMatchObject({ kind: 'run', input: '{"a":1}', capture: true });
    expect((plan.steps[0] as { script: string }).script).toContain("-H 'Content-Type: application/json'");
    expect(uri.finish!(post, [resp('200')], plan)).toMatchObject({ status: 200, failed: true });
  });
  it('wait_for: the probe waits (bounded) and the plan reads it; Ansible\'s timeout message or msg', async () => {
    const present = await prep(waitFor, { path: TMP, timeout: 5 });
    expect(planFrom(waitFor, present, sh(waitFor.probe(present)!.script)).steps).toEqual([]);
    const missing = await prep(waitFor, { path: path.join(TMP, 'never'), timeout: 1 });
    expect(planFrom(waitFor, missing, sh(waitFor.probe(missing)!.script)).fail?.message).toBe(`Timeout when waiting for file ${path.join(TMP, 'never')}`);
    const custom = await prep(waitFor, { path: path.join(TMP, 'never'), timeout: 0, msg: 'no file' });
    expect(planFrom(waitFor, custom, sh(waitFor.probe(custom)!.script)).fail?.message).toBe('no file');
    await expect(prep(waitFor, { path: '/x', port: 1 })).rejects.toThrow('port and path parameter can not both be passed to wait_for');
  });
  it('fetch: dest layout and a pure plan against the controller copy', () => {
    const p = { src: '/etc/app.conf', dest: 'out', flat: false, failOnMissing: true, validateChecksum: true };
    expect(fetchDest(p, 'web1', '/play')).toBe('/play/out/web1/etc/app.conf');
    expect(fetchDest({ ...p, flat: true, dest: 'out/' }, 'web1', '/play')).toBe('/play/out/app.conf');
    const content = Buffer.from('x\n');
    expect(planFetch(p, { kind: 'file', content }, '/d', undefined).outcome.status).toBe('changed');
    expect(planFetch(p, { kind: 'file', content }, '/d', Buffer.from('x\n')).outcome).toMatchObject({ status: 'ok', result: { changed: false } });
    expect(planFetch(p, { kind: 'missing' }, '/d', undefined).outcome).toMatchObject({ status: 'failed', result: { msg: 'file not found: /etc/app.conf' } });
    expect(planFetch({ ...p, failOnMissing: false }, { kind: 'missing' }, '/d', undefined).outcome).toMatchObject({ status: 'ok', result: { msg: 'the remote file does not exist, not transferring, ignored' } });
  });
  it('sops_encrypt: a file that decrypts to the same tree is kept; another tree is rewritten', async () => {
    const id = await generateIdentity();
    const recipient = await identityToRecipient(id);
    const p = await prep(sopsEncrypt, { path: '/s.sops.yaml', content_yaml: { password: 'hunter2' }, age: [recipient], age_key: id });
    expect(p.encrypted).not.toContain('hunter2');
    const st = (content: string) => frame({ d_raw: fileRaw(0o600), d_owner: 'root', d_group: 'root', content: Buffer.from(content) });
    expect(planFrom(sopsEncrypt, p, st(p.encrypted)).steps).toEqual([]);
    const other = await prep(sopsEncrypt, { path: '/s.sops.yaml', content_yaml: { password: 'other' }, age: [recipient] });
    const plan = planFrom(sopsEncrypt, p, st(other.encrypted));
    expect(plan.steps[0]).toMatchObject({ kind: 'write', path: '/s.sops.yaml', content: p.encrypted, mode: '0600' });
    expect(planFrom(sopsEncrypt, p, frame({ d_raw: 'absent' })).reason).toBe('/s.sops.yaml does not exist');
    await expect(prep(sopsEncrypt, { path: '/s.txt', content_text: 'x', age: [recipient] })).rejects.toThrow(/not supported by runbook yet/);
  });
});

describe('registration', () => {
  it('the new modules and actions resolve by short name and FQCN and are no longer "not supported"', () => {
    const mods = ['raw', 'ansible.builtin.raw', 'script', 'ansible.legacy.script', 'uri', 'ansible.builtin.uri', 'wait_for', 'ansible.builtin.wait_for', 'ufw', 'community.general.ufw', 'sops_encrypt', 'community.sops.sops_encrypt'];
    for (const n of mods) {
      expect(resolveAction(n)?.kind, n).toBe('module');
      expect(unsupportedModule(n), n).toBeUndefined();
    }
    for (const n of ['fetch', 'ansible.builtin.fetch', 'pause', 'ansible.builtin.pause']) {
      expect(resolveAction(n)?.kind, n).toBe('action');
      expect(unsupportedModule(n), n).toBeUndefined();
    }
  });
});

describe('ufw (data)', () => {
  const T22 = '### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n### tuple ### allow tcp 22 ::/0 any ::/0 in';
  const inactive = { status: 'Status: inactive', policies: 'DEFAULT_INPUT_POLICY="DROP"\nDEFAULT_OUTPUT_POLICY="ACCEPT"\nDEFAULT_FORWARD_POLICY="DROP"', loglevel: 'LOGLEVEL=low' };
  it('a rule: the words Ansible passes; an existing rule (all Skipping) is a no-op; a new tuple is the change', async () => {
    const p = await prep(ufw, { rule: 'allow', port: 22, proto: 'tcp', comment: 'ssh' });
    expect(p.rule).toEqual(['allow', 'from', 'any', 'to', 'any', 'port', '22', 'proto', 'tcp', 'comment', 'ssh']);
    const skip = planFrom(ufw, p, frame({ ...inactive, rules: T22, dry: 'Skipping adding existing rule\nSkipping adding existing rule (v6)' }));
    expect(skip.steps).toEqual([]);
    const dryNew = `*filter\n### RULES ###\n\n${T22.split('\n')[0]}\n-A ufw-user-input -p tcp --dport 22 -j ACCEPT\n\n*filter\n${T22.split('\n')[1]}\n`;
    const add = planFrom(ufw, p, frame({ ...inactive, rules: '', dry: dryNew }));
    expect(add.steps).toEqual([{ kind: 'run', script: 'LANG=C ufw allow from any to any port 22 proto tcp comment ssh', describe: 'ufw allow from any to any port 22 proto tcp comment ssh' }]);
    await expect(prep(ufw, { rule: 'allow', direction: 'incoming' })).rejects.toThrow('For rules, direction must be one of "in" and "out"');
    await expect(prep(ufw, { comment: 'x' })).rejects.toThrow('one of the following is required: state, default, rule, logging');
  });
  it('default and logging of an inactive ufw come from its configuration; enabled compares the status', async () => {
    const d = await prep(ufw, { default: 'deny', direction: 'outgoing' });
    expect(planFrom(ufw, d, frame({ ...inactive, rules: '' })).steps).toHaveLength(1);
    expect(planFrom(ufw, d, frame({ ...inactive, policies: 'DEFAULT_OUTPUT_POLICY="DROP"', rules: '' })).steps).toEqual([]);
    const l = await prep(ufw, { logging: 'medium' });
    expect(planFrom(ufw, l, frame({ ...inactive, rules: '' })).reason).toBe('logging on (low) -> medium');
    expect(planFrom(ufw, l, frame({ ...inactive, loglevel: 'LOGLEVEL=medium', rules: '' })).steps).toEqual([]);
    const e = await prep(ufw, { state: 'enabled' });
    expect(planFrom(ufw, e, frame({ status: 'Status: active\nLogging: on (low)\nDefault: deny (incoming), allow (outgoing), disabled (routed)', rules: '' })).steps).toEqual([]);
    expect(planFrom(ufw, e, frame({ ...inactive, rules: '' })).steps[0]).toMatchObject({ script: 'LANG=C ufw -f enable' });
    expect(planFrom(ufw, e, frame({ no_ufw: '1' })).fail?.message).toBe('Failed to find required executable "ufw" in paths');
  });
});

// ------------------------------------------------------------------------------------------------------------------
// over SSH against a lab host

const SITE = `- hosts: all
  gather_facts: false
  tasks:
    - name: backup and validate a config
      copy:
        dest: "{{ work }}/app.conf"
        content: "key=new\\n"
        backup: true
        validate: "grep -q key= %s"
    - name: lineinfile with backup
      lineinfile: { path: "{{ work }}/lines.conf", line: added, backup: true }
    - name: symbolic modes recursively
      file: { path: "{{ work }}/tree", state: directory, recurse: true, mode: "u=rwX,go=rX" }
    - name: symbolic mode on a new copy
      copy: { dest: "{{ work }}/sym.txt", content: "x\\n", mode: "u+x,go-w" }
    - name: fixed modification time
      file: { path: "{{ work }}/app.conf", modification_time: "202401020304.05" }
    - name: password aging
      user: { name: rbkaging, password_expire_max: 90, password_expire_min: 1, create_home: false }
    - name: wait for a file
      wait_for: { path: "{{ work }}/lines.conf", timeout: 10 }
    - name: wait for the web port
      wait_for: { host: 127.0.0.1, port: "{{ port }}", timeout: 10 }
    - name: GET from a web server on the host
      uri: { url: "http://127.0.0.1:{{ port }}/index.html", return_content: true }
      register: page
    - name: the page came back
      assert: { that: ["page.status == 200", "'hello from the lab' in page.content"] }
    - name: fetch a file to the controller
      fetch: { src: "{{ work }}/lines.conf", dest: "{{ ctl }}/", flat: true }
    - name: an encrypted secret
      community.sops.sops_encrypt: { path: "{{ work }}/secret.sops.yaml", content_yaml: { password: hunter2 }, age: ["{{ recipient }}"] }
    - name: pause a second
      pause: { seconds: 1 }
`;

const ALWAYS = `- hosts: all
  gather_facts: false
  tasks:
    - name: raw echo
      raw: echo raw-ran > {{ work }}/raw.out
    - name: run a script
      script: hello.sh lab
      args: { chdir: "{{ work }}" }
      register: s
    - name: a script skipped by creates
      script: hello.sh never
      args: { creates: "{{ work }}/lines.conf" }
    - name: POST to the server
      uri: { url: "http://127.0.0.1:{{ port }}/", method: POST, body: { a: 1 }, body_format: json, status_code: [501] }
    - name: a config that does not validate
      copy: { dest: "{{ work }}/v.conf", content: "bad\\n", validate: "grep -q good %s" }
      ignore_errors: true
    - name: a wait that times out
      wait_for: { path: "{{ work }}/never", timeout: 1, msg: "custom timeout" }
      ignore_errors: true
`;

const UFW = `- hosts: all
  gather_facts: false
  tasks:
    - name: allow an alternative ssh port
      community.general.ufw: { rule: allow, port: "2222", proto: tcp, comment: alt ssh }
    - name: deny a network
      ufw: { rule: deny, from_ip: 10.9.0.0/16 }
    - name: deny outgoing by default
      ufw: { default: deny, direction: outgoing }
    - name: log more
      ufw: { logging: medium }
`;

describe('over SSH: check predicts apply, apply does it, again changes nothing', () => {
  let lab: Lab;
  let dir: string;
  let inv: string;
  let keyFile: string;
  let recipient: string;
  const port = 18000 + (process.pid % 1000);
  const work = '/tmp/rbk-modsb';
  const host = () => lab.hosts[0]!;
  const hsh = async (cmd: string) => (await lab.exec(host(), ['sh', '-c', cmd])).stdout;
  const ctl = () => path.join(dir, 'fetched');

  const run = async (playbook: string, extra: string[] = []) => {
    const r = await cliAsync(['apply', path.join(dir, playbook), '-i', inv, '--format', 'json', '-e', `work=${work}`, '-e', `port=${port}`, '-e', `ctl=${ctl()}`, '-e', `recipient=${recipient}`, ...extra], { timeoutMs: 300_000, env: { SOPS_AGE_KEY_FILE: keyFile } });
    const ev = events(r.stdout).filter((e) => e.event === 'task:result');
    return { ...r, changed: ev.filter((e) => e.status === 'changed').map((e) => e.task as string), failed: ev.filter((e) => e.status === 'failed').map((e) => `${e.task}: ${e.reason}`), ev };
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(TMP, 'lab-'));
    const id = await generateIdentity();
    recipient = await identityToRecipient(id);
    keyFile = path.join(dir, 'age.txt');
    fs.writeFileSync(keyFile, `${id}\n`);
    fs.writeFileSync(path.join(dir, 'site.yml'), SITE);
    fs.writeFileSync(path.join(dir, 'always.yml'), ALWAYS);
    fs.writeFileSync(path.join(dir, 'ufw.yml'), UFW);
    fs.writeFileSync(path.join(dir, 'hello.sh'), '#!/bin/sh\necho "hello $1 from $(pwd)" | tee script.out\n');
    lab = await Lab.create({ name: 'modsb', hosts: 1 });
    inv = path.join(lab.dir, 'modsb-inventory.yml');
    fs.writeFileSync(inv, lab.inventoryYaml());
    // the host's starting point: an old config, a file to edit, a tree with private modes, a web server on loopback
    await hsh(
      `set -e; rm -rf ${work}; mkdir -p ${work}/tree/sub ${work}/www; printf 'key=old\\n' > ${work}/app.conf; printf 'first\\n' > ${work}/lines.conf; ` +
        `printf a > ${work}/tree/sub/a; printf b > ${work}/tree/b; printf '#!/bin/sh\\n' > ${work}/tree/run; chmod 0700 ${work}/tree ${work}/tree/sub ${work}/tree/run; chmod 0600 ${work}/tree/sub/a ${work}/tree/b; ` +
        `printf 'hello from the lab\\n' > ${work}/www/index.html; cd ${work}/www; nohup python3 -m http.server ${port} --bind 127.0.0.1 >/dev/null 2>&1 &`,
    );
    // bounded: the server is up within 10 s (50 tries)
    for (let i = 0; i < 50; i++) {
      if ((await lab.exec(host(), ['sh', '-c', `curl -fsS -o /dev/null http://127.0.0.1:${port}/index.html && echo up`])).stdout.includes('up')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 180_000);

  afterAll(async () => {
    if (lab) await lab.destroy();
  }, 120_000);

  const observe = async () => (await hsh(`cd ${work} && find . -printf '%p %m %s %T@\\n' | sort; getent passwd rbkaging; getent shadow rbkaging; cat app.conf lines.conf`)) + (fs.existsSync(ctl()) ? fs.readdirSync(ctl()).join(',') : 'no-ctl');

  it('site.yml: --check predicts exactly, apply does it, again nothing', async () => {
    const expected = ['backup and validate a config', 'lineinfile with backup', 'symbolic modes recursively', 'symbolic mode on a new copy', 'fixed modification time', 'password aging', 'fetch a file to the controller', 'an encrypted secret'];
    const before = await observe();
    const check = await run('site.yml', ['--check']);
    expect(check.failed, check.stderr + check.stdout).toEqual([]);
    expect(check.changed).toEqual(expected);
    expect(await observe(), '--check changes nothing').toBe(before);
    const apply = await run('site.yml');
    expect(apply.failed, apply.stderr).toEqual([]);
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.changed).toEqual(expected);

    // backup: Ansible's name, the old content; validate passed
    const backups = (await hsh(`ls ${work}`)).split('\n').filter((n) => n.startsWith('app.conf.'));
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatch(/^app\.conf\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~$/);
    expect(await hsh(`cat ${work}/${backups[0]}`)).toBe('key=old\n');
    expect(await hsh(`cat ${work}/app.conf`)).toBe('key=new\n');
    expect((await hsh(`ls ${work}`)).split('\n').filter((n) => n.startsWith('lines.conf.'))).toHaveLength(1);
    // symbolic modes, recursively: X for directories and the executable file only
    expect(await hsh(`cd ${work}/tree && stat -c '%n %a' . sub sub/a b run`)).toBe('. 755\nsub 755\nsub/a 644\nb 644\nrun 755\n');
    expect(await hsh(`stat -c %a ${work}/sym.txt`)).toBe('744\n');
    // the time, as the host's local time zone reads it
    expect(await hsh(`stat -c %Y ${work}/app.conf`)).toBe(await hsh(`date -d '2024-01-02 03:04:05' +%s`));
    expect((await hsh('getent shadow rbkaging')).split(':').slice(3, 5)).toEqual(['1', '90']);
    expect(fs.readFileSync(path.join(ctl(), 'lines.conf'), 'utf8')).toBe('first\nadded\n');
    expect(await hsh(`cat ${work}/secret.sops.yaml`)).not.toContain('hunter2');
    expect(await hsh(`grep -c 'ENC\\[AES256_GCM' ${work}/secret.sops.yaml`)).toBe('2\n'); // the value and the MAC

    const again = await run('site.yml');
    expect(again.failed, again.stderr).toEqual([]);
    expect(again.changed, 'second apply changes nothing').toEqual([]);
    const check2 = await run('site.yml', ['--check']);
    expect(check2.changed).toEqual([]);
  }, 600_000);

  it('always.yml: raw, script and POST are changed in check and apply; validate and wait_for fail as Ansible', async () => {
    const check = await run('always.yml', ['--check']);
    expect(check.changed).toEqual(['raw echo', 'run a script', 'POST to the server', 'a config that does not validate']);
    expect(check.failed).toEqual(['a wait that times out: custom timeout']);
    expect(await hsh(`ls ${work}/raw.out ${work}/v.conf 2>&1 | grep -c 'No such'`)).toBe('2\n');
    const apply = await run('always.yml');
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.changed).toEqual(['raw echo', 'run a script', 'POST to the server']);
    expect(apply.failed).toHaveLength(2);
    expect(apply.failed[0]).toMatch(/^a config that does not validate: .*failed to validate: rc:1 error:/);
    expect(apply.failed[1]).toBe('a wait that times out: custom timeout');
    expect(await hsh(`cat ${work}/raw.out`)).toBe('raw-ran\n');
    expect(await hsh(`ls ${work}/v.conf 2>&1 | grep -c 'No such'`)).toBe('1\n');
    // the script ran in chdir with its argument (below)
    expect(await hsh(`cat ${work}/script.out`)).toBe(`hello lab from ${work}\n`);
  }, 600_000);

  it('ufw.yml (ufw inactive: its rules and configuration files): check predicts, apply does, again nothing', async () => {
    if (!(await hsh('command -v ufw'))) throw new Error('ufw is not installed on the machine (scripts/setup.sh installs it)');
    const expected = ['allow an alternative ssh port', 'deny a network', 'deny outgoing by default', 'log more'];
    const observe = () => hsh('cat /etc/ufw/user.rules /etc/ufw/user6.rules /etc/default/ufw /etc/ufw/ufw.conf');
    const before = await observe();
    const check = await run('ufw.yml', ['--check']);
    expect(check.failed, check.stderr + check.stdout).toEqual([]);
    expect(check.changed).toEqual(expected);
    expect(await observe(), '--check changes nothing').toBe(before);
    const apply = await run('ufw.yml');
    expect(apply.failed, apply.stderr).toEqual([]);
    expect(apply.changed).toEqual(expected);
    const rules = await hsh('grep -h "^### tuple" /etc/ufw/user.rules /etc/ufw/user6.rules');
    expect(rules).toContain('### tuple ### allow tcp 2222 0.0.0.0/0 any 0.0.0.0/0 in comment=616c7420737368');
    expect(rules).toContain('### tuple ### deny any any 0.0.0.0/0 any 10.9.0.0/16 in');
    expect(await hsh('grep -h "^DEFAULT_OUTPUT_POLICY=\\|^LOGLEVEL=" /etc/default/ufw /etc/ufw/ufw.conf')).toBe('DEFAULT_OUTPUT_POLICY="DROP"\nLOGLEVEL=medium\n');
    const again = await run('ufw.yml');
    expect(again.changed, 'second apply changes nothing').toEqual([]);
    expect((await run('ufw.yml', ['--check'])).changed).toEqual([]);
  }, 600_000);
});
