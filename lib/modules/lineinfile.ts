/**
 * lineinfile: ensure one line is present (replacing the last regexp match, else inserted after the last
 * insertafter match / before the last insertbefore match / at EOF) or that matching lines are absent.
 * The new content is computed in TypeScript (pure), following ansible.builtin.lineinfile's algorithm, and the
 * file is written whole. Like Ansible, lines are bytes: the file is handled as latin1 text (one char = one byte)
 * so any content survives unchanged, and regexps behave like Python's bytes patterns.
 * A symlinked path is followed (Ansible writes to realpath(path)).
 */
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type Probe } from './types.js';
import { FILE_ATTR_SCHEMA, attrChanges, badArg, contentDiff, namesFor, wantedAttrs, wholeFileWrite, type WantedAttrs } from './common.js';
import { encodeText } from './bytes.js';
import { EDIT_LIMIT, editFail, editProbe, resolvedTarget, withEditWriteOpts, type EditFile, type EditState } from './edit-state.js';
import { WRITE_OPTS_SCHEMA, backupResult, writeOpts, type WriteOpts } from './backup-validate.js';
import type { ExecResult } from '../connection/types.js';
import { expandTemplate, pyRegex } from './py-regex.js';

export { expandTemplate, pyRegex };

/** Largest file lineinfile edits (the whole file travels in the probe output). */
export const LINEINFILE_LIMIT = EDIT_LIMIT;

export interface LineInFileParams {
  path: string;
  state: 'present' | 'absent';
  /** all pattern/line strings below are latin1 renderings of their UTF-8 bytes */
  line?: string;
  regexp?: string;
  search_string?: string;
  insertafter?: string;
  insertbefore?: string;
  backrefs: boolean;
  create: boolean;
  firstmatch: boolean;
  attrs: WantedAttrs;
  write: WriteOpts;
}

/** a param as latin1 (one char per byte) of its bytes: UTF-8, escaped non-UTF-8 bytes as themselves (bytes.ts) */
const bytes = (s: string): string => encodeText(s).toString('latin1');

/** Python's readlines(): split after each '\n', keeping it. */
export function readLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const i = text.indexOf('\n', start);
    if (i < 0) break;
    lines.push(text.slice(start, i + 1));
    start = i + 1;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

const rstripNl = (l: string): string => l.replace(/[\r\n]+$/, '');
/** the line as matched: Python's `$` also matches before a final newline, which JS's does not */
const forMatch = (l: string): string => (l.endsWith('\n') ? l.slice(0, -1) : l);

export interface EditResult {
  lines: string[];
  changed: boolean;
  msg: string;
  found?: number;
}

/** ansible.builtin.lineinfile present(), on latin1 lines. */
export function presentLines(input: string[], p: LineInFileParams): EditResult {
  const lines = [...input];
  const line = p.line!;
  const sep = '\n';
  const insertafter = p.insertbefore === undefined && p.insertafter === undefined ? 'EOF' : p.insertafter;
  const insertbefore = p.insertbefore;
  const reM = p.regexp !== undefined ? pyRegex(p.regexp, 'regexp') : undefined;
  let reIns: RegExp | undefined;
  if (insertafter !== undefined && insertafter !== 'BOF' && insertafter !== 'EOF') reIns = pyRegex(insertafter, 'insertafter');
  else if (insertbefore !== undefined && insertbefore !== 'BOF') reIns = pyRegex(insertbefore, 'insertbefore');

  const index = [-1, -1];
  let match: RegExpExecArray | null = null;
  let found = false;
  if (reM) {
    for (let i = 0; i < lines.length; i++) {
      const m = reM.exec(forMatch(lines[i]!));
      if (m) {
        index[0] = i;
        match = m;
        found = true;
        if (p.firstmatch) break;
      }
    }
  }
  if (p.search_string !== undefined) {
    for (let i = 0; i < lines.length; i++) {
      if (lines[i]!.includes(p.search_string)) {
        index[0] = i;
        found = true;
        if (p.firstmatch) break;
      }
    }
  }
  if (!found) {
    for (let i = 0; i < lines.length; i++) {
      const cur = lines[i]!;
      if (line === rstripNl(cur)) {
        index[0] = i;
      } else if (reIns && reIns.test(forMatch(cur))) {
        if (insertafter) {
          index[1] = i + 1;
          if (p.firstmatch) break;
        }
        if (insertbefore) {
          index[1] = i;
          if (p.firstmatch) break;
        }
      }
    }
  }

  let msg = '';
  let changed = false;
  if (index[0] !== -1) {
    let newLine = p.backrefs && match ? expandTemplate(line, match) : line;
    if (!newLine.endsWith(sep)) newLine += sep;
    if (lines[index[0]] !== newLine) {
      lines[index[0]] = newLine;
      msg = 'line replaced';
      changed = true;
    }
  } else if (p.backrefs) {
    // nothing: the line cannot be generated without a match to fill the backrefs
  } else if (insertbefore === 'BOF' || insertafter === 'BOF') {
    lines.unshift(line + sep);
    msg = 'line added';
    changed = true;
  } else if (insertafter === 'EOF' || index[1] === -1) {
    const last = lines[lines.length - 1];
    if (last !== undefined && !last.endsWith('\n') && !last.endsWith('\r')) lines.push(sep);
    lines.push(line + sep);
    msg = 'line added';
    changed = true;
  } else if (insertafter && index[1] !== -1) {
    if (lines.length === index[1]) {
      if (rstripNl(lines[index[1] - 1]!) !== line) {
        lines.push(line + sep);
        msg = 'line added';
        changed = true;
      }
    } else if (line !== rstripNl(lines[index[1]]!)) {
      lines.splice(index[1], 0, line + sep);
      msg = 'line added';
      changed = true;
    }
  } else {
    lines.splice(index[1], 0, line + sep);
    msg = 'line added';
    changed = true;
  }
  return { lines, changed, msg };
}

