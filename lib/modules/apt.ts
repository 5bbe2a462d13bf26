/**
 * apt: Debian packages present / absent / latest, update_cache with cache_valid_time, upgrade, autoremove.
 *
 * One read-only probe reads, per package, dpkg's status and installed version (dpkg-query) and apt's candidate
 * (apt-cache policy), the age of the package lists (/var/lib/apt/periodic/update-success-stamp, else the mtime of
 * /var/lib/apt/lists, as Ansible), the host's clock, and, for upgrade / autoremove, what `apt-get -s` (a
 * simulation: no lock, no change) says those would do. The plan is then exact: check mode predicts apply.
 *
 * Steps run apt-get non-interactively (DEBIAN_FRONTEND=noninteractive, --force-confdef/--force-confold like
 * Ansible's dpkg_options default) and wait for the dpkg lock up to lock_timeout seconds (Ansible's default 60).
 *
 * When the cache is updated in the same task, candidates may change after the update: `latest` then installs
 * every named package (a no-op for those already newest), and a package unknown to the old lists is not a
 * failure yet (apt-get reports it when it really is missing).
 */
import type { ExecResult } from '../connection/types.js';
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type Step } from './types.js';
import { EPILOGUE, PRELUDE, Frame, badArg, frameProbe, namesFor, type FrameState, quote } from './common.js';

export interface AptPackage {
  /** as given: name, name=version, name:arch */
  spec: string;
  name: string;
  version?: string;
}

export interface AptParams {
  packages: AptPackage[];
  state: 'present' | 'absent' | 'latest';
  updateCache: boolean;
  cacheValidTime: number;
  installRecommends?: boolean;
  purge: boolean;
  autoremove: boolean;
  upgrade?: 'yes' | 'safe' | 'full' | 'dist';
  defaultRelease?: string;
  force: boolean;
  allowDowngrade: boolean;
  onlyUpgrade: boolean;
  dpkgOptions: string[];
  lockTimeout: number;
  /** policy_rc_d: /usr/sbin/policy-rc.d exits with this code while apt-get runs (e.g. 101: no service starts) */
  policyRcD?: number;
}

const PKG_RE = /^[A-Za-z0-9][A-Za-z0-9+.\-]*(:[A-Za-z0-9-]+)?(=[A-Za-z0-9.+:~\-]+)?$/;

function toList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.map((x) => String(x).trim()).filter(Boolean);
  return String(v).split(',').map((x) => x.trim()).filter(Boolean);
}

function one<T>(params: Record<string, unknown>, names: string[]): T | undefined {
  const given = names.filter((n) => params[n] !== undefined);
  if (given.length > 1) throw badArg(`${given.join(' and ')} are aliases: give one`);
  return given.length ? (params[given[0]!] as T) : undefined;
}

export function prepareApt(params: Record<string, unknown>): AptParams {
  const names = toList(one(params, ['name', 'pkg', 'package']));
  const packages: AptPackage[] = names.map((spec) => {
    if (/[*?[\]]/.test(spec)) throw badArg(`apt: package '${spec}': wildcards are not supported; name the packages`);
    if (spec.endsWith('.deb') || spec.includes('/')) throw badArg(`apt: package '${spec}': installing .deb files is not supported (use the package name)`);
    if (!PKG_RE.test(spec)) throw badArg(`apt: '${spec}' is not a valid package name`);
    const eq = spec.indexOf('=');
    return eq > 0 ? { spec, name: spec.slice(0, eq), version: spec.slice(eq + 1) } : { spec, name: spec };
  });
  const cvt = one<number>(params, ['cache_valid_time']);
  const upd = one<boolean>(params, ['update_cache', 'update-cache']);
  const upgradeRaw = params.upgrade;
  let upgrade: AptParams['upgrade'];
  if (upgradeRaw === true || upgradeRaw === 'yes') upgrade = 'yes';
  else if (upgradeRaw === 'safe' || upgradeRaw === 'full' || upgradeRaw === 'dist') upgrade = upgradeRaw;
  const state = (params.state as string | undefined) ?? 'present';
  const p: AptParams = {
    packages,
    state: (state === 'installed' ? 'present' : state === 'removed' ? 'absent' : state) as AptParams['state'],
    // Ansible (2.4+): an explicit cache_valid_time implies update_cache
    updateCache: upd ?? (cvt !== undefined && cvt > 0),
    cacheValidTime: cvt ?? 0,
    purge: params.purge === true,
    autoremove: params.autoremove === true,
    force: params.force === true,
    allowDowngrade: one<boolean>(params, ['allow_downgrade', 'allow-downgrade', 'allow_downgrades', 'allow-downgrades']) === true,
    onlyUpgrade: params.only_upgrade === true,
    dpkgOptions: toList(params.dpkg_options ?? 'force-confdef,force-confold'),
    lockTimeout: (params.lock_timeout as number | undefined) ?? 60,
  };
  const rec = one<boolean>(params, ['install_recommends', 'install-recommends']);
  if (rec !== undefined) p.installRecommends = rec;
  if (upgrade) p.upgrade = upgrade;
  const rel = one<string>(params, ['default_release', 'default-release']);
  // an empty default_release is no release, as in Ansible (geerlingguy.nginx: nginx_default_release: "")
  if (rel !== undefined && rel !== '') p.defaultRelease = rel;
  if (params.policy_rc_d !== undefined && params.policy_rc_d !== null) p.policyRcD = params.policy_rc_d as number;
  if (packages.length === 0 && !p.updateCache && !p.upgrade && !p.autoremove) {
    throw badArg('apt: one of name, update_cache, upgrade or autoremove is required');
  }
  if (p.state === 'absent' && packages.some((x) => x.version !== undefined)) throw badArg('apt: state=absent takes package names without a version');
  return p;
}

