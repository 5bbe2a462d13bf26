/**
 * debconf: pre-seed a package's debconf answer (debconf-set-selections), compared with what `debconf-show`
 * reports, as Ansible does. Password answers cannot be read back (debconf-show omits them): like Ansible, a
 * password question is set every time (always changed) and its value never appears in a reason or a diff.
 * Booleans are compared as debconf spells them ('true' / 'false'); multiselect values as sets.
 */
import { ansibleBoolean } from '../vars/python-compat.js';
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan } from './types.js';
import { EPILOGUE, PRELUDE, badArg, frameProbe, namesFor, type FrameState, quote } from './common.js';

export interface DebconfParams {
  name: string;
  question?: string;
  vtype?: string;
  value?: string;
  unseen: boolean;
}

const VTYPES = ['boolean', 'error', 'multiselect', 'note', 'password', 'seen', 'select', 'string', 'text', 'title'];

export function prepareDebconf(params: Record<string, unknown>): DebconfParams {
  const given = (['name', 'pkg'] as const).filter((k) => params[k] !== undefined);
  if (given.length !== 1) throw badArg(given.length ? 'name and pkg are aliases: give one' : 'name is required');
  const q = (['question', 'selection', 'setting'] as const).filter((k) => params[k] !== undefined);
  if (q.length > 1) throw badArg(`${q.join(', ')} are aliases: give one`);
  const p: DebconfParams = { name: String(params[given[0]!]), unseen: params.unseen === true };
  if (q.length) p.question = String(params[q[0]!]);
  if (params.vtype !== undefined) p.vtype = String(params.vtype);
  const v = params.value ?? params.answer;
  if (params.value !== undefined && params.answer !== undefined) throw badArg('value and answer are aliases: give one');
  if (v !== undefined) {
    if (typeof v === 'boolean') p.value = v ? 'true' : 'false';
    else if (Array.isArray(v)) p.value = v.map(String).join(', ');
    else p.value = String(v);
  }
  if (p.question === undefined) throw badArg('debconf: question is required (runbook does not report all of a package\'s answers)');
  if (p.vtype === undefined || p.value === undefined) throw badArg('debconf: vtype and value are required with question');
  if (p.vtype === 'boolean') {
    const b = ansibleBoolean(p.value);
    if (b !== undefined) p.value = b ? 'true' : 'false';
    else throw badArg(`debconf: '${p.value}' is not a boolean`);
  }
  if (/[\n]/.test(p.value) || /\s/.test(p.name) || /\s/.test(p.question)) throw badArg('debconf: name, question and value must be single-line (name and question without spaces)');
  return p;
}

export function probeDebconf(p: DebconfParams): string {
  return [
    PRELUDE,
    `if ! command -v debconf-show >/dev/null 2>&1 || ! command -v debconf-set-selections >/dev/null 2>&1; then kv no_debconf 1; else`,
    `  kv show "$(debconf-show -- ${quote(p.name)} 2>/dev/null)"`,
    `fi`,
    EPILOGUE,
  ].join('\n');
}

/** debconf-show lines: "* question: value" or "  question: value" -> map */
export function parseShow(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const r = /^[* ] (\S+):(?: (.*))?$/.exec(line);
    if (r) m.set(r[1]!, r[2] ?? '');
  }
  return m;
}

export function planDebconf(p: DebconfParams, f: FrameState): Plan {
  if (isProbeFailed(f)) return failPlan(f.probeFailed);
  if (f.str('no_debconf') === '1') {
    return failPlan(failure('no_debconf', 'debconf-show / debconf-set-selections not found: this host does not use debconf'));
  }
  const q = p.question!;
  const cur = parseShow(f.str('show') ?? '').get(q);
  const secret = p.vtype === 'password';
  const same = (a: string, b: string): boolean => {
    if (p.vtype === 'multiselect') {
      const set = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean).sort().join(',');
      return set(a) === set(b);
    }
    return a === b;
  };
  const result = { current: secret ? {} : cur === undefined ? {} : { [q]: cur } };
  if (!secret && cur !== undefined && same(cur, p.value!)) return { steps: [], reason: `${p.name} ${q} is already '${cur}'`, result };
  const line = `${p.name} ${q} ${p.vtype} ${p.value}\n`;
  const steps = [{ kind: 'run' as const, script: `debconf-set-selections${p.unseen ? ' -u' : ''}`, input: line, describe: `debconf-set-selections ${p.name} ${q}` }];
  if (secret) return { steps, reason: `${p.name} ${q}: a password answer cannot be read back, so it is always set (like Ansible)`, result };
  return {
    steps,
    reason: `${p.name} ${q}: ${cur === undefined ? 'not set' : `'${cur}'`} -> '${p.value}'`,
    diffs: [{ label: `debconf ${p.name} ${q}`, before: cur === undefined ? '' : `${cur}\n`, after: `${p.value}\n` }],
    result,
  };
}

const debconf: ModuleDef<DebconfParams, FrameState> = {
  name: 'debconf',
  aliases: namesFor('debconf'),
  description: "Pre-seed a Debian package's debconf answer (debconf-set-selections)",
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      name: { type: 'string', minLength: 1 },
      pkg: { type: 'string', minLength: 1 },
      question: { type: 'string', minLength: 1 },
      selection: { type: 'string', minLength: 1 },
      setting: { type: 'string', minLength: 1 },
      vtype: { enum: VTYPES },
      value: { type: ['string', 'boolean', 'number', 'array'] },
      answer: { type: ['string', 'boolean', 'number', 'array'] },
      unseen: { type: 'boolean' },
    },
  },
  prepare: prepareDebconf,
  probe: (p) => frameProbe(probeDebconf(p)),
  plan: planDebconf,
};

export default debconf;
