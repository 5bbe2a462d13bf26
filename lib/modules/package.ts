/**
 * package (ansible.builtin.package): the generic package module. Ansible's `package` is an action that picks the
 * host's package manager (`use: auto` = the pkg_mgr fact) and hands every argument but `use` to that module. On
 * Debian that is apt, so runbook's package is apt: the same arguments (name/state and, as in Ansible, apt's own
 * such as update_cache), the same read-only probe and pure plan, check mode as exact as apt's.
 *
 * `use: apt` is the same; any other manager (yum, dnf, zypper, ...) is refused when the arguments are checked,
 * and a host without apt fails with a message saying runbook's package drives apt only.
 */
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan } from './types.js';
import { aptSchema, finishApt, planApt, prepareApt, probeApt, type AptParams } from './apt.js';
import { badArg, frameProbe, namesFor, type FrameState } from './common.js';
import { coerceArgs } from './coerce.js';

export const packageSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...aptSchema.properties,
    // runbook drives apt; Ansible's other managers are refused with a clear message
    use: { enum: ['auto', 'apt'] },
  },
};

export function preparePackage(params: Record<string, unknown>): AptParams {
  // the arguments as Ansible's module would see them (yes -> true, "86400" -> 86400), whatever the caller did
  const { use, ...rest } = coerceArgs(packageSchema, params);
  if (use !== undefined && use !== 'auto' && use !== 'apt') throw badArg(`package: use=${String(use)} is not supported; runbook's package module drives apt (use: auto or apt)`);
  return prepareApt(rest);
}

export function planPackage(p: AptParams, f: FrameState): Plan {
  if (!isProbeFailed(f) && f.str('no_apt') === '1') {
    return failPlan(failure('no_apt', "package: this host has no apt-get / dpkg-query; runbook's package module drives apt only (Debian and derivatives)"));
  }
  return planApt(p, f);
}

const pkg: ModuleDef<AptParams, FrameState> = {
  name: 'package',
  aliases: namesFor('package'),
  description: 'Generic package manager: apt on Debian (name/state and apt\'s arguments, as Ansible hands them to apt)',
  schema: packageSchema,
  prepare: preparePackage,
  probe: (p) => frameProbe(probeApt(p)),
  plan: planPackage,
  finish: finishApt,
};

export default pkg;
