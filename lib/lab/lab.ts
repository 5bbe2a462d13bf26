// The test lab: real OpenSSH servers, each in its own network namespace, optionally with a v6-only "internet"
// and per-host podman state. See docs/lab.md for the topology and the address plan.
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import {
  LabError,
  mapLimit,
  must,
  processAlive,
  processComm,
  processStartTime,
  run,
  sleep,
  tcpOpen,
  waitFor,
} from './proc.js';
import { ensureRootfs, mountPoints, ROOTFS_DIR } from './rootfs.js';

export { LabError } from './proc.js';
export { ensureRootfs, releaseRootfs, ROOTFS_DIR } from './rootfs.js';

export interface LabHost {
  name: string; // inventory name, e.g. 'host1'
  ns: string; // netns name
  address: string; // IPv4 address sshd listens on (reachable from root namespace)
  port: number; // 22
  globalV6?: string; // host's 'global' IPv6 on its uplink to the internet namespace (when internet: true)
  uplinkIf?: string; // the host-side interface name of that uplink (like enp1s0 on web-arm)
}

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
}

export interface LabExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

// ---- constants: where labs live, how things are named, the address plan ----

export const LAB_ROOT = '/run/runbook-lab';
export const LABS_DIR = path.join(LAB_ROOT, 'labs');
export const SLOTS_DIR = path.join(LAB_ROOT, 'slots');
export const MAX_HOSTS = 60;
export const MAX_SLOT = 255;
/** Every lab object (netns, root-side veth, /etc/netns dir) starts with this and its slot number. */
const PREFIX = 'rbl';
const SSHD = '/usr/sbin/sshd';
const SFTP_SERVER = '/usr/lib/openssh/sftp-server';
const HOST_IF = 'eth0';
const UPLINK_IF = 'enp1s0';
/** In-progress marks (a lab dir without owner, a slot without lab file) younger than this are left alone. */
const IN_PROGRESS_MS = 60_000;

/**
 * Each host has one long-lived "anchor" process (`sleep infinity`) started with `ip netns exec NS`, so it lives in
 * the host's netns and in the mount namespace `ip netns exec` made (with the /etc/netns/NS/* bind mounts and its
 * own /sys). sshd (hence every SSH session) and exec() join the anchor's namespaces with nsenter, so they all share
 * one mount namespace per host. That matters for podman: it bind-mounts container netns files under /run/netns in
 * its own mount namespace, and a later podman command (or `podman rm`) started with a fresh `ip netns exec` would
 * not see them ("unknown FS magic"), leaking them.
 *
 * `ip netns exec` remounts /sys, which leaves /sys/fs/cgroup an empty sysfs directory; crun then refuses to start
 * ("invalid file system type on '/sys/fs/cgroup'"), so the anchor mounts cgroup2 there first.
 *
 * Each host also gets its own /run/lock (a small tmpfs), as a real machine has: runbook's per-host run lock lives
 * there, and hosts sharing the root's /run/lock would lock each other out.
 */
const ANCHOR_INIT =
  'mountpoint -q /sys/fs/cgroup || mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null; ' +
  'mkdir -p /run/lock && mount -t tmpfs -o mode=1777,size=1m lab-run-lock /run/lock; exec "$@"';
const ANCHOR_COMM = 'sleep';
/** LabOptions.privateEtc: run first by the anchor (with RBL_PRIVATE_ETC = a dir of the host, RBL_NS = its netns). */
const PRIVATE_ETC_INIT =
  'if [ -n "$RBL_PRIVATE_ETC" ]; then d=$RBL_PRIVATE_ETC; mkdir -p "$d/real" "$d/upper" "$d/work" && ' +
  'mount --bind /etc "$d/real" && mount -t overlay -o "lowerdir=/etc,upperdir=$d/upper,workdir=$d/work" lab-etc /etc && ' +
  'for e in "$d/real/netns/$RBL_NS"/*; do [ ! -e "$e" ] || mount --bind "$e" "/etc/${e##*/}" || exit 1; done || exit 1; fi; ';

