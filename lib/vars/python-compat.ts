/**
 * Python-compatibility helpers: str/repr, truthiness and boolean coercion, json.dumps, %-formatting, and
 * Python `re` patterns/replacements translated to JS RegExp. Every place in lib/ that reads a Python-flavoured
 * value (a regex in a filter or a module argument, a yes/no boolean) goes through here, so they all agree.
 */

import { RunbookError } from '../errors.js';

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

// ---------------------------------------------------------------- Python `re`

/** A Python pattern or replacement template that cannot be used (bad syntax, unknown group). */
export class PyRegexError extends RunbookError {
  constructor(message: string) {
    super('bad_pattern', message);
    this.name = 'PyRegexError';
  }
}

export interface PyRegexOptions {
  /** re.IGNORECASE / re.MULTILINE / re.DOTALL (Python truthiness); a leading `(?ims)` in the pattern adds to them */
  ignorecase?: unknown;
  multiline?: unknown;
  dotall?: unknown;
  /** JS flags to add: g (all matches), y (anchored at lastIndex, like re.match), d (indices) */
  flags?: string;
  /**
   * Text (str) semantics: the JS `u` flag, so `.` is one code point, as in Python 3 str patterns. False for text
   * held as latin1 bytes (the file modules). A pattern Python accepts but the u flag refuses (`\-`, a lone `{`)
   * is compiled without it.
   */
  unicode?: boolean;
}

/** The Python pattern as JS source and flags (before the u flag is chosen). */
export function translatePyRegex(pattern: string, opts: PyRegexOptions = {}): { source: string; flags: string } {
  let src = pattern;
  let ignorecase = pyTruthy(opts.ignorecase), multiline = pyTruthy(opts.multiline), dotall = pyTruthy(opts.dotall), verbose = false;
  // global inline flags: only at the start (Python 3.11 refuses them elsewhere); a, L and u change nothing for str
  for (let m = /^\(\?([aiLmsux]+)\)/.exec(src); m; m = /^\(\?([aiLmsux]+)\)/.exec(src)) {
    if (m[1]!.includes('i')) ignorecase = true;
    if (m[1]!.includes('m')) multiline = true;
    if (m[1]!.includes('s')) dotall = true;
    if (m[1]!.includes('x')) verbose = true;
    src = src.slice(m[0].length);
  }
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      const n = src[i + 1];
      if (n === undefined) throw new PyRegexError(`invalid regular expression '${pattern}': bad escape (end of pattern)`);
      i++;
      if (inClass) { out += '\\' + n; continue; }
      if (n === 'A') out += '(?<![\\s\\S])'; // start of the string, whatever the flags
      else if (n === 'Z') out += '(?![\\s\\S])'; // end of the string (Python's $ also matches before a final \n)
      else if (n === 'U' && /^[0-9a-fA-F]{8}$/.test(src.slice(i + 1, i + 9))) {
        out += String.fromCodePoint(parseInt(src.slice(i + 1, i + 9), 16)).replace(/[\s\S]/g, (ch) => '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0'));
        i += 8;
      } else if (verbose && /\s|#/.test(n)) out += n === '#' ? '#' : '\\' + n;
      else out += '\\' + n;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      // a `]` right after `[` or `[^` is a literal in Python; JS needs it escaped
      if (src[i + 1] === '^') { out += '^'; i++; }
      if (src[i + 1] === ']') { out += '\\]'; i++; }
      continue;
    }
    if (verbose && /\s/.test(c)) continue;
    if (verbose && c === '#') {
      while (i + 1 < src.length && src[i + 1] !== '\n') i++;
      continue;
    }
    if (c === '(' && src[i + 1] === '?') {
      const rest = src.slice(i);
      const named = /^\(\?P<(\w+)>/.exec(rest);
      if (named) { out += `(?<${named[1]}>`; i += named[0].length - 1; continue; }
      const ref = /^\(\?P=(\w+)\)/.exec(rest);
      if (ref) { out += `\\k<${ref[1]}>`; i += ref[0].length - 1; continue; }
      const comment = /^\(\?#[^)]*\)/.exec(rest);
      if (comment) { i += comment[0].length - 1; continue; }
    }
    if (c === '.') out += dotall ? '[\\s\\S]' : '[^\\n]';
    // Python: ^ at the start (or after any \n with MULTILINE); $ at the end or before a final \n (before any \n with
    // MULTILINE). JS's own ^ and $ differ (\r and \u2028 count as line ends, and $ never skips a final \n).
    else if (c === '^') out += multiline ? '(?:(?<![\\s\\S])|(?<=\\n))' : '(?<![\\s\\S])';
    else if (c === '$') out += multiline ? '(?=\\n|(?![\\s\\S]))' : '(?=\\n?(?![\\s\\S]))';
    else out += c;
  }
  const flags = [...new Set(((ignorecase ? 'i' : '') + (opts.flags ?? '')).split(''))].filter((f) => f !== 'm' && f !== 's' && f !== 'u').join('');
  return { source: out, flags };
}

/**
 * Compile a Python regular expression (Ansible's regexp parameters and regex_* filters) as a JS RegExp with
 * Python's meaning: (?P<name>...), (?P=name), (?#...), leading inline flags (?aiLmsux) incl. verbose, \A, \Z, \U,
 * Python's ^ $ and . (only \n ends a line), `[]...]`. PyRegexError when it does not compile.
 */
