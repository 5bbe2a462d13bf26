/**
 * Module arguments against their JSON schema (ajv). Templated values ("{{ x }}") cannot be checked before they are
 * rendered, so errors under them are ignored at load time; the executor validates again after rendering.
 */
import { createRequire } from 'node:module';
import type { Ajv2020 as Ajv, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { ErrorCode } from '../errors.js';
import { ANSIBLE_ARGS } from '../modules/ansible-args.js';
import { closest } from './keywords.js';
import { coerceArgs, coerceValue, type AnsibleType, type Coerced } from '../modules/coerce.js';

export { coerceArgs, coerceValue, type AnsibleType, type Coerced };

/**
 * ajv is loaded (synchronously: it is CommonJS) and set up on the first schema compiled, and each module's schema
 * is compiled the first time that module's arguments are checked: a run pays only for the modules it uses, and
 * commands that check no arguments pay nothing. `validateSchema: false`: checking a schema against the draft-2020
 * meta-schema compiles that meta-schema first, which cost more than all of a run's own schemas together (~110 ms
 * of a ~0.5 s start); the module schemas are ours and test/module-schemas.test.ts checks each against it instead.
 */
let ajv: Ajv | undefined;
function theAjv(): Ajv {
  if (!ajv) {
    const { Ajv2020 } = createRequire(import.meta.url)('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
    ajv = new Ajv2020({ allErrors: true, strict: false, coerceTypes: false, validateSchema: false });
  }
  return ajv;
}
const cache = new WeakMap<object, ValidateFunction>();

export interface ArgError {
  code: ErrorCode;
  message: string;
  path: (string | number)[];
}

function compiled(schema: Record<string, unknown>): ValidateFunction {
  let v = cache.get(schema);
  if (!v) {
    v = theAjv().compile(schema);
    cache.set(schema, v);
  }
  return v;
}

function isTemplated(v: unknown): boolean {
  return typeof v === 'string' && (v.includes('{{') || v.includes('{%'));
}

function valueAt(obj: unknown, path: (string | number)[]): unknown {
  let cur = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p as string];
  }
  return cur;
}

function pathOf(e: ErrorObject): (string | number)[] {
  if (!e.instancePath) return [];
  return e.instancePath.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/**
 * SELinux contexts: Ansible ignores them on hosts without SELinux, so they are valid wherever Ansible's module has
 * them; the executor drops them per host or refuses them where SELinux is enabled (lib/executor/selinux.ts).
 */
const SELINUX_ARG_NAMES = new Set(['seuser', 'serole', 'setype', 'selevel']);

/** Is `arg` an argument (or an alias of one) of the Ansible module runbook's `module` stands for? */
export function ansibleKnowsArgument(module: string, arg: string): boolean {
  const spec = ANSIBLE_ARGS[module];
  if (!spec) return false;
  if (Object.prototype.hasOwnProperty.call(spec.options, arg)) return true;
  return Object.values(spec.options).some((o) => o.aliases?.includes(arg) ?? false);
}

/**
 * @param strictTemplates when false (load time) errors under templated values are skipped; when true (after
 *   rendering) every error counts.
 */
export function validateArgs(schema: Record<string, unknown>, args: Record<string, unknown>, module: string, strictTemplates = false): ArgError[] {
  const v = compiled(schema);
  // internal keys added by the loader are not user arguments
  const given: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(args)) if (!k.startsWith('__') && !(SELINUX_ARG_NAMES.has(k) && ansibleKnowsArgument(module, k))) given[k] = val;
  // what the module receives: Ansible's conversions first (callers that run the module use coerceArgs too)
  const clean = coerceArgs(schema, given, strictTemplates);
  if (v(clean)) return [];
  const out: ArgError[] = [];
  const seen = new Set<string>();
  for (const e of v.errors ?? []) {
    const p = pathOf(e);
    if (!strictTemplates) {
      // any templated value on the way down to the error: can't judge it yet
      let templated = false;
      for (let i = 0; i <= p.length; i++) if (isTemplated(valueAt(clean, p.slice(0, i)))) templated = true;
      if (templated) continue;
      // a whole-args template or a loop item could satisfy anything: nothing more to check under anyOf
    }
    let code: ErrorCode = 'bad_argument';
    let message: string;
    const where = p.length ? `argument "${p.join('.')}"` : `module ${module}`;
    switch (e.keyword) {
      case 'additionalProperties': {
        const extra = String((e.params as { additionalProperty: string }).additionalProperty);
        const known = Object.keys(((valueAt(schema, ['properties']) as object) ?? {})).filter((k) => !k.startsWith('_'));
        code = 'unknown_argument';
        if (p.length === 0 && ansibleKnowsArgument(module, extra)) {
          // a real argument of Ansible's module: say so, so the user knows it is runbook's gap, not their typo
          message = `argument "${extra}" of module ${module} is not supported by runbook yet`;
        } else {
          const hint = p.length === 0 ? closest(extra, known) : undefined;
          message = `unknown argument "${extra}" for module ${module}${hint ? ` (did you mean "${hint}"?)` : ''}${known.length && p.length === 0 ? ` (supported: ${known.join(', ')})` : ''}`;
        }
        p.push(extra);
        break;
      }
      case 'required':
        code = 'missing_argument';
        message = `module ${module} needs argument "${(e.params as { missingProperty: string }).missingProperty}"`;
        break;
      case 'type':
        message = `${where} of ${module} must be ${(e.params as { type: string }).type}, got ${JSON.stringify(valueAt(clean, p))}`;
        break;
      case 'enum':
        message = `${where} of ${module} must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues).map((x) => JSON.stringify(x)).join(', ')}, got ${JSON.stringify(valueAt(clean, p))}`;
        break;
      default:
        message = `${where} of ${module} ${e.message ?? 'is invalid'}`;
    }
    const key = `${code}:${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ code, message, path: p });
  }
  // anyOf/oneOf produce several errors for one value; keep the most specific (first) per path
  return dedupeByPath(out);
}

function dedupeByPath(errs: ArgError[]): ArgError[] {
  const byPath = new Map<string, ArgError>();
  for (const e of errs) {
    const k = e.path.join('.') + '|' + e.code;
    if (!byPath.has(k)) byPath.set(k, e);
  }
  return [...byPath.values()];
}
