/**
 * Ansible-flavoured filters and tests for the MiniJinja engine, plus the small Python-compat helpers
 * (str/repr, truthiness, json.dumps, %-formatting, re) they need. Only what MiniJinja lacks or gets wrong
 * (compared with Jinja2 + Ansible) lives here; everything else stays on MiniJinja's builtins.
 *
 * Every function receives plain JS values (dicts as objects, None as null); it may throw — the caller
 * (template.ts) catches, because an exception thrown into the WASM engine corrupts it.
 */
import { createHash } from 'node:crypto';
import { passwordHash, passwordLookup } from './password-hash.js';
import { sopsLookup } from './sops.js';
import { loopLookups } from './loop-lookups.js';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';

export type Kw = Record<string, unknown>;
export interface FilterSpec { fn: (v: unknown, args: unknown[], kw: Kw) => unknown; kwargs?: readonly string[] }
export interface TestSpec { fn: (v: unknown, args: unknown[], kw: Kw) => boolean; kwargs?: readonly string[] }

// ---------------------------------------------------------------- Python compat helpers

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function pyTruthy(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0 && !Number.isNaN(v);
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isObj(v)) return Object.keys(v).length > 0;
  return true;
}

function pyFloatRepr(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  return String(n).replace(/e([+-])(\d)$/, 'e$10$2');
}

export function pyNumber(n: number): string {
  return Number.isInteger(n) && Math.abs(n) < 1e16 ? String(n) : pyFloatRepr(n);
}

export function pyReprStr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === q || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + q;
}

