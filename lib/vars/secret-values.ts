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

/**
 * A store of secret values. The CLI builds one per command into its RunContext (lib/executor/run-context.ts); the
 * module functions below work on `processSecrets`, the store the templar and the reporters still use directly
 * (the context of a CLI run is that same store, see docs/adr/0013).
 */
export class SecretStore {
  private readonly values = new Set<string>();
  /** the strings actually searched for: each secret and its escaped forms, longest first; rebuilt when values grows */
  private needles: string[] | undefined;
  private ver = 0;
  private readonly cache = new WeakMap<object, { version: number; has: boolean }>();

  /** Bumped whenever a secret is added: caches of "does this value hold a secret" are keyed by it. */
  get version(): number {
    return this.ver;
  }

  get size(): number {
    return this.values.size;
  }

  has(s: string): boolean {
    return this.values.has(s);
  }

  /** Remember one string as a secret (and, for multi-line secrets, each of its longer lines). */
  add(s: string, min = MIN_SECRET): void {
    if (s.length < min || this.values.has(s)) return;
    this.values.add(s);
    // keys and certificates may be re-wrapped by the output: mask them line by line too
    if (s.includes('\n')) for (const l of s.split('\n')) if (l.trim().length >= 8) this.values.add(l.trim());
    this.needles = undefined;
    this.ver++;
  }

  /** Remember every string leaf (and number) of v as a secret; returns v. */
  mark<T>(v: T, min = MIN_SECRET): T {
    const walk = (x: unknown, depth: number): void => {
      if (depth > 30) return;
      if (typeof x === 'string') this.add(x, min);
      else if (typeof x === 'number' && String(x).length >= Math.max(min, 4)) this.add(String(x), min);
      else if (Array.isArray(x)) for (const y of x) walk(y, depth + 1);
      else if (x && typeof x === 'object') for (const y of Object.values(x)) walk(y, depth + 1);
    };
    walk(v, 0);
    return v;
  }

  /** Does v hold a secret anywhere (a string leaf that is one)? Cached per object and secrets version. */
  contains(v: unknown, depth = 0): boolean {
    if (this.values.size === 0) return false;
    if (typeof v === 'string') return this.values.has(v);
    if (typeof v === 'number') return this.values.has(String(v));
    if (v === null || typeof v !== 'object' || depth > 12) return false;
    const hit = this.cache.get(v);
    if (hit && hit.version === this.ver) return hit.has;
    const has = (Array.isArray(v) ? v : Object.values(v)).some((x) => this.contains(x, depth + 1));
    this.cache.set(v, { version: this.ver, has });
    return has;
  }

  /** Mask every secret of this store in `s`, in any of the encodings above. */
  mask(s: string): string {
    if (this.values.size === 0 || s.length === 0) return s;
    this.needles ??= [...new Set([...this.values].flatMap(encodings))].filter((n) => n.length >= MIN_SECRET).sort((a, b) => b.length - a.length);
    let out = s;
    for (const n of this.needles) if (out.includes(n)) out = out.split(n).join(MASK);
    return out;
  }

  /** A copy of v with every string masked (mask); v itself when no secret is known. */
  maskDeep<T>(v: T, depth = 0): T {
    if (this.values.size === 0) return v;
    if (typeof v === 'string') return this.mask(v) as T;
    if (v === null || typeof v !== 'object' || depth > 30) return v;
    if (Array.isArray(v)) return v.map((x) => this.maskDeep(x, depth + 1)) as T;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.maskDeep(x, depth + 1)])) as T;
  }

  /**
   * For display of variables (`runbook vars`, `runbook inventory`): every value that holds a secret is replaced by
   * `<encrypted>`, containers are walked.
   */
  redact(v: unknown, depth = 0): unknown {
    if (this.values.size === 0) return v;
    if (typeof v === 'string' || typeof v === 'number') return this.contains(v) ? '<encrypted>' : v;
    if (v === null || typeof v !== 'object' || depth > 30) return v;
    if (Array.isArray(v)) return v.map((x) => this.redact(x, depth + 1));
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.redact(x, depth + 1)]));
  }
}

/** The process's store: what the module functions below (and so the templar and the reporters) use. */
export const processSecrets = new SecretStore();

export const secretsVersion = (): number => processSecrets.version;
export const hasSecrets = (): boolean => processSecrets.size > 0;
export const isSecretString = (s: string): boolean => processSecrets.has(s);
export const addSecret = (s: string, min = MIN_SECRET): void => processSecrets.add(s, min);
export const markSecret = <T>(v: T, min = MIN_SECRET): T => processSecrets.mark(v, min);
export const containsSecret = (v: unknown, depth = 0): boolean => processSecrets.contains(v, depth);
export const maskSecrets = (s: string): string => processSecrets.mask(s);
export const maskDeep = <T>(v: T, depth = 0): T => processSecrets.maskDeep(v, depth);
export const redactSecrets = (v: unknown, depth = 0): unknown => processSecrets.redact(v, depth);
