/**
 * SSH transport: ONE persistent ssh2 connection per host (via node-ssh), reused by every run; each run is one exec
 * channel running `exec /bin/sh -c <quoted script>` (see exec-core.ts for become and stdin).
 *
 * - We open the TCP socket ourselves to set TCP_NODELAY (an exec round trip drops from ~45 ms to a few ms) and TCP
 *   keepalive; ssh2 keepalives (keepaliveInterval x keepaliveCountMax) detect a dead link in bounded time.
 * - The whole connect (TCP + SSH handshake + auth) is bounded by spec.connectTimeoutMs, counted from when it starts:
 *   at most maxHandshakes() connects run at once in the process (default 16, RUNBOOK_MAX_HANDSHAKES), and the time
 *   a connect waits for its turn does not count. With forks 50 on a loaded controller, 50 handshakes at once each
 *   got 1/50 of the CPU and timed out together; now the first 16 finish and the next start.
 * - Host keys are verified against known_hosts (known-hosts.ts) unless spec.hostKeyChecking is false.
 * - At most `maxChannels` (default 8) channels are open at once, below OpenSSH's default MaxSessions of 10.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Client, ClientChannel } from 'ssh2';
import type { NodeSSH } from 'node-ssh';
import { RunbookError } from '../errors.js';
import { Semaphore, StdioDriver, commandLine, prepare, timeoutError, toBuffer } from './exec-core.js';
import {
  defaultKnownHostsFiles,
  knownHostName,
  loadKnownHosts,
  preferredHostKeyAlgorithms,
  type KnownHostEntry,
} from './known-hosts.js';
import type { Connection, ConnectionSpec, ExecResult, RunOptions } from './types.js';
import { ConnectError, happyConnect } from './happy-eyeballs.js';
import { openTunnel } from './jump.js';
import { releaseShared } from './pool.js';
import { SIGNALS, errText, hostKeyCheck, sendSignal } from './ssh-checks.js';

export interface SshTuning {
  /** ssh2 keepalive interval (ms); default 5000 */
  keepaliveIntervalMs?: number;
  /** unanswered keepalives before the link is declared dead; default 3 (so ~15-20 s) */
  keepaliveCountMax?: number;
  /** concurrent channels on the connection; default 8 (OpenSSH MaxSessions defaults to 10) */
  maxChannels?: number;
}

let sshLibPromise: Promise<typeof import('node-ssh')> | undefined;
function loadSshLib(): Promise<typeof import('node-ssh')> {
  sshLibPromise ??= import('node-ssh');
  // a load failure surfaces where the library is awaited; never as an unhandled rejection in the meantime
  sshLibPromise.catch(() => {});
  return sshLibPromise;
}

/** How many SSH connects (TCP + handshake + auth) run at once in this process; RUNBOOK_MAX_HANDSHAKES, default 16. */
const DEFAULT_MAX_HANDSHAKES = 16;
function envMaxHandshakes(): number {
  const n = Number(process.env['RUNBOOK_MAX_HANDSHAKES']);
  return Number.isInteger(n) && n >= 1 ? n : DEFAULT_MAX_HANDSHAKES;
}
let handshakeSlots = new Semaphore(envMaxHandshakes());
let handshakeLimit = envMaxHandshakes();

export function maxHandshakes(): number {
  return handshakeLimit;
}

/** Set the limit of concurrent connects (tests); connects already waiting keep the old queue. Returns the previous limit. */
export function setMaxHandshakes(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RunbookError('config', `the number of concurrent SSH handshakes must be a positive integer, not ${n}`);
  const prev = handshakeLimit;
  handshakeLimit = n;
  handshakeSlots = new Semaphore(n);
  return prev;
}

/** A connect slot: resolves with its release function (idempotent) and how long the caller waited for it. */
async function handshakeSlot(): Promise<{ release: () => void; waitedMs: number }> {
  const sem = handshakeSlots;
  const t0 = Date.now();
  await sem.acquire();
  let done = false;
  return {
    waitedMs: Date.now() - t0,
    release: () => {
      if (done) return;
      done = true;
      sem.release();
    },
  };
}

