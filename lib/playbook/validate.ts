/**
 * Module arguments against their JSON schema (ajv). Templated values ("{{ x }}") cannot be checked before they are
 * rendered, so errors under them are ignored at load time; the executor validates again after rendering.
 */
import { createRequire } from 'node:module';
import type { Ajv2020 as Ajv, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { ErrorCode } from '../errors.js';
import { ANSIBLE_ARGS } from '../modules/ansible-args.js';
import { closest } from './keywords.js';

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

// ---------------------------------------------------------------------------------------------------------------
// Ansible's type coercion (AnsibleModule's check_type_* in module_utils/common/validation.py, ansible-core 2.14)

/** Ansible argument-spec types runbook converts to (jsonarg, bytes and bits are not used by runbook's modules). */
export type AnsibleType = 'str' | 'bool' | 'int' | 'float' | 'list' | 'dict' | 'path' | 'raw';

const BOOLEANS_TRUE = new Set<unknown>(['y', 'yes', 'on', '1', 'true', 't', 1, true]);
const BOOLEANS_FALSE = new Set<unknown>(['n', 'no', 'off', '0', 'false', 'f', 0, false]);
/** Python's int(str): optional sign, digits with single underscores between them, surrounding whitespace */
const PY_INT = /^\s*[+-]?\d+(?:_\d+)*\s*$/;
/** Python's float(str): decimal / exponent forms, inf, infinity, nan (case-insensitive), surrounding whitespace */
const PY_FLOAT = /^\s*[+-]?(?:(?:\d+(?:_\d+)*)?\.?\d+(?:_\d+)*(?:[eE][+-]?\d+(?:_\d+)*)?|\d+(?:_\d+)*\.(?:[eE][+-]?\d+)?|inf|infinity|nan)\s*$/i;

export type Coerced = { ok: true; value: unknown } | { ok: false };

/** Python's str() of a scalar, as Ansible's check_type_str (allow_conversion) does: True -> "True", 3 -> "3". */
function pyStr(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  return undefined;
}

/** check_type_dict's key=value form: fields split on ',' or ' ' outside quotes, backslash escapes, then k=v. */
function kvDict(value: string): Record<string, string> | undefined {
  const fields: string[] = [];
  let buf = '';
  let quote: string | false = false;
  let escape = false;
  for (const c of value.trim()) {
    if (escape) {
      buf += c;
      escape = false;
    } else if (c === '\\') escape = true;
    else if (!quote && (c === "'" || c === '"')) quote = c;
    else if (quote && quote === c) quote = false;
    else if (!quote && (c === ',' || c === ' ')) {
      if (buf) fields.push(buf);
      buf = '';
    } else buf += c;
  }
  if (buf) fields.push(buf);
  const out: Record<string, string> = {};
  for (const f of fields) {
    const eq = f.indexOf('=');
    if (eq < 0) return undefined; // Python's dict() of a one-element split fails: Ansible refuses the value
    out[f.slice(0, eq)] = f.slice(eq + 1);
  }
  return out;
}

/**
 * Convert one value to an Ansible type the way AnsibleModule does before a module sees it. `{ ok: false }` when
 * Ansible would refuse the value ("... cannot be converted to ..."). Values that already have the type are kept.
 */
export function coerceValue(v: unknown, type: AnsibleType): Coerced {
  switch (type) {
    case 'raw':
      return { ok: true, value: v };
    case 'str':
    case 'path': {
      // path: Ansible also expands ~ and $VARS, on the managed host; runbook's modules see the path as written
      const s = pyStr(v);
      return s === undefined ? { ok: false } : { ok: true, value: s };
    }
    case 'bool': {
      if (typeof v === 'boolean') return { ok: true, value: v };
      const n = typeof v === 'string' ? v.trim().toLowerCase() : v;
      if (BOOLEANS_TRUE.has(n)) return { ok: true, value: true };
      if (BOOLEANS_FALSE.has(n)) return { ok: true, value: false };
      return { ok: false };
    }
    case 'int':
      if (typeof v === 'number' && Number.isInteger(v)) return { ok: true, value: v };
      // Python's bool is an int: Ansible passes True on, and the module computes with it as 1
      if (typeof v === 'boolean') return { ok: true, value: v ? 1 : 0 };
      if (typeof v === 'string' && PY_INT.test(v)) return { ok: true, value: Number(v.replace(/_/g, '').trim()) };
      return { ok: false };
    case 'float':
      if (typeof v === 'number') return { ok: true, value: v };
      if (typeof v === 'boolean') return { ok: true, value: v ? 1 : 0 }; // float(True) == 1.0
      if (typeof v === 'string' && PY_FLOAT.test(v)) {
        const t = v.replace(/_/g, '').trim().toLowerCase();
        const sign = t.startsWith('-') ? -1 : 1;
        const u = t.replace(/^[+-]/, '');
        return { ok: true, value: u === 'nan' ? NaN : u === 'inf' || u === 'infinity' ? sign * Infinity : Number(t) };
      }
      return { ok: false };
    case 'list':
      if (Array.isArray(v)) return { ok: true, value: v };
      if (typeof v === 'string') return { ok: true, value: v.split(',') };
      if (typeof v === 'number') return { ok: true, value: [pyStr(v)] };
      return { ok: false };
    case 'dict': {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) return { ok: true, value: v };
      if (typeof v !== 'string') return { ok: false };
      if (v.startsWith('{')) {
        try {
          const j: unknown = JSON.parse(v);
          if (j !== null && typeof j === 'object' && !Array.isArray(j)) return { ok: true, value: j };
        } catch {
          /* Ansible then tries a Python literal; runbook does not evaluate Python */
        }
        return { ok: false };
      }
      if (!v.includes('=')) return { ok: false };
      const d = kvDict(v);
      return d ? { ok: true, value: d } : { ok: false };
    }
  }
}

