// The lab's private copy-on-write root per host: what a host writes stays in that host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { privateRootPlan, privateRootScript } from '../lib/lab/privateroot.js';
import { run } from '../lib/lab/proc.js';

const LAB_NAME = `vitest-labroot-${process.pid}`;
const tag = `rbl-root-${process.pid}`;
const work = `/tmp/rbk-labroot-${process.pid}`;

describe('privateRootPlan (pure)', () => {
  const dirs: Record<string, boolean> = {
    '/etc/sysctl.d': true,
    '/etc/passwd': false,
    '/etc/netns': true,
    '/var/lib/runbook-lab': true,
    '/var/lib/runbook-lab/rootfs/usr': true,
    '/usr/local/sbin': true,
  };
  const isDir = (p: string) => dirs[p];

  it('carries over the outermost mounts below overlaid dirs, and the shared paths that exist', () => {
    const plan = privateRootPlan(
      ['/var', '/etc', '/usr'],
      ['/', '/proc', '/run/netns', '/etc/sysctl.d', '/etc/passwd', '/var/lib/runbook-lab/rootfs/usr', '/etc', '/usr/local/sbin'],
      ['/etc/netns', '/var/lib/runbook-lab', '/srv/absent'],
      isDir,
    );
    expect(plan.overlays).toEqual(['/etc', '/usr', '/var']);
    expect(plan.keep).toEqual([
      { path: '/etc/netns', dir: true },
      { path: '/etc/passwd', dir: false },
      { path: '/etc/sysctl.d', dir: true },
      { path: '/usr/local/sbin', dir: true },
      { path: '/var/lib/runbook-lab', dir: true }, // its rootfs/usr mount comes along with the recursive bind
    ]);
  });

  it('stashes before overlaying and moves back after, with quoted paths', () => {
    const script = privateRootScript({ overlays: ['/etc'], keep: [{ path: "/etc/it's", dir: false }] }, '/run/x/root');
    const lines = script.trim().split('\n');
    const rbind = lines.findIndex((l) => l.startsWith('mount --rbind'));
    const overlay = lines.findIndex((l) => l.startsWith('mount -t overlay'));
    const move = lines.findIndex((l) => l.startsWith('mount --move'));
    expect(rbind).toBeGreaterThan(0);
    expect(overlay).toBeGreaterThan(rbind);
    expect(move).toBeGreaterThan(overlay);
    expect(lines[rbind]).toBe(`mount --rbind '/etc/it'\\''s' '/run/x/root/stash/0'`);
    expect(lines[overlay]).toBe(`mount -t overlay -o 'lowerdir=/etc,upperdir=/run/x/root/upper/etc,workdir=/run/x/root/work/etc' rbl-root '/etc'`);
    expect(() => privateRootScript({ overlays: ['/a,b'], keep: [] }, '/r')).toThrow(/cannot overlay/);
  });
});

