/**
 * replace: replace every match of a (Python, MULTILINE) regexp in a file, optionally only in the section after
 * the first `after` match and/or before the `before` match (Ansible's `after(?P<subsection>.*?)before`, DOTALL).
 * The replacement is a Python template (\1, \g<name>). Pure edit in TypeScript over the probe's content; written
 * whole and atomically. The text is handled as latin1 (bytes), like lineinfile.
 */
import type { ModuleDef, Plan } from './types.js';
import { WRITE_OPTS_SCHEMA, backupResult, writeOpts } from './backup-validate.js';
import { FILE_ATTR_SCHEMA, namesFor, wantedAttrs } from './common.js';
import { expandTemplate, pyRegex } from './py-regex.js';
import { encodeText } from './bytes.js';
import { pathParam } from './blockinfile.js';
import { planEdit, probeEdit, type EditState, type EditTarget } from './edit-state.js';

export interface ReplaceParams extends EditTarget {
  regexp: string;
  replace: string;
  after?: string;
  before?: string;
}

/** a param as latin1 (one char per byte) of its bytes: UTF-8, escaped non-UTF-8 bytes as themselves (bytes.ts) */
const bytes = (s: string): string => encodeText(s).toString('latin1');

/** a Python pattern (possibly with a leading inline-flag group) with extra flags */
function compile(src: string, what: string, flags: string): RegExp {
  const re = pyRegex(src, what, flags);
  const all = [...new Set((re.flags + flags).split(''))].join('');
  return new RegExp(re.source, all);
}

export function prepareReplace(params: Record<string, unknown>): ReplaceParams {
  const p: ReplaceParams = {
    path: pathParam(params, ['path', 'dest', 'destfile', 'name']),
    create: false,
    attrs: wantedAttrs(params),
    write: writeOpts(params),
    regexp: bytes(String(params.regexp)),
    replace: bytes(String(params.replace ?? '')),
  };
  if (typeof params.after === 'string') p.after = bytes(params.after);
  if (typeof params.before === 'string') p.before = bytes(params.before);
  compile(p.regexp, 'regexp', 'gm');
  if (p.after !== undefined) pyRegex(p.after, 'after');
  if (p.before !== undefined) pyRegex(p.before, 'before');
  return p;
}

/** ansible.builtin.replace on latin1 text: the new text and the number of replacements. */
export function replaceText(contents: string, p: ReplaceParams): { after: string; count: number; sectionFound: boolean } {
  let section = contents;
  let start = 0;
  let end = contents.length;
  if (p.after !== undefined || p.before !== undefined) {
    const a = p.after !== undefined ? pyRegex(p.after, 'after', 's').source : '';
    const b = p.before !== undefined ? pyRegex(p.before, 'before', 's').source : '';
    const pattern = p.after !== undefined && p.before !== undefined ? `${a}(?<rbsub>[\\s\\S]*?)${b}` : p.after !== undefined ? `${a}(?<rbsub>[\\s\\S]*)` : `(?<rbsub>[\\s\\S]*)${b}`;
    // DOTALL like Ansible; the subsection is the capturing group added around the middle
    const m = new RegExp(pattern, 'ds').exec(contents);
    if (!m) return { after: contents, count: 0, sectionFound: false };
    const sub = m.indices!.groups!['rbsub']!;
    start = sub[0];
    end = sub[1];
    section = contents.slice(start, end);
  }
  const re = compile(p.regexp, 'regexp', 'gm');
  let count = 0;
  const replaced = section.replace(re, (...args: unknown[]) => {
    count++;
    // rebuild a RegExpExecArray-like match for Python's template expansion
    const hasGroups = typeof args[args.length - 1] === 'object' && args[args.length - 1] !== null;
    const groups = hasGroups ? (args[args.length - 1] as Record<string, string>) : undefined;
    const nCaps = args.length - (hasGroups ? 3 : 2);
    const m = args.slice(0, nCaps) as string[] as unknown as RegExpExecArray;
    (m as unknown as { groups?: Record<string, string> }).groups = groups;
    return expandTemplate(p.replace, m);
  });
  return { after: contents.slice(0, start) + replaced + contents.slice(end), count, sectionFound: true };
}

export function planReplace(p: ReplaceParams, state: EditState): Plan {
  return planEdit(p, state, (before) => {
    const r = replaceText(before, p);
    return {
      after: r.after,
      msg: r.count ? `${r.count} replacements made` : '',
      noop: !r.sectionFound ? `the after/before patterns do not match ${p.path}: nothing replaced` : r.count ? `${p.path} already has the wanted content` : `regexp matches nothing in ${p.path}`,
    };
  });
}

export const replaceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['regexp'],
  properties: {
    path: { type: 'string', minLength: 1 },
    dest: { type: 'string', minLength: 1 },
    destfile: { type: 'string', minLength: 1 },
    name: { type: 'string', minLength: 1 },
    regexp: { type: 'string', minLength: 1 },
    replace: { type: 'string' },
    after: { type: 'string' },
    before: { type: 'string' },
    encoding: { const: 'utf-8' },
    ...WRITE_OPTS_SCHEMA,
    ...FILE_ATTR_SCHEMA,
  },
};

const replace: ModuleDef<ReplaceParams, EditState> = {
  name: 'replace',
  aliases: namesFor('replace'),
  description: 'Replace every match of a regular expression in a file (optionally between after/before)',
  schema: replaceSchema,
  prepare: prepareReplace,
  probe: probeEdit,
  plan: planReplace,
  finish: (_p, outputs) => backupResult(outputs),
};

export default replace;