export class SshConnection implements Connection {
  readonly host: string;
  private _commandCount = 0;
  private ssh: NodeSSH | undefined;
  private client: Client | undefined;
  private opening: Promise<void> | undefined;
  /** why the connection is gone (set once it died after being ready) */
  private lost: string | undefined;
  private lastError: string | undefined;
  /** the shared jump host connection this one is tunnelled through (released on close) */
  private via: SshConnection | undefined;
  /** the address the TCP connection went to (Happy Eyeballs winner; undefined through a jump host) */
  connectedAddress: string | undefined;
  private closing = false;
  private readonly sem: Semaphore;
  private readonly inflight = new Set<(e: RunbookError) => void>();
  private readonly tuning: Required<SshTuning>;

  constructor(
    readonly spec: ConnectionSpec,
    tuning: SshTuning = {},
  ) {
    this.host = spec.host;
    this.tuning = { keepaliveIntervalMs: 5000, keepaliveCountMax: 3, maxChannels: 8, ...tuning };
    this.sem = new Semaphore(this.tuning.maxChannels);
  }

  get commandCount(): number {
    return this._commandCount;
  }

  private where(): string {
    const s = this.spec;
    return s.address === s.host ? `host ${s.host}` : `host ${s.host} (${s.address})`;
  }

  private unreachable(msg: string, cause?: unknown): RunbookError {
    return new RunbookError('unreachable', `${this.where()}: ${msg}`, { host: this.host, cause });
  }

  open(): Promise<void> {
    if (this.client && !this.lost) return Promise.resolve();
    if (!this.opening) {
      this.opening = this.doOpen().finally(() => {
        this.opening = undefined;
      });
    }
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    // a direct connect takes its slot before anything else (the TCP accept already costs the server its sshd
    // start-up); through a jump host, only after the tunnel is open (the jump host's own connect takes a slot
    // of its own, and a connect never holds one while it waits for another)
    const direct = !this.spec.jumpHosts?.length;
    const slot = direct ? await handshakeSlot() : undefined;
    try {
      await this.openConnected(slot);
    } finally {
      slot?.release();
    }
  }

  private async openConnected(directSlot: { release: () => void } | undefined): Promise<void> {
    const s = this.spec;
    const started = Date.now();
    let deadline = started + s.connectTimeoutMs;
    this.closing = false;
    if (this.ssh) {
      // reconnecting after a loss: drop the dead client
      this.ssh.dispose();
      this.ssh = undefined;
      this.client = undefined;
    }

    // the SSH library (node-ssh, ssh2 and its crypto) loads while the TCP connection is being made, not at start-up:
    // runs that reach no host (--syntax-check, --list-*, load errors) never load it (issue 16, ADR 0017)
    const sshLib = loadSshLib();
    // credentials first: a config error should not cost a connection attempt
    let privateKey: string | undefined;
    if (s.privateKeyFile) {
      try {
        privateKey = readFileSync(s.privateKeyFile, 'utf8');
      } catch (e) {
        throw new RunbookError('config', `${this.where()}: cannot read private key file ${s.privateKeyFile}: ${errText(e)}`, {
          host: this.host,
          cause: e,
        });
      }
    }
    const agent = !privateKey && process.env.SSH_AUTH_SOCK ? process.env.SSH_AUTH_SOCK : undefined;

    const name = knownHostName(s.address, s.port);
    const knownFiles = s.knownHostsFile ? [s.knownHostsFile] : defaultKnownHostsFiles();
    let entries: KnownHostEntry[] = [];
    if (s.hostKeyChecking) {
      try {
        entries = await loadKnownHosts(knownFiles);
      } catch (e) {
        throw new RunbookError('config', `${this.where()}: cannot read known_hosts: ${errText(e)}`, { host: this.host, cause: e });
      }
    }

    let sock: net.Socket | Duplex;
    if (s.jumpHosts?.length) {
      if (this.via) await releaseShared(this.via).catch(() => {});
      this.via = undefined;
      const t = await openTunnel(s);
      sock = t.sock;
      this.via = t.via;
    } else sock = await this.connectTcp(deadline);
    const check = hostKeyCheck(s, entries, name, knownFiles, this.where(), this.host);
    const hostVerifier = check.verify;

    const algs = s.hostKeyChecking ? preferredHostKeyAlgorithms(entries, name) : [];
    const ssh = new (await sshLib).NodeSSH();
    // through a jump host: the slot for this handshake; the wait for it is not the host's fault and does not count
    const tunnelSlot = directSlot ? undefined : await handshakeSlot();
    deadline += tunnelSlot?.waitedMs ?? 0;
    try {
      await ssh.connect({
        sock,
        username: s.user,
        ...(privateKey !== undefined ? { privateKey } : {}),
        ...(agent !== undefined ? { agent } : {}),
        ...(s.password !== undefined ? { password: s.password, tryKeyboard: true } : {}),
        readyTimeout: Math.max(1, deadline - Date.now()),
        keepaliveInterval: this.tuning.keepaliveIntervalMs,
        keepaliveCountMax: this.tuning.keepaliveCountMax,
        hostVerifier,
        ...(algs.length ? { algorithms: { serverHostKey: { prepend: algs } as never } } : {}),
      });
    } catch (e) {
      tunnelSlot?.release();
      sock.destroy();
      ssh.dispose();
      if (this.via) {
        const via = this.via;
        this.via = undefined;
        await releaseShared(via).catch(() => {});
      }
      if (check.error) throw check.error;
      const level = (e as { level?: string }).level;
      const elapsed = Date.now() - started - (tunnelSlot?.waitedMs ?? 0);
      if (level === 'client-authentication') {
        const how = [privateKey ? `key ${s.privateKeyFile}` : '', agent ? 'ssh-agent' : '', s.password !== undefined ? 'password' : '']
          .filter(Boolean)
          .join(', ');
        throw this.unreachable(`authentication failed for user ${s.user} (tried: ${how || 'no credentials given'})`, e);
      }
      if (level === 'client-timeout' || /timed out/i.test(errText(e))) {
        throw this.unreachable(
          `SSH handshake timed out after ${elapsed} ms (port ${s.port} accepts TCP but the SSH exchange did not complete)`,
          e,
        );
      }
      throw this.unreachable(`SSH connection to ${s.address}:${s.port} failed: ${errText(e)}`, e);
    }

    tunnelSlot?.release();
    const client = ssh.connection!;
    this.ssh = ssh;
    this.client = client;
    this.lost = undefined;
    this.lastError = undefined;
    client.on('error', (e: Error) => {
      this.lastError = errText(e);
    });
    const onGone = () => {
      if (this.client !== client) return;
      if (!this.lost) this.lost = this.closing ? 'connection closed' : `connection lost (${this.lastError ?? 'closed by the remote side'})`;
      const err = this.unreachable(this.lost);
      for (const reject of [...this.inflight]) reject(err);
    };
    client.on('close', onGone);
    client.on('end', onGone);
  }

