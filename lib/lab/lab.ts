// The test lab: real OpenSSH servers, each in its own network namespace, optionally with a v6-only "internet"
// and per-host podman state. See docs/lab.md for the topology and the address plan.
//
// This file is the facade (the Lab class and everything other code imports from lib/lab/lab.js). The parts:
//   layout.ts    where labs live, names, the address plan, the records tying them together
//   network.ts   namespaces, veths, addresses, routes (iproute2), processes in a namespace
//   slots.ts     claiming a lab name and a slot
//   teardown.ts  removing a lab, and leftovers of interrupted runs
//   config.ts    the text of sshd_config, containers.conf, the anchor's init script, ...
//   host.ts      one host: LabHost, and HostRuntime (its namespace, anchor, sshd)
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { APT_PROXY_PORT, APT_PROXY_SERVER, aptProxyConf, aptSourceHosts } from './apt-proxy.js';
import { HTTP_SERVER } from './config.js';
import { HostRuntime, type LabExecResult, type LabHost } from './host.js';
import {
  MAX_HOSTS,
  UPLINK_IF,
  hostNs,
  internetNs,
  labDirOf,
  v4Host,
  v4Root,
  v6Host,
  v6Internet,
  validateName,
  type LabState,
} from './layout.js';
import { addInternetNetns, ensureUnreachableRoutes } from './network.js';
import { LabError, mapLimit, must, waitFor } from './proc.js';
import { ensureRootfs, ROOTFS_DIR } from './rootfs.js';
import { allocateSlot, claimLabDir } from './slots.js';
import { destroyLeftovers, destroyOwnLab, teardownLab } from './teardown.js';

export { LabError } from './proc.js';
export { ensureRootfs, releaseRootfs, ROOTFS_DIR } from './rootfs.js';
export { LAB_ROOT, LABS_DIR, SLOTS_DIR, MAX_HOSTS, MAX_SLOT, LAB_V4_RANGE, LAB_V6_RANGE } from './layout.js';
export { ensureUnreachableRoutes } from './network.js';
export { destroyLab, destroyLeftovers, listLabs } from './teardown.js';
export type { LabHost, LabExecResult } from './host.js';

export interface LabOptions {
  name: string;
  hosts: number;
  internet?: boolean;
  podman?: boolean;
  /** Keep the lab when the creating process exits (bin/lab.js up); otherwise a dead creator makes it a leftover. */
  persistent?: boolean;
  /**
   * root's login shell inside the hosts (e.g. '/bin/sh'): written into a private /etc/netns/NS/passwd, which
   * `ip netns exec` binds over /etc/passwd. The machine's root shell (bash) sources ~/.bashrc for every SSH command,
   * which costs ~115 ms per command here (pyenv); the benchmark uses '/bin/sh' so it measures the tools, not that.
   */
  shell?: string;
  /**
   * A copy-on-write /etc per host: an overlay (lower: the machine's /etc, upper: the host's slot dir) mounted on /etc
   * in the host's mount namespace, with the /etc/netns/NS binds made again on top. Writes and renames in the host's
   * /etc (e.g. relinking /etc/localtime) never reach the machine's. Bind-mounting single files cannot do that for
   * /etc/localtime: it is a symlink, and a bind mount follows it onto the zone file.
   */
  privateEtc?: boolean;
  /**
   * A private copy-on-write view of the machine's whole filesystem per host (default true): every top-level
   * directory but /proc, /sys, /dev, /run and /tmp is an overlay in the host's mount namespace (lower: the
   * machine's, upper: the host's slot dir), so whatever a playbook writes there (/etc, /usr, /opt, /var/lib/dpkg,
   * apt installs) stays in that host. /etc/netns and /var/lib/runbook-lab stay the machine's (lab plumbing).
   * See lib/lab/privateroot.ts and docs/lab.md. false: hosts write to the machine's files (as before), except for
   * the /etc/netns views and, with privateEtc, /etc.
   */
  privateRoot?: boolean;
  /**
   * apt on the hosts reaches the machine's apt sources through a proxy on the machine (lib/lab/apt-proxy.ts): real
   * `apt-get update/install` in the hosts, kept in each host's private root. Needs privateRoot.
   */
  apt?: boolean;
}

