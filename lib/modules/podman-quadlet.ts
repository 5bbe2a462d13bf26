/**
 * `state: quadlet` of podman_container, podman_volume and podman_network: write the Quadlet unit file
 * (NAME.container, NAME.volume, NAME.network) that containers.podman writes, byte for byte, and nothing else (no
 * container, volume or network is created; systemd's generator does that once the file is there).
 *
 * The file is the one containers.podman's quadlet generator (plugins/module_utils/podman/quadlet.py, 1.20) makes:
 * `[Container]` (`[Volume]`, `[Network]`), one `Key=value` line per value in the order of the collection's param map
 * (a list gives one line per item, a bool is `true`/`false`), then the plain `Key=value` lines of quadlet_options,
 * then a `[Service]` section for restart_policy (unless quadlet_options has its own `[Service]`), then the
 * quadlet_options that start with a section header, and a final newline. Like the collection:
 *  - the file is rewritten only when it differs from the wanted one ignoring `#` comment lines (and a final newline);
 *  - quadlet_dir defaults to /etc/containers/systemd (root) or ~/.config/containers/systemd (any other user), and a
 *    missing directory is created;
 *  - quadlet_filename gets the `.container` (...) suffix when it lacks it; default NAME.container;
 *  - quadlet_file_mode is applied when given; otherwise a new file is 0640 and an existing file keeps its mode.
 * Unlike the collection, podman need not be installed on the host to write the file (the collection looks for the
 * executable first), so check mode on a host where an earlier task installs podman predicts the apply.
 *
 * Pure rendering (render*Quadlet) is separate from the probe/plan (the file edit of edit-state.ts).
 */
import { editProbeScript, parseEditState, planEdit, type EditState } from './edit-state.js';
import { isProbeFailed, type Plan, type Probe } from './types.js';
import { badArg, normaliseMode, quote } from './common.js';

export type QuadletKind = 'container' | 'volume' | 'network';

export interface QuadletParams {
  kind: QuadletKind;
  /** quadlet_dir as given; undefined: the remote user's default */
  dir?: string;
  /** the file name (with its .container/.volume/.network suffix) */
  filename: string;
  /** quadlet_file_mode, normalised; undefined: 0640 for a new file, an existing file's mode is kept */
  mode?: string;
  /** the file's content */
  content: string;
}

// ---------------------------------------------------------------------------------------------------------------
// rendering (pure)

const SAFE = /^[\w@%+=:,./-]+$/;

/** Python's shlex.quote (what the collection quotes Environment and Label values with). */
export function pyQuote(s: string): string {
  if (s === '') return "''";
  if (SAFE.test(s) && !/[^\x00-\x7f]/.test(s)) return s;
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}

/** Python's `"%s" % value` for the YAML scalars a task can give (True/False, ints, floats, strings). */
export function pyStr(v: unknown): string {
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(v).includes('e') ? String(v) : String(v).includes('.') ? String(v) : `${v}.0`;
  return String(v);
}

/** A quadlet value: a bool is `true`/`false` (the collection lowercases Python's bool), anything else as Python prints it. */
function qv(v: unknown): string {
  return typeof v === 'boolean' ? String(v) : pyStr(v);
}

const given = (v: unknown): boolean => v !== undefined && v !== null;

/** the value of the first of `names` given (an option and its aliases) */
function opt(raw: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) if (given(raw[n])) return raw[n];
  return undefined;
}

/** Ansible's `list` type: a list as is, a string split on commas, anything else a one-item list */
function list(v: unknown): unknown[] | undefined {
  if (!given(v)) return undefined;
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return v.split(',');
  return [v];
}

function dict(v: unknown, what: string): [string, unknown][] | undefined {
  if (!given(v)) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw badArg(`${what} must be a mapping`);
  return Object.entries(v as Record<string, unknown>);
}

/** Ansible's `bool` type */
function bool(v: unknown, what: string): boolean | undefined {
  if (!given(v)) return undefined;
  if (typeof v === 'boolean') return v;
  const s = String(v).trim().toLowerCase();
  if (['1', 'yes', 'true', 'on', 'y', 't'].includes(s)) return true;
  if (['0', 'no', 'false', 'off', 'n', 'f'].includes(s)) return false;
  throw badArg(`${what}: ${JSON.stringify(v)} is not a boolean`);
}

