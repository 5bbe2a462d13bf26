/**
 * At most maxHandshakes() SSH connects at once per process (lib/connection/ssh.ts, RUNBOOK_MAX_HANDSHAKES), and a
 * connect's timeout counts from when it gets its turn, not from when it was queued (issue 16: with forks 50 on a
 * loaded controller, 50 handshakes at once timed out together). Real sshd lab hosts; the dead host is one that drops
 * every packet to its SSH port (iptables DROP in its own network namespace): its TCP connect costs the whole
 * timeout while it holds its slot, as with a host that is off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { spawnSync } from 'node:child_process';
import { Lab } from '../lib/lab/lab.js';
import { SshConnection, maxHandshakes, setMaxHandshakes } from '../lib/connection/ssh.js';
import { connectionSpecFor } from '../lib/executor/connect.js';
import { ROOT, cliAsync, events } from './helpers.js';

let lab: Lab;
let dead: string;

beforeAll(async () => {
  lab = await Lab.create({ name: `hslimit${process.pid % 100000}`, hosts: 5, shell: '/bin/sh' });
  dead = lab.hosts[0]!.name;
  const h = lab.host(dead);
  const ipt = spawnSync('ip', ['netns', 'exec', h.ns, 'iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', String(h.port), '-j', 'DROP'], { encoding: 'utf8' });
  expect(ipt.status, `iptables in ${h.ns}: ${ipt.stderr}`).toBe(0);
}, 180_000);

afterAll(async () => {
  await lab?.destroy();
});

const spec = (name: string, timeoutS: number) => {
  const h = lab.host(name);
  return connectionSpecFor(name, {
    ansible_host: h.address,
    ansible_port: h.port,
    ansible_user: 'root',
    ansible_ssh_private_key_file: lab.keyFile,
    runbook_known_hosts: lab.knownHostsFile,
    ansible_ssh_timeout: timeoutS,
  });
};

describe('SSH handshake limit', () => {
  it('defaults to 16 connects at once', () => {
    expect(process.env['RUNBOOK_MAX_HANDSHAKES']).toBeUndefined(); // read when the module loads
    expect(maxHandshakes()).toBe(16);
    expect(() => setMaxHandshakes(0)).toThrow(/positive integer/);
  });

  it('one slot: the live hosts wait for the dead one, longer than their own timeout, and still connect; the dead one times out on its own clock', async () => {
    const prev = setMaxHandshakes(1);
    const conns: SshConnection[] = [];
    try {
      const order: string[] = [];
      // the dead host asks first: it holds the only slot for its whole 12 s TCP timeout
      const d = new SshConnection(spec(dead, 12));
      conns.push(d);
      const deadOpen = d.open().then(
        () => ({ host: dead, ok: true as const, error: '' }),
        (e: Error) => ({ host: dead, ok: false as const, error: e.message }),
      ).finally(() => order.push(dead));
      // then 4 live hosts with an 8 s timeout each: 12 s in the queue would have timed every one of them out
      const live = lab.hosts.slice(1).map((h) => {
        const c = new SshConnection(spec(h.name, 8));
        conns.push(c);
        return c.open().then(
          async () => ({ host: h.name, ok: true as const, error: '', out: (await c.run('echo up')).stdout }),
          (e: Error) => ({ host: h.name, ok: false as const, error: e.message, out: '' }),
        ).finally(() => order.push(h.name));
      });
      const [dr, ...lr] = await Promise.all([deadOpen, ...live]);
      expect(dr!.ok).toBe(false);
      expect(dr!.error).toMatch(new RegExp(`${dead}.*TCP connect to .* timed out after 12000 ms`));
      for (const r of lr) {
        expect(r.error, r.host).toBe('');
        expect(r.out, r.host).toBe('up\n');
      }
      // one at a time: nothing finished before the dead host gave its slot back
      expect(order[0]).toBe(dead);
    } finally {
      setMaxHandshakes(prev);
      await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    }
  }, 120_000);

  it('a run with RUNBOOK_MAX_HANDSHAKES=1 and forks 5: the dead host is unreachable, every live host queued behind it runs its task', async () => {
    const doc = YAML.parse(lab.inventoryYaml({ ansible_ssh_timeout: 8, runbook_lock: false }));
    doc.all.children.lab.hosts[dead].ansible_ssh_timeout = 12;
    const inv = path.join(lab.dir, 'hs-inventory.yml');
    fs.writeFileSync(inv, YAML.stringify(doc));
    const pb = path.join(lab.dir, 'hs-play.yml');
    fs.writeFileSync(pb, JSON.stringify([{ hosts: 'lab', gather_facts: false, tasks: [{ name: 'echo', 'ansible.builtin.command': { cmd: 'echo {{ inventory_hostname }}' }, changed_when: false }] }]));
    const r = await cliAsync(['apply', pb, '-i', inv, '-f', '5', '--format', 'json'], { env: { RUNBOOK_MAX_HANDSHAKES: '1' }, timeoutMs: 110_000, cwd: ROOT });
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(4);
    const end = events(r.stdout).find((e) => e['event'] === 'run:end');
    expect(end, r.stdout.slice(-3000)).toBeDefined();
    const recap = Object.fromEntries((end!['recap'] as { host: string }[]).map((x) => [x.host, x]));
    expect(recap[dead]!.unreachable).toBe(1);
    for (const h of lab.hosts.slice(1)) expect(recap[h.name], h.name).toMatchObject({ ok: 1, unreachable: 0 });
  }, 120_000);
});
