/**
 * Ansible-flavoured filters for the MiniJinja engine. Only what MiniJinja lacks or gets wrong (compared with
 * Jinja2 + Ansible) lives here; everything else stays on MiniJinja's builtins. The Python-compat helpers they
 * use are in python-compat.ts, the tests (`is ...`) in jinja-tests.ts, the lookups in lookups.ts.
 *
 * Every function receives plain JS values (dicts as objects, None as null); it may throw — the caller
 * (template.ts) catches, because an exception thrown into the WASM engine corrupts it.
 */
import { createHash } from 'node:crypto';
import YAML from 'yaml';
import { passwordHash } from './password-hash.js';
import { pyYamlDump } from './pyyaml-dump.js';
import { commentFilter, jinjaIndent } from './text-filters.js';
import {
  deepEqual, isObj, kwOr, pyBool, pyFormat, pyJson, pyRegex, pyRepr, pySub, pyStr, pyTruthy, toList, typeDebug, type Kw,
} from './python-compat.js';

// Re-exported for the callers that imported them from here before the split.
export { deepEqual, pyJson, pyNumber, pyRepr, pyReprStr, pyStr, pyTruthy, typeDebug, type Kw } from './python-compat.js';
export { TESTS, type TestSpec } from './jinja-tests.js';
export { LOOKUPS, LookupUndefined, type LookupFn } from './lookups.js';

export interface FilterSpec { fn: (v: unknown, args: unknown[], kw: Kw) => unknown; kwargs?: readonly string[] }

// ---------------------------------------------------------------- small utilities

function getAttr(v: unknown, path: unknown): unknown {
  if (path === null || path === undefined) return v;
  let cur: unknown = v;
  for (const part of String(path).split('.')) {
    if (Array.isArray(cur) && /^\d+$/.test(part)) cur = cur[Number(part)];
    else if (isObj(cur)) cur = cur[part];
    else return undefined;
  }
  return cur;
}

function pyCompare(a: unknown, b: unknown, caseSensitive = false): number {
  if (typeof a === 'string' && typeof b === 'string') {
    const x = caseSensitive ? a : a.toLowerCase(), y = caseSensitive ? b : b.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = typeof a === 'boolean' ? Number(a) : a, y = typeof b === 'boolean' ? Number(b) : b;
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  if (Array.isArray(x) && Array.isArray(y)) {
    for (let i = 0; i < Math.min(x.length, y.length); i++) { const c = pyCompare(x[i], y[i], caseSensitive); if (c) return c; }
    return x.length - y.length;
  }
  throw new Error(`'<' not supported between instances of '${typeDebug(a)}' and '${typeDebug(b)}'`);
}

function toInt(v: unknown, dflt: unknown = 0, base: unknown = 10): unknown {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : dflt;
  if (typeof v === 'string') {
    const s = v.trim().replace(/_/g, '');
    const b = Number(base);
    if (b === 10 && /^[+-]?\d+$/.test(s)) return parseInt(s, 10);
    if (b !== 10) {
      const stripped = s.replace(b === 16 ? /^([+-]?)0x/i : b === 8 ? /^([+-]?)0o/i : b === 2 ? /^([+-]?)0b/i : /^$/, '$1');
      const digits = '0123456789abcdefghijklmnopqrstuvwxyz'.slice(0, b);
      if (new RegExp(`^[+-]?[${digits}]+$`, 'i').test(stripped)) return parseInt(stripped, b);
    }
    if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return Math.trunc(parseFloat(s));
  }
  return dflt;
}

function toFloat(v: unknown, dflt: unknown = 0): unknown {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (/^[+-]?(\d+\.?\d*|\.\d+)([e][+-]?\d+)?$/.test(s)) return parseFloat(s);
    if (/^[+-]?(inf|infinity)$/.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
    if (s === 'nan') return NaN;
  }
  return dflt;
}

function pyBasename(p: string): string { return p.slice(p.lastIndexOf('/') + 1); }
function pyDirname(p: string): string {
  let head = p.slice(0, p.lastIndexOf('/') + 1);
  if (head && head !== '/'.repeat(head.length)) head = head.replace(/\/+$/, '');
  return head;
}

/** Python shlex.quote. */
export function shellQuote(s: string): string {
  if (s === '') return "''";
  if (!/[^\w@%+=:,./-]/.test(s)) return s;
  return "'" + s.replace(/'/g, `'"'"'`) + "'";
}

function pyQuoteUrl(s: string, safe: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.\-~]/.test(ch) || safe.includes(ch) ? ch : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function mergeHash(x: Record<string, unknown>, y: Record<string, unknown>, recursive: boolean, listMerge: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...x };
  for (const [k, yv] of Object.entries(y)) {
    if (!(k in out)) { out[k] = yv; continue; }
    const xv = out[k];
    if (isObj(xv) && isObj(yv)) { out[k] = recursive ? mergeHash(xv, yv, recursive, listMerge) : yv; continue; }
    if (Array.isArray(xv) && Array.isArray(yv)) {
      switch (listMerge) {
        case 'replace': out[k] = yv; break;
        case 'keep': break;
        case 'append': out[k] = [...xv, ...yv]; break;
        case 'prepend': out[k] = [...yv, ...xv]; break;
        case 'append_rp': out[k] = [...xv.filter((z) => !yv.some((w) => deepEqual(z, w))), ...yv]; break;
        case 'prepend_rp': out[k] = [...yv, ...xv.filter((z) => !yv.some((w) => deepEqual(z, w)))]; break;
        default: throw new Error(`combine: list_merge must be one of replace, keep, append, prepend, append_rp, prepend_rp; got '${listMerge}'`);
      }
      continue;
    }
    out[k] = yv;
  }
  return out;
}

function flatten(list: unknown[], levels: number | null, skipNulls: boolean): unknown[] {
  const out: unknown[] = [];
  for (const el of list) {
    if (skipNulls && (el === null || el === undefined || el === 'None' || el === 'null')) continue;
    if (Array.isArray(el)) {
      if (levels === null) out.push(...flatten(el, null, skipNulls));
      else if (levels >= 1) out.push(...flatten(el, levels - 1, skipNulls));
      else out.push(el);
    } else out.push(el);
  }
  return out;
}

function uniqueDeep(list: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const x of list) if (!out.some((y) => deepEqual(x, y))) out.push(x);
  return out;
}

