/**
 * file: make a path a file (attributes only: it must exist), a directory (mkdir -p; attributes on the leaf),
 * a symlink, absent (rm -rf, like Ansible), or touch it (always changed, like Ansible).
 * With no state: the current kind of the path (file when absent, which then fails like Ansible).
 */
import type { ExecResult } from '../connection/types.js';
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type Probe, type ProbeFailed, type Step } from './types.js';
import {
  EPILOGUE,
  FILE_ATTR_SCHEMA,
  PRELUDE,
  inlineProbe,
  attrChanges,
  attrScript,
  badArg,
  dirnameOf,
  frameState,
  namesFor,
  parseStat,
  quote,
  statShell,
  wantedAttrs,
  type FileStat,
  type WantedAttrs,
} from './common.js';
import { DEFAULT_UMASK, chmodCmd, resolveMode, resolveWanted, sameAccount } from './file-attrs.js';
import { timeSpec, type TimeSpec } from './file-times.js';

export type FileState = 'file' | 'directory' | 'absent' | 'link' | 'touch';

export interface FileParams {
  path: string;
  state?: FileState;
  src?: string;
  force: boolean;
  attrs: WantedAttrs;
  /** follow a symlink at path (Ansible's default true): attributes and times go to what it points to */
  follow: boolean;
  /** state=directory: owner/group/mode on everything below path too */
  recurse: boolean;
  /** access_time / modification_time (undefined: preserve) */
  atime?: TimeSpec;
  mtime?: TimeSpec;
}

export function prepareFile(params: Record<string, unknown>): FileParams {
  const names = (['path', 'dest', 'name'] as const).filter((k) => params[k] !== undefined);
  if (names.length === 0) throw badArg('path is required');
  if (names.length > 1) throw badArg(`give the path once: ${names.join(', ')} are aliases`);
  const path = String(params[names[0]!]);
  if (path === '') throw badArg('path must not be empty');
  const p: FileParams = { path, force: params.force === true, attrs: wantedAttrs(params), follow: params.follow !== false, recurse: params.recurse === true };
  if (params.state !== undefined) p.state = params.state as FileState;
  if (p.recurse && p.state !== undefined && p.state !== 'directory') throw badArg("recurse option requires state to be 'directory'");
  const atime = timeSpec(params.access_time, params.access_time_format, p.state);
  const mtime = timeSpec(params.modification_time, params.modification_time_format, p.state);
  if (atime !== undefined) p.atime = atime;
  if (mtime !== undefined) p.mtime = mtime;
  if (typeof params.src === 'string') p.src = params.src;
  if (p.src !== undefined && p.state !== 'link' && p.state !== undefined) throw badArg(`src is only used with state=link (state is ${p.state})`);
  if (p.state === 'link' && p.src === undefined) throw badArg('src is required with state=link');
  if ((p.state === 'link' || (p.state === undefined && p.src !== undefined)) && p.attrs.mode !== undefined) {
    throw badArg('mode is not supported with state=link (it would change the link target)');
  }
  return p;
}

/** Where a link's src is looked up: relative src is relative to the link's directory. */
function srcAbs(p: FileParams): string | undefined {
  if (p.src === undefined) return undefined;
  if (p.src.startsWith('/')) return p.src;
  const d = dirnameOf(p.path);
  return d === '/' ? `/${p.src}` : `${d}/${p.src}`;
}

/** What the probe saw at path. */
export interface PathState {
  /** the path itself (a symlink not followed) */
  stat: FileStat;
  /** what a symlink points to */
  target?: FileStat;
  /** a directory (not a link) has no entries */
  empty?: boolean;
  /** src of a link exists (only when src is given) */
  srcExists?: boolean;
  /** the probing shell's umask */
  umask: number;
  /** mtime and atime (seconds with 9 decimals, as `stat -c %.9Y`) of the path (followed when follow is true) */
  times?: { m: string; a: string };
  /** the host's epoch seconds of access_time / modification_time given as a time */
  atEpoch?: { m?: string; a?: string };
  /** recurse: every entry below path (type letter of find -printf %y, mode, uid, gid, owner, group, path) */
  tree?: TreeEntry[];
}

