/**
 * find (ansible.builtin.find): files matching criteria, as Ansible's module walks and filters them. The probe lists
 * each path's entries once (GNU find -printf: type, mode, size, ids, names, times, device, inode, links; with
 * contains or get_checksum also the regular files' content / sha1) and the host's clock; the plan filters them
 * (patterns / excludes as shell globs or Python-style regexes on the base name, hidden, file_type, age + age_stamp,
 * size, contains line by line or read_whole_file, depth) purely. Never changed. Returns files (stat-like dicts:
 * path, mode, isdir, isreg, islnk, uid, gid, size, inode, dev, nlink, atime, mtime, ctime, pw_name, gr_name, the
 * permission booleans; checksum with get_checksum), matched, examined, msg and skipped_paths as Ansible.
 * follow: symlinked directories are walked (find -L); the entries' stats are then of the link targets.
 * contains reads regular files up to 8 MiB (bigger ones do not match).
 */
import type { ExecResult } from '../connection/types.js';
import { RunbookError } from '../errors.js';
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type ProbeFailed } from './types.js';
import { PRELUDE, EPILOGUE, badArg, frameState, namesFor, quote } from './common.js';
import { decodeBytes } from './bytes.js';

export interface FindParams {
  paths: string[];
  patterns: string[];
  excludes: string[];
  contains?: string;
  read_whole_file: boolean;
  file_type: 'any' | 'directory' | 'file' | 'link';
  recurse: boolean;
  hidden: boolean;
  follow: boolean;
  get_checksum: boolean;
  use_regex: boolean;
  depth?: number;
  /** seconds; negative: newer than */
  age?: number;
  age_stamp: 'atime' | 'ctime' | 'mtime';
  /** bytes; negative: smaller than */
  size?: number;
}

const list = { type: 'array', items: { type: 'string' } };
export const findSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    paths: list,
    path: list,
    name: list,
    patterns: list,
    pattern: list,
    excludes: list,
    exclude: list,
    contains: { type: 'string' },
    read_whole_file: { type: 'boolean' },
    file_type: { enum: ['any', 'directory', 'file', 'link'] },
    recurse: { type: 'boolean' },
    hidden: { type: 'boolean' },
    follow: { type: 'boolean' },
    get_checksum: { type: 'boolean' },
    use_regex: { type: 'boolean' },
    depth: { type: 'integer' },
    age: { type: 'string' },
    age_stamp: { enum: ['atime', 'ctime', 'mtime'] },
    size: { type: 'string' },
  },
};

function oneOf(raw: Record<string, unknown>, names: string[]): unknown {
  const given = names.filter((n) => raw[n] !== undefined && raw[n] !== null);
  if (given.length > 1) throw badArg(`find: give only one of ${given.join(', ')} (aliases of ${names[0]})`);
  return given.length ? raw[given[0]!] : undefined;
}
const strs = (v: unknown): string[] => (v === undefined || v === null ? [] : (Array.isArray(v) ? v : String(v).split(',')).map(String));

