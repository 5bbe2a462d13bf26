/**
 * git (ansible.builtin.git): a checkout of `repo` at `version` in `dest`, as Ansible's module decides it.
 *
 * The probe (read-only) looks at dest: is it a repository (bare or not), its HEAD sha, its branch, the url of
 * `remote`, and local modifications (`git status --porcelain`, untracked files ignored as Ansible does); then asks
 * the remote what `version` is (`git ls-remote --symref REPO HEAD VERSION VERSION^{}`: a read, the same question
 * Ansible's module asks). The plan is pure: clone, or fetch + checkout, or nothing, so check mode is exact (changed
 * when HEAD is not the wanted sha, when the remote url differs, or when forced local modifications are reset).
 * Local modifications without force fail with Ansible's message in both modes. Returns before / after (shas) and
 * remote_url_changed.
 *
 * A version that is a short sha the remote does not advertise as a ref is compared by prefix with HEAD; when it is
 * not HEAD's, the plan fetches and checks it out (changed). verify_commit, archive, refspec, reference and
 * separate_git_dir are not implemented (the argument check says so).
 */
import type { ExecResult } from '../connection/types.js';
import { RunbookError } from '../errors.js';
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type ProbeFailed, type Step } from './types.js';
import { EPILOGUE, PRELUDE, badArg, frameState, namesFor, quote } from './common.js';

export interface GitParams {
  repo: string;
  dest: string;
  version: string;
  force: boolean;
  depth?: number;
  clone: boolean;
  update: boolean;
  remote: string;
  bare: boolean;
  single_branch: boolean;
  recursive: boolean;
  track_submodules: boolean;
  umask?: string;
  /** GIT_SSH_COMMAND from key_file / ssh_opts / accept_hostkey / accept_newhostkey ('' when none) */
  sshCommand: string;
}

export const gitSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    repo: { type: 'string', minLength: 1 },
    name: { type: 'string', minLength: 1 },
    dest: { type: 'string', minLength: 1 },
    version: { type: ['string', 'number'] },
    force: { type: 'boolean' },
    depth: { type: 'integer', minimum: 1 },
    clone: { type: 'boolean' },
    update: { type: 'boolean' },
    remote: { type: 'string', minLength: 1 },
    bare: { type: 'boolean' },
    single_branch: { type: 'boolean' },
    accept_hostkey: { type: 'boolean' },
    accept_newhostkey: { type: 'boolean' },
    key_file: { type: 'string' },
    ssh_opts: { type: 'string' },
    umask: { type: ['string', 'integer'] },
    recursive: { type: 'boolean' },
    track_submodules: { type: 'boolean' },
    verify_commit: { type: 'boolean' },
    executable: { type: 'string' },
  },
};

export function prepareGit(raw: Record<string, unknown>): GitParams {
  if (raw.repo !== undefined && raw.name !== undefined) throw badArg('git: give only one of repo, name (aliases)');
  const repo = (raw.repo ?? raw.name) as string | undefined;
  if (!repo) throw new RunbookError('missing_argument', 'git: missing required arguments: repo');
  const dest = raw.dest as string | undefined;
  if (!dest) throw new RunbookError('missing_argument', 'git: missing required arguments: dest');
  if (raw.verify_commit === true) throw badArg('git: verify_commit is not supported by runbook yet');
  if (raw.executable !== undefined) throw badArg('git: executable is not supported by runbook yet (git is taken from PATH)');
  const ssh: string[] = [];
  if (raw.accept_hostkey === true) ssh.push('-o StrictHostKeyChecking=no');
  else if (raw.accept_newhostkey === true) ssh.push('-o StrictHostKeyChecking=accept-new');
  if (typeof raw.key_file === 'string' && raw.key_file) ssh.push(`-i ${quote(raw.key_file)}`, '-o IdentitiesOnly=yes');
  if (typeof raw.ssh_opts === 'string' && raw.ssh_opts) ssh.push(raw.ssh_opts);
  const p: GitParams = {
    repo,
    dest: dest.replace(/(.)\/+$/, '$1'),
    version: raw.version === undefined || raw.version === null || raw.version === '' ? 'HEAD' : String(raw.version),
    force: raw.force === true,
    clone: raw.clone !== false,
    update: raw.update !== false,
    remote: (raw.remote as string | undefined) ?? 'origin',
    bare: raw.bare === true,
    single_branch: raw.single_branch === true,
    recursive: raw.recursive !== false,
    track_submodules: raw.track_submodules === true,
    sshCommand: ssh.length ? `ssh ${ssh.join(' ')}` : '',
  };
  if (raw.depth !== undefined && raw.depth !== null) p.depth = Number(raw.depth);
  if (raw.umask !== undefined && raw.umask !== null) {
    const u = typeof raw.umask === 'number' ? raw.umask.toString(8) : String(raw.umask);
    if (!/^[0-7]{1,4}$/.test(u)) throw badArg(`git: umask must be an octal number, got ${JSON.stringify(raw.umask)}`);
    p.umask = u;
  }
  return p;
}

