/**
 * Reaching hosts the way the deerlab and web-arm operators do, against real sshd lab hosts:
 * pct containers through one Proxmox host (one SSH connection), the quoting torture through both shell layers,
 * a ProxyJump chain to a host only the second jump host can reach (inventory and ~/.ssh/config forms), sudo with
 * a password that never shows up in any output, su, Happy Eyeballs on a dual-stack name, and a per-host
 * inventory directory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { Lab } from '../lib/lab/lab.js';
import { execInContainer, installPct, removePct, type PctHost } from '../lib/lab/pct.js';
import { run as runProc, waitFor } from '../lib/lab/proc.js';
import { createConnection, sharedConnections, SshConnection } from '../lib/connection/index.js';
import { argvScript, atomicWriteScript, q } from '../lib/connection/scripts.js';
import { connectionSpecFor } from '../lib/executor/connect.js';
import { BIN, cliAsync, events, ROOT, type CliResult } from './helpers.js';

const SYSCTL = path.join(ROOT, 'test/fixtures/reach/sysctl.yml');
const BECOME = path.join(ROOT, 'test/fixtures/reach/become.yml');
const SU = path.join(ROOT, 'test/fixtures/reach/su.yml');
const base = `/tmp/rbk-reach-${process.pid}`;
const user = `rbkr${process.pid % 100000}`;
const password = `Pw-${process.pid}-s3cr3t x'y"z`;
const sudoersFile = `/etc/sudoers.d/runbook-reach-${process.pid}`;

let lab: Lab;
let pct: PctHost;
let hostKey: Record<string, string>; // lab host name -> "ssh-ed25519 AAAA..."
let kh: string; // known_hosts with every extra address too
// addresses of the extra topology (inside the lab's own 198.18.S.0/24 and 2001:db8:S::/48)
let a: { h1j: string; h2j: string; h2h3: string; h3: string; v6: string; v6root: string; deadV4: string; deadV6: string };

function sshdLog(host: string, file = 'sshd.log'): string {
  try {
    return fs.readFileSync(path.join(lab.dir, 'hosts', host, file), 'utf8');
  } catch {
    return '';
  }
}
const accepted = (log: string) => (log.match(/Accepted publickey for /g) ?? []).length;

/** A second sshd in a lab host listening on other addresses (same host key, same authorized_keys). */
async function extraSshd(host: string, tag: string, listen: string[]): Promise<void> {
  const dir = path.join(lab.dir, 'hosts', host);
  const conf = fs
    .readFileSync(path.join(dir, 'sshd_config'), 'utf8')
    .split('\n')
    .filter((l) => !/^(ListenAddress|AddressFamily|PidFile) /.test(l))
    .concat(listen.map((l) => `ListenAddress ${l.includes(':') ? `[${l}]` : l}`), 'AddressFamily any', `PidFile ${path.join(dir, `sshd-${tag}.pid`)}`)
    .join('\n');
  fs.writeFileSync(path.join(dir, `sshd-${tag}.conf`), conf + '\n');
  const r = await lab.exec(host, ['/usr/sbin/sshd', '-f', path.join(dir, `sshd-${tag}.conf`), '-E', path.join(dir, `sshd-${tag}.log`)]);
  expect(r.code, r.stderr).toBe(0);
  expect(await waitFor(() => fs.existsSync(path.join(dir, `sshd-${tag}.pid`)), 100, 50)).toBe(true);
}