/** Ansible's `int` type */
function int(v: unknown, what: string): number | undefined {
  if (!given(v)) return undefined;
  const n = typeof v === 'number' ? v : /^\s*[-+]?\d+\s*$/.test(String(v)) ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw badArg(`${what}: ${JSON.stringify(v)} is not an integer`);
  return n;
}

type Lines = [string, unknown][];

/** `[Section]`, the key lines, quadlet_options (plain lines, then [Service], then other sections), final newline. */
export function quadletText(section: string, lines: Lines, service: Record<string, string>, options: unknown): string {
  const custom = (list(options) ?? []).map(String);
  const main = custom.filter((o) => !o.trimStart().startsWith('['));
  const extra = custom.filter((o) => o.trimStart().startsWith('['));
  let content = `[${section}]\n` + lines.map(([k, v]) => `${k}=${qv(v)}`).join('\n');
  if (main.length) content += '\n' + main.join('\n');
  if (Object.keys(service).length && !custom.some((o) => o.includes('[Service]'))) {
    content += '\n\n[Service]\n' + Object.entries(service).map(([k, v]) => `${k}=${v}`).join('\n');
  }
  if (extra.length) content += '\n\n' + extra.join('\n');
  return content + '\n';
}

/** in the collection's param-map order: one line per item of a list, one line for a scalar, none when not given */
function push(lines: Lines, key: string, v: unknown): void {
  if (!given(v)) return;
  if (Array.isArray(v)) for (const x of v) lines.push([key, x]);
  else lines.push([key, v]);
}

const RESTART: Record<string, string> = { no: 'no', 'on-failure': 'on-failure', always: 'always', 'unless-stopped': 'always' };

/**
 * The .container file of podman_container's params (after templating, aliases as given). Only the arguments runbook
 * implements can reach here (the schema refuses the others).
 */
