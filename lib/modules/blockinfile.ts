/**
 * blockinfile: insert / update / remove a block of lines between marker lines, following
 * ansible.builtin.blockinfile's algorithm (markers matched as whole lines; a new block goes after the last
 * insertafter match, before the last insertbefore match, else at EOF / BOF). The new content is computed in
 * TypeScript (pure) from the file the probe read, and written whole, atomically.
 *
 * The whole-file edit plan it shares with replace.ts and the probe it shares with lineinfile are in edit-state.ts.
 */
import type { ModuleDef, Plan } from './types.js';
import { WRITE_OPTS_SCHEMA, backupResult, writeOpts } from './backup-validate.js';
import { FILE_ATTR_SCHEMA, badArg, namesFor, wantedAttrs } from './common.js';
import { encodeText } from './bytes.js';
import { pyRegex, readLines } from './lineinfile.js';
import { planEdit, probeEdit, type EditState, type EditTarget } from './edit-state.js';

export { planEdit, probeEdit, type EditTarget };

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
    write: writeOpts(params),
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

export function planBlockInFile(p: BlockInFileParams, state: EditState): Plan {
  return planEdit(
    p,
    state,
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
    ...WRITE_OPTS_SCHEMA,
    ...FILE_ATTR_SCHEMA,
  },
};

const blockinfile: ModuleDef<BlockInFileParams, EditState> = {
  name: 'blockinfile',
  aliases: namesFor('blockinfile'),
  description: 'Insert, update or remove a block of lines between marker lines in a text file',
  schema: blockinfileSchema,
  prepare: prepareBlockInFile,
  probe: probeEdit,
  plan: planBlockInFile,
  finish: (_p, outputs) => backupResult(outputs),
};

export default blockinfile;
