/**
 * podman_container (containers.podman.podman_container): a named container with the given spec, in the given state.
 *
 * Probe (read-only): `podman container inspect NAME`. The container's spec is normalised and compared with the
 * wanted one; a container that differs is removed and created again (the reason names what drifted), otherwise
 * it is only started or stopped. What is compared:
 *  - image (short names match their fully qualified form, `:latest` implied) or rootfs (runbook extension: the
 *    lab has no registry; `rootfs: DIR` is `podman create --rootfs DIR`), always;
 *  - command (a string is split like a shell would), network, stop_timeout: when given;
 *  - env and labels: the given ones must be there with these values (the image may add more);
 *  - volumes, ports and restart_policy: exactly (not given = none / `no`), as they only come from the create call.
 * States as the collection's: present = started (created if missing, started if not running), created (exists,
 * run state left alone), stopped (exists, not running), absent (`podman rm -f`). `detach: false` starts the
 * container attached and returns its output (like the collection, such a task changes on every run).
 */
import type { ExecResult } from '../connection/types.js';
import { failPlan, failure, type ModuleDef, type Plan, type Step } from './types.js';
import { EPILOGUE, PRELUDE, quote } from './common.js';
import { readInspect, type InspectRead } from './podman-inspect.js';
import { preparePodmanContainer, type PodmanContainerParams, type PortSpec } from './podman-container-params.js';
import { createdExtra, extraCreateArgs, extraDrift, extraSchema, wantedExtra } from './podman-container-extra.js';
import { planQuadlet, quadletProbe } from './podman-quadlet.js';
import type { EditState } from './edit-state.js';

export * from './podman-container-params.js';

export function probePodmanContainer(p: PodmanContainerParams): string {
  const P = quote(p.executable);
  return [
    PRELUDE,
    `if ! command -v ${P} >/dev/null 2>&1; then kv no_podman 1; ${EPILOGUE}; exit 0; fi`,
    `_j=$(${P} container inspect ${quote(p.name)} 2>&1); kv rc $?; kv out "$_j"`,
    EPILOGUE,
  ].join('\n');
}

/** The normalised spec of a container, wanted or found. */
export interface ContainerSpec {
  image?: string;
  rootfs?: string;
  command: string[];
  networks: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  volumes: string[];
  ports: string[];
  restartPolicy: string;
  stopTimeout: number;
  /** cap_add ... log_opt, normalised (podman-container-extra.ts) */
  extra: Record<string, string>;
}

export interface ExistingContainer {
  spec: ContainerSpec;
  running: boolean;
  status: string;
}

const portKey = (p: PortSpec): string => `${p.hostIp ? `${p.hostIp}:` : ''}${p.hostPort}:${p.containerPort}/${p.proto}`;
const volKey = (v: { source: string; dest: string; ro: boolean }): string => `${v.source}:${v.dest}${v.ro ? ':ro' : ''}`;

/** `podman container inspect` JSON -> normalised spec and run state. */
export function parseContainerInspect(json: string): ExistingContainer {
  const data = JSON.parse(json) as unknown;
  const c = (Array.isArray(data) ? data[0] : data) as Record<string, any> | undefined;
  if (!c || typeof c !== 'object') throw new Error('podman container inspect printed no container');
  const cfg = (c.Config ?? {}) as Record<string, any>;
  const host = (c.HostConfig ?? {}) as Record<string, any>;
  const env: Record<string, string> = {};
  for (const e of (cfg.Env ?? []) as string[]) {
    const i = e.indexOf('=');
    if (i > 0) env[e.slice(0, i)] = e.slice(i + 1);
  }
  const mode = String(host.NetworkMode ?? '');
  const networks = ['bridge', ''].includes(mode) ? Object.keys((c.NetworkSettings?.Networks ?? {}) as object).sort() : [mode];
  const volumes: string[] = [];
  for (const m of (c.Mounts ?? []) as Record<string, any>[]) {
    if (m.Type === 'bind') volumes.push(volKey({ source: String(m.Source), dest: String(m.Destination), ro: m.RW === false }));
    // anonymous volumes (64 hex digits) come from the image, not from the create call
    else if (m.Type === 'volume' && !/^[0-9a-f]{64}$/.test(String(m.Name))) volumes.push(volKey({ source: String(m.Name), dest: String(m.Destination), ro: m.RW === false }));
  }
  const ports: string[] = [];
  for (const [k, binds] of Object.entries((host.PortBindings ?? {}) as Record<string, { HostIp?: string; HostPort?: string }[] | null>)) {
    const [cport, proto = 'tcp'] = k.split('/');
    for (const b of binds ?? [{}]) ports.push(portKey({ hostIp: b.HostIp ?? '', hostPort: b.HostPort ?? '', containerPort: cport!, proto }));
  }
  const rp = host.RestartPolicy ?? {};
  let restart = String(rp.Name ?? '') || 'no';
  if (restart === 'on-failure' && Number(rp.MaximumRetryCount ?? 0) > 0) restart = `on-failure:${Number(rp.MaximumRetryCount)}`;
  const spec: ContainerSpec = {
    command: ((cfg.Cmd ?? []) as unknown[]).map(String),
    networks,
    env,
    labels: Object.fromEntries(Object.entries((cfg.Labels ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)])),
    volumes: volumes.sort(),
    ports: ports.sort(),
    restartPolicy: restart,
    stopTimeout: Number(cfg.StopTimeout ?? 10),
    extra: createdExtra(((cfg.CreateCommand ?? []) as unknown[]).map(String), ((cfg.Cmd ?? []) as unknown[]).map(String)),
  };
  if (c.Rootfs) spec.rootfs = String(c.Rootfs).replace(/(.)\/+$/, '$1');
  else spec.image = String(c.ImageName || cfg.Image || c.Image || '');
  return { spec, running: c.State?.Running === true, status: String(c.State?.Status ?? 'unknown') };
}

