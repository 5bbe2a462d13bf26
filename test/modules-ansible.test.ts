/**
 * The modules real Ansible codebases use (issue #8): apt, service, blockinfile, replace, slurp, ...
 *
 * 1. Data-driven plan tables: params + framed probe output -> expected steps / reason / failure (pure).
 * 2. Known-but-unsupported modules fail at load time, at the task's line, before any host is contacted.
 * 3. Per module, over real SSH against a lab host: --check on a fresh host predicts exactly what apply changes
 *    and changes nothing; apply does the work (checked on the host itself); a second apply changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { ExecResult } from '../lib/connection/types.js';
import type { ModuleDef } from '../lib/modules/types.js';
import { Lab } from '../lib/lab/lab.js';
import apt from '../lib/modules/apt.js';
import { cli, cliAsync, events, ROOT } from './helpers.js';

const FIX = path.join(ROOT, 'test/fixtures/modules-ansible');

// ------------------------------------------------------------------------------------------------------------------
// plan-table harness

function frame(kv: Record<string, string | Buffer>, opts: { end?: boolean; code?: number } = {}): ExecResult {
  const lines = Object.entries(kv).map(([k, v]) => `${k}=${Buffer.from(v).toString('base64')}`);
  if (opts.end !== false) lines.push(`end=${Buffer.from('ok').toString('base64')}`);
  return { code: opts.code ?? 0, stdout: lines.join('\n') + '\n', stderr: '' };
}

interface Case {
  name: string;
  params: Record<string, unknown>;
  probe: ExecResult | null;
  steps?: Array<Record<string, unknown>>;
  reason?: string | RegExp;
  fail?: string | RegExp;
  prepareError?: RegExp;
  diffs?: Array<{ label: string; before: string; after: string }>;
  result?: Record<string, unknown>;
}

const noCtx = {
  host: 'h',
  vars: {},
  findFile: () => undefined,
  renderTemplateFile: () => '',
};

function runTable(mod: ModuleDef<any>, cases: Case[]): void {
  for (const c of cases) {
    it(c.name, async () => {
      if (c.prepareError) {
        await expect(Promise.resolve().then(() => mod.prepare!(c.params, noCtx))).rejects.toThrow(c.prepareError);
        return;
      }
      const p = mod.prepare ? await mod.prepare(c.params, noCtx) : c.params;
      const plan = mod.plan(p, c.probe);
      expect(mod.plan(p, c.probe), 'plans are pure').toEqual(plan);
      if (c.fail !== undefined) {
        expect(plan.fail).toMatch(c.fail);
        expect(plan.steps).toEqual([]);
      } else {
        expect(plan.fail, plan.reason).toBeUndefined();
      }
      if (c.steps !== undefined) {
        expect(plan.steps.length, JSON.stringify(plan.steps)).toBe(c.steps.length);
        c.steps.forEach((s, i) => expect(plan.steps[i]).toMatchObject(s));
      }
      if (c.reason !== undefined) expect(plan.reason).toMatch(c.reason);
      expect(plan.reason, 'every plan says why').toBeTruthy();
      if (c.diffs !== undefined) expect(plan.diffs).toEqual(c.diffs);
      if (c.result !== undefined) expect(plan.result).toMatchObject(c.result);
    });
  }
}

const contains = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

// ==================================================================================================================
// apt

describe('apt plans', () => {
  const NOW = 1_800_000_000;
  const base = { cache_time: String(NOW - 100), now: String(NOW) };
  runTable(apt, [
    {
      name: 'present: absent package is installed',
      params: { name: 'sl' },
      probe: frame({ ...base, s0: '', c0: '5.02-1+b1' }),
      steps: [{ kind: 'run', script: expect.stringMatching(/^DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=60 .*install -- sl$/) }],
      reason: /install sl/,
      diffs: [{ label: 'apt packages', before: 'sl: absent\n', after: 'sl: 5.02-1+b1\n' }],
    },
    {
      name: 'present: installed package is a no-op that says why',
      params: { name: ['sl'], state: 'present' },
      probe: frame({ ...base, s0: 'ii |5.02-1+b1', c0: '5.02-1+b1' }),
      steps: [],
      reason: 'sl 5.02-1+b1 is installed',
    },
    {
      name: 'present: only the missing packages are installed; install_recommends false',
      params: { pkg: 'sl,hello', install_recommends: false },
      probe: frame({ ...base, s0: 'ii |5.02-1+b1', c0: '5.02-1+b1', s1: 'un |', c1: '2.10-3' }),
      steps: [{ script: expect.stringMatching(/install --no-install-recommends -- hello$/) }],
    },
    {
      name: 'present: config-files only (rc) counts as not installed',
      params: { name: 'sl' },
      probe: frame({ ...base, s0: 'rc |5.02-1+b1', c0: '5.02-1+b1' }),
      steps: [{ script: expect.stringMatching(/install -- sl$/) }],
    },
    {
      name: 'present: unknown package fails before any change',
      params: { name: ['sl', 'no-such-pkg'] },
      probe: frame({ ...base, s0: '', c0: '5.02-1+b1', s1: '', c1: '' }),
      fail: "No package matching 'no-such-pkg' is available",
    },
    {
      name: 'present: unknown package is left to apt-get when the cache is updated first',
      params: { name: 'new-pkg', update_cache: true },
      probe: frame({ ...base, s0: '', c0: '' }),
      steps: [{ script: expect.stringMatching(/ update$/) }, { script: expect.stringMatching(/install -- new-pkg$/) }],
    },
    {
      name: 'present with a version: installed at another version -> install name=version',
      params: { name: 'hello=2.10-3' },
      probe: frame({ ...base, s0: 'ii |2.10-2', c0: '2.10-3', v0: '1' }),
      steps: [{ script: expect.stringMatching(/install -- hello=2\.10-3$/) }],
    },
    {
      name: 'present with a version that apt does not have fails',
      params: { name: 'hello=9.9' },
      probe: frame({ ...base, s0: '', c0: '2.10-3', v0: '0' }),
      fail: "No package matching 'hello=9.9' is available",
    },
    {
      name: 'latest: installed but older than the candidate -> install',
      params: { name: 'bash', state: 'latest' },
      probe: frame({ ...base, s0: 'ii |5.2.15-2+b8', c0: '5.2.15-2+b13' }),
      steps: [{ script: expect.stringMatching(/install -- bash$/) }],
      diffs: [{ label: 'apt packages', before: 'bash: 5.2.15-2+b8\n', after: 'bash: 5.2.15-2+b13\n' }],
    },
    {
      name: 'latest: at the candidate -> no-op',
      params: { name: 'bash', state: 'latest' },
      probe: frame({ ...base, s0: 'ii |5.2.15-2+b13', c0: '5.2.15-2+b13' }),
      steps: [],
      reason: /newest version/,
    },
    {
      name: 'absent: installed -> remove; purge and autoremove',
      params: { name: 'sl', state: 'absent', purge: true, autoremove: true },
      probe: frame({ ...base, s0: 'ii |5.02-1+b1', c0: '5.02-1+b1', autoremove: '0' }),
      steps: [{ script: expect.stringMatching(/remove --purge --auto-remove -- sl$/) }],
      reason: /purge sl/,
    },
    {
      name: 'absent: config files left and purge -> purge them',
      params: { name: 'sl', state: 'absent', purge: true },
      probe: frame({ ...base, s0: 'rc |5.02-1+b1', c0: '5.02-1+b1' }),
      steps: [{ script: expect.stringMatching(/remove --purge -- sl$/) }],
    },
    {
      name: 'absent: config files left without purge -> no-op',
      params: { name: 'sl', state: 'absent' },
      probe: frame({ ...base, s0: 'rc |5.02-1+b1', c0: '5.02-1+b1' }),
      steps: [],
      reason: 'sl is not installed',
    },
    {
      name: 'absent: unknown package is simply not installed',
      params: { name: 'no-such-pkg', state: 'absent' },
      probe: frame({ ...base, s0: '', c0: '' }),
      steps: [],
    },
    {
      name: 'update_cache within cache_valid_time: no update',
      params: { update_cache: true, cache_valid_time: 3600 },
      probe: frame(base),
      steps: [],
      reason: 'apt cache is 100s old, within cache_valid_time 3600s',
      result: { cache_updated: false, cache_update_time: NOW - 100 },
    },
    {
      name: 'cache_valid_time alone implies update_cache (Ansible 2.4+): stale -> update',
      params: { cache_valid_time: 60 },
      probe: frame(base),
      steps: [{ script: expect.stringMatching(/apt-get .* update$/) }],
      reason: /update the apt cache \(100s old, cache_valid_time 60s\)/,
      result: { cache_updated: true },
    },
    {
      name: 'update_cache without cache_valid_time always updates',
      params: { update_cache: true },
      probe: frame(base),
      steps: [{ describe: 'apt-get update' }],
    },
    {
      name: 'latest after a cache update installs every named package (candidates may change)',
      params: { name: 'bash', state: 'latest', update_cache: true },
      probe: frame({ ...base, s0: 'ii |5.2.15-2+b13', c0: '5.2.15-2+b13' }),
      steps: [{ describe: 'apt-get update' }, { script: expect.stringMatching(/install -- bash$/) }],
    },
    {
      name: 'upgrade dist: simulated upgrades -> dist-upgrade; none -> no-op',
      params: { upgrade: 'dist' },
      probe: frame({ ...base, upgrade: '3' }),
      steps: [{ script: expect.stringMatching(/ dist-upgrade$/) }],
      reason: /upgrade 3 package/,
    },
    { name: 'upgrade yes with nothing to upgrade', params: { upgrade: 'yes' }, probe: frame({ ...base, upgrade: '0' }), steps: [], reason: 'no package to upgrade' },
    { name: 'autoremove alone', params: { autoremove: true }, probe: frame({ ...base, autoremove: '2' }), steps: [{ script: expect.stringMatching(/ autoremove$/) }] },
    { name: 'no apt on the host fails clearly', params: { name: 'sl' }, probe: frame({ no_apt: '1' }), fail: /does not use apt/ },
    { name: 'a probe cut short fails instead of guessing', params: { name: 'sl' }, probe: frame({ ...base }, { end: false }), fail: /probe failed/ },
    { name: 'wildcards are refused at prepare', params: { name: 'lib*' }, probe: null, prepareError: /wildcards are not supported/ },
    { name: 'nothing to do at all is refused', params: { state: 'present' }, probe: null, prepareError: /one of name, update_cache, upgrade or autoremove/ },
  ]);
});

// ==================================================================================================================
// unsupported modules: load time, not run time

describe('known-but-unsupported modules', () => {
  let inv: string;
  beforeAll(() => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-unsup-'));
    inv = path.join(d, 'inv.yml');
    // nothing listens at 127.0.0.9:1: a run that tried to connect would report it unreachable (exit 4)
    fs.writeFileSync(inv, 'all:\n  hosts:\n    target:\n      ansible_host: 127.0.0.9\n      ansible_port: 1\n');
  });
  it('names the module and the task line, exit 1, before any host is contacted, and keeps "unknown" for typos', () => {
    const r = cli(['apply', path.join(FIX, 'unsupported.yml'), '-i', inv]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unsupported\.yml:6:7: module "ansible\.posix\.synchronize" is not supported \(yet\)/);
    expect(r.stderr).toMatch(/unsupported\.yml:10:7: module "ufw" is not supported \(yet\) by runbook \(community\.general\.ufw\)/);
    expect(r.stderr).toMatch(/unsupported\.yml:13:7: unknown module "aptt" \(did you mean "apt"\?\)/);
    expect(r.stdout + r.stderr).not.toMatch(/unreachable/i);
  });
});

// ==================================================================================================================
// lab: each module over real SSH

let lab: Lab;
let inv: string;
let work: string;
const changedOf = (stdout: string): string[] =>
  events(stdout).filter((e) => e.event === 'task:result' && e.status === 'changed').map((e) => e.task as string);
const failedOf = (stdout: string): string[] =>
  events(stdout).filter((e) => e.event === 'task:result' && (e.status === 'failed' || e.status === 'unreachable')).map((e) => `${e.task}: ${e.reason}`);

async function run(playbook: string, extra: string[] = []) {
  const r = await cliAsync(['apply', path.join(FIX, playbook), '-i', inv, '--format', 'json', '-e', `work=${work}`, ...extra], { timeoutMs: 300_000 });
  return { ...r, changed: changedOf(r.stdout), failed: failedOf(r.stdout) };
}

/**
 * The law over SSH: --check on a fresh host predicts exactly what apply changes and changes nothing observable;
 * apply changes exactly that; a second apply and a second --check change nothing.
 */
