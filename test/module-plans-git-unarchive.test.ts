/**
 * Plans as data for git and unarchive (issue 14): params + State -> steps, reason, result or a structured failure,
 * no shell. Then each module's real probe and steps on the local connection in a temp dir: probe -> plan -> apply ->
 * probe -> plan again has no steps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalConnection } from '../lib/connection/local.js';
import { applySteps } from '../lib/executor/apply.js';
import { formatFrame } from '../lib/modules/common.js';
import type { ModuleContext, ModuleDef, Plan } from '../lib/modules/types.js';
import git, { parseGit, prepareGit, remoteVersion, type GitState } from '../lib/modules/git.js';
import unarchive, { formatOf, parseTarListing, parseZipListing, prepareUnarchive, type UnarchiveState, type DestEntry, type Member } from '../lib/modules/unarchive.js';

const ctx: ModuleContext = { host: 'local', vars: {}, findFile: () => undefined, renderTemplateFile: () => '' };
const pure = (mod: ModuleDef<any, any>, p: unknown, s: unknown): Plan => {
  const a = mod.plan(p, s);
  expect(mod.plan(p, s), 'plans are pure').toEqual(a);
  expect(a.reason, 'a plan says why').not.toBe('');
  return a;
};
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const LS = `ref: refs/heads/main\tHEAD\n${A}\tHEAD\n${A}\trefs/heads/main\n${B}\trefs/heads/dev\n${C}\trefs/tags/v1\n${B}\trefs/tags/v1^{}\n`;
const gstate = (over: Partial<GitState> = {}): GitState => ({ noGit: false, exists: true, empty: false, lsRemote: { ok: true, text: LS }, ...over });

describe('git (data)', () => {
  const P = (o: Record<string, unknown> = {}) => prepareGit({ repo: 'https://example.invalid/r.git', dest: '/srv/r', ...o });
  it('remoteVersion: HEAD follows the symref, a branch, a peeled tag, a full sha', () => {
    expect(remoteVersion(LS, 'HEAD')).toEqual({ kind: 'head', sha: A, branch: 'main' });
    expect(remoteVersion(LS, 'dev')).toEqual({ kind: 'branch', sha: B, branch: 'dev' });
    expect(remoteVersion(LS, 'v1')).toEqual({ kind: 'tag', sha: B });
    expect(remoteVersion(LS, C)).toEqual({ kind: 'sha', sha: C });
    expect(remoteVersion(LS, 'abc123')).toEqual({ kind: 'sha' });
  });
  it('probe output parses into the state; untracked files are not local modifications', () => {
    const s = parseGit({ code: 0, stdout: formatFrame({ repo: '1', exists: '1', head: A, branch: 'main', url: 'u', status: '?? new\n M f', ls_rc: '0', ls: LS }), stderr: '' });
    expect(s).toMatchObject({ repo: { head: A, branch: 'main', url: 'u', modified: [' M f'] }, lsRemote: { ok: true } });
    expect(parseGit({ code: 0, stdout: formatFrame({ repo: '1' }, false), stderr: '' })).toHaveProperty('probeFailed');
  });
  it('no repository: clone with --branch for a branch or tag, a checkout for a sha, submodules when recursive', () => {
    const c = pure(git, P({ version: 'dev', depth: 1 }), gstate({ exists: false }));
    expect(c.steps).toHaveLength(1);
    expect((c.steps[0] as any).script).toContain("git clone --origin origin --depth 1 --branch dev -- https://example.invalid/r.git /srv/r");
    expect((c.steps[0] as any).script).toContain('submodule update --init --recursive');
    expect(c.result).toEqual({ before: null, after: B });
    const s = pure(git, P({ version: C, recursive: false }), gstate({ exists: false }));
    expect((s.steps[0] as any).script).toMatch(/git clone --origin origin -- \S+ \/srv\/r\ngit -C \/srv\/r checkout --force c{40}$/);
    expect(pure(git, P({ clone: false }), gstate({ exists: false })).steps).toEqual([]);
    expect(pure(git, P(), gstate({ empty: true })).steps).toHaveLength(1);
    expect(pure(git, P(), gstate()).fail?.code).toBe('dest_exists');
    expect(pure(git, P(), gstate({ exists: false, lsRemote: { ok: false, text: 'fatal: repository not found' } })).fail?.code).toBe('remote_failed');
    expect(pure(git, P({ version: 'nope' }), gstate({ exists: false })).fail?.code).toBe('version_not_found');
    expect(pure(git, P(), { ...gstate(), noGit: true }).fail?.code).toBe('missing_tool');
  });
  it('a repository: nothing when HEAD is the wanted sha; fetch + checkout of the branch otherwise; url change is a change', () => {
    const repo = { head: A, branch: 'main', url: 'https://example.invalid/r.git', modified: [] };
    const same = pure(git, P(), gstate({ repo }));
    expect(same.steps).toEqual([]);
    expect(same.result).toEqual({ before: A, after: A, remote_url_changed: false });
    const dev = pure(git, P({ version: 'dev' }), gstate({ repo }));
    expect(dev.result).toEqual({ before: A, after: B, remote_url_changed: false });
    expect((dev.steps[0] as any).script).toContain("checkout --force -B dev origin/dev");
    const tag = pure(git, P({ version: 'v1' }), gstate({ repo }));
    expect((tag.steps[0] as any).script).toMatch(/checkout --force b{40}/);
    const url = pure(git, P(), gstate({ repo: { ...repo, url: 'git@old:r.git' } }));
    expect(url.steps).toHaveLength(1);
    expect((url.steps[0] as any).script).toContain('remote set-url origin https://example.invalid/r.git');
    expect(url.result).toMatchObject({ remote_url_changed: true });
    expect(pure(git, P({ update: false, version: 'dev' }), gstate({ repo })).steps).toEqual([]);
    // a short sha HEAD already is
    expect(pure(git, P({ version: 'aaaaaaa' }), gstate({ repo })).steps).toEqual([]);
  });
  it('local modifications: fail without force (in check mode too, as Ansible), reset with force', () => {
    const repo = { head: A, branch: 'main', url: 'https://example.invalid/r.git', modified: [' M f'] };
    const f = pure(git, P(), gstate({ repo }));
    expect(f.fail).toEqual({ code: 'local_modifications', path: '/srv/r', message: 'Local modifications exist in the destination: /srv/r (force=no).' });
    const forced = pure(git, P({ force: true }), gstate({ repo }));
    expect((forced.steps[0] as any).script).toContain('reset --hard HEAD');
  });
  it('ssh options become GIT_SSH_COMMAND; verify_commit is refused', () => {
    const p = P({ accept_newhostkey: true, key_file: '/k', ssh_opts: '-p 2222' });
    expect(p.sshCommand).toBe("ssh -o StrictHostKeyChecking=accept-new -i /k -o IdentitiesOnly=yes -p 2222");
    expect(git.probe(p)!.script).toContain('GIT_SSH_COMMAND=');
    expect(() => P({ verify_commit: true })).toThrow(/verify_commit/);
  });
});

const mem = (name: string, o: Partial<Member> = {}): Member => ({ name, type: 'file', size: 3, mtime: 1000, mode: '0644', ...o });
const ent = (rel: string, o: Partial<DestEntry> = {}): DestEntry => ({ rel, type: 'file', size: 3, mtime: 1000.5, mode: '0644', uid: 0, gid: 0, owner: 'root', group: 'root', atime: 0, ctime: 0, inode: 0, dev: 0, nlink: 1, ...o });
const ustate = (members: Member[], entries: DestEntry[], over: Partial<UnarchiveState> = {}): UnarchiveState => ({
  creates: false, destDir: true, destExists: true, root: true, tools: new Set(['tar', 'gzip', 'unzip']), noSrc: false, format: 'gz', members, entries: new Map(entries.map((e) => [e.rel, e])), ...over,
});

describe('unarchive (data)', () => {
  const P = (o: Record<string, unknown> = {}) => prepareUnarchive({ src: '/srv/a.tar.gz', dest: '/srv/out', remote_src: true, ...o }, ctx);
  it('listings: GNU tar -tv --full-time (escapes, links, modes) and zipinfo -T', () => {
    const t = parseTarListing([
      'drwxr-xr-x 0/0               0 2026-12-02 09:50:48 ./app/',
      '-rw-r----- 0/0              12 2026-12-02 09:50:48 ./app/a\\nb c.txt',
      'lrwxrwxrwx 0/0               0 2026-12-02 09:50:48 ./app/cur -> a b',
      'hrw-r--r-- 0/0               0 2026-12-02 09:50:48 ./app/h link to ./app/x',
      '-rwsr-xr-x 0/0               1 1970-01-01 00:00:01 bin',
    ].join('\n'));
    expect(t).toEqual([
      { name: 'app', type: 'directory', size: 0, mtime: Date.UTC(2026, 11, 2, 9, 50, 48) / 1000, mode: '0755' },
      { name: 'app/a\nb c.txt', type: 'file', size: 12, mtime: Date.UTC(2026, 11, 2, 9, 50, 48) / 1000, mode: '0640' },
      { name: 'app/cur', type: 'link', size: 0, mtime: Date.UTC(2026, 11, 2, 9, 50, 48) / 1000, mode: '0777', target: 'a b' },
      { name: 'app/h', type: 'hardlink', size: 0, mtime: Date.UTC(2026, 11, 2, 9, 50, 48) / 1000, mode: '0644', target: './app/x' },
      { name: 'bin', type: 'file', size: 1, mtime: 1, mode: '4755' },
    ]);
    const z = parseZipListing('Archive:  a.zip\nZip file size: 1 bytes, number of entries: 2\ndrwxr-xr-x  3.0 unx        0 bx stor 20261202.095048 top/\n-rw-r--r--  3.0 unx        6 tx stor 20261202.095048 top/a b.txt\n2 files, 6 bytes uncompressed\n');
    expect(z).toEqual([{ name: 'top', type: 'directory', size: 0, mtime: 0, mode: '0755' }, { name: 'top/a b.txt', type: 'file', size: 6, mtime: 0, mode: '0644' }]);
    expect(formatOf(Buffer.from([0x1f, 0x8b, 8]))).toBe('gz');
    expect(formatOf(Buffer.from('PK\x03\x04', 'latin1'))).toBe('zip');
    expect(formatOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zst');
    expect(formatOf(Buffer.from('hello'))).toBeUndefined();
  });
  it('same members: nothing to do; a missing, resized, re-timed, re-linked or re-moded member unpacks', () => {
    const ms = [mem('app', { type: 'directory', size: 0, mode: '0755' }), mem('app/f'), mem('app/l', { type: 'link', target: 'f', mode: '0777' })];
    const es = [ent('app', { type: 'directory', size: 4096, mode: '0755' }), ent('app/f'), ent('app/l', { type: 'link', target: 'f', mode: '0777' })];
    const same = pure(unarchive, P(), ustate(ms, es));
    expect(same.steps).toEqual([]);
    expect(same.result).toEqual({ dest: '/srv/out', src: '/srv/a.tar.gz', handler: 'TgzArchive' });
    for (const [e2, why] of [
      [es.slice(0, 2), 'app/l is missing'],
      [[es[0]!, ent('app/f', { size: 4 }), es[2]!], 'app/f size 4 -> 3'],
      [[es[0]!, ent('app/f', { mtime: 999 }), es[2]!], 'app/f mtime differs'],
      [[es[0]!, es[1]!, ent('app/l', { type: 'link', target: 'g' })], 'app/l link target g -> f'],
      [[es[0]!, ent('app/f', { mode: '0600' }), es[2]!], 'app/f mode 0600 -> 0644'],
    ] as const) {
      const plan = pure(unarchive, P(), ustate(ms, [...e2]));
      expect(plan.reason).toBe(why);
      expect(plan.steps).toHaveLength(1);
      expect((plan.steps[0] as any).script).toBe("set -e\ntar --extract -C /srv/out -f /srv/a.tar.gz");
    }
    // not root: modes follow the umask, not compared
    expect(pure(unarchive, P(), ustate(ms, [es[0]!, ent('app/f', { mode: '0600' }), es[2]!], { root: false })).steps).toEqual([]);
    // keep_newer: a newer file in dest is kept
    expect(pure(unarchive, P({ keep_newer: true }), ustate(ms, [es[0]!, ent('app/f', { mtime: 2000, size: 9 }), es[2]!])).steps).toEqual([]);
    // exclude / include select members
    expect(pure(unarchive, P({ exclude: ['app/l'] }), ustate(ms, es.slice(0, 2))).steps).toEqual([]);
    expect((pure(unarchive, P({ include: ['app/f'] }), ustate(ms, [])).steps[0] as any).script).toContain("--wildcards -- app/f");
  });
  it('owner/group/mode: compared on every member, applied after unpacking', () => {
    const ms = [mem('f')];
    const p = P({ mode: '0600', owner: 'nobody' });
    const plan = pure(unarchive, p, ustate(ms, [ent('f')]));
    expect(plan.reason).toBe('f: owner root -> nobody, mode 0644 -> 0600');
    expect(plan.steps).toHaveLength(2);
    expect((plan.steps[1] as any).input).toBe('/srv/out/f\0');
    expect(pure(unarchive, p, ustate(ms, [ent('f', { mode: '0600', owner: 'nobody', uid: 65534 })])).steps).toEqual([]);
  });
  it('zip compares type and size; creates short-circuits; missing tools, dest and src fail as data', () => {
    const zp = P({ src: '/srv/a.zip' });
    const z = ustate([mem('f', { mtime: 0 })], [ent('f', { mtime: 5 })], { format: 'zip' });
    expect(pure(unarchive, zp, z).steps).toEqual([]);
    expect((pure(unarchive, zp, ustate([mem('f')], [], { format: 'zip' })).steps[0] as any).script).toBe('set -e\nunzip -q -o /srv/a.zip -d /srv/out');
    expect(pure(unarchive, zp, ustate([mem('f')], [], { format: 'zip', tools: new Set(['tar']) })).fail?.message).toMatch(/Unable to find required 'unzip' binary/);
    expect(pure(unarchive, P(), ustate([mem('f')], [], { format: 'zst' })).fail?.message).toMatch(/'zstd'/);
    expect(pure(unarchive, P({ creates: '/srv/out/f' }), ustate([], [], { creates: true })).reason).toBe('skipped, since /srv/out/f exists');
    expect(pure(unarchive, P(), ustate([], [], { destDir: false })).fail?.code).toBe('not_a_directory');
    expect(pure(unarchive, P(), ustate([], [], { noSrc: true })).fail?.code).toBe('missing_file');
    expect(() => P({ src: 'https://example.invalid/a.tgz' })).toThrow(/URL/);
    expect(() => P({ copy: false })).toThrow(/mutually exclusive/);
  });
});

describe('real probes and steps on the local machine', () => {
  let dir: string;
  const conn = new LocalConnection('local');
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-gitun-data-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cycle = async (mod: ModuleDef<any, any>, p: unknown): Promise<Plan> => {
    const probe = mod.probe(p)!;
    return mod.plan(p, probe.parse(await conn.run(probe.script)));
  };
  const converge = async (mod: ModuleDef<any, any>, p: unknown) => {
    const plan = await cycle(mod, p);
    expect(plan.fail, plan.reason).toBeUndefined();
    expect(plan.steps.length).toBeGreaterThan(0);
    for (const r of await applySteps(conn, plan.steps, {})) expect(r.code, r.stderr).toBe(0);
    const again = await cycle(mod, p);
    expect(again.steps, again.reason).toEqual([]);
    return { plan, again };
  };
  const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { cwd: dir, encoding: 'utf8' });

  it('git: clone, then a new commit is fetched and checked out', async () => {
    sh('git init -q --bare -b main src.git && git clone -q src.git w 2>/dev/null && cd w && echo 1 > f && git add f && git -c user.email=a@b -c user.name=a commit -qm 1 && git push -q origin main');
    const p = prepareGit({ repo: `file://${dir}/src.git`, dest: `${dir}/co` });
    const { plan } = await converge(git, p);
    expect(plan.result).toEqual({ before: null, after: sh('git -C w rev-parse HEAD').trim() });
    sh('cd w && echo 2 > f && git -c user.email=a@b -c user.name=a commit -qam 2 && git push -q origin main');
    const { again } = await converge(git, p);
    expect(again.result!.before).toBe(sh('git -C w rev-parse HEAD').trim());
    expect(fs.readFileSync(path.join(dir, 'co/f'), 'utf8')).toBe('2\n');
  });
  it('unarchive: a controller-side tar.gz and a remote zip unpack, then nothing to do; a changed member unpacks again', async () => {
    sh('mkdir -p t/top/d out zout && echo hi > t/top/d/x && ln -s d/x t/top/l && tar -czf a.tgz -C t top && (cd t && zip -qry ../a.zip top)');
    const local: ModuleContext = { ...ctx, findFile: (_k, n) => path.join(dir, n) };
    await converge(unarchive, prepareUnarchive({ src: 'a.tgz', dest: `${dir}/out` }, local));
    expect(fs.readFileSync(path.join(dir, 'out/top/d/x'), 'utf8')).toBe('hi\n');
    await converge(unarchive, prepareUnarchive({ src: `${dir}/a.zip`, dest: `${dir}/zout`, remote_src: true }, local));
    expect(fs.readlinkSync(path.join(dir, 'zout/top/l'))).toBe('d/x');
    sh('echo changed > t/top/d/x && tar -czf a.tgz -C t top');
    const { plan } = await converge(unarchive, prepareUnarchive({ src: 'a.tgz', dest: `${dir}/out` }, local));
    expect(plan.reason).toBe('top/d/x size 3 -> 8');
  });
});
