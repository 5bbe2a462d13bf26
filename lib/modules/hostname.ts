/**
 * hostname (ansible.builtin.hostname): the host's name, now and at boot. Strategies as Ansible's on Linux:
 *  - systemd (the default where PID 1 is systemd): `hostnamectl set-hostname NAME` when the static or transient
 *    name differs (it writes /etc/hostname itself);
 *  - debian / generic (the default elsewhere on Debian): /etc/hostname rewritten as `NAME\n` and `hostname NAME`.
 * The result sets the facts ansible_hostname (the short name), ansible_nodename and ansible_fqdn as Ansible does.
 * Other `use` values (redhat, alpine, openrc, ...) are other distributions' files: not supported by runbook yet.
 */
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type Step } from './types.js';
import { EPILOGUE, PRELUDE, badArg, frameProbe, namesFor, quote, type FrameState } from './common.js';

export interface HostnameParams {
  name: string;
  use?: 'systemd' | 'debian' | 'generic';
}

const USES = ['alpine', 'debian', 'freebsd', 'generic', 'macos', 'macosx', 'darwin', 'openbsd', 'openrc', 'redhat', 'sles', 'solaris', 'systemd'];

export const hostnameSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1 }, use: { enum: USES } },
};

export function prepareHostname(raw: Record<string, unknown>): HostnameParams {
  const name = String(raw.name ?? '').trim();
  if (!/^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(name)) throw badArg(`hostname: '${name}' is not a valid host name`);
  const use = raw.use as string | undefined;
  if (use !== undefined && !['systemd', 'debian', 'generic'].includes(use)) throw badArg(`hostname: use=${use} is not supported by runbook yet (systemd, debian, generic)`);
  return use === undefined ? { name } : { name, use: use as HostnameParams['use'] };
}

export function hostnameScript(): string {
  return [
    PRELUDE,
    `kv current "$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)"`,
    `if [ -f /etc/hostname ]; then kvfile etc_hostname /etc/hostname; fi`,
    `if grep -q systemd /proc/1/comm 2>/dev/null && command -v hostnamectl >/dev/null 2>&1; then kv systemd 1; kv static "$(hostnamectl --static 2>/dev/null)"; fi`,
    EPILOGUE,
  ].join('\n');
}

export function planHostname(p: HostnameParams, f: FrameState | null): Plan {
  if (!f) return failPlan(failure('probe_failed', 'hostname: no probe result'));
  if (isProbeFailed(f)) return failPlan(f.probeFailed);
  const current = (f.str('current') ?? '').trim();
  const systemd = f.str('systemd') === '1';
  const use = p.use ?? (systemd ? 'systemd' : 'debian');
  if (use === 'systemd' && !systemd) return failPlan(failure('no_systemd', 'hostname: use=systemd, but systemd is not running on the host (PID 1)'));
  const short = p.name.split('.')[0]!;
  const facts = { ansible_hostname: short, ansible_nodename: p.name, ansible_fqdn: p.name, ansible_domain: p.name.split('.').slice(1).join('.') };
  const result = { name: p.name, ansible_facts: facts };
  const steps: Step[] = [];
  const why: string[] = [];
  let diffs;
  if (use === 'systemd') {
    const stat = (f.str('static') ?? '').trim();
    if (stat !== p.name || current !== p.name) {
      steps.push({ kind: 'run', script: `hostnamectl set-hostname ${quote(p.name)}`, describe: `hostnamectl set-hostname ${p.name}` });
      why.push(`hostname ${current} -> ${p.name}`);
      diffs = [{ label: 'hostname', before: `hostname = ${current}\n`, after: `hostname = ${p.name}\n` }];
    }
  } else {
    const etc = f.str('etc_hostname');
    if ((etc ?? '').trim() !== p.name) {
      steps.push({ kind: 'write', path: '/etc/hostname', content: `${p.name}\n`, describe: 'write /etc/hostname' });
      why.push(`/etc/hostname: ${etc === undefined ? '(absent)' : etc.trim()} -> ${p.name}`);
    }
    if (current !== p.name) {
      steps.push({ kind: 'run', script: `hostname ${quote(p.name)}`, describe: `hostname ${p.name}` });
      why.push(`current hostname ${current} -> ${p.name}`);
    }
    if (steps.length) diffs = [{ label: 'hostname', before: `hostname = ${current}\n`, after: `hostname = ${p.name}\n` }];
  }
  if (!steps.length) return { steps, reason: `hostname is ${p.name}`, result };
  return { steps, reason: why.join('; '), ...(diffs ? { diffs } : {}), result };
}

const hostname: ModuleDef<HostnameParams, FrameState> = {
  name: 'hostname',
  aliases: [...namesFor('hostname'), 'community.general.hostname'],
  description: 'the host name, now and at boot (hostnamectl, or /etc/hostname + hostname)',
  schema: hostnameSchema,
  prepare: prepareHostname,
  probe: () => frameProbe(hostnameScript()),
  plan: planHostname,
};

export default hostname;
