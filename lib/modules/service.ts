/**
 * service: the generic service module, on systemd hosts (Debian's default). It is systemd.ts with service's
 * arguments: name, state, enabled (and `use: auto|systemd`). Where systemd is not the running init, `enabled` is
 * still managed (systemctl enable/disable work offline) and `state` is not, with the plan saying so
 * ("systemd is not running on this host: state not managed"); a host without systemctl fails with a clear message.
 * sysvinit / OpenRC hosts are not supported (yet).
 */
import type { ModuleDef } from './types.js';
import { badArg, frameProbe, namesFor, type FrameState } from './common.js';
import { planSystemd, prepareSystemd, probeSystemd, type SystemdParams } from './systemd.js';

export function prepareService(params: Record<string, unknown>): SystemdParams {
  const { use, sleep: _sleep, ...rest } = params;
  if (use !== undefined && use !== 'auto' && use !== 'systemd') throw badArg(`service: use=${String(use)} is not supported; runbook drives systemd (use: auto or systemd)`);
  if (rest.state === undefined && rest.enabled === undefined) throw badArg('service: one of state or enabled is required');
  return prepareSystemd(rest);
}

const service: ModuleDef<SystemdParams, FrameState> = {
  name: 'service',
  aliases: namesFor('service'),
  description: 'Start/stop/restart/reload and enable/disable a service (systemd hosts)',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', minLength: 1 },
      state: { enum: ['started', 'stopped', 'restarted', 'reloaded'] },
      enabled: { type: 'boolean' },
      use: { type: 'string' },
      sleep: { type: 'integer' },
    },
  },
  prepare: prepareService,
  probe: (p) => frameProbe(probeSystemd(p)),
  plan: planSystemd,
};

export default service;
