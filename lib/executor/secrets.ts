/**
 * Secrets never appear in any output: values from vars files that are secret by nature (Ansible Vault, SOPS, or a
 * file whose name contains "secret" or "vault"), and results of `no_log: true` tasks, are remembered here and every reported string
 * is scrubbed of them before any reporter sees it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SourcePos } from '../errors.js';
import type { HostResult } from './events.js';
import { decryptVaultValues, VAULT_HEADER } from '../vars/vault.js';

const MASK = '********';

/**
 * One set per process: the inventory (group_vars/host_vars) is read before any Executor exists, and a secret found
 * anywhere must be masked everywhere.
 */
const PROCESS_SECRETS = new Set<string>();

/** Is `file` secret by nature: its name (secret, vault, .sops.) or a whole-file Ansible Vault envelope. */
export function isSecretFile(file: string): boolean {
  if (/secret|vault|\.sops\./i.test(path.basename(file))) return true;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(64);
      const n = fs.readSync(fd, buf, 0, 64, 0);
      return buf.subarray(0, n).toString('utf8').trimStart().startsWith(VAULT_HEADER);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

/**
 * Vars read from `file`: `!vault` values are decrypted (and are secrets), and every value of a secret file is a
 * secret. Returns the vars with plaintext in place of `!vault` values. `posAt` locates a value for errors.
 */
export function absorbVarsFile(file: string, vars: Record<string, unknown>, posAt?: (p: (string | number)[]) => SourcePos | undefined): Record<string, unknown> {
  const at = posAt ?? (() => ({ file, line: 1, col: 1 }));
  const out = decryptVaultValues(vars, at, (plain) => markSecret(plain)) as Record<string, unknown>;
  if (isSecretFile(file)) markSecret(out);
  return out;
}

/** Remember every string leaf (and number) of v as a secret; returns v. */
export function markSecret<T>(v: T): T {
  const walk = (x: unknown, depth: number) => {
    if (depth > 30) return;
    if (typeof x === 'string') {
      if (x.length >= 4) PROCESS_SECRETS.add(x);
      // multi-line secrets (keys, certificates) are also masked line by line, as outputs may re-wrap them
      if (x.includes('\n')) for (const l of x.split('\n')) if (l.trim().length >= 8) PROCESS_SECRETS.add(l.trim());
    } else if (typeof x === 'number' && String(x).length >= 4) PROCESS_SECRETS.add(String(x));
    else if (Array.isArray(x)) x.forEach((y) => walk(y, depth + 1));
    else if (x && typeof x === 'object') Object.values(x).forEach((y) => walk(y, depth + 1));
  };
  walk(v, 0);
  return v;
}

export class Secrets {
  private values = PROCESS_SECRETS;

  /** vars loaded from `file`: `!vault` values decrypted, secret files register every leaf; returns the vars */
  absorb(file: string, vars: Record<string, unknown>, posAt?: (p: (string | number)[]) => SourcePos | undefined): Record<string, unknown> {
    return absorbVarsFile(file, vars, posAt);
  }

  /** remember every string leaf of v as a secret; returns v */
  markValue<T>(v: T): T {
    return markSecret(v);
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
      item: r.item !== undefined ? this.scrub(r.item) : undefined,
      diffs: r.diffs?.map((d) => ({ label: this.scrub(d.label), before: this.scrub(d.before), after: this.scrub(d.after) })),
    };
  }
}

/** Mask every secret known to this process in `s` (for messages printed outside a run: configuration errors). */
export function scrubSecrets(s: string): string {
  return new Secrets().scrub(s);
}