/** Python repr() of a JS value as Jinja2 would print it inside a list/dict. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return pyNumber(v);
  if (typeof v === 'string') return pyReprStr(v);
  if (Array.isArray(v)) return '[' + v.map(pyRepr).join(', ') + ']';
  if (isObj(v)) return '{' + Object.entries(v).map(([k, x]) => pyReprStr(k) + ': ' + pyRepr(x)).join(', ') + '}';
  return String(v);
}

/** Python str(). */
export function pyStr(v: unknown): string {
  return typeof v === 'string' ? v : pyRepr(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if ((a === null || a === undefined) && (b === null || b === undefined)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

interface JsonOpts { indent?: number | null; sortKeys?: boolean; ensureAscii?: boolean; itemSep?: string; keySep?: string }

function jsonStr(s: string, ensureAscii: boolean): string {
  const j = JSON.stringify(s);
  return ensureAscii ? j.replace(/[\u007f-\uffff]/g, (c) => (c === '\u007f' ? c : '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))) : j;
}

/** Python json.dumps() with its default separators, indent, sort_keys and ensure_ascii. */
export function pyJson(v: unknown, o: JsonOpts = {}, level = 0): string {
  const indent = o.indent ?? null;
  const itemSep = o.itemSep ?? (indent === null ? ', ' : ',');
  const keySep = o.keySep ?? ': ';
  const ensureAscii = o.ensureAscii ?? true;
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isFinite(v) ? pyNumber(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  if (typeof v === 'string') return jsonStr(v, ensureAscii);
  const wrap = (open: string, close: string, parts: string[]) => {
    if (parts.length === 0) return open + close;
    if (indent === null) return open + parts.join(itemSep) + close;
    const pad = '\n' + ' '.repeat(indent * (level + 1));
    return open + pad + parts.join(itemSep + pad) + '\n' + ' '.repeat(indent * level) + close;
  };
  if (Array.isArray(v)) return wrap('[', ']', v.map((x) => pyJson(x, o, level + 1)));
  if (isObj(v)) {
    let keys = Object.keys(v);
    if (o.sortKeys) keys = keys.sort();
    return wrap('{', '}', keys.map((k) => jsonStr(k, ensureAscii) + keySep + pyJson(v[k], o, level + 1)));
  }
  return jsonStr(String(v), ensureAscii);
}

/** Python's `fmt % args`. `isTuple`: the right operand was written as a tuple literal. */
export function pyFormat(fmt: string, value: unknown, isTuple: boolean): string {
  const args: unknown[] = isTuple && Array.isArray(value) ? [...value] : [value];
  const mapping = !isTuple && isObj(value) ? value : undefined;
  let idx = 0;
  const re = /%(?:\(([^)]*)\))?([-+ #0]*)(\*|\d+)?(?:\.(\*|\d+))?([diouxXeEfFgGcrsa%])/g;
  const out = fmt.replace(re, (_m, key: string | undefined, flags: string, width: string | undefined, prec: string | undefined, conv: string) => {
    if (conv === '%') return '%';
    const next = () => {
      if (idx >= args.length) throw new Error('not enough arguments for format string');
      return args[idx++];
    };
    const w = width === '*' ? Number(next()) : width ? Number(width) : 0;
    const p = prec === '*' ? Number(next()) : prec !== undefined ? Number(prec) : undefined;
    const val = key !== undefined ? (mapping ? mapping[key] : undefined) : next();
    let s: string;
    const num = () => {
      if (typeof val === 'boolean') return val ? 1 : 0;
      if (typeof val !== 'number') throw new Error(`%${conv} format: a real number is required, not ${typeDebug(val)}`);
      return val;
    };
    let numeric = false;
    switch (conv) {
      case 's': s = pyStr(val); if (p !== undefined) s = s.slice(0, p); break;
      case 'r': case 'a': s = pyRepr(val); break;
      case 'd': case 'i': case 'u': s = String(Math.trunc(num())); numeric = true; break;
      case 'f': case 'F': s = num().toFixed(p ?? 6); numeric = true; break;
      case 'e': case 'E': s = num().toExponential(p ?? 6).replace(/e([+-])(\d)$/, 'e$10$2'); if (conv === 'E') s = s.toUpperCase(); numeric = true; break;
      case 'g': case 'G': { const n = num(); s = pyFloatRepr(Number(n.toPrecision(p || 6))); if (conv === 'G') s = s.toUpperCase(); numeric = true; break; }
      case 'x': s = Math.trunc(num()).toString(16); numeric = true; break;
      case 'X': s = Math.trunc(num()).toString(16).toUpperCase(); numeric = true; break;
      case 'o': s = Math.trunc(num()).toString(8); numeric = true; break;
      case 'c': s = typeof val === 'number' ? String.fromCodePoint(val) : pyStr(val); break;
      default: s = pyStr(val);
    }
    if (numeric && !s.startsWith('-')) { if (flags.includes('+')) s = '+' + s; else if (flags.includes(' ')) s = ' ' + s; }
    if (s.length < w) {
      if (flags.includes('-')) s = s.padEnd(w);
      else if (flags.includes('0') && numeric) { const sign = /^[-+ ]/.test(s) ? s[0] : ''; s = sign + s.slice(sign.length).padStart(w - sign.length, '0'); }
      else s = s.padStart(w);
    }
    return s;
  });
  if (!mapping && idx < args.length && isTuple) throw new Error('not all arguments converted during string formatting');
  return out;
}

/** Compile a Python regular expression as a JS RegExp (named groups, inline flags, \A \Z). */
export function pyRegex(pattern: string, opts: { ignorecase?: unknown; multiline?: unknown; global?: boolean; sticky?: boolean } = {}): RegExp {
  let src = pattern;
  let flags = '';
  const inline = /^\(\?([aiLmsux]+)\)/.exec(src);
  if (inline) {
    src = src.slice(inline[0].length);
    if (inline[1].includes('i')) flags += 'i';
    if (inline[1].includes('m')) flags += 'm';
    if (inline[1].includes('s')) flags += 's';
  }
  src = src.replace(/\(\?P<(\w+)>/g, '(?<$1>').replace(/\(\?P=(\w+)\)/g, '\\k<$1>').replace(/\\A/g, '^').replace(/\\Z/g, '$(?![\\s\\S])');
  if (pyTruthy(opts.ignorecase) && !flags.includes('i')) flags += 'i';
  if (pyTruthy(opts.multiline) && !flags.includes('m')) flags += 'm';
  if (opts.global) flags += 'g';
  if (opts.sticky) flags += 'y';
  return new RegExp(src, flags + 'u');
}

/** Python re.sub replacement string → JS replacement string. */
function pyReplacement(r: string): string {
  let out = '';
  for (let i = 0; i < r.length; i++) {
    const c = r[i];
    if (c === '$') { out += '$$'; continue; }
    if (c !== '\\' || i + 1 >= r.length) { out += c; continue; }
    const n = r[i + 1];
    const g = /^g<(\w+)>/.exec(r.slice(i + 1));
    if (g) { out += /^\d+$/.test(g[1]) ? '$' + g[1] : '$<' + g[1] + '>'; i += g[0].length; continue; }
    const d = /^\d{1,2}/.exec(r.slice(i + 1));
    if (d) { out += '$' + d[0]; i += d[0].length; continue; }
    const esc: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', f: '\f', v: '\v', a: '\x07', b: '\b' };
    if (n in esc) { out += esc[n]; i++; continue; }
    out += c;
  }
  return out;
}

// ---------------------------------------------------------------- small utilities

const kwOr = (args: unknown[], kw: Kw, i: number, name: string, dflt?: unknown): unknown =>
  name in kw ? kw[name] : i < args.length ? args[i] : dflt;

export function typeDebug(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'string') return 'str';
  if (Array.isArray(v)) return 'list';
  if (isObj(v)) return 'dict';
  return typeof v;
}

const toList = (v: unknown): unknown[] => {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return [...v];
  if (isObj(v)) return Object.keys(v);
  if (v === null || v === undefined) return [];
  throw new Error(`'${typeDebug(v)}' object is not iterable`);
};

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

function toBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (v === null || v === undefined) return false;
  const s = typeof v === 'string' ? v.toLowerCase().trim() : v;
  return s === 'yes' || s === 'on' || s === '1' || s === 'true' || s === 1 || s === 'y';
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

function yamlDump(v: unknown, indent: number, flowLeaves: boolean): string {
  const doc = new YAML.Document(v, { sortMapEntries: true });
  if (flowLeaves) {
    YAML.visit(doc, {
      Collection(_k, node) {
        const items = (node.items as unknown[]).map((it) => (YAML.isPair(it) ? it.value : it));
        if (items.every((it) => it === null || YAML.isScalar(it))) node.flow = true;
      },
    });
  }
  return doc.toString({ indent, indentSeq: false, lineWidth: 80, flowCollectionPadding: false });
}

function versionCompare(a: string, b: string): number {
  const parts = (s: string) => s.split(/(\d+|[a-z]+|\.)/i).filter((p) => p && p !== '.' && !/^[\s\-_+~]+$/.test(p)).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const x = parts(a), y = parts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (i >= x.length) return -1;
    if (i >= y.length) return 1;
    const p = x[i], q = y[i];
    if (p === q) continue;
    if (typeof p === 'number' && typeof q === 'number') return p - q;
    if (typeof p === 'number') return 1; // LooseVersion-ish: numbers sort after letters (1.0 > 1.0rc)
    if (typeof q === 'number') return -1;
    return p < q ? -1 : 1;
  }
  return 0;
}

function resultDict(v: unknown, test: string): Record<string, unknown> {
  if (!isObj(v)) throw new Error(`The '${test}' test expects a dictionary`);
  return v;
}

function regexTest(v: unknown, args: unknown[], kw: Kw, matchType: string): boolean {
  const re = pyRegex(String(kwOr(args, kw, 0, 'pattern', '')), { ignorecase: kwOr(args, kw, 1, 'ignorecase'), multiline: kwOr(args, kw, 2, 'multiline'), sticky: matchType === 'match' });
  return re.test(pyStr(v));
}

// ---------------------------------------------------------------- filters

export const FILTERS: Record<string, FilterSpec> = {
  bool: { fn: (v) => toBool(v) },
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
  to_yaml: { fn: (v, a, kw) => yamlDump(v, Number(kw.indent ?? 2), true), kwargs: ['indent', 'default_flow_style', 'allow_unicode', 'width'] },
  to_nice_yaml: { fn: (v, a, kw) => yamlDump(v, Number(kwOr(a, kw, 0, 'indent', 2)), false), kwargs: ['indent', 'default_flow_style', 'allow_unicode', 'width'] },
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
      const count = Number(kwOr(a, kw, 4, 'count', 0));
      const re = pyRegex(String(kwOr(a, kw, 0, 'regex', '')), { ignorecase: kwOr(a, kw, 2, 'ignorecase'), multiline: kwOr(a, kw, 3, 'multiline'), global: true });
      const rep = pyReplacement(pyStr(kwOr(a, kw, 1, 'replace', '')));
      const s = pyStr(v);
      if (!count) return s.replace(re, rep);
      let n = 0;
      return s.replace(re, (...m) => (n++ < count ? m[0].replace(new RegExp(re.source, re.flags.replace('g', '')), rep) : m[0]));
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
      const re = pyRegex(String(kwOr(a, kw, 0, 'regex', '')), { multiline: kwOr(a, kw, 1, 'multiline'), ignorecase: kwOr(a, kw, 2, 'ignorecase'), global: true });
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

// ---------------------------------------------------------------- tests

const VERSION_OPS: Record<string, (c: number) => boolean> = {
  lt: (c) => c < 0, '<': (c) => c < 0, lessthan: (c) => c < 0,
  le: (c) => c <= 0, '<=': (c) => c <= 0,
  gt: (c) => c > 0, '>': (c) => c > 0, greaterthan: (c) => c > 0,
  ge: (c) => c >= 0, '>=': (c) => c >= 0,
  eq: (c) => c === 0, '==': (c) => c === 0, '=': (c) => c === 0, equalto: (c) => c === 0,
  ne: (c) => c !== 0, '!=': (c) => c !== 0, '<>': (c) => c !== 0, notequal: (c) => c !== 0,
};

const versionTest: TestSpec = {
  fn: (v, a, kw) => {
    const op = String(kwOr(a, kw, 1, 'operator', 'eq'));
    const f = VERSION_OPS[op];
    if (!f) throw new Error(`version: invalid operator '${op}'`);
    return f(versionCompare(pyStr(v), pyStr(kwOr(a, kw, 0, 'version', ''))));
  },
  kwargs: ['version', 'operator', 'strict', 'version_type'],
};

const boolTrue = (v: unknown, convert: boolean) => (convert && typeof v === 'string' && /^(yes|no|on|off|true|false|y|n|1|0)$/i.test(v) ? toBool(v) : pyTruthy(v));

export const TESTS: Record<string, TestSpec> = {
  truthy: { fn: (v, a, kw) => boolTrue(v, pyTruthy(kwOr(a, kw, 0, 'convert_bool', false))), kwargs: ['convert_bool'] },
  falsy: { fn: (v, a, kw) => !boolTrue(v, pyTruthy(kwOr(a, kw, 0, 'convert_bool', false))), kwargs: ['convert_bool'] },
  match: { fn: (v, a, kw) => regexTest(v, a, kw, 'match'), kwargs: ['pattern', 'ignorecase', 'multiline'] },
  search: { fn: (v, a, kw) => regexTest(v, a, kw, 'search'), kwargs: ['pattern', 'ignorecase', 'multiline'] },
  regex: { fn: (v, a, kw) => regexTest(v, a, kw, String(kwOr(a, kw, 3, 'match_type', 'search'))), kwargs: ['pattern', 'ignorecase', 'multiline', 'match_type'] },
  success: { fn: (v) => !pyTruthy(resultDict(v, 'success').failed) },
  succeeded: { fn: (v) => !pyTruthy(resultDict(v, 'succeeded').failed) },
  failed: { fn: (v) => pyTruthy(resultDict(v, 'failed').failed) },
  failure: { fn: (v) => pyTruthy(resultDict(v, 'failure').failed) },
  changed: { fn: (v) => pyTruthy(resultDict(v, 'changed').changed) },
  change: { fn: (v) => pyTruthy(resultDict(v, 'change').changed) },
  skipped: { fn: (v) => pyTruthy(resultDict(v, 'skipped').skipped) },
  skip: { fn: (v) => pyTruthy(resultDict(v, 'skip').skipped) },
  unreachable: { fn: (v) => pyTruthy(resultDict(v, 'unreachable').unreachable) },
  reachable: { fn: (v) => !pyTruthy(resultDict(v, 'reachable').unreachable) },
  version: versionTest,
  version_compare: versionTest,
  contains: { fn: (v, a) => toList(v).some((x) => deepEqual(x, a[0])) },
  subset: { fn: (v, a) => toList(v).every((x) => toList(a[0]).some((y) => deepEqual(x, y))) },
  superset: { fn: (v, a) => toList(a[0]).every((x) => toList(v).some((y) => deepEqual(x, y))) },
  // Jinja2: anything with len() and [] — str, list and dict.
  sequence: { fn: (v) => typeof v === 'string' || Array.isArray(v) || isObj(v) },
};

// ---------------------------------------------------------------- lookups

export type LookupFn = (terms: unknown[], kw: Kw, vars: Record<string, unknown>) => unknown[];

export class LookupUndefined extends Error {
  constructor(public variable: string) { super(`'${variable}' is undefined`); }
}

export const LOOKUPS: Record<string, LookupFn> = {
  env: (terms, kw) => terms.map((t) => process.env[pyStr(t)] ?? (kw.default !== undefined ? kw.default : '')),
  file: (terms, kw) =>
    terms.map((t) => {
      let s = readFileSync(pyStr(t), 'utf8');
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
};
Object.assign(LOOKUPS, loopLookups()); // nested, subelements, sequence, first_found, fileglob, ... (loop-lookups.ts)
// the builtin lookups by their FQCN too
for (const n of Object.keys(LOOKUPS)) if (!n.includes('.')) LOOKUPS[`ansible.builtin.${n}`] = LOOKUPS[n]!;
