/**
 * service_facts (ansible.builtin.service_facts): the host's services as `ansible_facts.services`, as Ansible builds
 * it on Linux: first the SysV view (`service --status-all`: ` [ + ]  NAME` -> { name, state: running|stopped,
 * source: 'sysv' }, keyed by the bare name), then, when PID 1 is systemd, systemd's (`systemctl list-units` and
 * `list-unit-files`: 'NAME.service' -> { name, state, status, source: 'systemd' }). Read-only: never changed.
 * Ansible asks `systemctl show` for the ActiveState of each unit file not among the loaded units; runbook reports
 * those as 'inactive' (a unit that is not loaded is not active) instead of one more command per unit.
 */
import type { ExecResult } from '../connection/types.js';
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type ProbeFailed } from './types.js';
import { EPILOGUE, PRELUDE, frameState, namesFor } from './common.js';

export interface ServiceInfo {
  name: string;
  state: string;
  status?: string;
  source: 'systemd' | 'sysv';
}

export type ServiceFactsState = { services: Record<string, ServiceInfo> } | ProbeFailed;

export function serviceFactsScript(): string {
  return [
    PRELUDE,
    `if command -v service >/dev/null 2>&1; then kv sysv "$(service --status-all 2>/dev/null)"; fi`,
    `if grep -q systemd /proc/1/comm 2>/dev/null && command -v systemctl >/dev/null 2>&1; then`,
    `  kv units "$(systemctl list-units --no-pager --type service --all 2>/dev/null)"`,
    `  kv unit_files "$(systemctl list-unit-files --no-pager --type service --all 2>/dev/null)"`,
    `fi`,
    EPILOGUE,
  ].join('\n');
}

const BAD_STATES = ['not-found', 'masked', 'failed'];

/** Ansible's parse of the three listings (service_facts.py, ansible-core 2.14). */
export function servicesFrom(sysv: string | undefined, units: string | undefined, unitFiles: string | undefined): Record<string, ServiceInfo> {
  const services: Record<string, ServiceInfo> = {};
  for (const m of (sysv ?? '').matchAll(/^\s*\[ (\+|-) \]\s+(.+)$/gm)) {
    const name = m[2]!;
    services[name] = { name, state: m[1] === '+' ? 'running' : 'stopped', source: 'sysv' };
  }
  if (units === undefined) return services;
  for (const line of units.split('\n').filter((l) => l.includes('.service'))) {
    let fields = line.trim().split(/\s+/);
    let status = 'unknown';
    const bad = BAD_STATES.find((b) => fields.includes(b));
    if (bad) {
      status = bad;
      fields = fields.slice(1);
    } else status = fields[2] ?? 'unknown';
    // a failed unit's line starts with a bullet: the name is the next field
    const name = fields[0]!;
    services[name] = { name, state: fields[3] === 'running' ? 'running' : 'stopped', status, source: 'systemd' };
  }
  for (const line of (unitFiles ?? '').split('\n').filter((l) => l.includes('.service'))) {
    const [name, status] = line.trim().split(/\s+/);
    if (!name || !status) continue;
    const cur = services[name];
    if (!cur || cur.source !== 'systemd') services[name] = { name, state: 'inactive', status, source: 'systemd' };
    else if (!BAD_STATES.includes(cur.status ?? '')) cur.status = status;
  }
  return services;
}

export function parseServiceFacts(r: ExecResult): ServiceFactsState {
  const f = frameState(r);
  if (isProbeFailed(f)) return f;
  return { services: servicesFrom(f.str('sysv'), f.str('units'), f.str('unit_files')) };
}

export function planServiceFacts(_p: unknown, s: ServiceFactsState | null): Plan {
  if (!s) return failPlan(failure('probe_failed', 'service_facts: no probe result'));
  if (isProbeFailed(s)) return failPlan(s.probeFailed);
  const all = Object.values(s.services);
  const src = [...new Set(all.map((v) => v.source))].join(' and ') || 'no service manager';
  return { steps: [], reason: `${all.length} services (${src})`, result: { ansible_facts: { services: s.services } } };
}

const serviceFacts: ModuleDef<Record<string, unknown>, ServiceFactsState> = {
  name: 'service_facts',
  aliases: namesFor('service_facts'),
  description: 'services as ansible_facts.services (systemd and SysV)',
  schema: { type: 'object', additionalProperties: false, properties: {} },
  probe: () => ({ script: serviceFactsScript(), parse: parseServiceFacts }),
  plan: planServiceFacts,
};

export default serviceFacts;
