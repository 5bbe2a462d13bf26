/**
 * podman_container's security, runtime and logging arguments (cap_add, cap_drop, security_opt, tmpfs, userns,
 * read_only, read_only_tmpfs, healthcheck*, user, workdir, hostname, device, sysctl, ulimit, pull, log_driver,
 * log_opt): their normalisation, their `podman create` flags, and their comparison for idempotence.
 *
 * Like the collection (its diffparam_* read `Config.CreateCommand`), a container's values are read back from the
 * arguments it was created with: `podman inspect` does not show several of them faithfully (CapAdd is empty for a
 * capability that is in the default set, Sysctls is null, Healthcheck may come from the image). What is compared:
 *  - cap_add, cap_drop, security_opt, tmpfs, device, sysctl, ulimit, log_opt, read_only, read_only_tmpfs and
 *    healthcheck exactly (not given = not in the create call; capabilities case-insensitive with or without CAP_);
 *  - userns, the healthcheck timings, user, workdir, hostname and log_driver when given.
 * `pull` is the image pull policy of the create call, not a property of the container: never compared.
 */
import { badArg } from './common.js';

export interface ContainerExtra {
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  /** container path -> mount options ('' for none) */
  tmpfs: [string, string][];
  devices: string[];
  sysctl: [string, string][];
  ulimits: string[];
  logOpt: [string, string][];
  userns?: string;
  readOnly?: boolean;
  readOnlyTmpfs?: boolean;
  healthcheck?: string;
  healthInterval?: string;
  healthRetries?: number;
  healthStartPeriod?: string;
  healthTimeout?: string;
  user?: string;
  workdir?: string;
  hostname?: string;
  pull?: string;
  logDriver?: string;
}

const given = (v: unknown): boolean => v !== undefined && v !== null;

function pick(raw: Record<string, unknown>, names: string[]): unknown {
  const g = names.filter((n) => given(raw[n]));
  if (g.length > 1) throw badArg(`podman_container: ${g.join(' and ')} are aliases: give one`);
  return g.length ? raw[g[0]!] : undefined;
}

const scalar = (x: unknown): string => (typeof x === 'boolean' ? (x ? 'True' : 'False') : String(x));

function list(v: unknown): string[] {
  if (!given(v)) return [];
  if (Array.isArray(v)) return v.map(scalar);
  return typeof v === 'string' ? v.split(',') : [scalar(v)];
}

function pairs(v: unknown, what: string): [string, string][] {
  if (!given(v)) return [];
  if (typeof v !== 'object' || Array.isArray(v)) throw badArg(`podman_container: ${what} must be a mapping`);
  return Object.entries(v as Record<string, unknown>).filter(([, x]) => given(x)).map(([k, x]) => [k, scalar(x)]);
}

function bool(v: unknown, what: string): boolean | undefined {
  if (!given(v)) return undefined;
  if (typeof v === 'boolean') return v;
  const s = String(v).trim().toLowerCase();
  if (['1', 'yes', 'true', 'on', 'y', 't'].includes(s)) return true;
  if (['0', 'no', 'false', 'off', 'n', 'f'].includes(s)) return false;
  throw badArg(`podman_container: ${what} ${JSON.stringify(v)} is not a boolean`);
}

function str(v: unknown): string | undefined {
  return given(v) ? scalar(v) : undefined;
}

export function prepareExtra(raw: Record<string, unknown>): ContainerExtra {
  const x: ContainerExtra = {
    capAdd: list(pick(raw, ['cap_add', 'capabilities'])),
    capDrop: list(raw.cap_drop),
    securityOpt: list(raw.security_opt),
    tmpfs: pairs(raw.tmpfs, 'tmpfs').map(([k, v]) => [k, v === 'False' || v === '' ? '' : v]),
    devices: list(raw.device),
    sysctl: pairs(raw.sysctl, 'sysctl'),
    ulimits: list(pick(raw, ['ulimit', 'ulimits'])),
    logOpt: pairs(pick(raw, ['log_opt', 'log_options']), 'log_opt').map(([k, v]) => [k.replace('max_size', 'max-size'), v]),
  };
  const set = <K extends keyof ContainerExtra>(k: K, v: ContainerExtra[K] | undefined) => {
    if (v !== undefined) x[k] = v;
  };
  set('userns', str(pick(raw, ['userns', 'userns_mode'])));
  set('readOnly', bool(raw.read_only, 'read_only'));
  set('readOnlyTmpfs', bool(raw.read_only_tmpfs, 'read_only_tmpfs'));
  set('healthcheck', str(pick(raw, ['healthcheck', 'health_cmd'])));
  set('healthInterval', str(pick(raw, ['healthcheck_interval', 'health_interval'])));
  const retries = pick(raw, ['healthcheck_retries', 'health_retries']);
  if (given(retries)) {
    const n = typeof retries === 'number' ? retries : /^\s*\d+\s*$/.test(String(retries)) ? Number(retries) : NaN;
    if (!Number.isInteger(n) || n < 0) throw badArg(`podman_container: healthcheck_retries ${JSON.stringify(retries)} is not a non-negative integer`);
    x.healthRetries = n;
  }
  set('healthStartPeriod', str(pick(raw, ['healthcheck_start_period', 'health_start_period'])));
  set('healthTimeout', str(pick(raw, ['healthcheck_timeout', 'health_timeout'])));
  set('user', str(raw.user));
  set('workdir', str(pick(raw, ['workdir', 'working_dir'])));
  set('hostname', str(raw.hostname));
  set('pull', str(raw.pull));
  set('logDriver', str(raw.log_driver));
  for (const [k] of x.sysctl) if (!/^[a-z0-9_.\/-]+$/i.test(k)) throw badArg(`podman_container: sysctl ${JSON.stringify(k)} is not a sysctl name`);
  for (const [k] of x.tmpfs) if (!k.startsWith('/')) throw badArg(`podman_container: tmpfs ${JSON.stringify(k)} must be an absolute path in the container`);
  return x;
}