async function must(host: string, cmd: string): Promise<string> {
  const r = await lab.exec(host, ['sh', '-c', cmd]);
  expect(r.code, `${cmd}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

function writeInventory(name: string, doc: unknown): string {
  const f = path.join(lab.dir, name);
  fs.writeFileSync(f, YAML.stringify(doc));
  return f;
}

function changed(stdout: string): string[] {
  return events(stdout)
    .filter((e) => e.event === 'task:result' && e.status === 'changed')
    .map((e) => `${e.host}: ${e.task}`);
}

function recapOk(r: CliResult): void {
  expect(r.code, r.stdout + r.stderr).toBe(0);
}

beforeAll(async () => {
  // users are added on the machine by the become tests: the hosts share the machine's files (no private root)
  lab = await Lab.create({ name: 'reach', hosts: 3, privateRoot: false });
  fs.mkdirSync(base, { recursive: true, mode: 0o755 });
  const S = lab.slot;
  const hx = S.toString(16);
  a = {
    h1j: `198.18.${S}.241`, // host1 <-> host2 link
    h2j: `198.18.${S}.242`,
    h2h3: `198.18.${S}.245`, // host2 <-> host3 link
    h3: `198.18.${S}.246`,
    v6root: `2001:db8:${hx}:a0::1`, // root namespace <-> host2, IPv6
    v6: `2001:db8:${hx}:a0::2`,
    deadV4: `198.18.${S}.250`, // routed to host2's link, owned by nobody: ARP never answers
    deadV6: `2001:db8:${hx}:a0::99`, // on host2's link, owned by nobody: NDP never answers
  };
  hostKey = {};
  for (const line of fs.readFileSync(lab.knownHostsFile, 'utf8').trim().split('\n')) {
    const [addr, type, key] = line.split(' ');
    hostKey[lab.host(addr!).name] = `${type} ${key}`;
  }

  // --- jump topology: host1 -- host2 -- host3 on links of their own; the root namespace reaches neither
  const [n1, n2, n3] = lab.hosts.map((h) => h.ns) as [string, string, string];
  const ip = async (...args: string[]) => {
    const r = await runProc(['ip', ...args], { timeoutMs: 10_000 });
    expect(r.code, `ip ${args.join(' ')}: ${r.stderr}`).toBe(0);
  };
  await ip('-n', n1, 'link', 'add', 'j12', 'type', 'veth', 'peer', 'name', 'j21', 'netns', n2);
  await ip('-n', n2, 'link', 'add', 'j23', 'type', 'veth', 'peer', 'name', 'j32', 'netns', n3);
  await ip('-n', n1, 'addr', 'add', `${a.h1j}/30`, 'dev', 'j12');
  await ip('-n', n2, 'addr', 'add', `${a.h2j}/30`, 'dev', 'j21');
  await ip('-n', n2, 'addr', 'add', `${a.h2h3}/30`, 'dev', 'j23');
  await ip('-n', n3, 'addr', 'add', `${a.h3}/30`, 'dev', 'j32');
  for (const [ns, dev] of [[n1, 'j12'], [n2, 'j21'], [n2, 'j23'], [n3, 'j32']] as const) await ip('-n', ns, 'link', 'set', dev, 'up');

  // --- dual stack: an IPv6 link between the root namespace and host2, and a dead IPv4 address routed to it
  const rootIf2 = `rbl${S}h2`;
  await ip('-6', 'addr', 'add', `${a.v6root}/64`, 'dev', rootIf2, 'nodad');
  await ip('-n', n2, '-6', 'addr', 'add', `${a.v6}/64`, 'dev', 'eth0', 'nodad');
  await ip('route', 'add', `${a.deadV4}/32`, 'dev', rootIf2);

  await extraSshd('host2', 'extra', [a.h2j, a.v6]);
  await extraSshd('host3', 'extra', [a.h3]);

  kh = path.join(lab.dir, 'reach_known_hosts');
  fs.writeFileSync(
    kh,
    [
      ...lab.hosts.map((h) => `${h.address} ${hostKey[h.name]}`),
      `${a.h2j} ${hostKey['host2']}`,
      `${a.h3} ${hostKey['host3']}`,
      `ds.reach.test,ds6.reach.test,dsv4.reach.test,dead.reach.test ${hostKey['host2']}`,
    ].join('\n') + '\n',
  );

  pct = await installPct(lab, 'host1', [100, 101]);
}, 120_000);

afterAll(async () => {
  if (lab && pct) await removePct(lab, pct).catch(() => undefined);
  await lab?.destroy();
  fs.rmSync(base, { recursive: true, force: true });
  fs.rmSync(sudoersFile, { force: true });
  await runProc(['userdel', user], { timeoutMs: 20_000 }).catch(() => undefined);
}, 120_000);

describe('pct: LXC containers through one Proxmox host', () => {
  const inv = (extra: Record<string, unknown> = {}) =>
    writeInventory('pct-inventory.yml', {
      all: {
        children: {
          containers: {
            hosts: { ct100: { proxmox_vmid: 100 }, ct101: { proxmox_vmid: 101 } },
            vars: {
              ansible_connection: 'community.proxmox.proxmox_pct_remote',
              ansible_host: lab.hosts[0]!.address,
              ansible_user: 'root',
              ansible_ssh_private_key_file: lab.keyFile,
              runbook_known_hosts: kh,
              ...extra,
            },
          },
        },
      },
    });

  it('the sysctl role converges in both containers over ONE ssh connection, then is idempotent', async () => {
    const before = accepted(sshdLog('host1'));
    const r = await cliAsync(['apply', SYSCTL, '-i', inv(), '--format', 'json']);
    recapOk(r);
    expect(changed(r.stdout).sort()).toEqual(['ct100: Set kernel parameters live and persist them in the sysctl file', 'ct101: Set kernel parameters live and persist them in the sysctl file']);
    // one SSH login on the Proxmox host served both containers
    expect(accepted(sshdLog('host1')) - before).toBe(1);
    // pct was what ran: as root, for both containers
    const log = fs.readFileSync(pct.logFile, 'utf8');
    expect(log).toMatch(/^100 0$/m);
    expect(log).toMatch(/^101 0$/m);
    for (const c of pct.containers) {
      expect((await execInContainer(c, ['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim()).toBe('1');
      expect((await execInContainer(c, ['sysctl', '-n', 'net.ipv4.conf.all.rp_filter'])).stdout.trim()).toBe('2');
      expect(fs.readFileSync(path.join(c.sysctlDir, '90-runbook.conf'), 'utf8')).toMatch(/^net\.ipv4\.ip_forward = 1$/m);
    }
    // the Proxmox host itself is untouched (its own netns and its own /etc/sysctl.d)
    expect((await must('host1', 'sysctl -n net.ipv4.ip_forward')).trim()).toBe('0');
    expect((await must('host1', 'ls /etc/sysctl.d')).trim()).toBe('');

    const again = await cliAsync(['apply', SYSCTL, '-i', inv(), '--format', 'json']);
    recapOk(again);
    expect(changed(again.stdout)).toEqual([]);
    const end = events(again.stdout).find((e) => e.event === 'run:end')!;
    expect(end.recap.map((x: { host: string }) => x.host).sort()).toEqual(['ct100', 'ct101']);
  });

  it('su inside a container (become_user, no password needed as the container root)', async () => {
    const r = await cliAsync(['apply', SU, '-i', inv(), '--format', 'json']);
    recapOk(r);
    const who = events(r.stdout).filter((e) => e.event === 'task:result' && e.task === 'As the container\'s nobody, through su');
    expect(who.length).toBe(2);
  });

  it('a missing container is unreachable, naming the host and the VMID', async () => {
    const f = writeInventory('pct-missing.yml', {
      all: {
        hosts: {
          ct999: {
            ansible_connection: 'pct',
            proxmox_vmid: 999,
            ansible_host: lab.hosts[0]!.address,
            ansible_user: 'root',
            ansible_ssh_private_key_file: lab.keyFile,
            runbook_known_hosts: kh,
          },
        },
      },
    });
    const r = await cliAsync(['apply', SU, '-i', f, '--format', 'plain']);
    expect(r.code).toBe(4);
    expect(r.stdout + r.stderr).toMatch(/ct999.*container 999.*does not exist/s);
  });

  it('the quoting torture value arrives byte-exact: command argument, env value, file content and file path', async () => {
    const T = `sp ace 'single' "double" $HOME $(id) \`id\` ; echo injected; \\ back\\slash\n2nd line\ttab *? [a] ~ & | > < # % ! é ✓\n`;
    const spec = connectionSpecFor('ct100', {
      ansible_connection: 'pct',
      proxmox_vmid: 100,
      ansible_host: lab.hosts[0]!.address,
      ansible_user: 'root',
      ansible_ssh_private_key_file: lab.keyFile,
      runbook_known_hosts: kh,
    });
    const c = createConnection(spec);
    try {
      await c.open();
      const echo = await c.run(argvScript(['printf', '%s', T]));
      expect(echo.code, echo.stderr).toBe(0);
      expect(echo.stdout).toBe(T);
      const env = await c.run('printf %s "$TORTURE"', { env: { TORTURE: T } });
      expect(env.stdout).toBe(T);
      // it really ran in the container: its netns has only lo
      expect((await c.run('ls /sys/class/net')).stdout.trim()).toBe('lo');
      const dir = path.join(base, 'pct-files');
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, T.replace(/\//g, '_'));
      const w = await c.run(atomicWriteScript(file, { mode: '0640' }), { input: T + '\u0000binary\u00ff' });
      expect(w.code, w.stderr).toBe(0);
      // the container shares the machine's filesystem: read it back directly, and through pct
      expect(fs.readFileSync(file)).toEqual(Buffer.from(T + '\u0000binary\u00ff'));
      expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('640');
      const back = await c.run(`cat -- ${q(file)}`);
      expect(back.stdout).toBe(T + '\u0000binary\u00ff');
    } finally {
      await c.close();
    }
    expect(sharedConnections()).toEqual([]);
  });
});

