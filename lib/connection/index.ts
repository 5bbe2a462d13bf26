/** Facade: create the connection a host's spec asks for. */
import { RunbookError } from '../errors.js';
import { LocalConnection } from './local.js';
import { PctConnection } from './pct.js';
import { SshConnection } from './ssh.js';
import type { Connection, ConnectionSpec } from './types.js';

export function createConnection(spec: ConnectionSpec): Connection {
  switch (spec.type) {
    case 'ssh':
      return new SshConnection(spec, {
        ...(spec.keepaliveIntervalMs !== undefined ? { keepaliveIntervalMs: spec.keepaliveIntervalMs } : {}),
        ...(spec.keepaliveCountMax !== undefined ? { keepaliveCountMax: spec.keepaliveCountMax } : {}),
      });
    case 'local':
      return new LocalConnection(spec.host);
    case 'pct':
      return new PctConnection(spec);
    default:
      throw new RunbookError('config', `host ${spec.host}: unknown connection type ${JSON.stringify((spec as { type: unknown }).type)}`, {
        host: spec.host,
      });
  }
}

export { LocalConnection } from './local.js';
export { SshConnection, type SshTuning } from './ssh.js';
export { PctConnection } from './pct.js';
export { acquireShared, releaseShared, sharedConnections, poolKey } from './pool.js';
export { parseJump } from './jump.js';
export { sshConfigFor, defaultSshConfigFile, type SshConfigHost, type SpecExtras } from './ssh-config.js';
export { happyConnect, resolveAll, sortAddresses, raceConnect } from './happy-eyeballs.js';
export { q, argvScript, envScript, atomicWriteScript, assertNoNul, type AtomicWriteOptions } from './scripts.js';
export {
  checkHostKey,
  fingerprint,
  hostMatches,
  knownHostName,
  loadKnownHosts,
  parseKnownHosts,
  type HostKeyVerdict,
  type KnownHostEntry,
} from './known-hosts.js';
export type { Connection, ConnectionSpec, ExecResult, RunOptions, Become } from './types.js';
