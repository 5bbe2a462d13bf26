/** stat: read-only facts about a path, named as Ansible's stat module names them. Never a change. */
import type { ExecResult } from '../connection/types.js';
import { failPlan, isProbeFailed, type ModuleDef, type Plan, type Probe, type ProbeFailed } from './types.js';
import { EPILOGUE, PRELUDE, badArg, inlineProbe, frameState, namesFor, parseStat, quote, statShell, type FileStat } from './common.js';

export interface StatParams {
  path: string;
  follow: boolean;
  getChecksum: boolean;
  algorithm: 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512' | 'md5';
}

export function prepareStat(params: Record<string, unknown>): StatParams {
  const names = (['path', 'dest', 'name'] as const).filter((k) => params[k] !== undefined);
  if (names.length !== 1) throw badArg(names.length ? `give the path once: ${names.join(', ')} are aliases` : 'path is required');
  const alg = (params.checksum_algorithm ?? params.checksum ?? params.checksum_algo ?? 'sha1') as StatParams['algorithm'];
  return { path: String(params[names[0]!]), follow: params.follow === true, getChecksum: params.get_checksum !== false, algorithm: alg };
}

/** What the probe saw at path. */
export interface PathInfo {
  stat: FileStat;
  readable: boolean;
  writeable: boolean;
  executable: boolean;
  /** a link's fully resolved path */
  lnkSource?: string;
  /** the checksum of a readable regular file (get_checksum) */
  checksum?: string;
}

export type StatState = PathInfo | ProbeFailed;

/** Pure: the probe's output -> StatState. */
export function parseStatState(out: ExecResult): StatState {
  const f = frameState(out);
  if (isProbeFailed(f)) return f;
  const s: PathInfo = { stat: parseStat(f, 's'), readable: f.str('readable') === '1', writeable: f.str('writeable') === '1', executable: f.str('executable') === '1' };
  const src = f.str('lnk_source');
  if (src !== undefined) s.lnkSource = src;
  const sum = f.str('checksum');
  if (sum !== undefined) s.checksum = sum;
  return s;
}

export function probeStat(p: StatParams): Probe<StatState> {
  return { script: probeStatScript(p), parse: parseStatState };
}

export function probeStatScript(p: StatParams): string {
  const lines = [PRELUDE, `p=${quote(p.path)}`, statShell('s', 'p', p.follow)];
  if (p.getChecksum) {
    // only regular files (following a link when follow, as Ansible) that can be read
    const test = p.follow ? `[ -f "$p" ]` : `[ -f "$p" ] && [ ! -L "$p" ]`;
    lines.push(`if ${test} && [ -r "$p" ]; then if _s=$(${p.algorithm}sum < "$p"); then kv checksum "\${_s%% *}"; fi; fi`);
  }
  lines.push(`if [ -L "$p" ]; then _r=$(readlink -f -- "$p"; echo x); _r=\${_r%?}; kv lnk_source "\${_r%?}"; fi`);
  lines.push(`if [ -r "$p" ]; then kv readable 1; fi`, `if [ -w "$p" ]; then kv writeable 1; fi`, `if [ -x "$p" ]; then kv executable 1; fi`);
  lines.push(EPILOGUE);
  return inlineProbe(lines.join('\n'));
}

export function planStat(p: StatParams, s: StatState): Plan {
  if (isProbeFailed(s)) return failPlan(s.probeFailed);
  const st = s.stat;
  if (st.type === 'absent') return { steps: [], reason: `stat is read-only: ${p.path} does not exist`, result: { stat: { exists: false } } };
  const stat: Record<string, unknown> = {
    exists: true,
    path: p.path,
    mode: st.mode,
    isdir: st.type === 'directory',
    isreg: st.type === 'file',
    islnk: st.type === 'link',
    isfifo: st.type === 'fifo',
    issock: st.type === 'socket',
    isblk: st.type === 'block',
    ischr: st.type === 'char',
    uid: st.uid,
    gid: st.gid,
    pw_name: st.owner,
    gr_name: st.group,
    size: st.size,
    mtime: st.mtime,
    atime: st.atime,
    ctime: st.ctime,
    inode: st.inode,
    dev: st.dev,
    nlink: st.nlink,
    readable: s.readable,
    writeable: s.writeable,
    executable: s.executable,
  };
  if (st.type === 'link') {
    stat.lnk_target = st.target ?? '';
    stat.lnk_source = s.lnkSource ?? '';
  }
  if (s.checksum !== undefined) stat.checksum = s.checksum;
  return { steps: [], reason: `stat is read-only: ${p.path} is a ${st.type === 'file' ? 'regular file' : st.type}`, result: { stat } };
}

export const statSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    path: { type: 'string', minLength: 1 },
    dest: { type: 'string', minLength: 1 },
    name: { type: 'string', minLength: 1 },
    follow: { type: 'boolean' },
    get_checksum: { type: 'boolean' },
    checksum_algorithm: { enum: ['sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'md5'] },
    checksum: { enum: ['sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'md5'] },
    checksum_algo: { enum: ['sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'md5'] },
    // accepted only as false (playbooks turning them off for speed): runbook does not compute mime type or attributes
    get_mime: { const: false },
    get_attributes: { const: false },
  },
};

const stat: ModuleDef<StatParams, StatState> = {
  name: 'stat',
  aliases: namesFor('stat'),
  description: 'Facts about a path (exists, type, mode, owner, size, mtime, checksum); never changes anything',
  schema: statSchema,
  prepare: prepareStat,
  probe: probeStat,
  plan: planStat,
};

export default stat;