/** The `podman create` flags of these arguments. */
export function extraCreateArgs(x: ContainerExtra): string[] {
  const a: string[] = [];
  for (const c of x.capAdd) a.push('--cap-add', c);
  for (const c of x.capDrop) a.push('--cap-drop', c);
  for (const s of x.securityOpt) a.push('--security-opt', s);
  for (const [k, v] of x.tmpfs) a.push('--tmpfs', v ? `${k}:${v}` : k);
  if (x.userns !== undefined) a.push('--userns', x.userns);
  if (x.readOnly !== undefined) a.push(`--read-only=${x.readOnly}`);
  if (x.readOnlyTmpfs !== undefined) a.push(`--read-only-tmpfs=${x.readOnlyTmpfs}`);
  if (x.healthcheck !== undefined) a.push('--health-cmd', x.healthcheck);
  if (x.healthInterval !== undefined) a.push('--health-interval', x.healthInterval);
  if (x.healthRetries !== undefined) a.push('--health-retries', String(x.healthRetries));
  if (x.healthStartPeriod !== undefined) a.push('--health-start-period', x.healthStartPeriod);
  if (x.healthTimeout !== undefined) a.push('--health-timeout', x.healthTimeout);
  if (x.user !== undefined) a.push('--user', x.user);
  if (x.workdir !== undefined) a.push('--workdir', x.workdir);
  if (x.hostname !== undefined) a.push('--hostname', x.hostname);
  for (const d of x.devices) a.push('--device', d);
  for (const [k, v] of x.sysctl) a.push('--sysctl', `${k}=${v}`);
  for (const u of x.ulimits) a.push('--ulimit', u);
  if (x.pull !== undefined) a.push('--pull', x.pull);
  if (x.logDriver !== undefined) a.push('--log-driver', x.logDriver);
  for (const [k, v] of x.logOpt) a.push('--log-opt', `${k}=${v}`);
  return a;
}

const cap = (c: string): string => {
  const u = c.trim().toUpperCase();
  return u === 'ALL' || u.startsWith('CAP_') ? u : `CAP_${u}`;
};
const set = (xs: string[]): string => [...new Set(xs)].sort().join(' ') || '(none)';

/** Normalised comparable values: every key always (the exact ones), plus the when-given ones that are given. */
export function wantedExtra(x: ContainerExtra): Record<string, string> {
  const w: Record<string, string> = {
    cap_add: set(x.capAdd.flatMap((c) => c.split(',')).map(cap)),
    cap_drop: set(x.capDrop.flatMap((c) => c.split(',')).map(cap)),
    security_opt: set(x.securityOpt),
    tmpfs: set(x.tmpfs.map(([k, v]) => (v ? `${k}:${v}` : k))),
    device: set(x.devices),
    sysctl: set(x.sysctl.map(([k, v]) => `${k}=${v}`)),
    ulimit: set(x.ulimits),
    log_opt: set(x.logOpt.map(([k, v]) => `${k}=${v}`)),
    read_only: String(x.readOnly ?? false),
    read_only_tmpfs: String(x.readOnlyTmpfs ?? true),
    healthcheck: x.healthcheck ?? '(none)',
  };
  const opt: [string, string | number | undefined][] = [
    ['userns', x.userns],
    ['healthcheck_interval', x.healthInterval],
    ['healthcheck_retries', x.healthRetries],
    ['healthcheck_start_period', x.healthStartPeriod],
    ['healthcheck_timeout', x.healthTimeout],
    ['user', x.user],
    ['workdir', x.workdir],
    ['hostname', x.hostname],
    ['log_driver', x.logDriver],
  ];
  for (const [k, v] of opt) if (v !== undefined) w[k] = String(v);
  return w;
}

