/**
 * The whole-file edits (lineinfile, blockinfile, replace): ONE read-only probe (stat + content of the
 * symlink-followed path), parsed into a typed EditState, and the pure plan they share: edit(before) -> write the file
 * whole when different, keeping mode/owner/group unless asked.
 */
import type { ExecResult } from '../connection/types.js';
import { failPlan, failure, isProbeFailed, type Plan, type Probe, type ProbeFailed } from './types.js';
import { DEFAULT_UMASK, resolveWanted } from './file-attrs.js';
import { withWriteOpts, type WriteOpts } from './backup-validate.js';
import { EPILOGUE, PRELUDE, attrChanges, contentDiff, frameState, parseStat, quote, statShell, wholeFileWrite, type FileStat, type WantedAttrs } from './common.js';

/** Largest file an edit reads (the whole file travels in the probe output). */
export const EDIT_LIMIT = 8 * 1024 * 1024;

/** What the edit probe saw. */
export interface EditFile {
  /** the path after following a symlink */
  path: string;
  stat: FileStat;
  /** the parent directory of `path` exists */
  parentExists: boolean;
  /** the probe ran as root (a rewrite then keeps the file's owner and group) */
  root: boolean;
  /** the file is larger than EDIT_LIMIT (its content was not sent) */
  tooBig: boolean;
  /** the content of a regular file (undefined when absent, too big or unreadable) */
  content?: Buffer;
  /** the probing shell's umask (for a symbolic mode) */
  umask: number;
}

export type EditState = EditFile | ProbeFailed;

export function editProbeScript(path: string): string {
  return [
    PRELUDE,
    `p=${quote(path)}`,
    `if [ -L "$p" ]; then _r=$(readlink -f -- "$p"; echo x); _r=\${_r%?}; _r=\${_r%?}; if [ -n "$_r" ]; then p=$_r; fi; fi`,
    `kv path "$p"`,
    `rb_dirname "$p"`,
    `if [ -d "$_d" ]; then kv parent 1; else kv parent 0; fi`,
    statShell('d', 'p', true),
    `if [ -f "$p" ]; then`,
    `  if [ "\${d_sz:-0}" -le ${EDIT_LIMIT} ]; then kvfile content "$p"; else kv too_big 1; fi`,
    `fi`,
    `rb_uid; kv uid "$_uid"`,
    `rb_umask; kv umask "$_um"`,
    EPILOGUE,
  ].join('\n');
}

/** Pure: the edit probe's output -> EditState. */
export function parseEditState(out: ExecResult, asked: string): EditState {
  const f = frameState(out);
  if (isProbeFailed(f)) return f;
  const s: EditFile = {
    path: f.str('path') ?? asked,
    stat: parseStat(f, 'd'),
    parentExists: f.str('parent') === '1',
    root: f.str('uid') === '0',
    tooBig: f.str('too_big') === '1',
    umask: /^[0-7]+$/.test(f.str('umask') ?? '') ? parseInt(f.str('umask')!, 8) : DEFAULT_UMASK,
  };
  const content = f.buf('content');
  if (content !== undefined) s.content = content;
  return s;
}

export function editProbe(path: string): Probe<EditState> {
  return { script: editProbeScript(path), parse: (out) => parseEditState(out, path) };
}

export interface EditTarget {
  path: string;
  create: boolean;
  attrs: WantedAttrs;
  /** backup / validate (backup-validate.ts); absent: neither */
  write?: WriteOpts;
}

/** The edit target with a symbolic mode resolved against the file the probe saw. */
export function resolvedTarget<T extends EditTarget>(t: T, s: EditFile): T {
  return { ...t, attrs: resolveWanted(t.attrs, s.stat, s.umask) };
}

/** The plan with the target's backup/validate on its write step. */
export function withEditWriteOpts(plan: Plan, t: EditTarget, s: EditState): Plan {
  if (t.write === undefined || isProbeFailed(s)) return plan;
  return withWriteOpts(plan, t.write, s.stat.type === 'file');
}

/** The read-only probe of a file edit: stat + content of the (symlink-followed) path. */
export function probeEdit(t: EditTarget): Probe<EditState> {
  return editProbe(t.path);
}

/** A failed edit plan, about `path`. */
export function editFail(code: string, msg: string, path: string, extra: Record<string, unknown> = {}): Plan {
  return failPlan(failure(code, msg, path), extra);
}

/**
 * Plan a whole-file edit. `edit` gets the current content (latin1: one char per byte, '' when the file is absent)
 * and returns the new content and Ansible's msg; it may throw a RunbookError for bad input.
 * `absentOk`: the module has nothing to do with a missing file (state=absent) and says so with this reason.
 */
export function planEdit(
  t: EditTarget,
  state: EditState,
  edit: (before: string, exists: boolean) => { after: string; msg: string; noop?: string },
  absentOk?: string,
): Plan {
  if (isProbeFailed(state)) return failPlan(state.probeFailed);
  return withEditWriteOpts(planEditBase(resolvedTarget(t, state), state, edit, absentOk), t, state);
}

function planEditBase(
  t: EditTarget,
  state: EditFile,
  edit: (before: string, exists: boolean) => { after: string; msg: string; noop?: string },
  absentOk?: string,
): Plan {
  const { path, stat: st } = state;
  if (st.type === 'directory') return editFail('is_directory', `Path ${t.path} is a directory !`, path, { rc: 256 });
  if (st.type !== 'absent' && st.type !== 'file') return editFail('not_a_file', `Path ${t.path} is a ${st.type}, not a regular file`, path);
  if (state.tooBig) return editFail('too_big', `${path} is larger than ${EDIT_LIMIT} bytes; runbook does not edit files that big`, path);
  const exists = st.type === 'file';
  if (!exists) {
    if (absentOk !== undefined) return { steps: [], reason: absentOk, result: { msg: '' } };
    if (!t.create) return editFail('missing_path', `Path ${t.path} does not exist !`, path, { rc: 257 });
  }
  const beforeBuf = exists ? state.content : Buffer.alloc(0);
  if (beforeBuf === undefined) return editFail('unreadable', `cannot read ${path}`, path);
  const before = beforeBuf.toString('latin1');
  let out: { after: string; msg: string; noop?: string };
  try {
    out = edit(before, exists);
  } catch (e) {
    // bad input (e.g. a regexp), not something about the file: no path
    return failPlan(failure('bad_argument', (e as Error).message), {});
  }
  const result: Record<string, unknown> = { msg: out.msg };
  if (out.after !== before || !exists) {
    if (!exists && out.after === '') return { steps: [], reason: out.noop ?? `${path} does not exist and there is nothing to write`, result };
    const after = Buffer.from(out.after, 'latin1');
    const { steps, changes } = wholeFileWrite(path, after, t.attrs, st, state);
    return { steps, reason: [exists ? out.msg : `${out.msg} (file created)`, ...changes].join(', '), diffs: [contentDiff(path, beforeBuf, undefined, after)], result };
  }
  const { changes, script } = attrChanges(path, t.attrs, st);
  if (script) return { steps: [{ kind: 'run', script, describe: changes.join(', ') }], reason: changes.join(', '), result };
  return { steps: [], reason: out.noop ?? `${path} already has the wanted content`, result };
}
