/**
 * timezone (community.general.timezone): the system time zone, Debian style.
 *
 * Probe (read-only): /etc/timezone, what /etc/localtime is (a link and its target, or a file and whether its bytes
 * are the zone's), whether the zone exists under /usr/share/zoneinfo, and whether systemd runs (timedatectl).
 * The zone is right when /etc/localtime resolves to /usr/share/zoneinfo/NAME (or is a copy of it) and
 * /etc/timezone, where the host has one, names it.
 * Apply: without a running systemd, /etc/localtime is relinked atomically (a new link renamed over it; a host whose
 * /etc/localtime is a regular file gets the zone's bytes instead, as the collection copies) and /etc/timezone
 * rewritten; with systemd, `timedatectl set-timezone` does the link and /etc/timezone is kept in step.
 * `hwclock` is accepted and not managed (a note says so): containers and most VMs have no RTC to set.
 */
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type Step } from './types.js';
import { EPILOGUE, PRELUDE, badArg, frameProbe, quote, type FrameState } from './common.js';

export interface TimezoneParams {
  name?: string;
  hwclock?: string;
}

const ZONEINFO = '/usr/share/zoneinfo';
const ZONE_RE = /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/;

export function prepareTimezone(raw: Record<string, unknown>): TimezoneParams {
  const p: TimezoneParams = {};
  if (raw.name !== undefined && raw.name !== null) {
    const name = String(raw.name);
    if (!ZONE_RE.test(name)) throw badArg(`timezone: ${JSON.stringify(name)} is not a time zone name such as Europe/Berlin`);
    p.name = name;
  }
  if (raw.hwclock !== undefined && raw.hwclock !== null) p.hwclock = String(raw.hwclock);
  if (p.name === undefined && p.hwclock === undefined) throw badArg('timezone: one of name or hwclock is required');
  return p;
}

export function probeTimezone(p: TimezoneParams): string {
  const z = quote(`${ZONEINFO}/${p.name ?? 'UTC'}`);
  return [
    PRELUDE,
    `if [ -f /etc/timezone ]; then kvfile etc_timezone /etc/timezone; fi`,
    `if [ -L /etc/localtime ]; then _t=$(readlink /etc/localtime; echo x); kv localtime_link "\${_t%?x}"; elif [ -e /etc/localtime ]; then kv localtime_file 1; fi`,
    `if [ -f ${z} ]; then kv zone_exists 1; if [ -e /etc/localtime ] && cmp -s /etc/localtime ${z}; then kv same_bytes 1; fi; fi`,
    `if [ -d /run/systemd/system ] && command -v timedatectl >/dev/null 2>&1; then kv systemd 1; fi`,
    EPILOGUE,
  ].join('\n');
}

/** the zone a link target names (relative or absolute, ../usr/share/zoneinfo/X or /usr/share/zoneinfo/X) */
export function zoneOfLink(target: string): string | undefined {
  const m = /(?:^|\/)usr\/share\/zoneinfo\/(.+)$/.exec(target);
  return m ? m[1]!.replace(/^posix\//, '') : undefined;
}

export function planTimezone(p: TimezoneParams, f: FrameState): Plan {
  if (isProbeFailed(f)) return failPlan({ ...f.probeFailed, message: `timezone: ${f.probeFailed.message}` }, undefined, f.probeFailed.message);
  const notes: string[] = [];
  if (p.hwclock !== undefined) notes.push(`hwclock ${p.hwclock} is not managed by runbook`);
  const link = f.str('localtime_link');
  const isFile = f.str('localtime_file') === '1';
  const etcTz = f.str('etc_timezone');
  const currentEtc = etcTz?.trim();
  const current = link !== undefined ? zoneOfLink(link) ?? `(link to ${link})` : currentEtc ?? (isFile ? '(a file)' : '(unset)');
  const result: Record<string, unknown> = { before: { name: current } };
  if (p.name === undefined) return { steps: [], reason: notes.join('; '), result: { ...result, after: { name: current } } };
  const name = p.name;
  if (f.str('zone_exists') !== '1') {
    return failPlan(failure('unknown_zone', `timezone: ${name} is not a known time zone (no ${ZONEINFO}/${name} on the host)`, `${ZONEINFO}/${name}`), result);
  }
  result.after = { name };
  const zoneFile = `${ZONEINFO}/${name}`;
  const linkOk = link !== undefined ? zoneOfLink(link) === name || link === zoneFile : isFile && f.str('same_bytes') === '1';
  const etcOk = etcTz === undefined || currentEtc === name;
  if (linkOk && etcOk) return { steps: [], reason: [`time zone is ${name}`, ...notes].join('; '), result };

  const steps: Step[] = [];
  const changes: string[] = [];
  const systemd = f.str('systemd') === '1';
  if (!linkOk) {
    if (systemd) {
      steps.push({ kind: 'run', script: `timedatectl set-timezone ${quote(name)}`, describe: `timedatectl set-timezone ${name}` });
    } else if (isFile) {
      // a copy of the zone's bytes, renamed over the old file (the collection copies where /etc/localtime is no link)
      steps.push({ kind: 'run', script: `cp -- ${quote(zoneFile)} /etc/.localtime.runbook && mv -f -- /etc/.localtime.runbook /etc/localtime`, describe: `copy ${zoneFile} to /etc/localtime` });
    } else {
      steps.push({ kind: 'run', script: `ln -sfn -- ${quote(zoneFile)} /etc/.localtime.runbook && mv -fT -- /etc/.localtime.runbook /etc/localtime`, describe: `link /etc/localtime to ${zoneFile}` });
    }
    changes.push(`/etc/localtime -> ${name}`);
  }
  // Debian keeps the name in /etc/timezone: kept in step wherever the host has one
  if (!etcOk) {
    steps.push({ kind: 'write', path: '/etc/timezone', content: `${name}\n`, describe: 'write /etc/timezone' });
    changes.push(`/etc/timezone ${currentEtc || '(empty)'} -> ${name}`);
  }
  return {
    steps,
    reason: [`set time zone ${current} -> ${name}: ${changes.join(', ')}`, ...notes].join('; '),
    diffs: [{ label: 'timezone', before: `${current}\n`, after: `${name}\n` }],
    result,
  };
}

const timezone: ModuleDef<TimezoneParams, FrameState> = {
  name: 'timezone',
  aliases: ['community.general.timezone'],
  description: 'the system time zone (/etc/localtime link and /etc/timezone; timedatectl with systemd); hwclock not managed',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      name: { type: 'string', minLength: 1 },
      hwclock: { type: 'string', enum: ['local', 'UTC', 'utc'] },
    },
  },
  validate: (raw) => {
    try {
      prepareTimezone(raw);
      return [];
    } catch (e) {
      return [(e as Error).message];
    }
  },
  prepare: prepareTimezone,
  probe: (p) => frameProbe(probeTimezone(p)),
  plan: planTimezone,
};

export default timezone;