const nsPrefix = (slot: number) => `${PREFIX}${slot}-`;
const hostNs = (slot: number, name: string) => `${PREFIX}${slot}-${name}`;
const internetNs = (slot: number) => `${PREFIX}${slot}-internet`;
const rootVeth = (slot: number, i: number) => `${PREFIX}${slot}h${i}`; // <= 9 chars
const rootVethRe = /^rbl(\d+)h\d+$/;
const nsRe = /^rbl(\d+)-/;
const v4Root = (slot: number, i: number) => `198.18.${slot}.${4 * (i - 1) + 1}`;
const v4Host = (slot: number, i: number) => `198.18.${slot}.${4 * (i - 1) + 2}`;
const hex = (n: number) => n.toString(16);
const v6Host = (slot: number, i: number) => `2001:db8:${hex(slot)}:${hex(i)}::2`;
const v6Gateway = (slot: number, i: number) => `2001:db8:${hex(slot)}:${hex(i)}::1`;
const v6Internet = (slot: number) => `2001:db8:ffff:${hex(slot)}::80`;
const labDirOf = (name: string) => path.join(LABS_DIR, name);
/** Every lab address is in these ranges (IPv4: RFC 2544 benchmarking; IPv6: documentation prefix). */
export const LAB_V4_RANGE = '198.18.0.0/15';
export const LAB_V6_RANGE = '2001:db8::/32';

interface Owner {
  id: string;
  pid: number;
  start: string;
  persistent: boolean;
}

interface LabState {
  version: 1;
  id: string;
  name: string;
  slot: number;
  hosts: number;
  internet: boolean;
  podman: boolean;
  created: string;
}

// ---- small fs helpers ----

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function ageMs(p: string): number {
  try {
    return Date.now() - statSync(p).mtimeMs;
  } catch {
    return Infinity;
  }
}

function ownerAlive(o: Owner): boolean {
  return processAlive(o.pid, o.start);
}

function readSlotOwner(slot: number): { name: string; id: string } | undefined {
  const text = (() => {
    try {
      return readFileSync(path.join(SLOTS_DIR, String(slot), 'lab'), 'utf8');
    } catch {
      return undefined;
    }
  })();
  if (text === undefined) return undefined;
  const [name, id] = text.trim().split('\n');
  return name && id ? { name, id } : undefined;
}

/** Unmounts (lazily) anything mounted below dir, deepest first, so rm -r never walks into a mount. */
async function unmountBelow(dir: string): Promise<void> {
  const below = mountPoints()
    .filter((m) => m.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
  for (const m of below) await run(['umount', '-l', m], { timeoutMs: 10_000 });
}

// ---- ip helpers ----

/**
 * Catch-all `unreachable` routes for the lab's ranges in the root namespace, so that no lab packet ever leaves the
 * machine: the per-host /30 routes on the root-side veths are more specific and win while a link is up; for a host
 * whose link is down (its connected route is gone), a torn-down lab, or an address no lab made, the lookup ends
 * here instead of at the machine's default gateway. `replace` is idempotent and atomic, so concurrent creates
 * agree; the routes are never removed (other labs may exist, and without labs they route nothing anyway).
 */
export async function ensureUnreachableRoutes(): Promise<void> {
  await must(['ip', '-4', 'route', 'replace', 'unreachable', LAB_V4_RANGE], { timeoutMs: 10_000 });
  // A machine without IPv6 has nothing to leak over it.
  if (existsSync('/proc/net/if_inet6')) await must(['ip', '-6', 'route', 'replace', 'unreachable', LAB_V6_RANGE], { timeoutMs: 10_000 });
}

async function listNetns(): Promise<string[]> {
  const r = await run(['ip', 'netns', 'list'], { timeoutMs: 10_000 });
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

async function listLinks(): Promise<string[]> {
  const r = await run(['ip', '-o', 'link', 'show'], { timeoutMs: 10_000 });
  const names: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)/.exec(line);
    if (m) names.push(m[1]!);
  }
  return names;
}

async function netnsPids(ns: string): Promise<number[]> {
  const r = await run(['ip', 'netns', 'pids', ns], { timeoutMs: 10_000 });
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0 && n !== process.pid);
}

