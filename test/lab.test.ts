// The test lab itself: real sshd servers in network namespaces, a v6-only internet, podman with NAT66.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import { Lab, LAB_ROOT, LABS_DIR, SLOTS_DIR, destroyLeftovers, listLabs } from '../lib/lab/lab.js';
import { run } from '../lib/lab/proc.js';

const LAB_NAME = `vitest-lab-${process.pid}`;

function banner(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = '';
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no banner from ${host}:${port}`));
    }, 5000);
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\n')) {
        clearTimeout(t);
        sock.destroy();
        resolve(buf.split('\n')[0]!.trim());
      }
    });
    sock.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

async function netnsList(): Promise<string[]> {
  const r = await run(['ip', 'netns', 'list']);
  return r.stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}
async function linkList(): Promise<string[]> {
  const r = await run(['ip', '-o', 'link', 'show']);
  return r.stdout.split('\n').map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '').filter(Boolean);
}

/** The interface `ip route get` would use for addr (no packet is sent). */
async function routeDev(addr: string): Promise<string> {
  const r = await run(['ip', '-4', '-o', 'route', 'get', addr]);
  return / dev (\S+)/.exec(r.stdout)?.[1] ?? '';
}

function ssh(lab: Lab, address: string, command: string[]) {
  return run(
    [
      'ssh',
      '-i', lab.keyFile,
      '-o', `UserKnownHostsFile=${lab.knownHostsFile}`,
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'BatchMode=yes',
      '-o', 'IdentitiesOnly=yes',
      '-o', 'ConnectTimeout=5',
      '-F', '/dev/null',
      `root@${address}`,
      ...command,
    ],
    { timeoutMs: 20_000 },
  );
}

describe('lab: 2 hosts, internet, podman', () => {
  let lab: Lab;
  let createMs = 0;
  let detachedPid = 0;
  let detachedNetns = '';

  beforeAll(async () => {
    const t0 = Date.now();
    lab = await Lab.create({ name: LAB_NAME, hosts: 2, internet: true, podman: true });
    createMs = Date.now() - t0;
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('creates quickly, with distinct hosts in the benchmarking range', () => {
    expect(createMs).toBeLessThan(15_000);
    expect(lab.hosts.map((h) => h.name)).toEqual(['host1', 'host2']);
    const [a, b] = lab.hosts;
    expect(a!.address).toMatch(/^198\.18\.\d+\.\d+$/);
    expect(a!.address).not.toBe(b!.address);
    expect(a!.ns).not.toBe(b!.ns);
    expect(a!.port).toBe(22);
    expect(a!.globalV6).toMatch(/^2001:db8:/);
    expect(a!.uplinkIf).toBe('enp1s0');
    expect(lab.internetV6).toMatch(/^2001:db8:ffff:/);
    console.log(`lab create: ${createMs} ms`);
  });

  it('runs an sshd that sends the SSH banner on every host address', async () => {
    for (const h of lab.hosts) {
      expect(await banner(h.address, h.port)).toMatch(/^SSH-2\.0-OpenSSH_/);
    }
  });

  it('accepts the lab key with strict host key checking against known_hosts', async () => {
    const kh = readFileSync(lab.knownHostsFile, 'utf8').trim().split('\n');
    expect(kh).toHaveLength(2);
    for (const h of lab.hosts) {
      expect(kh.some((l) => l.startsWith(`${h.address} ssh-ed25519 `))).toBe(true);
      const r = await ssh(lab, h.address, ['true']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    // The session runs in the host's namespace: its addresses are the host's, not the root namespace's.
    const r = await ssh(lab, lab.hosts[0]!.address, ['ip', '-o', 'addr', 'show']);
    expect(r.stdout).toContain(lab.hosts[0]!.address);
    expect(r.stdout).toContain(lab.hosts[0]!.globalV6!);
    expect(r.stdout).not.toContain(lab.hosts[1]!.address);
  });

  it('rejects a host key that is not in known_hosts', async () => {
    // host2's address with host1's key: strict checking must refuse.
    const [h1, h2] = lab.hosts;
    const kh = readFileSync(lab.knownHostsFile, 'utf8').split('\n');
    const key1 = kh.find((l) => l.startsWith(`${h1!.address} `))!.split(' ').slice(1).join(' ');
    const bad = path.join(lab.dir, 'known_hosts.bad');
    writeFileSync(bad, `${h2!.address} ${key1}\n`);
    const r = await run(
      ['ssh', '-F', '/dev/null', '-i', lab.keyFile, '-o', `UserKnownHostsFile=${bad}`, '-o', 'GlobalKnownHostsFile=/dev/null',
        '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${h2!.address}`, 'true'],
      { timeoutMs: 20_000 },
    );
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  it('keeps net.* sysctls and /etc/sysctl.d private to each host', async () => {
    const [h1, h2] = lab.hosts;
    const rootTtl = readFileSync('/proc/sys/net/ipv4/ip_default_ttl', 'utf8').trim();
    const set = await lab.exec(h1!, ['sysctl', '-w', 'net.ipv4.ip_default_ttl=77']);
    expect(set.code).toBe(0);
    expect((await lab.exec(h1!, ['sysctl', '-n', 'net.ipv4.ip_default_ttl'])).stdout.trim()).toBe('77');
    expect((await lab.exec(h2!, ['sysctl', '-n', 'net.ipv4.ip_default_ttl'])).stdout.trim()).toBe('64');
    expect(readFileSync('/proc/sys/net/ipv4/ip_default_ttl', 'utf8').trim()).toBe(rootTtl);
    // Over SSH, host1 sees its own value too.
    expect((await ssh(lab, h1!.address, ['cat', '/proc/sys/net/ipv4/ip_default_ttl'])).stdout.trim()).toBe('77');

    const w = await lab.exec(h1!, ['sh', '-c', 'echo net.ipv4.ip_default_ttl=77 > /etc/sysctl.d/90-lab-test.conf']);
    expect(w.code).toBe(0);
    expect((await lab.exec(h1!, ['cat', '/etc/sysctl.d/90-lab-test.conf'])).stdout).toContain('=77');
    expect((await lab.exec(h2!, ['test', '-e', '/etc/sysctl.d/90-lab-test.conf'])).code).toBe(1);
    expect(existsSync('/etc/sysctl.d/90-lab-test.conf')).toBe(false);
    // Same for /etc/systemd/system (over SSH, the runbook path).
    expect((await ssh(lab, h1!.address, ['touch /etc/systemd/system/lab-test.service'])).code).toBe(0);
    expect((await ssh(lab, h2!.address, ['test', '-e', '/etc/systemd/system/lab-test.service'])).code).toBe(1);
    expect(existsSync('/etc/systemd/system/lab-test.service')).toBe(false);
  });

  it('reaches the v6-only internet from each host with its global address as source', async () => {
    for (const h of lab.hosts) {
      const r = await lab.exec(h, ['curl', '-6', '-s', '--max-time', '5', `http://[${lab.internetV6}]/`]);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(h.globalV6);
    }
    // The internet has no IPv4 besides loopback, and hosts have no IPv4 default route.
    const v4 = await run(['ip', '-n', lab.internetNs!, '-4', '-o', 'addr', 'show']);
    expect(v4.stdout.trim().split('\n').every((l) => l.includes(' lo '))).toBe(true);
    const routes = await lab.exec(lab.hosts[0]!, ['ip', '-4', 'route', 'show', 'default']);
    expect(routes.stdout.trim()).toBe('');
  });

  it('runs a podman container whose IPv6 egress is NATed to the host global address', async () => {
    const h = lab.hosts[0]!;
    const create = await lab.exec(h, ['podman', 'network', 'create', '--ipv6', '--subnet', '10.89.0.0/24', '--subnet', 'fdaa:bbcc:ddee::/64', 'v6egress']);
    expect(create.stderr).not.toMatch(/Error/);
    expect(create.code).toBe(0);
    expect((await lab.exec(h, ['sysctl', '-w', 'net.ipv6.conf.all.forwarding=1'])).code).toBe(0);
    const t0 = Date.now();
    const r = await lab.exec(
      h,
      ['podman', 'run', '--rm', '--network', 'v6egress', '--rootfs', lab.rootfs!, 'curl', '-6', '-s', '--max-time', '10', `http://[${lab.internetV6}]/`],
      { timeoutMs: 60_000 },
    );
    console.log(`podman run: ${Date.now() - t0} ms`);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(h.globalV6);
    // The same over SSH (the path runbook takes): sessions get the namespace and the podman setup too.
    const viaSsh = await ssh(lab, h.address, ['podman', 'run', '--rm', '--network', 'v6egress', '--rootfs', lab.rootfs!, 'curl', '-6', '-s', '--max-time', '10', `http://[${lab.internetV6}]/`]);
    expect(viaSsh.code).toBe(0);
    expect(viaSsh.stdout.trim()).toBe(h.globalV6);
    // A detached container, started over SSH, is visible to exec() (one mount namespace per host) and is
    // removed by destroy() (checked below).
    const started = await ssh(lab, h.address, ['podman', 'run', '-d', '--network', 'v6egress', '--rootfs', lab.rootfs!, 'sleep', '1000']);
    expect(started.code).toBe(0);
    const inspect = await lab.exec(h, ['podman', 'inspect', '--format', '{{.State.Pid}} {{.NetworkSettings.SandboxKey}}', started.stdout.trim()]);
    expect(inspect.code).toBe(0);
    [detachedPid, detachedNetns] = inspect.stdout.trim().split(' ').map((x, i) => (i === 0 ? Number(x) : x)) as [number, string];
    expect(detachedPid).toBeGreaterThan(0);
    expect(readFileSync(`/proc/${detachedPid}/cmdline`, 'utf8')).toContain('sleep');
    expect(detachedNetns).toMatch(/^\/run\/netns\/netns-/);
    // The network is host1's alone, and the run left no container behind.
    expect((await lab.exec(lab.hosts[1]!, ['podman', 'network', 'exists', 'v6egress'])).code).not.toBe(0);
    const ps = await lab.exec(h, ['podman', 'ps', '-a', '--format', '{{.Command}}']);
    expect(ps.code).toBe(0);
    expect(ps.stdout.trim()).toBe('sleep 1000'); // only the detached one
    // Podman state lives in the lab, not in the machine's /var/lib/containers.
    expect(existsSync(path.join(SLOTS_DIR, String(lab.slot), 'h1', 'storage'))).toBe(true);
  });

  it('writes an inventory for the lab group', () => {
    const inv = YAML.parse(lab.inventoryYaml({ extra_var: 1 }));
    const group = inv.all.children.lab;
    expect(Object.keys(group.hosts)).toEqual(['host1', 'host2']);
    expect(group.hosts.host1).toMatchObject({
      ansible_host: lab.hosts[0]!.address,
      ansible_port: 22,
      ansible_user: 'root',
      ansible_ssh_private_key_file: lab.keyFile,
      extra_var: 1,
    });
    expect(group.vars.runbook_known_hosts).toBe(lab.knownHostsFile);
    expect(YAML.parse(readFileSync(lab.inventoryFile, 'utf8')).all.children.lab.hosts.host2.ansible_host).toBe(lab.hosts[1]!.address);
  });

  it('stops and starts sshd for fault tests', async () => {
    const h = lab.hosts[1]!;
    await lab.stopSshd(h);
    const refused = await ssh(lab, h.address, ['true']);
    expect(refused.code).toBe(255);
    expect(lab.hosts[0] && (await banner(lab.hosts[0].address, 22))).toMatch(/^SSH-2\.0-/);
    await lab.startSshd(h);
    expect((await ssh(lab, h.address, ['true'])).code).toBe(0);
  });

  it('routes no lab address out of the machine: a downed link or an address no lab made is unreachable', async () => {
    const h = lab.hosts[1]!;
    const dev = lab.linkOf(h);
    const routeGet = (addr: string) => run(['ip', '-o', 'route', 'get', addr], { timeoutMs: 10_000 });
    // Up: the host's /30 on its veth wins over the catch-all.
    const up = await routeGet(h.address);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toContain(` dev ${dev} `);
    // Addresses inside the lab ranges that no lab made never go to the machine's default gateway.
    for (const addr of ['198.18.255.254', '198.19.0.1', '2001:db8:ffff:ffff::1']) {
      const r = await routeGet(addr);
      expect(r.code, `${addr}: ${r.stdout}`).not.toBe(0);
      expect(r.stderr).toMatch(/unreachable|no route to host/i);
    }
    await lab.setLink(h, false);
    try {
      for (const addr of [h.address, h.globalV6!]) {
        const r = await routeGet(addr);
        expect(r.code, `${addr}: ${r.stdout}`).not.toBe(0);
        expect(r.stderr).toMatch(/unreachable|no route to host/i);
      }
      expect((await ssh(lab, h.address, ['true'])).code).toBe(255);
    } finally {
      await lab.setLink(h, true);
    }
    expect((await routeGet(h.address)).stdout).toContain(` dev ${dev} `);
    const back = await ssh(lab, h.address, ['true']);
    expect(back.code, back.stderr).toBe(0);
  });

  it('destroys cleanly and idempotently', async () => {
    const nsBefore = (await netnsList()).filter((n) => lab.hosts.some((h) => h.ns === n) || n === lab.internetNs);
    expect(nsBefore).toHaveLength(3);
    const t0 = Date.now();
    await lab.destroy();
    console.log(`lab destroy: ${Date.now() - t0} ms`);
    await lab.destroy();
    const prefix = `rbl${lab.slot}`;
    expect((await netnsList()).filter((n) => n.startsWith(prefix + '-'))).toEqual([]);
    expect((await linkList()).filter((l) => l.startsWith(prefix + 'h'))).toEqual([]);
    expect(existsSync(lab.dir)).toBe(false);
    expect(existsSync(path.join(SLOTS_DIR, String(lab.slot)))).toBe(false);
    for (const h of lab.hosts) expect(existsSync(`/etc/netns/${h.ns}`)).toBe(false);
    // The detached container is gone, with its netns file.
    expect(detachedPid).toBeGreaterThan(0);
    expect(existsSync(`/proc/${detachedPid}/cmdline`) && readFileSync(`/proc/${detachedPid}/cmdline`, 'utf8').includes('sleep')).toBe(false);
    expect(existsSync(detachedNetns)).toBe(false);
    expect(await run(['ip', 'netns', 'pids', lab.hosts[0]!.ns]).then((r) => r.code)).not.toBe(0);
    // No route to the lab's addresses is left (checked with `ip route get`, which sends nothing: after teardown a
    // connect() would leave through the machine's default route, outside the lab).
    expect(await routeDev(lab.hosts[0]!.address)).not.toMatch(/^rbl/);
  });
});

