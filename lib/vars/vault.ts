/**
 * Ansible Vault, format 1.1 (and 1.2, which only adds a vault-id label), with node:crypto only:
 *
 *   $ANSIBLE_VAULT;1.1;AES256            header
 *   <hex of "hex(salt)\nhex(hmac)\nhex(ciphertext)">, wrapped at 80 columns
 *
 * key material = PBKDF2-HMAC-SHA256(password, salt, 10000 iterations, 80 bytes) -> AES-256 key (32), HMAC-SHA256
 * key (32), CTR counter block / IV (16). The HMAC over the ciphertext is checked (in constant time) before anything
 * is decrypted; the plaintext is PKCS#7 padded to 16 bytes.
 *
 * Passwords live in one process-wide keyring set by the CLI (--vault-password-file, ANSIBLE_VAULT_PASSWORD_FILE,
 * --ask-vault-pass) before any file is read. Everything decrypted is registered as a secret (lib/executor/secrets.ts)
 * so no reporter can print it.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { RunbookError, type SourcePos } from '../errors.js';

export const VAULT_HEADER = '$ANSIBLE_VAULT;';
const ITERATIONS = 10000;

export function isVaultText(s: unknown): s is string {
  return typeof s === 'string' && s.trimStart().startsWith(VAULT_HEADER);
}

/** A `!vault` tagged YAML value, as lib/yaml-load.ts yields it. */
export function isVaultValue(v: unknown): v is { __vault__: string } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as Record<string, unknown>)['__vault__'] === 'string';
}

function keys(password: string, salt: Buffer): { key: Buffer; hmacKey: Buffer; iv: Buffer } {
  const dk = crypto.pbkdf2Sync(Buffer.from(password, 'utf8'), salt, ITERATIONS, 80, 'sha256');
  return { key: dk.subarray(0, 32), hmacKey: dk.subarray(32, 64), iv: dk.subarray(64, 80) };
}

/** Encrypt to the 1.1 envelope (used by tests for round trips; `salt` fixed only for reproducible vectors). */
export function vaultEncrypt(plaintext: string | Buffer, password: string, salt: Buffer = crypto.randomBytes(32), label?: string): string {
  const data = Buffer.isBuffer(plaintext) ? plaintext : Buffer.from(plaintext, 'utf8');
  const pad = 16 - (data.length % 16);
  const padded = Buffer.concat([data, Buffer.alloc(pad, pad)]);
  const { key, hmacKey, iv } = keys(password, salt);
  const c = crypto.createCipheriv('aes-256-ctr', key, iv);
  const ct = Buffer.concat([c.update(padded), c.final()]);
  const mac = crypto.createHmac('sha256', hmacKey).update(ct).digest();
  const inner = `${salt.toString('hex')}\n${mac.toString('hex')}\n${ct.toString('hex')}`;
  const hex = Buffer.from(inner, 'ascii').toString('hex');
  const lines = hex.match(/.{1,80}/g) ?? [];
  const header = label ? `${VAULT_HEADER}1.2;AES256;${label}` : `${VAULT_HEADER}1.1;AES256`;
  return `${header}\n${lines.join('\n')}\n`;
}

/** Vault data that cannot be decrypted with one password (decryptText words it for the user). */
export class VaultError extends RunbookError {
  constructor(message: string) {
    super('vault', message);
    this.name = 'VaultError';
  }
}

/** Decrypt a vault envelope with one password. Throws VaultError (bad format, wrong password / tampered). */
export function vaultDecrypt(text: string, password: string): Buffer {
  const lines = text.trim().split(/\r?\n/);
  const header = lines.shift() ?? '';
  const parts = header.trim().split(';');
  if (parts[0] !== '$ANSIBLE_VAULT' || !['1.1', '1.2'].includes(parts[1] ?? '')) throw new VaultError(`unsupported vault header "${header.slice(0, 40)}"`);
  if ((parts[2] ?? '').trim() !== 'AES256') throw new VaultError(`unsupported vault cipher "${parts[2] ?? ''}" (only AES256)`);
  const hex = lines.map((l) => l.trim()).join('');
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) throw new VaultError('vault body is not hexadecimal');
  const inner = Buffer.from(hex, 'hex').toString('ascii').split('\n');
  if (inner.length !== 3 || !inner.every((p) => /^(?:[0-9a-fA-F]{2})+$/.test(p))) throw new VaultError('vault body is malformed');
  const [salt, mac, ct] = inner.map((p) => Buffer.from(p, 'hex')) as [Buffer, Buffer, Buffer];
  const { key, hmacKey, iv } = keys(password, salt);
  const want = crypto.createHmac('sha256', hmacKey).update(ct).digest();
  if (mac.length !== want.length || !crypto.timingSafeEqual(mac, want)) throw new VaultError('HMAC mismatch: wrong vault password, or the data was altered');
  const d = crypto.createDecipheriv('aes-256-ctr', key, iv);
  const padded = Buffer.concat([d.update(ct), d.final()]);
  const pad = padded[padded.length - 1] ?? 0;
  if (pad < 1 || pad > 16 || pad > padded.length) throw new VaultError('bad padding');
  return padded.subarray(0, padded.length - pad);
}

