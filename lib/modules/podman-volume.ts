/**
 * podman_volume (containers.podman.podman_volume): a named podman volume with the given driver, labels and options.
 *
 * Probe (read-only): `podman volume inspect NAME` and, when it exists, the containers that use it.
 * Comparison as the collection's: driver (default `local`), labels and options are compared exactly (not given =
 * none). A volume that differs, or `recreate: true`, is removed and created again; like the collection that loses
 * the volume's data. Unlike the collection (`podman volume rm -f`, which also removes the containers using it),
 * runbook never removes a container for a volume: a volume in use is not removed or recreated, the task fails
 * naming the containers. `state: quadlet` writes the volume's NAME.volume Quadlet file instead (podman-quadlet.ts).
 */
import type { ExecResult } from '../connection/types.js';
import { failPlan, failure, type ModuleDef, type Plan, type Step } from './types.js';
import { EPILOGUE, PRELUDE, badArg, quote } from './common.js';
import { readInspect, type InspectRead } from './podman-inspect.js';
import { planQuadlet, quadletParams, quadletProbe, renderVolumeQuadlet, type QuadletParams } from './podman-quadlet.js';
import type { EditState } from './edit-state.js';

export interface PodmanVolumeParams {
  name: string;
  state: 'present' | 'absent' | 'quadlet';
  driver: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  recreate: boolean;
  executable: string;
  /** state quadlet: the .volume file to write (nothing else is done) */
  quadlet?: QuadletParams;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function strMap(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw badArg(`podman_volume: ${what} must be a mapping`);
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, typeof x === 'string' ? x : JSON.stringify(x)]));
}

/** `options: [type=tmpfs, "o=size=10m,uid=0"]` (the collection's form) or a mapping -> key -> value */
export function parseVolumeOptions(v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v === 'object' && !Array.isArray(v)) return strMap(v, 'options');
  const list = Array.isArray(v) ? v.map(String) : [String(v)];
  const out: Record<string, string> = {};
  for (const o of list) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw badArg(`podman_volume: option ${JSON.stringify(o)} is not KEY=VALUE`);
    out[o.slice(0, eq)] = o.slice(eq + 1);
  }
  return out;
}

export function preparePodmanVolume(raw: Record<string, unknown>): PodmanVolumeParams {
  const name = String(raw.name ?? '');
  if (!NAME_RE.test(name)) throw badArg(`podman_volume: name ${JSON.stringify(name)} is not a valid volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)`);
  const state = (raw.state as PodmanVolumeParams['state'] | undefined) ?? 'present';
  const p: PodmanVolumeParams = {
    name,
    state,
    driver: (raw.driver as string | undefined) ?? 'local',
    labels: strMap(raw.label, 'label'),
    options: parseVolumeOptions(raw.options),
    recreate: raw.recreate === true,
    executable: (raw.executable as string | undefined) ?? 'podman',
  };
  if (state === 'quadlet') p.quadlet = quadletParams('volume', raw, renderVolumeQuadlet(raw));
  return p;
}

export function probePodmanVolume(p: PodmanVolumeParams): string {
  const P = quote(p.executable);
  const N = quote(p.name);
  return [
    PRELUDE,
    `if ! command -v ${P} >/dev/null 2>&1; then kv no_podman 1; ${EPILOGUE}; exit 0; fi`,
    `_j=$(${P} volume inspect ${N} 2>&1); _rc=$?; kv rc $_rc; kv out "$_j"`,
    `if [ $_rc = 0 ]; then`,
    `  _u=$(${P} ps -a --filter volume=${N} --format '{{.Names}}' 2>&1); kv users_rc $?; kv users "$_u"`,
    `fi`,
    EPILOGUE,
  ].join('\n');
}

interface ExistingVolume {
  driver: string;
  labels: Record<string, string>;
  options: Record<string, string>;
}

export function parseVolumeInspect(json: string): ExistingVolume {
  const data = JSON.parse(json) as unknown;
  const v = (Array.isArray(data) ? data[0] : data) as Record<string, unknown> | undefined;
  if (!v || typeof v !== 'object') throw new Error('podman volume inspect printed no volume');
  return {
    driver: String(v.Driver ?? 'local'),
    labels: strMap(v.Labels ?? {}, 'Labels'),
    options: strMap(v.Options ?? {}, 'Options'),
  };
}

const mapText = (m: Record<string, string>): string =>
  Object.keys(m)
    .sort()
    .map((k) => `${k}=${m[k]}`)
    .join(', ') || '(none)';

function specText(v: { driver: string; labels: Record<string, string>; options: Record<string, string> }): string {
  return `driver ${v.driver}\nlabels ${mapText(v.labels)}\noptions ${mapText(v.options)}\n`;
}

const sameMap = (a: Record<string, string>, b: Record<string, string>): boolean => mapText(a) === mapText(b);