async function ipBatch(args: string[], lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  await must(['ip', ...args, '-batch', '-'], { input: lines.join('\n') + '\n', timeoutMs: 20_000 });
}

/** SIGKILLs every process in ns until none is left (bounded: 40 rounds x 50 ms). */
async function killAllIn(ns: string, signal: NodeJS.Signals = 'SIGKILL', filter?: (pid: number) => boolean): Promise<boolean> {
  for (let i = 0; i < 40; i++) {
    const pids = (await netnsPids(ns)).filter((p) => !filter || filter(p));
    if (pids.length === 0) return true;
    for (const p of pids) {
      try {
        process.kill(p, i < 10 ? signal : 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await sleep(50);
  }
  return false;
}

/** The anchor pid of host dir hdir (slots/SLOT/hI), if that process is alive and still the anchor. */
function readAnchor(hdir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(hdir, 'anchor.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && processComm(pid) === ANCHOR_COMM ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Container netns files podman mounted in the mount namespace of pid (under /run/netns). */
function podmanNetnsFiles(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => /^\/run\/netns\/netns-[0-9a-f-]+$/.test(m));
  } catch {
    return [];
  }
}

/** Removes everything of one slot: podman containers, processes, root-side veths, namespaces, /etc/netns dirs. */
async function teardownSlotResources(slot: number): Promise<void> {
  const prefix = nsPrefix(slot);
  const nss = (await listNetns()).filter((n) => n.startsWith(prefix));
  // Podman containers run in their own namespaces; only podman knows them. A leftover one always has a conmon in
  // the host namespace, so ask podman (inside the host's anchor namespaces) only where a conmon is found.
  const slotDir = path.join(SLOTS_DIR, String(slot));
  const anchors = (existsSync(slotDir) ? readdirSync(slotDir) : [])
    .filter((d) => /^h\d+$/.test(d))
    .map((d) => readAnchor(path.join(slotDir, d)))
    .filter((p): p is number => p !== undefined);
  const netnsFiles = new Set(anchors.flatMap(podmanNetnsFiles));
  await mapLimit(nss, 8, async (ns) => {
    const pids = await netnsPids(ns);
    const anchor = anchors.find((a) => pids.includes(a));
    if (anchor && pids.some((p) => processComm(p) === 'conmon')) {
      await run(['nsenter', '-t', String(anchor), '-m', '-n', '--', 'podman', 'rm', '--all', '--force', '--time', '0'], {
        timeoutMs: 30_000,
      });
    }
  });
  await mapLimit(nss, 8, (ns) => killAllIn(ns));
  // Netns files of containers that podman could not remove: mounted only in the (now gone) anchor namespace,
  // they are plain empty files in ours.
  const rootMounts = new Set(mountPoints());
  for (const f of netnsFiles) if (!rootMounts.has(f)) rmSync(f, { force: true });
  const re = new RegExp(`^${PREFIX}${slot}h\\d+$`);
  const links = (await listLinks()).filter((l) => re.test(l));
  // Deleting one end of a veth deletes the pair; do it before deleting the namespaces, whose destruction is async.
  if (links.length) await run(['ip', '-force', '-batch', '-'], { input: links.map((l) => `link del ${l}`).join('\n') + '\n', timeoutMs: 20_000 });
  if (nss.length) await run(['ip', '-force', '-batch', '-'], { input: nss.map((n) => `netns del ${n}`).join('\n') + '\n', timeoutMs: 20_000 });
  if (existsSync('/etc/netns')) {
    for (const e of readdirSync('/etc/netns')) {
      if (e.startsWith(prefix)) rmSync(path.join('/etc/netns', e), { recursive: true, force: true });
    }
  }
}

async function removeSlotDir(slot: number): Promise<void> {
  const d = path.join(SLOTS_DIR, String(slot));
  await unmountBelow(d);
  rmSync(d, { recursive: true, force: true });
}

/** Tears one lab down by name, whoever owns it. Returns whether anything of it existed. */
async function teardownLab(name: string): Promise<boolean> {
  const dir = labDirOf(name);
  if (!existsSync(dir)) return false;
  const owner = readJson<Owner>(path.join(dir, 'owner.json'));
  const state = readJson<LabState>(path.join(dir, 'state.json'));
  const slot = state?.slot;
  // Only touch the slot's namespaces if the slot is still ours (it may have been released and reused).
  const slotOwner = slot !== undefined ? readSlotOwner(slot) : undefined;
  const ownsSlot = slot !== undefined && slotOwner?.name === name && (owner === undefined || slotOwner.id === owner.id);
  if (ownsSlot) await teardownSlotResources(slot!);
  await unmountBelow(dir);
  rmSync(dir, { recursive: true, force: true });
  if (ownsSlot) await removeSlotDir(slot!);
  return true;
}

/** Destroys the lab called name (any owner, live or not). Returns false if there was no such lab. */
export async function destroyLab(name: string): Promise<boolean> {
  validateName(name);
  return teardownLab(name);
}

/** Names of the labs that exist now, with whether their owner is alive (persistent labs count as alive). */
export function listLabs(): { name: string; alive: boolean; persistent: boolean; dir: string }[] {
  if (!existsSync(LABS_DIR)) return [];
  return readdirSync(LABS_DIR).map((name) => {
    const owner = readJson<Owner>(path.join(LABS_DIR, name, 'owner.json'));
    return {
      name,
      persistent: !!owner?.persistent,
      alive: !!owner && (owner.persistent || ownerAlive(owner)),
      dir: path.join(LABS_DIR, name),
    };
  });
}

/**
 * Removes labs left by interrupted runs: lab dirs (whose name starts with prefix, when given) whose creating
 * process is dead, and, always, orphans: slots without their lab, and namespaces / root-side veths / /etc/netns
 * dirs of slots that are not allocated. Persistent labs (bin/lab.js up) are kept unless opts.all is set;
 * opts.all removes every matching lab, live or not.
 */
export async function destroyLeftovers(prefix?: string, opts: { all?: boolean } = {}): Promise<void> {
  // 1. Lab dirs whose owner is gone.
  if (existsSync(LABS_DIR)) {
    for (const name of readdirSync(LABS_DIR)) {
      if (prefix !== undefined && !name.startsWith(prefix)) continue;
      const dir = path.join(LABS_DIR, name);
      const owner = readJson<Owner>(path.join(dir, 'owner.json'));
      let dead: boolean;
      if (opts.all) dead = true;
      else if (!owner) dead = ageMs(dir) > IN_PROGRESS_MS; // being created right now, or a crash before owner.json
      else dead = !owner.persistent && !ownerAlive(owner);
      if (dead) await teardownLab(name);
    }
  }
  // 2. Orphans. List namespaces/links/etc dirs BEFORE reading the slots: anything that a concurrent create makes
  //    after that listing is not in it, and anything in it had its slot dir made before.
  const nss = await listNetns();
  const links = await listLinks();
  const etcs = existsSync('/etc/netns') ? readdirSync('/etc/netns') : [];
  const slots = new Set<number>();
  if (existsSync(SLOTS_DIR)) {
    for (const s of readdirSync(SLOTS_DIR)) {
      const n = Number(s);
      if (!Number.isInteger(n)) continue;
      const so = readSlotOwner(n);
      let orphan: boolean;
      if (!so) orphan = ageMs(path.join(SLOTS_DIR, s)) > IN_PROGRESS_MS;
      else {
        const owner = readJson<Owner>(path.join(labDirOf(so.name), 'owner.json'));
        // A lab dir without owner.json yet is being created; its slot is allocated after owner.json is written.
        orphan = owner ? owner.id !== so.id : !existsSync(labDirOf(so.name));
      }
      if (orphan) {
        await teardownSlotResources(n);
        await removeSlotDir(n);
      } else slots.add(n);
    }
  }
  const unallocated = (name: string, re: RegExp) => {
    const m = re.exec(name);
    return !!m && !slots.has(Number(m[1]));
  };
  const strayNs = nss.filter((n) => unallocated(n, nsRe));
  for (const ns of strayNs) await killAllIn(ns);
  const strayLinks = links.filter((l) => unallocated(l, rootVethRe));
  if (strayLinks.length) await run(['ip', '-force', '-batch', '-'], { input: strayLinks.map((l) => `link del ${l}`).join('\n') + '\n' });
  if (strayNs.length) await run(['ip', '-force', '-batch', '-'], { input: strayNs.map((n) => `netns del ${n}`).join('\n') + '\n' });
  for (const e of etcs) if (unallocated(e, nsRe)) rmSync(path.join('/etc/netns', e), { recursive: true, force: true });
}

function validateName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/.test(name)) {
    throw new LabError(`invalid lab name ${JSON.stringify(name)}: use 1-40 of [A-Za-z0-9_.-], starting with a letter or digit`);
  }
}

/** Makes the lab dir atomically and writes owner.json; throws if a live lab of that name exists. */
async function claimLabDir(name: string, persistent: boolean): Promise<Owner> {
  mkdirSync(LABS_DIR, { recursive: true });
  const dir = labDirOf(name);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      mkdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = readJson<Owner>(path.join(dir, 'owner.json'));
      if (!owner && ageMs(dir) < IN_PROGRESS_MS) throw new LabError(`lab ${name} is being created by another process`);
      if (owner?.persistent) throw new LabError(`lab ${name} exists (kept by \`lab.js up\`); remove it first: node bin/lab.js down ${name}`);
      if (owner && ownerAlive(owner)) throw new LabError(`lab ${name} exists and belongs to live process ${owner.pid}`);
      await teardownLab(name);
      continue;
    }
    const owner: Owner = { id: randomUUID(), pid: process.pid, start: processStartTime(process.pid) ?? '', persistent };
    writeFileSync(path.join(dir, 'owner.json'), JSON.stringify(owner) + '\n');
    return owner;
  }
  throw new LabError(`could not claim lab dir ${dir}`);
}

