import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkHostKey,
  fingerprint,
  hostMatches,
  keyTypeOf,
  knownHostName,
  loadKnownHosts,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
} from '../lib/connection/known-hosts.js';

let dir: string;
const keys: Record<string, { type: string; b64: string; blob: Buffer; pubLine: string; file: string }> = {};

function keygen(name: string, args: string[]): void {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-N', '', '-C', name, '-f', file, ...args]);
  const pubLine = readFileSync(file + '.pub', 'utf8').trim();
  const [type, b64] = pubLine.split(' ') as [string, string];
  keys[name] = { type, b64, blob: Buffer.from(b64, 'base64'), pubLine, file };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'runbook-kh-'));
  keygen('ed', ['-t', 'ed25519']);
  keygen('ed2', ['-t', 'ed25519']);
  keygen('ec', ['-t', 'ecdsa', '-b', '256']);
  keygen('rsa', ['-t', 'rsa', '-b', '2048']);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('known_hosts parsing', () => {
  it('reads plain entries, [host]:port, comma lists, comments, blank lines and markers', () => {
    const { ed, ec, rsa, ed2 } = keys as Required<typeof keys>;
    const text = [
      '# a comment',
      '',
      `web1.example.com,10.0.0.5 ${ed!.type} ${ed!.b64} comment here`,
      `[db.example.com]:2222 ${ec!.type} ${ec!.b64}`,
      `   \t`,
      `old.example.com ${rsa!.type} ${rsa!.b64}`,
      `@revoked * ${ed2!.type} ${ed2!.b64}`,
      `@cert-authority *.example.com ${ed!.type} ${ed!.b64}`,
      `broken line`,
      `bad.example.com ssh-ed25519 !!!notbase64`,
      `mismatch.example.com ssh-rsa ${ed!.b64}`,
    ].join('\n');
    const entries = parseKnownHosts(text, 'kh');
    expect(entries.map((e) => [e.line, e.hosts, e.keyType, e.marker])).toEqual([
      [3, 'web1.example.com,10.0.0.5', 'ssh-ed25519', undefined],
      [4, '[db.example.com]:2222', 'ecdsa-sha2-nistp256', undefined],
      [6, 'old.example.com', 'ssh-rsa', undefined],
      [7, '*', 'ssh-ed25519', 'revoked'],
      [8, '*.example.com', 'ssh-ed25519', 'cert-authority'],
    ]);
    expect(hostMatches(entries[0]!, 'web1.example.com')).toBe(true);
    expect(hostMatches(entries[0]!, '10.0.0.5')).toBe(true);
    expect(hostMatches(entries[0]!, 'WEB1.example.COM')).toBe(true);
    expect(hostMatches(entries[0]!, '[web1.example.com]:2222')).toBe(false);
    expect(hostMatches(entries[1]!, knownHostName('db.example.com', 2222))).toBe(true);
    expect(hostMatches(entries[1]!, knownHostName('db.example.com', 22))).toBe(false);
  });

  it('supports wildcards and negation like OpenSSH', () => {
    const { ed } = keys;
    const [e] = parseKnownHosts(`*.lan,!secret.lan,10.1.?.1 ${ed!.type} ${ed!.b64}`);
    expect(hostMatches(e!, 'a.lan')).toBe(true);
    expect(hostMatches(e!, 'secret.lan')).toBe(false);
    expect(hostMatches(e!, '10.1.2.1')).toBe(true);
    expect(hostMatches(e!, '10.1.22.1')).toBe(false);
  });

  it('knownHostName uses [host]:port except on port 22', () => {
    expect(knownHostName('Example.COM', 22)).toBe('example.com');
    expect(knownHostName('127.0.0.1', 2200)).toBe('[127.0.0.1]:2200');
  });
});

describe('hashed entries (real ssh-keygen -H output)', () => {
  it('matches the names that were hashed and nothing else', async () => {
    const { ed, ec } = keys;
    const file = join(dir, 'hashed_known_hosts');
    writeFileSync(file, `host-a.example.com ${ed!.type} ${ed!.b64}\n[127.0.0.1]:2222 ${ec!.type} ${ec!.b64}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^\|1\|/m);
    expect(text).not.toContain('host-a');
    const entries = await loadKnownHosts([file, join(dir, 'does-not-exist')]);
    expect(entries).toHaveLength(2);
    expect(entries.every((e) => e.hashed)).toBe(true);
    expect(hostMatches(entries[0]!, 'host-a.example.com')).toBe(true);
    expect(hostMatches(entries[0]!, 'HOST-A.example.com')).toBe(true);
    expect(hostMatches(entries[0]!, 'host-b.example.com')).toBe(false);
    expect(hostMatches(entries[1]!, '[127.0.0.1]:2222')).toBe(true);
    expect(hostMatches(entries[1]!, '127.0.0.1')).toBe(false);
    expect(checkHostKey(entries, 'host-a.example.com', ed!.blob).status).toBe('ok');
    expect(checkHostKey(entries, knownHostName('127.0.0.1', 2222), ec!.blob).status).toBe('ok');
  });
});

describe('host key verdicts', () => {
  it('ok, unknown, changed, revoked', () => {
    const { ed, ed2, ec, rsa } = keys;
    const entries = parseKnownHosts(
      [`h1 ${ed!.type} ${ed!.b64}`, `h1 ${rsa!.type} ${rsa!.b64}`, `h2 ${ec!.type} ${ec!.b64}`, `@revoked h3 ${ed2!.type} ${ed2!.b64}`, `h3 ${ed2!.type} ${ed2!.b64}`].join('\n'),
    );
    expect(checkHostKey(entries, 'h1', ed!.blob).status).toBe('ok');
    expect(checkHostKey(entries, 'h1', rsa!.blob).status).toBe('ok');
    const changed = checkHostKey(entries, 'h1', ed2!.blob);
    expect(changed.status).toBe('changed');
    expect(checkHostKey(entries, 'nowhere', ed!.blob)).toEqual({ status: 'unknown', otherTypes: [] });
    // h2 only has an ecdsa key: an ed25519 key is not "changed", it is unknown (OpenSSH behaves the same way)
    expect(checkHostKey(entries, 'h2', ed!.blob)).toEqual({ status: 'unknown', otherTypes: ['ecdsa-sha2-nistp256'] });
    expect(checkHostKey(entries, 'h3', ed2!.blob).status).toBe('revoked');
  });

  it('prefers the host key algorithms already known for the host', () => {
    const { ed, rsa } = keys;
    const entries = parseKnownHosts(`h1 ${rsa!.type} ${rsa!.b64}\nh1 ${ed!.type} ${ed!.b64}\nh2 ${ed!.type} ${ed!.b64}`);
    expect(preferredHostKeyAlgorithms(entries, 'h1')).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519']);
    expect(preferredHostKeyAlgorithms(entries, 'h9')).toEqual([]);
  });
});

describe('fingerprints', () => {
  it('match ssh-keygen -l for every key type', () => {
    for (const k of Object.values(keys)) {
      const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', k.file + '.pub'], { encoding: 'utf8' });
      const fp = out.split(' ')[1];
      expect(fingerprint(k.blob)).toBe(fp);
      expect(fingerprint(k.blob)).not.toContain('=');
      expect(keyTypeOf(k.blob)).toBe(k.type);
    }
  });
});
