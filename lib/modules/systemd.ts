/**
 * systemd (systemd_service): enable/disable, mask/unmask, start/stop/restart/reload a unit, daemon-reload.
 *
 * Where systemd is not the running init (containers, network namespaces of the test lab): `systemctl
 * is-enabled/enable/disable/mask/unmask` work offline (they only read and write unit-file symlinks), so
 * `enabled` and `masked` are managed; `state` and `daemon_reload` need the manager, so they are skipped and
 * the plan says so ("systemd is not running on this host: state not managed"), never a failure, never a lie.
 *
 * Unit-file states: enabled/enabled-runtime count as enabled; disabled, linked, masked as not; static,
 * generated and transient units have no [Install] section to act on (enabled: true or false is then a
 * no-op with that reason, where Ansible would run `systemctl disable` every time); an alias is resolved to
 * the unit it names (systemctl refuses to enable an alias name).
 */
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type Step } from './types.js';
import { EPILOGUE, PRELUDE, badArg, frameProbe, namesFor, type FrameState, quote } from './common.js';

export interface SystemdParams {
  name?: string;
  /** name with a unit suffix (.service added when it has none) */
  unit?: string;
  state?: 'started' | 'stopped' | 'restarted' | 'reloaded';
  enabled?: boolean;
  masked?: boolean;
  daemonReload: boolean;
}

const SUFFIX = /\.(service|socket|timer|target|mount|automount|path|slice|scope|swap|device)$/;

export function prepareSystemd(params: Record<string, unknown>): SystemdParams {
  if (params.daemon_reload !== undefined && params['daemon-reload'] !== undefined) throw badArg('daemon_reload and daemon-reload are aliases: give one');
  const p: SystemdParams = { daemonReload: (params.daemon_reload ?? params['daemon-reload']) === true };
  const name = (params.name ?? params.service ?? params.unit) as string | undefined;
  if ([params.name, params.service, params.unit].filter((v) => v !== undefined).length > 1) throw badArg('name, service and unit are aliases: give one');
  if (name !== undefined) {
    p.name = name;
    p.unit = SUFFIX.test(name) ? name : `${name}.service`;
  }
  if (params.state !== undefined) p.state = params.state as SystemdParams['state'];
  if (typeof params.enabled === 'boolean') p.enabled = params.enabled;
  if (typeof params.masked === 'boolean') p.masked = params.masked;
  if (p.name === undefined && (p.state !== undefined || p.enabled !== undefined || p.masked !== undefined)) {
    throw badArg('name is required with state, enabled or masked');
  }
  if (p.name === undefined && !p.daemonReload) throw badArg('one of name or daemon_reload is required');
  if (p.name !== undefined && p.state === undefined && p.enabled === undefined && p.masked === undefined && !p.daemonReload) {
    throw badArg('one of state, enabled, masked or daemon_reload is required');
  }
  return p;
}

