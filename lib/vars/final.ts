/**
 * Host data is data. Ansible marks what comes from hosts "unsafe" so it is never rendered as a template; runbook
 * goes one step further and treats every value that is already the OUTPUT of rendering, or came from a host, as
 * final: registered results, gathered facts, set_fact values, loop items. Such a value is never rendered again,
 * anywhere (lazy variable resolution, hostvars, set_fact copies, loops, debug, module arguments), so a host that
 * prints `{{ lookup('password', '/tmp/x') }}` only ever shows that text.
 *
 * Two marks, both by identity (never by content, so a playbook string that happens to equal host output is still
 * rendered):
 *  - objects and arrays that are final are kept in a WeakSet (markFinal, deep);
 *  - a variables object (a task's context, a hostvars entry) lists the names whose values are final under the
 *    FINAL symbol: that covers final strings, which have no identity of their own.
 *
 * `!unsafe` in YAML is handled by the loader (yaml-load.ts): the string becomes a template that renders to itself,
 * and the rendered value is then final like any other.
 */

export const FINAL = Symbol.for('runbook.final-names');

const FINAL_OBJ = new WeakSet<object>();

/** Mark v (and every object and array inside it) as final; returns v. */
export function markFinal<T>(v: T): T {
  const walk = (x: unknown, depth: number): void => {
    if (x === null || typeof x !== 'object' || depth > 64 || FINAL_OBJ.has(x)) return;
    FINAL_OBJ.add(x);
    for (const y of Array.isArray(x) ? x : Object.values(x)) walk(y, depth + 1);
  };
  walk(v, 0);
  return v;
}

export function isFinalObject(v: unknown): boolean {
  return v !== null && typeof v === 'object' && FINAL_OBJ.has(v);
}

type Vars = Record<string | symbol, unknown>;

/** The names of `vars` whose values are final. */
export function finalNames(vars: object): ReadonlySet<string> | undefined {
  return (vars as Vars)[FINAL] as ReadonlySet<string> | undefined;
}

export function isFinalName(vars: object, name: string): boolean {
  return finalNames(vars)?.has(name) === true;
}

/** Set the final names of `vars` (replacing any); returns vars. */
export function setFinalNames<T extends object>(vars: T, names: Iterable<string>): T {
  const set = new Set(names);
  if (set.size) Object.defineProperty(vars, FINAL, { value: set, enumerable: true, configurable: true, writable: true });
  return vars;
}

/** `{ ...vars, ...extra }` where every name of `extra` is final (loop items, a registered result's own keys). */
export function withFinal(vars: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out = { ...vars, ...extra };
  return setFinalNames(out, [...(finalNames(vars) ?? []), ...Object.keys(extra)]);
}
