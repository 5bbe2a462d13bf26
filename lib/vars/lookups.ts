/**
 * Lookup plugins (`lookup('name', ...)`, `query(...)`), by name. To add lookups, export a
 * `Record<string, LookupFn>` from their own file and spread it into LOOKUPS below (one line); the
 * `ansible.builtin.` aliases are added for every short name.
 */
import { readFileSync } from 'node:fs';
import { RunbookError } from '../errors.js';
import { decodeBytes } from './bytes.js';
import { passwordLookup } from './password-hash.js';
import { sopsLookup } from './sops.js';
import { pyStr, pyTruthy, type Kw } from './python-compat.js';
import { loopLookups } from './loop-lookups.js';

export type LookupFn = (terms: unknown[], kw: Kw, vars: Record<string, unknown>) => unknown[];

/** A `vars` lookup of an undefined name (the templar turns it into its undefined_variable TemplateError). */
export class LookupUndefined extends RunbookError {
  constructor(public variable: string) {
    super('undefined_variable', `'${variable}' is undefined`);
    this.name = 'LookupUndefined';
  }
}

export const LOOKUPS: Record<string, LookupFn> = {
  env: (terms, kw) => terms.map((t) => process.env[pyStr(t)] ?? (kw.default !== undefined ? kw.default : '')),
  file: (terms, kw) =>
    terms.map((t) => {
      // bytes that are not UTF-8 survive (bytes.ts escapes them; the template/copy write gives the same bytes back)
      let s = decodeBytes(readFileSync(pyStr(t)));
      if (kw.rstrip === undefined || pyTruthy(kw.rstrip)) s = s.replace(/\s+$/, '');
      if (pyTruthy(kw.lstrip)) s = s.replace(/^\s+/, '');
      return s;
    }),
  vars: (terms, kw, vars) =>
    terms.map((t) => {
      const name = pyStr(t);
      if (Object.prototype.hasOwnProperty.call(vars, name)) return vars[name];
      if ('default' in kw) return kw.default;
      throw new LookupUndefined(name);
    }),
  items: (terms) => terms.flatMap((t) => (Array.isArray(t) ? t : [t])),
  list: (terms) => terms,
  password: passwordLookup,
  'community.sops.sops': sopsLookup,
  // community.general.flattened (`with_flattened` reaches it through Ansible's routing too): lists flattened at
  // every depth, up to a 'None' or 'null' term, as the plugin does (devsec.hardening's minimize_access)
  'community.general.flattened': (terms) => flattenDeep(terms),
  flattened: (terms) => flattenDeep(terms),
};

function flattenDeep(terms: unknown[], out: unknown[] = [], depth = 0): unknown[] {
  if (depth > 1000) throw new Error('flattened: lists nested more than 1000 deep');
  for (const t of terms) {
    if (t === 'None' || t === 'null') break;
    if (Array.isArray(t)) flattenDeep(t, out, depth + 1);
    else out.push(t);
  }
  return out;
}
Object.assign(LOOKUPS, loopLookups()); // nested, subelements, sequence, first_found, fileglob, ... (loop-lookups.ts)
// the builtin lookups by their FQCN too
for (const n of Object.keys(LOOKUPS)) if (!n.includes('.')) LOOKUPS[`ansible.builtin.${n}`] = LOOKUPS[n]!;