/** the git command for dest: `git --git-dir=DEST` for a bare repository, `git -C DEST` otherwise */
const gitIn = (p: GitParams) => (p.bare ? `git --git-dir=${quote(p.dest)}` : `git -C ${quote(p.dest)}`);
const envPrefix = (p: GitParams) => (p.sshCommand ? `GIT_SSH_COMMAND=${quote(p.sshCommand)}; export GIT_SSH_COMMAND\n` : '') + 'GIT_TERMINAL_PROMPT=0; export GIT_TERMINAL_PROMPT\n';

export function gitScript(p: GitParams): string {
  const G = gitIn(p);
  const v = p.version;
  return [
    PRELUDE,
    envPrefix(p),
    `d=${quote(p.dest)}`,
    `if ! command -v git >/dev/null 2>&1; then kv nogit 1; kv end ok; exit 0; fi`,
    p.bare ? `isrepo=; if [ -f "$d/HEAD" ] && [ "$(${G} rev-parse --is-bare-repository 2>/dev/null)" = true ]; then isrepo=1; kv repo 1; fi`
      : `isrepo=; if [ -e "$d/.git" ] && ${G} rev-parse --git-dir >/dev/null 2>&1; then isrepo=1; kv repo 1; fi`,
    `if [ -e "$d" ]; then kv exists 1; if [ -d "$d" ] && [ -z "$(ls -A -- "$d" 2>/dev/null)" ]; then kv empty 1; fi; fi`,
    `if [ -n "$isrepo" ]; then`,
    `  h=$(${G} rev-parse --verify -q HEAD 2>/dev/null) && kv head "$h"`,
    `  b=$(${G} symbolic-ref -q --short HEAD 2>/dev/null) && kv branch "$b"`,
    `  u=$(${G} config --get ${quote(`remote.${p.remote}.url`)} 2>/dev/null) && kv url "$u"`,
    p.bare ? '' : `  s=$(${G} status --porcelain --untracked-files=no 2>&1) && kv status "$s"`,
    // a sha (or other name) the local repository already knows
    `  r=$(${G} rev-parse --verify -q ${quote(`${v}^{commit}`)} 2>/dev/null) && kv local_version "$r"`,
    `fi`,
    `lr=$(git ls-remote --symref -- ${quote(p.repo)} HEAD ${quote(v)} ${quote(`${v}^{}`)} 2>&1 </dev/null); kv ls_rc $?; kv ls "$lr"`,
    EPILOGUE,
  ].filter((l) => l !== '').join('\n');
}

export interface GitRepoState {
  head?: string;
  branch?: string;
  url?: string;
  /** modified tracked files (status --porcelain lines) */
  modified: string[];
  localVersion?: string;
}

export interface GitState {
  noGit: boolean;
  exists: boolean;
  empty: boolean;
  repo?: GitRepoState;
  lsRemote: { ok: boolean; text: string };
}

export type GitProbeState = GitState | ProbeFailed;

export function parseGit(r: ExecResult): GitProbeState {
  const f = frameState(r);
  if (isProbeFailed(f)) return f;
  const s: GitState = {
    noGit: f.str('nogit') === '1',
    exists: f.str('exists') === '1',
    empty: f.str('empty') === '1',
    lsRemote: { ok: f.str('ls_rc') === '0', text: f.str('ls') ?? '' },
  };
  if (f.str('repo') === '1') {
    const repo: GitRepoState = { modified: (f.str('status') ?? '').split('\n').filter((l) => l !== '' && !l.startsWith('??')) };
    for (const [k, key] of [['head', 'head'], ['branch', 'branch'], ['url', 'url'], ['localVersion', 'local_version']] as const) {
      const x = f.str(key);
      if (x !== undefined && x !== '') repo[k] = x;
    }
    s.repo = repo;
  }
  return s;
}

