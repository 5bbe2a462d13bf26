/**
 * Secrets never appear in any output: values from vars files that are secret by nature (Ansible Vault, SOPS, or a
 * file whose name contains "secret" or "vault"), and results of `no_log: true` tasks, are remembered here and every reported string
 * is scrubbed of them before any reporter sees it.
 */
import type { SourcePos } from '../errors.js';
import { markSecret, maskSecrets } from '../vars/secret-values.js';
import type { RunContext } from './run-context.js';

export { markSecret };
export { absorbVarsFile, isSecretFile } from '../vars/secret-files.js';
import { absorbVarsFile } from '../vars/secret-files.js';

/** A run's secrets: its context's store and vault keyring (run-context.ts). */
export class Secrets {
  constructor(private readonly ctx: Pick<RunContext, 'secrets' | 'vault'>) {}

  /** vars loaded from `file`: `!vault` values decrypted, secret files register every leaf; returns the vars */
  absorb(file: string, vars: Record<string, unknown>, posAt?: (p: (string | number)[]) => SourcePos | undefined): Record<string, unknown> {
    return absorbVarsFile(file, vars, posAt, { secrets: this.ctx.secrets, vault: this.ctx.vault });
  }

  /** remember every string leaf of v as a secret; returns v */
  markValue<T>(v: T): T {
    return this.ctx.secrets.mark(v);
  }
}

/** Mask every secret known to this process in `s` (for messages printed outside a run: configuration errors). */
export function scrubSecrets(s: string): string {
  return maskSecrets(s);
}
