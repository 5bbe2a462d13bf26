// Teardown: removing a lab (or whatever an interrupted run left) from the machine: podman containers, processes,
// root-side veths, namespaces, /etc/netns dirs, mounts below the lab's dirs, the lab dir and its slot.
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
  IN_PROGRESS_MS,
  LABS_DIR,
  PREFIX,
  SLOTS_DIR,
  ageMs,
  labDirOf,
  nsPrefix,
  nsRe,
  ownerAlive,
  readAnchor,
  readJson,
  readSlotOwner,
  rootVethRe,
  slotDirOf,
  validateName,
  type LabState,
  type Owner,
} from './layout.js';
import { deleteLinksAndNetns, killAllIn, listLinks, listNetns, netnsPids } from './network.js';
import { mapLimit, processComm, run } from './proc.js';
import { mountPoints } from './rootfs.js';

/** Unmounts (lazily) anything mounted below dir, deepest first, so rm -r never walks into a mount. */
async function unmountBelow(dir: string): Promise<void> {
  const below = mountPoints()
    .filter((m) => m.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
  for (const m of below) await run(['umount', '-l', m], { timeoutMs: 10_000 });
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
export async function teardownSlotResources(slot: number): Promise<void> {
  const prefix = nsPrefix(slot);
  const nss = (await listNetns()).filter((n) => n.startsWith(prefix));
  // Podman containers run in their own namespaces; only podman knows them. A leftover one always has a conmon in
  // the host namespace, so ask podman (inside the host's anchor namespaces) only where a conmon is found.
  const slotDir = slotDirOf(slot);
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
  await deleteLinksAndNetns(links, nss);
  if (existsSync('/etc/netns')) {
    for (const e of readdirSync('/etc/netns')) {
      if (e.startsWith(prefix)) rmSync(path.join('/etc/netns', e), { recursive: true, force: true });
    }
  }
}

export async function removeSlotDir(slot: number): Promise<void> {
  const d = slotDirOf(slot);
  await unmountBelow(d);
  rmSync(d, { recursive: true, force: true });
}

/**
 * Ends the lab's apt proxy (lib/lab/apt-proxy.ts), a process in the root namespace that killing the hosts' namespaces
 * does not reach. Only a process whose command line names this lab's proxy script is signalled (a pid read from a
 * file may have been reused).
 */
function stopAptProxy(dir: string): void {
  const script = path.join(dir, 'apt', 'proxy.cjs');
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(dir, 'apt', 'proxy.pid'), 'utf8').trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(script)) return;
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** Tears one lab down by name, whoever owns it. Returns whether anything of it existed. */
export async function teardownLab(name: string): Promise<boolean> {
  const dir = labDirOf(name);
  if (!existsSync(dir)) return false;
  const owner = readJson<Owner>(path.join(dir, 'owner.json'));
  const state = readJson<LabState>(path.join(dir, 'state.json'));
  const slot = state?.slot;
  // Only touch the slot's namespaces if the slot is still ours (it may have been released and reused).
  const slotOwner = slot !== undefined ? readSlotOwner(slot) : undefined;
  const ownsSlot = slot !== undefined && slotOwner?.name === name && (owner === undefined || slotOwner.id === owner.id);
  if (ownsSlot) await teardownSlotResources(slot!);
  stopAptProxy(dir);
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
  await deleteLinksAndNetns(strayLinks, strayNs);
  for (const e of etcs) if (unallocated(e, nsRe)) rmSync(path.join('/etc/netns', e), { recursive: true, force: true });
}

/**
 * Lab.destroy(): tears down the lab called name that was made in slot, unless the name now belongs to another lab
 * (one made after ours was already gone); if only the slot is left, removes that.
 */
export async function destroyOwnLab(name: string, slot: number): Promise<void> {
  const dir = labDirOf(name);
  const owner = readJson<Owner>(path.join(dir, 'owner.json'));
  const state = readJson<LabState>(path.join(dir, 'state.json'));
  if (owner && state && state.slot !== slot) return;
  if (existsSync(dir)) await teardownLab(name);
  else if (readSlotOwner(slot)?.name === name) {
    await teardownSlotResources(slot);
    await removeSlotDir(slot);
  }
}
