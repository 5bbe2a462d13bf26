/**
 * Acceptance of issue 8: a homelab repository in the shape of a real one (proxmox + containers groups, roles with
 * argument_specs, import_playbook with vars, ansible.cfg, group_vars/host_vars with SOPS-encrypted files made here with
 * a generated age key) passes --syntax-check, and applies in check mode and for real to 3 lab hosts, idempotently.
 * The containers group is reached over plain SSH (lab hosts), not pct.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { Lab } from '../lib/lab/lab.js';
import { encryptSops } from '../lib/vars/sops.js';
import { shaCrypt } from '../lib/vars/password-hash.js';
import { cliAsync, events, ROOT } from './helpers.js';

let lab: Lab;
const base = `/tmp/rbk-homelab-${process.pid}`;
const repo = path.join(base, 'repo');
const hlRoot = path.join(base, 'hosts');
let env: Record<string, string> = {};
let names: string[] = [];

function changed(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of events(stdout)) if (e.event === 'task:result' && e.status === 'changed') out.set(e.host, [...(out.get(e.host) ?? []), e.task]);
  return out;
}

const apply = (...args: string[]) => cliAsync(['apply', 'site.yml', '--format', 'json', '-e', `hl_root=${hlRoot}`, ...args], { cwd: repo, env });

beforeAll(async () => {
  lab = await Lab.create({ name: 'homelab', hosts: 3 });
  names = lab.hosts.map((h) => h.name);
  fs.cpSync(path.join(ROOT, 'test/fixtures/homelab'), repo, { recursive: true });
  // the inventory: the lab's connection variables, in the repository's groups
  const labInv = YAML.parse(lab.inventoryYaml()).all.children.lab;
  const hostsOf = (ns: string[]) => Object.fromEntries(ns.map((n) => [n, labInv.hosts[n]]));
  fs.writeFileSync(
    path.join(repo, 'inventory', 'hosts.yml'),
    YAML.stringify({ all: { vars: labInv.vars, children: { proxmox: { hosts: hostsOf(names.slice(0, 1)) }, containers: { hosts: hostsOf(names.slice(1)) } } } }),
  );
  // SOPS: secrets for the containers group, each container's vmid in its host_vars
  const id = await generateIdentity();
  const recipient = await identityToRecipient(id);
  const keyFile = path.join(base, 'keys.txt');
  fs.writeFileSync(keyFile, `# public key: ${recipient}\n${id}\n`, { mode: 0o600 });
  env = { SOPS_AGE_KEY_FILE: keyFile };
  fs.writeFileSync(path.join(repo, 'inventory/group_vars/containers/secrets.sops.yaml'), encryptSops({ db_password: 'db-pw-Zq81xx', ct_root_password: 'root-pw-Lk22yy' }, [recipient]));
  names.slice(1).forEach((n, i) => {
    fs.mkdirSync(path.join(repo, 'inventory/host_vars', n), { recursive: true });
    fs.writeFileSync(path.join(repo, 'inventory/host_vars', n, 'secrets.sops.yaml'), encryptSops({ proxmox_vmid: 201 + i }, [recipient]));
  });
  fs.mkdirSync(hlRoot, { recursive: true });
});

afterAll(async () => {
  await lab?.destroy();
  fs.rmSync(base, { recursive: true, force: true });
});

describe('the homelab repository', () => {
  it('passes --syntax-check without contacting a host', async () => {
    const r = await cliAsync(['apply', 'site.yml', '--syntax-check'], { cwd: repo, env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/syntax OK \(2 plays\)/);
  });

  it('--syntax-check lists every problem at once: a template, a vars file, a role argument, a SOPS key', async () => {
    const broken = path.join(base, 'broken');
    fs.cpSync(repo, broken, { recursive: true });
    fs.appendFileSync(path.join(broken, 'roles/pve_base/templates/motd.j2'), '{% for x in y %}never closed\n');
    fs.writeFileSync(path.join(broken, 'roles/ct_app/templates/extra.j2'), '{{ unclosed \n');
    fs.writeFileSync(path.join(broken, 'playbooks/containers.yml'), fs.readFileSync(path.join(broken, 'playbooks/containers.yml'), 'utf8').replace('app_port: 8080', 'app_port: eighty').replace('  pre_tasks:\n', '  pre_tasks:\n    - include_vars: ../vars/missing.yml\n'));
    const r = await cliAsync(['apply', 'site.yml', '--syntax-check'], { cwd: broken, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/motd\.j2:\d+/);
    expect(r.stderr).toMatch(/extra\.j2:\d+/);
    expect(r.stderr).toMatch(/containers\.yml:\d+:\d+: vars file not found: \.\.\/vars\/missing\.yml/);
    expect(r.stderr).toMatch(/app_port/);
    // --syntax-check needs no secrets (as Ansible's): encrypted files are checked for shape only; a real run
    // without the key still stops before any host, naming the file
    const noKeyEnv = { SOPS_AGE_KEY_FILE: path.join(base, 'none.txt'), SOPS_AGE_KEY: '' };
    const nokey = await cliAsync(['apply', 'site.yml', '--syntax-check'], { cwd: repo, env: noKeyEnv });
    expect(nokey.code, nokey.stderr).toBe(0);
    const nokeyRun = await cliAsync(['apply', 'site.yml', '--check'], { cwd: repo, env: noKeyEnv });
    expect(nokeyRun.code).toBe(1);
    expect(nokeyRun.stderr).toMatch(/secrets\.sops\.yaml.*no age key found/);
  });

  it('--check predicts exactly what apply changes and touches nothing; apply does the work; a second apply changes nothing', async () => {
    const check = await apply('--check');
    expect(check.code, check.stderr + check.stdout).toBe(0);
    for (const n of names) expect(fs.existsSync(path.join(hlRoot, n))).toBe(false);
    const predicted = changed(check.stdout);

    const run = await apply();
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const did = changed(run.stdout);
    for (const n of names) expect(did.get(n), n).toEqual(predicted.get(n));
    expect(did.get(names[0]!)).toEqual(expect.arrayContaining(['Base directory', 'sysctl settings', 'motd', 'One file per admin', 'reload sysctl']));
    expect(did.get(names[1]!)).toEqual(expect.arrayContaining(['App directory', 'App configuration (holds the database password)', 'Initialise once', 'restart app', 'Register the container on the Proxmox host']));

    // secrets never printed
    for (const s of ['db-pw-Zq81xx', 'root-pw-Lk22yy']) expect(run.stdout + run.stderr).not.toContain(s);
    // the work, on the hosts
    const [pve, ct1, ct2] = lab.hosts as [typeof lab.hosts[0], typeof lab.hosts[0], typeof lab.hosts[0]];
    const cat = async (h: typeof pve, p: string) => (await lab.exec(h, ['cat', path.join(hlRoot, h.name, p)])).stdout;
    expect(await cat(pve, 'etc/sysctl.d/90-pve.conf')).toBe('net.ipv4.ip_forward = 1\nvm.swappiness = 10\n');
    const motd = await cat(pve, 'etc/motd');
    expect(motd).toMatch(new RegExp(`^Managed by runbook on ${pve.name} \\(storage local-lvm, kernel \\S+\\)\\nadmin: alice\\nadmin: carol\\n$`));
    expect(await cat(pve, 'etc/admin-carol')).toBe('carol:/bin/bash\n');
    expect((await lab.exec(pve, ['test', '-e', path.join(hlRoot, pve.name, 'etc/admin-bob')])).code).toBe(1);
    for (const [i, ct] of [ct1, ct2].entries()) {
      const conf = await cat(ct, 'opt/webapp/app.conf');
      expect(conf).toContain('port = 8080');
      expect(conf).toContain('release = 2.1');
      expect(conf).toContain(`vmid = ${201 + i}`);
      expect(conf).toContain('database_password = db-pw-Zq81xx');
      expect(await cat(ct, 'opt/webapp/shadow')).toBe(`root:${shaCrypt('sha512', 'root-pw-Lk22yy', 'homelabsalt')}\n`);
      expect(JSON.parse(await cat(ct, 'opt/webapp/ct.json'))).toEqual({ memory: 512, features: { nesting: true, keyctl: true }, vmid: 201 + i });
    }
    const list = (await cat(pve, 'containers.list')).trim().split('\n').sort();
    expect(list).toEqual([`201 ${ct1.name} 2.1`, `202 ${ct2.name} 2.1`]);

    const again = await apply();
    expect(again.code, again.stderr).toBe(0);
    expect([...changed(again.stdout).entries()]).toEqual([]);
    const checkAgain = await apply('--check');
    expect(checkAgain.code).toBe(0);
    expect([...changed(checkAgain.stdout).entries()]).toEqual([]);
  });

  it('tags from the role entries select a part of the repository', async () => {
    const r = await apply('--tags', 'app', '--check');
    expect(r.code, r.stderr).toBe(0);
    const tasks = new Set(events(r.stdout).filter((e) => e.event === 'task:start').map((e) => e.task));
    expect(tasks.has('App directory')).toBe(true);
    expect(tasks.has('sysctl settings')).toBe(false);
  });
});