describe('jump hosts', () => {
  it('host3 is only reachable from host2 (the test topology is real)', async () => {
    // (no probe from the root namespace: its default route leads off the machine; the lab hosts have none)
    // host2 reaches it (OpenSSH's client, from inside host2's namespace); host1 does not
    const ssh = (ns: string) =>
      runProc(['ip', 'netns', 'exec', ns, 'ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=3', '-o', `UserKnownHostsFile=${kh}`, '-i', lab.keyFile, `root@${a.h3}`, 'true'], { timeoutMs: 10_000 });
    const r = await ssh(lab.hosts[1]!.ns);
    expect(r.code, r.stderr).toBe(0);
    expect((await ssh(lab.hosts[0]!.ns)).code).not.toBe(0);
  });

  it('a two-hop ProxyJump chain (ansible_ssh_common_args) applies the sysctl role on host3, over one tunnel', async () => {
    const f = writeInventory('jump-inventory.yml', {
      all: {
        hosts: {
          hidden: {
            ansible_host: a.h3,
            ansible_user: 'root',
            ansible_ssh_private_key_file: lab.keyFile,
            runbook_known_hosts: kh,
            ansible_ssh_common_args: `-o ProxyJump=root@${lab.hosts[0]!.address}:22,root@${a.h2j}`,
          },
        },
      },
    });
    const l1 = accepted(sshdLog('host1'));
    const l2 = accepted(sshdLog('host2', 'sshd-extra.log'));
    const l3 = accepted(sshdLog('host3', 'sshd-extra.log'));
    const r = await cliAsync(['apply', SYSCTL, '-i', f, '--format', 'json']);
    recapOk(r);
    expect(changed(r.stdout)).toEqual(['hidden: Set kernel parameters live and persist them in the sysctl file']);
    expect((await must('host3', 'sysctl -n net.ipv4.ip_forward')).trim()).toBe('1');
    expect(await must('host3', 'cat /etc/sysctl.d/90-runbook.conf')).toMatch(/^net\.ipv4\.conf\.all\.rp_filter = 2$/m);
    expect((await must('host2', 'sysctl -n net.ipv4.ip_forward')).trim()).toBe('0');
    // each hop logged in once: host1 from the controller, host2 from host1's link, host3 from host2's link
    expect(accepted(sshdLog('host1')) - l1).toBe(1);
    expect(accepted(sshdLog('host2', 'sshd-extra.log')) - l2).toBe(1);
    expect(accepted(sshdLog('host3', 'sshd-extra.log')) - l3).toBe(1);
    expect(sshdLog('host2', 'sshd-extra.log')).toContain(`from ${a.h1j}`);
    expect(sshdLog('host3', 'sshd-extra.log')).toContain(`from ${a.h2h3}`);
    // and again: nothing to do
    const again = await cliAsync(['apply', SYSCTL, '-i', f, '--format', 'json']);
    recapOk(again);
    expect(changed(again.stdout)).toEqual([]);
  });

  it('~/.ssh/config aliases (HostName, User, Port, IdentityFile, ProxyJump) and runbook_jump_hosts work too', async () => {
    const cfg = path.join(lab.dir, 'ssh_config');
    fs.writeFileSync(
      cfg,
      [
        `Host j1`,
        `  HostName ${lab.hosts[0]!.address}`,
        `  User root`,
        `Host j2`,
        `  HostName ${a.h2j}`,
        `  Port 22`,
        `Host hidden-*`,
        `  HostName ${a.h3}`,
        `  ProxyJump j1,j2`,
        `Host *`,
        `  User root`,
        `  IdentityFile ${lab.keyFile}`,
        '',
      ].join('\n'),
    );
    const f = writeInventory('sshconfig-inventory.yml', {
      all: {
        hosts: {
          'hidden-viaconfig': { runbook_ssh_config: cfg, runbook_known_hosts: kh },
          // the inventory wins over the config: an explicit jump list, and an explicit address
          'hidden-vialist': { runbook_ssh_config: cfg, runbook_known_hosts: kh, ansible_host: a.h3, runbook_jump_hosts: [`root@${lab.hosts[0]!.address}`, `root@${a.h2j}:22`] },
        },
      },
    });
    const r = await cliAsync(['apply', SYSCTL, '-i', f, '--format', 'json', '-e', JSON.stringify({ sysctl_file: '/etc/sysctl.d/91-{{ inventory_hostname }}.conf' })]);
    recapOk(r);
    expect(await must('host3', 'ls /etc/sysctl.d')).toMatch(/91-hidden-viaconfig\.conf\n91-hidden-vialist\.conf/);
  });

  it('jump host keys are verified: an unknown key on the second hop refuses the connection', async () => {
    const partial = path.join(lab.dir, 'partial_known_hosts');
    fs.writeFileSync(partial, `${lab.hosts[0]!.address} ${hostKey['host1']}\n${a.h3} ${hostKey['host3']}\n`);
    const f = writeInventory('jump-badkey.yml', {
      all: {
        hosts: {
          hidden: {
            ansible_host: a.h3,
            ansible_user: 'root',
            ansible_ssh_private_key_file: lab.keyFile,
            runbook_known_hosts: partial,
            runbook_jump_hosts: [`root@${lab.hosts[0]!.address}`, `root@${a.h2j}`],
          },
        },
      },
    });
    const r = await cliAsync(['apply', SU, '-i', f, '--format', 'plain']);
    expect(r.code).toBe(4);
    expect(r.stdout + r.stderr).toMatch(new RegExp(`hidden.*jump:root@${a.h2j.replace(/\./g, '\\.')}.*host key unknown`, 's'));
  });
});