async function law(playbook: string, expected: string[], observe: () => Promise<string>, extra: string[] = []): Promise<void> {
  const before = await observe();
  const check = await run(playbook, ['--check', ...extra]);
  expect(check.failed, check.stderr).toEqual([]);
  expect(check.code, check.stderr + check.stdout).toBe(0);
  expect(check.changed).toEqual(expected);
  expect(await observe(), '--check changes nothing').toBe(before);
  const apply = await run(playbook, extra);
  expect(apply.failed, apply.stderr).toEqual([]);
  expect(apply.code, apply.stderr).toBe(0);
  expect(apply.changed).toEqual(expected);
  const again = await run(playbook, extra);
  expect(again.code, again.stderr).toBe(0);
  expect(again.changed, 'second apply changes nothing').toEqual([]);
  const check2 = await run(playbook, ['--check', ...extra]);
  expect(check2.changed).toEqual([]);
}

const host = () => lab.hosts[0]!;
const sh = (cmd: string) => lab.exec(host(), ['sh', '-c', cmd]);

beforeAll(async () => {
  lab = await Lab.create({ name: 'modans', hosts: 1 });
  inv = path.join(lab.dir, 'modans-inventory.yml');
  fs.writeFileSync(inv, lab.inventoryYaml());
  work = `/tmp/rbk-modans-${process.pid}`;
  fs.mkdirSync(work, { recursive: true });
});

