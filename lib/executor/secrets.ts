/**
 * Secrets never appear in any output: values from vars files that are secret by nature (Ansible Vault, SOPS, or a
 * file whose name contains "secret" or "vault"), and results of `no_log: true` tasks, are remembered here and every reported string
 * is scrubbed of them before any reporter sees it.
 */
import * as path from 'node:path';
import type { HostResult } from './events.js';

const MASK = '********';

export class Secrets {
  private values = new Set<string>();

  /** vars loaded from `file`: secret files register every string leaf; returns the vars (decrypted later issues add vault/SOPS here) */
  absorb(file: string, vars: Record<string, unknown>): Record<string, unknown> {
    if (/secret|vault|\.sops\./i.test(path.basename(file))) this.markValue(vars);
    return vars;
  }

  /** remember every string leaf of v as a secret; returns v */
  markValue<T>(v: T): T {
    const walk = (x: unknown, depth: number) => {
      if (depth > 30) return;
      if (typeof x === 'string') {
        if (x.length >= 4) this.values.add(x);
      } else if (Array.isArray(x)) x.forEach((y) => walk(y, depth + 1));
      else if (x && typeof x === 'object') Object.values(x).forEach((y) => walk(y, depth + 1));
    };
    walk(v, 0);
    return v;
  }

  add(secret: string): void {
    if (secret.length >= 1) this.values.add(secret);
  }

  scrub(s: string): string {
    if (this.values.size === 0) return s;
    let out = s;
    // longest first so a secret containing another is masked whole
    for (const v of [...this.values].sort((a, b) => b.length - a.length)) {
      if (out.includes(v)) out = out.split(v).join(MASK);
    }
    return out;
  }

  scrubResult(r: HostResult): HostResult {
    if (this.values.size === 0) return r;
    return {
      ...r,
      reason: this.scrub(r.reason),
      output: r.output !== undefined ? this.scrub(r.output) : undefined,
      diffs: r.diffs?.map((d) => ({ label: this.scrub(d.label), before: this.scrub(d.before), after: this.scrub(d.after) })),
    };
  }
}
