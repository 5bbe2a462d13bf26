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

export type FileState = 'file' | 'directory' | 'absent' | 'link' | 'touch';

export interface FileParams {
  path: string;
  state?: FileState;
  src?: string;
  force: boolean;
  attrs: WantedAttrs;
}

export function prepareFile(params: Record<string, unknown>): FileParams {
  const names = (['path', 'dest', 'name'] as const).filter((k) => params[k] !== undefined);
  if (names.length === 0) throw badArg('path is required');
  if (names.length > 1) throw badArg(`give the path once: ${names.join(', ')} are aliases`);
  const path = String(params[names[0]!]);
  if (path === '') throw badArg('path must not be empty');
  const p: FileParams = { path, force: params.force === true, attrs: wantedAttrs(params) };
  if (params.state !== undefined) p.state = params.state as FileState;
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
}

export type FileProbeState = PathState | ProbeFailed;

/** Pure: the probe's output -> state. */
export function parseFileState(out: ExecResult): FileProbeState {
  const f = frameState(out);
  if (isProbeFailed(f)) return f;
  const s: PathState = { stat: parseStat(f, 'l') };
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
    statShell('l', 'p', false),
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
  lines.push(EPILOGUE);
  return lines.join('\n');
}

function failed(code: string, msg: string, path: string, result: Record<string, unknown>): Plan {
  return failPlan(failure(code, msg, path), result);
}

function kindName(st: FileStat): string {
  return st.type === 'absent' ? 'absent' : st.type;
}

export function planFile(p: FileParams, s: FileProbeState): Plan {
  if (isProbeFailed(s)) return failPlan(s.probeFailed);
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
  else state = 'file';
  const result: Record<string, unknown> = { path, state };

  const stateDiff = (before: string, after: string) => [{ label: path, before: `state: ${before}\n`, after: `state: ${after}\n` }];
  const attrsOn = (cur: FileStat, what: string, noDeref = false): Plan => {
    const { changes, script } = attrChanges(path, p.attrs, cur, noDeref);
    if (!script) return { steps: [], reason: `${path} is ${what} with the requested attributes`, result };
    return { steps: [{ kind: 'run', script, describe: changes.join(', ') }], reason: changes.join(', '), result };
  };

  switch (state) {
    case 'file': {
      const eff = st.type === 'link' ? target! : st;
      if (eff.type === 'absent') return failed('missing_path', `file (${path}) is absent, cannot continue`, path, result);
      if (eff.type === 'directory') return failed('is_directory', `file (${path}) is directory, cannot continue`, path, result);
      return attrsOn(eff, st.type === 'link' ? 'a link to a file' : 'a file');
    }
    case 'directory': {
      if (st.type === 'absent') {
        const script = [`mkdir -p -- ${q}`, ...attrScript(path, p.attrs)].join(' && ');
        return {
          steps: [{ kind: 'run', script, describe: `create directory ${path}` }],
          reason: `create directory ${path}`,
          diffs: stateDiff('absent', 'directory'),
          result,
        };
      }
      if (st.type === 'directory') return attrsOn(st, 'a directory');
      if (st.type === 'link' && target?.type === 'directory') return attrsOn(target, 'a link to a directory');
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
      const cmds = [`touch -- ${q}`];
      let reason: string;
      if (st.type === 'absent') {
        cmds.push(...attrScript(path, p.attrs));
        reason = `create ${path} (touch)`;
      } else {
        const eff = st.type === 'link' && target && target.type !== 'absent' ? target : st;
        const { changes, script } = attrChanges(path, p.attrs, eff);
        if (script) cmds.push(script);
        reason = ['touch always updates the timestamps (always changed, like Ansible)', ...changes].join(', ');
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
