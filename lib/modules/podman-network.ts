/**
 * podman_network: a named podman bridge network with exactly the given subnets (and gateways).
 * Answers to containers.podman.podman_network with its common arguments (name, subnet, gateway, ipv6, internal,
 * driver, state, recreate). `subnet` and `gateway` may be lists (one dual-stack network: a v4 and a v6 subnet).
 *
 * Unlike containers.podman.podman_network (which is skipped in check mode) the plan is the real one: check mode
 * reports exactly what apply would do. Arguments are validated before any host is contacted (prepare):
 *  - every subnet well-formed, no host bits set; subnets of the network not overlapping each other;
 *  - no IPv4 subnet overlapping podman's default network 10.88.0.0/16 (always);
 *  - when an IPv6 subnet is given (a NAT66 egress network): IPv6 subnets inside fd00::/8 (ULA) and exactly /64,
 *    IPv4 subnets private (RFC 1918).
 * Against the host (plan, from the probe): no subnet overlapping another podman network on the host.
 * Comparison uses normalised (subnet, gateway) pairs, so address spelling never causes a change. A network that
 * exists with other subnets is drift: the task fails naming both unless `recreate: true` and no container is
 * attached, in which case it is removed and created again. `state: quadlet` writes the network's NAME.network
 * Quadlet file instead (podman-quadlet.ts), after the same validation of its subnets.
 */
import { quote } from 'shlex';
import { euidShell } from '../connection/scripts.js';
import type { ExecResult } from '../connection/types.js';
import { failPlan, failure, type ModuleDef, type Plan, type Step } from './types.js';
import {
  defaultGateway,
  normaliseAddress,
  overlaps,
  parseSubnet,
  PODMAN_DEFAULT_SUBNET,
  type Subnet,
} from '../net/subnets.js';
import { preparePodmanNetwork, type PodmanNetworkParams } from './podman-network-params.js';
import { planQuadlet, quadletProbe } from './podman-quadlet.js';
import type { EditState } from './edit-state.js';

export * from './podman-network-params.js';

export interface ExistingNetwork {
  name: string;
  driver: string;
  internal: boolean;
  subnets: { subnet: string; gateway: string }[];
}

export type PodmanNetworkProbe =
  | { kind: 'no-podman' }
  | { kind: 'error'; message: string }
  | { kind: 'ok'; networks: ExistingNetwork[]; attached: string[] };

function norm(fn: (s: string) => string, s: string): string {
  try {
    return fn(s);
  } catch {
    return s;
  }
}

/** Parse `podman network inspect` JSON (podman 4.x, netavark or CNI backend) into normalised networks. */
export function parseNetworkInspect(json: string): ExistingNetwork[] {
  const data = JSON.parse(json || '[]') as unknown;
  if (!Array.isArray(data)) throw new Error('podman network inspect did not print a JSON array');
  return data.map((n: Record<string, unknown>) => {
    const subs = Array.isArray(n.subnets) ? (n.subnets as Record<string, unknown>[]) : [];
    return {
      name: String(n.name ?? ''),
      driver: String(n.driver ?? ''),
      internal: n.internal === true,
      subnets: subs.map((s) => {
        const subnet = norm((x) => parseSubnetLoose(x), String(s.subnet ?? ''));
        const gw = s.gateway ? norm(normaliseAddress, String(s.gateway)) : norm((x) => defaultGateway(parseSubnet(x)), subnet);
        return { subnet, gateway: gw };
      }),
    };
  });
}

/** normal form of a subnet as the host reports it (host bits masked rather than rejected) */
function parseSubnetLoose(s: string): string {
  const m = /^(.+)\/(\d+)$/.exec(s.trim());
  if (!m) return s;
  try {
    return parseSubnet(s).cidr;
  } catch {
    return s;
  }
}

const decode = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');