type JsonType = 'string' | 'boolean' | 'integer' | 'number' | 'array' | 'object' | 'null';
const ANSIBLE_OF: Record<JsonType, AnsibleType | undefined> = {
  string: 'str', boolean: 'bool', integer: 'int', number: 'float', array: 'list', object: 'dict', null: undefined,
};

function jsonTypeOf(v: unknown): JsonType[] {
  if (v === null) return ['null'];
  if (Array.isArray(v)) return ['array'];
  if (typeof v === 'number') return Number.isInteger(v) ? ['integer', 'number'] : ['number'];
  if (typeof v === 'object') return ['object'];
  return [typeof v as JsonType];
}

/** the JSON types a (sub)schema accepts, from `type` or its `enum`/`const`; undefined when it says nothing */
function typesOf(s: Record<string, unknown>): JsonType[] | undefined {
  if (typeof s.type === 'string') return [s.type as JsonType];
  if (Array.isArray(s.type)) return s.type as JsonType[];
  const values = Array.isArray(s.enum) ? s.enum : 'const' in s ? [s.const] : undefined;
  if (!values) return undefined;
  return [...new Set(values.flatMap((x) => jsonTypeOf(x).slice(0, 1)))];
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Convert `v` towards what schema `s` accepts, with Ansible's conversions (the schema's JSON types stand for the
 * Ansible types of runbook's modules: boolean = bool, integer = int, number = float, string = str, array = list,
 * object = dict). A value the schema already accepts by type is kept (its members are converted); a value no
 * conversion fits is returned unchanged for ajv to report. Unrendered templates are never converted.
 */
function coerceBySchema(v: unknown, s: unknown, strict: boolean): unknown {
  if (!isObj(s)) return v;
  if (!strict && isTemplated(v)) return v;
  const branches = (Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : undefined) as unknown[] | undefined;
  if (branches) {
    const mine = jsonTypeOf(v);
    const fits = branches.find((b) => isObj(b) && (typesOf(b) ?? []).some((t) => mine.includes(t)));
    if (fits) return coerceBySchema(v, fits, strict);
    for (const b of branches) {
      const c = coerceBySchema(v, b, strict);
      if (c !== v) return c;
    }
    return v;
  }
  const types = typesOf(s);
  let out = v;
  if (types && !jsonTypeOf(v).some((t) => types.includes(t))) {
    for (const t of types) {
      const at = ANSIBLE_OF[t];
      const c = at ? coerceValue(v, at) : { ok: false as const };
      if (c.ok && !(t === 'integer' && typeof c.value === 'number' && !Number.isInteger(c.value))) {
        out = c.value;
        break;
      }
    }
  }
  // choices: YAML turned "yes" into true and the module wants a word (Ansible's _validate_argument_values)
  if (Array.isArray(s.enum) && !s.enum.includes(out) && (typeof out === 'boolean' || out === 'True' || out === 'False')) {
    const truthy = out === true || out === 'True';
    const words = s.enum.filter((x) => typeof x === 'string' && (truthy ? BOOLEANS_TRUE : BOOLEANS_FALSE).has(x));
    if (words.length === 1) out = words[0];
    else if (typeof out === 'boolean' && s.enum.every((x) => typeof x === 'string')) out = pyStr(out);
  }
  if (Array.isArray(out) && isObj(s.items)) {
    const items = out.map((x) => coerceBySchema(x, s.items, strict));
    if (items.some((x, i) => x !== (out as unknown[])[i])) out = items;
  } else if (isObj(out)) {
    const props = isObj(s.properties) ? s.properties : {};
    const extra = isObj(s.additionalProperties) ? s.additionalProperties : undefined;
    let copy: Record<string, unknown> | undefined;
    for (const [k, x] of Object.entries(out)) {
      const sub = props[k] ?? extra;
      if (sub === undefined) continue;
      const c = coerceBySchema(x, sub, strict);
      if (c !== x) (copy ??= { ...out })[k] = c;
    }
    if (copy) out = copy;
  }
  return out;
}

/**
 * Module arguments with Ansible's type conversions applied: `update_cache: "yes"` -> true, `cache_valid_time:
 * "86400"` -> 86400, `owner: 1000` -> "1000", `name: "a,b"` -> ["a", "b"] where only a list is accepted, ... The
 * result is a new object (the input is not modified); internal `__` keys are kept as they are. With `strict` false
 * (load time), templated values are left alone: they are converted once rendered.
 */
export function coerceArgs(schema: Record<string, unknown>, args: Record<string, unknown>, strict = true): Record<string, unknown> {
  const props = isObj(schema.properties) ? schema.properties : {};
  const out: Record<string, unknown> = { ...args };
  for (const [k, v] of Object.entries(args)) {
    if (k.startsWith('__') || props[k] === undefined) continue;
    out[k] = coerceBySchema(v, props[k], strict);
  }
  return out;
}

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
  for (const [k, val] of Object.entries(args)) if (!k.startsWith('__')) given[k] = val;
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