afterAll(async () => {
  await lab?.destroy();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

// ------------------------------------------------------------------------------------------------------------------

describe('apt over SSH (Debian\'s real apt; the host shares the machine\'s dpkg database)', () => {
  const PKGS = ['sl', 'hello'];
  const status = (p: string) => spawnSync('dpkg-query', ['-W', '-f=${db:Status-Abbrev}', p], { encoding: 'utf8' }).stdout.trim();
  const preinstalled: string[] = [];

  beforeAll(() => {
    for (const p of PKGS) if (status(p).startsWith('ii')) preinstalled.push(p);
    // root namespace: fetch the .debs from the machine's configured Debian mirrors into the shared apt cache, so
    // the lab host (no network) installs them from /var/cache/apt/archives
    const dl = spawnSync('apt-get', ['install', '--download-only', '-y', '-q', '-o', 'DPkg::Lock::Timeout=120', ...PKGS], { encoding: 'utf8', timeout: 180_000 });
    expect(dl.status, dl.stderr).toBe(0);
  }, 200_000);

  afterAll(() => {
    const extra = PKGS.filter((p) => !preinstalled.includes(p) && status(p) !== '' && !status(p).startsWith('un'));
    if (extra.length) spawnSync('apt-get', ['purge', '-y', '-q', '-o', 'DPkg::Lock::Timeout=120', ...extra], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }, 200_000);

  it('install: --check predicts, apply installs on the host, again is a no-op; cache_valid_time keeps the cache', async (ctx) => {
    if (preinstalled.length) ctx.skip();
    const observe = async () => (await sh(`dpkg-query -W -f='\${db:Status-Abbrev}\\n' ${PKGS.join(' ')} 2>&1; true`)).stdout;
    await law('apt.yml', ['Install sl and hello'], observe, ['-e', 'pkg_state=present']);
    const r = await sh(`dpkg-query -W -f='\${Package} \${db:Status-Abbrev}\\n' ${PKGS.join(' ')}`);
    expect(r.stdout).toMatch(/^sl ii/m);
    expect(r.stdout).toMatch(/^hello ii/m);
    expect((await sh('/usr/games/sl -h >/dev/null 2>&1; hello')).stdout.trim()).toBe('Hello, world!');
  }, 600_000);

  it('a stale cache is predicted as an update in --check (the lab host has no mirror to update from)', async () => {
    const r = await run('apt.yml', ['--check', '-e', 'pkg_state=present', '-e', 'cache_secs=1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.changed).toEqual(['Apt cache fresh enough']);
    const ev = events(r.stdout).find((e) => e.event === 'task:result' && e.task === 'Apt cache fresh enough')!;
    expect(ev.reason).toMatch(/update the apt cache \(\d+s old, cache_valid_time 1s\)/);
  });

  it('remove with purge: --check predicts, apply removes, again is a no-op', async (ctx) => {
    if (preinstalled.length) ctx.skip();
    const observe = async () => (await sh(`dpkg-query -W -f='\${db:Status-Abbrev}\\n' ${PKGS.join(' ')} 2>&1; true`)).stdout;
    await law('apt.yml', ['Install sl and hello'], observe, ['-e', 'pkg_state=absent']);
    for (const p of PKGS) expect(status(p)).not.toMatch(/^ii|^rc/);
  }, 600_000);
});
