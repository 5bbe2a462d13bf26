/**
 * OpenSSH known_hosts verification (no maintained npm package does this). Supports plain host patterns (`host`,
 * `[host]:port`, comma lists, `*`/`?` wildcards, `!` negation), hashed `|1|salt|hash` names (HMAC-SHA1 of the
 * lowercased name with the salt as key), `@revoked` markers, comments and blank lines. `@cert-authority` lines are
 * skipped: ssh2 does not support host certificates. Keys are compared as raw SSH wire-format blobs.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface KnownHostEntry {
  file: string;
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** the raw host field (comma-separated patterns, or a |1|salt|hash) */
  hosts: string;
  hashed?: { salt: Buffer; hash: Buffer };
  keyType: string;
  key: Buffer;
}

export type HostKeyVerdict =
  | { status: 'ok'; entry: KnownHostEntry }
  | { status: 'unknown'; otherTypes: string[] }
  | { status: 'changed'; entries: KnownHostEntry[] }
  | { status: 'revoked'; entry: KnownHostEntry };

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise; lowercased. */
export function knownHostName(address: string, port: number): string {
  const h = address.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** OpenSSH fingerprint form: `SHA256:` + base64 of the SHA-256 of the key blob, without padding. */
export function fingerprint(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}

/** The key type named inside an SSH wire-format public key blob (its first string). */
export function keyTypeOf(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const n = blob.readUInt32BE(0);
  if (n === 0 || n > 64 || 4 + n > blob.length) return undefined;
  return blob.subarray(4, 4 + n).toString('latin1');
}

export function parseKnownHosts(text: string, file = '<known_hosts>'): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/[ \t]+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]!.startsWith('@')) {
      const m = fields.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else continue; // unknown marker: OpenSSH ignores the line
    }
    if (fields.length < 3) continue;
    const [hosts, keyType, b64] = fields as [string, string, string];
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) continue;
    const key = Buffer.from(b64, 'base64');
    if (keyTypeOf(key) !== keyType) continue; // corrupt line
    const entry: KnownHostEntry = { file, line: i + 1, hosts, keyType, key };
    if (marker) entry.marker = marker;
    if (hosts.startsWith('|1|')) {
      const parts = hosts.split('|');
      if (parts.length !== 4) continue;
      const salt = Buffer.from(parts[2]!, 'base64');
      const hash = Buffer.from(parts[3]!, 'base64');
      if (salt.length !== 20 || hash.length !== 20) continue;
      entry.hashed = { salt, hash };
    }
    out.push(entry);
  }
  return out;
}

function globToRegExp(p: string): RegExp {
  const body = p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Does the entry's host field match `name` (as produced by knownHostName)? */
export function hostMatches(entry: KnownHostEntry, name: string): boolean {
  const n = name.toLowerCase();
  if (entry.hashed) {
    const h = createHmac('sha1', entry.hashed.salt).update(n).digest();
    return timingSafeEqual(h, entry.hashed.hash);
  }
  let positive = false;
  for (const raw of entry.hosts.split(',')) {
    const neg = raw.startsWith('!');
    const pat = (neg ? raw.slice(1) : raw).toLowerCase();
    if (pat === '') continue;
    const hit = /[*?]/.test(pat) ? globToRegExp(pat).test(n) : pat === n;
    if (hit && neg) return false;
    if (hit) positive = true;
  }
  return positive;
}

/** Host key algorithms ssh2 should prefer for this host: the types already known, so a known key is negotiated. */
export function preferredHostKeyAlgorithms(entries: KnownHostEntry[], name: string): string[] {
  const algs: string[] = [];
  for (const e of entries) {
    if (e.marker || !hostMatches(e, name)) continue;
    const list = e.keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [e.keyType];
    for (const a of list) if (!algs.includes(a)) algs.push(a);
  }
  return algs;
}

/** Verify the key blob a server presented for `name`. */
export function checkHostKey(entries: KnownHostEntry[], name: string, key: Buffer): HostKeyVerdict {
  const type = keyTypeOf(key) ?? '?';
  const matching = entries.filter((e) => e.marker !== 'cert-authority' && hostMatches(e, name));
  const revoked = matching.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { status: 'revoked', entry: revoked };
  const plain = matching.filter((e) => !e.marker);
  const ok = plain.find((e) => e.key.equals(key));
  if (ok) return { status: 'ok', entry: ok };
  const sameType = plain.filter((e) => e.keyType === type);
  if (sameType.length) return { status: 'changed', entries: sameType };
  return { status: 'unknown', otherTypes: [...new Set(plain.map((e) => e.keyType))] };
}

/** ~/.ssh/known_hosts then /etc/ssh/ssh_known_hosts (OpenSSH's defaults). */
export function defaultKnownHostsFiles(): string[] {
  return [join(homedir(), '.ssh', 'known_hosts'), '/etc/ssh/ssh_known_hosts'];
}

/** Read and parse the files; a missing file counts as empty. */
export async function loadKnownHosts(files: string[]): Promise<KnownHostEntry[]> {
  const all: KnownHostEntry[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = await readFile(f, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    all.push(...parseKnownHosts(text, f));
  }
  return all;
}

/** The known_hosts line that would accept this key (for error messages). */
export function knownHostsLine(name: string, key: Buffer): string {
  return `${name} ${keyTypeOf(key) ?? 'unknown'} ${key.toString('base64')}`;
}