export function prepareFind(raw: Record<string, unknown>): FindParams {
  const paths = strs(oneOf(raw, ['paths', 'path', 'name']));
  if (!paths.length) throw new RunbookError('missing_argument', 'find: missing required arguments: paths');
  const p: FindParams = {
    paths,
    patterns: strs(oneOf(raw, ['patterns', 'pattern'])),
    excludes: strs(oneOf(raw, ['excludes', 'exclude'])),
    read_whole_file: raw.read_whole_file === true,
    file_type: (raw.file_type as FindParams['file_type'] | undefined) ?? 'file',
    recurse: raw.recurse === true,
    hidden: raw.hidden === true,
    follow: raw.follow === true,
    get_checksum: raw.get_checksum === true,
    use_regex: raw.use_regex === true,
    age_stamp: (raw.age_stamp as FindParams['age_stamp'] | undefined) ?? 'mtime',
  };
  if (!p.patterns.length) p.patterns = [p.use_regex ? '.*' : '*'];
  if (raw.contains !== undefined && raw.contains !== null) p.contains = String(raw.contains);
  if (raw.depth !== undefined && raw.depth !== null) p.depth = Number(raw.depth);
  if (raw.age !== undefined && raw.age !== null) {
    const m = /^(-?\d+)(s|m|h|d|w)?$/.exec(String(raw.age).toLowerCase());
    if (!m) throw badArg(`find: failed to process age ${JSON.stringify(raw.age)}`);
    p.age = Number(m[1]) * ({ s: 1, m: 60, h: 3600, d: 86400, w: 604800 } as Record<string, number>)[m[2] ?? 's']!;
  }
  if (raw.size !== undefined && raw.size !== null) {
    const m = /^(-?\d+)(b|k|m|g|t)?$/.exec(String(raw.size).toLowerCase());
    if (!m) throw badArg(`find: failed to process size ${JSON.stringify(raw.size)}`);
    p.size = Number(m[1]) * ({ b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 } as Record<string, number>)[m[2] ?? 'b']!;
  }
  for (const re of p.use_regex ? [...p.patterns, ...p.excludes] : []) pyRegex(re);
  if (p.contains !== undefined) pyRegex(p.contains);
  return p;
}

