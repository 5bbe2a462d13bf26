/**
 * Ansible-style Jinja rewritten for MiniJinja (template.ts explains why): expressions are tokenized and every
 * variable path is guarded, `%`-formatting and `.get()` are mapped, and a whole template is scanned tag by tag (jinja-scan.ts).
 * Text in, text out, same line numbers. Pure functions; the templar compiles what comes out.
 */
import { pyRepr } from './python-compat.js';

// ============================================================== expression rewriting

export interface Tok { t: 'str' | 'num' | 'id' | 'op' | 'ws'; v: string }

const MULTI_OPS = ['**', '//', '==', '!=', '<=', '>='];

export function tokenize(s: string): Tok[] | null {
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
    // Jinja2 reads `item.0` as `item[0]` (an integer after a dot is a subscript); MiniJinja refuses it
    if (tok.t === 'num' && lastSig?.v === '.' && lastSig.t === 'op') {
      toks.splice(toks.lastIndexOf(lastSig), 1, { t: 'op', v: '[' });
      toks.push(tok, { t: 'op', v: ']' });
      lastSig = toks[toks.length - 1];
      i += tok.v.length;
      continue;
    }
    toks.push(tok);
    lastSig = tok;
    i += tok.v.length;
  }
  return toks;
}

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'if', 'else', 'true', 'false', 'none', 'True', 'False', 'None', 'recursive']);
export const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

class Rewriter {
  match: number[] = [];
  roots = new Set<string>();
  /** inside default(...)'s arguments: paths are chain-safe, never raising */
  lenient = 0;
  /** names of the template's own macros: their arguments may be undefined (a macro can test them with `is defined`) */
  constructor(private toks: Tok[], private lenientCalls: ReadonlySet<string> = NO_NAMES) {
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
        if (tok.v in OPEN) {
          // Ansible's default(): its arguments may be undefined (`x | default(undefined_var)` is x when x is defined)
          const fp = this.prev(i, start);
          const lenient = tok.v === '(' && ((['default', 'd'].includes(toks[fp]?.v ?? '') && this.v(this.prev(fp, start)) === '|') ||
            (toks[fp]?.t === 'id' && this.lenientCalls.has(toks[fp]!.v) && !['.', '|'].includes(this.v(this.prev(fp, start)) ?? '')));
          if (lenient) this.lenient++;
          out += tok.v + this.rw(i + 1, this.match[i]) + toks[this.match[i]].v;
          if (lenient) this.lenient--;
          i = this.match[i] + 1;
          continue;
        }
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
    const guarded = this.lenient > 0 || av === 'is' || (av === '|' && ['default', 'd'].includes(this.v(this.next(after + 1, end)) ?? ''));
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
export function fixStr(lit: string): string {
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
const NO_NAMES: ReadonlySet<string> = new Set();

/** The names of the macros a template defines (`{% macro NAME(...) %}`). */
export function macroNames(src: string): Set<string> {
  return new Set([...src.matchAll(/\{%[-+]?\s*macro\s+([A-Za-z_]\w*)\s*\(/g)].map((m) => m[1]!));
}

export function rewriteExpr(src: string, roots: Set<string>, lenientCalls: ReadonlySet<string> = NO_NAMES): string | null {
  const toks = tokenize(src);
  if (!toks) return null;
  try {
    const r = new Rewriter(toks, lenientCalls);
    const out = r.rw(0, toks.length);
    for (const x of r.roots) roots.add(x);
    return out;
  } catch {
    return null;
  }
}

/** Find the end of a `{{`/`{%` tag starting at p (index of the closer), honouring strings and brackets. */
export function tagEnd(src: string, p: number, closer: '}}' | '%}'): number {
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

/** If the whole string is exactly one `{{ expr }}`, return expr. */
export function singleExpression(s: string): string | null {
  if (!s.startsWith('{{') || !s.endsWith('}}')) return null;
  const e = tagEnd(s, 0, '}}');
  if (e !== s.length - 2) return null;
  let body = s.slice(2, e);
  if (body[0] === '-' || body[0] === '+') body = body.slice(1);
  if (body.endsWith('-') || body.endsWith('+')) body = body.slice(0, -1);
  return body;
}