export function renderContainerQuadlet(raw: Record<string, unknown>): string {
  const w = 'podman_container';
  const lines: Lines = [];
  const joined = (v: unknown) => (given(v) ? (list(v) ?? []).map(pyStr).join(' ') : undefined);
  const kv = (v: unknown, what: string, q: (s: string) => string = (s) => s) => dict(v, `${w}: ${what}`)?.map(([k, x]) => q(`${k}=${pyStr(x)}`));
  const podmanArgs: string[] = [];
  const globalArgs: string[] = [];
  const secOpts = (list(raw.security_opt) ?? []).map(String);
  let noNewPrivileges: boolean | undefined;
  if (secOpts.includes('no-new-privileges')) {
    noNewPrivileges = true;
    secOpts.splice(secOpts.indexOf('no-new-privileges'), 1);
  }
  let user = given(raw.user) ? String(raw.user) : undefined;
  let group: string | undefined;
  if (user !== undefined && user.split(':').length > 1) {
    const parts = user.split(':');
    if (parts.length !== 2) throw badArg(`${w}: user ${JSON.stringify(user)} is not USER[:GROUP]`);
    [user, group] = parts as [string, string];
  }
  if (bool(raw.debug, `${w}: debug`)) globalArgs.push('--log-level debug');
  for (const s of secOpts) podmanArgs.push(`--security-opt ${s}`);
  const service: Record<string, string> = {};
  const restart = given(raw.restart_policy) ? String(raw.restart_policy) : '';
  if (restart) service.Restart = RESTART[restart] ?? restart;
  const rootfs = given(raw.rootfs) ? raw.rootfs : undefined;
  const logOpt = dict(opt(raw, 'log_opt', 'log_options'), `${w}: log_opt`)?.filter(([, v]) => given(v)).map(([k, v]) => `${k.replace('max_size', 'max-size')}=${pyStr(v)}`);
  const tmpfs = dict(raw.tmpfs, `${w}: tmpfs`)?.map(([k, v]) => (v ? `${k}:${pyStr(v)}` : k));
  const command = raw.command;

  push(lines, 'AddCapability', joined(opt(raw, 'cap_add', 'capabilities')) || undefined);
  push(lines, 'AddDevice', list(raw.device));
  push(lines, 'ContainerName', raw.name);
  push(lines, 'DropCapability', joined(raw.cap_drop) || undefined);
  push(lines, 'Environment', kv(raw.env, 'env', pyQuote));
  push(lines, 'Exec', given(command) ? (Array.isArray(command) ? command.map(pyStr).join(' ') : command) || undefined : undefined);
  push(lines, 'GlobalArgs', globalArgs);
  push(lines, 'Group', group);
  push(lines, 'HealthCmd', opt(raw, 'healthcheck', 'health_cmd'));
  push(lines, 'HealthInterval', opt(raw, 'healthcheck_interval', 'health_interval'));
  push(lines, 'HealthRetries', int(opt(raw, 'healthcheck_retries', 'health_retries'), `${w}: healthcheck_retries`));
  push(lines, 'HealthStartPeriod', opt(raw, 'healthcheck_start_period', 'health_start_period'));
  push(lines, 'HealthTimeout', opt(raw, 'healthcheck_timeout', 'health_timeout'));
  push(lines, 'HostName', raw.hostname);
  push(lines, 'Image', rootfs === undefined ? raw.image : undefined);
  push(lines, 'Label', kv(opt(raw, 'label', 'labels'), 'label', pyQuote));
  push(lines, 'LogDriver', raw.log_driver);
  push(lines, 'LogOpt', logOpt);
  push(lines, 'Network', list(opt(raw, 'network', 'net', 'network_mode')));
  push(lines, 'NoNewPrivileges', noNewPrivileges);
  push(lines, 'PublishPort', list(opt(raw, 'publish', 'ports', 'published', 'published_ports')));
  push(lines, 'Pull', raw.pull);
  push(lines, 'ReadOnly', bool(raw.read_only, `${w}: read_only`));
  push(lines, 'ReadOnlyTmpfs', bool(raw.read_only_tmpfs, `${w}: read_only_tmpfs`));
  push(lines, 'Rootfs', rootfs);
  push(lines, 'StopTimeout', int(raw.stop_timeout, `${w}: stop_timeout`));
  push(lines, 'Sysctl', kv(raw.sysctl, 'sysctl'));
  push(lines, 'Tmpfs', tmpfs);
  push(lines, 'Ulimit', list(opt(raw, 'ulimit', 'ulimits')));
  push(lines, 'User', user);
  push(lines, 'UserNS', opt(raw, 'userns', 'userns_mode'));
  push(lines, 'Volume', list(opt(raw, 'volume', 'volumes')));
  push(lines, 'WorkingDir', opt(raw, 'workdir', 'working_dir'));
  push(lines, 'PodmanArgs', podmanArgs);
  return quadletText('Container', lines, service, raw.quadlet_options);
}

/** The .volume file of podman_volume's params. */
export function renderVolumeQuadlet(raw: Record<string, unknown>): string {
  const lines: Lines = [];
  const podmanArgs: string[] = [];
  const opts = raw.options;
  if (given(opts) && typeof opts === 'object' && !Array.isArray(opts)) {
    // runbook also takes options as a mapping: the same --opt KEY=VALUE
    for (const [k, v] of Object.entries(opts as Record<string, unknown>)) podmanArgs.push(`--opt ${k}=${pyStr(v)}`);
  } else for (const o of list(opts) ?? []) podmanArgs.push(`--opt ${pyStr(o)}`);
  push(lines, 'VolumeName', raw.name);
  push(lines, 'Driver', raw.driver);
  push(lines, 'Label', dict(raw.label, 'podman_volume: label')?.map(([k, v]) => `${k}=${pyStr(v)}`));
  push(lines, 'GlobalArgs', bool(raw.debug, 'podman_volume: debug') ? ['--log-level debug'] : []);
  push(lines, 'PodmanArgs', podmanArgs);
  return quadletText('Volume', lines, {}, raw.quadlet_options);
}

/** The .network file of podman_network's params (subnet and gateway may be lists in runbook: one line each). */
export function renderNetworkQuadlet(raw: Record<string, unknown>): string {
  const lines: Lines = [];
  const many = (v: unknown) => (Array.isArray(v) ? v.map(pyStr) : given(v) ? pyStr(v) : undefined);
  push(lines, 'NetworkName', raw.name);
  push(lines, 'Internal', bool(raw.internal, 'podman_network: internal'));
  push(lines, 'Driver', raw.driver);
  push(lines, 'Gateway', many(raw.gateway));
  push(lines, 'Subnet', many(raw.subnet));
  push(lines, 'IPv6', bool(raw.ipv6, 'podman_network: ipv6'));
  return quadletText('Network', lines, {}, raw.quadlet_options);
}