function ssh(lab: Lab, address: string, command: string) {
  return run(
    ['ssh', '-F', '/dev/null', '-i', lab.keyFile, '-o', `UserKnownHostsFile=${lab.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes',
      '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', `root@${address}`, command],
    { timeoutMs: 120_000 },
  );
}

/** A minimal .deb (one file under /usr/share) built with dpkg-deb. */
async function buildDeb(name: string): Promise<string> {
  const root = path.join(work, `${name}-pkg`);
  mkdirSync(path.join(root, 'DEBIAN'), { recursive: true });
  mkdirSync(path.join(root, 'usr/share', name), { recursive: true });
  writeFileSync(path.join(root, 'usr/share', name, 'hello'), `${name}\n`);
  writeFileSync(
    path.join(root, 'DEBIAN/control'),
    `Package: ${name}\nVersion: 1.0\nArchitecture: all\nMaintainer: runbook lab <lab@example.invalid>\nDescription: runbook lab private root test\n`,
  );
  const deb = path.join(work, `${name}.deb`);
  const r = await run(['dpkg-deb', '--root-owner-group', '--build', root, deb], { timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  return deb;
}

const dpkgStatus = (text: string, pkg: string) => new RegExp(`^Package: ${pkg}\\nStatus: install ok installed$`, 'm').test(text);

describe('lab: every host has a private copy-on-write root', () => {
  let lab: Lab;

  beforeAll(async () => {
    mkdirSync(work, { recursive: true });
    lab = await Lab.create({ name: LAB_NAME, hosts: 2 });
  });

  afterAll(async () => {
    await lab?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('is the default', () => {
    expect(lab.privateRoot).toBe(true);
  });

  it('keeps files written over SSH to /etc, /opt and /usr in the host that wrote them', async () => {
    const [h1, h2] = lab.hosts;
    const files = ['/etc/motd', `/opt/${tag}/y`, `/usr/local/bin/${tag}`];
    const machineMotd = existsSync('/etc/motd') ? readFileSync('/etc/motd', 'utf8') : undefined;
    const w = await ssh(lab, h1!.address, `echo "${tag} motd" > /etc/motd && mkdir -p /opt/${tag} && echo "${tag} y" > /opt/${tag}/y && printf '#!/bin/sh\\necho ${tag} z\\n' > /usr/local/bin/${tag} && chmod +x /usr/local/bin/${tag}`);
    expect(w.code, w.stderr).toBe(0);
    // host1 sees its writes (over SSH and through exec, the same mount namespace)
    expect((await ssh(lab, h1!.address, `cat /etc/motd /opt/${tag}/y; ${tag}`)).stdout).toBe(`${tag} motd\n${tag} y\n${tag} z\n`);
    expect(await lab.readFile(h1!, `/opt/${tag}/y`)).toBe(`${tag} y\n`);
    // host2 does not
    expect((await ssh(lab, h2!.address, 'cat /etc/motd')).stdout).not.toContain(tag);
    for (const f of files.slice(1)) expect((await lab.exec(h2!, ['test', '-e', f])).code, f).toBe(1);
    // nor does the machine
    expect(existsSync('/etc/motd') ? readFileSync('/etc/motd', 'utf8') : undefined).toBe(machineMotd);
    for (const f of files.slice(1)) expect(existsSync(f), f).toBe(false);
    // host1's copies are in its upper dir, where hostPath() points
    for (const f of files) expect(readFileSync(lab.hostPath(h1!, f)!, 'utf8'), f).toContain(tag);
    expect(existsSync(lab.hostPath(h2!, files[1]!)!)).toBe(false);
    // /tmp stays shared with the machine (tests hand files both ways there)
    expect(lab.hostPath(h1!, `${work}/x`)).toBeUndefined();
  });

  it('keeps dpkg and apt installs in the host that made them', async () => {
    const [h1, h2] = lab.hosts;
    const [pkgA, pkgB] = [`rbl-test-a-${process.pid}`, `rbl-test-b-${process.pid}`];
    const [debA, debB] = [await buildDeb(pkgA), await buildDeb(pkgB)];
    const machineStatus = readFileSync('/var/lib/dpkg/status', 'utf8');
    const a = await ssh(lab, h1!.address, `dpkg -i ${debA}`);
    expect(a.code, a.stderr).toBe(0);
    // apt, offline: a local .deb without dependencies needs no download
    const b = await ssh(lab, h2!.address, `DEBIAN_FRONTEND=noninteractive apt-get install -y ${debB}`);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    const status1 = await lab.readFile(h1!, '/var/lib/dpkg/status');
    const status2 = await lab.readFile(h2!, '/var/lib/dpkg/status');
    expect(dpkgStatus(status1, pkgA)).toBe(true);
    expect(dpkgStatus(status1, pkgB)).toBe(false);
    expect(dpkgStatus(status2, pkgB)).toBe(true);
    expect(dpkgStatus(status2, pkgA)).toBe(false);
    expect(await lab.readFile(h1!, `/usr/share/${pkgA}/hello`)).toBe(`${pkgA}\n`);
    expect((await lab.exec(h2!, ['test', '-e', `/usr/share/${pkgA}/hello`])).code).toBe(1);
    // the machine: same dpkg status as before, no files
    expect(readFileSync('/var/lib/dpkg/status', 'utf8')).toBe(machineStatus);
    expect(existsSync(`/usr/share/${pkgA}`) || existsSync(`/usr/share/${pkgB}`)).toBe(false);
    expect((await run(['dpkg', '-s', pkgA])).code).not.toBe(0);
  });

  it('keeps the lab plumbing shared: /etc/netns views, the lab dir, the shared rootfs path', async () => {
    const h = lab.hosts[0]!;
    // the host's own /etc/netns view is the machine's directory: a write through the host's /etc/sysctl.d lands there
    const w = await lab.exec(h, ['sh', '-c', `echo "# ${tag}" > /etc/sysctl.d/90-${tag}.conf`]);
    expect(w.code, w.stderr).toBe(0);
    expect(readFileSync(`/etc/netns/${h.ns}/sysctl.d/90-${tag}.conf`, 'utf8')).toBe(`# ${tag}\n`);
    expect(existsSync(`/etc/sysctl.d/90-${tag}.conf`)).toBe(false);
    // files the machine makes in the lab dir after the host started are visible inside
    writeFileSync(path.join(lab.dir, `${tag}.txt`), 'from the machine\n');
    expect(await lab.readFile(h, path.join(lab.dir, `${tag}.txt`))).toBe('from the machine\n');
  });
});
