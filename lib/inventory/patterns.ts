/**
 * Ansible host patterns: `all`/`*`, group or host names, globs (`web*`, `*.example.com`), `~regex`, unions
 * (`a:b`, `a,b`), intersections (`a:&b`), exclusions (`a:!b`), subscripts (`g[0]`, `g[-1]`, `g[1:3]`, `g[2:]`).
 * As in Ansible, unions are applied first, then intersections, then exclusions, whatever their order in the text; a
 * pattern of only `&`/`!` terms starts from `all`. An atom is matched against group names first (a group gives all
 * hosts of it and its descendants) and against host names when no group matched or it is a glob/regex. A pattern
 * that matches nothing gives an empty list, a malformed one throws RunbookError('bad_pattern').
 *
 * Differences from Ansible: commas and colons can be mixed (`a,b:&c`), separators inside [], () or {} do not split
 * (so regexes like `~web{1,3}` work), an out-of-range subscript gives no hosts instead of an error, and the result is
 * in inventory order rather than in the order the terms were written.
 */
import { RunbookError } from '../errors.js';
import { isIPv6Literal } from './host-names.js';
import { editDistance } from '../edit-distance.js';

export type PatternOp = 'union' | 'intersection' | 'exclusion';

export interface PatternTerm {
  op: PatternOp;
  /** the atom without its `&`/`!` prefix and subscript, e.g. `web*`, `~db\d+` */
  expr: string;
  subscript?: { start: number; end?: number } | { index: number };
  /** the text of the term as written */
  text: string;
}

export interface PatternContext {
  /** all host names, inventory order */
  hostOrder: readonly string[];
  groupNames: readonly string[];
  /** hosts of a group and its descendants, inventory order */
  groupHosts(group: string): readonly string[];
  hasHost(name: string): boolean;
}

const SUBSCRIPT = /^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$/;

function bad(pattern: string, why: string): RunbookError {
  return new RunbookError('bad_pattern', `bad host pattern "${pattern}": ${why}`);
}

/** Split at top-level separators (not inside [], (), {}). Throws on unbalanced brackets. */
function splitTop(pattern: string, s: string, seps: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  const pairs: Record<string, string> = { '[': ']', '(': ')', '{': '}' };
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length) {
      cur += c + s[++i];
      continue;
    }
    if (c in pairs) stack.push(pairs[c]);
    else if (c === ']' || c === ')' || c === '}') {
      if (stack.pop() !== c) throw bad(pattern, `unbalanced "${c}"`);
    } else if (stack.length === 0 && seps.includes(c)) {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (stack.length) throw bad(pattern, `unclosed "${{ ']': '[', ')': '(', '}': '{' }[stack[stack.length - 1]]}"`);
  out.push(cur);
  return out;
}

/** Re-join colon-split segments that together form an IPv6 address (`web:!fe80::1` -> `web`, `!fe80::1`). */
function joinIPv6(segs: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < segs.length; i++) {
    let taken = 1;
    for (let j = segs.length; j > i + 1; j--) {
      const cand = segs.slice(i, j).join(':');
      if (isIPv6Literal(cand.trim().replace(/^[&!]/, ''))) {
        taken = j - i;
        break;
      }
    }
    out.push(segs.slice(i, i + taken).join(':'));
    i += taken - 1;
  }
  return out;
}

/** Parse a host pattern into terms, validating it. Useful to check a play's `hosts:` before any host is contacted. */
export function parseHostPattern(pattern: string): PatternTerm[] {
  if (typeof pattern !== 'string' || !pattern.trim()) throw bad(String(pattern), 'empty pattern');
  const terms: PatternTerm[] = [];
  for (const piece of splitTop(pattern, pattern, ',')) {
    const p = piece.trim();
    if (!p) continue;
    const bare = p.replace(/^[&!]/, '');
    const atoms = isIPv6Literal(bare) ? [p] : joinIPv6(splitTop(pattern, p, ':'));
    for (const a0 of atoms) {
      const a = a0.trim();
      if (!a) continue;
      if (/\s/.test(a)) throw bad(pattern, `whitespace inside "${a}"`);
      let op: PatternOp = 'union';
      let body = a;
      if (a[0] === '&') op = 'intersection';
      else if (a[0] === '!') op = 'exclusion';
      if (op !== 'union') body = a.slice(1);
      if (!body || body === '&' || body === '!') throw bad(pattern, `"${a}" names no group or host`);
      if (body[0] === '&' || body[0] === '!') throw bad(pattern, `"${a}" has two operators`);
      const term: PatternTerm = { op, expr: body, text: a };
      if (body[0] === '~') {
        if (body.length === 1) throw bad(pattern, 'empty regular expression after "~"');
        try {
          toRegExp(body.slice(1));
        } catch (e) {
          throw bad(pattern, `invalid regular expression: ${(e as Error).message}`);
        }
      } else {
        const m = SUBSCRIPT.exec(body);
        if (m) {
          term.expr = m[1];
          if (m[2] !== undefined) term.subscript = { index: Number(m[2]) };
          else {
            if (m[4] === '-') throw bad(pattern, `use [x:y] inclusive subscripts instead of [x-y]`);
            term.subscript = m[5] ? { start: Number(m[3]), end: Number(m[5]) } : { start: Number(m[3]) };
          }
        }
        if (/[[\]]/.test(term.expr) && !/^(?:[^[\]]|\[!?\]?[^\]]*\])*$/.test(term.expr)) {
          throw bad(pattern, `bad brackets in "${term.expr}"`);
        }
      }
      terms.push(term);
    }
  }
  if (!terms.length) throw bad(pattern, 'empty pattern');
  return terms;
}