const STAMP = '/var/lib/apt/periodic/update-success-stamp';
const LISTS = '/var/lib/apt/lists';

/** the apt-get words for an upgrade mode */
function upgradeWords(u: NonNullable<AptParams['upgrade']>): string {
  return u === 'full' || u === 'dist' ? 'dist-upgrade' : 'upgrade --with-new-pkgs';
}

export function probeApt(p: AptParams): string {
  const lines = [
    PRELUDE,
    `if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then kv no_apt 1; ${EPILOGUE}; exit 0; fi`,
    `if [ -e ${STAMP} ]; then kv cache_time "$(stat -c %Y ${STAMP})"; else kv cache_time "$(stat -c %Y ${LISTS} 2>/dev/null || echo 0)"; fi`,
    `kv now "$(date +%s)"`,
  ];
  const rel = p.defaultRelease ? ` -t ${quote(p.defaultRelease)}` : '';
  p.packages.forEach((pkg, i) => {
    const n = quote(pkg.name);
    lines.push(
      `kv s${i} "$(dpkg-query -W -f='\${db:Status-Abbrev}|\${Version}\\n' -- ${n} 2>/dev/null | head -n 1)"`,
      `kv c${i} "$(apt-cache${rel} policy -- ${n} 2>/dev/null | sed -n 's/^  Candidate: //p' | head -n 1)"`,
    );
    if (pkg.version !== undefined) {
      lines.push(`if apt-cache show -- ${quote(`${pkg.name}=${pkg.version}`)} >/dev/null 2>&1; then kv v${i} 1; else kv v${i} 0; fi`);
    }
  });
  if (p.upgrade) lines.push(`kv upgrade "$(apt-get -s${rel} ${upgradeWords(p.upgrade)} 2>/dev/null | grep -c '^Inst ')"`);
  if (p.autoremove) lines.push(`kv autoremove "$(apt-get -s autoremove${p.purge ? ' --purge' : ''} 2>/dev/null | grep -c '^Remv ')"`);
  lines.push(EPILOGUE);
  return lines.join('\n');
}

interface PkgState {
  /** dpkg's abbreviated status, e.g. 'ii', 'rc', 'iU' ('' when dpkg does not know the package) */
  status: string;
  installed?: string;
  candidate?: string;
  versionAvailable?: boolean;
}

function parsePkg(f: Frame, i: number): PkgState {
  const s = (f.str(`s${i}`) ?? '').trim();
  const bar = s.indexOf('|');
  const status = bar >= 0 ? s.slice(0, bar).trim() : '';
  const version = bar >= 0 ? s.slice(bar + 1).trim() : '';
  const st: PkgState = { status };
  // installed: dpkg has a version on disk that is configured (or only waiting for triggers)
  if (/^.[iWt]/.test(status) && version) st.installed = version;
  const c = (f.str(`c${i}`) ?? '').trim();
  if (c && c !== '(none)') st.candidate = c;
  if (f.has(`v${i}`)) st.versionAvailable = f.str(`v${i}`) === '1';
  return st;
}

