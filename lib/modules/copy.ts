/**
 * copy: put content (from `content:` or a controller file `src:`) at `dest`, with mode/owner/group.
 * Also the engine of template.ts (which renders first, then behaves as copy with content).
 *
 * dest that is a symlink is followed (the file it points to is compared and written, the link stays).
 * dest ending in '/' or naming an existing directory means dest/basename(src).
 */
import { readFileSync, statSync } from 'node:fs';
import { RunbookError } from '../errors.js';
import type { ExecResult } from '../connection/types.js';
import { failPlan, failure, isProbeFailed, type ModuleContext, type ModuleDef, type Plan, type Probe, type ProbeFailed, type Step } from './types.js';
import {
  CONTENT_LIMIT,
  EPILOGUE,
  FILE_ATTR_SCHEMA,
  PRELUDE,
  inlineProbe,
  attrChanges,
  badArg,
  basenameOf,
  contentDiff,
  dirnameOf,
  frameState,
  namesFor,
  parseStat,
  quote,
  sha1,
  statShell,
  wantedAttrs,
  type FileStat,
  type WantedAttrs,
} from './common.js';
import { encodeText } from './bytes.js';
import { DEFAULT_UMASK, resolveWanted } from './file-attrs.js';
import { WRITE_OPTS_SCHEMA, backupResult, withWriteOpts, writeOpts, type WriteOpts } from './backup-validate.js';

export interface ContentParams {
  /** dest as given (a trailing '/' already resolved into destDir + basename) */
  dest: string;
  content: Buffer;
  /** basename of src, used when dest turns out to be a directory */
  srcBase?: string;
  /** dest ended in '/': it is a directory, created when missing */
  destIsDir: boolean;
  force: boolean;
  attrs: WantedAttrs;
  /** backup / validate (backup-validate.ts) */
  write: WriteOpts;
}

/** What the probe saw at dest. */
export interface DestFile {
  /** dest names an existing directory and there is no src name to put in it */
  destIsDir: boolean;
  /** the path compared and written (dest/basename(src) for a directory dest, a symlink followed) */
  path: string;
  stat: FileStat;
  parentExists: boolean;
  root: boolean;
  /** the content of a regular file small enough to send back */
  content?: Buffer;
  /** the sha1 of a regular file too large to send back */
  sha1?: string;
  /** the probing shell's umask (a symbolic mode without who, and a new file's starting mode, depend on it) */
  umask: number;
}

export type ContentState = DestFile | ProbeFailed;

/** Pure: the probe's output -> ContentState. */
export function parseContentState(out: ExecResult, p: ContentParams): ContentState {
  const f = frameState(out);
  if (isProbeFailed(f)) return f;
  const um = f.str('umask');
  const umask = um !== undefined && /^[0-7]+$/.test(um) ? parseInt(um, 8) : DEFAULT_UMASK;
  if (f.str('dest_is_dir') === '1') {
    return { destIsDir: true, path: p.dest, stat: parseStat(f, 'd'), parentExists: true, root: f.str('uid') === '0', umask };
  }
  const s: DestFile = {
    destIsDir: false,
    path: f.str('path') ?? p.dest,
    stat: parseStat(f, 'd'),
    parentExists: f.str('parent') === '1',
    root: f.str('uid') === '0',
    umask,
  };
  const content = f.buf('content');
  if (content !== undefined) s.content = content;
  const sha = f.str('sha1');
  if (sha !== undefined) s.sha1 = sha;
  return s;
}

export function contentProbe(p: ContentParams): Probe<ContentState> {
  return { script: contentProbeScript(p), parse: (out) => parseContentState(out, p) };
}

export function contentProbeScript(p: ContentParams): string {
  return inlineProbe([
    PRELUDE,
    `p=${quote(p.dest)}`,
    `b=${quote(p.srcBase ?? '')}`,
    `if [ -d "$p" ]; then`,
    `  if [ -n "$b" ]; then p="\${p%/}/$b"; else kv dest_is_dir 1; fi`,
    `fi`,
    // follow a symlinked dest to the file it names
    `if [ -L "$p" ]; then _r=$(readlink -f -- "$p"; echo x); _r=\${_r%?}; _r=\${_r%?}; if [ -n "$_r" ]; then kv link "$p"; p=$_r; fi; fi`,
    `kv path "$p"`,
    `rb_dirname "$p"`,
    `if [ -d "$_d" ]; then kv parent 1; else kv parent 0; fi`,
    statShell('d', 'p', false, p.dest),
    // the content when it is small enough (its sha1 is computed on the controller), else only its sha1
    `if [ -f "$p" ] && [ ! -L "$p" ]; then`,
    `  if [ -r "$p" ] && [ "\${d_sz:-0}" -le ${CONTENT_LIMIT} ]; then kvtext content "$p" "$d_sz"; elif _s=$(sha1sum < "$p"); then kv sha1 "\${_s%% *}"; fi`,
    `fi`,
    `rb_uid; kv uid "$_uid"`,
    `rb_umask; kv umask "$_um"`,
    EPILOGUE,
  ].join('\n'));
}

export function contentPlan(p: ContentParams, s: ContentState): Plan {
  const plan = contentPlanBase(p, s);
  return isProbeFailed(s) || s.destIsDir ? plan : withWriteOpts(plan, p.write, s.stat.type === 'file');
}

