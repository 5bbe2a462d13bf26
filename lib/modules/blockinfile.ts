/**
 * blockinfile: insert / update / remove a block of lines between marker lines, following
 * ansible.builtin.blockinfile's algorithm (markers matched as whole lines; a new block goes after the last
 * insertafter match, before the last insertbefore match, else at EOF / BOF). The new content is computed in
 * TypeScript (pure) from the file the probe read, and written whole, atomically.
 *
 * Also home of the whole-file edit plan that replace.ts shares: probe = lineinfile's (stat + content of the
 * followed path), plan = edit(before) -> write when different, keeping mode/owner/group unless asked.
 */
import type { ExecResult } from '../connection/types.js';
import type { ModuleDef, Plan } from './types.js';
import { FILE_ATTR_SCHEMA, attrChanges, badArg, contentDiff, isFrameError, namesFor, parseFrame, parseStat, wantedAttrs, wholeFileWrite, type WantedAttrs } from './common.js';
import { encodeText } from './bytes.js';
import { LINEINFILE_LIMIT, probeLineInFile, pyRegex, readLines, type LineInFileParams } from './lineinfile.js';

// ---------------------------------------------------------------------------------------------------------------
// the shared whole-file edit

export interface EditTarget {
  path: string;
  create: boolean;
  attrs: WantedAttrs;
}

/** The read-only probe of a file edit: stat + content of the (symlink-followed) path. */
export function probeEdit(t: EditTarget): string {
  return probeLineInFile({ path: t.path } as LineInFileParams);
}

/**
 * Plan a whole-file edit. `edit` gets the current content (latin1: one char per byte, '' when the file is absent)
 * and returns the new content and Ansible's msg; it may throw a RunbookError for bad input.
 * `absentOk`: the module has nothing to do with a missing file (state=absent) and says so with this reason.
 */
export function planEdit(
  t: EditTarget,
  probe: ExecResult | null,
  edit: (before: string, exists: boolean) => { after: string; msg: string; noop?: string },
  absentOk?: string,
): Plan {
  const f = parseFrame(probe);
  if (isFrameError(f)) return { steps: [], reason: f.error, fail: f.error };
  const path = f.str('path') ?? t.path;
  const st = parseStat(f, 'd');
  const fail = (msg: string, extra: Record<string, unknown> = {}): Plan => ({ steps: [], reason: msg, fail: msg, result: extra });
  if (st.type === 'directory') return fail(`Path ${t.path} is a directory !`, { rc: 256 });
  if (st.type !== 'absent' && st.type !== 'file') return fail(`Path ${t.path} is a ${st.type}, not a regular file`);
  if (f.str('too_big') === '1') return fail(`${path} is larger than ${LINEINFILE_LIMIT} bytes; runbook does not edit files that big`);
  const exists = st.type === 'file';
  if (!exists) {
    if (absentOk !== undefined) return { steps: [], reason: absentOk, result: { msg: '' } };
    if (!t.create) return fail(`Path ${t.path} does not exist !`, { rc: 257 });
  }
  const beforeBuf = exists ? f.buf('content') : Buffer.alloc(0);
  if (beforeBuf === undefined) return fail(`cannot read ${path}`);
  const before = beforeBuf.toString('latin1');
  let out: { after: string; msg: string; noop?: string };
  try {
    out = edit(before, exists);
  } catch (e) {
    return fail((e as Error).message);
  }
  const result: Record<string, unknown> = { msg: out.msg };
  if (out.after !== before || !exists) {
    if (!exists && out.after === '') return { steps: [], reason: out.noop ?? `${path} does not exist and there is nothing to write`, result };
    const after = Buffer.from(out.after, 'latin1');
    const { steps, changes } = wholeFileWrite(path, after, t.attrs, st, f);
    return { steps, reason: [exists ? out.msg : `${out.msg} (file created)`, ...changes].join(', '), diffs: [contentDiff(path, beforeBuf, undefined, after)], result };
  }
  const { changes, script } = attrChanges(path, t.attrs, st);
  if (script) return { steps: [{ kind: 'run', script, describe: changes.join(', ') }], reason: changes.join(', '), result };
  return { steps: [], reason: out.noop ?? `${path} already has the wanted content`, result };
}

export function pathParam(params: Record<string, unknown>, names: string[]): string {
  const given = names.filter((k) => params[k] !== undefined);
  if (given.length === 0) throw badArg('path is required');
  if (given.length > 1) throw badArg(`give the path once: ${given.join(', ')} are aliases`);
  const p = String(params[given[0]!]);
  if (p === '') throw badArg('path must not be empty');
  return p;
}

/** a param as latin1 (one char per byte) of its bytes: UTF-8, escaped non-UTF-8 bytes as themselves (bytes.ts) */
const bytes = (s: string): string => encodeText(s).toString('latin1');

// ---------------------------------------------------------------------------------------------------------------
// blockinfile

export interface BlockInFileParams extends EditTarget {
  state: 'present' | 'absent';
  /** latin1 renderings of the UTF-8 bytes */
  block: string;
  marker: string;
  markerBegin: string;
  markerEnd: string;
  insertafter?: string;
  insertbefore?: string;
  appendNewline: boolean;
  prependNewline: boolean;
}

