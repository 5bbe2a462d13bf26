/**
 * The foundation's acceptance, end to end over real SSH against real sshd hosts in network namespaces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { cliAsync, events, ROOT } from './helpers.js';

const SAMPLE = path.join(ROOT, 'test/fixtures/sample/site.yml');
let lab: Lab;
let inv: string;
const base = `/tmp/rbk-e2e-${process.pid}`;

function changedTasks(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of events(stdout)) {
    if (e.event !== 'task:result' || e.status !== 'changed') continue;
    out.set(e.host, [...(out.get(e.host) ?? []), e.task]);
  }
  return out;
}

async function treeHash(host: string): Promise<string> {
  // every file's path, mode and content hash under the host's /etc (with its private views) and the app tree
  // /etc/netns is pruned: it holds every lab's private views (other labs may come and go meanwhile); this host's own
  // views are mounted over /etc/sysctl.d, /etc/containers, ... and hashed there
  const r = await lab.exec(host, ['sh', '-c', `find /etc ${base} -xdev -path /etc/netns -prune -o \\( -type f -o -type l -o -type d \\) -printf '%p %m %y\\n' 2>/dev/null | sort; find /etc ${base} -xdev -path /etc/netns -prune -o -type f -readable -print0 2>/dev/null | sort -z | xargs -0 sha1sum 2>/dev/null`]);
  return r.stdout;
}

beforeAll(async () => {
  lab = await Lab.create({ name: 'e2e', hosts: 3 });
  inv = path.join(lab.dir, 'e2e-inventory.yml');
  fs.writeFileSync(inv, lab.inventoryYaml());
});

afterAll(async () => {
  await lab?.destroy();
  fs.rmSync(base, { recursive: true, force: true });
});

describe('sample playbook over SSH on 3 lab hosts', () => {
  const hosts = () => lab.hosts.map((h) => h.name);
  const expected = ['App directory', 'App config', 'One file per user', 'Initialise once', 'Record whether init ran', 'restart app'];

  it('--check on fresh hosts predicts exactly what apply changes, and touches nothing', async () => {
    const before = await Promise.all(hosts().map(treeHash));
    const check = await cliAsync(['apply', SAMPLE, '-i', inv, '--check', '--format', 'json', '-e', `app_base=${base}`]);
    expect(check.code, check.stderr).toBe(0);
    const after = await Promise.all(hosts().map(treeHash));
    expect(after).toEqual(before);
    const predicted = changedTasks(check.stdout);

    const apply = await cliAsync(['apply', SAMPLE, '-i', inv, '--format', 'json', '-e', `app_base=${base}`]);
    expect(apply.code, apply.stderr + apply.stdout).toBe(0);
    const changed = changedTasks(apply.stdout);
    for (const h of hosts()) {
      expect(changed.get(h)).toEqual(expected);
      expect(predicted.get(h)).toEqual(changed.get(h));
    }
    // the work really happened, on each host
    for (const h of lab.hosts) {
      const conf = await lab.exec(h, ['cat', `${base}/${h.name}/app.conf`]);
      expect(conf.stdout).toContain(`host = ${h.name}`);
      expect(conf.stdout).toContain('port = 8080');
      expect((await lab.exec(h, ['test', '-f', `${base}/${h.name}/restarted`])).code).toBe(0);
    }
  });

  it('a second apply changes nothing, and --check after it reports 0 changed', async () => {
    const again = await cliAsync(['apply', SAMPLE, '-i', inv, '--format', 'json', '-e', `app_base=${base}`]);
    expect(again.code, again.stderr).toBe(0);
    expect(changedTasks(again.stdout).size).toBe(0);
    const end = events(again.stdout).find((e) => e.event === 'run:end')!;
    for (const r of end.recap) expect(r.changed).toBe(0);
    const check = await cliAsync(['apply', SAMPLE, '-i', inv, '--check', '--format', 'json', '-e', `app_base=${base}`]);
    expect(check.code).toBe(0);
    expect(changedTasks(check.stdout).size).toBe(0);
  });

  it('plain output ends with a PLAY RECAP per host', async () => {
    const r = await cliAsync(['apply', SAMPLE, '-i', inv, '-e', `app_base=${base}`]);
    expect(r.code).toBe(0);
    for (const h of hosts()) expect(r.stdout).toMatch(new RegExp(`${h}\\s+: ok=\\d+\\s+changed=0\\s+unreachable=0\\s+failed=0`));
  });

  it('one unreachable host out of 3: the others converge, recap shows it, exit 4', async () => {
    const dead = lab.hosts[2]!;
    await lab.stopSshd(dead);
    try {
      const fresh = `${base}-unreach`;
      const r = await cliAsync(['apply', SAMPLE, '-i', inv, '--format', 'json', '-e', `app_base=${fresh}`], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(4);
      const end = events(r.stdout).find((e) => e.event === 'run:end')!;
      const byHost = Object.fromEntries(end.recap.map((x: any) => [x.host, x]));
      expect(byHost[dead.name].unreachable).toBe(1);
      expect(byHost[lab.hosts[0]!.name].changed).toBe(expected.length);
      expect(byHost[lab.hosts[1]!.name].changed).toBe(expected.length);
      expect(byHost[lab.hosts[0]!.name].failed).toBe(0);
      fs.rmSync(fresh, { recursive: true, force: true });
    } finally {
      await lab.startSshd(dead);
    }
  });

  it('a host presenting a key that does not match known_hosts is refused', async () => {
    // a known_hosts that names host1's address with another host's key
    const lines = fs.readFileSync(lab.knownHostsFile, 'utf8').split('\n').filter(Boolean);
    const [h1, h2] = lab.hosts;
    const keyOf2 = lines.find((l) => l.split(' ')[0]!.split(',').includes(h2!.address))!;
    const forged = keyOf2.replace(/^\S+/, h1!.address);
    const kh = path.join(lab.dir, 'forged_known_hosts');
    fs.writeFileSync(kh, forged + '\n');
    const forgedInv = path.join(lab.dir, 'forged.yml');
    fs.writeFileSync(forgedInv, fs.readFileSync(inv, 'utf8').replace(lab.knownHostsFile, kh));
    const r = await cliAsync(['apply', SAMPLE, '-i', forgedInv, '--limit', h1!.name, '-e', `app_base=${base}`]);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/CHANGED/i);
    expect(r.stdout).toMatch(/SHA256:/);
    // unknown host (empty known_hosts) is refused too, and the opt-out works
    fs.writeFileSync(kh, '');
    const unknown = await cliAsync(['apply', SAMPLE, '-i', forgedInv, '--limit', h1!.name, '-e', `app_base=${base}`]);
    expect(unknown.code).toBe(4);
    expect(unknown.stdout).toMatch(/unknown/i);
    const optOut = await cliAsync(['apply', SAMPLE, '-i', forgedInv, '--limit', h1!.name, '--no-host-key-checking', '-e', `app_base=${base}`]);
    expect(optOut.code, optOut.stdout).toBe(0);
  });
});