/** flag -> the wantedExtra key it feeds (short forms as podman takes them) */
const VALUE_FLAGS: Record<string, string> = {
  '--cap-add': 'cap_add', '--cap-drop': 'cap_drop', '--security-opt': 'security_opt', '--tmpfs': 'tmpfs', '--device': 'device',
  '--sysctl': 'sysctl', '--ulimit': 'ulimit', '--log-opt': 'log_opt', '--userns': 'userns', '--health-cmd': 'healthcheck',
  '--health-interval': 'healthcheck_interval', '--health-retries': 'healthcheck_retries', '--health-start-period': 'healthcheck_start_period',
  '--health-timeout': 'healthcheck_timeout', '--user': 'user', '-u': 'user', '--workdir': 'workdir', '-w': 'workdir',
  '--hostname': 'hostname', '-h': 'hostname', '--log-driver': 'log_driver',
};
const BOOL_FLAGS: Record<string, string> = { '--read-only': 'read_only', '--read-only-tmpfs': 'read_only_tmpfs' };

/**
 * The same values, read from a container's `Config.CreateCommand` (and `Config.Cmd`, whose tokens end the create
 * command when the command was given there). The last token before the command is the image or rootfs.
 */
export function createdExtra(createCommand: string[], cmd: string[]): Record<string, string> {
  let toks = createCommand.slice(2);
  if (cmd.length && toks.length > cmd.length && cmd.every((c, i) => toks[toks.length - cmd.length + i] === c)) toks = toks.slice(0, -cmd.length);
  toks = toks.slice(0, -1);
  const vals: Record<string, string[]> = {};
  const add = (k: string, v: string) => (vals[k] ??= []).push(v);
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (!t.startsWith('-')) continue;
    const eq = t.indexOf('=');
    const flag = eq > 0 ? t.slice(0, eq) : t;
    if (VALUE_FLAGS[flag] !== undefined) {
      if (eq > 0) add(VALUE_FLAGS[flag]!, t.slice(eq + 1));
      else if (i + 1 < toks.length) add(VALUE_FLAGS[flag]!, toks[++i]!);
    } else if (BOOL_FLAGS[flag] !== undefined) add(BOOL_FLAGS[flag]!, eq > 0 ? t.slice(eq + 1).toLowerCase() : 'true');
  }
  const last = (k: string, dflt: string) => vals[k]?.[vals[k]!.length - 1] ?? dflt;
  const out: Record<string, string> = {
    cap_add: set((vals.cap_add ?? []).flatMap((c) => c.split(',')).map(cap)),
    cap_drop: set((vals.cap_drop ?? []).flatMap((c) => c.split(',')).map(cap)),
    security_opt: set(vals.security_opt ?? []),
    tmpfs: set(vals.tmpfs ?? []),
    device: set(vals.device ?? []),
    sysctl: set(vals.sysctl ?? []),
    ulimit: set(vals.ulimit ?? []),
    log_opt: set(vals.log_opt ?? []),
    read_only: last('read_only', 'false'),
    read_only_tmpfs: last('read_only_tmpfs', 'true'),
    healthcheck: last('healthcheck', '(none)'),
  };
  for (const k of ['userns', 'healthcheck_interval', 'healthcheck_retries', 'healthcheck_start_period', 'healthcheck_timeout', 'user', 'workdir', 'hostname', 'log_driver']) {
    out[k] = last(k, '(none)');
  }
  return out;
}

/** What differs (one `key found -> wanted` per key). */
export function extraDrift(want: Record<string, string>, have: Record<string, string>): string[] {
  return Object.keys(want)
    .filter((k) => want[k] !== (have[k] ?? '(none)'))
    .map((k) => `${k} ${have[k] ?? '(none)'} -> ${want[k]}`);
}

/** The schema properties of these arguments. */
export function extraSchema(): Record<string, unknown> {
  const strList = { anyOf: [{ type: 'string' }, { type: 'array', items: { type: ['string', 'number'] } }] };
  const map = { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean', 'null'] } };
  const boolish = { type: ['boolean', 'string'] };
  const s = { type: ['string', 'number'] };
  return {
    cap_add: strList, capabilities: strList, cap_drop: strList, security_opt: strList, tmpfs: map, userns: s, userns_mode: s,
    read_only: boolish, read_only_tmpfs: boolish, healthcheck: { type: 'string' }, health_cmd: { type: 'string' },
    healthcheck_interval: s, health_interval: s, healthcheck_retries: { type: ['integer', 'string'] }, health_retries: { type: ['integer', 'string'] },
    healthcheck_start_period: s, health_start_period: s, healthcheck_timeout: s, health_timeout: s,
    user: s, workdir: { type: 'string' }, working_dir: { type: 'string' }, hostname: { type: 'string' }, device: strList,
    sysctl: map, ulimit: strList, ulimits: strList, pull: { enum: ['always', 'missing', 'never', 'newer'] },
    log_driver: { enum: ['k8s-file', 'journald', 'json-file', 'passthrough', 'none'] }, log_opt: map, log_options: map,
  };
}