export function parsePodmanNetworkProbe(out: string): PodmanNetworkProbe {
  const kv = new Map<string, string>();
  for (const line of out.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  const podman = kv.get('podman');
  if (podman === 'missing') return { kind: 'no-podman' };
  if (podman !== 'yes') return { kind: 'error', message: `unexpected probe output: ${JSON.stringify(out.slice(0, 200))}` };
  if (kv.get('source') === 'files') {
    // the netavark configuration files (rb_netfiles): one JSON object each, plus podman's built-in default network
    const files = out.split('\n').filter((l) => l.startsWith('netfile=')).map((l) => l.slice('netfile='.length));
    let networks: ExistingNetwork[];
    try {
      networks = parseNetworkInspect(`[${files.join(',')}]`);
    } catch (e) {
      return { kind: 'error', message: `cannot read a network file in /etc/containers/networks: ${(e as Error).message}` };
    }
    if (!networks.some((n) => n.name === DEFAULT_NETWORK.name)) networks.push(DEFAULT_NETWORK);
    return { kind: 'ok', networks, attached: [] };
  }
  if (kv.get('ls_rc') !== '0') return { kind: 'error', message: `podman network ls failed: ${decode(kv.get('ls_err')).trim()}` };
  if (kv.has('inspect_rc') && kv.get('inspect_rc') !== '0') {
    return { kind: 'error', message: `podman network inspect failed: ${decode(kv.get('inspect_err')).trim()}` };
  }
  let networks: ExistingNetwork[];
  try {
    networks = parseNetworkInspect(decode(kv.get('inspect')));
  } catch (e) {
    return { kind: 'error', message: `cannot read podman network inspect output: ${(e as Error).message}` };
  }
  if (kv.has('ps_rc') && kv.get('ps_rc') !== '0') return { kind: 'error', message: `podman ps failed: ${decode(kv.get('ps_err')).trim()}` };
  const attached = decode(kv.get('attached'))
    .split('\n')
    .map((x) => x.trim())
    .filter((x) => x !== '');
  return { kind: 'ok', networks, attached };
}

/** podman's default network when no NAME.json overrides it (containers.conf default_network / default_subnet unset) */
const DEFAULT_NETWORK: ExistingNetwork = {
  name: 'podman',
  driver: 'bridge',
  internal: false,
  subnets: [{ subnet: PODMAN_DEFAULT_SUBNET.cidr, gateway: defaultGateway(PODMAN_DEFAULT_SUBNET) }],
};

/** the containers.conf and storage.conf files rootful podman reads, as sh words (globs expand to the drop-ins) */
const PODMAN_CONF_FILES = [
  '/usr/share/containers/containers.conf',
  '/etc/containers/containers.conf',
  '/usr/share/containers/containers.conf.d/*.conf',
  '/etc/containers/containers.conf.d/*.conf',
  '"$HOME"/.config/containers/containers.conf',
  '"$HOME"/.config/containers/containers.conf.d/*.conf',
  '/usr/share/containers/storage.conf',
  '/etc/containers/storage.conf',
].join(' ');

/**
 * Shell function `rb_netfiles`: prints podman's networks straight from the netavark configuration files
 * (`source=files`, then `netfile=<NAME.json with its line breaks as spaces>` per network) and returns 0, when that
 * is provably what `podman network ls` would print: rootful podman, not remote, the netavark backend (set in
 * containers.conf, or else recorded in the default graphroot's defaultNetworkBackend file, graphroot not moved in
 * storage.conf), the default configuration directory, default network and subnet (no containers.conf line sets
 * network_config_dir, default_network, default_subnet or remote; no CONTAINERS_* override in the environment), and every
 * NAME.json written by podman for the network NAME. Otherwise it prints nothing and returns 1, and the probe asks
 * podman. One grep instead of a podman process (~100 ms of host CPU and a conmon --version each).
 */
const NETFILES_FN = [
  'rb_netfiles() {',
  `  [ -z "\${CONTAINERS_CONF-}\${CONTAINERS_CONF_OVERRIDE-}\${CONTAINERS_STORAGE_CONF-}\${CONTAINER_HOST-}\${CONTAINER_CONNECTION-}" ] || return 1`,
  `  ${euidShell('_u')}; [ "$_u" = 0 ] || return 1`,
  `  set --; for _f in ${PODMAN_CONF_FILES}; do [ -f "$_f" ] && set -- "$@" "$_f"; done`,
  '  _nb=; _gr=',
  '  if [ $# -gt 0 ]; then',
  "    _o=$(grep -Eh '^[[:space:]]*(network_backend|network_config_dir|default_network|default_subnet|remote|graphroot)[[:space:]]*=' \"$@\"); _rc=$?",
  '    [ $_rc -le 1 ] || return 1',
  '    while IFS= read -r _l; do',
  '      case $_l in',
  `        *network_backend*\\"netavark\\"*|*network_backend*\\'netavark\\'*) _nb=netavark;;`,
  '        *graphroot*) _gr=1;;',
  "        '') ;;",
  '        *) return 1;;',
  '      esac',
  '    done <<_RB_CONF_',
  '$_o',
  '_RB_CONF_',
  '  fi',
  '  if [ -z "$_nb" ]; then [ -z "$_gr" ] || return 1; IFS= read -r _nb < /var/lib/containers/storage/defaultNetworkBackend 2>/dev/null; [ "$_nb" = netavark ] || return 1; fi',
  '  _out=',
  '  for _f in /etc/containers/networks/*.json; do',
  '    [ -f "$_f" ] || continue',
  '    _n=${_f##*/}; _n=${_n%.json}; _c=; _l=; _k=0',
  '    while IFS= read -r _l; do _c="$_c $_l"; _l=; _k=$((_k+1)); [ $_k -lt 2000 ] || return 1; done < "$_f"',
  '    _c="$_c $_l"',
  `    case $_c in *'"name": "'"$_n"'",'*) ;; *) return 1;; esac`,
  '    _out="${_out}netfile=$_c',
  '"',
  '  done',
  "  printf 'source=files\\n%s' \"$_out\"",
  '}',
].join('\n');

/**
 * The probe: ONE read-only script. Every network's inspect JSON, and (withAttached) the containers attached to NAME.
 * The plan reads the attached containers only to remove the network (state absent, or a drift with recreate), so
 * the other tasks skip that second podman process (~30 ms of host CPU on an idle host). Without them, the networks
 * come from the netavark configuration files when rb_netfiles can prove they are what podman would list.
 */
export function podmanNetworkProbeScript(name: string, withAttached = true, files = !withAttached): string {
  const N = quote(name);
  // podman network names match [a-zA-Z0-9][a-zA-Z0-9_.-]*: the unquoted $names splits into exactly the names
  return [
    'b64() { base64 | tr -d \'\\n\'; }',
    "command -v podman >/dev/null 2>&1 || { echo podman=missing; exit 0; }",
    'echo podman=yes',
    ...(files ? [NETFILES_FN, 'rb_netfiles && exit 0'] : []),
    // stderr is read by running a failed command again: the probe writes nothing, not even a temp file.
    // `podman network ls --format json` prints exactly what `podman network inspect` prints for every network (podman
    // 4), so one podman process does what `ls` + `inspect` did (each podman start is ~30 ms on an idle host)
    "json=$(podman network ls --format json 2>/dev/null); rc=$?",
    'echo "ls_rc=$rc"',
    "if [ \"$rc\" -ne 0 ]; then printf 'ls_err=%s\\n' \"$(podman network ls 2>&1 >/dev/null | b64)\"; exit 0; fi",
    'echo inspect_rc=0',
    "printf 'inspect=%s\\n' \"$(printf '%s' \"$json\" | b64)\"",
    // containers attached to NAME when NAME is among the networks: a network name needs no JSON escaping, so NAME in
    // double quotes appears in the JSON when it exists (a false match only costs the podman ps below)
    ...(withAttached
      ? [
          `if case $json in *${quote(`"${name}"`)}*) true;; *) false;; esac; then`,
          `  ps=$(podman ps -a --filter network=${N} --format '{{.Names}}' 2>/dev/null); rc=$?`,
          '  echo "ps_rc=$rc"',
          `  if [ "$rc" -ne 0 ]; then printf 'ps_err=%s\\n' "$(podman ps -a --filter network=${N} 2>&1 >/dev/null | b64)"; exit 0; fi`,
          '  printf \'attached=%s\\n\' "$(printf \'%s\' "$ps" | b64)"',
          'fi',
        ]
      : []),
  ].join('\n');
}

function describeSubnets(subs: { subnet: string; gateway: string }[]): string {
  return subs.map((s) => s.subnet).join(', ') || '(no subnets)';
}

function diffText(subs: { subnet: string; gateway: string }[], internal?: boolean): string {
  const lines = subs.map((s) => `subnet ${s.subnet} gateway ${s.gateway}`);
  if (internal !== undefined) lines.push(`internal ${internal}`);
  return lines.map((l) => l + '\n').join('');
}

const key = (s: { subnet: string; gateway: string }): string => `${s.subnet} ${s.gateway}`;

/** The argv (as a quoted sh command) that creates the network. */
export function createCommand(p: PodmanNetworkParams): string {
  const argv = ['podman', 'network', 'create', '--driver', p.driver];
  if (p.ipv6) argv.push('--ipv6');
  for (const s of p.subnets) {
    argv.push('--subnet', s.subnet);
    if (p.explicitGateway) argv.push('--gateway', s.gateway);
  }
  if (p.internal) argv.push('--internal');
  argv.push(p.name);
  return argv.map((a) => quote(a)).join(' ');
}

/** The typed State: the parsed probe, and what the probe printed on stderr (named in a failure). */
export type PodmanNetworkState = PodmanNetworkProbe & { stderr: string };

export function parsePodmanNetworkState(res: ExecResult): PodmanNetworkState {
  return { ...parsePodmanNetworkProbe(res.stdout), stderr: res.stderr.trim() };
}

export function planPodmanNetwork(p: PodmanNetworkParams, probe: PodmanNetworkState | null): Plan {
  const fail = (msg: string, reason = 'failed'): Plan => failPlan(failure(reason === 'drift' ? 'drift' : 'podman_network', msg), undefined, reason);
  if (!probe) return fail('podman_network: no probe result');
  if (probe.kind === 'no-podman') return fail(`podman_network ${p.name}: podman is not installed on the host`);
  if (probe.kind === 'error') return fail(`podman_network ${p.name}: ${probe.message}${probe.stderr ? ` (${probe.stderr})` : ''}`);
  const existing = probe.networks.find((n) => n.name === p.name);
  const want = p.subnets.map((s) => ({ subnet: s.subnet, gateway: s.gateway }));
  const label = `podman network ${p.name}`;
  const rmStep: Step = { kind: 'run', script: `podman network rm ${quote(p.name)}`, describe: `podman network rm ${p.name}` };

  if (p.state === 'absent') {
    if (!existing) return { steps: [], reason: `network ${p.name} does not exist`, result: { network: null } };
    if (probe.attached.length) return fail(`network ${p.name} cannot be removed: containers attached: ${probe.attached.join(', ')}`);
    return {
      steps: [rmStep],
      reason: `remove network ${p.name} (${describeSubnets(existing.subnets)})`,
      diffs: [{ label, before: diffText(existing.subnets), after: '' }],
      result: { network: null },
    };
  }

  // overlap with any OTHER podman network on the host
  for (const s of p.subnets) {
    const mine = parseSubnet(s.subnet);
    for (const n of probe.networks) {
      if (n.name === p.name) continue;
      for (const o of n.subnets) {
        let other: Subnet;
        try {
          other = parseSubnet(o.subnet);
        } catch {
          continue;
        }
        if (overlaps(mine, other)) return fail(`podman_network ${p.name}: subnet ${s.subnet} overlaps podman network ${n.name} (${o.subnet})`);
      }
    }
  }

  const createStep: Step = { kind: 'run', script: createCommand(p), describe: `podman network create ${p.name}` };
  const wantText = diffText(want, p.internal);
  if (!existing) {
    return {
      steps: [createStep],
      reason: `create network ${p.name} with ${describeSubnets(want)}`,
      diffs: [{ label, before: '', after: wantText }],
      result: { network: { name: p.name, subnets: want.map((s) => s.subnet), gateways: want.map((s) => s.gateway) } },
    };
  }

  const have = existing.subnets;
  const result = { network: { name: p.name, subnets: have.map((s) => s.subnet), gateways: have.map((s) => s.gateway) } };
  const drift: string[] = [];
  if (existing.driver !== p.driver) drift.push(`driver ${existing.driver}, expected ${p.driver}`);
  if (want.length > 0) {
    const a = have.map(key).sort();
    const b = want.map(key).sort();
    if (a.length !== b.length || a.some((x, i) => x !== b[i])) {
      const sameSubnets = have.map((s) => s.subnet).sort().join(',') === want.map((s) => s.subnet).sort().join(',');
      if (sameSubnets) {
        drift.push(`gateways ${have.map((s) => s.gateway).join(', ')}, expected ${want.map((s) => s.gateway).join(', ')}`);
      } else drift.push(`subnets ${describeSubnets(have)}, expected ${describeSubnets(want)}`);
    }
  }
  if (p.internal !== undefined && existing.internal !== p.internal) drift.push(`internal ${existing.internal}, expected ${p.internal}`);

  if (drift.length === 0) {
    return { steps: [], reason: `network ${p.name} exists with ${describeSubnets(have)}`, result };
  }
  const what = `network ${p.name} exists with ${drift.join('; ')}`;
  if (!p.recreate) return { ...fail(`${what}: set recreate: true to replace it`, 'drift'), result };
  if (probe.attached.length) {
    return { ...fail(`${what}: not recreating it, containers attached: ${probe.attached.join(', ')}`, 'drift'), result };
  }
  return {
    steps: [rmStep, createStep],
    reason: `recreate network ${p.name}: ${drift.join('; ')}`,
    diffs: [{ label, before: diffText(have, p.internal === undefined ? undefined : existing.internal), after: wantText }],
    result: { network: { name: p.name, subnets: want.map((s) => s.subnet), gateways: want.map((s) => s.gateway) } },
  };
}

const stringOrList = { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] };
const boolish = { type: ['boolean', 'string'] };

