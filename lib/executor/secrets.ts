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
import { addSecret, hasSecrets, markSecret, maskSecrets } from '../vars/secret-values.js';

export { markSecret };

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

export class Secrets {

  /** vars loaded from `file`: `!vault` values decrypted, secret files register every leaf; returns the vars */
  absorb(file: string, vars: Record<string, unknown>, posAt?: (p: (string | number)[]) => SourcePos | undefined): Record<string, unknown> {
    return absorbVarsFile(file, vars, posAt);
  }

  /** remember every string leaf of v as a secret; returns v */
  markValue<T>(v: T): T {
    return markSecret(v);
  }

  add(secret: string): void {
    addSecret(secret);
  }

  scrub(s: string): string {
    return maskSecrets(s);
  }

  scrubResult(r: HostResult): HostResult {
    if (!hasSecrets()) return r;
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
  return maskSecrets(s);
}
