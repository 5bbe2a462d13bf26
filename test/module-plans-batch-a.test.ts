/**
 * Plans as data for the batch-A modules (issue 14): params + State -> steps, reason, result or a structured failure,
 * no shell; then each module's real probe and steps on the local connection in a temp dir (find, ini_file,
 * pam_limits, cron with a cron_file, authorized_key with a path, tempfile, getent, package_facts, service_facts):
 * probe -> plan -> apply -> probe -> plan again has no steps. And check mode's package rule: after a planned
 * package install, a failure about a missing path is a change after an earlier change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { LocalConnection } from '../lib/connection/local.js';
import { applySteps } from '../lib/executor/apply.js';
import { mergeModuleFacts, overlayHit, recordPlanned } from '../lib/executor/task-outcome.js';
import { formatFrame, frameState } from '../lib/modules/common.js';
import type { ModuleContext, ModuleDef, Plan } from '../lib/modules/types.js';
import packageFacts, { parsePackageFacts } from '../lib/modules/package-facts.js';
import serviceFacts, { servicesFrom } from '../lib/modules/service-facts.js';
import getent, { prepareGetent } from '../lib/modules/getent.js';
import find, { fnmatch, prepareFind } from '../lib/modules/find.js';
import aptRepository, { prepareAptRepository, suggestFilename } from '../lib/modules/apt-repository.js';
import cron, { prepareCron } from '../lib/modules/cron.js';
import authorizedKey, { prepareAuthorizedKey } from '../lib/modules/authorized-key.js';
import iniFile, { doIni, prepareIniFile } from '../lib/modules/ini-file.js';
import hostname, { prepareHostname } from '../lib/modules/hostname.js';
import modprobe, { prepareModprobe } from '../lib/modules/modprobe.js';
import localeGen, { prepareLocaleGen } from '../lib/modules/locale-gen.js';
import pamLimits, { preparePamLimits } from '../lib/modules/pam-limits.js';
import tempfile from '../lib/modules/tempfile.js';

const frame = (v: Record<string, string | Buffer>) => frameState({ code: 0, stdout: formatFrame(v), stderr: '' });
const ctx: ModuleContext = { host: 'local', vars: {}, findFile: () => undefined, renderTemplateFile: () => '' };
const pure = (mod: ModuleDef<any, any>, p: unknown, s: unknown): Plan => {
  const a = mod.plan(p, s);
  expect(mod.plan(p, s), 'plans are pure').toEqual(a);
  expect(a.reason, 'a plan says why').not.toBe('');
  return a;
};

describe('facts modules (data)', () => {
  it('package_facts: installed packages only, one entry per architecture, source apt', () => {
    const s = parsePackageFacts({ code: 0, stdout: 'banner\n--rb-package-facts--\nbash\t5.2-2\tamd64\tinstalled\nlibc6\t2.36\tamd64\tinstalled\nlibc6\t2.36\ti386\tinstalled\nold\t1\tall\tconfig-files\n', stderr: '' });
    const plan = pure(packageFacts, { manager: ['auto'], strategy: 'first' }, s);
    expect(plan.steps).toEqual([]);
    const pk = (plan.result!.ansible_facts as any).packages;
    expect(pk.bash).toEqual([{ name: 'bash', version: '5.2-2', arch: 'amd64', source: 'apt' }]);
    expect(pk.libc6.map((x: any) => x.arch)).toEqual(['amd64', 'i386']);
    expect(pk.old).toBeUndefined();
    expect(pure(packageFacts, {}, parsePackageFacts({ code: 3, stdout: '', stderr: 'dpkg-query not found' })).fail?.code).toBe('probe_failed');
  });
  it('service_facts: sysv keys are bare names; systemd units keyed NAME.service with status from unit files', () => {
    const sv = servicesFrom(' [ + ]  cron\n [ - ]  ssh\n [ ? ]  hwclock.sh\n', undefined, undefined);
    expect(sv).toEqual({ cron: { name: 'cron', state: 'running', source: 'sysv' }, ssh: { name: 'ssh', state: 'stopped', source: 'sysv' } });
    const sd = servicesFrom('', '  cron.service loaded active running Regular background program\n● x.service not-found inactive dead x.service\n', 'cron.service enabled enabled\nfoo.service disabled enabled\nx.service masked enabled\n');
    expect(sd['cron.service']).toEqual({ name: 'cron.service', state: 'running', status: 'enabled', source: 'systemd' });
    expect(sd['x.service']).toEqual({ name: 'x.service', state: 'stopped', status: 'not-found', source: 'systemd' });
    expect(sd['foo.service']).toEqual({ name: 'foo.service', state: 'inactive', status: 'disabled', source: 'systemd' });
  });
  it('getent: split on : for passwd, duplicates become a list, missing key fails unless fail_key is false', () => {
    const p = prepareGetent({ database: 'passwd', key: 'root' });
    const ok = pure(getent, p, { rc: 0, out: 'root:x:0:0:root:/root:/bin/bash\n' });
    expect(ok.result).toEqual({ ansible_facts: { getent_passwd: { root: ['x', '0', '0', 'root', '/root', '/bin/bash'] } } });
    const hosts = pure(getent, prepareGetent({ database: 'hosts' }), { rc: 0, out: '127.0.0.1       localhost\n::1 localhost ip6-localhost\n' });
    expect((hosts.result!.ansible_facts as any).getent_hosts).toEqual({ '127.0.0.1': ['localhost'], '::1': ['localhost', 'ip6-localhost'] });
    const dup = pure(getent, prepareGetent({ database: 'group', split: ':' }), { rc: 0, out: 'a:x:1:\na:x:2:\n' });
    expect((dup.result!.ansible_facts as any).getent_group.a).toEqual([['x', '1', ''], ['x', '2', '']]);
    expect(pure(getent, p, { rc: 2, out: '' }).fail).toEqual({ code: 'key_not_found', message: 'One or more supplied key could not be found in the database.' });
    expect(pure(getent, prepareGetent({ database: 'passwd', key: 'nobody2', fail_key: false }), { rc: 2, out: '' }).result).toMatchObject({ ansible_facts: { getent_passwd: { nobody2: null } } });
  });
  it('module facts merge into host facts: top-level names and ansible_facts (ansible_ prefix dropped there)', () => {
    const g = mergeModuleFacts({ ansible_facts: { kernel: 'k' }, ansible_kernel: 'k' }, { getent_passwd: { a: [] }, ansible_hostname: 'web' });
    expect(g).toEqual({ ansible_facts: { kernel: 'k', getent_passwd: { a: [] }, hostname: 'web' }, ansible_kernel: 'k', getent_passwd: { a: [] }, ansible_hostname: 'web' });
  });
});

describe('find (data)', () => {
  const e = (p: string, type = 'f', more: Record<string, unknown> = {}) => ({ type, mode: 0o644, size: 10, uid: 0, gid: 0, user: 'root', group: 'root', atime: 900, mtime: 900, ctime: 900, dev: 1, inode: 2, nlink: 1, depth: p.split('/').length - 2, path: p, ...more });
  const st = (entries: any[]) => ({ now: 1000, roots: [{ path: '/d', kind: 'dir' as const, entries }] });
  it('fnmatch globs', () => {
    expect(fnmatch('a.log', '*.log')).toBe(true);
    expect(fnmatch('a.log.1', '*.log')).toBe(false);
    expect(fnmatch('b1', '[!a]?')).toBe(true);
    expect(fnmatch('a1', '[!a]?')).toBe(false);
  });
  it('patterns, excludes, hidden, file_type, age, size, contains; matched and examined', () => {
    const entries = [e('/d/a.log'), e('/d/.h.log'), e('/d/b.txt'), e('/d/old.log', 'f', { mtime: 0 }), e('/d/sub', 'd'), e('/d/big.log', 'f', { size: 5000 })];
    const r = (raw: Record<string, unknown>) => pure(find, prepareFind({ paths: '/d', ...raw }), st(entries)).result!;
    expect((r({ patterns: '*.log' }).files as any[]).map((f) => f.path)).toEqual(['/d/a.log', '/d/old.log', '/d/big.log']);
    expect(r({ patterns: '*.log' }).examined).toBe(6);
    expect((r({ patterns: '*.log', hidden: true, excludes: 'big*' }).files as any[]).map((f) => f.path)).toEqual(['/d/a.log', '/d/.h.log', '/d/old.log']);
    expect((r({ patterns: '*.log', age: '10m' }).files as any[]).map((f) => f.path)).toEqual(['/d/old.log']);
    expect((r({ patterns: '*.log', size: '1k' }).files as any[]).map((f) => f.path)).toEqual(['/d/big.log']);
    expect((r({ file_type: 'directory' }).files as any[]).map((f) => f.path)).toEqual(['/d/sub']);
    expect((r({ patterns: ['^[ab]\\.'], use_regex: true }).files as any[]).map((f) => f.path)).toEqual(['/d/a.log', '/d/b.txt']);
    const f0 = (r({ patterns: 'a.log' }).files as any[])[0];
    expect(f0).toMatchObject({ path: '/d/a.log', mode: '0644', isreg: true, isdir: false, pw_name: 'root', rusr: true, wusr: true, xusr: false, roth: true });
    const withContent = st([e('/d/x.conf', 'f', { content: Buffer.from('a\nListen 80\n') }), e('/d/y.conf', 'f', { content: Buffer.from('# Listen 80\n') })]);
    expect((pure(find, prepareFind({ paths: '/d', contains: 'Listen' }), withContent).result!.files as any[]).map((f) => f.path)).toEqual(['/d/x.conf']);
    const miss = pure(find, prepareFind({ paths: ['/nope'] }), { now: 0, roots: [{ path: '/nope', kind: 'missing', entries: [] }] }).result!;
    expect(miss).toMatchObject({ matched: 0, msg: 'Not all paths examined, check warnings for details', skipped_paths: { '/nope': "'/nope' is not a directory" } });
    expect(() => prepareFind({ paths: '/d', age: 'soon' })).toThrow(/failed to process age/);
  });
});

describe('apt_repository (data)', () => {
  const repo = 'deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] https://user:pw@download.example.com/linux/debian bookworm stable';
  it("names the file as Ansible does", () => {
    expect(suggestFilename(repo, undefined)).toBe('/etc/apt/sources.list.d/download_example_com_linux_debian.list');
    expect(suggestFilename(repo, 'docker')).toBe('/etc/apt/sources.list.d/docker.list');
  });
  it('adds a new source in its own file (then apt-get update); an existing one, even elsewhere, is kept', () => {
    const p = prepareAptRepository({ repo, update_cache: true });
    const add = pure(aptRepository, p, frame({ apt: '1', parts: '1', f_main: 'deb http://deb.debian.org/debian bookworm main\n' }));
    expect(add.steps).toMatchObject([{ kind: 'write', path: '/etc/apt/sources.list.d/download_example_com_linux_debian.list', content: `${repo.replace('https://', 'https://')}\n`, mode: '0644' }, { kind: 'run', describe: 'apt-get update' }]);
    const have = pure(aptRepository, p, frame({ apt: '1', n_0: '/etc/apt/sources.list.d/other.list', f_0: Buffer.from(`${repo.replace(/ +/g, '  ')}\n`) }));
    expect(have.steps).toEqual([]);
    const disabled = pure(aptRepository, prepareAptRepository({ repo, update_cache: false }), frame({ apt: '1', n_0: '/etc/apt/sources.list.d/o.list', f_0: Buffer.from(`#${repo}\n`) }));
    expect(disabled.steps).toEqual([{ kind: 'write', path: '/etc/apt/sources.list.d/o.list', content: `${repo}\n`, describe: 'write /etc/apt/sources.list.d/o.list' }]);
  });
  it('absent removes the line; a file left empty is deleted', () => {
    const p = prepareAptRepository({ repo, state: 'absent', update_cache: false });
    const plan = pure(aptRepository, p, frame({ apt: '1', n_0: '/etc/apt/sources.list.d/d.list', f_0: Buffer.from(`${repo}\n`) }));
    expect(plan.steps).toEqual([{ kind: 'run', script: "rm -f -- /etc/apt/sources.list.d/d.list", describe: 'remove /etc/apt/sources.list.d/d.list' }]);
    expect(() => prepareAptRepository({ repo: 'ppa:x/y' })).toThrow(/ppa/);
    expect(() => prepareAptRepository({ repo: 'http://x' })).toThrow(/Invalid repository string/);
  });
});

describe('cron (data)', () => {
  const user = (content: string, rc = '0') => frame({ rc, content });
  it('adds a job under its #Ansible marker in the user crontab (crontab -); again: no steps', () => {
    const p = prepareCron({ name: 'backup', minute: '0', hour: '2', job: '/usr/local/bin/backup' });
    const plan = pure(cron, p, user('', '1'));
    expect(plan.steps).toEqual([{ kind: 'run', script: 'crontab -', input: '#Ansible: backup\n0 2 * * * /usr/local/bin/backup\n', describe: 'crontab -' }]);
    expect(plan.result).toMatchObject({ jobs: ['backup'], envs: [] });
    expect(pure(cron, p, user('#Ansible: backup\n0 2 * * * /usr/local/bin/backup\n')).steps).toEqual([]);
  });
  it('changes the schedule in place, disabled, special_time, cron_file with the user field, env at the top', () => {
    const p = prepareCron({ name: 'backup', minute: '5', hour: '2', job: 'b', disabled: true, user: 'app' });
    expect(pure(cron, p, user('MAILTO=x\n#Ansible: backup\n0 2 * * * b\n# other\n')).steps[0]).toMatchObject({ script: 'crontab -u app -', input: 'MAILTO=x\n#Ansible: backup\n#5 2 * * * b\n# other\n' });
    const f = prepareCron({ name: 'r', special_time: 'reboot', job: 'x', user: 'root', cron_file: 'rb' });
    expect(pure(cron, f, frame({ parent: '1' })).steps).toEqual([{ kind: 'write', path: '/etc/cron.d/rb', content: '#Ansible: r\n@reboot root x\n', describe: 'write /etc/cron.d/rb' }]);
    const env = prepareCron({ name: 'PATH', env: true, job: '/bin' });
    expect(pure(cron, env, user('#Ansible: a\n* * * * * a\n')).steps[0]).toMatchObject({ input: 'PATH="/bin"\n#Ansible: a\n* * * * * a\n' });
  });
  it('absent removes the job, and the cron_file when it is left empty; argument rules as Ansible', () => {
    expect(pure(cron, prepareCron({ name: 'r', state: 'absent', cron_file: '/etc/cron.d/rb' }), frame({ parent: '1', content: Buffer.from('#Ansible: r\n@reboot root x\n') })).steps).toEqual([{ kind: 'run', script: 'rm -f -- /etc/cron.d/rb', describe: 'remove /etc/cron.d/rb' }]);
    expect(() => prepareCron({ name: 'x', job: 'y', cron_file: 'f' })).toThrow(/must specify user/);
    expect(() => prepareCron({ name: 'x', job: 'y', minute: '1', special_time: 'daily' })).toThrow(/time and date fields or special time/);
    expect(() => prepareCron({ name: 'x' })).toThrow(/You must specify 'job'/);
  });
});

describe('authorized_key, ini_file, pam_limits, hostname, modprobe, locale_gen (data)', () => {
  const K1 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey1 alice@laptop';
  const K2 = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQKey2 bob';
  it('authorized_key: appends, keeps a matching key, replaces one with other options, exclusive drops the rest', () => {
    const pw = { passwd: 'app:x:1001:1001::/home/app:/bin/sh', file: '/home/app/.ssh/authorized_keys', dir: '/home/app/.ssh' };
    const p = prepareAuthorizedKey({ user: 'app', key: `${K1}\n\n# c\n${K2}` });
    const plan = pure(authorizedKey, p, frame(pw));
    expect(plan.steps[1]).toEqual({ kind: 'write', path: '/home/app/.ssh/authorized_keys', content: `${K1}\n${K2}\n`, mode: '0600', owner: '1001', group: '1001', describe: 'write /home/app/.ssh/authorized_keys' });
    expect(plan.steps[0]).toMatchObject({ kind: 'run', script: expect.stringContaining('chmod 0700') });
    expect(pure(authorizedKey, p, frame({ ...pw, content: Buffer.from(`${K2}\n${K1}\n`) })).steps).toEqual([]);
    const opt = pure(authorizedKey, prepareAuthorizedKey({ user: 'app', key: K1, key_options: 'no-pty,from="10.0.0.1"' }), frame({ ...pw, content: Buffer.from(`${K1}\n${K2}\n`) }));
    expect(opt.steps[1]).toMatchObject({ content: `${K2}\nno-pty,from="10.0.0.1" ${K1}\n` });
    const ex = pure(authorizedKey, prepareAuthorizedKey({ user: 'app', key: K1, exclusive: true, manage_dir: false }), frame({ ...pw, dir_exists: '1', content: Buffer.from(`# keys\n${K1}\n${K2}\n`) }));
    expect(ex.steps).toMatchObject([{ kind: 'write', content: `${K1}\n` }]);
    const gone = pure(authorizedKey, prepareAuthorizedKey({ user: 'app', key: K2, state: 'absent' }), frame({ ...pw, content: Buffer.from(`${K1}\n${K2}\n`) }));
    expect(gone.steps[1]).toMatchObject({ content: `${K1}\n` });
    expect(pure(authorizedKey, prepareAuthorizedKey({ user: 'app', key: 'not a key' }), frame(pw)).fail?.message).toBe('invalid key specified: not a key');
  });
  it('ini_file: the collection\'s edits', () => {
    const ini = (content: string, raw: Record<string, unknown>) => doIni(content, prepareIniFile({ path: '/x.ini', ...raw }));
    expect(ini('', { section: 's', option: 'o', value: '1' })).toEqual({ after: '\n[s]\no = 1\n', changed: true, msg: 'section and option added' });
    expect(ini('[s]\no = 1\n', { section: 's', option: 'o', value: '1' })).toMatchObject({ after: '[s]\no = 1\n', changed: false });
    expect(ini('[s]\n# o = 0\nx=2\n[t]\n', { section: 's', option: 'o', value: '1' })).toMatchObject({ after: '[s]\no = 1\nx=2\n[t]\n', changed: true, msg: 'option changed' });
    expect(ini('[s]\nx=2\n\n[t]\n', { section: 's', option: 'o', value: '1', no_extra_spaces: true })).toMatchObject({ after: '[s]\nx=2\no=1\n\n[t]\n', msg: 'option added' });
    expect(ini('[s]\no = 1\no = 2\n', { section: 's', option: 'o', state: 'absent' })).toMatchObject({ after: '[s]\n', changed: true });
    expect(ini('[s]\na = 1\n[t]\nb = 2\n', { section: 's', state: 'absent' })).toMatchObject({ after: '[t]\nb = 2\n', msg: 'section removed' });
    expect(ini('[s]\no = 1\n', { section: 's', option: 'o', values: ['1', '2'] })).toMatchObject({ after: '[s]\no = 1\no = 2\n' });
    expect(() => prepareIniFile({ path: '/x', section: 's', option: 'o' })).toThrow(/value\(s\)' must be defined/);
    expect(() => prepareIniFile({ path: '/x', value: 'a', values: ['b'] })).toThrow(/mutually exclusive: value\|values/);
  });
  it('pam_limits: rewrites the matching line, appends otherwise, use_max keeps the larger', () => {
    const p = (raw: Record<string, unknown>) => preparePamLimits({ domain: '*', limit_type: 'soft', limit_item: 'nofile', value: '4096', dest: '/l.conf', ...raw });
    const cur = Buffer.from('# limits\n*  soft  nofile  1024\n');
    expect(pure(pamLimits, p({}), frame({ content: cur, parent: '1' })).steps).toEqual([{ kind: 'write', path: '/l.conf', content: '# limits\n*\tsoft\tnofile\t4096\n', describe: 'set * soft nofile in /l.conf' }]);
    expect(pure(pamLimits, p({ value: '512', use_max: true }), frame({ content: cur, parent: '1' })).steps).toEqual([]);
    expect(pure(pamLimits, p({ limit_type: 'hard', comment: 'c' }), frame({ content: cur, parent: '1' })).steps[0]).toMatchObject({ content: '# limits\n*  soft  nofile  1024\n*\thard\tnofile\t4096\t#c\n' });
    expect(() => p({ use_max: true, use_min: true })).toThrow(/Cannot use use_min and use_max/);
    expect(() => p({ value: 'lots' })).toThrow(/can be one of 'unlimited'/);
  });
  it('hostname: debian writes /etc/hostname and runs hostname; systemd uses hostnamectl; facts as Ansible', () => {
    const deb = pure(hostname, prepareHostname({ name: 'web1.example.org' }), frame({ current: 'old', etc_hostname: Buffer.from('old\n') }));
    expect(deb.steps).toEqual([{ kind: 'write', path: '/etc/hostname', content: 'web1.example.org\n', describe: 'write /etc/hostname' }, { kind: 'run', script: 'hostname web1.example.org', describe: 'hostname web1.example.org' }]);
    expect(deb.result).toMatchObject({ ansible_facts: { ansible_hostname: 'web1', ansible_nodename: 'web1.example.org', ansible_domain: 'example.org' } });
    expect(pure(hostname, prepareHostname({ name: 'web1' }), frame({ current: 'web1', etc_hostname: Buffer.from('web1\n') })).steps).toEqual([]);
    expect(pure(hostname, prepareHostname({ name: 'web1' }), frame({ current: 'x', systemd: '1', static: 'x' })).steps).toEqual([{ kind: 'run', script: 'hostnamectl set-hostname web1', describe: 'hostnamectl set-hostname web1' }]);
    expect(() => prepareHostname({ name: 'web1', use: 'redhat' })).toThrow(/not supported by runbook yet/);
  });
  it('modprobe: load / unload from /proc/modules and modules.builtin; persistent files', () => {
    const p = (raw: Record<string, unknown>) => prepareModprobe({ name: 'br_netfilter', ...raw });
    expect(pure(modprobe, p({}), frame({ modules: 'overlay\nbr_netfilter', has_modprobe: '1' })).steps).toEqual([]);
    expect(pure(modprobe, p({ params: 'a=1' }), frame({ modules: 'overlay', has_modprobe: '1' })).steps).toEqual([{ kind: 'run', script: 'modprobe br_netfilter a=1', describe: 'modprobe br_netfilter' }]);
    expect(pure(modprobe, p({}), frame({ modules: '', builtin: 'kernel/net/bridge/br_netfilter.ko' })).steps).toEqual([]);
    const pers = pure(modprobe, p({ persistent: 'present', params: 'a=1' }), frame({ modules: 'br_netfilter', load_dir: '1', opts_dir: '1' }));
    expect(pers.steps).toMatchObject([{ kind: 'write', path: '/etc/modules-load.d/br_netfilter.conf', content: 'br_netfilter\n' }, { kind: 'write', path: '/etc/modprobe.d/br_netfilter.conf', content: 'options br_netfilter a=1\n' }]);
    expect(pure(modprobe, p({ persistent: 'present', params: 'a=1' }), frame({ modules: 'br_netfilter', load_name_0: '/etc/modules-load.d/k.conf', load_0: Buffer.from('br_netfilter\n'), opts_name_0: '/etc/modprobe.d/b.conf', opts_0: Buffer.from('options br_netfilter a=1\n') })).steps).toEqual([]);
    expect(pure(modprobe, p({ state: 'absent' }), frame({ modules: 'br_netfilter' })).fail?.code).toBe('no_modprobe');
  });
  it('locale_gen: uncomment + locale-gen when missing; nothing when locale -a lists it', () => {
    const gen = Buffer.from('# en_US.UTF-8 UTF-8\n# de_DE.UTF-8 UTF-8\n');
    const plan = pure(localeGen, prepareLocaleGen({ name: 'de_DE.UTF-8' }), frame({ locale_gen: gen, installed: 'C\nC.utf8\nPOSIX', has_locale_gen: '1' }));
    expect(plan.steps).toEqual([{ kind: 'write', path: '/etc/locale.gen', content: '# en_US.UTF-8 UTF-8\nde_DE.UTF-8 UTF-8\n', describe: 'enable de_DE.UTF-8 in /etc/locale.gen' }, { kind: 'run', script: 'locale-gen', describe: 'locale-gen' }]);
    expect(pure(localeGen, prepareLocaleGen({ name: 'de_DE.UTF-8' }), frame({ locale_gen: gen, installed: 'C\nde_DE.utf8' })).steps).toEqual([]);
    expect(pure(localeGen, prepareLocaleGen({ name: 'xx_YY.UTF-8' }), frame({ locale_gen: gen, installed: '' })).fail?.message).toBe("The locale you've entered is not available on your system.");
  });
  it('check mode: a missing path after a planned package install is a change after an earlier change', () => {
    const overlay = new Set<string>();
    const fail = { code: 'missing_parent', path: '/etc/fail2ban', message: 'Destination directory /etc/fail2ban does not exist' };
    expect(overlayHit(overlay, fail)).toBeUndefined();
    recordPlanned(overlay, { steps: [{ kind: 'run', script: 'apt-get install fail2ban' }], reason: 'install', installs: ['fail2ban'] });
    expect(overlayHit(overlay, fail)).toBe('/etc/fail2ban (after installing fail2ban)');
    expect(overlayHit(overlay, { code: 'probe_failed', path: '/x', message: 'x' })).toBeUndefined();
  });
});

// ------------------------------------------------------------------------------------------------------------------
// the real probes and steps on the local connection: apply, then the plan is empty

describe('probe -> plan -> apply -> plan again: no steps (local connection, temp dir)', () => {
  const conn = new LocalConnection();
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-batcha-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const planOnce = async (mod: ModuleDef<any, any>, raw: Record<string, unknown>) => {
    const p = mod.prepare ? await mod.prepare(raw, ctx) : raw;
    const probe = mod.probe(p);
    const state = probe ? probe.parse(await conn.run(probe.script)) : null;
    return { p, plan: mod.plan(p, state) };
  };
  const law = async (mod: ModuleDef<any, any>, raw: Record<string, unknown>) => {
    const { plan } = await planOnce(mod, raw);
    expect(plan.fail, plan.reason).toBeUndefined();
    expect(plan.steps.length, plan.reason).toBeGreaterThan(0);
    await applySteps(conn, plan.steps, {});
    const again = (await planOnce(mod, raw)).plan;
    expect(again.fail, again.reason).toBeUndefined();
    expect(again.steps, again.reason).toEqual([]);
    return plan;
  };

  it('ini_file, pam_limits, cron_file, authorized_key', async () => {
    await law(iniFile, { path: `${dir}/app.ini`, section: 'main', option: 'port', value: '8080', mode: '0640' });
    expect(fs.readFileSync(`${dir}/app.ini`, 'utf8')).toBe('\n[main]\nport = 8080\n');
    expect((fs.statSync(`${dir}/app.ini`).mode & 0o777).toString(8)).toBe('640');
    await law(iniFile, { path: `${dir}/app.ini`, section: 'main', option: 'port', value: '9090' });
    fs.writeFileSync(`${dir}/limits.conf`, '# x\n*  soft  nofile  1024\n');
    await law(pamLimits, { domain: '*', limit_type: 'soft', limit_item: 'nofile', value: '4096', dest: `${dir}/limits.conf` });
    await law(cron, { name: 'job', minute: '*/5', job: 'true', user: 'root', cron_file: `${dir}/cronjob` });
    expect(fs.readFileSync(`${dir}/cronjob`, 'utf8')).toBe('#Ansible: job\n*/5 * * * * root true\n');
    await law(cron, { name: 'job', state: 'absent', cron_file: `${dir}/cronjob` });
    expect(fs.existsSync(`${dir}/cronjob`)).toBe(false);
    await law(authorizedKey, { user: 'root', path: `${dir}/ssh/authorized_keys`, key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey1 a@b' });
    expect((fs.statSync(`${dir}/ssh`).mode & 0o777).toString(8)).toBe('700');
    expect((fs.statSync(`${dir}/ssh/authorized_keys`).mode & 0o777).toString(8)).toBe('600');
  });

  it('find over a real tree; getent, package_facts and service_facts read the machine', async () => {
    fs.mkdirSync(`${dir}/t/sub/deep`, { recursive: true });
    fs.writeFileSync(`${dir}/t/a.log`, 'hello\nListen 80\n');
    fs.writeFileSync(`${dir}/t/.hidden.log`, 'x');
    fs.writeFileSync(`${dir}/t/sub/b.log`, 'nothing');
    fs.writeFileSync(`${dir}/t/sub/deep/c.log`, 'Listen 81');
    fs.symlinkSync(`${dir}/t/a.log`, `${dir}/t/link.log`);
    const names = async (raw: Record<string, unknown>) => {
      const r = (await planOnce(find, { paths: `${dir}/t`, ...raw })).plan.result!;
      return { files: (r.files as any[]).map((f) => path.relative(`${dir}/t`, f.path)).sort(), r };
    };
    expect((await names({ patterns: '*.log' })).files).toEqual(['a.log']);
    expect((await names({ patterns: '*.log', recurse: true })).files).toEqual(['a.log', 'sub/b.log', 'sub/deep/c.log']);
    expect((await names({ patterns: '*.log', recurse: true, depth: 2 })).files).toEqual(['a.log', 'sub/b.log']);
    expect((await names({ patterns: '*.log', recurse: true, contains: 'Listen' })).files).toEqual(['a.log', 'sub/deep/c.log']);
    expect((await names({ file_type: 'link' })).files).toEqual(['link.log']);
    expect((await names({ file_type: 'any', hidden: true })).r.examined).toBe(4);
    const ck = (await names({ patterns: 'a.log', get_checksum: true })).r.files as any[];
    expect(ck[0].checksum).toBe(createHash('sha1').update('hello\nListen 80\n').digest('hex'));
    expect(ck[0]).toMatchObject({ size: 16, isreg: true, pw_name: 'root', mode: '0644' });

    const g = (await planOnce(getent, { database: 'passwd', key: 'root' })).plan;
    expect((g.result!.ansible_facts as any).getent_passwd.root[4]).toBe('/root');
    const pf = (await planOnce(packageFacts, {})).plan;
    expect((pf.result!.ansible_facts as any).packages.bash[0]).toMatchObject({ name: 'bash', source: 'apt' });
    const sf = (await planOnce(serviceFacts, {})).plan;
    expect(sf.fail, sf.reason).toBeUndefined();
    expect(Object.keys((sf.result!.ansible_facts as any).services).length).toBeGreaterThan(0);
  });

  it('tempfile: always a new one, in the given directory, with prefix and suffix', async () => {
    const { p, plan } = await planOnce(tempfile, { path: dir, prefix: 'pre.', suffix: '.tmp', state: 'directory' });
    const out = await applySteps(conn, plan.steps, {});
    const made = tempfile.finish!(p, out, plan).path as string;
    expect(path.dirname(made)).toBe(dir);
    expect(path.basename(made)).toMatch(/^pre\..{8}\.tmp$/);
    expect(fs.statSync(made).isDirectory()).toBe(true);
    expect((await planOnce(tempfile, { path: dir })).plan.steps.length).toBe(1);
  });
});