const podmanNetwork: ModuleDef<PodmanNetworkParams, PodmanNetworkState | EditState> = {
  name: 'podman_network',
  aliases: ['containers.podman.podman_network', 'podman-network'],
  description: 'ensure a podman bridge network with exactly the given subnets (validated; drift reported, recreate opt-in)',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', minLength: 1 },
      subnet: stringOrList,
      gateway: stringOrList,
      ipv6: boolish,
      internal: boolish,
      driver: { type: 'string', enum: ['bridge'] },
      state: { type: 'string', enum: ['present', 'absent', 'quadlet'] },
      recreate: boolish,
      quadlet_dir: { type: 'string', minLength: 1 },
      quadlet_filename: { type: 'string', minLength: 1 },
      quadlet_file_mode: { type: ['string', 'integer'] },
      quadlet_options: stringOrList,
    },
  },
  validate: (raw) => {
    try {
      preparePodmanNetwork(raw);
      return [];
    } catch (e) {
      return [(e as Error).message];
    }
  },
  prepare: (raw) => preparePodmanNetwork(raw),
  probe: (p) => (p.quadlet ? quadletProbe(p.quadlet) : { script: podmanNetworkProbeScript(p.name, p.state === 'absent' || p.recreate === true), parse: parsePodmanNetworkState }),
  plan: (p, s) => (p.quadlet ? planQuadlet(p.quadlet, s as EditState) : planPodmanNetwork(p, s as PodmanNetworkState | null)),
};

export default podmanNetwork;