/** image reference in a comparable form: tag `latest` implied, docker.io/library/ and localhost/ dropped */
export function normaliseImage(ref: string): string {
  let s = ref.trim();
  const lastSlash = s.lastIndexOf('/');
  if (!s.includes('@') && !s.slice(lastSlash + 1).includes(':')) s += ':latest';
  return s.replace(/^(docker\.io\/library\/|docker\.io\/|localhost\/)/, '');
}

/** does the image the container was made from match the wanted reference (a short name matches any registry)? */
export function sameImage(want: string, have: string): boolean {
  const w = normaliseImage(want);
  const h = normaliseImage(have);
  if (w === h) return true;
  const first = w.split('/')[0]!;
  const qualified = w.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  // a short name resolves to REGISTRY/NAME: the part before it is one registry host, nothing more
  return !qualified && h.endsWith(`/${w}`) && !h.slice(0, -w.length - 1).includes('/');
}

const netName = (n: string): string => (n === 'bridge' ? 'podman' : n);
const show = (v: unknown): string => (Array.isArray(v) ? `[${v.join(' ')}]` : String(v));

/** What differs between the wanted params and a found spec (empty: nothing). */
export function containerDrift(p: PodmanContainerParams, have: ContainerSpec): string[] {
  const d: string[] = [];
  if (p.rootfs !== undefined) {
    if (have.rootfs !== p.rootfs) d.push(`rootfs ${have.rootfs ?? `(image ${have.image})`} -> ${p.rootfs}`);
  } else if (p.image !== undefined) {
    if (have.image === undefined || !sameImage(p.image, have.image)) d.push(`image ${have.image ?? `(rootfs ${have.rootfs})`} -> ${p.image}`);
  }
  if (p.command !== undefined && show(p.command) !== show(have.command)) d.push(`command ${show(have.command)} -> ${show(p.command)}`);
  if (p.networks !== undefined) {
    const w = [...new Set(p.networks.map(netName))].sort();
    if (show(w) !== show(have.networks)) d.push(`network ${have.networks.join(',') || '(none)'} -> ${w.join(',')}`);
  }
  for (const [k, v] of Object.entries(p.env)) {
    if (have.env[k] !== v) d.push(have.env[k] === undefined ? `env ${k} missing` : `env ${k} differs`);
  }
  for (const [k, v] of Object.entries(p.labels)) {
    if (have.labels[k] !== v) d.push(have.labels[k] === undefined ? `label ${k} missing` : `label ${k}=${have.labels[k]} -> ${v}`);
  }
  const wv = p.volumes.map(volKey).sort();
  if (show(wv) !== show(have.volumes)) d.push(`volumes ${have.volumes.join(', ') || '(none)'} -> ${wv.join(', ') || '(none)'}`);
  const wp = p.ports.map(portKey).sort();
  // a port published without a host port gets a random one at create time: only its container side is compared
  const hp = have.ports.map((k) => {
    const w = p.ports.find((x) => x.hostPort === '' && k.replace(/^(.*?)\d*(:\d+\/\w+)$/, '$1$2') === portKey(x));
    return w ? portKey(w) : k;
  }).sort();
  if (show(wp) !== show(hp)) d.push(`ports ${have.ports.join(', ') || '(none)'} -> ${wp.join(', ') || '(none)'}`);
  if (p.restartPolicy !== have.restartPolicy) d.push(`restart_policy ${have.restartPolicy} -> ${p.restartPolicy}`);
  if (p.stopTimeout !== undefined && p.stopTimeout !== have.stopTimeout) d.push(`stop_timeout ${have.stopTimeout} -> ${p.stopTimeout}`);
  d.push(...extraDrift(wantedExtra(p.extra), have.extra));
  return d;
}