// ---------------------------------------------------------------- filters

const YAML_KW = ['indent', 'default_flow_style', 'allow_unicode', 'width', 'sort_keys', 'explicit_start', 'explicit_end'] as const;
function yamlOpts(kw: Kw, indent: number, flow: unknown) {
  return {
    indent: Number(kw.indent ?? indent), width: kw.width === undefined ? undefined : Number(kw.width),
    defaultFlowStyle: flow === null ? null : pyTruthy(flow), sortKeys: kw.sort_keys === undefined ? true : pyTruthy(kw.sort_keys),
    explicitStart: pyTruthy(kw.explicit_start), explicitEnd: pyTruthy(kw.explicit_end),
  };
}

export const FILTERS: Record<string, FilterSpec> = {
  bool: { fn: (v) => pyBool(v) },
  int: { fn: (v, a, kw) => toInt(v, kwOr(a, kw, 0, 'default', 0), kwOr(a, kw, 1, 'base', 10)), kwargs: ['default', 'base'] },
  float: { fn: (v, a, kw) => toFloat(v, kwOr(a, kw, 0, 'default', 0)), kwargs: ['default'] },
  string: { fn: (v) => pyStr(v) },
  join: {
    fn: (v, a, kw) => {
      const attr = kwOr(a, kw, 1, 'attribute');
      return toList(v).map((x) => pyStr(attr != null ? getAttr(x, attr) : x)).join(pyStr(kwOr(a, kw, 0, 'd', '')));
    },
    kwargs: ['d', 'attribute'],
  },
  min: {
    fn: (v, a, kw) => {
      const l = toList(v), attr = kw.attribute, cs = pyTruthy(kw.case_sensitive);
      if (!l.length) return null;
      return l.reduce((m, x) => (pyCompare(getAttr(x, attr), getAttr(m, attr), cs) < 0 ? x : m));
    },
    kwargs: ['attribute', 'case_sensitive'],
  },
  max: {
    fn: (v, a, kw) => {
      const l = toList(v), attr = kw.attribute, cs = pyTruthy(kw.case_sensitive);
      if (!l.length) return null;
      return l.reduce((m, x) => (pyCompare(getAttr(x, attr), getAttr(m, attr), cs) > 0 ? x : m));
    },
    kwargs: ['attribute', 'case_sensitive'],
  },
  sum: {
    fn: (v, a, kw) => {
      const attr = kwOr(a, kw, 0, 'attribute');
      const start = kwOr(a, kw, 1, 'start', 0);
      return toList(v).map((x) => (attr != null ? getAttr(x, attr) : x)).reduce((acc: unknown, x) => {
        if (Array.isArray(acc) && Array.isArray(x)) return [...acc, ...x];
        if (typeof acc === 'number' && (typeof x === 'number' || typeof x === 'boolean')) return acc + Number(x);
        throw new Error(`sum: unsupported operand types: '${typeDebug(acc)}' and '${typeDebug(x)}'`);
      }, start);
    },
    kwargs: ['attribute', 'start'],
  },
  split: {
    fn: (v, a, kw) => {
      const s = pyStr(v), sep = kwOr(a, kw, 0, 'sep', null), max = Number(kwOr(a, kw, 1, 'maxsplit', -1));
      if (sep === null || sep === undefined) {
        const parts = s.trim().split(/\s+/).filter(Boolean);
        if (max < 0 || parts.length <= max + 1) return parts;
        const re = /\S+/g; let m: RegExpExecArray | null; const out: string[] = [];
        while (out.length < max && (m = re.exec(s))) out.push(m[0]);
        out.push(s.slice(re.lastIndex).replace(/^\s+/, ''));
        return out;
      }
      const parts = s.split(String(sep));
      return max < 0 || parts.length <= max + 1 ? parts : [...parts.slice(0, max), parts.slice(max).join(String(sep))];
    },
    kwargs: ['sep', 'maxsplit'],
  },
  format: { fn: (v, a) => pyFormat(pyStr(v), a, true) },
  __pyfmt: { fn: (v, a) => pyFormat(pyStr(v), a[0], pyTruthy(a[1])) },
  to_json: {
    fn: (v, a, kw) => pyJson(v, { indent: (kw.indent as number) ?? null, sortKeys: pyTruthy(kw.sort_keys), ensureAscii: kw.ensure_ascii === undefined ? true : pyTruthy(kw.ensure_ascii) }),
    kwargs: ['indent', 'sort_keys', 'ensure_ascii', 'vault_to_text', 'preprocess_unsafe'],
  },
  to_nice_json: {
    fn: (v, a, kw) => pyJson(v, { indent: Number(kwOr(a, kw, 0, 'indent', 4)), sortKeys: kw.sort_keys === undefined ? true : pyTruthy(kw.sort_keys), ensureAscii: kw.ensure_ascii === undefined ? true : pyTruthy(kw.ensure_ascii), itemSep: ',' }),
    kwargs: ['indent', 'sort_keys', 'ensure_ascii', 'vault_to_text', 'preprocess_unsafe'],
  },
  from_json: { fn: (v) => JSON.parse(pyStr(v)) },
  // yaml.dump as Ansible calls it (pyyaml-dump.ts): to_yaml flow-styles collections of scalars, to_nice_yaml indents by 4
  to_yaml: { fn: (v, a, kw) => pyYamlDump(v, yamlOpts(kw, 2, kw.default_flow_style === undefined ? null : kw.default_flow_style)), kwargs: YAML_KW },
  to_nice_yaml: { fn: (v, a, kw) => pyYamlDump(v, yamlOpts({ indent: kwOr(a, kw, 0, 'indent', 4), ...kw }, 4, false)), kwargs: YAML_KW },
  comment: { fn: (v, a, kw) => commentFilter(pyStr(v), String(kwOr(a, kw, 0, 'style', 'plain')), kw), kwargs: ['style', 'decoration', 'beginning', 'end', 'prefix', 'prefix_count', 'postfix', 'postfix_count', 'newline'] },
  indent: { fn: (v, a, kw) => jinjaIndent(pyStr(v), kwOr(a, kw, 0, 'width', 4), pyTruthy(kwOr(a, kw, 1, 'first', false)), pyTruthy(kwOr(a, kw, 2, 'blank', false))), kwargs: ['width', 'first', 'blank', 'indentfirst'] },
  from_yaml: { fn: (v) => (typeof v === 'string' ? (YAML.parse(v) ?? null) : v) },
  from_yaml_all: { fn: (v) => YAML.parseAllDocuments(pyStr(v)).map((d) => d.toJS()) },
  dict2items: {
    fn: (v, a, kw) => {
      if (!isObj(v)) throw new Error(`dict2items requires a dictionary, got ${typeDebug(v)} instead.`);
      const k = String(kwOr(a, kw, 0, 'key_name', 'key')), val = String(kwOr(a, kw, 1, 'value_name', 'value'));
      return Object.entries(v).map(([kk, vv]) => ({ [k]: kk, [val]: vv }));
    },
    kwargs: ['key_name', 'value_name'],
  },
  items2dict: {
    fn: (v, a, kw) => {
      const k = String(kwOr(a, kw, 0, 'key_name', 'key')), val = String(kwOr(a, kw, 1, 'value_name', 'value'));
      const out: Record<string, unknown> = {};
      for (const it of toList(v)) {
        if (!isObj(it)) throw new Error(`items2dict requires a list of dictionaries, got ${typeDebug(it)}`);
        out[pyStr(it[k])] = it[val];
      }
      return out;
    },
    kwargs: ['key_name', 'value_name'],
  },
  combine: {
    fn: (v, a, kw) => {
      const dicts = [v, ...a].flatMap((d) => (Array.isArray(d) ? d : [d]));
      const recursive = pyTruthy(kw.recursive), lm = String(kw.list_merge ?? 'replace');
      let out: Record<string, unknown> = {};
      for (const d of dicts) {
        if (!isObj(d)) throw new Error(`combine: failed to combine variables, expected dicts but got a '${typeDebug(d)}'`);
        out = mergeHash(out, d, recursive, lm);
      }
      return out;
    },
    kwargs: ['recursive', 'list_merge'],
  },
  regex_replace: {
    fn: (v, a, kw) => {
      const re = pyRegex(String(kwOr(a, kw, 0, 'regex', '')), { ignorecase: kwOr(a, kw, 2, 'ignorecase'), multiline: kwOr(a, kw, 3, 'multiline'), flags: 'g' });
      return pySub(re, pyStr(kwOr(a, kw, 1, 'replace', '')), pyStr(v), Number(kwOr(a, kw, 4, 'count', 0)));
    },
    kwargs: ['regex', 'replace', 'ignorecase', 'multiline', 'count', 'mandatory_count'],
  },
  regex_search: {
    fn: (v, a, kw) => {
      const [pattern, ...groups] = a;
      const m = pyRegex(String(pattern), { ignorecase: kw.ignorecase, multiline: kw.multiline }).exec(pyStr(v));
      if (!m) return null;
      if (!groups.length) return m[0];
      return groups.map((g) => {
        const s = String(g);
        const named = /^\\g<(\w+)>$/.exec(s);
        if (named) return (/^\d+$/.test(named[1]) ? m[Number(named[1])] : m.groups?.[named[1]]) ?? null;
        const num = /^\\(\d+)$/.exec(s);
        if (num) return m[Number(num[1])] ?? null;
        throw new Error(`regex_search: unknown argument ${s}`);
      });
    },
    kwargs: ['ignorecase', 'multiline'],
  },
  regex_findall: {
    fn: (v, a, kw) => {
      const re = pyRegex(String(kwOr(a, kw, 0, 'regex', '')), { multiline: kwOr(a, kw, 1, 'multiline'), ignorecase: kwOr(a, kw, 2, 'ignorecase'), flags: 'g' });
      return [...pyStr(v).matchAll(re)].map((m) => (m.length === 1 ? m[0] : m.length === 2 ? (m[1] ?? '') : m.slice(1).map((g) => g ?? '')));
    },
    kwargs: ['regex', 'multiline', 'ignorecase'],
  },
  regex_escape: { fn: (v) => pyStr(v).replace(/[()[\]{}?*+\-|^$\\.&~# \t\n\r\v\f]/g, (c) => '\\' + c), kwargs: ['re_type'] },
  basename: { fn: (v) => pyBasename(pyStr(v)) },
  dirname: { fn: (v) => pyDirname(pyStr(v)) },
  splitext: { fn: (v) => { const s = pyStr(v), b = pyBasename(s), i = b.lastIndexOf('.'); return i > 0 && b.slice(0, i).replace(/\./g, '') ? [s.slice(0, s.length - b.length + i), b.slice(i)] : [s, '']; } },
  path_join: { fn: (v) => toList(v).map(pyStr).reduce((acc, p) => (p.startsWith('/') || !acc ? p : acc.endsWith('/') ? acc + p : acc + '/' + p), '') },
  quote: { fn: (v) => shellQuote(v === null || v === undefined ? '' : pyStr(v)) },
  b64encode: { fn: (v) => Buffer.from(pyStr(v), 'utf8').toString('base64'), kwargs: ['encoding'] },
  b64decode: { fn: (v) => Buffer.from(pyStr(v), 'base64').toString('utf8'), kwargs: ['encoding'] },
  password_hash: { fn: (v, a, kw) => passwordHash(v, String(kwOr(a, kw, 0, 'hashtype', 'sha512')), kwOr(a, kw, 1, 'salt', undefined), kwOr(a, kw, 2, 'salt_size', undefined), kwOr(a, kw, 3, 'rounds', undefined)), kwargs: ['hashtype', 'salt', 'salt_size', 'rounds', 'ident'] },
  urlencode: {
    fn: (v) => {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return pyQuoteUrl(pyStr(v), '/');
      const pairs = isObj(v) ? Object.entries(v) : toList(v).map((p) => (Array.isArray(p) ? [p[0], p[1]] : [p, '']));
      return pairs.map(([k, x]) => pyQuoteUrl(pyStr(k), '').replace(/%20/g, '+') + '=' + pyQuoteUrl(pyStr(x), '').replace(/%20/g, '+')).join('&');
    },
  },
  hash: { fn: (v, a, kw) => createHash(String(kwOr(a, kw, 0, 'hashtype', 'sha1'))).update(pyStr(v)).digest('hex'), kwargs: ['hashtype'] },
  md5: { fn: (v) => createHash('md5').update(pyStr(v)).digest('hex') },
  sha1: { fn: (v) => createHash('sha1').update(pyStr(v)).digest('hex') },
  checksum: { fn: (v) => createHash('sha1').update(pyStr(v)).digest('hex') },
  // Undefined input never reaches here: the path guard in template.ts raises the undefined_variable error first.
  mandatory: { fn: (v) => v, kwargs: ['msg'] },
  ternary: {
    fn: (v, a, kw) => {
      const none = kwOr(a, kw, 2, 'none_val', null);
      if ((v === null || v === undefined) && none !== null && none !== undefined) return none;
      return pyTruthy(v) ? kwOr(a, kw, 0, 'true_val', null) : kwOr(a, kw, 1, 'false_val', null);
    },
    kwargs: ['true_val', 'false_val', 'none_val'],
  },
  zip: { fn: (v, a) => { const ls = [v, ...a].map(toList); const n = Math.min(...ls.map((l) => l.length)); return Array.from({ length: n }, (_, i) => ls.map((l) => l[i])); } },
  zip_longest: {
    fn: (v, a, kw) => { const ls = [v, ...a].map(toList); const n = Math.max(...ls.map((l) => l.length)); return Array.from({ length: n }, (_, i) => ls.map((l) => (i < l.length ? l[i] : (kw.fillvalue ?? null)))); },
    kwargs: ['fillvalue'],
  },
  flatten: {
    fn: (v, a, kw) => { const lv = kwOr(a, kw, 0, 'levels', null); return flatten(toList(v), lv === null || lv === undefined ? null : Number(lv), kw.skip_nulls === undefined ? true : pyTruthy(kw.skip_nulls)); },
    kwargs: ['levels', 'skip_nulls'],
  },
  type_debug: { fn: (v) => typeDebug(v) },
  extract: {
    fn: (v, a, kw) => {
      let cur = getItem(a[0], v);
      const more = kwOr(a, kw, 1, 'morekeys', null);
      for (const k of more === null || more === undefined ? [] : Array.isArray(more) ? more : [more]) cur = getItem(cur, k);
      return cur;
    },
    kwargs: ['morekeys'],
  },
  union: { fn: (v, a) => uniqueDeep([...toList(v), ...toList(a[0])]) },
  intersect: { fn: (v, a) => uniqueDeep(toList(v).filter((x) => toList(a[0]).some((y) => deepEqual(x, y)))) },
  difference: { fn: (v, a) => uniqueDeep(toList(v).filter((x) => !toList(a[0]).some((y) => deepEqual(x, y)))) },
  symmetric_difference: {
    fn: (v, a) => { const x = toList(v), y = toList(a[0]); return uniqueDeep([...x.filter((e) => !y.some((f) => deepEqual(e, f))), ...y.filter((e) => !x.some((f) => deepEqual(e, f)))]); },
  },
};

function getItem(container: unknown, key: unknown): unknown {
  if (Array.isArray(container) && typeof key === 'number') return container[key < 0 ? container.length + key : key];
  if (isObj(container) && pyStr(key) in container) return container[pyStr(key)];
  throw new Error(`extract: key ${pyRepr(key)} not found`);
}