export class Lab {
  readonly name: string;
  readonly dir: string;
  readonly hosts: LabHost[];
  readonly keyFile: string;
  readonly knownHostsFile: string;
  readonly inventoryFile: string;
  readonly internetV6?: string;
  readonly internetNs?: string;
  readonly rootfs?: string;
  readonly slot: number;
  readonly podman: boolean;
  /** root's login shell in the hosts when set (LabOptions.shell) */
  readonly shell: string | undefined;
  /** each host has a copy-on-write /etc (LabOptions.privateEtc) */
  readonly privateEtc: boolean;
  /** each host has a copy-on-write view of the whole filesystem (LabOptions.privateRoot, default true) */
  readonly privateRoot: boolean;
  /** apt on the hosts goes through the lab's apt proxy (LabOptions.apt) */
  readonly apt: boolean;
  private readonly runtimes: HostRuntime[];
  private destroying?: Promise<void>;

  private constructor(init: {
    name: string;
    dir: string;
    slot: number;
    hosts: LabHost[];
    internetV6?: string;
    internetNs?: string;
    rootfs?: string;
    podman: boolean;
    shell?: string;
    privateEtc?: boolean;
    privateRoot: boolean;
    apt?: boolean;
  }) {
    this.name = init.name;
    this.dir = init.dir;
    this.slot = init.slot;
    this.hosts = init.hosts;
    this.keyFile = path.join(init.dir, 'id_ed25519');
    this.knownHostsFile = path.join(init.dir, 'known_hosts');
    this.inventoryFile = path.join(init.dir, 'inventory.yml');
    this.podman = init.podman;
    if (init.internetV6) this.internetV6 = init.internetV6;
    if (init.internetNs) this.internetNs = init.internetNs;
    if (init.rootfs) this.rootfs = init.rootfs;
    this.shell = init.shell;
    this.privateEtc = !!init.privateEtc;
    this.privateRoot = init.privateRoot;
    this.apt = !!init.apt;
    const ctx = {
      labName: this.name,
      labDir: this.dir,
      slot: this.slot,
      privateEtc: this.privateEtc,
      privateRoot: this.privateRoot,
      ...(this.internetNs ? { internetNs: this.internetNs } : {}),
      ...(this.shell !== undefined ? { shell: this.shell } : {}),
    };
    this.runtimes = this.hosts.map((h, i) => new HostRuntime(h, i + 1, ctx));
  }

  static async create(opts: LabOptions): Promise<Lab> {
    validateName(opts.name);
    if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > MAX_HOSTS) {
      throw new LabError(`hosts must be an integer from 1 to ${MAX_HOSTS}, got ${opts.hosts}`);
    }
    if (opts.apt && opts.privateRoot === false) throw new LabError('apt: true needs the private root (privateRoot)');
    if (process.getuid?.() !== 0) throw new LabError('the lab needs root (network namespaces, sshd)');
    await ensureUnreachableRoutes();
    await destroyLeftovers(opts.name);
    const owner = await claimLabDir(opts.name, !!opts.persistent, teardownLab);
    const dir = labDirOf(opts.name);
    let slot: number;
    try {
      slot = allocateSlot(opts.name, owner.id);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const state: LabState = {
      version: 1,
      id: owner.id,
      name: opts.name,
      slot,
      hosts: opts.hosts,
      internet: !!opts.internet,
      podman: !!opts.podman,
      created: new Date().toISOString(),
    };
    writeFileSync(path.join(dir, 'state.json'), JSON.stringify(state, null, 2) + '\n');

    const hosts: LabHost[] = [];
    for (let i = 1; i <= opts.hosts; i++) {
      const name = `host${i}`;
      const h: LabHost = { name, ns: hostNs(slot, name), address: v4Host(slot, i), port: 22 };
      if (opts.internet) {
        h.globalV6 = v6Host(slot, i);
        h.uplinkIf = UPLINK_IF;
      }
      hosts.push(h);
    }
    const lab = new Lab({
      name: opts.name,
      dir,
      slot,
      hosts,
      podman: !!opts.podman,
      privateEtc: !!opts.privateEtc,
      privateRoot: opts.privateRoot ?? true,
      apt: !!opts.apt,
      ...(opts.shell !== undefined ? { shell: opts.shell } : {}),
      ...(opts.internet ? { internetV6: v6Internet(slot), internetNs: internetNs(slot) } : {}),
      ...(opts.podman ? { rootfs: ROOTFS_DIR } : {}),
    });
    try {
      await lab.build();
    } catch (e) {
      await lab.destroy().catch(() => {});
      throw e;
    }
    return lab;
  }

