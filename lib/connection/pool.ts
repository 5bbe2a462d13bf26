/**
 * Per-process cache of SSH connections keyed by `user@address:port` (plus the jump chain, when there is one), so
 * every pct container on one Proxmox host, and every target behind one jump host, shares ONE SSH connection.
 * Reference-counted: the connection closes when its last user releases it.
 *
 * The first spec for a key wins (its key file, known_hosts, timeouts): two inventory entries that reach the same
 * user@address:port with different credentials share the first one's connection.
 */
import { SshConnection } from './ssh.js';
import type { ConnectionSpec } from './types.js';

interface Entry {
  conn: SshConnection;
  refs: number;
}

const pool = new Map<string, Entry>();

export function poolKey(spec: Pick<ConnectionSpec, 'user' | 'address' | 'port' | 'jumpHosts'>): string {
  const base = `${spec.user}@${spec.address.includes(':') ? `[${spec.address}]` : spec.address}:${spec.port}`;
  return spec.jumpHosts?.length ? `${base} via ${spec.jumpHosts.join(',')}` : base;
}

/** The shared connection for spec (not opened yet if new); pair every call with releaseShared(). */
export function acquireShared(spec: ConnectionSpec): SshConnection {
  const key = poolKey(spec);
  let e = pool.get(key);
  if (!e) {
    e = { conn: new SshConnection({ ...spec, type: 'ssh', host: spec.host }), refs: 0 };
    pool.set(key, e);
  }
  e.refs++;
  return e.conn;
}

export async function releaseShared(conn: SshConnection): Promise<void> {
  for (const [key, e] of pool) {
    if (e.conn !== conn) continue;
    if (--e.refs > 0) return;
    pool.delete(key);
    await conn.close();
    return;
  }
}

/** Keys of the connections alive in this process (for tests and diagnostics). */
export function sharedConnections(): string[] {
  return [...pool.keys()];
}