/** The create call; with rootfs every option comes before `--rootfs DIR` (a boolean flag: what follows is the command). */
export function createContainerCommand(p: PodmanContainerParams): string {
  const argv = [p.executable, 'create', '--name', p.name];
  for (const n of p.networks ?? []) argv.push('--network', n);
  for (const [k, v] of Object.entries(p.env)) argv.push('--env', `${k}=${v}`);
  for (const [k, v] of Object.entries(p.labels)) argv.push('--label', `${k}=${v}`);
  for (const v of p.volumes) argv.push('--volume', v.arg);
  for (const a of p.portArgs) argv.push('--publish', a);
  if (p.restartPolicy !== 'no') argv.push('--restart', p.restartPolicy);
  if (p.stopTimeout !== undefined) argv.push('--stop-timeout', String(p.stopTimeout));
  argv.push(...extraCreateArgs(p.extra));
  if (p.rootfs !== undefined) argv.push('--rootfs', p.rootfs);
  else argv.push(p.image!);
  if (p.command) argv.push(...p.command);
  return argv.map((a) => quote(a)).join(' ');
}

function specText(s: Partial<ContainerSpec> & { state?: string }): string {
  const lines: string[] = [];
  if (s.state) lines.push(`state ${s.state}`);
  if (s.rootfs !== undefined) lines.push(`rootfs ${s.rootfs}`);
  if (s.image !== undefined) lines.push(`image ${s.image}`);
  if (s.command) lines.push(`command ${show(s.command)}`);
  if (s.networks) lines.push(`network ${s.networks.join(',')}`);
  for (const [k, v] of Object.entries(s.env ?? {}).sort()) lines.push(`env ${k}=${v}`);
  for (const [k, v] of Object.entries(s.labels ?? {}).sort()) lines.push(`label ${k}=${v}`);
  for (const v of s.volumes ?? []) lines.push(`volume ${v}`);
  for (const v of s.ports ?? []) lines.push(`port ${v}`);
  if (s.restartPolicy) lines.push(`restart_policy ${s.restartPolicy}`);
  for (const [k, v] of Object.entries(s.extra ?? {})) if (v !== '(none)') lines.push(`${k} ${v}`);
  return lines.map((l) => l + '\n').join('');
}

/** The wanted spec, restricted to what is compared (for diffs). */
function wantedSpec(p: PodmanContainerParams, have?: ContainerSpec): Partial<ContainerSpec> {
  const s: Partial<ContainerSpec> = {
    env: p.env,
    labels: p.labels,
    volumes: p.volumes.map(volKey).sort(),
    ports: p.ports.map(portKey).sort(),
    restartPolicy: p.restartPolicy,
    extra: wantedExtra(p.extra),
  };
  if (p.rootfs !== undefined) s.rootfs = p.rootfs;
  if (p.image !== undefined) s.image = p.image;
  if (p.command) s.command = p.command;
  else if (have) s.command = have.command;
  if (p.networks) s.networks = [...new Set(p.networks.map(netName))].sort();
  else if (have) s.networks = have.networks;
  return s;
}

/** The found spec, restricted to the keys the wanted one has (env/labels: only the wanted keys). */
function foundSpec(p: PodmanContainerParams, have: ContainerSpec): Partial<ContainerSpec> {
  const pick = (m: Record<string, string>, keys: string[]) => Object.fromEntries(keys.filter((k) => m[k] !== undefined).map((k) => [k, m[k]!]));
  return { ...have, env: pick(have.env, Object.keys(p.env)), labels: pick(have.labels, Object.keys(p.labels)), extra: pick(have.extra, Object.keys(wantedExtra(p.extra))) };
}

export type ContainerProbeState = InspectRead<ExistingContainer>;

export function parseContainerState(p: PodmanContainerParams, res: ExecResult): ContainerProbeState {
  return readInspect(res, 'container', p.name, p.executable, parseContainerInspect);
}

