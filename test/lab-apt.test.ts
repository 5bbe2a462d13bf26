// Real apt on lab hosts: through the lab's apt proxy to the machine's own apt sources, kept in the host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { aptProxyConf, aptSourceHosts } from '../lib/lab/apt-proxy.js';
import { run } from '../lib/lab/proc.js';
import { aptGet, prepareApt } from '../lib/modules/apt.js';

const LAB_NAME = `vitest-labapt-${process.pid}`;
// a small package with no dependencies that this machine does not have
const PKG = 'sl';

describe('aptSourceHosts (pure)', () => {
  it('reads one-line and deb822 sources, http only', async () => {
    const dir = `/tmp/rbk-aptsrc-${process.pid}`;
    await run(['mkdir', '-p', `${dir}/sources.list.d`]);
    const { writeFileSync, rmSync } = await import('node:fs');
    writeFileSync(`${dir}/sources.list`, '# comment\ndeb http://deb.example.org/debian bookworm main\ndeb [arch=amd64] https://secure.example.org/x stable main\n');
    writeFileSync(`${dir}/sources.list.d/a.sources`, 'Types: deb\nURIs: http://mirror.example.net/debian http://other.example.net/d\nSuites: bookworm\n');
    writeFileSync(`${dir}/sources.list.d/ignored.txt`, 'deb http://never.example.com/ x main\n');
    expect(aptSourceHosts(dir)).toEqual(['deb.example.org', 'mirror.example.net', 'other.example.net']);
    rmSync(dir, { recursive: true, force: true });
    expect(aptProxyConf('198.18.3.1')).toContain('Acquire::http::Proxy "http://198.18.3.1:3142/";');
  });
});

describe.skipIf(process.getuid?.() !== 0)('lab hosts with apt: true', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.create({ name: LAB_NAME, hosts: 1, apt: true });
  }, 120_000);
  afterAll(async () => {
    const dir = lab?.dir;
    const pid = dir && existsSync(path.join(dir, 'apt', 'proxy.pid')) ? Number(readFileSync(path.join(dir, 'apt', 'proxy.pid'), 'utf8')) : 0;
    await lab?.destroy();
    // the proxy ends with its lab (a killed child of this process may stay a zombie until it is reaped)
    const alive = () => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 50 && pid && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    if (pid) expect(alive()).toBe(false);
  }, 120_000);

  it('refuses what is not an apt source of the machine, and clients from elsewhere', async () => {
    const h = lab.hosts[0]!;
    const proxy = readFileSync(path.join(lab.dir, 'apt', 'proxy.pid'), 'utf8').trim();
    expect(Number(proxy)).toBeGreaterThan(1);
    const conf = await lab.readFile(h, '/etc/apt/apt.conf.d/01runbook-lab-proxy');
    const addr = /http:\/\/([\d.]+):3142/.exec(conf)![1]!;
    // a raw request from the host for a host that is no apt source: 403, and the proxy never contacts it
    const r = await lab.exec(h, ['bash', '-c', `exec 3<>/dev/tcp/${addr}/3142 && printf 'GET http://example.com/ HTTP/1.0\\r\\n\\r\\n' >&3 && timeout 10 head -1 <&3`], { timeoutMs: 20_000 });
    expect(r.stdout).toMatch(/^HTTP\/1\.[01] 403/);
    const c = await lab.exec(h, ['bash', '-c', `exec 3<>/dev/tcp/${addr}/3142 && printf 'CONNECT example.com:443 HTTP/1.1\\r\\nHost: example.com:443\\r\\n\\r\\n' >&3 && timeout 10 head -1 <&3`], { timeoutMs: 20_000 });
    expect(c.stdout).toMatch(/^HTTP\/1\.[01] 403/);
    // the machine itself (not a lab address) is refused too
    const m = await run(['bash', '-c', `exec 3<>/dev/tcp/${addr}/3142 && printf 'GET http://${aptSourceHosts()[0]}/ HTTP/1.0\\r\\n\\r\\n' >&3 && timeout 10 head -1 <&3`], { timeoutMs: 20_000 });
    expect(m.stdout).toMatch(/^HTTP\/1\.[01] 403/);
  }, 60_000);

  it('apt-get update and install work in the host and change nothing on the machine', async () => {
    const h = lab.hosts[0]!;
    const machineStatus = readFileSync('/var/lib/dpkg/status', 'utf8');
    expect(machineStatus).not.toMatch(new RegExp(`^Package: ${PKG}$`, 'm'));
    const u = await lab.exec(h, ['apt-get', 'update'], { timeoutMs: 300_000 });
    expect(u.code, u.stdout + u.stderr).toBe(0);
    const i = await lab.exec(h, ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '--no-install-recommends', PKG], { timeoutMs: 300_000 });
    expect(i.code, i.stdout + i.stderr).toBe(0);
    expect(await lab.readFile(h, '/var/lib/dpkg/status')).toMatch(new RegExp(`^Package: ${PKG}$`, 'm'));
    expect((await lab.exec(h, ['test', '-x', '/usr/games/sl'])).code).toBe(0);
    // the machine: same dpkg status, no binary
    expect(readFileSync('/var/lib/dpkg/status', 'utf8')).toBe(machineStatus);
    expect(existsSync('/usr/games/sl')).toBe(false);
  }, 600_000);

  it('apt policy_rc_d: policy-rc.d exits with the code while apt-get runs, and an earlier one is put back', async () => {
    const h = lab.hosts[0]!;
    const f = '/usr/sbin/policy-rc.d';
    const w = await lab.exec(h, ['sh', '-c', `printf '#!/bin/sh\\nexit 0\\n' > ${f} && chmod 755 ${f}`]);
    expect(w.code, w.stderr).toBe(0);
    // apt-get's words replaced by a look at the file during the run (apt-get --version, then the policy's exit code)
    const script = aptGet(prepareApt({ update_cache: true, policy_rc_d: 101 }), '--version >/dev/null') + `\n${f}; echo "after: $?"`;
    const during = script.replace('apt-get', `${f}; echo "during: $?"; apt-get`);
    const r = await lab.exec(h, ['sh', '-c', during]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('during: 101');
    expect(r.stdout).toContain('after: 0');
    expect(await lab.readFile(h, f)).toBe('#!/bin/sh\nexit 0\n');
  }, 60_000);
});
