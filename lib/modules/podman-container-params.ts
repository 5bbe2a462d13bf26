/**
 * podman_container's arguments: the typed params (ports, volumes, restart policy) and their controller-side
 * normalisation (prepare), apart from the probe and the plan (podman-container.ts).
 */
import { split } from 'shlex';
import { badArg } from './common.js';
import { prepareExtra, type ContainerExtra } from './podman-container-extra.js';
import { quadletParams, renderContainerQuadlet, type QuadletParams } from './podman-quadlet.js';

export type ContainerState = 'started' | 'stopped' | 'absent' | 'present' | 'created' | 'quadlet';

export interface PortSpec {
  hostIp: string;
  hostPort: string;
  containerPort: string;
  proto: string;
}

export interface VolumeSpec {
  /** absolute host path (bind) or volume name */
  source: string;
  dest: string;
  ro: boolean;
  /** the -v argument as given */
  arg: string;
}

export interface PodmanContainerParams {
  name: string;
  state: ContainerState;
  image?: string;
  rootfs?: string;
  command?: string[];
  networks?: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  volumes: VolumeSpec[];
  ports: PortSpec[];
  /** the --publish arguments as given */
  portArgs: string[];
  restartPolicy: string;
  stopTimeout?: number;
  detach: boolean;
  recreate: boolean;
  executable: string;
  /** cap_add ... log_opt (podman-container-extra.ts) */
  extra: ContainerExtra;
  /** state quadlet: the .container file to write (nothing else is done) */
  quadlet?: QuadletParams;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function one(raw: Record<string, unknown>, names: string[]): unknown {
  const given = names.filter((n) => raw[n] !== undefined && raw[n] !== null);
  if (given.length > 1) throw badArg(`podman_container: ${given.join(' and ')} are aliases: give one`);
  return given.length ? raw[given[0]!] : undefined;
}

function strMap(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw badArg(`podman_container: ${what} must be a mapping`);
  return Object.fromEntries(
    Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, typeof x === 'string' ? x : typeof x === 'boolean' || typeof x === 'number' ? String(x) : JSON.stringify(x)]),
  );
}

function strList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => String(x));
}

function expandRange(s: string, what: string): string[] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw badArg(`podman_container: port ${JSON.stringify(what)}: ${JSON.stringify(s)} is not a port or port range`);
  const a = Number(m[1]);
  const b = m[2] !== undefined ? Number(m[2]) : a;
  if (b < a || b - a > 1000 || a < 1 || b > 65535) throw badArg(`podman_container: port ${JSON.stringify(what)}: bad range ${s}`);
  return Array.from({ length: b - a + 1 }, (_, i) => String(a + i));
}

/** `[IP:][HOSTPORT:]CONTAINERPORT[/PROTO]` (ranges expanded) -> one spec per container port */
export function parsePort(arg: string): PortSpec[] {
  let s = arg.trim();
  let proto = 'tcp';
  const slash = s.lastIndexOf('/');
  if (slash >= 0) {
    proto = s.slice(slash + 1).toLowerCase();
    s = s.slice(0, slash);
    if (!['tcp', 'udp', 'sctp'].includes(proto)) throw badArg(`podman_container: port ${JSON.stringify(arg)}: protocol ${proto} (tcp, udp, sctp)`);
  }
  let hostIp = '';
  // [v6]:host:ctr
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(s);
  if (v6) {
    hostIp = v6[1]!;
    s = v6[2]!;
  }
  const parts = s.split(':');
  if (parts.length > 3 || (v6 && parts.length !== 2)) throw badArg(`podman_container: port ${JSON.stringify(arg)} is not [IP:][HOSTPORT:]CONTAINERPORT[/PROTO]`);
  if (parts.length === 3) hostIp = parts.shift()!;
  const ctr = expandRange(parts.pop()!, arg);
  const host = parts.length ? (parts[0] === '' ? [] : expandRange(parts[0]!, arg)) : [];
  if (host.length && host.length !== ctr.length) throw badArg(`podman_container: port ${JSON.stringify(arg)}: host and container ranges differ in length`);
  return ctr.map((c, i) => ({ hostIp, hostPort: host[i] ?? '', containerPort: c, proto }));
}

