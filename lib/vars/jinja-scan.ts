/** Template scanning: rewrite every tag of a template (jinja-rewrite.ts rewrites the expressions), same line numbers. */
import { OPEN, fixStr, macroNames, rewriteExpr, tagEnd, tokenize, type Tok } from './jinja-rewrite.js';

// ============================================================== template scanning

export interface Scanned {
  out: string;
  roots: Set<string> | null;
  includes: string[];
  /** with `track`: the variables each printed expression N reads (its `__o(N)` call), and what template-local names ({% set %}, {% for %}) are made from */
  exprRoots?: string[][];
  locals?: Map<string, string[]>;
}

const REWRITE_TAGS = new Set(['if', 'elif', 'for', 'set', 'with', 'call']);
const INCLUDE_TAGS = new Set(['include', 'import', 'from', 'extends']);

/**
 * Rewrite a template for the engine (see the top of this file). With `track`, every printed expression also calls
 * `__o(N)` with its value, so the templar can tell which printed pieces were derived from a secret.
 */
export function scanTemplate(src: string, track = false): Scanned {
  const roots = new Set<string>();
  // a bare name passed to one of the template's macros may be undefined, as in Jinja (willshersystems.sshd)
  const macros = macroNames(src);
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
      const ex = rewriteExpr(body, own, macros);
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
          const ex = rewriteExpr(rest.slice(split), own, macros);
          for (const r of own) roots.add(r);
          // the names this tag makes: `for a, b in ...` / `set x = ...`
          const targets = rest.slice(0, kw === 'for' ? split - 2 : split - 1).match(/[A-Za-z_]\w*/g) ?? [];
          for (const t of targets) locals.set(t, [...own]);
          // Jinja2's `set a, b = pair` (tuple unpacking without parentheses): the engine wants `set (a, b) = pair`
          const lhs = rest.slice(0, split);
          const fixed = kw === 'set' && /^[^(]*,/.test(lhs) ? ` (${lhs.slice(0, -1).trim()}) =` : lhs;
          newBody = ex === null ? null : head + fixed + ex;
        }
      } else {
        const ex = rewriteExpr(rest, roots, macros);
        newBody = ex === null ? null : head + ex;
      }
    }
    if (newBody === null) dynamic = true; // as written: the variables it reads are unknown, keep the whole context
    out += newBody === null ? src.slice(p, e + 2) : `{%${lead}${newBody}${trail}%}`;
    i = e + 2;
  }
  return { out, roots: dynamic ? null : roots, includes, ...(track ? { exprRoots, locals } : {}) };
}
