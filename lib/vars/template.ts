/**
 * The one place strings are rendered: Ansible-style Jinja templating on top of minijinja-js (WASM MiniJinja).
 *
 * MiniJinja is close to Jinja2, but not close enough for Ansible on its own. Before a template is compiled
 * this module rewrites it (text in, text out, same line numbers) so that:
 *  - every variable path (`foo`, `foo.bar`, `foo['x'][0]`) is guarded; a missing one calls the `__U` global
 *    with the name of the first missing prefix → TemplateError('undefined_variable', variable: 'foo.bar').
 *    Paths tested with `is ...` or piped into `default`/`d` get a chain-safe guard instead, so
 *    `foo.bar is defined` / `foo.bar | default(1)` work when `foo` itself is undefined (as in Ansible).
 *  - `{{ expr }}` prints like Ansible: True/False, lists/dicts as Python repr, a top-level None as ''.
 *  - `'fmt' % args` does Python %-formatting; `d.get(k, default)` works; `default(x, boolean=true)` works.
 * Filters/tests/lookups written in JS never throw into the engine (that corrupts the WASM instance); errors
 * are recorded and raised after the render returns.
 */
import { Environment } from 'minijinja-js';
import { FILTERS, LOOKUPS, LookupUndefined, TESTS, pyRepr, pyStr, pyTruthy, type Kw } from './filters.js';
import { finalNames, isFinalObject, setFinalNames } from './final.js';
import { addSecret, containsSecret, hasSecrets, markSecret, MIN_DERIVED } from './secret-values.js';

export class TemplateError extends Error {
  code: 'undefined_variable' | 'template_syntax' | 'template_error';
  variable?: string;
  line?: number;
  constructor(code: TemplateError['code'], message: string, opts: { variable?: string; line?: number } = {}) {
    super(message);
    this.name = 'TemplateError';
    this.code = code;
    if (opts.variable !== undefined) this.variable = opts.variable;
    if (opts.line !== undefined) this.line = opts.line;
  }
}

/** Placeholder returned for `omit`; callers drop module args whose rendered value is exactly this string. */
export const OMIT = '__omit_place_holder__' + '9f3c2b7e1d4a6058c1e2f3a4b5c6d7e8f9a0b1c2';

export interface RenderOptions { trimBlocks?: boolean; lstripBlocks?: boolean; keepTrailingNewline?: boolean }

export interface Templar {
  /** Render an Ansible value: strings containing {{ }} / {% %} are rendered; a string that is exactly one "{{ expr }}" returns the NATIVE value (list, dict, number, bool), like Ansible; lists/objects are rendered recursively; other values pass through. */
  render(value: unknown, vars: Record<string, unknown>): unknown;
  /** Always a string (template module files). Defaults match Ansible's template module: trimBlocks on, lstripBlocks off, trailing newline kept. */
  renderString(tpl: string, vars: Record<string, unknown>, opts?: RenderOptions): string;
  /** Evaluate a bare Jinja expression (`when:`, `changed_when:`, `failed_when:`, `that:`); tolerates `{{ }}` around it; returns the native value. */
  evaluate(expr: string, vars: Record<string, unknown>): unknown;
  /** Python truthiness of evaluate(expr); a bare boolean passes through. */
  evaluateBool(expr: string | boolean, vars: Record<string, unknown>): boolean;
  /** Contains {{ or {%. */
  isTemplated(s: unknown): boolean;
}

// ============================================================== expression rewriting

interface Tok { t: 'str' | 'num' | 'id' | 'op' | 'ws'; v: string }

const MULTI_OPS = ['**', '//', '==', '!=', '<=', '>='];

function tokenize(s: string): Tok[] | null {
  const toks: Tok[] = [];
  let i = 0;
  let lastSig: Tok | undefined;
  while (i < s.length) {
    const c = s[i];
    let tok: Tok;
    if (/\s/.test(c)) {
      let j = i + 1;
      while (j < s.length && /\s/.test(s[j])) j++;
      toks.push({ t: 'ws', v: s.slice(i, j) });
      i = j;
      continue;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < s.length && s[j] !== c) j += s[j] === '\\' ? 2 : 1;
      if (j >= s.length) return null;
      tok = { t: 'str', v: s.slice(i, j + 1) };
    } else if (/[A-Za-z_]/.test(c)) {
      tok = { t: 'id', v: /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i))![0] };
    } else if (/[0-9]/.test(c)) {
      const re = lastSig?.v === '.' ? /^\d+/ : /^\d[\d_]*(\.\d[\d_]*)?([eE][+-]?\d+)?/;
      tok = { t: 'num', v: re.exec(s.slice(i))![0] };
    } else {
      const two = s.slice(i, i + 2);
      tok = { t: 'op', v: MULTI_OPS.includes(two) ? two : c };
    }
    toks.push(tok);
    lastSig = tok;
    i += tok.v.length;
  }
  return toks;
}

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'if', 'else', 'true', 'false', 'none', 'True', 'False', 'None', 'recursive']);
const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

