/**
 * Ansible's type conversions of module arguments ("yes" -> true, "86400" -> 86400, "a,b" -> a list, k=v -> a dict),
 * driven by a module's JSON schema: pure functions, used by the argument validation (playbook/validate.ts) and by
 * modules that convert their own arguments.
 */
import { BOOLEANS_FALSE, BOOLEANS_TRUE, ansibleBoolean } from '../vars/python-compat.js';

function isTemplated(v: unknown): boolean {
  return typeof v === 'string' && (v.includes('{{') || v.includes('{%'));
}

// ---------------------------------------------------------------------------------------------------------------
// Ansible's type coercion (AnsibleModule's check_type_* in module_utils/common/validation.py, ansible-core 2.14)

/** Ansible argument-spec types runbook converts to (jsonarg, bytes and bits are not used by runbook's modules). */
export type AnsibleType = 'str' | 'bool' | 'int' | 'float' | 'list' | 'dict' | 'path' | 'raw';

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
      const b = ansibleBoolean(v);
      return b === undefined ? { ok: false } : { ok: true, value: b };
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