// ---------------------------------------------------------------------------------------------------------------
// the keyring

/**
 * The vault passwords of one command (and whether --syntax-check leaves `!vault` values opaque). The CLI builds
 * one into its RunContext; `processKeyring` is the one the loaders use when no keyring is passed to them.
 */
export class VaultKeyring {
  private passwords: string[] = [];
  /** --syntax-check needs no secrets: `!vault` values are checked for their header and stay opaque (not decrypted). */
  shapeOnly = false;

  constructor(passwords: string[] = []) {
    this.setPasswords(passwords);
  }

  setPasswords(p: string[]): void {
    this.passwords = p.filter((x) => x.length > 0);
  }

  get hasPassword(): boolean {
    return this.passwords.length > 0;
  }

  /** Decrypt with the keyring; a located RunbookError when there is no password or none fits. */
  decrypt(text: string, pos?: SourcePos): string {
    if (!this.passwords.length) {
      throw new RunbookError('config', 'found vault-encrypted data but no vault password was given (use --vault-password-file FILE, ANSIBLE_VAULT_PASSWORD_FILE or --ask-vault-pass)', { pos });
    }
    let last: Error | undefined;
    for (const pw of this.passwords) {
      try {
        return vaultDecrypt(text, pw).toString('utf8');
      } catch (e) {
        last = e as Error;
      }
    }
    throw new RunbookError('config', `cannot decrypt vault data: ${last?.message ?? 'no password fits'}`, { pos });
  }
}

export const processKeyring = new VaultKeyring();

export function setVaultShapeOnly(on: boolean): void {
  processKeyring.shapeOnly = on;
}

export function setVaultPasswords(p: string[]): void {
  processKeyring.setPasswords(p);
}

export function hasVaultPassword(): boolean {
  return processKeyring.hasPassword;
}

/** Read a password file as Ansible does: the first line, surrounding whitespace stripped. */
export function readVaultPasswordFile(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new RunbookError('usage', `cannot read vault password file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const pw = (text.split(/\r?\n/)[0] ?? '').trim();
  if (!pw) throw new RunbookError('usage', `vault password file ${file} is empty`);
  return pw;
}

/** Decrypt with a keyring (the process's by default); a located RunbookError when there is no password or none fits. */
export function decryptText(text: string, pos?: SourcePos, ring: VaultKeyring = processKeyring): string {
  return ring.decrypt(text, pos);
}

/**
 * Replace every `!vault` value in `v` by its plaintext. `posAt(path)` locates a value for error messages;
 * `onSecret` receives every plaintext. Returns a new tree (the input is not modified) when anything was decrypted.
 */
export function decryptVaultValues(v: unknown, posAt: (path: (string | number)[]) => SourcePos | undefined, onSecret: (plain: string) => void, at: (string | number)[] = [], depth = 0, ring: VaultKeyring = processKeyring): unknown {
  if (isVaultValue(v) && ring.shapeOnly) {
    // --syntax-check: the value stays unknown (defined, opaque); only its envelope is checked
    if (!v.__vault__.trimStart().startsWith(VAULT_HEADER)) throw new RunbookError('config', `a !vault value must start with ${VAULT_HEADER}`, { pos: posAt(at) });
    return v;
  }
  if (isVaultValue(v)) {
    const plain = ring.decrypt(v.__vault__, posAt(at));
    onSecret(plain);
    return plain;
  }
  if (depth > 50 || v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return v;
  if (Array.isArray(v)) {
    let changed = false;
    const out = v.map((x, i) => {
      const y = decryptVaultValues(x, posAt, onSecret, [...at, i], depth + 1, ring);
      if (y !== x) changed = true;
      return y;
    });
    return changed ? out : v;
  }
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const y = decryptVaultValues(x, posAt, onSecret, [...at, k], depth + 1, ring);
    if (y !== x) changed = true;
    out[k] = y;
  }
  return changed ? out : v;
}

/** Does the tree hold any `!vault` value? */
export function hasVaultValues(v: unknown, depth = 0): boolean {
  if (isVaultValue(v)) return true;
  if (depth > 50 || v === null || typeof v !== 'object') return false;
  return Object.values(v as Record<string, unknown>).some((x) => hasVaultValues(x, depth + 1));
}

