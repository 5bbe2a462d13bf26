/**
 * package_facts (ansible.builtin.package_facts): the installed packages as `ansible_facts.packages`, name -> a list
 * of { name, version, arch, source: 'apt' } (a list: one entry per installed architecture), read with dpkg-query
 * (Ansible's apt backend reads the same dpkg database through python-apt). Read-only: never changed.
 * manager: auto or apt (runbook drives Debian's dpkg; rpm, portage, ... not yet); strategy first/all is accepted
 * (with one manager they mean the same).
 */
import type { ExecResult } from '../connection/types.js';
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type ProbeFailed } from './types.js';
import { badArg, namesFor } from './common.js';

export interface PackageFactsParams {
  manager: string[];
  strategy: 'first' | 'all';
}

export interface PackageInfo {
  name: string;
  version: string;
  arch: string;
  source: 'apt';
}

export type PackageFactsState = { packages: Record<string, PackageInfo[]> } | ProbeFailed;

export const packageFactsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    manager: { type: 'array', items: { enum: ['auto', 'rpm', 'apt', 'portage', 'pkg', 'pacman', 'apk', 'pkg_info'] } },
    strategy: { enum: ['first', 'all'] },
  },
};

export function preparePackageFacts(raw: Record<string, unknown>): PackageFactsParams {
  const manager = raw.manager === undefined || raw.manager === null ? ['auto'] : (Array.isArray(raw.manager) ? raw.manager : [raw.manager]).map(String);
  const other = manager.filter((m) => m !== 'auto' && m !== 'apt');
  if (other.length) throw badArg(`package_facts: manager ${other.join(', ')} is not supported by runbook yet (it reads dpkg: auto or apt)`);
  return { manager, strategy: (raw.strategy as PackageFactsParams['strategy'] | undefined) ?? 'first' };
}

const MARK = '--rb-package-facts--';

export function packageFactsScript(): string {
  return [
    `command -v dpkg-query >/dev/null 2>&1 || { echo 'dpkg-query not found' >&2; exit 3; }`,
    `echo ${MARK}`,
    // the status word last: only "installed" packages count (not config-files, half-installed, ...)
    `dpkg-query -W -f='\${Package}\\t\${Version}\\t\${Architecture}\\t\${db:Status-Status}\\n'`,
  ].join('\n');
}

export function parsePackageFacts(r: ExecResult): PackageFactsState {
  const i = r.stdout.indexOf(`${MARK}\n`);
  if (r.code !== 0 || i < 0) return { probeFailed: failure('probe_failed', `package_facts: could not list packages (rc ${r.code}): ${r.stderr.trim() || 'no output'}`) };
  const packages: Record<string, PackageInfo[]> = {};
  for (const line of r.stdout.slice(i + MARK.length + 1).split('\n')) {
    const [name, version, arch, status] = line.split('\t');
    if (!name || status !== 'installed') continue;
    (packages[name] ??= []).push({ name, version: version ?? '', arch: arch ?? '', source: 'apt' });
  }
  return { packages };
}

export function planPackageFacts(_p: PackageFactsParams, s: PackageFactsState | null): Plan {
  if (!s) return failPlan(failure('probe_failed', 'package_facts: no probe result'));
  if (isProbeFailed(s)) return failPlan(s.probeFailed);
  const n = Object.keys(s.packages).length;
  return { steps: [], reason: `${n} installed packages (dpkg)`, result: { ansible_facts: { packages: s.packages } } };
}

const packageFacts: ModuleDef<PackageFactsParams, PackageFactsState> = {
  name: 'package_facts',
  aliases: namesFor('package_facts'),
  description: 'installed packages as ansible_facts.packages (dpkg)',
  schema: packageFactsSchema,
  prepare: preparePackageFacts,
  probe: () => ({ script: packageFactsScript(), parse: parsePackageFacts }),
  plan: planPackageFacts,
};

export default packageFacts;
