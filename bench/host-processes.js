#!/usr/bin/env node
// What the lab hosts spend their CPU on during runbook's runs of the bench workload, by command name.
//
//   node bench/host-processes.js [--hosts 10] [--phases cold,warm,check]
//
// Builds a lab (podman, root shell /bin/sh, as bench/run.js does), resets the hosts, and runs each phase under
// `perf record -a` (cpu-clock samples of the whole machine) with process accounting on (`accton`: every process's
// pid and parent). The samples of each lab sshd's process tree (its sessions, shells and commands) are summed by
// command name, with the number of such processes: a forked shell that never execs counts as `sh`. Needs root, perf
// (Debian's linux-perf) and acct; installs both with apt-get when missing. Not part of `npm run bench`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const N = Number(opt('--hosts', '10'));
const PHASES = opt('--phases', 'cold,warm,check').split(',');
const HZ = 499;
const SYSCTLS = ['net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding', 'net.core.somaxconn', 'net.ipv4.conf.all.rp_filter'];

for (const [cmd, pkg] of [['perf', 'linux-perf'], ['accton', 'acct']]) {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) {
    const r = spawnSync('apt-get', ['install', '-y', pkg], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) throw new Error(`host-processes: needs ${cmd} (apt-get install ${pkg} failed)`);
  }
}

const { Lab } = await import(path.join(ROOT, 'dist/lib/lab/lab.js'));
const work = mkdtempSync(path.join(os.tmpdir(), 'rbhostproc-'));
const lab = await Lab.create({ name: 'rbhostproc', hosts: N, podman: true, shell: '/bin/sh' });
try {
  const hosts = lab.hosts.slice(0, N);
  const inv = path.join(work, 'inventory.yml');
  const lines = ['all:', '  children:', '    lab:', '      hosts:'];
  for (const h of hosts) {
    lines.push(`        ${h.name}:`, `          ansible_host: ${h.address}`, `          ansible_port: ${h.port}`, '          ansible_user: root', `          ansible_ssh_private_key_file: ${lab.keyFile}`);
  }
  lines.push('      vars:', `        runbook_known_hosts: ${lab.knownHostsFile}`);
  writeFileSync(inv, lines.join('\n') + '\n');
  const masters = new Set(hosts.map((h) => readFileSync(path.join(lab.dir, 'hosts', h.name, 'sshd.pid'), 'utf8').trim()));
  const first = await lab.exec(hosts[0].name, ['/bin/sh', '-c', SYSCTLS.map((k) => `sysctl -n ${k}`).join('; ')]);
  const defaults = first.stdout.trim().split('\n').map((v) => v.trim());
  const reset = () =>
    Promise.all(
      hosts.map((h) =>
        lab.exec(h.name, ['/bin/sh', '-c', `rm -rf /tmp/rbbench/${h.name} /etc/sysctl.d/90-rbbench.conf; ${SYSCTLS.map((k, i) => `sysctl -q -w ${k}=${defaults[i]}`).join('; ')}; podman network rm -f rbbench >/dev/null 2>&1; true`]),
      ),
    );

  const acct = path.join(work, 'acct');
  const data = path.join(work, 'perf.data');
  for (const phase of PHASES) {
    if (phase === 'cold') await reset();
    writeFileSync(acct, '');
    spawnSync('accton', [acct]);
    const rb = [path.join(ROOT, 'bin/runbook.js'), 'apply', '-i', inv, path.join(ROOT, 'bench/workload/site.yml'), '--format', 'plain', '-f', String(N), ...(phase === 'check' ? ['--check'] : [])];
    const run = spawnSync('perf', ['record', '-q', '-a', '-F', String(HZ), '-e', 'cpu-clock', '-o', data, '--', process.execPath, ...rb], { encoding: 'utf8', maxBuffer: 1e9 });
    spawnSync('accton', ['off']);
    if (run.status !== 0) throw new Error(`runbook ${phase} failed (exit ${run.status}):\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`);
    // dump-acct: comm | version | utime | stime | etime | uid | gid | mem | io | pid | ppid | ...
    const recs = spawnSync('dump-acct', [acct], { encoding: 'utf8', maxBuffer: 1e9 })
      .stdout.split('\n')
      .filter(Boolean)
      .map((l) => l.split('|').map((f) => f.trim()))
      .map((f) => ({ comm: f[0], pid: f[9], ppid: f[10] }));
    const parent = new Map(recs.map((r) => [r.pid, r.ppid]));
    const inTree = (pid) => {
      for (let i = 0, p = pid; i < 64 && p; i++, p = parent.get(p)) if (masters.has(p)) return true;
      return false;
    };
    const procs = new Map();
    for (const r of recs) if (inTree(r.pid)) procs.set(r.comm, (procs.get(r.comm) ?? 0) + 1);
    const samples = new Map();
    let all = 0;
    let mine = 0;
    const script = spawnSync('perf', ['script', '-i', data, '-F', 'comm,pid'], { encoding: 'utf8', maxBuffer: 4e9 }).stdout;
    for (const l of script.split('\n')) {
      const m = /^(.*\S)\s+(\d+)$/.exec(l.trim());
      if (!m) continue;
      all++;
      if (!inTree(m[2])) continue;
      mine++;
      samples.set(m[1], (samples.get(m[1]) ?? 0) + 1);
    }
    const ms = (n) => Math.round((n * 1000) / HZ);
    const nprocs = [...procs.values()].reduce((a, b) => a + b, 0);
    process.stdout.write(`\n## ${phase}: ${N} hosts' CPU ${ms(mine)} ms (${ms(mine / N)} ms per host) of ${ms(all)} ms sampled on the machine; ${nprocs} processes (${(nprocs / N).toFixed(1)} per host)\n\n`);
    process.stdout.write('| command | CPU (ms) | per host (ms) | processes per host |\n|---|---|---|---|\n');
    for (const [c, n] of [...samples].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
      process.stdout.write(`| ${c} | ${ms(n)} | ${ms(n / N)} | ${((procs.get(c) ?? 0) / N).toFixed(1)} |\n`);
    }
  }
} finally {
  await lab.destroy();
  rmSync(work, { recursive: true, force: true });
}
