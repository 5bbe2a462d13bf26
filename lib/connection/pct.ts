/**
 * ansible_connection: pct (also community.proxmox.proxmox_pct_remote): an LXC container on a Proxmox host, which
 * has no SSH server of its own. Every run is `pct exec <vmid> -- /bin/sh -c <script>` on the Proxmox host, over ONE
 * shared SSH connection to that host (pool.ts, keyed by user@address:port), whatever the number of containers.
 *
 * Quoting: the container script is one argv word (`/bin/sh -c SCRIPT`), and the pct command line is built from
 * argv words quoted with q(); the SSH layer quotes that line once more for its own `/bin/sh -c`. Each layer
 * undoes exactly one quoting, so any value without a NUL byte arrives byte-exact. File content travels on stdin,
 * which `pct exec` passes through to the container's shell (the atomic write script reads it from there).
 *
 * become:
 * - on the Proxmox host: pct needs root. When the login user is not root, pct runs under `sudo` (the
 *   `proxmox_become_method` variable: sudo, the default, or none), with `sudo -n` unless a password is given in
 *   `runbook_pct_become_password` (then the sudo password protocol of exec-core.ts, never logged).
 * - inside the container: `pct exec` runs as the container's root, so becoming another user (su or sudo) needs no
 *   password; a become password given for the container is not used.
 *
 * A timeout kills the `pct exec` process group on the Proxmox host (ssh.ts); processes it started inside the
 * container are not in that group and may outlive it.
 */
import { RunbookError } from '../errors.js';
import { prepare } from './exec-core.js';
import { acquireShared, poolKey, releaseShared } from './pool.js';
import { argvScript } from './scripts.js';
import type { SpecExtras } from './ssh-config.js';
import type { SshConnection } from './ssh.js';
import type { Become, Connection, ConnectionSpec, ExecResult, RunOptions } from './types.js';

export class PctConnection implements Connection {
  readonly host: string;
  readonly vmid: string;
  private ssh: SshConnection | undefined;
  private _commandCount = 0;
  private checked = false;

  constructor(readonly spec: ConnectionSpec & SpecExtras) {
    this.host = spec.host;
    const vmid = spec.vmid;
    if (vmid === undefined || vmid === '') {
      throw new RunbookError('config', `host ${spec.host}: connection pct needs proxmox_vmid (the container id on the Proxmox host ${spec.address})`, {
        host: spec.host,
      });
    }
    if (!/^[1-9][0-9]{0,8}$/.test(vmid)) {
      throw new RunbookError('config', `host ${spec.host}: proxmox_vmid must be a container number (100-999999999), got ${JSON.stringify(vmid)}`, {
        host: spec.host,
      });
    }
    this.vmid = vmid;
  }

  get commandCount(): number {
    return this._commandCount;
  }

  /** The pool key of the Proxmox host's shared SSH connection (user@address:port). */
  get proxmoxKey(): string {
    return poolKey(this.spec);
  }

  private hostBecome(): Become | undefined {
    if (this.spec.user === 'root' || this.spec.proxmoxBecomeMethod === 'none') return undefined;
    return {
      method: 'sudo',
      user: 'root',
      ...(this.spec.proxmoxBecomePassword !== undefined ? { password: this.spec.proxmoxBecomePassword } : {}),
    };
  }

  async open(): Promise<void> {
    try {
      await this.openOnce();
    } catch (e) {
      // an unreachable container must not keep the shared Proxmox connection (and the process) alive
      await this.close().catch(() => undefined);
      throw e;
    }
  }

  private async openOnce(): Promise<void> {
    if (!this.ssh) {
      // a neutral label: the connection is shared by every container of this Proxmox host
      this.ssh = acquireShared({ ...this.spec, host: `proxmox:${this.spec.user}@${this.spec.address}`, type: 'ssh' });
    }
    await this.wrap(this.ssh.open());
    if (this.checked) return;
    // one cheap round trip per container and run: a missing or stopped container is "unreachable", like a host
    const r = await this.wrap(this.ssh.run(this.pctLine(['/bin/sh', '-c', 'exit 0']), { timeoutMs: this.spec.connectTimeoutMs, ...this.becomeOpt() }));
    if (r.code !== 0) {
      const why = (r.stderr.trim() || r.stdout.trim() || `exit code ${r.code}`).split('\n').slice(-3).join(' | ');
      throw new RunbookError('unreachable', `host ${this.host}: cannot enter container ${this.vmid} on ${this.spec.address} with pct exec: ${why}`, {
        host: this.host,
      });
    }
    this.checked = true;
  }

  /** errors of the shared Proxmox connection, reworded to name this container's host */
  private async wrap<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (e) {
      if (e instanceof RunbookError && e.host !== this.host) {
        throw new RunbookError(e.code, `host ${this.host} (container ${this.vmid}): via ${e.message}`, { host: this.host, cause: e });
      }
      throw e;
    }
  }

  private becomeOpt(): { become?: Become } {
    const b = this.hostBecome();
    return b ? { become: b } : {};
  }

  private pctLine(argv: string[]): string {
    return argvScript(['pct', 'exec', this.vmid, '--', ...argv]);
  }

  async run(script: string, opts: RunOptions = {}): Promise<ExecResult> {
    // inside the container we are root: become needs no password there
    const b = opts.become ? { method: opts.become.method, user: opts.become.user } : undefined;
    const inner = prepare(this.host, script, { ...(opts.env ? { env: opts.env } : {}), ...(b ? { become: b } : {}) }, 'root');
    if (!this.ssh || !this.checked) await this.open();
    this._commandCount++;
    return this.wrap(
      this.ssh!.run(this.pctLine(inner.argv), {
        ...(opts.input !== undefined ? { input: opts.input } : {}),
        ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
        ...this.becomeOpt(),
      }),
    );
  }

  async close(): Promise<void> {
    const ssh = this.ssh;
    this.ssh = undefined;
    this.checked = false;
    if (ssh) await releaseShared(ssh);
  }
}