/** Python `re.match` semantics: anchored at the start only. `(?P<n>` is accepted as `(?<n>`. */
function toRegExp(src: string): RegExp {
  return new RegExp(`^(?:${src.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>')})`);
}

/** Python `fnmatch.translate`: `*`, `?`, `[seq]`, `[!seq]`, whole-name, case-sensitive. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      let j = i + 1;
      if (glob[j] === '!') j++;
      if (glob[j] === ']') j++;
      while (j < glob.length && glob[j] !== ']') j++;
      if (j >= glob.length) re += '\\[';
      else {
        let stuff = glob.slice(i + 1, j).replace(/\\/g, '\\\\');
        if (stuff[0] === '!') stuff = '^' + stuff.slice(1);
        else if (stuff[0] === '^') stuff = '\\' + stuff;
        re += `[${stuff}]`;
        i = j;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^(?:${re})$`, 's');
}

function matchAtom(ctx: PatternContext, expr: string): string[] {
  if (expr === 'all' || expr === '*') return [...ctx.hostOrder];
  const isRegex = expr[0] === '~';
  const re = isRegex ? toRegExp(expr.slice(1)) : globToRegExp(expr);
  const found = new Set<string>();
  const groups = ctx.groupNames.filter((g) => re.test(g));
  for (const g of groups) for (const h of ctx.groupHosts(g)) found.add(h);
  if (!groups.length || isRegex || /[.?*[]/.test(expr)) {
    for (const h of ctx.hostOrder) if (re.test(h)) found.add(h);
  }
  return ctx.hostOrder.filter((h) => found.has(h));
}

function applySubscript(hosts: string[], sub: PatternTerm['subscript']): string[] {
  if (!sub) return hosts;
  if ('index' in sub) {
    const i = sub.index < 0 ? hosts.length + sub.index : sub.index;
    return i >= 0 && i < hosts.length ? [hosts[i]] : [];
  }
  const end = sub.end === undefined ? hosts.length - 1 : sub.end;
  return hosts.slice(sub.start, end + 1);
}

/** Hosts matching `pattern`, inventory order, no duplicates. */
export function selectHosts(ctx: PatternContext, pattern: string): string[] {
  const terms = parseHostPattern(pattern);
  const unions = terms.filter((t) => t.op === 'union');
  const inters = terms.filter((t) => t.op === 'intersection');
  const excls = terms.filter((t) => t.op === 'exclusion');
  const eval1 = (t: PatternTerm): string[] =>
    !t.subscript && ctx.hasHost(t.expr) ? [t.expr] : applySubscript(matchAtom(ctx, t.expr), t.subscript);
  let set = new Set<string>();
  if (!unions.length) set = new Set(ctx.hostOrder);
  for (const t of unions) for (const h of eval1(t)) set.add(h);
  for (const t of inters) {
    const that = new Set(eval1(t));
    set = new Set([...set].filter((h) => that.has(h)));
  }
  for (const t of excls) {
    for (const h of eval1(t)) set.delete(h);
  }
  return ctx.hostOrder.filter((h) => set.has(h));
}

/** Names Ansible's implicit localhost answers to: never "unmatched", even when the inventory lacks them. */
const IMPLICIT_LOCALHOST = new Set(['localhost', '127.0.0.1', '::1']);

/**
 * The terms of `pattern` that match no host and no group (before any subscript), as Ansible names them in
 * "Could not match supplied host pattern, ignoring: X": the atom without its `&`/`!` operator. `select` is the
 * inventory's own pattern matcher (one atom at a time). A malformed pattern throws as parseHostPattern does.
 */
export function unmatchedTerms(pattern: string, select: (atom: string) => readonly string[]): string[] {
  const out: string[] = [];
  for (const t of parseHostPattern(pattern)) {
    if (t.expr === 'all' || t.expr === '*' || IMPLICIT_LOCALHOST.has(t.expr)) continue;
    if (select(t.expr).length === 0 && !out.includes(t.expr)) out.push(t.expr);
  }
  return out;
}

/** The host or group name closest to `word` (a typo of it), for a did-you-mean; undefined when none is close. */
export function closestName(word: string, names: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const n of names) {
    if (n === word) continue;
    const d = editDistance(word.toLowerCase(), n.toLowerCase(), 8);
    if (d < bestD || (d === bestD && best !== undefined && n < best)) {
      bestD = d;
      best = n;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}