  private async build(): Promise<void> {
    // sshd's privilege separation directory (normally made by the service manager, absent without systemd).
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    mkdirSync(path.join(this.dir, 'hosts'), { recursive: true });
    const tasks: Promise<unknown>[] = [
      must(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `runbook-lab-${this.name}`, '-f', this.keyFile]),
    ];
    if (this.rootfs) tasks.push(ensureRootfs());
    if (this.internetNs) tasks.push(this.buildInternet());
    await Promise.all(tasks);
    const pub = readFileSync(this.keyFile + '.pub', 'utf8');
    writeFileSync(path.join(this.dir, 'authorized_keys'), pub, { mode: 0o600 });

    const hostKeys = await mapLimit(this.runtimes, 8, (rt) => rt.build());
    // the proxy listens on the root-side veth addresses, which exist once the hosts are built
    if (this.apt) await this.startAptProxy();
    const known = this.hosts.map((h, i) => `${h.address} ${hostKeys[i]}`).join('\n') + '\n';
    writeFileSync(this.knownHostsFile, known);
    writeFileSync(this.inventoryFile, this.inventoryYaml());

    // Wait until every sshd accepts TCP (and the internet server is listening).
    await mapLimit(this.runtimes, 16, (rt) => rt.waitSshd());
    if (this.apt) {
      await mapLimit(this.hosts, 8, async (h, i) => {
        const conf = aptProxyConf(v4Root(this.slot, i + 1));
        const r = await this.exec(h, ['sh', '-c', 'mkdir -p /etc/apt/apt.conf.d && cat > /etc/apt/apt.conf.d/01runbook-lab-proxy'], { input: conf, timeoutMs: 20_000 });
        if (r.code !== 0) throw new LabError(`${h.name}: cannot write its apt proxy setting: ${r.stderr.trim()}`);
      });
    }
    if (this.internetNs) {
      const ready = path.join(this.dir, 'internet', 'ready');
      if (!(await waitFor(() => existsSync(ready), 100, 50))) {
        const log = readFileSync(path.join(this.dir, 'internet', 'http.log'), 'utf8');
        throw new LabError(`the internet HTTP server did not start within 5 s:\n${log}`);
      }
    }
  }

  /** The apt proxy (lib/lab/apt-proxy.ts) on the root-side veth addresses; its pid in apt/proxy.pid for teardown. */
  private async startAptProxy(): Promise<void> {
    const adir = path.join(this.dir, 'apt');
    mkdirSync(adir, { recursive: true });
    const allowed = aptSourceHosts();
    if (allowed.length === 0) throw new LabError('apt: true, but the machine has no http:// apt source in /etc/apt');
    const script = path.join(adir, 'proxy.cjs');
    writeFileSync(script, APT_PROXY_SERVER);
    const ready = path.join(adir, 'ready');
    const addrs = this.hosts.map((_, i) => v4Root(this.slot, i + 1));
    const log = openSync(path.join(adir, 'proxy.log'), 'a');
    try {
      const child = spawn(process.execPath, [script, String(APT_PROXY_PORT), ready, this.hosts.map((h) => h.address).join(','), allowed.join(','), ...addrs], {
        detached: true,
        stdio: ['ignore', log, log],
      });
      child.on('error', () => {});
      if (child.pid) writeFileSync(path.join(adir, 'proxy.pid'), `${child.pid}\n`);
      child.unref();
    } finally {
      closeSync(log);
    }
    if (!(await waitFor(() => existsSync(ready), 200, 50))) {
      throw new LabError(`the apt proxy did not start within 10 s:\n${readFileSync(path.join(adir, 'proxy.log'), 'utf8')}`);
    }
  }

  private async buildInternet(): Promise<void> {
    const ns = this.internetNs!;
    const idir = path.join(this.dir, 'internet');
    mkdirSync(idir, { recursive: true });
    await addInternetNetns(ns, this.internetV6!);
    const script = path.join(idir, 'server.cjs');
    writeFileSync(script, HTTP_SERVER);
    const log = openSync(path.join(idir, 'http.log'), 'a');
    try {
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, script, this.internetV6!, '80', path.join(idir, 'ready')], {
        detached: true,
        stdio: ['ignore', log, log],
      });
      child.on('error', () => {});
      if (child.pid) writeFileSync(path.join(idir, 'http.pid'), `${child.pid}\n`);
      child.unref();
    } finally {
      closeSync(log);
    }
  }

  private runtime(host: LabHost | string): HostRuntime {
    return this.runtimes[this.hosts.indexOf(this.host(host))]!;
  }

  host(name: LabHost | string): LabHost {
    const key = typeof name === 'string' ? name : name.name;
    const h = this.hosts.find((x) => x.name === key || x.ns === key || x.address === key);
    if (!h) throw new LabError(`lab ${this.name} has no host ${key}`);
    return h;
  }

  /**
   * Runs argv as root inside the host: its netns and the mount namespace that `ip netns exec` made for it (with
   * the /etc/netns/NS binds), the same one its SSH sessions see. Default timeout 60 s.
   */
  async exec(host: LabHost | string, argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<LabExecResult> {
    return this.runtime(host).exec(argv, opts);
  }

  /**
   * Where the host's own copy of absolute path p is kept on the machine (the upper dir of its private root), or
   * undefined when p is shared with the machine (/tmp, /run, ...: the machine's p is the host's). That file exists
   * only once the host has written p; a deletion shows as a whiteout. To read what the host sees, use readFile().
   */
  hostPath(host: LabHost | string, p: string): string | undefined {
    return this.runtime(host).upperPath(path.resolve('/', p));
  }

  /** The content of file p as the host sees it (read inside its mount namespace). Throws if it cannot be read. */
  async readFile(host: LabHost | string, p: string): Promise<string> {
    const r = await this.exec(host, ['cat', '--', p], { timeoutMs: 20_000 });
    if (r.code !== 0) throw new LabError(`${this.host(host).name}: cannot read ${p}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  inventoryYaml(extraHostVars: Record<string, unknown> = {}): string {
    const hosts: Record<string, Record<string, unknown>> = {};
    for (const h of this.hosts) {
      hosts[h.name] = {
        ansible_host: h.address,
        ansible_port: h.port,
        ansible_user: 'root',
        ansible_ssh_private_key_file: this.keyFile,
        lab_netns: h.ns,
        ...(h.globalV6 ? { lab_global_v6: h.globalV6, lab_uplink_if: h.uplinkIf } : {}),
        ...extraHostVars,
      };
    }
    const vars: Record<string, unknown> = { runbook_known_hosts: this.knownHostsFile };
    if (this.internetV6) vars.lab_internet_v6 = this.internetV6;
    if (this.rootfs) vars.lab_rootfs = this.rootfs;
    return `# runbook lab ${this.name} (slot ${this.slot})\n` + YAML.stringify({ all: { children: { lab: { hosts, vars } } } });
  }

  /** Stops the host's sshd: the listener and every SSH connection it serves (their commands keep running). */
  async stopSshd(host: LabHost | string): Promise<void> {
    await this.runtime(host).stopSshd();
  }

  /**
   * Kills the host's sshd with SIGKILL, the listener and every per-connection sshd (an sshd crash or an OOM kill):
   * the SSH connections drop without a goodbye; the commands they ran lose their stdin/stdout. startSshd() revives it.
   */
  async killSshd(host: LabHost | string): Promise<void> {
    await this.runtime(host).killSshd();
  }

  /** The root-side end of the host's veth (rbl<slot>h<i>): setting it down cuts the host off without a FIN or RST. */
  linkOf(host: LabHost | string): string {
    return this.runtime(host).link;
  }

  /** Takes the host's link down (up = false) or up again: packets vanish silently, as with a pulled cable. */
  async setLink(host: LabHost | string, up: boolean): Promise<void> {
    await must(['ip', 'link', 'set', this.linkOf(host), up ? 'up' : 'down'], { timeoutMs: 10_000 });
  }

  /**
   * A sh command that, run inside the host (over SSH), returns at once and after `delaySec` seconds does what a
   * reboot does to SSH: every sshd of the host (listener and sessions, found by the host's netns) gets SIGTERM, so
   * open connections drop; then sshd is started again (retried for up to 4 s while the port is released).
   * The reboot test's reboot_command.
   */
  restartSshdCommand(host: LabHost | string, delaySec = 1): string {
    return this.runtime(host).restartSshdCommand(delaySec);
  }

  /** Starts the host's sshd again (no-op if it is running) and waits until it accepts TCP. */
  async startSshd(host: LabHost | string): Promise<void> {
    await this.runtime(host).startSshd();
  }

  /** Removes everything the lab made. Idempotent; concurrent calls share one teardown. */
  destroy(): Promise<void> {
    this.destroying ??= destroyOwnLab(this.name, this.slot);
    return this.destroying;
  }
}
