/**
 * What one command runs with, built by the CLI (lib/cli/secrets-setup.ts) and passed down instead of reached as
 * process globals: the secret store, the vault keyring, the become password given with -K, and the subscription
 * that marks decrypted SOPS trees as secrets (removed by dispose(), so runs do not pile up listeners).
 *
 * Still process-wide (docs/adr/0013, "Run context"): the templar and the reporters use the process secret store
 * through the module functions of secret-values.ts, the loaders below the executor use the process keyring, and
 * task-outcome.ts reads the -K password through become-password.ts. A CLI context is built on those same objects,
 * so behaviour is one; the remaining step is handing the context to those layers too.
 */
import { processSecrets, type SecretStore } from '../vars/secret-values.js';
import { onSopsDecrypted } from '../vars/sops.js';
import { processKeyring, type VaultKeyring } from '../vars/vault.js';

export interface RunContext {
  readonly secrets: SecretStore;
  readonly vault: VaultKeyring;
  /** --ask-become-pass; ansible_become_password in a host's variables takes precedence */
  readonly becomePassword?: string;
  /** stop listening for SOPS decryptions; idempotent */
  dispose(): void;
}

export function createRunContext(o: { secrets?: SecretStore; vault?: VaultKeyring; becomePassword?: string } = {}): RunContext {
  const secrets = o.secrets ?? processSecrets;
  const vault = o.vault ?? processKeyring;
  if (o.becomePassword !== undefined) secrets.add(o.becomePassword);
  const off = onSopsDecrypted((v) => secrets.mark(v));
  return { secrets, vault, ...(o.becomePassword !== undefined ? { becomePassword: o.becomePassword } : {}), dispose: off };
}