export function createVolumeCommand(p: PodmanVolumeParams): string {
  const argv = [p.executable, 'volume', 'create'];
  if (p.driver !== 'local') argv.push('--driver', p.driver);
  for (const [k, v] of Object.entries(p.labels)) argv.push('--label', `${k}=${v}`);
  for (const [k, v] of Object.entries(p.options)) argv.push('--opt', `${k}=${v}`);
  argv.push(p.name);
  return argv.map((a) => quote(a)).join(' ');
}

export type VolumeState = InspectRead<ExistingVolume>;

export function parseVolumeState(p: PodmanVolumeParams, res: ExecResult): VolumeState {
  return readInspect(res, 'volume', p.name, p.executable, parseVolumeInspect);
}

export function planPodmanVolume(p: PodmanVolumeParams, read: VolumeState): Plan {
  const fail = (msg: string): Plan => failPlan(failure('podman_volume', msg));
  if (!read.ok) return fail(read.error);
  const f = read.frame;
  const existing: ExistingVolume | undefined = read.found;
  if (f.has('users_rc') && f.str('users_rc') !== '0') return fail(`podman_volume ${p.name}: podman ps failed: ${(f.str('users') ?? '').trim()}`);
  const users = (f.str('users') ?? '').split('\n').map((x) => x.trim()).filter(Boolean);
  const label = `podman volume ${p.name}`;
  const rm: Step = { kind: 'run', script: `${quote(p.executable)} volume rm ${quote(p.name)}`, describe: `podman volume rm ${p.name}` };
  const create: Step = { kind: 'run', script: createVolumeCommand(p), describe: `podman volume create ${p.name}` };
  const want = { driver: p.driver, labels: p.labels, options: p.options };

  if (p.state === 'absent') {
    if (!existing) return { steps: [], reason: `volume ${p.name} does not exist`, result: { volume: {} } };
    if (users.length) return fail(`volume ${p.name} is used by container(s) ${users.join(', ')}: not removing it`);
    return { steps: [rm], reason: `remove volume ${p.name}`, diffs: [{ label, before: specText(existing), after: '' }], result: { volume: {} } };
  }
  const result = { volume: { name: p.name, ...want } };
  if (!existing) {
    return { steps: [create], reason: `create volume ${p.name}`, diffs: [{ label, before: '', after: specText(want) }], result };
  }
  const drift: string[] = [];
  if (existing.driver !== p.driver) drift.push(`driver ${existing.driver} -> ${p.driver}`);
  if (!sameMap(existing.labels, p.labels)) drift.push(`labels ${mapText(existing.labels)} -> ${mapText(p.labels)}`);
  if (!sameMap(existing.options, p.options)) drift.push(`options ${mapText(existing.options)} -> ${mapText(p.options)}`);
  if (drift.length === 0 && !p.recreate) return { steps: [], reason: `volume ${p.name} exists as wanted`, result: { volume: { name: p.name, ...existing } } };
  const why = drift.length ? drift.join('; ') : 'recreate: true';
  if (users.length) return fail(`volume ${p.name} must be recreated (${why}) but is used by container(s) ${users.join(', ')}`);
  return {
    steps: [rm, create],
    reason: `recreate volume ${p.name}: ${why}`,
    diffs: [{ label, before: specText(existing), after: specText(want) }],
    result,
  };
}

const strMapSchema = { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } };

const podmanVolume: ModuleDef<PodmanVolumeParams, VolumeState | EditState> = {
  name: 'podman_volume',
  aliases: ['containers.podman.podman_volume'],
  description: 'a podman volume with the given driver, labels and options (recreated on drift unless in use)',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', minLength: 1 },
      state: { enum: ['present', 'absent', 'quadlet'] },
      driver: { type: 'string', minLength: 1 },
      label: strMapSchema,
      options: { anyOf: [{ type: 'array', items: { type: 'string' } }, strMapSchema, { type: 'string' }] },
      recreate: { type: 'boolean' },
      executable: { type: 'string', minLength: 1 },
      debug: { type: 'boolean' },
      quadlet_dir: { type: 'string', minLength: 1 },
      quadlet_filename: { type: 'string', minLength: 1 },
      quadlet_file_mode: { type: ['string', 'integer'] },
      quadlet_options: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
    },
  },
  validate: (raw) => {
    try {
      preparePodmanVolume(raw);
      return [];
    } catch (e) {
      return [(e as Error).message];
    }
  },
  prepare: preparePodmanVolume,
  probe: (p) => (p.quadlet ? quadletProbe(p.quadlet) : { script: probePodmanVolume(p), parse: (res) => parseVolumeState(p, res) }),
  plan: (p, s) => (p.quadlet ? planQuadlet(p.quadlet, s as EditState) : planPodmanVolume(p, s as VolumeState)),
};

export default podmanVolume;
