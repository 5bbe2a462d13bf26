/**
 * podman_network's arguments: the typed params and their validation before any host is contacted (prepare):
 * well-formed subnets without host bits, no overlap with each other or podman's default network, ULA /64 and
 * RFC 1918 rules for a NAT66 egress network. The probe and the plan are in podman-network.ts.
 */
import { ansibleBoolean } from '../vars/python-compat.js';
import { RunbookError } from '../errors.js';
import {
  PODMAN_DEFAULT_SUBNET,
  checkGateway,
  defaultGateway,
  isRfc1918,
  isUla,
  overlaps,
  parseAddress,
  parseSubnet,
  type Subnet,
} from '../net/subnets.js';
import { quadletParams, renderNetworkQuadlet, type QuadletParams } from './podman-quadlet.js';

export interface SubnetSpec {
  /** normal form */
  subnet: string;
  /** normal form; the default is the first host address (what netavark picks) */
  gateway: string;
  family: 4 | 6;
}

export interface PodmanNetworkParams {
  name: string;
  state: 'present' | 'absent' | 'quadlet';
  /** in the order given; empty: podman picks the subnet, only existence is managed */
  subnets: SubnetSpec[];
  /** pass --gateway on create (the user gave at least one) */
  explicitGateway: boolean;
  ipv6: boolean;
  /** undefined: not managed */
  internal?: boolean;
  driver: 'bridge';
  recreate: boolean;
  /** state quadlet: the .network file to write (nothing else is done) */
  quadlet?: QuadletParams;
}

function toBool(v: unknown, what: string): boolean | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'boolean') return v;
  const b = ansibleBoolean(String(v));
  if (b !== undefined) return b;
  throw new RunbookError('bad_argument', `${what}: ${JSON.stringify(v)} is not a boolean`);
}

function toList(v: unknown): string[] {
  if (v === undefined || v === null || v === '') return [];
  if (Array.isArray(v)) return v.map((x) => String(x).trim()).filter((x) => x !== '');
  // a comma-separated string is accepted too ("10.89.0.0/24,fdaa:bbcc:ddee::/64")
  return String(v)
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

/** Validate and normalise the arguments; throws RunbookError('bad_argument') with every problem found. */
export function preparePodmanNetwork(raw: Record<string, unknown>): PodmanNetworkParams {
  const problems: string[] = [];
  const name = String(raw.name ?? '').trim();
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) problems.push(`name ${JSON.stringify(raw.name ?? '')} is not a valid podman network name`);
  const state = (raw.state ?? 'present') as PodmanNetworkParams['state'];
  const driver = String(raw.driver ?? 'bridge');
  if (driver !== 'bridge') problems.push(`driver ${driver} is not supported (only bridge)`);
  let ipv6Arg: boolean | undefined;
  let internal: boolean | undefined;
  let recreate = false;
  try {
    ipv6Arg = toBool(raw.ipv6, 'ipv6');
    internal = toBool(raw.internal, 'internal');
    recreate = toBool(raw.recreate, 'recreate') ?? false;
  } catch (e) {
    problems.push((e as Error).message);
  }

  const parsed: Subnet[] = [];
  for (const s of toList(raw.subnet)) {
    try {
      parsed.push(parseSubnet(s));
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  const hasV6 = parsed.some((s) => s.family === 6);
  for (const s of parsed) {
    if (s.family === 4 && overlaps(s, PODMAN_DEFAULT_SUBNET)) {
      problems.push(`subnet ${s.cidr} overlaps podman's default network ${PODMAN_DEFAULT_SUBNET.cidr}`);
    }
    if (hasV6 && s.family === 4 && !isRfc1918(s)) problems.push(`subnet ${s.cidr} is not a private (RFC 1918) IPv4 subnet`);
    if (s.family === 6 && !isUla(s)) problems.push(`subnet ${s.cidr} is not a unique local (fd00::/8) IPv6 subnet`);
    if (s.family === 6 && s.prefix !== 64) problems.push(`subnet ${s.cidr} must be a /64 (got /${s.prefix})`);
  }
  for (let i = 0; i < parsed.length; i++) {
    for (let j = i + 1; j < parsed.length; j++) {
      if (overlaps(parsed[i]!, parsed[j]!)) problems.push(`subnets ${parsed[i]!.cidr} and ${parsed[j]!.cidr} overlap`);
    }
  }
  if (ipv6Arg === false && hasV6) problems.push('ipv6 is false but an IPv6 subnet is given');
  if (ipv6Arg === true && parsed.length > 0 && !hasV6) {
    problems.push('ipv6 is true but no IPv6 subnet is given (podman would pick one at random, which cannot be kept stable)');
  }

  const gateways = toList(raw.gateway);
  if (gateways.length > 0 && parsed.length === 0) problems.push('gateway needs a subnet');
  const chosen = new Map<Subnet, string>();
  for (const g of gateways) {
    let addr;
    try {
      addr = parseAddress(g, 'gateway');
    } catch (e) {
      problems.push((e as Error).message);
      continue;
    }
    const s = parsed.find((x) => x.family === addr.family && x.network <= addr.value && addr.value <= x.last);
    if (!s) {
      if (parsed.length) problems.push(`gateway ${g} is not inside any given subnet (${parsed.map((x) => x.cidr).join(', ')})`);
      continue;
    }
    if (chosen.has(s)) {
      problems.push(`two gateways for subnet ${s.cidr}`);
      continue;
    }
    try {
      chosen.set(s, checkGateway(s, g));
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  const subnets: SubnetSpec[] = [];
  for (const s of parsed) {
    try {
      subnets.push({ subnet: s.cidr, family: s.family, gateway: chosen.get(s) ?? defaultGateway(s) });
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  let quadlet: QuadletParams | undefined;
  if (state === 'quadlet') {
    try {
      quadlet = quadletParams('network', raw, renderNetworkQuadlet(raw));
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length) throw new RunbookError('bad_argument', `podman_network${name ? ` ${name}` : ''}: ${problems.join('; ')}`);
  const p: PodmanNetworkParams = {
    name,
    state,
    subnets,
    explicitGateway: gateways.length > 0,
    ipv6: ipv6Arg ?? hasV6,
    internal,
    driver: 'bridge',
    recreate,
  };
  if (quadlet) p.quadlet = quadlet;
  return p;
}