export interface RemoteVersion {
  /** the commit version names on the remote (undefined: the remote does not advertise it) */
  sha?: string;
  /** missing: not a ref on the remote and not something that looks like a sha */
  kind: 'head' | 'branch' | 'tag' | 'sha' | 'missing';
  /** the branch to check out: version itself, or the remote's default branch for HEAD */
  branch?: string;
}

/** What `version` is on the remote, from `git ls-remote --symref` output. Pure. */
export function remoteVersion(text: string, version: string): RemoteVersion {
  const refs = new Map<string, string>();
  let headRef: string | undefined;
  for (const line of text.split('\n')) {
    const sym = /^ref: (\S+)\tHEAD$/.exec(line);
    if (sym) headRef = sym[1];
    const m = /^([0-9a-f]{40,64})\t(.+)$/.exec(line);
    if (m) refs.set(m[2]!, m[1]!);
  }
  if (version === 'HEAD') {
    const r: RemoteVersion = { kind: 'head' };
    const sha = refs.get('HEAD');
    if (sha) r.sha = sha;
    if (headRef?.startsWith('refs/heads/')) r.branch = headRef.slice('refs/heads/'.length);
    return r;
  }
  const branch = refs.get(`refs/heads/${version}`);
  if (branch) return { kind: 'branch', sha: branch, branch: version };
  const tag = refs.get(`refs/tags/${version}^{}`) ?? refs.get(`refs/tags/${version}`);
  if (tag) return { kind: 'tag', sha: tag };
  if (/^[0-9a-f]{40}$/.test(version)) return { kind: 'sha', sha: version };
  return /^[0-9a-f]{4,39}$/.test(version) ? { kind: 'sha' } : { kind: 'missing' };
}

