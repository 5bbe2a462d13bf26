/**
 * Happy Eyeballs v2 (RFC 8305) for the SSH transport's TCP connect: resolve every address of a name, order them
 * IPv6 first and interleave the families, start the first attempt at once and each next one 250 ms later (or at
 * once when the previous attempt failed), keep every started attempt running, take the first that connects and
 * close the rest. A v6-only host, or one whose IPv4 address is dead, connects in about the time of one good
 * attempt instead of waiting for the dead address's timeout.
 *
 * Why not Node's own `autoSelectFamily`: it orders by the family of the first address the resolver returns (not
 * IPv6 first), and on each attempt timeout it *aborts* the attempt in progress instead of racing it, so a slow but
 * working IPv6 path (SYN-ACK after > 250 ms) next to a dead IPv4 address never connects. See ADR "reach".
 *
 * Test hook: RUNBOOK_HOSTS_FILE names a hosts(5)-format file consulted before the system resolver (the controller
 * resolves names; lab hosts have no DNS), so tests can give a name both AAAA and A records.
 */
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { RunbookError } from '../errors.js';

export interface Addr {
  address: string;
  family: 4 | 6;
}

export interface HappyResult {
  sock: net.Socket;
  /** the address that won */
  address: string;
  /** every address tried, in start order */
  tried: string[];
}

export const ATTEMPT_DELAY_MS = 250;

function hostsFileLookup(name: string, file: string): Addr[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: Addr[] = [];
  const want = name.toLowerCase();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [addr, ...names] = line.split(/\s+/);
    const fam = net.isIP(addr!);
    if (fam && names.some((n) => n.toLowerCase() === want)) out.push({ address: addr!, family: fam as 4 | 6 });
  }
  return out;
}

/** All addresses of name: an IP literal as is, else the RUNBOOK_HOSTS_FILE hook, else the system resolver. */
export async function resolveAll(name: string): Promise<Addr[]> {
  const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  const fam = net.isIP(bare);
  if (fam) return [{ address: bare, family: fam as 4 | 6 }];
  const file = process.env['RUNBOOK_HOSTS_FILE'];
  if (file) {
    const hit = hostsFileLookup(bare, file);
    if (hit.length) return hit;
  }
  const all = await lookup(bare, { all: true, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family as 4 | 6 }));
}

/** RFC 8305 section 4: IPv6 first, then alternate families; duplicates removed. */
export function sortAddresses(addrs: Addr[]): Addr[] {
  const seen = new Set<string>();
  const v6: Addr[] = [];
  const v4: Addr[] = [];
  for (const a of addrs) {
    if (seen.has(a.address)) continue;
    seen.add(a.address);
    (a.family === 6 ? v6 : v4).push(a);
  }
  const out: Addr[] = [];
  for (let i = 0; i < Math.max(v6.length, v4.length); i++) {
    if (v6[i]) out.push(v6[i]!);
    if (v4[i]) out.push(v4[i]!);
  }
  return out;
}

export class ConnectError extends RunbookError {
  constructor(
    message: string,
    readonly timedOut: boolean,
    readonly errors: { address: string; error: Error }[],
  ) {
    super('connect', message);
    this.name = 'ConnectError';
  }
}

/**
 * Race TCP connects to the addresses (in the given order), staggered by delayMs. Resolves with the winning socket;
 * rejects with a ConnectError when every attempt failed or the deadline (epoch ms) passed.
 */
export function raceConnect(addrs: Addr[], port: number, deadline: number, delayMs = ATTEMPT_DELAY_MS): Promise<HappyResult> {
  return new Promise((resolve, reject) => {
    if (addrs.length === 0) return reject(new ConnectError('no addresses', false, []));
    const socks: net.Socket[] = [];
    const errors: { address: string; error: Error }[] = [];
    const tried: string[] = [];
    let next = 0;
    let done = false;
    let stagger: NodeJS.Timeout | undefined;
    const overall = setTimeout(() => finish(new ConnectError('timed out', true, errors)), Math.max(1, deadline - Date.now()));
    const finish = (r: HappyResult | ConnectError) => {
      if (done) return;
      done = true;
      clearTimeout(overall);
      if (stagger) clearTimeout(stagger);
      for (const s of socks) if (r instanceof ConnectError || s !== r.sock) s.destroy();
      if (r instanceof ConnectError) reject(r);
      else resolve(r);
    };
    const start = () => {
      if (done || next >= addrs.length) return;
      if (stagger) clearTimeout(stagger);
      const a = addrs[next++]!;
      tried.push(a.address);
      const sock = net.connect({ host: a.address, port, family: a.family });
      socks.push(sock);
      sock.once('connect', () => {
        sock.removeAllListeners('error');
        sock.on('error', () => {}); // the caller attaches its own handlers; keep a late error from crashing meanwhile
        finish({ sock, address: a.address, tried });
      });
      sock.once('error', (e) => {
        sock.destroy();
        errors.push({ address: a.address, error: e });
        if (errors.length === addrs.length) return finish(new ConnectError(errors.map((x) => `${x.address}: ${x.error.message}`).join('; '), false, errors));
        start(); // a failed attempt starts the next one at once (no-op when all have started)
      });
      if (next < addrs.length) stagger = setTimeout(start, delayMs);
    };
    start();
  });
}

/** Resolve name and race its addresses (RFC 8305). */
export async function happyConnect(name: string, port: number, deadline: number, delayMs = ATTEMPT_DELAY_MS): Promise<HappyResult> {
  const addrs = sortAddresses(await resolveAll(name));
  return raceConnect(addrs, port, deadline, delayMs);
}
