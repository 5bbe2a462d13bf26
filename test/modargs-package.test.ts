/**
 * package over real SSH on a lab host (Debian: package is apt). The lab host shares the machine's dpkg database,
 * as in the apt tests of test/modules-ansible.test.ts; figlet (no dependencies beyond libc) is the package.
 * The law: --check predicts exactly what apply changes and changes nothing; apply installs; again is a no-op; then
 * the same for removal. The task is written the way real roles write it: one k=v string (purge=yes,
 * install_recommends=no, update_cache=yes, cache_valid_time=...) whose values reach the module converted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { cliAsync, events, ROOT } from './helpers.js';

const FIX = path.join(ROOT, 'test/fixtures/modargs');
const PKG = 'figlet';
const status = () => spawnSync('dpkg-query', ['-W', '-f=${db:Status-Abbrev}', PKG], { encoding: 'utf8' }).stdout.trim();
// lab hosts have their own copy-on-write /var/lib/dpkg: the package state to check is the host's
const hostStatus = async () => (await lab.exec(lab.hosts[0]!, ['sh', '-c', `dpkg-query -W -f='\${db:Status-Abbrev}' ${PKG} 2>/dev/null; true`])).stdout.trim();

let lab: Lab;
let inv: string;
let preinstalled = false;

const changedOf = (stdout: string): string[] =>
  events(stdout).filter((e) => e.event === 'task:result' && e.status === 'changed').map((e) => e.task as string);
const failedOf = (stdout: string): string[] =>
  events(stdout).filter((e) => e.event === 'task:result' && (e.status === 'failed' || e.status === 'unreachable')).map((e) => `${e.task}: ${e.reason}`);

async function run(extra: string[]) {
  const r = await cliAsync(['apply', path.join(FIX, 'package.yml'), '-i', inv, '--format', 'json', ...extra], { timeoutMs: 300_000 });
  return { ...r, changed: changedOf(r.stdout), failed: failedOf(r.stdout) };
}

const observe = async () => (await lab.exec(lab.hosts[0]!, ['sh', '-c', `dpkg-query -W -f='\${db:Status-Abbrev}\\n' ${PKG} 2>&1; true`])).stdout;

async function law(state: string): Promise<string> {
  const extra = ['-e', `pkg_state=${state}`];
  const before = await observe();
  const check = await run(['--check', ...extra]);
  expect(check.failed, check.stderr).toEqual([]);
  expect(check.code, check.stderr + check.stdout).toBe(0);
  expect(check.changed, check.stdout).toEqual(['Install figlet']);
  expect(await observe(), '--check changes nothing').toBe(before);
  const apply = await run(extra);
  expect(apply.failed, apply.stderr).toEqual([]);
  expect(apply.code, apply.stderr).toBe(0);
  expect(apply.changed, apply.stdout).toEqual(['Install figlet']);
  const again = await run(extra);
  expect(again.code, again.stderr).toBe(0);
  expect(again.changed, 'second apply changes nothing').toEqual([]);
  const check2 = await run(['--check', ...extra]);
  expect(check2.changed).toEqual([]);
  const ev = events(check.stdout).find((e) => e.event === 'task:result' && e.task === 'Install figlet')!;
  return String(ev.reason);
}

beforeAll(async () => {
  preinstalled = status().startsWith('ii');
  // root namespace: fetch the .deb into the shared apt cache, so the lab host (no network) installs it from there
  const dl = spawnSync('apt-get', ['install', '--download-only', '-y', '-q', '-o', 'DPkg::Lock::Timeout=120', PKG], { encoding: 'utf8', timeout: 180_000 });
  expect(dl.status, dl.stderr).toBe(0);
  lab = await Lab.create({ name: 'modpkg', hosts: 1 });
  inv = path.join(lab.dir, 'modpkg-inventory.yml');
  fs.writeFileSync(inv, lab.inventoryYaml());
}, 300_000);

afterAll(async () => {
  await lab?.destroy();
  if (!preinstalled && status() !== '' && !status().startsWith('un')) {
    spawnSync('apt-get', ['purge', '-y', '-q', '-o', 'DPkg::Lock::Timeout=120', PKG], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
}, 300_000);

describe('package over SSH (apt on Debian)', () => {
  it('present: --check predicts, apply installs, again is a no-op; absent with purge=yes the same', async (ctx) => {
    if (preinstalled) ctx.skip();
    const install = await law('present');
    // update_cache=yes with a cache_valid_time of ten years: the string values were converted, the cache kept
    expect(install).toMatch(/install figlet; apt cache is \d+s old, within cache_valid_time 315360000s/);
    expect((await lab.exec(lab.hosts[0]!, ['figlet', 'hi'])).stdout).toMatch(/_/);
    expect(await hostStatus()).toMatch(/^ii/);
    const remove = await law('absent');
    expect(remove).toMatch(/^purge figlet/);
    expect(await hostStatus()).not.toMatch(/^ii|^rc/);
  }, 900_000);
});