export function planGit(p: GitParams, s: GitProbeState | null): Plan {
  if (!s) return failPlan(failure('probe_failed', 'git: no probe result'));
  if (isProbeFailed(s)) return failPlan(s.probeFailed);
  if (s.noGit) return failPlan(failure('missing_tool', 'Failed to find required executable "git" in paths'));
  const G = gitIn(p);
  const pre = envPrefix(p) + (p.umask !== undefined ? `umask ${p.umask}\n` : '') + 'set -e\n';
  const submodules = !p.bare && p.recursive ? [`${G} submodule update --init --recursive${p.track_submodules ? ' --remote' : ''}`] : [];
  const rv = () => remoteVersion(s.lsRemote.text, p.version);

  if (!s.repo) {
    const before = null;
    if (!p.clone) return { steps: [], reason: `${p.dest} is not a repository and clone is false`, result: { before, after: null } };
    if (s.exists && !s.empty) {
      return failPlan(failure('dest_exists', `fatal: destination path '${p.dest}' already exists and is not an empty directory.`, p.dest), { before });
    }
    if (!s.lsRemote.ok) return failPlan(failure('remote_failed', `Failed to ls-remote ${p.repo}: ${s.lsRemote.text.trim()}`), { before });
    const r = rv();
    if (r.sha === undefined && r.kind !== 'sha') return failPlan(failure('version_not_found', `Cannot find version ${p.version} in ${p.repo}`));
    const opts = [
      p.bare ? '--bare' : '',
      `--origin ${quote(p.remote)}`,
      p.depth !== undefined ? `--depth ${p.depth}` : '',
      p.single_branch ? '--single-branch' : '',
      r.kind === 'branch' || r.kind === 'tag' ? `--branch ${quote(p.version)}` : '',
    ].filter(Boolean).join(' ');
    const lines = [`git clone ${opts} -- ${quote(p.repo)} ${quote(p.dest)}`];
    if (r.kind === 'sha') {
      if (p.depth !== undefined) lines.push(`${G} fetch --depth ${p.depth} ${quote(p.remote)} ${quote(p.version)}`);
      lines.push(p.bare ? `${G} update-ref --no-deref HEAD ${quote(p.version)}` : `${G} checkout --force ${quote(p.version)}`);
    }
    lines.push(...submodules);
    const after = r.sha ?? p.version;
    return {
      steps: [{ kind: 'run', script: pre + lines.join('\n'), describe: `clone ${p.repo} into ${p.dest}` }],
      reason: `${p.dest} would be cloned from ${p.repo} at ${p.version} (${after})`,
      doneReason: `cloned ${p.repo} into ${p.dest} at ${after}`,
      diffs: [{ label: p.dest, before: '', after: `${after}\n` }],
      result: { before, after },
    };
  }

  const repo = s.repo;
  const before = repo.head ?? null;
  if (!p.update) return { steps: [], reason: `${p.dest} is a repository and update is false`, result: { before, after: before } };
  const localMods = !p.bare && repo.modified.length > 0;
  if (localMods && !p.force) {
    return failPlan(failure('local_modifications', `Local modifications exist in the destination: ${p.dest} (force=no).`, p.dest), { before, after: before });
  }
  const urlChanged = repo.url !== p.repo;
  if (!s.lsRemote.ok) return failPlan(failure('remote_failed', `Failed to ls-remote ${p.repo}: ${s.lsRemote.text.trim()}`), { before });
  const r = rv();
  const wanted = r.sha ?? (r.kind === 'sha' ? (repo.localVersion ?? (before && before.startsWith(p.version) ? before : undefined)) : undefined);
  if (wanted === undefined && r.kind !== 'sha') return failPlan(failure('version_not_found', `Cannot find version ${p.version} in ${p.repo}`), { before });
  const steps: Step[] = [];
  const why: string[] = [];
  if (urlChanged) {
    const cmd = repo.url === undefined ? `${G} remote add ${quote(p.remote)} ${quote(p.repo)}` : `${G} remote set-url ${quote(p.remote)} ${quote(p.repo)}`;
    steps.push({ kind: 'run', script: pre + cmd, describe: `set remote ${p.remote} to ${p.repo}` });
    why.push(`remote ${p.remote} url ${repo.url ?? '(none)'} -> ${p.repo}`);
  }
  const result = { before, after: wanted ?? p.version, remote_url_changed: urlChanged };
  // a branch's checkout also follows its remote branch: being on another branch at the same sha is no change (Ansible compares shas)
  if (wanted !== undefined && before === wanted) {
    if (localMods) {
      steps.push({ kind: 'run', script: pre + `${G} reset --hard HEAD`, describe: `reset local modifications in ${p.dest}` });
      why.push(`local modifications in ${p.dest} would be reset (force)`);
    }
    if (!steps.length) return { steps: [], reason: `${p.dest} is at ${p.version} (${before})`, result };
    return { steps, reason: why.join(', '), result };
  }
  const refspecs = p.bare
    ? `'+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*'`
    : `${quote(`+refs/heads/*:refs/remotes/${p.remote}/*`)} '+refs/tags/*:refs/tags/*'`;
  const lines = [`${G} fetch --force${p.depth !== undefined ? ` --depth ${p.depth}` : ''} ${quote(p.remote)} ${refspecs}${r.kind === 'sha' ? ` ${quote(p.version)}` : ''}`];
  if (p.bare) {
    if (r.kind === 'sha' || r.kind === 'tag') lines.push(`${G} update-ref --no-deref HEAD ${quote(wanted ?? p.version)}`);
  } else if (r.branch !== undefined) {
    lines.push(`${G} checkout --force -B ${quote(r.branch)} ${quote(`${p.remote}/${r.branch}`)}`, `${G} branch --set-upstream-to=${quote(`${p.remote}/${r.branch}`)} ${quote(r.branch)} >/dev/null`);
  } else {
    lines.push(`${G} checkout --force ${quote(wanted ?? p.version)}`);
  }
  lines.push(...submodules);
  steps.push({ kind: 'run', script: pre + lines.join('\n'), describe: `update ${p.dest} to ${p.version}` });
  why.push(`${p.dest} ${before ?? '(no commit)'} -> ${wanted ?? p.version}`);
  return {
    steps,
    reason: why.join(', '),
    diffs: [{ label: p.dest, before: `${before ?? ''}\n`, after: `${wanted ?? p.version}\n` }],
    result,
  };
}

const git: ModuleDef<GitParams, GitProbeState> = {
  name: 'git',
  aliases: namesFor('git'),
  description: 'A git checkout of repo at version in dest (clone, fetch + checkout; local modifications need force)',
  schema: gitSchema,
  prepare: prepareGit,
  probe: (p) => ({ script: gitScript(p), parse: parseGit }),
  plan: planGit,
};

export default git;