export function aptGet(p: AptParams, words: string): string {
  const opts = [`-y`, `-q`, `-o DPkg::Lock::Timeout=${p.lockTimeout}`, ...p.dpkgOptions.map((o) => `-o Dpkg::Options::=--${o.replace(/^--/, '')}`)];
  if (p.defaultRelease) opts.push(`-t ${quote(p.defaultRelease)}`);
  if (p.force) opts.push('--allow-unauthenticated', '--allow-downgrades', '--allow-remove-essential', '--allow-change-held-packages');
  const cmd = `DEBIAN_FRONTEND=noninteractive apt-get ${opts.join(' ')} ${words}`;
  if (p.policyRcD === undefined) return cmd;
  // Ansible's policy_rc_d: a policy-rc.d that exits with the code while apt-get runs; any earlier one is put back
  const f = '/usr/sbin/policy-rc.d';
  // in a subshell: its exits end only this command, whatever script it is part of
  return [
    '(',
    `if [ -e ${f} ]; then mv -f ${f} ${f}.runbook-saved || exit 1; fi`,
    `printf '#!/bin/sh\\nexit %d\\n' ${p.policyRcD} > ${f} && chmod 0755 ${f} || exit 1`,
    `${cmd}; rc=$?`,
    `rm -f ${f}; if [ -e ${f}.runbook-saved ]; then mv -f ${f}.runbook-saved ${f}; fi`,
    'exit $rc',
    ')',
  ].join('\n');
}

export function planApt(p: AptParams, f: FrameState): Plan {
  if (isProbeFailed(f)) return failPlan(f.probeFailed);
  if (f.str('no_apt') === '1') {
    return failPlan(failure('no_apt', 'apt-get / dpkg-query not found: this host does not use apt'));
  }
  const steps: Step[] = [];
  const changes: string[] = [];
  const notes: string[] = [];
  const cacheTime = Number(f.str('cache_time') ?? 0);
  const now = Number(f.str('now') ?? 0);
  const result: Record<string, unknown> = { cache_updated: false, cache_update_time: cacheTime };

  // 1. cache
  let updating = false;
  if (p.updateCache) {
    const age = now - cacheTime;
    if (p.cacheValidTime > 0 && age >= 0 && age < p.cacheValidTime) {
      notes.push(`apt cache is ${age}s old, within cache_valid_time ${p.cacheValidTime}s`);
    } else {
      updating = true;
      steps.push({ kind: 'run', script: aptGet(p, 'update'), capture: true, describe: 'apt-get update' });
      changes.push(p.cacheValidTime > 0 ? `update the apt cache (${age}s old, cache_valid_time ${p.cacheValidTime}s)` : 'update the apt cache');
      result.cache_updated = true;
    }
  }

  // 2. packages
  const before: string[] = [];
  const after: string[] = [];
  const install: string[] = [];
  const remove: string[] = [];
  for (let i = 0; i < p.packages.length; i++) {
    const pkg = p.packages[i]!;
    const st = parsePkg(f, i);
    const cur = st.installed ?? (st.status.startsWith('r') && st.status[1] === 'c' ? 'config-files' : 'absent');
    if (p.state === 'absent') {
      const configOnly = /^.c/.test(st.status);
      if (st.installed !== undefined || (st.status !== '' && !/^.n/.test(st.status) && !configOnly) || (p.purge && configOnly)) {
        remove.push(pkg.name);
        before.push(`${pkg.name}: ${cur}`);
        after.push(`${pkg.name}: absent`);
      } else {
        notes.push(`${pkg.name} is not installed`);
      }
      continue;
    }
    const unknown = st.candidate === undefined && st.installed === undefined;
    if (pkg.version !== undefined) {
      if (st.installed === pkg.version) {
        notes.push(`${pkg.name} ${pkg.version} is installed`);
        continue;
      }
      if (st.versionAvailable === false && !updating) {
        return failPlan(failure('no_package', `No package matching '${pkg.spec}' is available`), result);
      }
      if (p.onlyUpgrade && st.installed === undefined) {
        notes.push(`${pkg.name} is not installed (only_upgrade)`);
        continue;
      }
      install.push(pkg.spec);
      before.push(`${pkg.name}: ${cur}`);
      after.push(`${pkg.name}: ${pkg.version}`);
      continue;
    }
    if (unknown && !updating) {
      return failPlan(failure('no_package', `No package matching '${pkg.name}' is available`), result);
    }
    if (p.onlyUpgrade && st.installed === undefined) {
      notes.push(`${pkg.name} is not installed (only_upgrade)`);
      continue;
    }
    const broken = st.status !== '' && st.installed === undefined && !/^.[nc]/.test(st.status);
    if (st.installed === undefined || broken) {
      install.push(pkg.name);
      before.push(`${pkg.name}: ${broken ? `half-installed (${st.status})` : cur}`);
      after.push(`${pkg.name}: ${st.candidate ?? 'candidate after the cache update'}`);
    } else if (p.state === 'latest' && (updating || (st.candidate !== undefined && st.candidate !== st.installed))) {
      install.push(pkg.name);
      before.push(`${pkg.name}: ${st.installed}`);
      after.push(`${pkg.name}: ${updating ? 'newest after the cache update' : st.candidate}`);
    } else {
      notes.push(p.state === 'latest' ? `${pkg.name} ${st.installed} is the newest version` : `${pkg.name} ${st.installed} is installed`);
    }
  }
  if (install.length) {
    const words = ['install'];
    if (p.installRecommends === false) words.push('--no-install-recommends');
    else if (p.installRecommends === true) words.push('--install-recommends');
    if (p.allowDowngrade) words.push('--allow-downgrades');
    if (p.onlyUpgrade) words.push('--only-upgrade');
    words.push('--', ...install.map(quote));
    steps.push({ kind: 'run', script: aptGet(p, words.join(' ')), capture: true, describe: `apt-get install ${install.join(' ')}` });
    changes.push(`install ${install.join(', ')}`);
  }
  let autoremoved = false;
  if (remove.length) {
    const words = ['remove'];
    if (p.purge) words.push('--purge');
    if (p.autoremove) {
      words.push('--auto-remove');
      autoremoved = true;
    }
    words.push('--', ...remove.map(quote));
    steps.push({ kind: 'run', script: aptGet(p, words.join(' ')), capture: true, describe: `apt-get ${p.purge ? 'purge' : 'remove'} ${remove.join(' ')}` });
    changes.push(`${p.purge ? 'purge' : 'remove'} ${remove.join(', ')}`);
  }

  // 3. upgrade
  if (p.upgrade) {
    const n = Number(f.str('upgrade') ?? 0);
    if (n > 0 || updating) {
      steps.push({ kind: 'run', script: aptGet(p, upgradeWords(p.upgrade)), capture: true, describe: `apt-get ${upgradeWords(p.upgrade)}` });
      changes.push(n > 0 ? `upgrade ${n} package(s)` : 'upgrade after the cache update');
    } else {
      notes.push('no package to upgrade');
    }
  }

  // 4. autoremove (when not already done by remove --auto-remove)
  if (p.autoremove && !autoremoved) {
    const n = Number(f.str('autoremove') ?? 0);
    if (n > 0) {
      steps.push({ kind: 'run', script: aptGet(p, `autoremove${p.purge ? ' --purge' : ''}`), capture: true, describe: 'apt-get autoremove' });
      changes.push(`autoremove ${n} package(s)`);
    } else {
      notes.push('no package to autoremove');
    }
  }

  const plan: Plan = { steps, reason: steps.length ? [...changes, ...notes].join('; ') : notes.join('; ') || 'nothing to do', result };
  if (install.length) plan.installs = install;
  if (before.length) plan.diffs = [{ label: 'apt packages', before: before.join('\n') + '\n', after: after.join('\n') + '\n' }];
  return plan;
}