function contentPlanBase(p0: ContentParams, s: ContentState): Plan {
  if (isProbeFailed(s)) return failPlan(s.probeFailed);
  // a symbolic mode is resolved against the file as it is (or as a new file starts)
  const p = { ...p0, attrs: resolveWanted(p0.attrs, s.stat, s.umask) };
  if (s.destIsDir) return failPlan(failure('is_directory', `can not use content with a dir as dest: ${p.dest} is a directory`, p.dest));
  const { path, stat: st } = s;
  const wantSha = sha1(p.content);
  const result = { dest: path, checksum: wantSha, size: p.content.length, state: 'file' };
  const steps: Step[] = [];

  if (st.type !== 'absent' && st.type !== 'file') {
    return failPlan(failure('not_a_file', `dest ${path} exists and is a ${st.type}, not a regular file`, path), result);
  }
  if (st.type === 'absent') {
    const parent = dirnameOf(path);
    if (!s.parentExists) {
      if (!p.destIsDir) return failPlan(failure('missing_parent', `Destination directory ${parent} does not exist`, parent), result);
      steps.push({ kind: 'run', script: `mkdir -p -- ${quote(parent)}`, describe: `create directory ${parent}` });
    }
    steps.push({ kind: 'write', path, content: p.content, ...p.attrs, describe: `create ${path}` });
    return {
      steps,
      reason: `${path} does not exist`,
      diffs: [contentDiff(path, Buffer.alloc(0), undefined, p.content)],
      result,
    };
  }

  // a regular file is there
  if (!p.force) return { steps: [], reason: `${path} exists and force is false`, result };
  const curContent = s.content;
  const curSha = s.sha1 ?? (curContent ? sha1(curContent) : undefined);
  if (!curSha) return failPlan(failure('unreadable', `cannot read ${path} to compare its content`, path), result);
  const { changes, script } = attrChanges(path, p.attrs, st);
  if (curSha !== wantSha) {
    const root = s.root;
    // the write replaces the file: keep what the user did not ask to change
    const step: Step = {
      kind: 'write',
      path,
      content: p.content,
      mode: p.attrs.mode ?? st.mode,
      describe: `write ${path}`,
    };
    const owner = p.attrs.owner ?? (root ? String(st.uid) : undefined);
    const group = p.attrs.group ?? (root ? String(st.gid) : undefined);
    if (owner !== undefined) step.owner = owner;
    if (group !== undefined) step.group = group;
    return {
      steps: [step],
      reason: ['content differs', ...changes].join(', '),
      diffs: [contentDiff(path, curContent, curSha, p.content)],
      result,
    };
  }
  if (script) {
    return { steps: [{ kind: 'run', script, describe: changes.join(', ') }], reason: changes.join(', '), result };
  }
  return { steps: [], reason: `${path} exists with same content and attributes`, result };
}

/** Shared prepare of copy/template: dest, force, attributes. */
export function prepareContent(params: Record<string, unknown>, content: Buffer, srcBase: string | undefined): ContentParams {
  let dest = params.dest as string;
  if (!dest) throw badArg('dest is required');
  let destIsDir = false;
  if (dest.endsWith('/')) {
    if (srcBase === undefined) throw badArg(`can not use content with a dir as dest: ${dest}`);
    destIsDir = true;
    dest = dest.replace(/\/+$/, '') + '/' + srcBase;
    if (dest.startsWith('//')) dest = dest.slice(1);
  }
  const p: ContentParams = { dest, content, destIsDir, force: params.force !== false, attrs: wantedAttrs(params), write: writeOpts(params) };
  if (srcBase !== undefined && !destIsDir) p.srcBase = srcBase;
  return p;
}

/** `content:` as bytes: UTF-8, with escaped non-UTF-8 bytes (see bytes.ts, e.g. from a rendered file) as the bytes */
function contentOf(v: unknown): Buffer {
  if (typeof v === 'string') return encodeText(v);
  if (v !== null && typeof v === 'object') return encodeText(JSON.stringify(v));
  return encodeText(String(v));
}

export function prepareCopy(params: Record<string, unknown>, ctx: ModuleContext): ContentParams {
  const hasContent = params.content !== undefined;
  const src = params.src as string | undefined;
  if (hasContent && src !== undefined) throw badArg('src and content are mutually exclusive');
  if (!hasContent && src === undefined) throw badArg('one of src or content is required');
  if (hasContent) return prepareContent(params, contentOf(params.content), undefined);
  const found = ctx.findFile('files', src!);
  if (!found) throw new RunbookError('missing_file', `copy: could not find src file '${src}' (looked in the role's files/ and the playbook directory)`);
  let data: Buffer;
  try {
    if (statSync(found).isDirectory()) throw badArg(`copy: src '${src}' is a directory; copying directories is not supported`);
    data = readFileSync(found);
  } catch (e) {
    if (e instanceof RunbookError) throw e;
    throw new RunbookError('missing_file', `copy: cannot read src file '${src}' (${found}): ${(e as Error).message}`);
  }
  return prepareContent(params, data, basenameOf(src!));
}

export const copySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['dest'],
  properties: {
    dest: { type: 'string', minLength: 1 },
    src: { type: 'string', minLength: 1 },
    content: { type: ['string', 'number', 'boolean', 'object', 'array'] },
    force: { type: 'boolean' },
    ...WRITE_OPTS_SCHEMA,
    ...FILE_ATTR_SCHEMA,
  },
};

/** finish of copy and template: Ansible's backup_file when a backup was made */
export function finishContent(_p: ContentParams, outputs: ExecResult[]): Record<string, unknown> {
  return backupResult(outputs);
}

const copy: ModuleDef<ContentParams, ContentState> = {
  name: 'copy',
  aliases: namesFor('copy'),
  description: 'Put a file (src on the controller, or inline content) on the host, with mode/owner/group',
  schema: copySchema,
  prepare: prepareCopy,
  probe: contentProbe,
  plan: contentPlan,
  finish: finishContent,
};

export default copy;