export interface TreeEntry {
  type: string;
  mode: string;
  uid: number;
  gid: number;
  owner: string;
  group: string;
  path: string;
}

/** Pure: find -printf '%y %m %U %G %u:%g:%p\0' output -> entries. */
export function parseTree(buf: Buffer): TreeEntry[] {
  const out: TreeEntry[] = [];
  for (const rec of buf.toString('utf8').split('\0')) {
    const m = /^(\S) ([0-7]+) (\d+) (\d+) ([^:]*):([^:]*):([\s\S]+)$/.exec(rec);
    if (!m) continue;
    out.push({ type: m[1]!, mode: m[2]!.padStart(4, '0'), uid: Number(m[3]), gid: Number(m[4]), owner: m[5]!, group: m[6]!, path: m[7]! });
  }
  return out;
}

export type FileProbeState = PathState | ProbeFailed;

/** Pure: the probe's output -> state. */
export function parseFileState(out: ExecResult): FileProbeState {
  const f = frameState(out);
  if (isProbeFailed(f)) return f;
  const um = f.str('umask') ?? '';
  const s: PathState = { stat: parseStat(f, 'l'), umask: /^[0-7]+$/.test(um) ? parseInt(um, 8) : DEFAULT_UMASK };
  const times = f.str('times');
  if (times !== undefined && / /.test(times)) s.times = { m: times.split(' ')[0]!, a: times.split(' ')[1]! };
  if (f.has('at_m') || f.has('at_a')) {
    s.atEpoch = {};
    if (f.has('at_m')) s.atEpoch.m = f.str('at_m')!;
    if (f.has('at_a')) s.atEpoch.a = f.str('at_a')!;
  }
  const tree = f.buf('tree');
  if (tree !== undefined) s.tree = parseTree(tree);
  if (f.has('t_raw')) s.target = parseStat(f, 't');
  if (f.has('empty')) s.empty = f.str('empty') === '1';
  if (f.has('src_exists')) s.srcExists = f.str('src_exists') === '1';
  return s;
}

export function probeFile(p: FileParams): Probe<FileProbeState> {
  return { script: probeFileScript(p), parse: parseFileState };
}

export function probeFileScript(p: FileParams): string {
  const lines = [
    PRELUDE,
    `p=${quote(p.path)}`,
    statShell('l', 'p', false, p.path),
    `if [ -L "$p" ]; then`,
    statShell('t', 'p', true),
    `fi`,
    `if [ -d "$p" ] && [ ! -L "$p" ]; then`,
    // empty: no entry matches any of the three globs (a glob that matches nothing stays as it is and does not exist)
    `  _e=1; for _f in "$p"/* "$p"/.[!.]* "$p"/..?*; do if [ -e "$_f" ] || [ -L "$_f" ]; then _e=0; break; fi; done; kv empty $_e`,
    `fi`,
  ];
  const abs = srcAbs(p);
  if (abs !== undefined) lines.push(`if [ -e ${quote(abs)} ]; then kv src_exists 1; else kv src_exists 0; fi`);
  lines.push(`rb_umask; kv umask "$_um"`);
  if (p.atime !== undefined || p.mtime !== undefined) {
    const L = p.follow ? '-L ' : '';
    lines.push(`if [ -e "$p" ] || [ -L "$p" ]; then kv times "$(stat ${L}-c '%.9Y %.9X' -- "$p" 2>/dev/null)"; fi`);
    if (p.mtime?.kind === 'at') lines.push(`kv at_m "$(date -d ${quote(p.mtime.local)} +%s)"`);
    if (p.atime?.kind === 'at') lines.push(`kv at_a "$(date -d ${quote(p.atime.local)} +%s)"`);
  }
  if (p.recurse) {
    // every entry below the directory (through a followed link when follow), one NUL-ended record each, as one
    // base64 value: names with any byte but NUL survive
    const start = p.follow ? `"$p"/` : `"$p"`;
    lines.push(`if [ -d "$p" ] && { [ ! -L "$p" ] || ${p.follow ? 'true' : 'false'}; }; then printf 'tree:'; find ${start} -mindepth 1 -printf '%y %m %U %G %u:%g:%p\\0' | base64; printf '\\0'; fi`);
  }
  lines.push(EPILOGUE);
  return inlineProbe(lines.join('\n'));
}