class Rewriter {
  match: number[] = [];
  roots = new Set<string>();
  constructor(private toks: Tok[]) {
    const stack: number[] = [];
    for (let i = 0; i < toks.length; i++) {
      const v = toks[i].t === 'op' ? toks[i].v : '';
      if (v in OPEN) stack.push(i);
      else if (v === ')' || v === ']' || v === '}') {
        const o = stack.pop();
        if (o === undefined || OPEN[toks[o].v] !== v) throw new Error('unbalanced');
        this.match[o] = i;
        this.match[i] = o;
      }
    }
    if (stack.length) throw new Error('unbalanced');
  }
  next(i: number, end: number): number {
    while (i < end && this.toks[i].t === 'ws') i++;
    return i;
  }
  prev(i: number, start: number): number {
    i--;
    while (i >= start && this.toks[i].t === 'ws') i--;
    return i;
  }
  v(i: number): string | undefined {
    return this.toks[i]?.v;
  }

  rw(start: number, end: number): string {
    const toks = this.toks;
    let out = '';
    let i = start;
    while (i < end) {
      const tok = toks[i];
      if (tok.t === 'ws' || tok.t === 'num') { out += tok.v; i++; continue; }
      if (tok.t === 'op') {
        if (tok.v in OPEN) { out += tok.v + this.rw(i + 1, this.match[i]) + toks[this.match[i]].v; i = this.match[i] + 1; continue; }
        out += tok.v; i++; continue;
      }
      const p = this.prev(i, start);
      const pv = p >= start ? toks[p].v : undefined;
      if (tok.t === 'str') {
        // Python %-formatting: 'fmt' % operand
        const n = this.next(i + 1, end);
        if (this.v(n) === '%' && pv !== '.' && pv !== '|') {
          const k = this.next(n + 1, end);
          const opEnd = this.operandEnd(k, end);
          if (opEnd > k) {
            const isTuple = this.v(k) === '(' && this.match[k] === this.prev(opEnd, k) + 0 && this.hasTopComma(k + 1, this.match[k]);
            out += `(${fixStr(tok.v)} | __pyfmt(${this.rw(k, opEnd)}, ${isTuple}))`;
            i = opEnd;
            continue;
          }
        }
        out += fixStr(tok.v); i++; continue;
      }
      // identifier
      const ppv = pv === 'not' ? this.v(this.prev(p, start)) : undefined;
      const n = this.next(i + 1, end);
      const nv = this.v(n);
      if (pv === '|' && tok.v === 'd' && nv !== '.') { out += 'default'; i++; continue; }
      if (KEYWORDS.has(tok.v) || pv === '.' || pv === '|' || pv === 'is' || ppv === 'is' || (nv === '(' && n < end)) { out += tok.v; i++; continue; }
      if (nv === '=' && n < end) {
        if (tok.v === 'boolean') { i = n + 1; continue; } // default(x, boolean=true) → default(x, true)
        out += tok.v; i++; continue;
      }
      i = this.path(i, start, end, (s) => (out += s));
    }
    return out;
  }

