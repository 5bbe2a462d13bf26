// One lab host: what it is (LabHost: name, namespace, addresses) and how it runs on the machine (HostRuntime: its
// namespace and links, /etc/netns view, anchor process, sshd).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ANCHOR_INIT, SSHD, sshdConfig, writeEtcNetns } from './config.js';
import { ANCHOR_COMM, hostSlotDir, readAnchor, rootVeth } from './layout.js';
import { addHostNetns, killAllIn } from './network.js';
import { SHARED_INSIDE, mountPointsOf, privateRootPlan, privateRootScript, rootTops } from './privateroot.js';
import { LabError, must, processComm, run, tcpOpen, waitFor } from './proc.js';

export interface LabHost {
  name: string; // inventory name, e.g. 'host1'
  ns: string; // netns name
  address: string; // IPv4 address sshd listens on (reachable from root namespace)
  port: number; // 22
  globalV6?: string; // host's 'global' IPv6 on its uplink to the internet namespace (when internet: true)
  uplinkIf?: string; // the host-side interface name of that uplink (like enp1s0 on web-arm)
}

export interface LabExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** What a host needs to know about its lab. */
export interface HostContext {
  labName: string;
  labDir: string;
  slot: number;
  internetNs?: string;
  shell?: string;
  /** a copy-on-write view of the machine's whole filesystem (privateroot.ts) */
  privateRoot: boolean;
  /** the same for /etc alone (when not privateRoot) */
  privateEtc: boolean;
}

/** The machine side of lab host number `index` (1-based). */
export class HostRuntime {
  constructor(
    readonly host: LabHost,
    readonly index: number,
    private readonly ctx: HostContext,
  ) {}

  /** The host's files in the lab dir: sshd config, host key, pid and log (hosts/NAME). */
  get dir(): string {
    return path.join(this.ctx.labDir, 'hosts', this.host.name);
  }

  /**
   * Per-host runtime state (anchor pid; podman graphroot, runroot, tmp_dir, events log): slots/SLOT/hI. Podman state
   * goes under the short slot dir, not the lab dir: with a longer prefix (a lab name of 16 characters was enough)
   * podman 4.3 hits the 108-byte unix socket path limit somewhere and `podman run --rm` then hangs 20 s after the
   * container exits ("Exceeded conmon timeout").
   */
  get stateDir(): string {
    return hostSlotDir(this.ctx.slot, this.index);
  }

  /** The root-side end of the host's veth. */
  get link(): string {
    return rootVeth(this.ctx.slot, this.index);
  }