/** quadlet_dir/quadlet_filename/quadlet_file_mode + the rendered content -> what the probe and plan need. */
export function quadletParams(kind: QuadletKind, raw: Record<string, unknown>, content: string): QuadletParams {
  const name = String(raw.name ?? '');
  let filename = given(raw.quadlet_filename) ? String(raw.quadlet_filename) : '';
  if (filename && !filename.endsWith(`.${kind}`)) filename = `${filename}.${kind}`;
  filename ||= `${name}.${kind}`;
  if (filename.includes('/')) throw badArg(`podman_${kind}: quadlet_filename ${JSON.stringify(filename)} must be a file name, not a path`);
  const q: QuadletParams = { kind, filename, content };
  if (given(raw.quadlet_dir)) {
    const dir = String(raw.quadlet_dir);
    if (!dir.startsWith('/') && !dir.startsWith('~')) throw badArg(`podman_${kind}: quadlet_dir ${JSON.stringify(dir)} must be an absolute path`);
    q.dir = dir;
  }
  const mode = normaliseMode(raw.quadlet_file_mode, `podman_${kind}: quadlet_file_mode`);
  if (mode !== undefined) q.mode = mode;
  return q;
}

// ---------------------------------------------------------------------------------------------------------------
// probe and plan

const SENTINEL = '/rb-quadlet-path';

/** The path in shell: quadlet_dir (a leading ~ is the remote user's home), or the remote user's default directory. */
function pathShell(q: QuadletParams): string {
  const file = quote(q.filename);
  if (q.dir === undefined) return `rb_uid; if [ "$_uid" = 0 ]; then p=/etc/containers/systemd/${file}; else p="$HOME"/.config/containers/systemd/${file}; fi`;
  const m = /^~(\/.*)?$/.exec(q.dir);
  if (m) return `p="$HOME"${quote(`${(m[1] ?? '').replace(/\/+$/, '')}/${q.filename}`)}`;
  return `p=${quote(`${q.dir.replace(/\/+$/, '')}/${q.filename}`)}`;
}

/** The file edit probe (stat + content), with the path resolved on the host. */
export function quadletProbe(q: QuadletParams): Probe<EditState> {
  const script = editProbeScript(SENTINEL).replace(`p=${quote(SENTINEL)}`, pathShell(q));
  const asked = q.dir === undefined || q.dir.startsWith('~') ? q.filename : `${q.dir.replace(/\/+$/, '')}/${q.filename}`;
  return { script, parse: (out) => parseEditState(out, asked) };
}

/** Python's str.splitlines() without the comment lines, joined by \n (the collection's comparison). */
export function withoutComments(s: string): string {
  const lines = s.split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines.filter((l) => !l.startsWith('#')).join('\n');
}

/** PURE: write the quadlet file when its content differs (comments aside); mode as the collection. */
export function planQuadlet(q: QuadletParams, state: EditState): Plan {
  const exists = !isProbeFailed(state) && state.stat.type === 'file';
  const attrs = q.mode !== undefined ? { mode: q.mode } : exists ? {} : { mode: '0640' };
  const after = Buffer.from(q.content, 'utf8').toString('latin1');
  let rewrite = false;
  const plan = planEdit({ path: isProbeFailed(state) ? q.filename : state.path, create: true, attrs }, state, (before) => {
    const same = withoutComments(Buffer.from(before, 'latin1').toString('utf8')) === withoutComments(q.content);
    rewrite = !same;
    return same ? { after: before, msg: '', noop: '' } : { after, msg: '' };
  });
  if (plan.fail) return plan;
  const path = isProbeFailed(state) ? q.filename : state.path;
  const what = `${q.kind} quadlet ${path}`;
  const reason = !plan.steps.length ? `${what} is as wanted` : rewrite ? `${exists ? 'rewrite' : 'create'} ${what}` : `${what}: ${plan.reason}`;
  return { ...plan, reason, result: { quadlet_file: path } };
}