export function prepareBlockInFile(params: Record<string, unknown>): BlockInFileParams {
  if (params.block !== undefined && params.content !== undefined) throw badArg('block and content are aliases: give one');
  if (params.insertafter !== undefined && params.insertbefore !== undefined) throw badArg('insertafter and insertbefore are mutually exclusive');
  const marker = (params.marker as string | undefined) ?? '# {mark} ANSIBLE MANAGED BLOCK';
  const p: BlockInFileParams = {
    path: pathParam(params, ['path', 'dest', 'destfile', 'name']),
    create: params.create === true,
    attrs: wantedAttrs(params),
    state: (params.state as 'present' | 'absent' | undefined) ?? 'present',
    block: bytes(String(params.block ?? params.content ?? '')),
    marker: bytes(marker),
    markerBegin: bytes((params.marker_begin as string | undefined) ?? 'BEGIN'),
    markerEnd: bytes((params.marker_end as string | undefined) ?? 'END'),
    appendNewline: params.append_newline === true,
    prependNewline: params.prepend_newline === true,
  };
  if (typeof params.insertafter === 'string') p.insertafter = bytes(params.insertafter);
  if (typeof params.insertbefore === 'string') p.insertbefore = bytes(params.insertbefore);
  if (p.insertafter !== undefined && p.insertafter !== 'EOF') pyRegex(p.insertafter, 'insertafter');
  if (p.insertbefore !== undefined && p.insertbefore !== 'BOF') pyRegex(p.insertbefore, 'insertbefore');
  if (!p.marker.includes('{mark}')) throw badArg(`marker must contain {mark}: '${marker}'`);
  return p;
}

/** ansible.builtin.blockinfile's edit, on latin1 text. */
export function blockEdit(original: string, exists: boolean, p: BlockInFileParams): { after: string; msg: string } {
  const lines = readLines(original);
  const marker0 = p.marker.split('{mark}').join(p.markerBegin) + '\n';
  const marker1 = p.marker.split('{mark}').join(p.markerEnd) + '\n';
  let blocklines: string[] = [];
  if (p.state === 'present' && p.block !== '') {
    const block = p.block.endsWith('\n') ? p.block : p.block + '\n';
    blocklines = [marker0, ...readLines(block), marker1];
  }
  let insertre: RegExp | undefined;
  if (p.insertafter !== undefined && p.insertafter !== 'EOF') insertre = pyRegex(p.insertafter, 'insertafter');
  else if (p.insertbefore !== undefined && p.insertbefore !== 'BOF') insertre = pyRegex(p.insertbefore, 'insertbefore');

  let n0: number | undefined;
  let n1: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === marker0) n0 = i;
    if (lines[i] === marker1) n1 = i;
  }
  if (n0 === undefined || n1 === undefined) {
    n0 = undefined;
    if (insertre) {
      for (let i = 0; i < lines.length; i++) {
        const l = lines[i]!;
        if (insertre.test(l.endsWith('\n') ? l.slice(0, -1) : l)) n0 = i;
      }
      if (n0 === undefined) n0 = lines.length;
      else if (p.insertafter !== undefined) n0 += 1;
    } else if (p.insertbefore !== undefined) {
      n0 = 0;
    } else {
      n0 = lines.length;
    }
  } else if (n0 < n1) {
    lines.splice(n0, n1 - n0 + 1);
  } else {
    lines.splice(n1, n0 - n1 + 1);
    n0 = n1;
  }
  if (n0 > 0 && !lines[n0 - 1]!.endsWith('\n')) lines[n0 - 1] += '\n';
  if (blocklines.length) {
    if (p.prependNewline && n0 > 0 && lines[n0 - 1] !== '\n') blocklines.unshift('\n');
    if (p.appendNewline && n0 < lines.length && lines[n0] !== '\n') blocklines.push('\n');
  }
  lines.splice(n0, 0, ...blocklines);
  const after = lines.join('');
  let msg: string;
  if (after === original && exists) msg = '';
  else if (!exists) msg = 'File created';
  else if (!blocklines.length) msg = 'Block removed';
  else msg = 'Block inserted';
  return { after, msg };
}

export function planBlockInFile(p: BlockInFileParams, probe: ExecResult | null): Plan {
  return planEdit(
    p,
    probe,
    (before, exists) => {
      const r = blockEdit(before, exists, p);
      return { ...r, noop: p.state === 'absent' ? `no block between the markers in ${p.path}: nothing to remove` : `the block is already in ${p.path}` };
    },
    p.state === 'absent' ? `${p.path} does not exist: no block to remove` : undefined,
  );
}

export const blockinfileSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    path: { type: 'string', minLength: 1 },
    dest: { type: 'string', minLength: 1 },
    destfile: { type: 'string', minLength: 1 },
    name: { type: 'string', minLength: 1 },
    state: { enum: ['present', 'absent'] },
    block: { type: 'string' },
    content: { type: 'string' },
    marker: { type: 'string', minLength: 1 },
    marker_begin: { type: 'string' },
    marker_end: { type: 'string' },
    insertafter: { type: 'string' },
    insertbefore: { type: 'string' },
    create: { type: 'boolean' },
    append_newline: { type: 'boolean' },
    prepend_newline: { type: 'boolean' },
    ...FILE_ATTR_SCHEMA,
  },
};

const blockinfile: ModuleDef<BlockInFileParams> = {
  name: 'blockinfile',
  aliases: namesFor('blockinfile'),
  description: 'Insert, update or remove a block of lines between marker lines in a text file',
  schema: blockinfileSchema,
  prepare: prepareBlockInFile,
  probe: probeEdit,
  plan: planBlockInFile,
};

export default blockinfile;
