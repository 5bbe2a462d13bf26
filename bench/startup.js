#!/usr/bin/env node
// Start-up phase of the bench (issue 16): in one run, on one lab host,
//   - `runbook --version` wall time (and `node -e 0`, the floor any Node CLI pays, and `ansible --version` if installed)
//   - time to the first SSH packet: from runbook's execve to its first connect() to the host's port 22, read from
//     `strace -f -ttt -e trace=execve,connect` (the SYN leaves with that connect), for `runbook apply` of a
//     one-task playbook and for the same play with ansible-playbook when installed.
//   - runbook both ways: the bundle (dist/runbook.mjs, `npm run build`) and dist/lib (RUNBOOK_NO_BUNDLE=1), runs
//     interleaved so both see the same machine load.
//
//   node bench/startup.js [--runs 7] [--keep-lab]
//
// Needs root (the lab), strace, a built dist/ (npm run build). Medians over --runs, min alongside.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const RUNBOOK = path.join(ROOT, 'bin', 'runbook.js');
const argv = process.argv.slice(2);
const RUNS = Number(argv.includes('--runs') ? argv[argv.indexOf('--runs') + 1] : 7);
const KEEP = argv.includes('--keep-lab');

if (process.getuid?.() !== 0) {
  console.error('bench/startup: needs root (the lab)');
  process.exit(1);
}
if (!existsSync(path.join(ROOT, 'dist', 'lib', 'lab', 'lab.js'))) {
  console.error('bench/startup: dist/ is missing; run `npm run build` first');
  process.exit(1);
}
const BUNDLED = existsSync(path.join(ROOT, 'dist', 'runbook.mjs'));
if (!BUNDLED) console.error('bench/startup: dist/runbook.mjs is missing (npm run build makes it): the bundle column will be dist/lib too');
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
if (!have('strace')) {
  console.error('bench/startup: needs strace (apt-get install strace)');
  process.exit(1);
}

const ms = (ns) => Number(ns) / 1e6;
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], n: s.length };
};
const fmt = (st) => (st ? `median ${st.median.toFixed(0)} ms, min ${st.min.toFixed(0)} ms (${st.n} runs)` : 'not run');

function wall(cmd, args) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const dt = ms(process.hrtime.bigint() - t);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return dt;
}

/** ms from the first execve of the traced command to its first connect() to addr:22 */
function firstPacket(cmd, args, addr, env = {}) {
  const out = path.join(tmp, `strace.${process.hrtime.bigint()}`);
  const r = spawnSync('strace', ['-f', '-ttt', '-qq', '-e', 'trace=execve,connect', '-o', out, cmd, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', CI: 'true', ...env },
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
  const lines = spawnSync('cat', [out], { encoding: 'utf8' }).stdout.split('\n');
  rmSync(out, { force: true });
  let start;
  for (const l of lines) {
    const m = /^\d+\s+(\d+\.\d+)\s+(\w+)\((.*)$/.exec(l);
    if (!m) continue;
    const t = Number(m[1]) * 1000;
    if (start === undefined && m[2] === 'execve') start = t;
    if (m[2] === 'connect' && m[3].includes('htons(22)') && m[3].includes(`"${addr}"`)) return t - start;
  }
  throw new Error(`no connect() to ${addr}:22 in the trace of ${cmd}`);
}

const { Lab } = await import(path.join(ROOT, 'dist', 'lib', 'lab', 'lab.js'));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'rbstartup-'));
const lab = await Lab.create({ name: 'rbstart', hosts: 1, shell: '/bin/sh' });
try {
  const host = lab.hosts[0];
  const inv = path.join(tmp, 'inventory.yml');
  writeFileSync(inv, lab.inventoryYaml());
  const pb = path.join(tmp, 'ping.yml');
  writeFileSync(pb, '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: "true"\n');

  const nodeFloor = [];
  const version = [];
  const ansVersion = [];
  const rbPacket = [];
  const libPacket = [];
  const ansPacket = [];
  const withAnsible = have('ansible') && have('ansible-playbook');
  let cfg;
  if (withAnsible) {
    cfg = path.join(tmp, 'ansible.cfg');
    writeFileSync(cfg, `[defaults]\nforks = 10\ngathering = explicit\n[ssh_connection]\npipelining = True\nssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${lab.knownHostsFile} -o StrictHostKeyChecking=yes\n`);
  }
  const load0 = os.loadavg();
  for (let i = 0; i < RUNS; i++) {
    nodeFloor.push(wall(process.execPath, ['-e', '0']));
    version.push(wall(process.execPath, [RUNBOOK, '--version']));
    const apply = [RUNBOOK, 'apply', pb, '-i', inv, '--format', 'plain'];
    rbPacket.push(firstPacket(process.execPath, apply, host.address));
    libPacket.push(firstPacket(process.execPath, apply, host.address, { RUNBOOK_NO_BUNDLE: '1' }));
    if (withAnsible) {
      ansVersion.push(wall('ansible', ['--version']));
      ansPacket.push(firstPacket('ansible-playbook', ['-i', inv, pb], host.address, { ANSIBLE_CONFIG: cfg }));
    }
  }
  const load = [load0, os.loadavg()].map((l) => l.map((x) => x.toFixed(1)).join(' ')).join(' at the start, ');
  console.log(`## Start-up (${new Date().toISOString().slice(0, 16)}Z, node ${process.version}, ${os.cpus().length} CPUs, load average ${load} at the end)`);
  console.log('');
  console.log('| measure | runbook | ansible |');
  console.log('|---|---|---|');
  console.log(`| \`--version\` wall | ${fmt(stats(version))} | ${withAnsible ? fmt(stats(ansVersion)) : 'not installed'} |`);
  console.log(`| time to first SSH packet (execve to connect() to :22), bundle (dist/runbook.mjs) | ${fmt(stats(rbPacket))} | ${withAnsible ? fmt(stats(ansPacket)) : 'not installed'} |`);
  console.log(`| time to first SSH packet, dist/lib (RUNBOOK_NO_BUNDLE=1) | ${fmt(stats(libPacket))} | |`);
  console.log(`| \`node -e 0\` (the floor of any Node CLI) | ${fmt(stats(nodeFloor))} | |`);
} finally {
  if (!KEEP) await lab.destroy();
  rmSync(tmp, { recursive: true, force: true });
}
