/**
 * Python-compatibility helpers: str/repr, truthiness and boolean coercion, json.dumps, %-formatting, and
 * Python `re` patterns/replacements translated to JS RegExp. Every place in lib/ that reads a Python-flavoured
 * value (a regex in a filter or a module argument, a yes/no boolean) goes through here, so they all agree.
 */

/** Keyword arguments of a filter/test/lookup call. */
export type Kw = Record<string, unknown>;
export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function pyTruthy(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0 && !Number.isNaN(v);
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isObj(v)) return Object.keys(v).length > 0;
  return true;
}

export function pyFloatRepr(n: number): string {
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
export function pyReplacement(r: string): string {
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

export function typeDebug(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'string') return 'str';
  if (Array.isArray(v)) return 'list';
  if (isObj(v)) return 'dict';
  return typeof v;
}

/** Python iteration: list as is, str by character, dict by key, None as empty. */
export const toList = (v: unknown): unknown[] => {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return [...v];
  if (isObj(v)) return Object.keys(v);
  if (v === null || v === undefined) return [];
  throw new Error(`'${typeDebug(v)}' object is not iterable`);
};

/** Ansible's boolean coercion (the `bool` filter): yes/on/1/true/y are true, anything else false. */
export function pyBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (v === null || v === undefined) return false;
  const s = typeof v === 'string' ? v.toLowerCase().trim() : v;
  return s === 'yes' || s === 'on' || s === '1' || s === 'true' || s === 1 || s === 'y';
}

/** A filter argument given by keyword or by position, as a Python call would bind it. */
export const kwOr = (args: unknown[], kw: Kw, i: number, name: string, dflt?: unknown): unknown =>
  name in kw ? kw[name] : i < args.length ? args[i] : dflt;
