/**
 * The values that are secret in this process: vault and SOPS plaintext, every value of a secret-named vars file,
 * the results and vars of no_log tasks, the become password, and whatever the templar derives from any of them
 * (template.ts marks the output of a render that read a secret). Output is masked with `maskSecrets`, which knows
 * the encodings a value is printed in (JSON and YAML double-quoted escapes, Python repr).
 *
 * What is masked, and what is not, is written down in docs/reliability.md.
 */

export const MASK = '********';

/** A secret as given: masked from this length on (a one-character secret would mask that character everywhere). */
export const MIN_SECRET = 2;
/** A value derived from a secret by a filter (`pw | upper`, `pw | b64encode`, `pw[:3]`): masked from this length on. */
export const MIN_DERIVED = 3;

const VALUES = new Set<string>();
/** the strings actually searched for: each secret and its escaped forms, longest first; rebuilt when VALUES grows */
let needles: string[] | undefined;
let version = 0;

/** Bumped whenever a secret is added: caches of "does this value hold a secret" are keyed by it. */
export function secretsVersion(): number {
  return version;
}

export function hasSecrets(): boolean {
  return VALUES.size > 0;
}

export function isSecretString(s: string): boolean {
  return VALUES.has(s);
}

/** Remember one string as a secret (and, for multi-line secrets, each of its longer lines). */
export function addSecret(s: string, min = MIN_SECRET): void {
  if (s.length < min || VALUES.has(s)) return;
  VALUES.add(s);
  // keys and certificates may be re-wrapped by the output: mask them line by line too
  if (s.includes('\n')) for (const l of s.split('\n')) if (l.trim().length >= 8) VALUES.add(l.trim());
  needles = undefined;
  version++;
}

/** Remember every string leaf (and number) of v as a secret; returns v. */
export function markSecret<T>(v: T, min = MIN_SECRET): T {
  const walk = (x: unknown, depth: number): void => {
    if (depth > 30) return;
    if (typeof x === 'string') addSecret(x, min);
    else if (typeof x === 'number' && String(x).length >= Math.max(min, 4)) addSecret(String(x), min);
    else if (Array.isArray(x)) for (const y of x) walk(y, depth + 1);
    else if (x && typeof x === 'object') for (const y of Object.values(x)) walk(y, depth + 1);
  };
  walk(v, 0);
  return v;
}

const cache = new WeakMap<object, { version: number; has: boolean }>();

/** Does v hold a secret anywhere (a string leaf that is one)? Cached per object and secrets version. */
export function containsSecret(v: unknown, depth = 0): boolean {
  if (VALUES.size === 0) return false;
  if (typeof v === 'string') return VALUES.has(v);
  if (typeof v === 'number') return VALUES.has(String(v));
  if (v === null || typeof v !== 'object' || depth > 12) return false;
  const hit = cache.get(v);
  if (hit && hit.version === version) return hit.has;
  const has = (Array.isArray(v) ? v : Object.values(v)).some((x) => containsSecret(x, depth + 1));
  cache.set(v, { version, has });
  return has;
}

/** The forms a string takes when printed: as is, JSON/YAML double-quoted, Python repr (single-quoted), and HTML. */
function encodings(s: string): string[] {
  const json = JSON.stringify(s).slice(1, -1);
  const py = s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
  const pyDq = s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
  // JSON of JSON (a result printed inside a JSON event line)
  const json2 = JSON.stringify(json).slice(1, -1);
  // YAML single-quoted
  const yamlSq = s.replace(/'/g, "''");
  return [s, json, py, pyDq, json2, yamlSq];
}

/** Mask every secret known to this process in `s`, in any of the encodings above. */
export function maskSecrets(s: string): string {
  if (VALUES.size === 0 || s.length === 0) return s;
  needles ??= [...new Set([...VALUES].flatMap(encodings))].filter((n) => n.length >= MIN_SECRET).sort((a, b) => b.length - a.length);
  let out = s;
  for (const n of needles) if (out.includes(n)) out = out.split(n).join(MASK);
  return out;
}

/** A copy of v with every string masked (maskSecrets); v itself when no secret is known. */
export function maskDeep<T>(v: T, depth = 0): T {
  if (VALUES.size === 0) return v;
  if (typeof v === 'string') return maskSecrets(v) as T;
  if (v === null || typeof v !== 'object' || depth > 30) return v;
  if (Array.isArray(v)) return v.map((x) => maskDeep(x, depth + 1)) as T;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, maskDeep(x, depth + 1)])) as T;
}

/**
 * For display of variables (`runbook vars`, `runbook inventory`): every value that holds a secret is replaced by
 * `<encrypted>`, containers are walked.
 */
export function redactSecrets(v: unknown, depth = 0): unknown {
  if (VALUES.size === 0) return v;
  if (typeof v === 'string' || typeof v === 'number') return containsSecret(v) ? '<encrypted>' : v;
  if (v === null || typeof v !== 'object' || depth > 30) return v;
  if (Array.isArray(v)) return v.map((x) => redactSecrets(x, depth + 1));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactSecrets(x, depth + 1)]));
}