function failed(code: string, msg: string, path: string, result: Record<string, unknown>): Plan {
  return failPlan(failure(code, msg, path), result);
}

function kindName(st: FileStat): string {
  return st.type === 'absent' ? 'absent' : st.type;
}

/** The touch commands (and human changes) that bring the times of `path` (whose stat is `s.times`) to p's times. */
export function timeChanges(path: string, p: FileParams, s: PathState, created: boolean): { changes: string[]; cmds: string[] } {
  const changes: string[] = [];
  const cmds: string[] = [];
  const h = p.follow ? '' : '-h ';
  if (p.mtime?.kind === 'now' && p.atime?.kind === 'now') {
    // both now: one touch (utime(path, None) in Ansible, which needs no ownership)
    return { changes: ['touch always updates the timestamps (always changed, like Ansible)'], cmds: [`touch ${h}-- ${quote(path)}`] };
  }
  for (const [k, spec, flag, what] of [['m', p.mtime, '-m', 'modification time'], ['a', p.atime, '-a', 'access time']] as const) {
    if (spec === undefined) continue;
    if (spec.kind === 'now') {
      // Ansible compares with time.time(): 'now' always differs
      changes.push(`${what} -> now`);
      cmds.push(`touch ${h}${flag} -- ${quote(path)}`);
      continue;
    }
    const want = s.atEpoch?.[k];
    if (want === undefined || !/^-?\d+$/.test(want)) continue;
    const cur = s.times?.[k];
    if (!created && cur !== undefined && Number(cur) === Number(want) && /^-?\d+(\.0*)?$/.test(cur)) continue;
    changes.push(`${what} ${cur ?? 'unset'} -> ${want}`);
    cmds.push(`touch ${h}${flag} -d @${want} -- ${quote(path)}`);
  }
  return { changes, cmds };
}

/** recurse: the owner/group/mode commands for the entries below a directory (a symlink gets owner/group only). */
export function treeChanges(p: FileParams, tree: TreeEntry[], umask: number): { count: number; cmds: string[] } {
  const cmds: string[] = [];
  let count = 0;
  for (const e of tree) {
    const q = quote(e.path);
    const link = e.type === 'l';
    const before = cmds.length;
    if (p.attrs.owner !== undefined && !sameAccount(p.attrs.owner, e.owner, e.uid)) cmds.push(`chown -h ${quote(p.attrs.owner)} -- ${q}`);
    if (p.attrs.group !== undefined && !sameAccount(p.attrs.group, e.group, e.gid)) cmds.push(`chgrp -h ${quote(p.attrs.group)} -- ${q}`);
    if (!link && p.attrs.mode !== undefined) {
      const want = resolveMode(p.attrs.mode, { mode: e.mode, directory: e.type === 'd' }, umask);
      if (want !== e.mode) cmds.push(chmodCmd(want, q, e.type === 'd'));
      else if (cmds.length > before && (parseInt(want, 8) & 0o6000) !== 0) cmds.push(chmodCmd(want, q, e.type === 'd'));
    }
    if (cmds.length > before) count++;
  }
  return { count, cmds };
}