export function finishApt(_p: AptParams, outputs: ExecResult[]): Record<string, unknown> {
  const stdout = outputs.map((o) => o.stdout).join('');
  const stderr = outputs.map((o) => o.stderr).join('');
  return { stdout, stderr, stdout_lines: stdout.split('\n').filter(Boolean) };
}

const strOrList = { anyOf: [{ type: 'string' }, { type: 'array', items: { type: ['string', 'number'] } }] };

export const aptSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: strOrList,
    pkg: strOrList,
    package: strOrList,
    state: { enum: ['present', 'absent', 'latest', 'installed', 'removed'] },
    update_cache: { type: 'boolean' },
    'update-cache': { type: 'boolean' },
    cache_valid_time: { type: 'integer', minimum: 0 },
    install_recommends: { type: 'boolean' },
    'install-recommends': { type: 'boolean' },
    purge: { type: 'boolean' },
    autoremove: { type: 'boolean' },
    upgrade: { enum: [true, false, 'yes', 'no', 'safe', 'full', 'dist'] },
    default_release: { type: 'string' },
    'default-release': { type: 'string' },
    force: { type: 'boolean' },
    allow_downgrade: { type: 'boolean' },
    'allow-downgrade': { type: 'boolean' },
    allow_downgrades: { type: 'boolean' },
    'allow-downgrades': { type: 'boolean' },
    only_upgrade: { type: 'boolean' },
    dpkg_options: { type: 'string' },
    lock_timeout: { type: 'integer', minimum: 0 },
    policy_rc_d: { type: 'integer', minimum: 0, maximum: 255 },
    // runbook always drives apt-get: accepted for compatibility, no effect
    force_apt_get: { type: 'boolean' },
  },
};

const apt: ModuleDef<AptParams, FrameState> = {
  name: 'apt',
  aliases: namesFor('apt'),
  description: 'Debian packages: present/absent/latest, update_cache with cache_valid_time, upgrade, autoremove',
  schema: aptSchema,
  prepare: prepareApt,
  probe: (p) => frameProbe(probeApt(p)),
  plan: planApt,
  finish: finishApt,
};

export default apt;