  /** TCP connect with Happy Eyeballs (RFC 8305, happy-eyeballs.ts): a dual-stack name tries IPv6 first, IPv4 250 ms later. */
  private async connectTcp(deadline: number): Promise<net.Socket> {
    const s = this.spec;
    let sock: net.Socket;
    try {
      const r = await happyConnect(s.address, s.port, deadline);
      sock = r.sock;
      this.connectedAddress = r.address;
    } catch (e) {
      if (e instanceof ConnectError && e.timedOut) throw this.unreachable(`TCP connect to ${s.address}:${s.port} timed out after ${s.connectTimeoutMs} ms`);
      throw this.unreachable(`cannot connect to ${s.address}:${s.port}: ${errText(e)}`, e);
    }
    sock.setNoDelay(true);
    sock.setKeepAlive(true, 10_000);
    return sock;
  }

  /**
   * A direct-tcpip channel from this host to host:port (for a target behind this jump host). Opens the connection
   * first if needed. Does not count against the exec channel limit (OpenSSH's MaxSessions counts sessions only).
   */
  async forwardOut(host: string, port: number): Promise<ClientChannel> {
    if (!this.client || this.lost) await this.open();
    const client = this.client!;
    return new Promise((resolve, reject) => {
      client.forwardOut('127.0.0.1', 0, host, port, (err, ch) => {
        if (err) reject(this.unreachable(`cannot open a tunnel to ${host}:${port}: ${errText(err)}`, err));
        else resolve(ch);
      });
    });
  }

  async run(script: string, opts: RunOptions = {}): Promise<ExecResult> {
    return this.runInternal(script, opts, true);
  }

