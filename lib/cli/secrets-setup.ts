/**
 * The secrets the CLI gathers before any file is read: vault passwords (--vault-password-file, the
 * ANSIBLE_VAULT_PASSWORD_FILE environment variable, --ask-vault-pass) and the become password (-K). Prompts live
 * here, in the CLI; the layers below only receive what was gathered.
 */
import { cliBecomePassword, setCliBecomePassword } from '../executor/become-password.js';
import { createRunContext, type RunContext } from '../executor/run-context.js';
import { processKeyring, readVaultPasswordFile, setVaultPasswords } from '../vars/vault.js';
import { processSecrets } from '../vars/secret-values.js';
import { promptSecret } from './prompt.js';

/** The --ask-vault-pass prompt: one line from stdin, without echo on a terminal. */
export function promptVaultPassword(prompt = 'Vault password: '): Promise<string> {
  return promptSecret(prompt, '--ask-vault-pass');
}

/** CLI flags and environment -> the keyring. Called once before any file is read. */
export async function setupVault(flags: { vaultPasswordFile?: string[]; askVaultPass?: boolean }): Promise<void> {
  const pw: string[] = [];
  const files = [...(flags.vaultPasswordFile ?? [])];
  const env = process.env['ANSIBLE_VAULT_PASSWORD_FILE'];
  if (env && files.length === 0) files.push(...env.split(',').map((f) => f.trim()).filter(Boolean));
  for (const f of files) pw.push(readVaultPasswordFile(f));
  if (flags.askVaultPass) pw.push(await promptVaultPassword());
  setVaultPasswords(pw);
}

/** The -K prompt: one line from stdin, without echo on a terminal. */
export function promptBecomePassword(prompt = 'BECOME password: '): Promise<string> {
  return promptSecret(prompt, '--ask-become-pass');
}

/** CLI flag -> the process's become password. */
export async function setupBecomePassword(flags: { askBecomePass?: boolean }): Promise<void> {
  if (flags.askBecomePass) setCliBecomePassword(await promptBecomePassword());
}

/**
 * The RunContext of this command: the keyring and the -K password the hooks above gathered, and the secret store.
 * The caller disposes it when the run ends (its SOPS listener goes with it).
 */
export function commandContext(): RunContext {
  const pw = cliBecomePassword();
  return createRunContext({ secrets: processSecrets, vault: processKeyring, ...(pw !== undefined ? { becomePassword: pw } : {}) });
}