export function planFile(p0: FileParams, s: FileProbeState): Plan {
  if (isProbeFailed(s)) return failPlan(s.probeFailed);
  const p = p0;
  const st = s.stat;
  const target = s.target;
  const path = p.path;
  const q = quote(path);

  let state: FileState;
  let src = p.src;
  if (p.state !== undefined) state = p.state;
  else if (st.type === 'directory') state = 'directory';
  else if (st.type === 'link') {
    state = p.src !== undefined ? 'link' : target?.type === 'directory' ? 'directory' : target?.type === 'absent' ? 'link' : 'file';
    if (state === 'link' && src === undefined) src = st.target;
  } else if (st.type === 'absent' && p.src !== undefined) state = 'link';
  else if (st.type === 'absent' && p.recurse) state = 'directory';
  else state = 'file';
  const result: Record<string, unknown> = { path, state };

  const stateDiff = (before: string, after: string) => [{ label: path, before: `state: ${before}\n`, after: `state: ${after}\n` }];
  const attrsOn = (cur: FileStat, what: string, noDeref = false, withTree = false): Plan => {
    const attrs = resolveWanted(p.attrs, cur, s.umask);
    const { changes, script } = attrChanges(path, attrs, cur, noDeref);
    const t = timeChanges(path, p, s, false);
    const cmds = [...(script ? [script] : []), ...t.cmds];
    const all = [...changes, ...t.changes];
    if (withTree && s.tree) {
      const tree = treeChanges(p, s.tree, s.umask);
      if (tree.count) {
        cmds.push(...tree.cmds);
        all.push(`${tree.count} entr${tree.count === 1 ? 'y' : 'ies'} below ${path} (recurse)`);
      }
    }
    if (!cmds.length) return { steps: [], reason: `${path} is ${what} with the requested attributes`, result };
    return { steps: [{ kind: 'run', script: cmds.join(' && '), describe: all.join(', ') }], reason: all.join(', '), result };
  };

  switch (state) {
    case 'file': {
      if (st.type === 'link' && !p.follow) return failed('not_a_file', `file (${path}) is link, cannot continue`, path, result);
      const eff = st.type === 'link' ? target! : st;
      if (eff.type === 'absent') return failed('missing_path', `file (${path}) is absent, cannot continue`, path, result);
      if (eff.type === 'directory') return failed('is_directory', `file (${path}) is directory, cannot continue`, path, result);
      return attrsOn(eff, st.type === 'link' ? 'a link to a file' : 'a file');
    }
    case 'directory': {
      if (st.type === 'absent') {
        const attrs = resolveWanted(p.attrs, st, s.umask, 'directory');
        // an octal mode alone goes to mkdir -m (one process, not mkdir + chmod): it sets the leaf's mode exactly as
        // the chmod after it did (intermediate directories keep the umask default either way); a symbolic mode or an
        // owner/group keeps the separate commands (mkdir -m reads a symbolic mode against a=rwx, chmod against the umask)
        const octal = attrs.owner === undefined && attrs.group === undefined && attrs.mode !== undefined && /^[0-7]{3,4}$/.test(attrs.mode);
        const script = (octal ? [`mkdir -p -m ${attrs.mode} -- ${q}`] : [`mkdir -p -- ${q}`, ...attrScript(path, attrs)]).concat(timeChanges(path, p, s, true).cmds).join(' && ');
        return {
          steps: [{ kind: 'run', script, describe: `create directory ${path}` }],
          reason: `create directory ${path}`,
          diffs: stateDiff('absent', 'directory'),
          result,
        };
      }
      if (st.type === 'directory') return attrsOn(st, 'a directory', false, true);
      if (st.type === 'link' && target?.type === 'directory' && p.follow) return attrsOn(target, 'a link to a directory', false, true);
      if (st.type === 'link' && !p.follow) return failed('not_a_directory', `${path} already exists as a link`, path, result);
      return failed('not_a_directory', `${path} already exists as a ${st.type === 'link' ? `link to ${kindName(target!)}` : st.type}, not a directory`, path, result);
    }
    case 'absent': {
      if (st.type === 'absent') return { steps: [], reason: `${path} is already absent`, result };
      const script = st.type === 'directory' ? `rm -rf -- ${q}` : `rm -f -- ${q}`;
      return {
        steps: [{ kind: 'run', script, describe: `remove ${path}` }],
        reason: `remove ${st.type} ${path}`,
        diffs: stateDiff(st.type, 'absent'),
        result,
      };
    }
    case 'touch': {
      const cmds: string[] = [];
      let reason: string;
      if (st.type === 'absent') {
        cmds.push(`touch -- ${q}`, ...attrScript(path, resolveWanted(p.attrs, st, s.umask)));
        // a new file's times are now; only a given time is set again
        cmds.push(...timeChanges(path, p, s, true).cmds.filter((c) => c.includes(' -d @')));
        reason = `create ${path} (touch)`;
      } else {
        const eff = st.type === 'link' && target && target.type !== 'absent' && p.follow ? target : st;
        const { changes, script } = attrChanges(path, resolveWanted(p.attrs, eff, s.umask), eff, !p.follow);
        const t = timeChanges(path, p, s, false);
        if (script) cmds.push(script);
        cmds.push(...t.cmds);
        if (!cmds.length) return { steps: [], reason: `${path} exists with the requested attributes and times (preserve)`, result };
        reason = [...t.changes, ...changes].join(', ');
      }
      return { steps: [{ kind: 'run', script: cmds.join(' && '), describe: `touch ${path}` }], reason, result };
    }
    case 'link': {
      if (src === undefined) return failPlan(failure('bad_argument', 'src is required with state=link'), result);
      result.src = src;
      if (st.type === 'link' && st.target === src) return attrsOn(st, `already a link to ${src}`, true);
      const abs = srcAbs({ ...p, src });
      if (!p.force && s.srcExists === false) {
        return failed('missing_path', `src file does not exist, use "force=yes" if you really want to create the link: ${abs}`, abs!, result);
      }
      const steps: Step[] = [];
      let reason: string;
      const ln = [`ln -sfn -- ${quote(src)} ${q}`, ...attrScript(path, { owner: p.attrs.owner, group: p.attrs.group }, true)];
      if (st.type === 'absent') {
        reason = `create link ${path} -> ${src}`;
        ln[0] = `ln -s -- ${quote(src)} ${q}`;
      } else if (st.type === 'link') {
        reason = `link ${path} points to ${st.target}, should point to ${src}`;
      } else if (st.type === 'directory') {
        if (!p.force) return failed('refused', `refusing to convert from directory to symlink for ${path}`, path, result);
        if (s.empty !== true) return failed('refused', `the directory ${path} is not empty, refusing to convert it`, path, result);
        reason = `replace empty directory ${path} with a link to ${src}`;
        ln[0] = `rmdir -- ${q} && ln -s -- ${quote(src)} ${q}`;
      } else {
        if (!p.force) return failed('refused', `refusing to convert from ${st.type} to symlink for ${path}`, path, result);
        reason = `replace ${st.type} ${path} with a link to ${src}`;
      }
      steps.push({ kind: 'run', script: ln.join(' && '), describe: reason });
      return { steps, reason, diffs: stateDiff(st.type === 'link' ? `link -> ${st.target}` : st.type, `link -> ${src}`), result };
    }
  }
}

export const fileSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    path: { type: 'string' },
    dest: { type: 'string' },
    name: { type: 'string' },
    state: { enum: ['file', 'directory', 'absent', 'link', 'touch'] },
    src: { type: 'string', minLength: 1 },
    force: { type: 'boolean' },
    follow: { type: 'boolean' },
    recurse: { type: 'boolean' },
    access_time: { type: 'string' },
    access_time_format: { type: 'string' },
    modification_time: { type: 'string' },
    modification_time_format: { type: 'string' },
    ...FILE_ATTR_SCHEMA,
  },
};

const file: ModuleDef<FileParams, FileProbeState> = {
  name: 'file',
  aliases: namesFor('file'),
  description: 'Manage a path: file attributes, directory, symlink, absent, touch',
  schema: fileSchema,
  prepare: prepareFile,
  probe: probeFile,
  plan: planFile,
};

export default file;