/** a Python regex as a JS one (the common subset: (?P<n>...) named groups, \A and \Z anchors) */
function pyRegex(re: string, flags = ''): RegExp {
  try {
    return new RegExp(re.replace(/\(\?P</g, '(?<').replace(/\\A/g, '^').replace(/\\Z/g, '$'), flags);
  } catch (e) {
    throw badArg(`find: ${JSON.stringify(re)} is not a regular expression runbook understands: ${(e as Error).message}`);
  }
}

/** fnmatch.fnmatch (POSIX: case-sensitive) */
export function fnmatch(name: string, pat: string): boolean {
  let re = '';
  for (let i = 0; i < pat.length; i++) {
    const c = pat[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      let j = i + 1;
      if (pat[j] === '!') j++;
      if (pat[j] === ']') j++;
      while (j < pat.length && pat[j] !== ']') j++;
      if (j >= pat.length) re += '\\[';
      else {
        let set = pat.slice(i + 1, j).replace(/\\/g, '\\\\');
        if (set.startsWith('!')) set = '^' + set.slice(1);
        else if (set.startsWith('^')) set = '\\' + set;
        re += `[${set}]`;
        i = j;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^(?:${re})$`, 's').test(name);
}

/** pfilter on a base name */
export function pfilter(name: string, p: FindParams): boolean {
  const m = (pat: string) => (p.use_regex ? pyRegex(pat).exec(name)?.index === 0 : fnmatch(name, pat));
  for (const pat of p.patterns) {
    if (m(pat)) return !p.excludes.some(m);
  }
  return false;
}

const LIMIT = 8 * 1024 * 1024;
const FMT = '%y\\t%m\\t%s\\t%U\\t%G\\t%u\\t%g\\t%A@\\t%T@\\t%C@\\t%D\\t%i\\t%n\\t%d\\t%p\\0';

export function findScript(p: FindParams): string {
  const maxdepth = p.recurse ? (p.depth ? p.depth + 1 : undefined) : 1;
  const lines = [PRELUDE, `kv now "$(date +%s.%N)"`];
  p.paths.forEach((path, i) => {
    const P = path.startsWith('~') ? `"$HOME"${quote(path.slice(1))}` : quote(path);
    const find = `find ${p.follow ? '-L ' : ''}${P} -mindepth 1${maxdepth !== undefined ? ` -maxdepth ${maxdepth}` : ''}`;
    lines.push(`if [ -d ${P} ]; then kv "dir_${i}" 1`);
    lines.push(`  printf 'list_${i}:'; ${find} -printf '${FMT}' 2>/dev/null | base64; printf '\\0'`);
    if (p.contains !== undefined || p.get_checksum) {
      const body = [
        `for f; do printf '%s\\0' "$f";`,
        p.get_checksum ? `s=$(sha1sum < "$f" 2>/dev/null) && printf '%s' "\${s%% *}";` : '',
        `printf '\\0';`,
        p.contains !== undefined ? `if [ "$(wc -c < "$f" 2>/dev/null || echo ${LIMIT + 1})" -le ${LIMIT} ]; then base64 < "$f" 2>/dev/null | tr -d '\\n'; fi;` : '',
        `printf '\\0'; done`,
      ].join(' ');
      lines.push(`  printf 'extra_${i}:'; ${find} -type f -exec sh -c ${quote(body)} sh {} + 2>/dev/null | base64; printf '\\0'`);
    }
    lines.push(`else if [ -e ${P} ]; then kv "notdir_${i}" 1; else kv "missing_${i}" 1; fi; fi`);
  });
  lines.push(EPILOGUE);
  return lines.join('\n');
}

export interface FindEntry {
  type: string;
  mode: number;
  size: number;
  uid: number;
  gid: number;
  user: string;
  group: string;
  atime: number;
  mtime: number;
  ctime: number;
  dev: number;
  inode: number;
  nlink: number;
  depth: number;
  path: string;
  checksum?: string;
  content?: Buffer;
}

export interface FindRoot {
  path: string;
  kind: 'dir' | 'notdir' | 'missing';
  entries: FindEntry[];
}

export type FindState = { now: number; roots: FindRoot[] } | ProbeFailed;

export function parseFind(r: ExecResult, p: FindParams): FindState {
  const f = frameState(r);
  if (isProbeFailed(f)) return f;
  const roots: FindRoot[] = p.paths.map((path, i) => {
    if (f.str(`dir_${i}`) !== '1') return { path, kind: f.str(`notdir_${i}`) === '1' ? 'notdir' : 'missing', entries: [] };
    const extra = new Map<string, { checksum?: string; content?: Buffer }>();
    const ex = (f.buf(`extra_${i}`) ?? Buffer.alloc(0)).toString('latin1').split('\0');
    for (let k = 0; k + 2 < ex.length; k += 3) {
      const path = Buffer.from(ex[k]!, 'latin1').toString('utf8');
      extra.set(path, { ...(ex[k + 1] ? { checksum: ex[k + 1] } : {}), ...(p.contains !== undefined && ex[k + 2] !== undefined ? { content: Buffer.from(ex[k + 2]!, 'base64') } : {}) });
    }
    const entries: FindEntry[] = [];
    for (const rec of (f.buf(`list_${i}`) ?? Buffer.alloc(0)).toString('utf8').split('\0')) {
      if (!rec) continue;
      const x = rec.split('\t');
      if (x.length < 15) continue;
      const e: FindEntry = {
        type: x[0]!, mode: parseInt(x[1]!, 8), size: Number(x[2]), uid: Number(x[3]), gid: Number(x[4]), user: x[5]!, group: x[6]!,
        atime: Number(x[7]), mtime: Number(x[8]), ctime: Number(x[9]), dev: Number(x[10]), inode: Number(x[11]), nlink: Number(x[12]), depth: Number(x[13]), path: x.slice(14).join('\t'),
      };
      Object.assign(e, extra.get(e.path) ?? {});
      entries.push(e);
    }
    return { path, kind: 'dir', entries };
  });
  return { now: Number(f.str('now') ?? '0'), roots };
}

export function statInfo(e: FindEntry): Record<string, unknown> {
  const m = e.mode;
  // find prints %u / %g as the id when there is no name; Ansible's pw_name / gr_name are then ''
  return {
    path: e.path.replace(/\/{2,}/g, '/'),
    mode: (m & 0o7777).toString(8).padStart(4, '0'),
    isdir: e.type === 'd', ischr: e.type === 'c', isblk: e.type === 'b', isreg: e.type === 'f', isfifo: e.type === 'p', islnk: e.type === 'l', issock: e.type === 's',
    uid: e.uid, gid: e.gid, size: e.size, inode: e.inode, dev: e.dev, nlink: e.nlink, atime: e.atime, mtime: e.mtime, ctime: e.ctime,
    gr_name: e.group === String(e.gid) ? '' : e.group, pw_name: e.user === String(e.uid) ? '' : e.user,
    wusr: !!(m & 0o200), rusr: !!(m & 0o400), xusr: !!(m & 0o100), wgrp: !!(m & 0o20), rgrp: !!(m & 0o40), xgrp: !!(m & 0o10),
    woth: !!(m & 0o2), roth: !!(m & 0o4), xoth: !!(m & 0o1), isuid: !!(m & 0o4000), isgid: !!(m & 0o2000),
  };
}

function contentMatches(e: FindEntry, p: FindParams): boolean {
  if (p.contains === undefined) return true;
  if (!e.content) return false;
  const text = decodeBytes(e.content);
  if (p.read_whole_file) return pyRegex(p.contains).test(text);
  // Python's re.match on each line (its newline included): anchored at the line's start
  return (text.match(/[^\n]*\n|[^\n]+$/g) ?? []).some((l) => pyRegex(p.contains!).exec(l)?.index === 0);
}

export function planFind(p: FindParams, s: FindState | null): Plan {
  if (!s) return failPlan(failure('probe_failed', 'find: no probe result'));
  if (isProbeFailed(s)) return failPlan(s.probeFailed);
  const files: Record<string, unknown>[] = [];
  const skipped: Record<string, string> = {};
  let looked = 0;
  const age = (e: FindEntry) => p.age === undefined || (p.age >= 0 ? s.now - e[p.age_stamp] >= Math.abs(p.age) : s.now - e[p.age_stamp] <= Math.abs(p.age));
  const size = (e: FindEntry) => p.size === undefined || (p.size >= 0 ? e.size >= Math.abs(p.size) : e.size <= Math.abs(p.size));
  for (const root of s.roots) {
    if (root.kind !== 'dir') {
      skipped[root.path] = `'${root.path}' is not a directory`;
      continue;
    }
    looked += root.entries.length;
    for (const e of root.entries) {
      if (p.depth && e.depth > p.depth) continue;
      const base = e.path.slice(e.path.lastIndexOf('/') + 1);
      if (base.startsWith('.') && !p.hidden) continue;
      const take = (extra: Record<string, unknown> = {}) => files.push({ ...statInfo(e), ...extra });
      const named = pfilter(base, p) && age(e);
      if (p.file_type === 'any') {
        if (named && (e.type !== 'f' || size(e))) take(e.type === 'f' && p.get_checksum && e.checksum ? { checksum: e.checksum } : {});
      } else if (e.type === 'd' && p.file_type === 'directory') {
        if (named) take();
      } else if (e.type === 'f' && p.file_type === 'file') {
        if (named && size(e) && contentMatches(e, p)) take(p.get_checksum && e.checksum ? { checksum: e.checksum } : {});
      } else if (e.type === 'l' && p.file_type === 'link') {
        if (named) take();
      }
    }
  }
  const msg = Object.keys(skipped).length ? 'Not all paths examined, check warnings for details' : 'All paths examined';
  return { steps: [], reason: `${files.length} of ${looked} matched${Object.keys(skipped).length ? ` (skipped: ${Object.keys(skipped).join(', ')})` : ''}`, result: { files, matched: files.length, examined: looked, msg, skipped_paths: skipped } };
}

const find: ModuleDef<FindParams, FindState> = {
  name: 'find',
  aliases: namesFor('find'),
  description: 'files matching criteria (patterns, age, size, contents, type)',
  schema: findSchema,
  prepare: prepareFind,
  probe: (p) => ({ script: findScript(p), parse: (r) => parseFind(r, p) }),
  plan: planFind,
};

export default find;
