/**
 * getent (ansible.builtin.getent): a lookup in a name service database (passwd, group, hosts, services, ...) as the
 * fact `getent_<database>`: key -> the remaining fields of its entry (split on ':' for passwd, shadow, group and
 * gshadow, on whitespace otherwise, unless `split` says), a list of such lists when the key has several entries.
 * Read-only: never changed. A missing key fails unless fail_key is false (then key -> null). Ansible's messages.
 */
import type { ExecResult } from '../connection/types.js';
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type ProbeFailed } from './types.js';
import { badArg, namesFor, quote } from './common.js';

export interface GetentParams {
  database: string;
  key?: string;
  service?: string;
  split?: string;
  fail_key: boolean;
}

export type GetentState = { rc: number; out: string } | ProbeFailed;

export const getentSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['database'],
  properties: {
    database: { type: 'string', minLength: 1 },
    key: { type: 'string' },
    service: { type: 'string' },
    split: { type: 'string' },
    fail_key: { type: 'boolean' },
  },
};

export function prepareGetent(raw: Record<string, unknown>): GetentParams {
  const database = String(raw.database ?? '');
  if (!/^[A-Za-z0-9_.-]+$/.test(database)) throw badArg(`getent: '${database}' is not a database name`);
  const p: GetentParams = { database, fail_key: raw.fail_key !== false };
  if (raw.key !== undefined && raw.key !== null) p.key = String(raw.key);
  if (raw.service !== undefined && raw.service !== null) p.service = String(raw.service);
  if (raw.split !== undefined && raw.split !== null) p.split = String(raw.split);
  return p;
}

const MARK = '--rb-getent--';

export function getentScript(p: GetentParams): string {
  const cmd = ['getent', ...(p.service !== undefined ? ['-s', quote(p.service)] : []), quote(p.database), ...(p.key !== undefined ? [quote(p.key)] : [])].join(' ');
  return [`command -v getent >/dev/null 2>&1 || { echo 'getent not found' >&2; exit 127; }`, `echo ${MARK}`, `${cmd}`, `echo "${MARK}$?"`].join('\n');
}

export function parseGetent(r: ExecResult): GetentState {
  const start = r.stdout.indexOf(`${MARK}\n`);
  const m = new RegExp(`${MARK}(\\d+)\\n?$`).exec(r.stdout);
  if (r.code !== 0 || start < 0 || !m) return { probeFailed: failure('probe_failed', `getent: probe failed (rc ${r.code}): ${r.stderr.trim() || 'no output'}`) };
  return { rc: Number(m[1]), out: r.stdout.slice(start + MARK.length + 1, m.index) };
}

/** Python's str.split(sep) (sep given) or str.split() (None: runs of whitespace, no empty fields). */
function pySplit(s: string, sep: string | undefined): string[] {
  return sep === undefined ? s.split(/\s+/).filter((x) => x !== '') : s.split(sep);
}

export function planGetent(p: GetentParams, s: GetentState | null): Plan {
  if (!s) return failPlan(failure('probe_failed', 'getent: no probe result'));
  if (isProbeFailed(s)) return failPlan(s.probeFailed);
  const split = p.split ?? (['passwd', 'shadow', 'group', 'gshadow'].includes(p.database) ? ':' : undefined);
  const tree = `getent_${p.database}`;
  const entries: Record<string, unknown> = {};
  if (s.rc === 0) {
    const seen = new Map<string, number>();
    for (const line of s.out.split('\n').filter((l, i, a) => !(l === '' && i === a.length - 1))) {
      const rec = pySplit(line, split);
      const k = rec[0] ?? '';
      const n = seen.get(k) ?? 0;
      if (n === 0) entries[k] = rec.slice(1);
      else {
        if (n === 1) entries[k] = [entries[k]];
        (entries[k] as unknown[]).push(rec.slice(1));
      }
      seen.set(k, n + 1);
    }
    return { steps: [], reason: `${Object.keys(entries).length} ${p.database} entr${Object.keys(entries).length === 1 ? 'y' : 'ies'}`, result: { ansible_facts: { [tree]: entries } } };
  }
  if (s.rc === 2) {
    const msg = 'One or more supplied key could not be found in the database.';
    if (!p.fail_key) return { steps: [], reason: msg, result: { ansible_facts: { [tree]: { [p.key ?? '']: null } }, msg } };
    return failPlan(failure('key_not_found', msg));
  }
  if (s.rc === 1) return failPlan(failure('bad_database', 'Missing arguments, or database unknown.'));
  if (s.rc === 3) return failPlan(failure('no_enumeration', 'Enumeration not supported on this database.'));
  return failPlan(failure('getent', 'Unexpected failure!'));
}

const getent: ModuleDef<GetentParams, GetentState> = {
  name: 'getent',
  aliases: namesFor('getent'),
  description: 'a name service lookup (getent) as the fact getent_<database>',
  schema: getentSchema,
  prepare: prepareGetent,
  probe: (p) => ({ script: getentScript(p), parse: parseGetent }),
  plan: planGetent,
};

export default getent;
