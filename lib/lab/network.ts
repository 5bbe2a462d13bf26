// The lab's network plumbing with iproute2: namespaces, veths, addresses and routes, and the processes that live
// in a namespace. See docs/lab.md for the topology.
import { existsSync } from 'node:fs';
import { LAB_V4_RANGE, LAB_V6_RANGE, HOST_IF, UPLINK_IF, rootVeth, v4Root, v6Gateway } from './layout.js';
import { must, run, sleep } from './proc.js';

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

export async function listNetns(): Promise<string[]> {
  const r = await run(['ip', 'netns', 'list'], { timeoutMs: 10_000 });
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

export async function listLinks(): Promise<string[]> {
  const r = await run(['ip', '-o', 'link', 'show'], { timeoutMs: 10_000 });
  const names: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)/.exec(line);
    if (m) names.push(m[1]!);
  }
  return names;
}

export async function netnsPids(ns: string): Promise<number[]> {
  const r = await run(['ip', 'netns', 'pids', ns], { timeoutMs: 10_000 });
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0 && n !== process.pid);
}

export async function ipBatch(args: string[], lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  await must(['ip', ...args, '-batch', '-'], { input: lines.join('\n') + '\n', timeoutMs: 20_000 });
}

/** Deletes links (one end of a veth deletes the pair) and then namespaces, ignoring the ones already gone. */
export async function deleteLinksAndNetns(links: string[], nss: string[]): Promise<void> {
  // Delete the veths before the namespaces, whose destruction is async.
  if (links.length) await run(['ip', '-force', '-batch', '-'], { input: links.map((l) => `link del ${l}`).join('\n') + '\n', timeoutMs: 20_000 });
  if (nss.length) await run(['ip', '-force', '-batch', '-'], { input: nss.map((n) => `netns del ${n}`).join('\n') + '\n', timeoutMs: 20_000 });
}

/** SIGKILLs every process in ns until none is left (bounded: 40 rounds x 50 ms). */
export async function killAllIn(ns: string, signal: NodeJS.Signals = 'SIGKILL', filter?: (pid: number) => boolean): Promise<boolean> {
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

/** The internet namespace: no IPv4 besides loopback's 127.0.0.1; its global v6 address lives on lo. */
export async function addInternetNetns(ns: string, v6: string): Promise<void> {
  await must(['ip', 'netns', 'add', ns]);
  await ipBatch(['-n', ns], ['link set lo up', `addr add ${v6}/128 dev lo nodad`]);
}

/**
 * Host number i of slot: its namespace, the veth to the root namespace (root side rblShI with .1 of the host's /30,
 * host side eth0 with address), and with internetNs the v6 uplink enp1s0 (globalV6/64, default route via ::1).
 */
export async function addHostNetns(
  slot: number,
  i: number,
  h: { ns: string; address: string; globalV6?: string },
  internetNs?: string,
): Promise<void> {
  const veth = rootVeth(slot, i);
  await must(['ip', 'netns', 'add', h.ns]);
  await must(['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', HOST_IF, 'netns', h.ns]);
  await ipBatch([], [`addr add ${v4Root(slot, i)}/30 dev ${veth}`, `link set ${veth} up`]);
  const inNs = ['link set lo up', `addr add ${h.address}/30 dev ${HOST_IF}`, `link set ${HOST_IF} up`];
  if (internetNs) {
    inNs.push(
      `link add ${UPLINK_IF} type veth peer name h${i} netns ${internetNs}`,
      `addr add ${h.globalV6}/64 dev ${UPLINK_IF} nodad`,
      `link set ${UPLINK_IF} up`,
    );
  }
  await ipBatch(['-n', h.ns], inNs);
  if (internetNs) {
    await ipBatch(['-n', internetNs], [`addr add ${v6Gateway(slot, i)}/64 dev h${i} nodad`, `link set h${i} up`]);
    await ipBatch(['-n', h.ns], [`route add ::/0 via ${v6Gateway(slot, i)} dev ${UPLINK_IF}`]);
  }
}