  /** Namespace, links, addresses, /etc/netns, anchor, sshd. Returns the host's public key line. */
  async build(): Promise<string> {
    const h = this.host;
    mkdirSync(this.dir, { recursive: true });
    mkdirSync(this.stateDir, { recursive: true });
    const keygen = must(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `${h.name}@${this.ctx.labName}`, '-f', path.join(this.dir, 'ssh_host_ed25519_key')]);
    keygen.catch(() => {}); // awaited below; this only keeps an early failure from being an unhandled rejection
    writeEtcNetns(h.ns, this.stateDir, this.ctx.shell);
    writeFileSync(path.join(this.dir, 'sshd_config'), sshdConfig(h, this.dir, this.ctx.labDir));
    await addHostNetns(this.ctx.slot, this.index, h, this.ctx.internetNs);
    await keygen;
    const anchor = await this.startAnchor();
    if (this.ctx.privateRoot || this.ctx.privateEtc) await this.makePrivateRoot(anchor);
    await this.spawnSshd();
    const pub = readFileSync(path.join(this.dir, 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(/\s+/);
    return `${pub[0]} ${pub[1]}`;
  }

  /** Starts the host's anchor (see ANCHOR_INIT) and waits until it has exec'd into `sleep` (mounts done). */
  private async startAnchor(): Promise<number> {
    const h = this.host;
    const hdir = this.stateDir;
    const child = spawn('ip', ['netns', 'exec', h.ns, '/bin/sh', '-c', ANCHOR_INIT, 'lab-anchor', 'sleep', 'infinity'], {
      detached: true,
      stdio: 'ignore',
    });
    child.on('error', () => {});
    child.unref();
    const pid = child.pid;
    if (!pid) throw new LabError(`could not start the anchor process of ${h.name}`);
    writeFileSync(path.join(hdir, 'anchor.pid'), `${pid}\n`);
    if (!(await waitFor(() => processComm(pid) === ANCHOR_COMM, 100, 20))) {
      throw new LabError(`the anchor process of ${h.name} did not start (pid ${pid}, comm ${processComm(pid)})`);
    }
    return pid;
  }

  /** Where the host's copy-on-write layers live on the machine: root/{upper,work,stash} in the slot dir. */
  get rootDir(): string {
    return path.join(this.stateDir, 'root');
  }

  /** The top-level directories the host has a private copy-on-write view of (none: []). */
  get privateTops(): string[] {
    this.tops ??= this.ctx.privateRoot ? rootTops() : this.ctx.privateEtc ? ['/etc'] : [];
    return this.tops;
  }
  private tops?: string[];

  /** Mounts the private root (or /etc) in the anchor's mount namespace, where sshd and exec() will run. */
  private async makePrivateRoot(anchor: number): Promise<void> {
    const mounts = mountPointsOf(readFileSync(`/proc/${anchor}/mountinfo`, 'utf8'));
    // Paths as the anchor sees them (its mount namespace), through /proc/PID/root.
    const isDir = (p: string) => {
      try {
        return statSync(`/proc/${anchor}/root${p}`).isDirectory();
      } catch {
        return undefined;
      }
    };
    const plan = privateRootPlan(this.privateTops, mounts, SHARED_INSIDE, isDir);
    const r = await run([...this.enter(), '/bin/sh', '-c', privateRootScript(plan, this.rootDir)], { timeoutMs: 30_000 });
    if (r.code !== 0) throw new LabError(`could not mount the private root of ${this.host.name} (exit ${r.code}): ${r.stderr.trim()}`);
  }

  /**
   * Where the host's own copy of absolute path p is kept on the machine (its overlay's upper dir), if p is in a
   * private directory; the file there exists only once the host has written p (before that the host sees the
   * machine's). undefined: p is shared with the machine (/tmp, /run, ...), so the machine's p is the host's.
   */
  upperPath(p: string): string | undefined {
    const top = this.privateTops.find((t) => p === t || p.startsWith(t + '/'));
    return top === undefined ? undefined : path.join(this.rootDir, 'upper', p.slice(1));
  }

  /** The argv prefix that runs a command in the host's namespaces (net + the anchor's mount namespace). */
  enter(): string[] {
    const pid = readAnchor(this.stateDir);
    if (pid === undefined) throw new LabError(`lab ${this.ctx.labName}: the anchor process of ${this.host.name} is gone (destroyed lab?)`);
    return ['nsenter', '-t', String(pid), '-m', '-n', '--'];
  }

  async exec(argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<LabExecResult> {
    const r = await run([...this.enter(), ...argv], opts);
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  async spawnSshd(): Promise<void> {
    // sshd daemonizes; it (and every session it forks) lives in the anchor's netns and mount namespace.
    await must([...this.enter(), SSHD, '-f', path.join(this.dir, 'sshd_config'), '-E', path.join(this.dir, 'sshd.log')], {
      timeoutMs: 20_000,
    });
  }

  async waitSshd(): Promise<void> {
    const h = this.host;
    if (!(await waitFor(() => tcpOpen(h.address, h.port, 200), 100, 50))) {
      let log = '';
      try {
        log = readFileSync(path.join(this.dir, 'sshd.log'), 'utf8');
      } catch {
        /* none */
      }
      throw new LabError(`sshd of ${h.name} (${h.address}:${h.port}) did not accept connections within 100 tries:\n${log}`);
    }
  }

  async stopSshd(): Promise<void> {
    const h = this.host;
    const isSshd = (p: number) => processComm(p) === 'sshd';
    if (!(await killAllIn(h.ns, 'SIGTERM', isSshd))) throw new LabError(`could not stop sshd of ${h.name}`);
    rmSync(path.join(this.dir, 'sshd.pid'), { force: true });
    if (!(await waitFor(async () => !(await tcpOpen(h.address, h.port, 200)), 40, 50))) {
      throw new LabError(`sshd of ${h.name} still accepts connections after being stopped`);
    }
  }

  async killSshd(): Promise<void> {
    const isSshd = (p: number) => processComm(p) === 'sshd';
    if (!(await killAllIn(this.host.ns, 'SIGKILL', isSshd))) throw new LabError(`could not kill sshd of ${this.host.name}`);
    rmSync(path.join(this.dir, 'sshd.pid'), { force: true });
  }

  async startSshd(): Promise<void> {
    const pidFile = path.join(this.dir, 'sshd.pid');
    let pid = NaN;
    try {
      pid = Number(readFileSync(pidFile, 'utf8').trim());
    } catch {
      /* not running */
    }
    if (!(Number.isInteger(pid) && processComm(pid) === 'sshd')) await this.spawnSshd();
    await this.waitSshd();
  }

  restartSshdCommand(delaySec: number): string {
    const inner = [
      `sleep ${Number(delaySec)}`,
      'me=$(readlink /proc/self/ns/net)',
      'for p in /proc/[0-9]*; do [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$me" ] && [ "$(cat "$p/comm" 2>/dev/null)" = sshd ] && kill "${p#/proc/}"; done',
      `for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do sleep 0.2; ${SSHD} -f ${path.join(this.dir, 'sshd_config')} -E ${path.join(this.dir, 'sshd.log')} && break; done`,
    ].join('; ');
    return `setsid sh -c '${inner}' </dev/null >/dev/null 2>&1 &`;
  }
}
