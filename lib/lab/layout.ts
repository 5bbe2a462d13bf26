// The lab's layout: where labs live on the machine, how their objects are named, the address plan, and the small
// records (owner.json, state.json, a slot's lab file, a host's anchor.pid) that tie them together.
// Everything else in lib/lab builds on this file; it imports nothing from the lab but proc.ts.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { LabError, processAlive, processComm } from './proc.js';

export const LAB_ROOT = '/run/runbook-lab';
export const LABS_DIR = path.join(LAB_ROOT, 'labs');
export const SLOTS_DIR = path.join(LAB_ROOT, 'slots');
export const MAX_HOSTS = 60;
export const MAX_SLOT = 255;
/** Every lab address is in these ranges (IPv4: RFC 2544 benchmarking; IPv6: documentation prefix). */
export const LAB_V4_RANGE = '198.18.0.0/15';
export const LAB_V6_RANGE = '2001:db8::/32';
/** Every lab object (netns, root-side veth, /etc/netns dir) starts with this and its slot number. */
export const PREFIX = 'rbl';
export const HOST_IF = 'eth0';
export const UPLINK_IF = 'enp1s0';
/** In-progress marks (a lab dir without owner, a slot without lab file) younger than this are left alone. */
export const IN_PROGRESS_MS = 60_000;
/** The comm of a host's anchor process (see host.ts). */
export const ANCHOR_COMM = 'sleep';

export const nsPrefix = (slot: number) => `${PREFIX}${slot}-`;
export const hostNs = (slot: number, name: string) => `${PREFIX}${slot}-${name}`;
export const internetNs = (slot: number) => `${PREFIX}${slot}-internet`;
export const rootVeth = (slot: number, i: number) => `${PREFIX}${slot}h${i}`; // <= 9 chars
export const rootVethRe = /^rbl(\d+)h\d+$/;
export const nsRe = /^rbl(\d+)-/;
export const v4Root = (slot: number, i: number) => `198.18.${slot}.${4 * (i - 1) + 1}`;
export const v4Host = (slot: number, i: number) => `198.18.${slot}.${4 * (i - 1) + 2}`;
const hex = (n: number) => n.toString(16);
export const v6Host = (slot: number, i: number) => `2001:db8:${hex(slot)}:${hex(i)}::2`;
export const v6Gateway = (slot: number, i: number) => `2001:db8:${hex(slot)}:${hex(i)}::1`;
export const v6Internet = (slot: number) => `2001:db8:ffff:${hex(slot)}::80`;
export const labDirOf = (name: string) => path.join(LABS_DIR, name);
export const slotDirOf = (slot: number) => path.join(SLOTS_DIR, String(slot));
/** Per-host runtime state of host number i (anchor pid, podman state, private root): slots/SLOT/hI. */
export const hostSlotDir = (slot: number, i: number) => path.join(slotDirOf(slot), `h${i}`);

/** owner.json of a lab dir: who made the lab (pid + start time), or that it is persistent. */
export interface Owner {
  id: string;
  pid: number;
  start: string;
  persistent: boolean;
}

/** state.json of a lab dir. */
export interface LabState {
  version: 1;
  id: string;
  name: string;
  slot: number;
  hosts: number;
  internet: boolean;
  podman: boolean;
  created: string;
}

export function validateName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/.test(name)) {
    throw new LabError(`invalid lab name ${JSON.stringify(name)}: use 1-40 of [A-Za-z0-9_.-], starting with a letter or digit`);
  }
}

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export function ageMs(p: string): number {
  try {
    return Date.now() - statSync(p).mtimeMs;
  } catch {
    return Infinity;
  }
}

export function ownerAlive(o: Owner): boolean {
  return processAlive(o.pid, o.start);
}

/** The lab (name and id) that slot belongs to, from slots/SLOT/lab. */
export function readSlotOwner(slot: number): { name: string; id: string } | undefined {
  const text = (() => {
    try {
      return readFileSync(path.join(slotDirOf(slot), 'lab'), 'utf8');
    } catch {
      return undefined;
    }
  })();
  if (text === undefined) return undefined;
  const [name, id] = text.trim().split('\n');
  return name && id ? { name, id } : undefined;
}

/** The anchor pid of host dir hdir (slots/SLOT/hI), if that process is alive and still the anchor. */
export function readAnchor(hdir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(hdir, 'anchor.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && processComm(pid) === ANCHOR_COMM ? pid : undefined;
  } catch {
    return undefined;
  }
}