describe('become: sudo with a password, su', () => {
  beforeAll(async () => {
    const home = path.join(base, 'home');
    fs.mkdirSync(home, { recursive: true, mode: 0o755 });
    const add = await runProc(['useradd', '-M', '-d', home, '-s', '/bin/sh', user], { timeoutMs: 20_000 });
    expect(add.code, add.stderr).toBe(0);
    const pw = await runProc(['chpasswd'], { input: `${user}:${password}\n`, timeoutMs: 20_000 });
    expect(pw.code, pw.stderr).toBe(0);
    // always ask (no cached credentials), so the password protocol is exercised on every sudo
    fs.writeFileSync(sudoersFile, `Defaults:${user} timestamp_timeout=0\n${user} ALL=(ALL:ALL) ALL\n`, { mode: 0o440 });
    const v = await runProc(['visudo', '-c', '-f', sudoersFile], { timeoutMs: 10_000 });
    expect(v.code, v.stdout + v.stderr).toBe(0);
    // sshd reads authorized_keys as the logging-in user: the lab's (root-only) file must be readable to it
    fs.chmodSync(path.join(lab.dir, 'authorized_keys'), 0o644);
    fs.mkdirSync(path.join(base, 'become'), { recursive: true, mode: 0o777 });
    fs.chmodSync(path.join(base, 'become'), 0o777);
  }, 60_000);

  const hostVars = (extra: Record<string, unknown> = {}) => ({
    ansible_host: lab.hosts[1]!.address,
    ansible_user: user,
    ansible_ssh_private_key_file: lab.keyFile,
    runbook_known_hosts: kh,
    login_user: user,
    become_dir: path.join(base, 'become'),
    ...extra,
  });

  it('sudo with ansible_become_password: play/task become and become_user work; the password is in no output', async () => {
    const f = writeInventory('become-inventory.yml', { all: { hosts: { h2sudo: hostVars({ ansible_become_password: password }) } } });
    const report = path.join(lab.dir, 'become-report.json');
    const outs: string[] = [];
    for (const format of ['json', 'plain']) {
      const r = await cliAsync(['apply', BECOME, '-i', f, '--format', format, '--diff', '--report', report]);
      recapOk(r);
      outs.push(r.stdout + r.stderr, fs.readFileSync(report, 'utf8'));
    }
    const st = fs.statSync(path.join(base, 'become', 'h2sudo-root.txt'));
    expect(st.uid).toBe(0);
    expect((st.mode & 0o777).toString(8)).toBe('600');
    for (const o of outs) {
      expect(o.length).toBeGreaterThan(0);
      expect(o).not.toContain(password);
      expect(o).not.toContain('s3cr3t');
    }
    // nor in the host's sshd log
    expect(sshdLog('host2')).not.toContain('s3cr3t');
  });

  it('a wrong password fails the task without hanging and without showing either password', async () => {
    const f = writeInventory('become-wrong.yml', { all: { hosts: { h2wrong: hostVars({ ansible_become_password: 'wrong-Pa55word' }) } } });
    const t0 = Date.now();
    const r = await cliAsync(['apply', BECOME, '-i', f, '--format', 'json'], { timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(r.stdout + r.stderr).not.toContain('wrong-Pa55word');
    expect(r.stdout + r.stderr).toMatch(/sudo/);
  });

  it('-K / --ask-become-pass reads the password from stdin, never echoes it', async () => {
    const f = writeInventory('become-ask.yml', { all: { hosts: { h2ask: hostVars() } } });
    const r = await new Promise<CliResult>((resolve) => {
      const p = spawn(process.execPath, [BIN, 'apply', BECOME, '-i', f, '--format', 'plain', '-K'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', CI: 'true' } });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
      p.on('close', (code) => {
        clearTimeout(t);
        resolve({ code: code ?? -1, stdout, stderr });
      });
      p.stdin.end(password + '\n');
    });
    recapOk(r);
    expect(r.stdout + r.stderr).not.toContain('s3cr3t');
    expect(fs.statSync(path.join(base, 'become', 'h2ask-root.txt')).uid).toBe(0);
  });

  it('pct with a non-root login: sudo on the Proxmox host (runbook_pct_become_password), root in the container', async () => {
    const f = writeInventory('pct-sudo.yml', {
      all: {
        hosts: { ctsudo: { proxmox_vmid: 101 } },
        vars: {
          ansible_connection: 'pct',
          ansible_host: lab.hosts[0]!.address,
          ansible_user: user,
          ansible_ssh_private_key_file: lab.keyFile,
          runbook_known_hosts: kh,
          runbook_pct_become_password: password,
        },
      },
    });
    fs.writeFileSync(pct.logFile, '');
    const r = await cliAsync(['apply', SU, '-i', f, '--format', 'json']);
    recapOk(r);
    expect(fs.readFileSync(pct.logFile, 'utf8')).toMatch(/^101 0$/m); // pct ran as root, through sudo
    expect(r.stdout + r.stderr).not.toContain('s3cr3t');
    // without the password, sudo -n refuses and the container is unreachable with sudo's reason
    const g = writeInventory('pct-nosudo.yml', {
      all: { hosts: { ctnosudo: { proxmox_vmid: 101, ansible_connection: 'pct', ansible_host: lab.hosts[0]!.address, ansible_user: user, ansible_ssh_private_key_file: lab.keyFile, runbook_known_hosts: kh } } },
    });
    const n = await cliAsync(['apply', SU, '-i', g, '--format', 'plain']);
    expect(n.code).toBe(4);
    expect(n.stdout + n.stderr).toMatch(/ctnosudo.*container 101.*password/s);
  });
});

describe('Happy Eyeballs on a dual-stack name', () => {
  const hostsFile = () => {
    const f = path.join(lab.dir, 'reach_hosts');
    fs.writeFileSync(
      f,
      [
        `# A first, as a resolver might return it: the connection must still try IPv6 first`,
        `${a.deadV4} ds.reach.test`,
        `${a.v6} ds.reach.test`,
        `${a.deadV6} dsv4.reach.test`,
        `${lab.hosts[1]!.address} dsv4.reach.test`,
        `${a.deadV4} dead.reach.test`,
        '',
      ].join('\n'),
    );
    return f;
  };
  const spec = (name: string, timeout = 10) =>
    connectionSpecFor('ds', { ansible_host: name, ansible_user: 'root', ansible_ssh_private_key_file: lab.keyFile, runbook_known_hosts: kh, ansible_timeout: timeout });

  it('the dead IPv4 address really is dead (blackholed: it would cost the whole timeout)', async () => {
    process.env['RUNBOOK_HOSTS_FILE'] = hostsFile();
    try {
      const c = new SshConnection(spec('dead.reach.test', 2));
      const t0 = Date.now();
      await expect(c.open()).rejects.toThrow(/unreachable|timed out|EHOSTUNREACH|connect/i);
      expect(Date.now() - t0).toBeGreaterThan(1500);
    } finally {
      delete process.env['RUNBOOK_HOSTS_FILE'];
    }
  });

  it('AAAA + dead A: connects over IPv6 at once', async () => {
    process.env['RUNBOOK_HOSTS_FILE'] = hostsFile();
    try {
      const c = new SshConnection(spec('ds.reach.test'));
      const t0 = Date.now();
      await c.open();
      const ms = Date.now() - t0;
      try {
        expect(c.connectedAddress).toBe(a.v6);
        expect(ms).toBeLessThan(1500);
        expect((await c.run('hostname -I 2>/dev/null; ip -o addr show eth0')).stdout).toContain(a.v6);
      } finally {
        await c.close();
      }
      expect(sshdLog('host2', 'sshd-extra.log')).toContain(`Accepted publickey for root from ${a.v6root} `);
    } finally {
      delete process.env['RUNBOOK_HOSTS_FILE'];
    }
  });

  it('dead AAAA + working A: IPv6 is tried first, IPv4 250 ms later wins', async () => {
    process.env['RUNBOOK_HOSTS_FILE'] = hostsFile();
    try {
      const c = new SshConnection(spec('dsv4.reach.test'));
      const t0 = Date.now();
      await c.open();
      const ms = Date.now() - t0;
      await c.close();
      expect(c.connectedAddress).toBe(lab.hosts[1]!.address);
      expect(ms).toBeGreaterThanOrEqual(240);
      expect(ms).toBeLessThan(2000);
    } finally {
      delete process.env['RUNBOOK_HOSTS_FILE'];
    }
  });

  it('through the CLI: a play on the dual-stack name runs over IPv6', async () => {
    const f = writeInventory('ds-inventory.yml', {
      all: { hosts: { dualstack: { ansible_host: 'ds.reach.test', ansible_user: 'root', ansible_ssh_private_key_file: lab.keyFile, runbook_known_hosts: kh } } },
    });
    const v6logins = () => (sshdLog('host2', 'sshd-extra.log').match(new RegExp(`Accepted publickey for root from ${a.v6root} `, 'g')) ?? []).length;
    const before = v6logins();
    const t0 = Date.now();
    const r = await cliAsync(['apply', SU, '-i', f, '--format', 'json'], { env: { RUNBOOK_HOSTS_FILE: hostsFile() } });
    recapOk(r);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(v6logins()).toBe(before + 1);
  });
});

describe('inventory as one directory per host (NixOS style)', () => {
  it('hosts/NAME/vars.yml and hosts/NAME.yml with roles: make groups; a play on a derived group reaches the containers', async () => {
    const dir = path.join(lab.dir, 'per-host-inv');
    fs.mkdirSync(path.join(dir, 'hosts', 'ct100'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'group_vars'), { recursive: true });
    fs.cpSync(path.join(ROOT, 'test/fixtures/reach/per-host'), dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'group_vars', 'proxmox_lxc.yml'),
      YAML.stringify({
        ansible_connection: 'community.proxmox.proxmox_pct_remote',
        ansible_host: lab.hosts[0]!.address,
        ansible_user: 'root',
        ansible_ssh_private_key_file: lab.keyFile,
        runbook_known_hosts: kh,
      }),
    );
    const list = await cliAsync(['inventory', '-i', dir, '--list']);
    expect(list.code, list.stderr).toBe(0);
    const groups = JSON.parse(list.stdout);
    expect(groups.podman_host.hosts.sort()).toEqual(['ct100', 'ct101']);
    expect(groups.proxmox_lxc.hosts.sort()).toEqual(['ct100', 'ct101']);
    expect(groups.other.hosts).toEqual(['ct100-twin']);
    const r = await cliAsync(['apply', SYSCTL, '-i', dir, '--format', 'json', '-l', 'podman_host', '-e', 'sysctl_file=/etc/sysctl.d/92-perhost.conf']);
    recapOk(r);
    const hosts = events(r.stdout).find((e) => e.event === 'run:end')!.recap.map((x: { host: string }) => x.host).sort();
    expect(hosts).toEqual(['ct100', 'ct101']);
    for (const c of pct.containers) expect(fs.readFileSync(path.join(c.sysctlDir, '92-perhost.conf'), 'utf8')).toMatch(/ip_forward = 1/);
  });
});