  /** Consume a variable path at i and emit its guarded form. Returns the index after the path. */
  private path(i: number, start: number, end: number, emit: (s: string) => void): number {
    const toks = this.toks;
    const root = toks[i].v;
    this.roots.add(root);
    const texts = [root]; // texts[k] = source of prefix k
    const names: string[] = [JSON.stringify(root)]; // jinja expression producing the display name of prefix k
    let j = i + 1;
    let method: { name: string; open: number } | undefined;
    for (;;) {
      const n = this.next(j, end);
      const nv = n < end ? this.v(n) : undefined;
      if (nv === '.') {
        const m = this.next(n + 1, end);
        const mt = toks[m];
        if (m >= end || (mt.t !== 'id' && mt.t !== 'num')) break;
        const after = this.next(m + 1, end);
        if (mt.t === 'id' && this.v(after) === '(' && after < end) {
          if (mt.v === 'get') method = { name: 'get', open: after };
          break;
        }
        texts.push(texts[texts.length - 1] + '.' + mt.v);
        const prevName = names[names.length - 1];
        // a static name so far ("a.b") grows as a literal; after a dynamic key it is an expression (a[k] ~ ".b")
        names.push(prevName.startsWith('"') ? JSON.stringify(JSON.parse(prevName) + '.' + mt.v) : `(${prevName} ~ ${JSON.stringify('.' + mt.v)})`);
        j = m + 1;
        continue;
      }
      if (nv === '[') {
        const close = this.match[n];
        const inner = toks.slice(n + 1, close).filter((t) => t.t !== 'ws');
        if (inner.length === 0 || inner.some((t) => t.v === ':')) break; // slice: not part of the path
        const prevName = names[names.length - 1];
        const staticName = prevName.startsWith('"') ? (JSON.parse(prevName) as string) : undefined;
        if (inner.length === 1 && (inner[0].t === 'str' || inner[0].t === 'num') && staticName !== undefined) {
          const raw = inner[0].t === 'str' ? unquote(inner[0].v) : inner[0].v;
          const display = inner[0].t === 'num' ? `${staticName}[${raw}]` : /^[A-Za-z_]\w*$/.test(raw) ? `${staticName}.${raw}` : `${staticName}[${pyRepr(raw)}]`;
          texts.push(texts[texts.length - 1] + '[' + (inner[0].t === 'str' ? fixStr(inner[0].v) : inner[0].v) + ']');
          names.push(JSON.stringify(display));
        } else {
          const key = this.rw(n + 1, close);
          texts.push(texts[texts.length - 1] + '[' + key + ']');
          names.push(`(${prevName} ~ "[" ~ (${key}) ~ "]")`);
        }
        j = close + 1;
        continue;
      }
      break;
    }
    const full = texts[texts.length - 1];
    const after = this.next(j, end);
    const av = after < end ? this.v(after) : undefined;
    const guarded = av === 'is' || (av === '|' && ['default', 'd'].includes(this.v(this.next(after + 1, end)) ?? ''));
    let expr: string;
    if (guarded) {
      expr = texts.length === 1 ? full : `(${full} if (${texts.slice(0, -1).map((t) => `${t} is defined`).join(' and ')}) else __nx__)`;
    } else {
      let ladder = names[names.length - 1];
      for (let k = texts.length - 2; k >= 0; k--) ladder = `${names[k]} if ${texts[k]} is not defined else ${ladder}`;
      expr = `(${full} if (${texts.map((t) => `${t} is defined`).join(' and ')}) else __U(${ladder}))`;
    }
    if (method) {
      const close = this.match[method.open];
      const args = this.rw(method.open + 1, close);
      emit(`__get(${expr}, ${args})`);
      return close + 1;
    }
    emit(expr);
    return j;
  }

  /** End index of the right operand of `%` (a primary with its postfix chain), or start when unsupported. */
  private operandEnd(k: number, end: number): number {
    const toks = this.toks;
    let j = k;
    if (j >= end) return k;
    if (this.v(j) === '-') j = this.next(j + 1, end);
    const t = toks[j];
    if (!t) return k;
    if (t.t === 'op' && t.v in OPEN) j = this.match[j] + 1;
    else if (t.t === 'str' || t.t === 'num' || (t.t === 'id' && !KEYWORDS.has(t.v)) || ['true', 'false', 'none', 'True', 'False', 'None'].includes(t.v)) j++;
    else return k;
    for (;;) {
      const n = this.next(j, end);
      const nv = n < end ? this.v(n) : undefined;
      if (nv === '.') { j = this.next(n + 1, end) + 1; continue; }
      if (nv === '[' || nv === '(') { j = this.match[n] + 1; continue; }
      if (nv === '|') {
        j = this.next(n + 1, end) + 1;
        const p = this.next(j, end);
        if (this.v(p) === '(' && p < end) j = this.match[p] + 1;
        continue;
      }
      return j;
    }
  }

  private hasTopComma(start: number, end: number): boolean {
    for (let i = start; i < end; i++) {
      const v = this.toks[i].t === 'op' ? this.toks[i].v : '';
      if (v in OPEN) i = this.match[i];
      else if (v === ',') return true;
    }
    return false;
  }
}

/**
 * Jinja2 string literals follow Python: unknown escapes such as `\.` or `\d` keep their backslash (regexes rely on
 * it). MiniJinja rejects them ("bad string escape"), so double those backslashes; translate \x, \a, \v, octal.
 */
