/**
 * Subnet and address arithmetic for module argument validation (podman_network). Pure: no I/O.
 *
 * ip-num does the parsing and range arithmetic. Two things it does not do, done here:
 *  - it accepts a CIDR with host bits set (10.89.0.5/24) silently: rejected here with a suggestion;
 *  - it prints IPv6 uncompressed (fdaa:bbcc:ddee:0:0:0:0:0): output is RFC 5952 (fdaa:bbcc:ddee::).
 * Every value leaving this file is in that normal form, so two spellings of one subnet compare equal as strings.
 */
import { createRequire } from 'node:module';
import { RunbookError } from '../errors.js';

// ip-num (CommonJS, 16 files) loads on the first subnet parsed, not with the module registry at every start
type IpNum = typeof import('ip-num');
let ipNum: IpNum | undefined;
const ip = (): IpNum => (ipNum ??= createRequire(import.meta.url)('ip-num') as IpNum);

export type Family = 4 | 6;

export interface Subnet {
  family: Family;
  /** normal form: `10.89.0.0/24`, `fdaa:bbcc:ddee::/64` */
  cidr: string;
  /** first address (the network address) as a number */
  network: bigint;
  /** last address as a number */
  last: bigint;
  prefix: number;
}

export interface Address {
  family: Family;
  /** normal form: dotted quad, or RFC 5952 IPv6 */
  text: string;
  value: bigint;
}

function bad(msg: string): RunbookError {
  return new RunbookError('bad_argument', msg);
}

/** RFC 5952 text of a 128-bit number: lower case, no leading zeros, the longest run (>= 2) of zero groups as `::`. */
export function formatIPv6(n: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}

export function formatIPv4(n: bigint): string {
  return [24, 16, 8, 0].map((s) => Number((n >> BigInt(s)) & 0xffn)).join('.');
}

function formatAddr(family: Family, n: bigint): string {
  return family === 4 ? formatIPv4(n) : formatIPv6(n);
}

/** Parse an address (no prefix). Throws RunbookError('bad_argument'). */
export function parseAddress(text: string, what = 'address'): Address {
  const s = String(text).trim();
  if (s === '' || s.includes('/')) throw bad(`${what} ${JSON.stringify(text)} is not an IP address`);
  try {
    if (s.includes(':')) {
      if (s.includes('%')) throw new Error('zone index');
      if (/\d+\.\d+\.\d+\.\d+$/.test(s)) throw new Error('embedded IPv4');
      const v = new (ip().IPv6)(s).getValue();
      return { family: 6, value: v, text: formatIPv6(v) };
    }
    if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(s)) throw new Error('not a dotted quad');
    const v = new (ip().IPv4)(s).getValue();
    return { family: 4, value: v, text: formatIPv4(v) };
  } catch (e) {
    if (e instanceof RunbookError) throw e;
    throw bad(`${what} ${JSON.stringify(text)} is not a valid IP address`);
  }
}

/** Normal form of an address: `FDAA:0000::0001` -> `fdaa::1`. */
export function normaliseAddress(text: string): string {
  return parseAddress(text).text;
}

/**
 * Parse a subnet in CIDR notation into its normal form. A CIDR with host bits set is an error that names the
 * network the user probably meant: `10.89.0.5/24` -> "has host bits set; did you mean 10.89.0.0/24?".
 */
export function parseSubnet(text: string, what = 'subnet'): Subnet {
  const s = String(text).trim();
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(s);
  if (!m) throw bad(`${what} ${JSON.stringify(text)} is not in CIDR notation (address/prefix, e.g. 10.89.0.0/24)`);
  const addr = parseAddress(m[1]!, what);
  const prefix = Number(m[2]);
  const bits = addr.family === 4 ? 32 : 128;
  if (prefix > bits) throw bad(`${what} ${JSON.stringify(text)}: prefix /${prefix} is longer than ${bits} bits`);
  let network: bigint;
  let last: bigint;
  try {
    if (addr.family === 4) {
      const r = ip().IPv4CidrRange.fromCidr(`${addr.text}/${prefix}`);
      network = r.getFirst().getValue();
      last = r.getLast().getValue();
    } else {
      // ip-num reads its own uncompressed spelling most reliably
      const r = ip().IPv6CidrRange.fromCidr(`${new (ip().IPv6)(addr.value).toString()}/${prefix}`);
      network = r.getFirst().getValue();
      last = r.getLast().getValue();
    }
  } catch {
    throw bad(`${what} ${JSON.stringify(text)} is not a valid CIDR`);
  }
  const cidr = `${formatAddr(addr.family, network)}/${prefix}`;
  if (network !== addr.value) throw bad(`${what} ${s} has host bits set; did you mean ${cidr}?`);
  return { family: addr.family, cidr, network, last, prefix };
}

/** Normal form of a CIDR (host bits set is an error). */
export function normaliseSubnet(text: string): string {
  return parseSubnet(text).cidr;
}

export function subnetContains(outer: Subnet, inner: Subnet | Address): boolean {
  if (outer.family !== inner.family) return false;
  if ('cidr' in inner) return inner.network >= outer.network && inner.last <= outer.last;
  return inner.value >= outer.network && inner.value <= outer.last;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  if (a.family !== b.family) return false;
  return a.network <= b.last && b.network <= a.last;
}

/** a constant subnet, written out so that loading this file does not load ip-num (test/startup.test.ts checks them) */
function known(family: Family, cidr: string, network: bigint, prefix: number): Subnet {
  const bits = family === 4 ? 32 : 128;
  return { family, cidr, network, last: network + (1n << BigInt(bits - prefix)) - 1n, prefix };
}
export const RFC1918: readonly Subnet[] = [known(4, '10.0.0.0/8', 0x0a000000n, 8), known(4, '172.16.0.0/12', 0xac100000n, 12), known(4, '192.168.0.0/16', 0xc0a80000n, 16)];
export const ULA: Subnet = known(6, 'fd00::/8', 0xfdn << 120n, 8);
/** podman's default bridge network `podman` */
export const PODMAN_DEFAULT_SUBNET: Subnet = known(4, '10.88.0.0/16', 0x0a580000n, 16);

/** Inside one of 10/8, 172.16/12, 192.168/16. */
export function isRfc1918(s: Subnet): boolean {
  return s.family === 4 && RFC1918.some((r) => subnetContains(r, s));
}

/** Inside fd00::/8 (locally assigned unique local addresses, RFC 4193). */
export function isUla(s: Subnet): boolean {
  return s.family === 6 && subnetContains(ULA, s);
}

/** The first host address of a subnet, the gateway podman (netavark) picks by default. */
export function defaultGateway(s: Subnet): string {
  const bits = s.family === 4 ? 32 : 128;
  // a /31, /32, /127, /128 has no "network + 1" host distinct from the ends
  if (s.prefix >= bits - 1) throw bad(`subnet ${s.cidr} is too small for a gateway`);
  return formatAddr(s.family, s.network + 1n);
}

/** Check that a gateway lies in the subnet and is a usable host address; returns its normal form. */
export function checkGateway(s: Subnet, gateway: string): string {
  const g = parseAddress(gateway, 'gateway');
  if (g.family !== s.family || !subnetContains(s, g)) throw bad(`gateway ${gateway} is not inside subnet ${s.cidr}`);
  if (g.value === s.network) throw bad(`gateway ${gateway} is the network address of ${s.cidr}`);
  if (s.family === 4 && s.prefix < 31 && g.value === s.last) throw bad(`gateway ${gateway} is the broadcast address of ${s.cidr}`);
  return g.text;
}