/** `SOURCE:DEST[:OPTIONS]` (bind mount of an absolute path, or a named volume) */
export function parseVolume(arg: string): VolumeSpec {
  const parts = arg.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]?.startsWith('/')) {
    throw badArg(`podman_container: volume ${JSON.stringify(arg)} is not SOURCE:/DEST[:OPTIONS] (anonymous volumes are not supported)`);
  }
  const opts = (parts[2] ?? '').split(',').filter(Boolean);
  const source = parts[0].startsWith('/') ? parts[0].replace(/(.)\/+$/, '$1') : parts[0];
  return { source, dest: parts[1].replace(/(.)\/+$/, '$1'), ro: opts.includes('ro'), arg };
}

export function normaliseRestart(s: string | undefined): string {
  const v = (s ?? '').trim();
  if (v === '' || v === 'no') return 'no';
  const m = /^(always|unless-stopped|on-failure)(?::(\d+))?$/.exec(v);
  if (!m) throw badArg(`podman_container: restart_policy ${JSON.stringify(s)} (no, always, on-failure[:N], unless-stopped)`);
  return m[1] === 'on-failure' && m[2] && m[2] !== '0' ? `on-failure:${Number(m[2])}` : m[1]!;
}

export function preparePodmanContainer(raw: Record<string, unknown>): PodmanContainerParams {
  const name = String(raw.name ?? '');
  if (!NAME_RE.test(name)) throw badArg(`podman_container: name ${JSON.stringify(name)} is not a valid container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)`);
  const state = ((raw.state as string | undefined) ?? 'present') as ContainerState;
  const image = raw.image !== undefined && raw.image !== null ? String(raw.image) : undefined;
  const rootfs = raw.rootfs !== undefined && raw.rootfs !== null ? String(raw.rootfs) : undefined;
  if (image !== undefined && rootfs !== undefined) throw badArg('podman_container: give image or rootfs, not both');
  if (rootfs !== undefined && !rootfs.startsWith('/')) throw badArg(`podman_container: rootfs ${JSON.stringify(rootfs)} must be an absolute path`);
  let command: string[] | undefined;
  if (raw.command !== undefined && raw.command !== null) {
    command = Array.isArray(raw.command) ? raw.command.map(String) : split(String(raw.command));
  }
  const net = one(raw, ['network', 'net', 'network_mode']);
  const networks = net === undefined ? undefined : strList(net).flatMap((n) => n.split(',')).map((n) => n.trim()).filter(Boolean);
  const portArgs = strList(one(raw, ['ports', 'publish', 'published', 'published_ports']));
  const p: PodmanContainerParams = {
    name,
    state,
    env: strMap(raw.env, 'env'),
    labels: strMap(one(raw, ['labels', 'label']), 'labels'),
    volumes: strList(one(raw, ['volumes', 'volume'])).map(parseVolume),
    ports: portArgs.flatMap(parsePort),
    portArgs,
    restartPolicy: normaliseRestart(raw.restart_policy as string | undefined),
    detach: raw.detach !== false,
    recreate: raw.recreate === true,
    executable: (raw.executable as string | undefined) ?? 'podman',
    extra: prepareExtra(raw),
  };
  if (state === 'quadlet') p.quadlet = quadletParams('container', raw, renderContainerQuadlet(raw));
  if (image !== undefined) p.image = image;
  if (rootfs !== undefined) p.rootfs = rootfs;
  if (command !== undefined) p.command = command;
  if (networks !== undefined) p.networks = networks;
  if (raw.stop_timeout !== undefined && raw.stop_timeout !== null) p.stopTimeout = Number(raw.stop_timeout);
  if (state !== 'absent' && image === undefined && rootfs === undefined) {
    throw badArg(`podman_container ${name}: image (or rootfs) is required for state ${state}`);
  }
  return p;
}