function fixStr(lit: string): string {
  if (!lit.includes('\\')) return lit;
  const q = lit[0];
  const body = lit.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/gs, (m, e: string) => {
    if (/^x[0-9a-fA-F]{2}$/.test(e)) return '\\u00' + e.slice(1);
    if (/^[0-7]{1,3}$/.test(e)) return '\\u' + parseInt(e, 8).toString(16).padStart(4, '0');
    if (e === 'a') return '\\u0007';
    if (e === 'v') return '\\u000b';
    if ('ntr\\"\'bfu'.includes(e)) return m;
    return '\\\\' + e;
  });
  return q + body + q;
}

function unquote(s: string): string {
  const body = s.slice(1, -1);
  return body.replace(/\\(.)/g, (_m, c: string) => ({ n: '\n', t: '\t', r: '\r' })[c] ?? c);
}

/** Rewrite one expression; null when it can't be tokenized (leave it to the engine's error). */
function rewriteExpr(src: string, roots: Set<string>): string | null {
  const toks = tokenize(src);
  if (!toks) return null;
  try {
    const r = new Rewriter(toks);
    const out = r.rw(0, toks.length);
    for (const x of r.roots) roots.add(x);
    return out;
  } catch {
    return null;
  }
}

// ============================================================== template scanning

interface Scanned {
  out: string;
  roots: Set<string> | null;
  includes: string[];
  /** with `track`: the variables each printed expression N reads (its `__o(N)` call), and what template-local names ({% set %}, {% for %}) are made from */
  exprRoots?: string[][];
  locals?: Map<string, string[]>;
}

/** Find the end of a `{{`/`{%` tag starting at p (index of the closer), honouring strings and brackets. */
function tagEnd(src: string, p: number, closer: '}}' | '%}'): number {
  let depth = 0;
  for (let q = p + 2; q < src.length; q++) {
    const c = src[q];
    if (c === '"' || c === "'") {
      q++;
      while (q < src.length && src[q] !== c) q += src[q] === '\\' ? 2 : 1;
      continue;
    }
    if (depth === 0 && c === closer[0] && src[q + 1] === '}') return q;
    if (c === '(' || c === '[' || c === '{') depth++;
    else if ((c === ')' || c === ']' || c === '}') && depth > 0) depth--;
  }
  return -1;
}

const REWRITE_TAGS = new Set(['if', 'elif', 'for', 'set', 'with', 'call']);
const INCLUDE_TAGS = new Set(['include', 'import', 'from', 'extends']);

/**
 * Rewrite a template for the engine (see the top of this file). With `track`, every printed expression also calls
 * `__o(N)` with its value, so the templar can tell which printed pieces were derived from a secret.
 */