/** ansible.builtin.lineinfile absent(). */
export function absentLines(input: string[], p: LineInFileParams): EditResult {
  const re = p.regexp !== undefined ? pyRegex(p.regexp, 'regexp') : undefined;
  let found = 0;
  const lines = input.filter((cur) => {
    let hit: boolean;
    if (re) hit = re.test(forMatch(cur));
    else if (p.search_string !== undefined) hit = cur.includes(p.search_string);
    else hit = p.line === rstripNl(cur);
    if (hit) found++;
    return !hit;
  });
  return { lines, changed: found > 0, msg: found > 0 ? `${found} line(s) removed` : '', found };
}

export function prepareLineInFile(params: Record<string, unknown>): LineInFileParams {
  const names = (['path', 'dest', 'destfile', 'name'] as const).filter((k) => params[k] !== undefined);
  if (names.length === 0) throw badArg('path is required');
  if (names.length > 1) throw badArg(`give the path once: ${names.join(', ')} are aliases`);
  const regexp = (params.regexp ?? params.regex) as string | undefined;
  if (params.regexp !== undefined && params.regex !== undefined) throw badArg('regexp and regex are aliases: give one');
  const line = (params.line ?? params.value) as string | undefined;
  if (params.line !== undefined && params.value !== undefined) throw badArg('line and value are aliases: give one');
  const s = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const p: LineInFileParams = {
    path: String(params[names[0]!]),
    state: (params.state as 'present' | 'absent' | undefined) ?? 'present',
    backrefs: params.backrefs === true,
    create: params.create === true,
    firstmatch: params.firstmatch === true,
    attrs: wantedAttrs(params),
    write: writeOpts(params),
  };
  if (params.insertafter !== undefined && params.insertbefore !== undefined) throw badArg('insertafter and insertbefore are mutually exclusive');
  if (regexp !== undefined && params.search_string !== undefined) throw badArg('regexp and search_string are mutually exclusive');
  if (p.backrefs && params.search_string !== undefined) throw badArg('backrefs and search_string are mutually exclusive');
  if (line !== undefined) p.line = bytes(line);
  if (regexp !== undefined) p.regexp = bytes(regexp);
  if (s(params.search_string) !== undefined) p.search_string = bytes(params.search_string as string);
  if (s(params.insertafter) !== undefined) p.insertafter = bytes(params.insertafter as string);
  if (s(params.insertbefore) !== undefined) p.insertbefore = bytes(params.insertbefore as string);
  if (p.state === 'present') {
    if (p.backrefs && p.regexp === undefined) throw badArg('regexp is required with backrefs=true');
    if (p.line === undefined) throw badArg('line is required with state=present');
  } else if (p.regexp === undefined && p.search_string === undefined && p.line === undefined) {
    throw badArg('one of line, search_string, or regexp is required with state=absent');
  }
  // compile now so a bad pattern is a load-time error
  for (const [k, v] of [['regexp', p.regexp], ['insertafter', p.insertafter], ['insertbefore', p.insertbefore]] as const) {
    if (v !== undefined && !(k !== 'regexp' && (v === 'EOF' || v === 'BOF'))) pyRegex(v, k);
  }
  return p;
}