describe('lab: leftovers and concurrent labs', () => {
  it('gives concurrent labs distinct slots and addresses, and refuses a live duplicate name', async () => {
    const [a, b] = await Promise.all([
      Lab.create({ name: `${LAB_NAME}-a`, hosts: 3 }),
      Lab.create({ name: `${LAB_NAME}-b`, hosts: 1 }),
    ]);
    try {
      expect(a.slot).not.toBe(b.slot);
      const addrs = new Set([...a.hosts, ...b.hosts].map((h) => h.address));
      expect(addrs.size).toBe(4);
      for (const h of [...a.hosts, ...b.hosts]) expect(await banner(h.address, 22)).toMatch(/^SSH-2\.0-/);
      await expect(Lab.create({ name: `${LAB_NAME}-a`, hosts: 1 })).rejects.toThrow(/exists/);
    } finally {
      await Promise.all([a.destroy(), b.destroy()]);
    }
  });

  it('removes a lab whose creating process died', async () => {
    const name = `${LAB_NAME}-dead`;
    const lab = await Lab.create({ name, hosts: 1 });
    // Pretend the creator was killed: point owner.json at a pid that does not exist.
    const ownerFile = path.join(lab.dir, 'owner.json');
    const owner = JSON.parse(readFileSync(ownerFile, 'utf8'));
    writeFileSync(ownerFile, JSON.stringify({ ...owner, pid: 2 ** 22 + 1, start: '1' }));
    expect(listLabs().find((l) => l.name === name)?.alive).toBe(false);
    // An orphan namespace of an unallocated slot goes too.
    await run(['ip', 'netns', 'add', 'rbl254-stray']);
    await destroyLeftovers(name);
    expect(existsSync(lab.dir)).toBe(false);
    expect((await netnsList()).filter((n) => n === lab.hosts[0]!.ns || n === 'rbl254-stray')).toEqual([]);
    expect(await routeDev(lab.hosts[0]!.address)).not.toMatch(/^rbl/);
    await lab.destroy(); // still fine
    expect(existsSync(path.join(LAB_ROOT, 'labs'))).toBe(true);
    expect(existsSync(path.join(LABS_DIR, name))).toBe(false);
  });
});