function allocateSlot(name: string, id: string): number {
  mkdirSync(SLOTS_DIR, { recursive: true });
  for (let n = 1; n <= MAX_SLOT; n++) {
    const d = path.join(SLOTS_DIR, String(n));
    try {
      mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    writeFileSync(path.join(d, 'lab'), `${name}\n${id}\n`);
    return n;
  }
  throw new LabError(`all ${MAX_SLOT} lab slots are in use (see ${SLOTS_DIR}; node bin/lab.js clean)`);
}

function sshdConfig(host: LabHost, hostDir: string, labDir: string): string {
  return [
    `# runbook lab sshd for ${host.name} (netns ${host.ns})`,
    `Port ${host.port}`,
    `ListenAddress ${host.address}`,
    'AddressFamily inet',
    `HostKey ${path.join(hostDir, 'ssh_host_ed25519_key')}`,
    `PidFile ${path.join(hostDir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${path.join(labDir, 'authorized_keys')}`,
    'StrictModes no',
    'UsePAM no',
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
    'AcceptEnv LANG LC_*',
    `Subsystem sftp ${SFTP_SERVER}`,
    '',
  ].join('\n');
}

function containersConf(podmanDir: string): string {
  return [
    '# runbook lab: per-host podman settings (bind-mounted over /etc/containers by `ip netns exec`)',
    '[containers]',
    'cgroups = "disabled"',
    'default_ulimits = ["nofile=1000:1000","nproc=1000:1000"]',
    'log_driver = "k8s-file"',
    '',
    '[network]',
    'network_backend = "netavark"',
    '',
    '[engine]',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `events_logfile_path = "${path.join(podmanDir, 'events.log')}"`,
    // Rootful podman's default lock is one shared-memory segment for the whole machine; per-host podman states
    // must not share it.
    'lock_type = "file"',
    `tmp_dir = "${path.join(podmanDir, 'tmp')}"`,
    '',
  ].join('\n');
}

function storageConf(podmanDir: string): string {
  return [
    '[storage]',
    'driver = "vfs"',
    `graphroot = "${path.join(podmanDir, 'storage')}"`,
    `runroot = "${path.join(podmanDir, 'run')}"`,
    '',
  ].join('\n');
}

/** /etc/netns/NS: private /etc/sysctl.d, /etc/containers and /etc/systemd (with an empty system/) for the host. */
function writeEtcNetns(ns: string, podmanDir: string, shell?: string): void {
  const etc = path.join('/etc/netns', ns);
  rmSync(etc, { recursive: true, force: true });
  mkdirSync(path.join(etc, 'sysctl.d'), { recursive: true });
  mkdirSync(path.join(etc, 'systemd', 'system'), { recursive: true });
  mkdirSync(path.join(etc, 'containers', 'networks'), { recursive: true });
  // /etc/netns/NS/systemd replaces all of /etc/systemd: keep its top-level config files.
  if (existsSync('/etc/systemd')) {
    for (const f of readdirSync('/etc/systemd', { withFileTypes: true })) {
      if (f.isFile()) copyFileSync(path.join('/etc/systemd', f.name), path.join(etc, 'systemd', f.name));
    }
  }
  for (const f of ['policy.json', 'registries.conf']) {
    if (existsSync(path.join('/etc/containers', f))) copyFileSync(path.join('/etc/containers', f), path.join(etc, 'containers', f));
  }
  writeFileSync(path.join(etc, 'containers', 'containers.conf'), containersConf(podmanDir));
  writeFileSync(path.join(etc, 'containers', 'storage.conf'), storageConf(podmanDir));
  if (shell !== undefined) {
    const passwd = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((l) => (l.startsWith('root:') ? l.split(':').slice(0, 6).concat(shell).join(':') : l))
      .join('\n');
    writeFileSync(path.join(etc, 'passwd'), passwd, { mode: 0o644 });
  }
}

const HTTP_SERVER = `'use strict';
// runbook lab "internet": answers every HTTP request with the caller's source address.
const http = require('node:http');
const fs = require('node:fs');
const [addr, port, ready] = process.argv.slice(2);
const server = http.createServer((req, res) => {
  const body = (req.socket.remoteAddress || '') + '\\n';
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
});
server.on('error', (e) => { console.error(e); process.exit(1); });
server.listen(Number(port), addr, () => fs.writeFileSync(ready, String(process.pid)));
`;

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
  }

  static async create(opts: LabOptions): Promise<Lab> {
    validateName(opts.name);
    if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > MAX_HOSTS) {
      throw new LabError(`hosts must be an integer from 1 to ${MAX_HOSTS}, got ${opts.hosts}`);
    }
    if (process.getuid?.() !== 0) throw new LabError('the lab needs root (network namespaces, sshd)');
    await ensureUnreachableRoutes();
    await destroyLeftovers(opts.name);
    const owner = await claimLabDir(opts.name, !!opts.persistent);
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

    const hostKeys = await mapLimit(this.hosts, 8, (h, idx) => this.buildHost(h, idx + 1));
    const known = this.hosts.map((h, i) => `${h.address} ${hostKeys[i]}`).join('\n') + '\n';
    writeFileSync(this.knownHostsFile, known);
    writeFileSync(this.inventoryFile, this.inventoryYaml());

    // Wait until every sshd accepts TCP (and the internet server is listening).
    await mapLimit(this.hosts, 16, (h) => this.waitSshd(h));
    if (this.internetNs) {
      const ready = path.join(this.dir, 'internet', 'ready');
      if (!(await waitFor(() => existsSync(ready), 100, 50))) {
        const log = readFileSync(path.join(this.dir, 'internet', 'http.log'), 'utf8');
        throw new LabError(`the internet HTTP server did not start within 5 s:\n${log}`);
      }
    }
  }

  private async buildInternet(): Promise<void> {
    const ns = this.internetNs!;
    const idir = path.join(this.dir, 'internet');
    mkdirSync(idir, { recursive: true });
    await must(['ip', 'netns', 'add', ns]);
    // No IPv4 besides loopback's 127.0.0.1; the global v6 address lives on lo.
    await ipBatch(['-n', ns], ['link set lo up', `addr add ${this.internetV6}/128 dev lo nodad`]);
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

  /** Namespace, links, addresses, /etc/netns, sshd for host number i. Returns the host's public key line. */
  private async buildHost(h: LabHost, i: number): Promise<string> {
    const hostDir = path.join(this.dir, 'hosts', h.name);
    // Podman state goes under the short slot dir, not the lab dir: with a longer prefix (a lab name of 16
    // characters was enough) podman 4.3 hits the 108-byte unix socket path limit somewhere and
    // `podman run --rm` then hangs 20 s after the container exits ("Exceeded conmon timeout").
    const podmanDir = this.podmanDir(h);
    mkdirSync(hostDir, { recursive: true });
    mkdirSync(podmanDir, { recursive: true });
    const keygen = must(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `${h.name}@${this.name}`, '-f', path.join(hostDir, 'ssh_host_ed25519_key')]);
    keygen.catch(() => {}); // awaited below; this only keeps an early failure from being an unhandled rejection
    writeEtcNetns(h.ns, podmanDir, this.shell);
    writeFileSync(path.join(hostDir, 'sshd_config'), sshdConfig(h, hostDir, this.dir));

    const veth = rootVeth(this.slot, i);
    await must(['ip', 'netns', 'add', h.ns]);
    await must(['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', HOST_IF, 'netns', h.ns]);
    await ipBatch([], [`addr add ${v4Root(this.slot, i)}/30 dev ${veth}`, `link set ${veth} up`]);
    const inNs = ['link set lo up', `addr add ${h.address}/30 dev ${HOST_IF}`, `link set ${HOST_IF} up`];
    if (this.internetNs) {
      inNs.push(
        `link add ${UPLINK_IF} type veth peer name h${i} netns ${this.internetNs}`,
        `addr add ${h.globalV6}/64 dev ${UPLINK_IF} nodad`,
        `link set ${UPLINK_IF} up`,
      );
    }
    await ipBatch(['-n', h.ns], inNs);
    if (this.internetNs) {
      await ipBatch(['-n', this.internetNs], [`addr add ${v6Gateway(this.slot, i)}/64 dev h${i} nodad`, `link set h${i} up`]);
      await ipBatch(['-n', h.ns], [`route add ::/0 via ${v6Gateway(this.slot, i)} dev ${UPLINK_IF}`]);
    }
    await keygen;
    await this.startAnchor(h);
    await this.spawnSshd(h);
    const pub = readFileSync(path.join(hostDir, 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(/\s+/);
    return `${pub[0]} ${pub[1]}`;
  }

  /** Starts the host's anchor (see ANCHOR_INIT) and waits until it has exec'd into `sleep` (mounts done). */
  private async startAnchor(h: LabHost): Promise<number> {
    const hdir = this.podmanDir(h);
    const init = this.privateEtc ? PRIVATE_ETC_INIT + ANCHOR_INIT : ANCHOR_INIT;
    const env = this.privateEtc ? { ...process.env, RBL_PRIVATE_ETC: path.join(hdir, 'etc'), RBL_NS: h.ns } : process.env;
    const child = spawn('ip', ['netns', 'exec', h.ns, '/bin/sh', '-c', init, 'lab-anchor', 'sleep', 'infinity'], {
      detached: true,
      stdio: 'ignore',
      env,
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

  /** The argv prefix that runs a command in the host's namespaces (net + the anchor's mount namespace). */
  private enter(h: LabHost): string[] {
    const pid = readAnchor(this.podmanDir(h));
    if (pid === undefined) throw new LabError(`lab ${this.name}: the anchor process of ${h.name} is gone (destroyed lab?)`);
    return ['nsenter', '-t', String(pid), '-m', '-n', '--'];
  }

  private async spawnSshd(h: LabHost): Promise<void> {
    const hostDir = path.join(this.dir, 'hosts', h.name);
    // sshd daemonizes; it (and every session it forks) lives in the anchor's netns and mount namespace.
    await must([...this.enter(h), SSHD, '-f', path.join(hostDir, 'sshd_config'), '-E', path.join(hostDir, 'sshd.log')], {
      timeoutMs: 20_000,
    });
  }

  private async waitSshd(h: LabHost): Promise<void> {
    if (!(await waitFor(() => tcpOpen(h.address, h.port, 200), 100, 50))) {
      let log = '';
      try {
        log = readFileSync(path.join(this.dir, 'hosts', h.name, 'sshd.log'), 'utf8');
      } catch {
        /* none */
      }
      throw new LabError(`sshd of ${h.name} (${h.address}:${h.port}) did not accept connections within 100 tries:\n${log}`);
    }
  }

  /** Per-host runtime state (anchor pid; podman graphroot, runroot, tmp_dir, events log): slots/SLOT/hI. */
  private podmanDir(h: LabHost): string {
    return path.join(SLOTS_DIR, String(this.slot), `h${this.hosts.indexOf(h) + 1}`);
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
    const h = this.host(host);
    const r = await run([...this.enter(h), ...argv], opts);
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
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
    const h = this.host(host);
    const isSshd = (p: number) => processComm(p) === 'sshd';
    if (!(await killAllIn(h.ns, 'SIGTERM', isSshd))) throw new LabError(`could not stop sshd of ${h.name}`);
    rmSync(path.join(this.dir, 'hosts', h.name, 'sshd.pid'), { force: true });
    if (!(await waitFor(async () => !(await tcpOpen(h.address, h.port, 200)), 40, 50))) {
      throw new LabError(`sshd of ${h.name} still accepts connections after being stopped`);
    }
  }

  /**
   * Kills the host's sshd with SIGKILL, the listener and every per-connection sshd (an sshd crash or an OOM kill):
   * the SSH connections drop without a goodbye; the commands they ran lose their stdin/stdout. startSshd() revives it.
   */
  async killSshd(host: LabHost | string): Promise<void> {
    const h = this.host(host);
    const isSshd = (p: number) => processComm(p) === 'sshd';
    if (!(await killAllIn(h.ns, 'SIGKILL', isSshd))) throw new LabError(`could not kill sshd of ${h.name}`);
    rmSync(path.join(this.dir, 'hosts', h.name, 'sshd.pid'), { force: true });
  }

  /** The root-side end of the host's veth (rbl<slot>h<i>): setting it down cuts the host off without a FIN or RST. */
  linkOf(host: LabHost | string): string {
    return rootVeth(this.slot, this.hosts.indexOf(this.host(host)) + 1);
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
    const h = this.host(host);
    const hostDir = path.join(this.dir, 'hosts', h.name);
    const inner = [
      `sleep ${Number(delaySec)}`,
      'me=$(readlink /proc/self/ns/net)',
      'for p in /proc/[0-9]*; do [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$me" ] && [ "$(cat "$p/comm" 2>/dev/null)" = sshd ] && kill "${p#/proc/}"; done',
      `for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do sleep 0.2; ${SSHD} -f ${path.join(hostDir, 'sshd_config')} -E ${path.join(hostDir, 'sshd.log')} && break; done`,
    ].join('; ');
    return `setsid sh -c '${inner}' </dev/null >/dev/null 2>&1 &`;
  }

  /** Starts the host's sshd again (no-op if it is running) and waits until it accepts TCP. */
  async startSshd(host: LabHost | string): Promise<void> {
    const h = this.host(host);
    const pidFile = path.join(this.dir, 'hosts', h.name, 'sshd.pid');
    const pid = Number(existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : NaN);
    if (!(Number.isInteger(pid) && processComm(pid) === 'sshd')) await this.spawnSshd(h);
    await this.waitSshd(h);
  }

  /** Removes everything the lab made. Idempotent; concurrent calls share one teardown. */
  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      const owner = readJson<Owner>(path.join(this.dir, 'owner.json'));
      const state = readJson<LabState>(path.join(this.dir, 'state.json'));
      // Do not destroy a lab of the same name that someone else made after ours was already gone.
      if (owner && state && state.slot !== this.slot) return;
      if (existsSync(this.dir)) await teardownLab(this.name);
      else {
        const so = readSlotOwner(this.slot);
        if (so?.name === this.name) {
          await teardownSlotResources(this.slot);
          await removeSlotDir(this.slot);
        }
      }
    })();
    return this.destroying;
  }
}
