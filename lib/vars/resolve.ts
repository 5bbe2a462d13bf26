/**
 * Variables may refer to other variables ("{{ base }}/sub"). Ansible resolves them lazily, when used; runbook does
 * the same: before rendering a value, every variable the value refers to (transitively) is rendered first, and
 * a cycle is an error that names the chain.
 */
import { RunbookError } from '../errors.js';
import { TemplateError } from './template-error.js';
import type { Templar } from './template.js';
import { finalNames, isFinalName, isFinalObject } from './final.js';

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'if', 'else', 'elif', 'endif', 'for', 'endfor', 'true', 'false', 'True', 'False', 'none', 'None', 'set', 'endset', 'with', 'loop', 'recursive', 'block', 'endblock', 'macro', 'endmacro', 'import', 'from', 'as', 'include', 'raw', 'endraw', 'filter', 'endfilter', 'call', 'namespace', 'lookup', 'query', 'q', 'range', 'dict', 'omit']);

function isTemplatedString(v: unknown): v is string {
  return typeof v === 'string' && (v.includes('{{') || v.includes('{%'));
}

/** Does v hold a string still to be rendered? Final values (host data, rendered output: final.ts) never do. */
export function hasTemplate(v: unknown, depth = 0): boolean {
  if (isTemplatedString(v)) return true;
  if (depth > 20 || v === null || typeof v !== 'object' || isFinalObject(v)) return false;
  if (Array.isArray(v)) return v.some((x) => hasTemplate(x, depth + 1));
  const fin = finalNames(v);
  return Object.entries(v as Record<string, unknown>).some(([k, x]) => !fin?.has(k) && hasTemplate(x, depth + 1));
}

/** Names a template refers to (an over-approximation: attributes and string literals are left out). */
export function referencedNames(tpl: string): Set<string> {
  const out = new Set<string>();
  const re = /\{\{([\s\S]*?)\}\}|\{%([\s\S]*?)%\}/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(tpl))) {
    const body = (m[1] ?? m[2] ?? '').replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, ' ');
    const idRe = /(?<![.\w|])\s*([A-Za-z_][A-Za-z0-9_]*)/g;
    let t: RegExpExecArray | null;
    while ((t = idRe.exec(body))) {
      const name = t[1]!;
      // skip keyword arguments (name=) and function/filter names followed by "("
      const after = body.slice(idRe.lastIndex).trimStart();
      if (after.startsWith('=') && !after.startsWith('==')) continue;
      if (!KEYWORDS.has(name)) out.add(name);
    }
  }
  return out;
}

function collect(v: unknown, out: Set<string>, depth = 0): void {
  if (isTemplatedString(v)) for (const n of referencedNames(v)) out.add(n);
  else if (depth < 20 && v && typeof v === 'object') {
    for (const x of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) collect(x, out, depth + 1);
  }
}

/**
 * Returns a context in which every variable `value` needs is rendered. `ctx` is not modified; the returned object
 * shares unchanged values.
 */
export function resolveFor(value: unknown, ctx: Record<string, unknown>, templar: Templar, done?: Map<string, unknown>): Record<string, unknown> {
  const needed = new Set<string>();
  collect(value, needed);
  if (needed.size === 0) return ctx;
  const resolved = done ?? new Map<string, unknown>();
  const out: Record<string, unknown> = { ...ctx };
  const visiting: string[] = [];
  const resolveName = (name: string): void => {
    if (resolved.has(name)) {
      out[name] = resolved.get(name);
      return;
    }
    if (!(name in ctx) || isFinalName(ctx, name) || !hasTemplate(ctx[name])) return;
    if (visiting.includes(name)) {
      throw new RunbookError('template_error', `recursion in variables: ${[...visiting.slice(visiting.indexOf(name)), name].join(' -> ')}`);
    }
    if (visiting.length > 50) throw new RunbookError('template_error', `variables nested too deeply: ${visiting.join(' -> ')}`);
    visiting.push(name);
    const inner = new Set<string>();
    collect(ctx[name], inner);
    for (const n of inner) resolveName(n);
    let v: unknown;
    try {
      v = templar.render(ctx[name], out);
    } catch (e) {
      // a template's own error gets the variable's name; resolve's RunbookErrors (recursion) are worded already
      if (e instanceof TemplateError || (e instanceof Error && !(e instanceof RunbookError))) {
        (e as Error).message = `${(e as Error).message} (in variable "${name}")`;
      }
      throw e;
    }
    visiting.pop();
    resolved.set(name, v);
    out[name] = v;
  };
  for (const n of needed) resolveName(n);
  return out;
}
