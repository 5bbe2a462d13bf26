/**
 * Jump hosts (OpenSSH ProxyJump): `[user@]host[:port]` entries, outermost first. The target's TCP stream is a
 * `direct-tcpip` channel (ssh2 forwardOut) on the SSH connection to the last jump host, which itself is reached
 * through the ones before it; no ssh binary is involved. Jump connections come from the shared pool (pool.ts), so
 * several targets behind one bastion share its connection.
 *
 * Each jump host is a full SshConnection: its host key is verified against the same known_hosts as the target's,
 * it uses the ssh config (HostName, User, Port, IdentityFile) for its alias, else the target's key file and the
 * local user name (as OpenSSH does for a jump host without a user), and the target's connect timeout.
 */
import type { Duplex } from 'node:stream';
import * as os from 'node:os';
import { RunbookError } from '../errors.js';
import { acquireShared, releaseShared } from './pool.js';
import { sshConfigFor, type SpecExtras } from './ssh-config.js';
import type { SshConnection } from './ssh.js';
import type { ConnectionSpec } from './types.js';

export interface JumpHost {
  user?: string;
  host: string;
  port?: number;
}

/** `[user@]host[:port]`, `[user@][v6addr]:port`; an ssh:// URI form too. */
export function parseJump(text: string, forHost: string): JumpHost {
  let s = text.trim();
  if (s.startsWith('ssh://')) s = s.slice(6).replace(/\/$/, '');
  const at = s.lastIndexOf('@');
  const user = at >= 0 ? s.slice(0, at) : undefined;
  const rest = at >= 0 ? s.slice(at + 1) : s;
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
  } else {
    const m = /^([^:\s]+)(?::(\d+))?$/.exec(rest);
    if (!m) throw new RunbookError('config', `host ${forHost}: invalid jump host ${JSON.stringify(text)} (expected [user@]host[:port])`, { host: forHost });
    host = m[1]!;
    portText = m[2];
  }
  if (user === '' || host === '') throw new RunbookError('config', `host ${forHost}: invalid jump host ${JSON.stringify(text)}`, { host: forHost });
  const port = portText !== undefined ? Number(portText) : undefined;
  if (port !== undefined && !(port >= 1 && port <= 65535)) {
    throw new RunbookError('config', `host ${forHost}: invalid port in jump host ${JSON.stringify(text)}`, { host: forHost });
  }
  return { ...(user !== undefined ? { user } : {}), host, ...(port !== undefined ? { port } : {}) };
}

/** The ConnectionSpec of the last jump host in target's chain (its own jumpHosts = the ones before it). */
export function lastJumpSpec(target: ConnectionSpec & SpecExtras): ConnectionSpec & SpecExtras {
  const chain = target.jumpHosts ?? [];
  if (chain.length === 0) throw new RunbookError('internal', `host ${target.host}: no jump hosts`);
  const raw = chain[chain.length - 1]!;
  const j = parseJump(raw, target.host);
  const cfg = sshConfigFor(j.host, target.sshConfigFile, j.user);
  const before = chain.slice(0, -1);
  const viaCfg = before.length === 0 && cfg?.proxyJump ? cfg.proxyJump.split(',') : before;
  return {
    host: `jump:${raw}`,
    type: 'ssh',
    address: cfg?.hostName ?? j.host,
    port: j.port ?? cfg?.port ?? 22,
    user: j.user ?? cfg?.user ?? os.userInfo().username,
    ...(cfg?.identityFiles?.length ? { privateKeyFile: cfg.identityFiles[0] } : target.privateKeyFile ? { privateKeyFile: target.privateKeyFile } : {}),
    ...(target.knownHostsFile ? { knownHostsFile: target.knownHostsFile } : {}),
    hostKeyChecking: target.hostKeyChecking,
    connectTimeoutMs: target.connectTimeoutMs,
    ...(viaCfg.length ? { jumpHosts: viaCfg } : {}),
    ...(target.sshConfigFile ? { sshConfigFile: target.sshConfigFile } : {}),
  };
}

/**
 * Open a direct-tcpip channel to target.address:target.port through target's jump chain. Returns the stream to use
 * as the target's socket and the shared jump connection (release it with releaseShared when the target closes).
 */
export async function openTunnel(target: ConnectionSpec & SpecExtras): Promise<{ sock: Duplex; via: SshConnection }> {
  const via = acquireShared(lastJumpSpec(target));
  try {
    const sock = await via.forwardOut(target.address, target.port);
    return { sock, via };
  } catch (e) {
    await releaseShared(via);
    if (e instanceof RunbookError && e.host !== target.host) {
      throw new RunbookError(e.code, `host ${target.host}: via ${e.message}`, { host: target.host, cause: e });
    }
    throw e;
  }
}