export function planPodmanContainer(p: PodmanContainerParams, read: ContainerProbeState): Plan {
  const fail = (msg: string, code = 'podman_container'): Plan => failPlan(failure(code, msg));
  if (!read.ok) return fail(read.error);
  const found: ExistingContainer | undefined = read.found;
  const P = quote(p.executable);
  const N = quote(p.name);
  const label = `podman container ${p.name}`;
  const rmTime = p.stopTimeout ?? found?.spec.stopTimeout ?? 10;
  const rm: Step = { kind: 'run', script: `${P} rm -f --time ${rmTime} ${N}`, describe: `podman rm -f ${p.name}` };
  const create: Step = { kind: 'run', script: createContainerCommand(p), describe: `podman create ${p.name}` };
  const start: Step = p.detach
    ? { kind: 'run', script: `${P} start ${N}`, describe: `podman start ${p.name}` }
    : { kind: 'run', script: `${P} start --attach ${N}`, capture: true, describe: `podman start --attach ${p.name}` };
  const stop: Step = { kind: 'run', script: `${P} stop ${N}`, describe: `podman stop ${p.name}` };
  const want = p.state === 'present' ? 'started' : p.state;
  const result = (state: string) => ({ container: { name: p.name, state } });

  if (want === 'absent') {
    if (!found) return { steps: [], reason: `container ${p.name} does not exist`, result: { container: {} } };
    return { steps: [rm], reason: `remove container ${p.name} (${found.status})`, diffs: [{ label, before: specText({ state: found.status, ...found.spec }), after: '' }], result: { container: {} } };
  }
  const runSteps = want === 'started' ? [start] : [];
  const afterState = want === 'started' ? 'running' : 'created';
  if (!found) {
    return {
      steps: [create, ...runSteps],
      reason: `create${want === 'started' ? ' and start' : ''} container ${p.name}`,
      diffs: [{ label, before: '', after: specText({ state: afterState, ...wantedSpec(p) }) }],
      result: result(afterState),
    };
  }
  const drift = containerDrift(p, found.spec);
  if (drift.length || p.recreate) {
    const why = drift.length ? drift.join('; ') : 'recreate: true';
    return {
      steps: [rm, create, ...runSteps],
      reason: `recreate container ${p.name}: ${why}`,
      diffs: [{ label, before: specText({ state: found.status, ...foundSpec(p, found.spec) }), after: specText({ state: afterState, ...wantedSpec(p, found.spec) }) }],
      result: result(afterState),
    };
  }
  if (want === 'started' && (!found.running || !p.detach)) {
    return { steps: [start], reason: `start container ${p.name} (${found.status})`, diffs: [{ label, before: `state ${found.status}\n`, after: 'state running\n' }], result: result('running') };
  }
  if (want === 'stopped' && found.running) {
    return { steps: [stop], reason: `stop container ${p.name}`, diffs: [{ label, before: `state ${found.status}\n`, after: 'state exited\n' }], result: result('exited') };
  }
  return { steps: [], reason: `container ${p.name} is ${found.status} as wanted`, result: result(found.status) };
}

export function finishPodmanContainer(_p: PodmanContainerParams, outputs: ExecResult[]): Record<string, unknown> {
  const stdout = outputs.map((o) => o.stdout).join('');
  const stderr = outputs.map((o) => o.stderr).join('');
  return outputs.length ? { stdout, stderr, stdout_lines: stdout.split('\n').filter(Boolean) } : {};
}

const strMapSchema = { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } };
const strOrList = { anyOf: [{ type: 'string' }, { type: 'array', items: { type: ['string', 'number'] } }] };

const podmanContainer: ModuleDef<PodmanContainerParams, ContainerProbeState | EditState> = {
  name: 'podman_container',
  aliases: ['containers.podman.podman_container'],
  description: 'a podman container with the given spec (recreated on drift) in state started/stopped/created/absent, or its quadlet file',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', minLength: 1 },
      image: { type: 'string', minLength: 1 },
      rootfs: { type: 'string', minLength: 1 },
      command: strOrList,
      state: { enum: ['started', 'stopped', 'absent', 'present', 'created', 'quadlet'] },
      network: strOrList,
      net: strOrList,
      network_mode: { type: 'string' },
      env: strMapSchema,
      volumes: strOrList,
      volume: strOrList,
      ports: strOrList,
      publish: strOrList,
      published: strOrList,
      published_ports: strOrList,
      labels: strMapSchema,
      label: strMapSchema,
      restart_policy: { type: 'string' },
      stop_timeout: { type: 'integer', minimum: 0 },
      detach: { type: 'boolean' },
      recreate: { type: 'boolean' },
      executable: { type: 'string', minLength: 1 },
      debug: { type: 'boolean' },
      quadlet_dir: { type: 'string', minLength: 1 },
      quadlet_filename: { type: 'string', minLength: 1 },
      quadlet_file_mode: { type: ['string', 'integer'] },
      quadlet_options: strOrList,
      ...extraSchema(),
    },
  },
  validate: (raw) => {
    try {
      preparePodmanContainer(raw);
      return [];
    } catch (e) {
      return [(e as Error).message];
    }
  },
  prepare: preparePodmanContainer,
  probe: (p) => (p.quadlet ? quadletProbe(p.quadlet) : { script: probePodmanContainer(p), parse: (res) => parseContainerState(p, res) }),
  plan: (p, s) => (p.quadlet ? planQuadlet(p.quadlet, s as EditState) : planPodmanContainer(p, s as ContainerProbeState)),
  finish: finishPodmanContainer,
};

export default podmanContainer;