/** The read-only probe: stat + content of the symlink-followed path (edit-state.ts). */
export function probeLineInFile(p: LineInFileParams): Probe<EditState> {
  return editProbe(p.path);
}

export function planLineInFile(p: LineInFileParams, state: EditState): Plan {
  if (isProbeFailed(state)) return failPlan(state.probeFailed);
  return withEditWriteOpts(planLineInFileBase(resolvedTarget(p, state), state), p, state);
}

/** finish: Ansible's lineinfile returns the backup file as `backup` ('' when none was made) */
export function finishLineInFile(_p: LineInFileParams, outputs: ExecResult[]): Record<string, unknown> {
  return { backup: '', ...backupResult(outputs, 'backup') };
}

function planLineInFileBase(p: LineInFileParams, state: EditFile): Plan {
  const { path, stat: st } = state;
  const fail = (code: string, msg: string, extra: Record<string, unknown> = {}): Plan => editFail(code, msg, path, extra);
  if (st.type === 'directory') return fail('is_directory', `Path ${p.path} is a directory !`, { rc: 256 });
  if (st.type !== 'absent' && st.type !== 'file') return fail('not_a_file', `Path ${p.path} is a ${st.type}, not a regular file`);
  if (state.tooBig) return fail('too_big', `${path} is larger than ${LINEINFILE_LIMIT} bytes; lineinfile does not edit files that big`);

  const exists = st.type === 'file';
  if (!exists) {
    if (p.state === 'absent') return { steps: [], reason: `${path} does not exist: file not present`, result: { msg: 'file not present', found: 0 } };
    if (!p.create) return fail('missing_path', `Destination ${p.path} does not exist !`, { rc: 257 });
  }
  const before = exists ? state.content : Buffer.alloc(0);
  if (before === undefined) return fail('unreadable', `cannot read ${path}`);
  const lines = readLines(before.toString('latin1'));
  let edit: EditResult;
  try {
    edit = p.state === 'present' ? presentLines(lines, p) : absentLines(lines, p);
  } catch (e) {
    return failPlan(failure('bad_argument', (e as Error).message), {});
  }
  const result: Record<string, unknown> = { msg: edit.msg, backup: '' };
  if (edit.found !== undefined) result.found = edit.found;

  if (edit.changed) {
    const after = Buffer.from(edit.lines.join(''), 'latin1');
    const { steps, changes } = wholeFileWrite(path, after, p.attrs, st, state);
    return {
      steps,
      reason: [exists ? edit.msg : `${edit.msg} (file created)`, ...changes].join(', '),
      diffs: [contentDiff(path, before, undefined, after)],
      result,
    };
  }
  if (exists) {
    const { changes, script } = attrChanges(path, p.attrs, st);
    if (script) return { steps: [{ kind: 'run', script, describe: changes.join(', ') }], reason: changes.join(', '), result };
  }
  let reason: string;
  if (!exists) reason = `${path} does not exist and backrefs found no match: nothing to create`;
  else if (p.state === 'absent') reason = `no line in ${path} matches: nothing to remove`;
  else if (p.backrefs && edit.msg === '' && !lines.some((l) => pyRegex(p.regexp!, 'regexp').test(forMatch(l)))) reason = `backrefs: regexp matches no line in ${path}: nothing to do`;
  else reason = `line already present in ${path}`;
  return { steps: [], reason, result };
}

export const lineinfileSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    path: { type: 'string', minLength: 1 },
    dest: { type: 'string', minLength: 1 },
    destfile: { type: 'string', minLength: 1 },
    name: { type: 'string', minLength: 1 },
    state: { enum: ['present', 'absent'] },
    line: { type: 'string' },
    value: { type: 'string' },
    regexp: { type: 'string' },
    regex: { type: 'string' },
    search_string: { type: 'string' },
    insertafter: { type: 'string' },
    insertbefore: { type: 'string' },
    backrefs: { type: 'boolean' },
    create: { type: 'boolean' },
    firstmatch: { type: 'boolean' },
    ...WRITE_OPTS_SCHEMA,
    ...FILE_ATTR_SCHEMA,
  },
};

const lineinfile: ModuleDef<LineInFileParams, EditState> = {
  name: 'lineinfile',
  aliases: namesFor('lineinfile'),
  description: 'Ensure a line is present in (or absent from) a text file, replacing a regexp match',
  schema: lineinfileSchema,
  prepare: prepareLineInFile,
  probe: probeLineInFile,
  plan: planLineInFile,
  finish: finishLineInFile,
};

export default lineinfile;