  private async runInternal(script: string, opts: RunOptions, killOnTimeout: boolean): Promise<ExecResult> {
    const prep = prepare(this.host, script, opts, this.spec.user);
    const timeoutMs = opts.timeoutMs !== undefined && opts.timeoutMs > 0 ? opts.timeoutMs : undefined;
    const pidMarker = timeoutMs !== undefined && killOnTimeout ? `RUNBOOK-PID-${randomBytes(8).toString('hex')}` : undefined;
    const cmd = commandLine(this.host, prep, pidMarker);
    const input = toBuffer(opts.input);
    if (!this.client) await this.open();
    else if (this.lost) throw this.unreachable(this.lost);
    let timedOut: { error: RunbookError; pid: number | undefined } | undefined;
    await this.sem.acquire();
    try {
      if (this.lost) throw this.unreachable(this.lost);
      this._commandCount++;
      return await this.execOnce(this.client!, cmd, prep, input, timeoutMs, pidMarker, (error, pid) => {
        timedOut = { error, pid };
      });
    } catch (e) {
      if (!timedOut || e !== timedOut.error) throw e;
    } finally {
      this.sem.release();
    }
    // Timed out (our channel slot is free again). The `signal` request only works for non-root logins
    // (OpenSSH refuses it without privilege separation), so also kill the session's process group with a
    // second command, with the same become (a sudo'd process belongs to another user).
    const t = timedOut as { error: RunbookError; pid: number | undefined };
    if (t.pid !== undefined && !this.lost) {
      await this.runInternal(`kill -s KILL -- -${t.pid} 2>/dev/null; exit 0`, { become: opts.become, timeoutMs: 10_000 }, false).catch(() => {});
    }
    throw t.error;
  }

  private execOnce(
    client: Client,
    cmd: string,
    prep: ReturnType<typeof prepare>,
    input: Buffer | undefined,
    timeoutMs: number | undefined,
    pidMarker: string | undefined,
    onTimeout: (e: RunbookError, pid: number | undefined) => void,
  ): Promise<ExecResult> {
    return new Promise<ExecResult>((resolve, reject) => {
      let done = false;
      let channel: ClientChannel | undefined;
      let timer: NodeJS.Timeout | undefined;
      let driver: StdioDriver | undefined;
      const finish = (f: () => void) => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        this.inflight.delete(onLost);
        f();
      };
      const onLost = (e: RunbookError) => finish(() => reject(e));
      this.inflight.add(onLost);
      if (timeoutMs !== undefined && timeoutMs > 0) {
        timer = setTimeout(() => {
          const err = timeoutError(this.host, timeoutMs);
          onTimeout(err, driver?.pid);
          finish(() => reject(err));
          if (channel) {
            sendSignal(client, channel, 'KILL');
            try {
              channel.close();
            } catch {
              /* ignore */
            }
          }
        }, timeoutMs);
      }
      try {
        client.exec(cmd, (err, ch) => {
          if (err) {
            finish(() =>
              reject(this.lost ? this.unreachable(this.lost, err) : this.unreachable(`cannot open an SSH channel: ${errText(err)}`, err)),
            );
            return;
          }
          channel = ch;
          if (done) {
            // timed out or lost before the channel opened
            ch.close();
            return;
          }
          const d = (driver = new StdioDriver(prep, input, ch, pidMarker));
          d.start(ch, ch.stderr);
          let code: number | null = null;
          let signal: string | undefined;
          ch.on('exit', (c: number | null, sig?: string) => {
            code = c;
            if (sig) signal = sig;
          });
          ch.on('close', () => {
            // let a simultaneous connection loss be seen first: no exit status + dead link = unreachable
            setImmediate(() => {
              if (done) return;
              if (code === null && signal === undefined) {
                if (this.lost) return finish(() => reject(this.unreachable(this.lost!)));
              }
              const o = d.output();
              let stderr = o.stderr;
              let c = code ?? 255;
              if (code === null) {
                if (signal) {
                  c = 128 + (SIGNALS[signal] ?? 0);
                  stderr += `${stderr && !stderr.endsWith('\n') ? '\n' : ''}runbook: remote process killed by SIG${signal}\n`;
                } else {
                  stderr += `${stderr && !stderr.endsWith('\n') ? '\n' : ''}runbook: channel closed without an exit status\n`;
                }
              }
              finish(() => resolve({ code: c, stdout: o.stdout, stderr }));
            });
          });
        });
      } catch (e) {
        finish(() => reject(this.unreachable(`cannot start a command: ${errText(e)}`, e)));
        return;
      }
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    const client = this.client;
    if (!client) return;
    await new Promise<void>((resolve) => {
      if (this.lost) return resolve();
      const t = setTimeout(resolve, 2000);
      client.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      client.end();
    });
    this.ssh?.dispose();
    this.client = undefined;
    this.ssh = undefined;
    this.lost = undefined; // a later open() or run() connects again
    if (this.via) {
      const via = this.via;
      this.via = undefined;
      await releaseShared(via);
    }
  }
}