function scanTemplate(src: string, track = false): Scanned {
  const roots = new Set<string>();
  const exprRoots: string[][] = [];
  const locals = new Map<string, string[]>();
  const includes: string[] = [];
  let dynamic = false;
  let out = '';
  let i = 0;
  for (;;) {
    let p = src.indexOf('{', i);
    while (p !== -1 && !'{%#'.includes(src[p + 1] ?? 'x')) p = src.indexOf('{', p + 1);
    if (p === -1) { out += src.slice(i); break; }
    out += src.slice(i, p);
    const kind = src[p + 1];
    if (kind === '#') {
      const e = src.indexOf('#}', p + 2);
      if (e === -1) { out += src.slice(p); break; }
      out += src.slice(p, e + 2);
      i = e + 2;
      continue;
    }
    const e = tagEnd(src, p, kind === '{' ? '}}' : '%}');
    if (e === -1) { out += src.slice(p); break; }
    let body = src.slice(p + 2, e);
    let lead = '';
    let trail = '';
    if (body[0] === '-' || body[0] === '+') { lead = body[0]; body = body.slice(1); }
    if (body.endsWith('-') || body.endsWith('+')) { trail = body[body.length - 1]; body = body.slice(0, -1); }
    if (kind === '{') {
      const own = new Set<string>();
      const ex = rewriteExpr(body, own);
      for (const r of own) roots.add(r);
      if (ex === null) {
        // left to the engine as written: which variables it reads is unknown, so the context is not pruned
        dynamic = true;
        out += src.slice(p, e + 2);
      }
      else if (!track) {
        // set first so numbers/strings print natively (floats keep their .0); the rest goes through Python repr
        out += `{%${lead === '-' ? '-' : '+'} set __v = (${ex}) %}{{ __v if __v is string or __v is number or __v is undefined else __v | __py ${trail}}}`;
      } else {
        exprRoots.push([...own]);
        out += `{%${lead === '-' ? '-' : '+'} set __v = (${ex}) %}{{ __v if __v is string or __v is number or __v is undefined else __v | __py }}{{ __v | __o(${exprRoots.length - 1}) ${trail}}}`;
      }
      i = e + 2;
      continue;
    }
    // {% tag %}
    const kw = /^\s*([A-Za-z_]\w*)/.exec(body)?.[1] ?? '';
    if (kw === 'raw') {
      const m = /\{%[-+]?\s*endraw\s*[-+]?%\}/.exec(src.slice(e + 2));
      if (!m) { out += src.slice(p); break; }
      const stop = e + 2 + m.index + m[0].length;
      out += src.slice(p, stop);
      i = stop;
      continue;
    }
    let newBody: string | null = body;
    const allIds = tokenize(body);
    if (allIds) for (const t of allIds) if (t.t === 'id') roots.add(t.v);
    if (INCLUDE_TAGS.has(kw)) {
      for (const m of body.matchAll(/(["'])((?:\\.|(?!\1).)*)\1/g)) includes.push(m[2]);
      dynamic = true; // included templates see the whole context: never prune it
    } else if (REWRITE_TAGS.has(kw)) {
      const kwEnd = body.indexOf(kw) + kw.length;
      const head = body.slice(0, kwEnd);
      const rest = body.slice(kwEnd);
      if (kw === 'for' || kw === 'set') {
        // only the expression part: after the top-level ` in ` (for) or the first `=` (set)
        const toks = tokenize(rest);
        let split = -1;
        if (toks) {
          let depth = 0;
          let pos = 0;
          for (const t of toks) {
            if (t.t === 'op' && t.v in OPEN) depth++;
            else if (t.t === 'op' && ')]}'.includes(t.v)) depth--;
            else if (depth === 0 && ((kw === 'for' && t.t === 'id' && t.v === 'in') || (kw === 'set' && t.t === 'op' && t.v === '='))) { split = pos + t.v.length; break; }
            pos += t.v.length;
          }
        }
        if (split === -1) newBody = body;
        else {
          const own = new Set<string>();
          const ex = rewriteExpr(rest.slice(split), own);
          for (const r of own) roots.add(r);
          // the names this tag makes: `for a, b in ...` / `set x = ...`
          const targets = rest.slice(0, kw === 'for' ? split - 2 : split - 1).match(/[A-Za-z_]\w*/g) ?? [];
          for (const t of targets) locals.set(t, [...own]);
          newBody = ex === null ? null : head + rest.slice(0, split) + ex;
        }
      } else {
        const ex = rewriteExpr(rest, roots);
        newBody = ex === null ? null : head + ex;
      }
    }
    if (newBody === null) dynamic = true; // as written: the variables it reads are unknown, keep the whole context
    out += newBody === null ? src.slice(p, e + 2) : `{%${lead}${newBody}${trail}%}`;
    i = e + 2;
  }
  return { out, roots: dynamic ? null : roots, includes, ...(track ? { exprRoots, locals } : {}) };
}

/** If the whole string is exactly one `{{ expr }}`, return expr. */
function singleExpression(s: string): string | null {
  if (!s.startsWith('{{') || !s.endsWith('}}')) return null;
  const e = tagEnd(s, 0, '}}');
  if (e !== s.length - 2) return null;
  let body = s.slice(2, e);
  if (body[0] === '-' || body[0] === '+') body = body.slice(1);
  if (body.endsWith('-') || body.endsWith('+')) body = body.slice(0, -1);
  return body;
}

// ============================================================== the templar

/** WASM values → plain JS: Maps become objects, undefined (MiniJinja's None) becomes null. */
function toJS(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) o[String(k)] = toJS(x);
    return o;
  }
  if (Array.isArray(v)) return v.map(toJS);
  return v;
}

function splitKwargs(raw: unknown[], names: readonly string[] | undefined, forceLastMap = false): [unknown[], Kw] {
  const last = raw[raw.length - 1];
  if (last instanceof Map && last.size > 0 && (forceLastMap || (names && [...last.keys()].every((k) => names.includes(String(k)))))) {
    return [raw.slice(0, -1).map(toJS), toJS(last) as Kw];
  }
  return [raw.map(toJS), {}];
}

interface Compiled {
  name: string;
  roots: string[] | null;
  source: string;
  isExpr: boolean;
  /** the same template with every printed expression reporting its value (compiled when a render reads a secret) */
  tracked?: { name: string; exprRoots: string[][]; locals: Map<string, string[]> };
}

const CACHE_LIMIT = 4000;

class MiniJinjaTemplar implements Templar {
  private env = new Environment();
  private cache = new Map<string, Compiled>();
  private registeredIncludes = new Set<string>();
  private counter = 0;
  private envOpts = '';
  // per-render state (renders are synchronous and never nested)
  private pendingUndef: string | undefined;
  private pendingError: unknown;
  private captured: unknown;
  private curVars: Record<string, unknown> = {};
  /** did the last render read a secret (secret-values.ts)? Then what it produced is a secret too */
  private lastSecret = false;
  /** during a tracked render: which printed expressions come from secrets, and what they printed */
  private track: { exprRoots: string[][]; locals: Map<string, string[]>; vars: Record<string, unknown>; pieces: string[] } | undefined;

  constructor(private templateSearch?: (name: string) => string | undefined) {
    const env = this.env;
    env.undefinedBehavior = 'strict';
    env.enablePyCompat();
    env.debug = false;
    this.applyOpts({});
    const guard = <T>(f: () => T, fallback: T, what?: string): T => {
      try {
        return f();
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        if (this.pendingError === undefined && this.pendingUndef === undefined) this.pendingError = new Error(what ? `${what}: ${msg}` : msg);
        return fallback;
      }
    };
    for (const [name, spec] of Object.entries(FILTERS)) {
      env.addFilter(name, (value: unknown, ...raw: unknown[]) =>
        guard(() => {
          const [args, kw] = splitKwargs(raw, spec.kwargs);
          return spec.fn(toJS(value), args, kw) ?? null;
        }, null, `filter '${name}'`),
      );
    }
    for (const [name, spec] of Object.entries(TESTS)) {
      env.addTest(name, (value: unknown, ...raw: unknown[]) =>
        guard(() => {
          const [args, kw] = splitKwargs(raw, spec.kwargs);
          return spec.fn(toJS(value), args, kw) === true;
        }, false, `test '${name}'`),
      );
    }
    env.addFilter('__py', (v: unknown) => guard(() => (v === undefined || v === null ? '' : pyStr(toJS(v))), ''));
    env.addFilter('__cap', (v: unknown) => guard(() => ((this.captured = toJS(v)), ''), ''));
    env.addFilter('__o', (v: unknown, n: unknown) =>
      guard(() => {
        const t = this.track;
        if (t && this.pieceFromSecret(t, Number(n))) {
          const x = toJS(v);
          t.pieces.push(typeof x === 'string' ? x : typeof x === 'number' ? String(x) : pyStr(x));
        }
        return '';
      }, ''),
    );
    env.addGlobal('__U', (name: unknown) => {
      if (this.pendingUndef === undefined) this.pendingUndef = String(name);
      return null;
    });
    env.addGlobal('__get', (obj: unknown, key: unknown, dflt: unknown) =>
      guard(() => {
        const o = toJS(obj);
        const k = toJS(key);
        if (o && typeof o === 'object' && !Array.isArray(o) && Object.prototype.hasOwnProperty.call(o, String(k))) return (o as Kw)[String(k)] ?? null;
        if (Array.isArray(o) && typeof k === 'number' && k < o.length) return o[k] ?? null;
        return dflt === undefined ? null : toJS(dflt);
      }, null),
    );
    env.addGlobal('omit', OMIT);
    const lookup = (wantlist: boolean) => (plugin: unknown, ...raw: unknown[]) =>
      guard(() => {
        const [terms, kw] = splitKwargs(raw, undefined, true);
        const fn = LOOKUPS[String(plugin)];
        if (!fn) throw new Error(`lookup plugin '${String(plugin)}' not found`);
        let res: unknown[];
        try {
          res = fn(terms.flatMap((t) => (Array.isArray(t) && String(plugin) !== 'items' ? t : [t])), kw, this.curVars);
        } catch (e) {
          if (e instanceof LookupUndefined) {
            if (this.pendingUndef === undefined) this.pendingUndef = e.variable;
            return null;
          }
          if (String(kw.errors) === 'ignore') return wantlist || pyTruthy(kw.wantlist) ? [] : null;
          throw new Error(`lookup('${String(plugin)}'): ${e instanceof Error ? e.message : String(e)}`);
        }
        if (wantlist || pyTruthy(kw.wantlist)) return res;
        return res.length === 1 ? res[0] : res.map(pyStr).join(',');
      }, null);
    env.addGlobal('lookup', lookup(false));
    env.addGlobal('query', lookup(true));
    env.addGlobal('q', lookup(true));
  }

  private applyOpts(o: RenderOptions): string {
    const t = o.trimBlocks ?? true, l = o.lstripBlocks ?? false, k = o.keepTrailingNewline ?? true;
    const key = `${+t}${+l}${+k}`;
    if (key !== this.envOpts) {
      this.env.trimBlocks = t;
      this.env.lstripBlocks = l;
      this.env.keepTrailingNewline = k;
      this.envOpts = key;
    }
    return key;
  }

  private compile(cacheKey: string, source: string, isExpr: boolean): Compiled {
    const hit = this.cache.get(cacheKey);
    if (hit) {
      // refresh LRU position cheaply only on occasional hits is not needed; Map order = insertion
      return hit;
    }
    if (this.cache.size >= CACHE_LIMIT) {
      this.env.clearTemplates();
      this.cache.clear();
      this.registeredIncludes.clear();
    }
    let scanned: Scanned;
    if (isExpr) {
      const roots = new Set<string>();
      const ex = rewriteExpr(source, roots);
      scanned = { out: `{{ (${ex ?? source}) | __cap }}`, roots, includes: [] };
      // the raw identifiers too (for ctx pruning), in case rewriting failed
      for (const t of tokenize(source) ?? []) if (t.t === 'id') roots.add(t.v);
    } else {
      scanned = scanTemplate(source);
      this.registerIncludes(scanned.includes);
    }
    const name = `__t${++this.counter}`;
    try {
      this.env.addTemplate(name, scanned.out);
    } catch (e) {
      // Our rewrite must never turn a valid template into an invalid one: fall back to the original text.
      const original = isExpr ? `{{ (${source}) | __cap }}` : source;
      try {
        this.env.addTemplate(name, original);
        scanned = { ...scanned, roots: null };
      } catch (e2) {
        throw convertError(e2);
      }
      void e;
    }
    const compiled: Compiled = { name, roots: scanned.roots ? [...scanned.roots] : null, source, isExpr };
    this.cache.set(cacheKey, compiled);
    return compiled;
  }

  private registerIncludes(names: string[]): void {
    if (!this.templateSearch) return;
    for (const n of names) {
      if (this.registeredIncludes.has(n)) continue;
      this.registeredIncludes.add(n);
      const src = this.templateSearch(n);
      if (src === undefined) continue;
      const s = scanTemplate(src);
      try {
        this.env.addTemplate(n, s.out);
      } catch {
        try { this.env.addTemplate(n, src); } catch (e) { throw convertError(e, n); }
      }
      this.registerIncludes(s.includes);
    }
  }

  /** Does printed expression n of a tracked render read a secret (directly, or through a {% set %}/{% for %} name)? */
  private pieceFromSecret(t: NonNullable<MiniJinjaTemplar['track']>, n: number): boolean {
    const seen = new Set<string>();
    const fromSecret = (name: string): boolean => {
      if (seen.has(name)) return false;
      seen.add(name);
      if (Object.prototype.hasOwnProperty.call(t.vars, name)) return containsSecret(t.vars[name]);
      return (t.locals.get(name) ?? []).some(fromSecret);
    };
    return (t.exprRoots[n] ?? []).some(fromSecret);
  }

  /** The tracked twin of a compiled template (see scanTemplate's `track`). */
  private trackedOf(c: Compiled): NonNullable<Compiled['tracked']> {
    if (c.tracked) return c.tracked;
    const scanned = scanTemplate(c.source, true);
    const name = `__t${++this.counter}`;
    this.env.addTemplate(name, scanned.out);
    c.tracked = { name, exprRoots: scanned.exprRoots ?? [], locals: scanned.locals ?? new Map() };
    return c.tracked;
  }

  private run(c: Compiled, vars: Record<string, unknown>): string {
    // a render that reads a secret makes secrets: the whole value of an expression, or each printed piece of a
    // template that came from one (never by searching the output for the secret's text)
    this.lastSecret = hasSecrets() && (c.roots ? c.roots.some((r) => Object.prototype.hasOwnProperty.call(vars, r) && containsSecret(vars[r])) : Object.values(vars).some((v) => containsSecret(v)));
    let name = c.name;
    if (this.lastSecret && !c.isExpr && c.roots) {
      try {
        const t = this.trackedOf(c);
        name = t.name;
        this.track = { exprRoots: t.exprRoots, locals: t.locals, vars, pieces: [] };
      } catch {
        this.track = undefined; // the plain template still renders; its whole output is marked below
      }
    }
    try {
      const out = this.renderCompiled(c, name, vars);
      if (this.lastSecret && !c.isExpr) {
        if (this.track) for (const p of this.track.pieces) addSecret(p, MIN_DERIVED);
        else addSecret(out, MIN_DERIVED);
      }
      return out;
    } finally {
      this.track = undefined;
    }
  }

  private renderCompiled(c: Compiled, templateName: string, vars: Record<string, unknown>): string {
    let ctx: Record<string, unknown> = vars;
    if (c.roots) {
      ctx = {};
      for (const r of c.roots) if (Object.prototype.hasOwnProperty.call(vars, r)) ctx[r] = vars[r];
    }
    this.pendingUndef = undefined;
    this.pendingError = undefined;
    this.curVars = vars;
    let out = '';
    let err: unknown;
    try {
      out = this.env.renderTemplate(templateName, ctx);
    } catch (e) {
      err = e;
    } finally {
      this.curVars = {};
    }
    if (this.pendingUndef !== undefined) {
      const v = this.pendingUndef;
      this.pendingUndef = undefined;
      throw new TemplateError('undefined_variable', `'${v}' is undefined`, { variable: v });
    }
    if (this.pendingError !== undefined) {
      const e = this.pendingError;
      this.pendingError = undefined;
      throw new TemplateError('template_error', e instanceof Error ? e.message : String(e));
    }
    if (err !== undefined) throw convertError(err);
    return out;
  }

  renderString(tpl: string, vars: Record<string, unknown>, opts: RenderOptions = {}): string {
    const key = this.applyOpts(opts);
    if (!this.isTemplated(tpl) && !tpl.includes('{#')) {
      if (!(opts.keepTrailingNewline ?? true) && tpl.endsWith('\n')) return tpl.slice(0, tpl.endsWith('\r\n') ? -2 : -1);
      return tpl;
    }
    return this.run(this.compile(key + '\0' + tpl, tpl, false), vars);
  }

  evaluate(expr: string, vars: Record<string, unknown>): unknown {
    const single = singleExpression(expr.trim());
    const src = single ?? expr;
    const c = this.compile('E\0' + src, src, true);
    this.captured = null;
    this.run(c, vars);
    const v = this.captured;
    this.captured = null;
    // a value computed from a secret is one (a container's own leaves that are secrets are known already)
    if (this.lastSecret && (typeof v === 'string' || typeof v === 'number')) markSecret(v, MIN_DERIVED);
    return v;
  }

  evaluateBool(expr: string | boolean, vars: Record<string, unknown>): boolean {
    if (typeof expr === 'boolean') return expr;
    if (typeof expr !== 'string') return pyTruthy(expr);
    return pyTruthy(this.evaluate(expr, vars));
  }

  render(value: unknown, vars: Record<string, unknown>): unknown {
    if (typeof value === 'string') {
      if (!this.isTemplated(value)) return value;
      const single = singleExpression(value);
      if (single !== null) return this.evaluate(single, vars);
      return this.renderString(value, vars);
    }
    // host data and rendered output are final: never rendered again (final.ts)
    if (isFinalObject(value)) return value;
    if (Array.isArray(value)) return value.map((x) => this.render(x, vars));
    if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      const out: Record<string, unknown> = {};
      const fin = finalNames(value);
      for (const [k, x] of Object.entries(value)) {
        if (fin?.has(k)) out[k] = x;
        else out[this.isTemplated(k) ? pyStr(this.render(k, vars)) : k] = this.render(x, vars);
      }
      return fin ? setFinalNames(out, fin) : out;
    }
    return value;
  }

  isTemplated(s: unknown): boolean {
    return typeof s === 'string' && (s.includes('{{') || s.includes('{%'));
  }
}

function convertError(e: unknown, templateName?: string): TemplateError {
  const raw = e instanceof Error ? e.message : String(e);
  const firstLine = raw.split('\n')[0];
  const loc = /\s*\(in ([^:)]*):(\d+)\)\s*$/.exec(firstLine);
  const line = loc ? Number(loc[2]) : undefined;
  let msg = loc ? firstLine.slice(0, loc.index) : firstLine;
  const where = line !== undefined ? ` (line ${line}${templateName || (loc && !loc[1].startsWith('__t')) ? ` of ${templateName ?? loc![1]}` : ''})` : '';
  if (/^syntax error/.test(msg)) return new TemplateError('template_syntax', `template syntax error: ${msg.replace(/^syntax error:\s*/, '')}${where}`, { line });
  if (/^undefined value/.test(msg)) return new TemplateError('undefined_variable', `undefined value${where}`, { line });
  msg = msg.replace(/__pyfmt|__py|__cap|__get|__U/g, 'template');
  return new TemplateError('template_error', `${msg}${where}`, { line });
}

export function createTemplar(opts: { templateSearch?: (name: string) => string | undefined } = {}): Templar {
  return new MiniJinjaTemplar(opts.templateSearch);
}