const UNIT_DIRS = ['/etc/systemd/system', '/run/systemd/system', '/usr/local/lib/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];

export function probeSystemd(p: SystemdParams): string {
  const lines = [
    PRELUDE,
    `if [ -d /run/systemd/system ]; then kv running 1; else kv running 0; fi`,
    `if ! command -v systemctl >/dev/null 2>&1; then kv no_systemctl 1; fi`,
  ];
  if (p.unit !== undefined) {
    lines.push(
      `u=${quote(p.unit)}`,
      `_e=$(systemctl is-enabled -- "$u" 2>/dev/null | head -n 1)`,
      // an alias: find the unit it names, and read that one's state
      `if [ "$_e" = alias ]; then`,
      `  for _d in ${UNIT_DIRS.join(' ')}; do`,
      `    if [ -L "$_d/$u" ]; then _t=$(readlink -- "$_d/$u"); u=\${_t##*/}; kv alias_of "$u"; _e=$(systemctl is-enabled -- "$u" 2>/dev/null | head -n 1); break; fi`,
      `  done`,
      `fi`,
      `kv enabled "$_e"`,
      `if [ -d /run/systemd/system ]; then`,
      `  kv active "$(systemctl is-active -- "$u" 2>/dev/null | head -n 1)"`,
      `  kv load_state "$(systemctl show -p LoadState --value -- "$u" 2>/dev/null)"`,
      `  kv need_reload "$(systemctl show -p NeedDaemonReload --value -- "$u" 2>/dev/null)"`,
      `fi`,
    );
  }
  lines.push(EPILOGUE);
  return lines.join('\n');
}

const ENABLED = new Set(['enabled', 'enabled-runtime']);
const NOT_ENABLED = new Set(['disabled', 'linked', 'linked-runtime', 'masked', 'masked-runtime']);
const NO_INSTALL = new Set(['static', 'generated', 'transient', 'indirect']);

/** the unit file a unit name names, as a bare file name (`nginx.service`); undefined for a name without a suffix */
export const NOT_RUNNING = 'systemd is not running on this host';

export function planSystemd(p: SystemdParams, f: FrameState): Plan {
  if (isProbeFailed(f)) return failPlan(f.probeFailed);
  if (f.str('no_systemctl') === '1') {
    return failPlan(failure('no_systemd', 'systemctl is not installed on this host: it does not use systemd'));
  }
  const running = f.str('running') === '1';
  const steps: Step[] = [];
  const changes: string[] = [];
  const notes: string[] = [];
  const result: Record<string, unknown> = { systemd_running: running };
  const sc = (verb: string, unit?: string): void => {
    steps.push({ kind: 'run', script: unit ? `systemctl ${verb} -- ${quote(unit)}` : `systemctl ${verb}`, describe: `systemctl ${verb}${unit ? ' ' + unit : ''}` });
    changes.push(`${verb}${unit ? ' ' + unit : ''}`);
  };

  if (p.unit === undefined) {
    // daemon_reload alone
    if (!running) return { steps: [], reason: `${NOT_RUNNING}: daemon-reload skipped`, result };
    sc('daemon-reload');
    return { steps, reason: 'daemon-reload requested', result };
  }

  const unit = f.str('alias_of') || p.unit;
  const fileState = f.str('enabled') ?? '';
  const active = f.str('active') ?? '';
  const loadState = f.str('load_state') ?? '';
  result.name = p.name;
  result.status = { UnitFileState: fileState || 'not-found', ...(running ? { ActiveState: active, LoadState: loadState } : {}) };
  if (unit !== p.unit) notes.push(`${p.unit} is an alias of ${unit}`);

  const notFound = fileState === '' || fileState === 'bad' || fileState === 'not-found';
  const onlyMask = p.masked === true && p.enabled === undefined && p.state === undefined;
  if (notFound && !(running && loadState === 'loaded') && !onlyMask) {
    const fail = failure('unit_not_found', `Could not find the requested service ${p.name}: host`, p.unit);
    if (!isProbeFailed(f)) {
      // check mode, when an earlier task plans the unit: a unit file just written is disabled and inactive; a unit a
      // Debian package installs is enabled and started by the package's own scripts (deb-systemd-helper, invoke-rc.d)
      fail.ifCreated = planSystemd(p, f.with({ enabled: 'disabled', active: 'inactive', load_state: 'loaded' }));
      fail.ifInstalled = planSystemd(p, f.with({ enabled: 'enabled', active: 'active', load_state: 'loaded' }));
    }
    return failPlan(fail, result);
  }

  // 1. daemon-reload
  if (p.daemonReload) {
    if (!running) notes.push(`${NOT_RUNNING}: daemon-reload skipped`);
    else if (f.str('need_reload') === 'no') notes.push(`daemon-reload not needed (${unit} reports NeedDaemonReload=no)`);
    else sc('daemon-reload');
  }

  // 2. masked
  const isMasked = fileState === 'masked' || fileState === 'masked-runtime';
  if (p.masked === true) {
    if (isMasked) notes.push(`${unit} is already masked`);
    else sc('mask', unit);
  } else if (p.masked === false) {
    if (isMasked) sc('unmask', unit);
    else notes.push(`${unit} is not masked`);
  }
  const willBeMasked = p.masked ?? isMasked;

  // 3. enabled
  if (p.enabled !== undefined) {
    if (willBeMasked && p.enabled) {
      return failPlan(failure('masked', `${unit} is masked: it cannot be enabled (set masked: false)`), result);
    }
    if (isMasked && p.masked === false) {
      // unmasked above: its state is then decided by its [Install] links, which enable/disable settle
      sc(p.enabled ? 'enable' : 'disable', unit);
    } else if (NO_INSTALL.has(fileState)) {
      notes.push(`${unit} is ${fileState}: it has no [Install] section of its own to ${p.enabled ? 'enable' : 'disable'}`);
    } else if (p.enabled && !ENABLED.has(fileState)) {
      sc('enable', unit);
    } else if (!p.enabled && ENABLED.has(fileState)) {
      sc('disable', unit);
    } else if (!ENABLED.has(fileState) && !NOT_ENABLED.has(fileState) && fileState !== '') {
      notes.push(`${unit} unit-file state is ${fileState}`);
    } else {
      notes.push(`${unit} is already ${p.enabled ? 'enabled' : 'disabled'}`);
    }
    result.enabled = p.enabled;
  }

  // 4. state
  if (p.state !== undefined) {
    result.state = p.state;
    if (!running) {
      notes.push(`${NOT_RUNNING}: state not managed`);
      result.state_managed = false;
    } else {
      const isRunning = active === 'active' || active === 'activating' || active === 'reloading' || active === 'refreshing';
      if (p.state === 'started') {
        if (isRunning) notes.push(`${unit} is already ${active}`);
        else sc('start', unit);
      } else if (p.state === 'stopped') {
        if (isRunning || active === 'deactivating') sc('stop', unit);
        else notes.push(`${unit} is already ${active || 'inactive'}`);
      } else if (p.state === 'restarted') {
        sc(isRunning ? 'restart' : 'start', unit);
        notes.push('restarted is always a change');
      } else {
        sc(isRunning ? 'reload' : 'start', unit);
        notes.push('reloaded is always a change');
      }
    }
  }

  const reason = steps.length ? [...changes, ...notes].join('; ') : notes.join('; ') || `${unit}: nothing to do`;
  return { steps, reason, result };
}

export const systemdSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1 },
    service: { type: 'string', minLength: 1 },
    unit: { type: 'string', minLength: 1 },
    state: { enum: ['started', 'stopped', 'restarted', 'reloaded'] },
    enabled: { type: 'boolean' },
    masked: { type: 'boolean' },
    daemon_reload: { type: 'boolean' },
    'daemon-reload': { type: 'boolean' },
  },
};

const systemd: ModuleDef<SystemdParams, FrameState> = {
  name: 'systemd',
  aliases: [...namesFor('systemd'), 'systemd_service', ...namesFor('systemd_service')],
  description: 'Manage a systemd unit: enabled, masked, started/stopped/restarted/reloaded, daemon-reload',
  schema: systemdSchema,
  prepare: prepareSystemd,
  probe: (p) => frameProbe(probeSystemd(p)),
  plan: planSystemd,
};

export default systemd;
