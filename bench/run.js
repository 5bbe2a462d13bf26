#!/usr/bin/env node
// runbook vs ansible-playbook on the same lab hosts, same playbook (bench/workload/site.yml). See bench/README.md.
//
//   npm run bench -- [--hosts N] [--no-ansible] [--scale-table 10,50,200 | --no-scale] [--scale-forks 50] [--keep-lab]
//   npm run bench -- --scale 10,50,200      # only the scaling table
//
// One default run prints the comparison with Ansible at --hosts N, then the scaling table (runbook alone at each
// --scale-table count: CPU per host-task, peak RSS, host idle), both in stdout and in result.md.
//
// Needs root (the lab), a built dist/ (npx tsc -p tsconfig.json), podman; installs Debian's ansible if missing.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync, rmdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const PLAYBOOK = path.join(HERE, 'workload', 'site.yml');
const RUNBOOK = path.join(ROOT, 'bin', 'runbook.js');
const STEPS_PER_HOST = 27; // loop items + single tasks in site.yml
const SYSCTLS = ['net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding', 'net.core.somaxconn', 'net.ipv4.conf.all.rp_filter'];

// ---- arguments ----
const argv = process.argv.slice(2);
// the last one wins: `npm run bench -- --hosts 5` comes after the script's own --hosts 10
function opt(name, dflt) {
  const i = argv.lastIndexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
}
const N = Number(opt('--hosts', '10'));
const WITH_ANSIBLE = !argv.includes('--no-ansible');
const KEEP = argv.includes('--keep-lab');
// --scale 10,50,200: only the scaling table (runbook alone; several labs of at most 60 hosts, no podman, so the
// workload without its podman task), forks --scale-forks (default 50)
const SCALE = (opt('--scale', '') ?? '').split(',').filter(Boolean).map(Number);
// --scale-table 10,50,200: the same table, printed after the Ansible comparison of a default run ('' or --no-scale:
// none)
const SCALE_TABLE = argv.includes('--no-scale') ? [] : (opt('--scale-table', '10,50,200') ?? '').split(',').filter(Boolean).map(Number);
const SCALE_FORKS = Number(opt('--scale-forks', '50'));
const FORKS = 10;
if (!Number.isInteger(N) || N < 1 || N > 60) throw new Error('--hosts must be 1..60');
if (SCALE.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--scale takes host counts, e.g. 10,50,200');
if (SCALE_TABLE.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--scale-table takes host counts, e.g. 10,50,200');
// the old in-run scaling loop (one podman lab, forks 10) is replaced by the --scale-table part
for (const gone of ['--scaling', '--ansible-scaling']) {
  if (argv.includes(gone)) throw new Error(`${gone} was removed: a default run prints the scaling table (--scale-table 10,50,200); Ansible runs at --hosts N`);
}

if (process.getuid?.() !== 0) {
  console.error('bench: needs root (network namespaces, sshd)');
  process.exit(1);
}
if (!existsSync(path.join(ROOT, 'dist', 'lib', 'lab', 'lab.js'))) {
  console.error('bench: dist/ is missing; run `npx tsc -p tsconfig.json` first');
  process.exit(1);
}
const { Lab } = await import('../dist/lib/lab/lab.js');

// ---- ansible ----
function ensureAnsible() {
  if (spawnSync('sh', ['-c', 'command -v ansible-playbook']).status === 0) return;
  console.error('bench: installing Debian\'s ansible package (apt-get install -y ansible) ...');
  let r = spawnSync('apt-get', ['install', '-y', '-q', 'ansible'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit' });
    r = spawnSync('apt-get', ['install', '-y', '-q', 'ansible'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  if (r.status !== 0) throw new Error('could not install ansible');
}
function ansibleVersion() {
  const r = spawnSync('ansible-playbook', ['--version'], { encoding: 'utf8' });
  return (r.stdout.split('\n')[0] ?? '').trim();
}

// ---- measuring: wall (hrtime), CPU of the process tree (cgroup v1 cpuacct when available, else rusage of waited
// children via /usr/bin/time), peak RSS (/usr/bin/time %M: the largest process of the tree) ----
const CPUACCT = '/sys/fs/cgroup/cpuacct';
const haveCgroup = existsSync(path.join(CPUACCT, 'cpuacct.usage')) && (() => {
  try {
    const d = path.join(CPUACCT, `rbbench-probe-${process.pid}`);
    mkdirSync(d);
    rmdirSync(d);
    return true;
  } catch {
    return false;
  }
})();
const haveTime = existsSync('/usr/bin/time');
let runSeq = 0;

/** Runs argv to completion; returns { wall, cpu (s), rusageCpu, rssMb, code, stdout, stderr }. */
async function measure(cmd, args, env = {}) {
  const tmp = path.join(WORK, `m${++runSeq}`);
  const cg = haveCgroup ? path.join(CPUACCT, `rbbench-${process.pid}-${runSeq}`) : undefined;
  if (cg) mkdirSync(cg);
  const timeOut = tmp + '.time';
  const inner = haveTime ? ['/usr/bin/time', '-f', '%U %S %M', '-o', timeOut, cmd, ...args] : [cmd, ...args];
  const wrapped = cg ? ['/bin/sh', '-c', `echo $$ > ${cg}/cgroup.procs && exec "$@"`, 'sh', ...inner] : inner;
  const t0 = process.hrtime.bigint();
  const res = await new Promise((resolve, reject) => {
    const p = spawn(wrapped[0], wrapped.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    p.stdout.on('data', (c) => out.push(c));
    p.stderr.on('data', (c) => err.push(c));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  let cpu;
  let rusageCpu;
  let rssMb;
  if (haveTime && existsSync(timeOut)) {
    const [u, s, m] = readFileSync(timeOut, 'utf8').trim().split('\n').pop().split(/\s+/).map(Number);
    rusageCpu = u + s;
    rssMb = m / 1024;
  }
  if (cg) {
    // whatever the tool left running (ssh ControlPersist masters) ends with the run: its CPU is the run's
    for (let i = 0; i < 50; i++) {
      const pids = readFileSync(path.join(cg, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
      if (!pids.length) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    cpu = Number(readFileSync(path.join(cg, 'cpuacct.usage'), 'utf8')) / 1e9;
    try {
      rmdirSync(cg);
    } catch {
      /* a straggler: leave the empty-ish cgroup */
    }
  } else cpu = rusageCpu;
  return { ...res, wall, cpu, rusageCpu, rssMb };
}

// ---- lab helpers ----
async function mapLimit(items, n, fn) {
  const out = new Array(items.length);
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (i < items.length) {
        const k = i++;
        out[k] = await fn(items[k], k);
      }
    }),
  );
  return out;
}

async function sh(lab, host, script) {
  const r = await lab.exec(host, ['/bin/sh', '-c', script]);
  if (r.code !== 0) throw new Error(`${host}: ${script.slice(0, 80)}...: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function inventory(lab, hosts) {
  const lines = ['all:', '  children:', '    lab:', '      hosts:'];
  for (const h of hosts) {
    lines.push(`        ${h.name}:`, `          ansible_host: ${h.address}`, `          ansible_port: ${h.port}`, '          ansible_user: root', `          ansible_ssh_private_key_file: ${lab.keyFile}`);
  }
  lines.push('      vars:', `        runbook_known_hosts: ${lab.knownHostsFile}`);
  const f = path.join(WORK, `inventory-${hosts.length}.yml`);
  writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

let defaults; // sysctl values of a fresh lab host
async function reset(lab, hosts) {
  const restore = SYSCTLS.map((k) => `sysctl -q -w ${k}=${defaults[k]}`).join('; ');
  await mapLimit(hosts, 8, (h) =>
    sh(lab, h.name, `rm -rf /tmp/rbbench/${h.name} /etc/sysctl.d/90-rbbench.conf; ${restore}; podman network rm -f rbbench >/dev/null 2>&1; true`),
  );
}

/** Changes three things per host: an edited file, a missing command output, a drifted sysctl -> 3 changed tasks. */
async function drift(lab, hosts) {
  await mapLimit(hosts, 8, (h) =>
    sh(lab, h.name, `echo drifted >> /tmp/rbbench/${h.name}/etc/alpha.conf; rm -f /tmp/rbbench/${h.name}/data/web.built; sysctl -q -w net.core.somaxconn=4096`),
  );
}

/** Everything the workload touches on a host, as text (paths relative to the host's own base). */
async function stateText(lab, h) {
  const base = `/tmp/rbbench/${h.name}`;
  return sh(
    lab,
    h.name,
    [
      `cd ${base} || exit 1`,
      `find . -printf '%p %y %m %u %g %l\\n' | sort`,
      `find . -type f -exec sha256sum {} + | sort -k2`,
      `echo '--- sysctl.d (spaces around = ignored: runbook writes "k = v", Ansible "k=v")'; sed 's/[[:space:]]*=[[:space:]]*/=/' /etc/sysctl.d/90-rbbench.conf`,
      `echo '--- live'; for k in ${SYSCTLS.join(' ')}; do printf '%s=%s\\n' "$k" "$(sysctl -n "$k")"; done`,
      `echo '--- podman'; podman network inspect rbbench --format '{{.Name}} {{.Driver}} {{range .Subnets}}{{.Subnet}} {{.Gateway}} {{end}}ipv6={{.IPv6Enabled}} internal={{.Internal}}'`,
    ].join('\n'),
  );
}
async function stateHashes(lab, hosts) {
  const texts = await mapLimit(hosts, 8, (h) => stateText(lab, h));
  return texts.map((t, i) => ({ host: hosts[i].name, text: t.replaceAll(hosts[i].name, 'HOST'), hash: createHash('sha256').update(t.replaceAll(hosts[i].name, 'HOST')).digest('hex').slice(0, 12) }));
}

// ---- the tools ----
function runbookArgs(inv, extra = []) {
  return [RUNBOOK, 'apply', '-i', inv, PLAYBOOK, '--format', 'plain', '-f', String(FORKS), ...extra];
}
async function runRunbook(inv, check, label, forks = FORKS) {
  const report = path.join(WORK, `report-${++runSeq}.json`);
  const args = runbookArgs(inv, ['--report', report, ...(check ? ['--check'] : [])]);
  args[args.indexOf('-f') + 1] = String(forks);
  const m = await measure(process.execPath, args);
  if (!existsSync(report)) throw new Error(`runbook ${label}: no report (exit ${m.code}):\n${m.stdout.slice(-2000)}\n${m.stderr}`);
  const rep = JSON.parse(readFileSync(report, 'utf8'));
  const changed = Object.fromEntries(rep.recap.map((r) => [r.host, r.changed]));
  const failed = rep.recap.reduce((a, r) => a + r.failed + r.unreachable, 0);
  const commands = rep.recap.map((r) => r.commands ?? NaN);
  return { ...m, changed, failed, commands, label };
}

function ansibleSetup() {
  const dir = path.join(WORK, 'ansible');
  mkdirSync(path.join(dir, 'cp'), { recursive: true });
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  return dir;
}
function ansibleCfg(dir, lab) {
  const cfg = path.join(dir, 'ansible.cfg');
  writeFileSync(
    cfg,
    [
      '[defaults]',
      'forks = 10',
      'gathering = explicit',
      'host_key_checking = True',
      'interpreter_python = /usr/bin/python3',
      'retry_files_enabled = False',
      `local_tmp = ${dir}/tmp`,
      '',
      '[ssh_connection]',
      'pipelining = True',
      `control_path_dir = ${dir}/cp`,
      `ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${lab.knownHostsFile} -o StrictHostKeyChecking=yes -o BatchMode=yes`,
      '',
    ].join('\n'),
  );
  return cfg;
}
async function runAnsible(cfg, inv, check, label) {
  const m = await measure('ansible-playbook', ['-i', inv, PLAYBOOK, ...(check ? ['--check'] : [])], { ANSIBLE_CONFIG: cfg, ANSIBLE_NOCOLOR: '1', ANSIBLE_FORCE_COLOR: '0' });
  const changed = {};
  let failed = 0;
  for (const line of m.stdout.split('\n')) {
    const x = /^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/.exec(line);
    if (x) {
      changed[x[1]] = Number(x[2]);
      failed += Number(x[3]) + Number(x[4]);
    }
  }
  if (!Object.keys(changed).length) throw new Error(`ansible ${label}: no PLAY RECAP (exit ${m.code}):\n${m.stdout.slice(-3000)}\n${m.stderr.slice(-2000)}`);
  return { ...m, changed, failed, label };
}

async function floor(lab, hosts, commands) {
  const spec = path.join(WORK, `floor-${++runSeq}.json`);
  writeFileSync(spec, JSON.stringify({ hosts: hosts.map((h) => ({ address: h.address, port: h.port })), user: 'root', keyFile: lab.keyFile, commands, forks: FORKS }));
  const m = await measure(process.execPath, [path.join(HERE, 'floor.js'), spec]);
  if (m.code !== 0) throw new Error(`floor failed: ${m.stderr}`);
  return m;
}

/** The four phases on freshly reset hosts. */
// The lab hosts' CPU: every remote command runs under a host's sshd (its session process, the shell, the commands,
// Ansible's Python modules), and the sshd master reaps each session when it ends, so the master's cutime + cstime
// (/proc/PID/stat fields 16-17, clock ticks) grows by exactly the CPU of the sessions that ended. Read before and
// after a run whose connections are all closed (Ansible's ControlPersist masters are killed at the end of each run).
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
function hostTicks(lab, hosts) {
  let t = 0;
  for (const h of hosts) {
    const pid = readFileSync(path.join(lab.dir, 'hosts', h.name, 'sshd.pid'), 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // after ')' the fields start at 3 (state): cutime is field 16, cstime 17
    t += Number(f[16 - 3]) + Number(f[17 - 3]);
  }
  return t;
}
async function withHostCpu(lab, hosts, run) {
  const before = hostTicks(lab, hosts);
  const r = await run();
  // the sessions' last processes end a moment after the client has gone: wait until the count stands still
  let after = hostTicks(lab, hosts);
  for (let i = 0; i < 20; i++) {
    await new Promise((res) => setTimeout(res, 150));
    const now = hostTicks(lab, hosts);
    if (now === after && i >= 1) break;
    after = now;
  }
  r.hostCpu = (after - before) / CLK_TCK;
  return r;
}

async function phases(lab, hosts, tool) {
  await reset(lab, hosts);
  const r = {};
  const run = (check, label) => withHostCpu(lab, hosts, () => tool(check, label));
  r.cold = await run(false, 'cold');
  r.state = await stateHashes(lab, hosts);
  r.warm = await run(false, 'warm');
  r.checkUnchanged = await run(true, 'check (unchanged)');
  await drift(lab, hosts);
  r.checkChanged = await run(true, 'check (changed)');
  return r;
}

// ---- output ----
const f2 = (x) => (x === undefined || Number.isNaN(x) ? '-' : x < 10 ? x.toFixed(2) : x.toFixed(1));
const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
function table(rows, head) {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => '| ' + r.map((c, i) => String(c).padEnd(w[i])).join(' | ') + ' |';
  return [line(head), '|' + w.map((x) => '-'.repeat(x + 2)).join('|') + '|', ...rows.map(line)].join('\n');
}

// ---- main ----
const WORK = mkdtempSync(path.join(os.tmpdir(), 'rbbench-'));
if (WITH_ANSIBLE) ensureAnsible();
const log = (s) => process.stderr.write(`bench: ${s}\n`);
if (SCALE.length) {
  await scaleMode(SCALE);
  process.exit(0);
}
log(`building a lab of ${N} hosts (podman, root shell /bin/sh) ...`);
const lab = await Lab.create({ name: 'rbbench', hosts: N, podman: true, shell: '/bin/sh' });
const out = [];
const print = (s = '') => {
  out.push(s);
  process.stdout.write(s + '\n');
};
try {
  const raw = await sh(lab, 'host1', SYSCTLS.map((k) => `sysctl -n ${k}`).join('; '));
  defaults = Object.fromEntries(raw.trim().split('\n').map((v, i) => [SYSCTLS[i], v.trim()]));
  const hosts = lab.hosts.slice(0, N);
  const inv = inventory(lab, hosts);

  // --version
  const ver = [];
  for (let i = 0; i < 5; i++) ver.push((await measure(process.execPath, [RUNBOOK, '--version'])).wall);
  ver.sort((a, b) => a - b);

  log(`runbook on ${N} hosts ...`);
  const rb = await phases(lab, hosts, (check, label) => runRunbook(inv, check, label));
  let an;
  if (WITH_ANSIBLE) {
    const adir = ansibleSetup();
    const cfg = ansibleCfg(adir, lab);
    log(`ansible-playbook on ${N} hosts ...`);
    an = await phases(lab, hosts, (check, label) => runAnsible(cfg, inv, check, label));
  }

  // validity: same end state per host and the same changed counts in every phase
  const problems = [];
  for (const ph of ['cold', 'warm', 'checkUnchanged', 'checkChanged']) {
    if (rb[ph].failed) problems.push(`runbook ${rb[ph].label}: ${rb[ph].failed} failed/unreachable`);
    if (an && an[ph].failed) problems.push(`ansible ${an[ph].label}: ${an[ph].failed} failed/unreachable`);
    if (an) {
      for (const h of hosts) {
        if (rb[ph].changed[h.name] !== an[ph].changed[h.name]) problems.push(`${rb[ph].label} ${h.name}: changed runbook=${rb[ph].changed[h.name]} ansible=${an[ph].changed[h.name]}`);
      }
    }
  }
  if (an) {
    for (const [i, s] of rb.state.entries()) {
      if (s.hash !== an.state[i].hash) {
        if (problems.length < 20) {
          const a = s.text.split('\n');
          const b = an.state[i].text.split('\n');
          const d = a.filter((l) => !b.includes(l)).map((l) => `  runbook: ${l}`).concat(b.filter((l) => !a.includes(l)).map((l) => `  ansible: ${l}`));
          problems.push(`${s.host}: end state differs (runbook ${s.hash}, ansible ${an.state[i].hash}):\n${d.join('\n')}`);
        }
      }
    }
  }

  // floors for the command counts runbook sent
  const floors = {};
  for (const ph of ['cold', 'warm']) floors[ph] = await floor(lab, hosts, rb[ph].commands);

  print(`## ${N} hosts, ${STEPS_PER_HOST} steps per host, forks ${FORKS} (${new Date().toISOString().slice(0, 16)}Z, ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? ''})`);
  print();
  print(`runbook ${JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version} (node ${process.version})${an ? `, ${ansibleVersion()} (pipelining, ControlPersist, forks 10, gathering explicit)` : ''}`);
  print(`CPU = ${haveCgroup ? 'cgroup cpuacct of the whole process tree (incl. ssh ControlPersist masters, killed at the end of each run)' : 'rusage of the tool and its waited-for children'}; wall includes process start.`);
  print();
  const rows = [];
  for (const ph of ['cold', 'warm', 'checkUnchanged', 'checkChanged']) {
    const r = rb[ph];
    const a = an?.[ph];
    rows.push([
      r.label,
      `${f2(r.wall)} s`,
      `${f2(r.cpu)} s`,
      a ? `${f2(a.wall)} s` : '-',
      a ? `${f2(a.cpu)} s` : '-',
      a ? `${(a.wall / r.wall).toFixed(1)}x` : '-',
      a ? `${(a.cpu / r.cpu).toFixed(1)}x` : '-',
      `${sum(r.changed)}${a ? ` / ${sum(a.changed)}` : ''}`,
      sum(Object.fromEntries(r.commands.map((c, i) => [i, c]))),
      `${f2(r.hostCpu)} s${a ? ` / ${f2(a.hostCpu)} s` : ''}`,
    ]);
  }
  for (const ph of ['cold', 'warm']) {
    const fl = floors[ph];
    rows.push([`floor (${ph} count)`, `${f2(fl.wall)} s`, `${f2(fl.cpu)} s`, '', '', '', '', '', rb[ph].commands.reduce((a, b) => a + b, 0), '']);
  }
  print(table(rows, ['phase', 'runbook wall', 'runbook CPU', 'ansible wall', 'ansible CPU', 'wall ratio', 'CPU ratio', 'changed (rb / ans)', 'rb commands', 'hosts\' CPU (rb / ans)']));
  print();
  // the lab hosts run on this machine's CPUs too: runbook's wall cannot be below (its CPU + its hosts' CPU) / CPUs
  const cores = os.cpus().length;
  print(`Hosts' CPU = the lab hosts' side of the run (sshd sessions, shells, commands, Ansible's Python), on this machine's ${cores} CPUs like the tools themselves. ` +
    `So runbook's wall cannot be below (its CPU + its hosts' CPU) / ${cores}:`);
  for (const ph of ['cold', 'warm', 'checkUnchanged', 'checkChanged']) {
    const r = rb[ph];
    const a = an?.[ph];
    const bound = (r.cpu + r.hostCpu) / cores;
    print(`- ${r.label}: CPU-bound wall ${f2(bound)} s (measured ${f2(r.wall)} s)${a ? `; the best wall ratio this machine allows is ${(a.wall / bound).toFixed(1)}x; hosts' CPU ratio ${(a.hostCpu / r.hostCpu).toFixed(1)}x` : ''}`);
  }
  print();
  for (const ph of ['cold', 'warm']) print(`runbook ${ph} / floor: wall ${(rb[ph].wall / floors[ph].wall).toFixed(2)}x, CPU ${(rb[ph].cpu / floors[ph].cpu).toFixed(2)}x`);
  print(`runbook --version: median ${(ver[2] * 1000).toFixed(0)} ms (5 runs, min ${(ver[0] * 1000).toFixed(0)} ms)`);
  print();
  if (an) {
    if (problems.length) {
      print(`**THIS RUN DOES NOT COUNT**: the tools disagree:`);
      for (const p of problems) print(`- ${p}`);
    } else print(`Valid: both tools left identical state on every host (hash per host: ${[...new Set(rb.state.map((s) => s.hash))].join(', ')}) and reported the same changed counts in every phase.`);
  } else if (problems.length) for (const p of problems) print(`- ${p}`);
  print();

  // commands per task (an untimed traced run on the unchanged hosts, then on reset hosts)
  const trace = async (label, env = {}) => {
    const f = path.join(WORK, `trace-${++runSeq}.json`);
    const r = spawnSync(process.execPath, ['--import', path.join(HERE, 'trace-commands.js'), ...runbookArgs(inv)], { env: { ...process.env, ...env, RBBENCH_TRACE: f }, encoding: 'utf8' });
    if (!existsSync(f)) throw new Error(`trace ${label} failed: ${r.stderr}`);
    return JSON.parse(readFileSync(f, 'utf8'));
  };
  // the same, item by item and without probes fetched ahead (RUNBOOK_BATCH=0 RUNBOOK_PIPELINE=0: a probe and an apply
  // command per loop item and task, as before both)
  await reset(lab, hosts);
  const tColdItems = await trace('cold, item by item', { RUNBOOK_BATCH: '0', RUNBOOK_PIPELINE: '0' });
  const tWarmItems = await trace('warm, item by item', { RUNBOOK_BATCH: '0', RUNBOOK_PIPELINE: '0' });
  await reset(lab, hosts);
  const tCold = await trace('cold');
  const tWarm = await trace('warm');
  const src = readFileSync(PLAYBOOK, 'utf8');
  const stepsOf = (title) => {
    const at = src.indexOf(`- name: ${title}`);
    const next = src.indexOf('- name:', at + 1);
    const block = src.slice(at, next < 0 ? undefined : next);
    const m = /loop: \[([^\]]*)\]/.exec(block);
    if (m) return m[1].split(',').length;
    if (/loop: "\{\{ services \}\}"/.test(block)) return 3;
    const ml = block.split('loop:\n')[1];
    return ml ? ml.split('\n').filter((l) => /^\s+- /.test(l)).length : 1;
  };
  const trow = Object.keys(tWarm).map((t) => {
    const steps = stepsOf(t);
    const mod = (/\n\s+((?:ansible|containers)\.[\w.]+):/.exec(src.slice(src.indexOf(`- name: ${t}`))) ?? [])[1] ?? '?';
    return [t, mod, steps, Math.max(...tColdItems[t]), Math.max(...tWarmItems[t]), Math.max(...tCold[t]), Math.max(...tWarm[t]), (Math.max(...tWarm[t]) / steps).toFixed(2)];
  });
  const tot = (tr) => Object.values(tr).reduce((a, v) => a + Math.max(...v), 0);
  print('Remote commands per task and host (max over hosts), runbook, item by item without probes ahead (RUNBOOK_BATCH=0 RUNBOOK_PIPELINE=0) and as it runs:');
  print();
  print(table(trow, ['task', 'module', 'steps', 'cold (per item)', 'unchanged (per item)', 'cold', 'unchanged', 'per step (unchanged)']));
  print();
  print(`commands per host: cold ${tot(tColdItems)} -> ${tot(tCold)}, unchanged ${tot(tWarmItems)} -> ${tot(tWarm)} (tasks only; the run lock adds 3)`);
  print();

  writeFileSync(path.join(WORK, 'result.md'), out.join('\n') + '\n');
  log(`result also in ${path.join(WORK, 'result.md')}`);
} finally {
  if (!KEEP) await lab.destroy();
  else log(`lab kept: ${lab.inventoryFile}`);
}

// the scaling table, on its own labs (built after the comparison's lab is gone), appended to the same output
if (SCALE_TABLE.length) {
  print();
  await scaleMode(SCALE_TABLE, print);
  writeFileSync(path.join(WORK, 'result.md'), out.join('\n') + '\n');
  log(`result (comparison and scaling) in ${path.join(WORK, 'result.md')}`);
}

// ---- --scale (alone) or --scale-table (after the comparison): runbook alone at growing host counts ----
/** Prints the table through emit (a line at a time; stdout by default) and writes it to scale.md too. */
async function scaleMode(counts, emit = (l) => process.stdout.write(l + '\n')) {
  const PER_LAB = 60; // lib/lab/layout.ts MAX_HOSTS: one /24 per lab slot, 4 addresses per host
  const maxN = Math.max(...counts);
  const labs = [];
  const results = [];
  const lines = [];
  const say = (l = '') => {
    lines.push(l);
    emit(l);
  };
  // a stopped bench (timeout, ^C) still prints what it measured and removes its labs
  const stop = (sig) => {
    log(`scale: ${sig}, cleaning up`);
    for (const l of labs) l.destroy().catch(() => undefined);
    setTimeout(() => process.exit(130), 20_000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    for (let made = 0, k = 0; made < maxN; k++) {
      const n = Math.min(PER_LAB, maxN - made);
      log(`scale: building lab ${k + 1} (${n} hosts) ...`);
      labs.push(await Lab.create({ name: `rbscale${k}`, hosts: n, shell: '/bin/sh' }));
      made += n;
    }
    const all = labs.flatMap((l) => l.hosts.map((h) => ({ lab: l, name: h.name, id: `${l.name}-${h.name}`, address: h.address, port: h.port })));
    const run1 = (h, script) => h.lab.exec(h.name, ['/bin/sh', '-c', script]);
    const raw = await run1(all[0], SYSCTLS.map((k) => `sysctl -n ${k}`).join('; '));
    const dflt = Object.fromEntries(raw.stdout.trim().split('\n').map((v, i) => [SYSCTLS[i], v.trim()]));
    // the workload without its podman task (these labs have no podman), next to a link to its templates
    const src = readFileSync(PLAYBOOK, 'utf8');
    const cut = src.indexOf('    - name: container network');
    const wl = path.join(WORK, 'scale.yml');
    writeFileSync(wl, cut > 0 ? src.slice(0, cut) : src);
    spawnSync('ln', ['-s', path.join(HERE, 'workload', 'templates'), path.join(WORK, 'templates')]);
    const tasks = (readFileSync(wl, 'utf8').match(/^    - name: /gm) ?? []).length;
    for (const n of counts) {
      const hs = all.slice(0, n);
      const inv = path.join(WORK, `scale-inventory-${n}.yml`);
      const il = ['all:', '  children:', '    lab:', '      hosts:'];
      for (const h of hs) il.push(`        ${h.id}:`, `          ansible_host: ${h.address}`, `          ansible_port: ${h.port}`, '          ansible_user: root', `          ansible_ssh_private_key_file: ${h.lab.keyFile}`, `          runbook_known_hosts: ${h.lab.knownHostsFile}`);
      writeFileSync(inv, il.join('\n') + '\n');
      const restore = SYSCTLS.map((k) => `sysctl -q -w ${k}=${dflt[k]}`).join('; ');
      await mapLimit(hs, 8, (h) => run1(h, `rm -rf /tmp/rbbench/${h.id} /etc/sysctl.d/90-rbbench.conf; ${restore}; true`));
      const one = async (label) => {
        const busyFile = path.join(WORK, `busy-${++runSeq}.json`);
        const report = path.join(WORK, `report-${runSeq}.json`);
        const args = ['--import', path.join(HERE, 'trace-commands.js'), RUNBOOK, 'apply', '-i', inv, wl, '--format', 'plain', '-f', String(SCALE_FORKS), '--report', report];
        const load0 = os.loadavg()[0];
        const m = await measure(process.execPath, args, { RBBENCH_BUSY: busyFile });
        const load = [load0, os.loadavg()[0]];
        if (!existsSync(report)) throw new Error(`scale ${n} ${label}: no report (exit ${m.code}): ${m.stdout.slice(-1500)} ${m.stderr.slice(-1500)}`);
        const rep = JSON.parse(readFileSync(report, 'utf8'));
        const failed = rep.recap.filter((r) => r.failed + r.unreachable > 0).length; // hosts
        const b = JSON.parse(readFileSync(busyFile, 'utf8'));
        const busy = Object.values(b.busy);
        const idle = busy.length && b.span > 0 ? busy.reduce((a, x) => a + (b.span - x), 0) / busy.length / b.span : NaN;
        return { ...m, failed, idle, span: b.span, load };
      };
      log(`scale: ${n} hosts ...`);
      const c = await one('cold');
      const w = await one('warm');
      const r = { n, c, w, perC: (c.cpu / (n * tasks)) * 1000, perW: (w.cpu / (n * tasks)) * 1000 };
      results.push(r);
      if (n !== counts[counts.length - 1]) writeFileSync(path.join(WORK, 'scale-partial.json'), JSON.stringify(results.map((x) => ({ n: x.n, perC: x.perC, perW: x.perW }))));
      log(`scale: ${n} hosts: cold ${f2(c.wall)} s wall, ${f2(c.cpu)} s CPU, ${r.perC.toFixed(2)} ms CPU per host-task, ${f2(c.rssMb)} MB, idle ${(c.idle * 100).toFixed(0)} %; warm ${f2(w.wall)} s, ${f2(w.cpu)} s CPU, idle ${(w.idle * 100).toFixed(0)} %, failed ${c.failed} + ${w.failed}; load ${c.load.map((x) => x.toFixed(1)).join('-')} / ${w.load.map((x) => x.toFixed(1)).join('-')}`);
    }
  } catch (e) {
    log(`scale: stopped: ${e.message}`);
    say(`(stopped after ${results.length} of ${counts.length} host counts: ${String(e.message).split('\n')[0]})`);
  } finally {
    if (results.length) {
      say(`## Scaling, runbook alone (${new Date().toISOString().slice(0, 16)}Z, ${os.cpus().length} CPUs; ${labs.length} labs of <= 60 hosts, workload without the podman task, forks ${SCALE_FORKS}):`);
      say();
      const rows = results.map((r) => [
        r.n,
        `${f2(r.c.wall)} s`,
        `${f2(r.w.wall)} s`,
        `${f2(r.c.cpu)} s`,
        `${f2(r.w.cpu)} s`,
        `${r.perC.toFixed(2)} ms`,
        `${r.perW.toFixed(2)} ms`,
        `${f2(Math.max(r.c.rssMb, r.w.rssMb))} MB`,
        `${(r.c.idle * 100).toFixed(0)} % / ${(r.w.idle * 100).toFixed(0)} %`,
        `${r.c.failed} / ${r.w.failed}`,
        [...r.c.load, ...r.w.load].map((x) => x.toFixed(0)).join('-'),
      ]);
      say(table(rows, ['hosts', 'cold wall', 'warm wall', 'cold CPU', 'warm CPU', 'CPU per host-task (cold)', 'CPU per host-task (warm)', 'peak RSS', 'host idle (cold / warm)', 'failed hosts (cold / warm)', 'load avg (1 min, at start/end of each run)']));
      say();
      const a = results[0];
      for (const r of results.slice(1)) {
        say(`${r.n} vs ${a.n} hosts (${(r.n / a.n).toFixed(0)}x the hosts): CPU per host-task ${(r.perC / a.perC).toFixed(2)}x cold, ${(r.perW / a.perW).toFixed(2)}x warm; wall ${(r.c.wall / a.c.wall).toFixed(2)}x cold, ${(r.w.wall / a.w.wall).toFixed(2)}x warm`);
      }
      say('CPU = the runbook process tree (start-up included); host idle = mean over hosts of the time between the first task start and the last task end that the host spent outside its own tasks (the linear strategy waits for every host at each task).');
      writeFileSync(path.join(WORK, 'scale.md'), lines.join('\n') + '\n');
      log(`scale result also in ${path.join(WORK, 'scale.md')}`);
    }
    if (!KEEP) for (const l of labs) await l.destroy().catch((e) => log(`destroy ${l.name}: ${e.message}`));
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}
