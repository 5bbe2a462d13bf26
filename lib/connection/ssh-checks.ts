/** Pieces of the SSH transport (ssh.ts) that need no connection state: host-key verification, error text, signals. */
import type { Client, ClientChannel } from 'ssh2';
import { RunbookError } from '../errors.js';
import { checkHostKey, fingerprint, keyTypeOf, type KnownHostEntry } from './known-hosts.js';
import type { ConnectionSpec } from './types.js';

export function errText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}

/**
 * The host-key verifier for one connect: `verify` answers ssh2's hostVerifier; when it refuses a key, `error`
 * says why (unknown, changed or revoked key), to be thrown instead of ssh2's generic handshake failure.
 */
export function hostKeyCheck(
  s: ConnectionSpec,
  entries: KnownHostEntry[],
  name: string,
  knownFiles: string[],
  where: string,
  host: string,
): { verify: (key: Buffer) => boolean; error: RunbookError | undefined } {
  const result: { verify: (key: Buffer) => boolean; error: RunbookError | undefined } = { verify: () => true, error: undefined };
  const verify = (key: Buffer): boolean => {
    if (!s.hostKeyChecking) return true;
    const v = checkHostKey(entries, name, key);
    if (v.status === 'ok') return true;
    const fp = fingerprint(key);
    const type = keyTypeOf(key) ?? 'unknown type';
    const file = knownFiles[0]!;
    if (v.status === 'unknown') {
      const other = v.otherTypes.length ? ` (known_hosts has only ${v.otherTypes.join(', ')} keys for ${name})` : '';
      result.error = new RunbookError(
        'host_key',
        `${where}: host key unknown, ${fp} (${type})${other}; add it to ${file} or set ansible_host_key_checking=false`,
        { host },
      );
    } else if (v.status === 'changed') {
      const at = v.entries.map((e) => `${e.file}:${e.line}`).join(', ');
      result.error = new RunbookError(
        'host_key',
        `${where}: host key CHANGED, server presented ${fp} (${type}) but ${at} has ${fingerprint(v.entries[0]!.key)}; possible man-in-the-middle attack (or the host was reinstalled: remove the old entry)`,
        { host },
      );
    } else {
      result.error = new RunbookError(
        'host_key',
        `${where}: host key ${fp} (${type}) is REVOKED at ${v.entry.file}:${v.entry.line}`,
        { host },
      );
    }
    return false;
  };
  result.verify = verify;
  return result;
}

export const SIGNALS: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, ABRT: 6, KILL: 9, SEGV: 11, PIPE: 13, ALRM: 14, TERM: 15, USR1: 10, USR2: 12 };

/**
 * Send a `signal` channel request. ssh2's channel.signal() silently does nothing once our side of the channel is
 * ended (stdin closed), which is always the case here, so go to the protocol object directly. OpenSSH (>= 7.9)
 * delivers it with killpg() to the session's process group (sshd makes each session a process group leader).
 */
export function sendSignal(client: Client, channel: ClientChannel, name: string): void {
  const ch = channel as unknown as { outgoing?: { id: number; state: string } };
  const proto = (client as unknown as { _protocol?: { signal(id: number, sig: string): void } })._protocol;
  try {
    if (proto && ch.outgoing && (ch.outgoing.state === 'open' || ch.outgoing.state === 'eof')) proto.signal(ch.outgoing.id, name);
    else channel.signal(name);
  } catch {
    /* the channel or connection is already gone */
  }
}
