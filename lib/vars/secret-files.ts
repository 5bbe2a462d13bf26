/**
 * Vars files that are secret by nature: a name holding "secret", "vault" or ".sops.", or a whole-file Ansible Vault
 * envelope. Every value read from one is a secret (secret-values.ts); `!vault` values anywhere are decrypted and
 * are secrets too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SourcePos } from '../errors.js';
import { decryptVaultValues, VAULT_HEADER, type VaultKeyring } from './vault.js';
import { processSecrets, type SecretStore } from './secret-values.js';

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
export function absorbVarsFile(
  file: string,
  vars: Record<string, unknown>,
  posAt?: (p: (string | number)[]) => SourcePos | undefined,
  ctx: { secrets?: SecretStore; vault?: VaultKeyring } = {},
): Record<string, unknown> {
  const at = posAt ?? (() => ({ file, line: 1, col: 1 }));
  const store = ctx.secrets ?? processSecrets;
  const out = decryptVaultValues(vars, at, (plain) => store.mark(plain), [], 0, ctx.vault) as Record<string, unknown>;
  if (isSecretFile(file)) store.mark(out);
  return out;
}