export function pyRegex(pattern: string, opts: PyRegexOptions = {}): RegExp {
  const { source, flags } = translatePyRegex(pattern, opts);
  if (opts.unicode ?? true) {
    try {
      return new RegExp(source, flags + 'u');
    } catch {
      // Python accepts it: try without the u flag (identity escapes such as \- are an error only with it)
    }
  }
  try {
    return new RegExp(source, flags);
  } catch (e) {
    throw new PyRegexError(`invalid regular expression '${pattern}': ${(e as Error).message}`);
  }
}

/** A match as Python's match.expand sees it: groups by number and by name. */
export interface PyMatch { readonly [n: number]: string | undefined; readonly length: number; groups?: Record<string, string | undefined> }

/**
 * Python's match.expand(template) / re.sub's replacement: \1..\99, \g<n>, \g<name>, \n \t ... escapes; an
 * unknown escape of a letter is an error, other escapes stay as they are. An unmatched group is ''.
 */
export function pyExpand(tpl: string, m: PyMatch): string {
  let out = '';
  const group = (ref: string): string => {
    if (/^\d+$/.test(ref)) {
      const n = Number(ref);
      if (n >= m.length) throw new PyRegexError(`invalid group reference ${n}`);
      return m[n] ?? '';
    }
    if (!m.groups || !(ref in m.groups)) throw new PyRegexError(`unknown group name '${ref}'`);
    return m.groups[ref] ?? '';
  };
  const esc: Record<string, string> = { n: '\n', t: '\t', r: '\r', f: '\f', v: '\v', a: '\x07', b: '\b', '\\': '\\' };
  for (let i = 0; i < tpl.length; i++) {
    const c = tpl[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = tpl[i + 1];
    if (n === undefined) throw new PyRegexError('bad escape (end of pattern)');
    if (/\d/.test(n)) {
      const d = /^\d{1,2}/.exec(tpl.slice(i + 1))![0];
      out += group(d);
      i += d.length;
    } else if (n === 'g') {
      const g = /^g<([^>]*)>/.exec(tpl.slice(i + 1));
      if (!g) throw new PyRegexError('missing group name after \\g');
      out += group(g[1]!);
      i += g[0].length;
    } else if (n in esc) {
      out += esc[n];
      i += 1;
    } else if (/[A-Za-z]/.test(n)) {
      throw new PyRegexError(`bad escape \\${n}`);
    } else {
      out += '\\' + n;
      i += 1;
    }
  }
  return out;
}

/** re.sub(pattern, repl, s, count): Python's replacement template expanded for each match; count 0 = all. */
export function pySub(re: RegExp, repl: string, s: string, count = 0): string {
  const g = re.flags.includes('g') ? re : new RegExp(re.source, re.flags + 'g');
  let n = 0;
  return s.replace(g, (...args: unknown[]) => {
    if (count > 0 && n >= count) return args[0] as string;
    n++;
    return pyExpand(repl, matchFromReplaceArgs(args));
  });
}

/** The arguments String.prototype.replace passes to a replacer, as a PyMatch. */
export function matchFromReplaceArgs(args: unknown[]): PyMatch {
  const hasGroups = typeof args[args.length - 1] === 'object' && args[args.length - 1] !== null;
  const nCaps = args.length - (hasGroups ? 3 : 2);
  const m = args.slice(0, nCaps) as (string | undefined)[];
  return Object.assign(m, { groups: hasGroups ? (args[args.length - 1] as Record<string, string | undefined>) : undefined });
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

/** Ansible's BOOLEANS_TRUE / BOOLEANS_FALSE (module_utils/parsing/convert_bool.py): strings lower-cased and stripped. */
export const BOOLEANS_TRUE: ReadonlySet<unknown> = new Set<unknown>(['y', 'yes', 'on', '1', 'true', 't', 1, true]);
export const BOOLEANS_FALSE: ReadonlySet<unknown> = new Set<unknown>(['n', 'no', 'off', '0', 'false', 'f', 0, false]);

/**
 * Ansible's boolean() (convert_bool): the words above in any case and surrounding blanks, the numbers 1 and 0,
 * booleans; undefined for anything else (a strict caller words its own error, a lenient one picks its default).
 * Used for module and role arguments, connection variables, ansible.cfg, play keywords and `is truthy(convert_bool=true)`.
 */
export function ansibleBoolean(v: unknown): boolean | undefined {
  const k = typeof v === 'string' ? v.trim().toLowerCase() : v;
  if (BOOLEANS_TRUE.has(k)) return true;
  if (BOOLEANS_FALSE.has(k)) return false;
  return undefined;
}

/**
 * The `bool` filter (Ansible's to_bool): yes/on/1/true (and y, as runbook always took it) are true, anything else
 * false. Deliberately not ansibleBoolean: the filter never fails and says false to `t`, as Ansible's does.
 */
export function pyBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (v === null || v === undefined) return false;
  const s = typeof v === 'string' ? v.toLowerCase().trim() : v;
  return s === 'yes' || s === 'on' || s === '1' || s === 'true' || s === 1 || s === 'y';
}

/** A filter argument given by keyword or by position, as a Python call would bind it. */
export const kwOr = (args: unknown[], kw: Kw, i: number, name: string, dflt?: unknown): unknown =>
  name in kw ? kw[name] : i < args.length ? args[i] : dflt;
