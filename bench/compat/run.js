#!/usr/bin/env node
// Real-code compatibility harness: does runbook load (and, on lab hosts, check) real public Ansible codebases
// unchanged, and does Ansible accept the same thing? See bench/compat/README.md.
//
//   node bench/compat/run.js CORPUS_DIR [--setup] [--only a,b] [--lab | --apply] [--no-ansible] [--json FILE] [--md FILE]
//
// --apply: per codebase, a fresh one-host lab with a private root and real apt (bin/lab.js up --apt), then
// runbook --check, apply, apply again, --check again (and Ansible's --check first, on the same fresh host), and
// whether check predicted apply exactly (task by task) and the second apply changed nothing.
//
// CORPUS_DIR holds one checkout per codebase of manifest.json (dir = its name there). --setup clones missing ones
// (from $COMPAT_MIRROR/OWNER+NAME/repo when that exists, else https://github.com/OWNER/NAME) at the manifest commit.
// Fetched code is only read and run from CORPUS_DIR; nothing of it is copied into this repository.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(path.dirname(HERE));
const RUNBOOK = path.join(ROOT, 'bin', 'runbook.js');
const LAB = path.join(ROOT, 'bin', 'lab.js');
const TIMEOUT_MS = 180_000; // one tool run on one codebase
const LAB_NAME = `compat${process.pid}`;

// ---- arguments ----
const argv = process.argv.slice(2);
const valueOpts = new Set(['--only', '--json', '--md', '--work']);
const flags = new Set();
const values = {};
const positional = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (valueOpts.has(a)) values[a] = argv[++i];
  else if (a.startsWith('--')) flags.add(a);
  else positional.push(a);
}
const known = new Set(['--setup', '--lab', '--apply', '--no-ansible', '--keep-lab', '--help']);
for (const f of flags) if (!known.has(f)) die(`unknown option ${f}`);
if (flags.has('--help') || positional.length !== 1) {
  die('usage: node bench/compat/run.js CORPUS_DIR [--setup] [--only a,b] [--lab [--keep-lab] | --apply] [--no-ansible] [--json FILE] [--md FILE]');
}
const CORPUS = path.resolve(positional[0]);
const manifest = JSON.parse(readFileSync(path.join(HERE, 'manifest.json'), 'utf8'));
const only = values['--only'] ? new Set(values['--only'].split(',')) : undefined;
const codebases = manifest.codebases.filter((c) => !only || only.has(c.name));
// per run (two runs at once must not clear each other's directories); --work DIR or COMPAT_WORK to choose it
const WORK = path.resolve(values['--work'] ?? process.env['COMPAT_WORK'] ?? path.join(os.tmpdir(), `runbook-compat-${process.pid}`));

function die(msg) {
  console.error(msg);
  process.exit(2);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: TIMEOUT_MS, maxBuffer: 64 << 20, ...opts });
  return { rc: r.status ?? (r.signal ? `killed(${r.signal})` : 'spawn-error'), out: (r.stdout ?? '') + (r.stderr ?? ''), error: r.error?.message };
}

function have(cmd) {
  return run('sh', ['-c', `command -v ${cmd}`]).rc === 0;
}

// ---- checkouts ----
function setup(c) {
  const dir = path.join(CORPUS, c.dir);
  if (!existsSync(dir)) {
    const mirror = process.env['COMPAT_MIRROR'] && path.join(process.env['COMPAT_MIRROR'], c.repo.replace('/', '+'), 'repo');
    const src = mirror && existsSync(mirror) ? mirror : `https://github.com/${c.repo}`;
    mkdirSync(CORPUS, { recursive: true });
    const r = run('git', ['clone', '-q', src, dir]);
    if (r.rc !== 0) return `clone of ${src} failed: ${r.out.trim()}`;
  }
  const r = run('git', ['-C', dir, 'checkout', '-q', c.commit]);
  return r.rc === 0 ? undefined : `checkout of ${c.commit} failed: ${r.out.trim()}`;
}

function headOf(dir) {
  const r = run('git', ['-C', dir, 'rev-parse', 'HEAD']);
  return r.rc === 0 ? r.out.trim() : 'not-a-git-checkout';
}

/**
 * The run directory of one codebase: roles/ with a link per role name, collections/ansible_collections/NS/NAME
 * links, the driver's files, and an ansible.cfg naming both paths. Returns cwd, playbook, inventory and env.
 */
function prepare(c, labInventory) {
  const work = path.join(WORK, c.name);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(path.join(work, 'roles'), { recursive: true });
  for (const [name, rel] of Object.entries(c.roles ?? {})) symlinkSync(path.join(CORPUS, rel), path.join(work, 'roles', name));
  const collRoot = path.join(work, 'collections');
  for (const [fq, rel] of Object.entries(c.collections ?? {})) {
    const [ns, name] = fq.split('.');
    mkdirSync(path.join(collRoot, 'ansible_collections', ns), { recursive: true });
    symlinkSync(path.join(CORPUS, rel), path.join(collRoot, 'ansible_collections', ns, name));
  }
  const driverName = c.driver ?? c.driverInventory;
  if (driverName) cpSync(path.join(HERE, 'drivers', driverName), work, { recursive: true });
  const src = path.join(CORPUS, c.dir);
  const rolesPath = path.join(work, 'roles');
  // roles_path and collections_path go through an ansible.cfg (the driver's, or the codebase's own with the extra
  // roles prepended): runbook apply reads roles_path only from ansible.cfg, and an ANSIBLE_ROLES_PATH variable would
  // replace, not extend, the codebase's own roles_path for Ansible.
  const env = {
    ...process.env,
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_HOST_KEY_CHECKING: 'False',
    NO_COLOR: '1',
  };
  let cwd, playbook, inventory;
  if (c.driver) {
    writeFileSync(path.join(work, 'ansible.cfg'), `[defaults]\nroles_path = ${rolesPath}\ncollections_path = ${collRoot}\nretry_files_enabled = false\n`);
    cwd = work;
    playbook = path.join(work, 'site.yml');
    inventory = path.join(work, 'inventory.yml');
  } else {
    // the codebase's own playbook, run from its root so its own ansible.cfg applies
    cwd = src;
    playbook = path.join(src, c.playbook);
    inventory = c.driverInventory ? path.join(work, 'inventory.yml') : path.join(src, c.inventory);
    if (c.roles || c.collections) {
      const own = path.join(src, 'ansible.cfg');
      let text = existsSync(own) ? readFileSync(own, 'utf8') : '[defaults]\n';
      const old = /^\s*roles_path\s*=\s*(.*)$/m.exec(text)?.[1]?.trim();
      const extra = old ? old.split(':').map((d) => path.resolve(src, d)) : [];
      text = text.replace(/^\s*roles_path\s*=.*\n?/m, '');
      text = text.replace(/^\[defaults\][^\n]*\n/m, (h) => `${h}roles_path = ${[rolesPath, ...extra].join(':')}\n${c.collections ? `collections_path = ${collRoot}\n` : ''}`);
      writeFileSync(path.join(work, 'ansible.cfg'), text);
      env.ANSIBLE_CONFIG = path.join(work, 'ansible.cfg');
    }
  }
  if (labInventory) inventory = labInventoryFor(c, work, labInventory, inventory);
  return { cwd, playbook, inventory, env, work };
}

/**
 * A lab run: an inventory directory with the lab's own inventory (group "lab", connection vars) and one more file
 * that puts the lab's hosts into every other group the driver's inventory names.
 */
function labInventoryFor(c, work, labInventory, driverInventory) {
  const groups = [...readFileSync(driverInventory, 'utf8').matchAll(/^ {4}([A-Za-z0-9_.-]+):\s*$/gm)].map((m) => m[1]).filter((g) => g !== 'lab');
  const dir = path.join(work, 'lab-inventory');
  mkdirSync(dir, { recursive: true });
  const lab = readFileSync(labInventory, 'utf8');
  writeFileSync(path.join(dir, '1-lab.yml'), lab);
  const hosts = [...lab.matchAll(/^ {8}(host\d+):\s*$/gm)].map((m) => m[1]);
  if (groups.length) {
    const body = groups.map((g) => `    ${g}:\n      hosts:\n${hosts.map((h) => `        ${h}:`).join('\n')}`).join('\n');
    writeFileSync(path.join(dir, '2-groups.yml'), `all:\n  children:\n${body}\n`);
  }
  return dir;
}

// ---- runbook output ----
const ERR_RE = /^error: (.+?):(\d+):(\d+): (.*)$/;
const ERR_NOPOS_RE = /^error: (.*)$/;

function parseRunbook(out, cwd) {
  const errors = [];
  for (const line of out.split('\n')) {
    let m = ERR_RE.exec(line);
    if (m) {
      errors.push({ file: rel(m[1], cwd), line: Number(m[2]), col: Number(m[3]), message: stripFileEcho(m[4], m[1]) });
      continue;
    }
    m = ERR_NOPOS_RE.exec(line);
    if (m) errors.push({ file: undefined, line: undefined, message: m[1] });
  }
  if (!errors.length) {
    const lines = out.split('\n').filter((l) => /error|Error|cannot|not supported|unknown/.test(l));
    for (const l of lines.slice(0, 20)) errors.push({ message: l.trim() });
  }
  return errors;
}

function stripFileEcho(msg, file) {
  return msg.startsWith(`${file}: `) ? msg.slice(file.length + 2) : msg;
}

function rel(file, cwd) {
  let abs = path.resolve(cwd, file);
  try {
    abs = realpathSync(abs);
  } catch {
    // keep the name as printed
  }
  return abs.startsWith(CORPUS + path.sep) ? path.relative(CORPUS, abs) : abs.startsWith(WORK + path.sep) ? `driver:${path.relative(WORK, abs)}` : file;
}

/** ansible.builtin.copy, ansible.legacy.copy and copy are one module; community.general.pacman is pacman. */
function shortModule(name) {
  return name.split('.').pop();
}

/** The reason an error stands for, without the place: what the fixing work has to add. */
export function classify(message) {
  let m;
  if ((m = /^unknown module "([^"]+)"/.exec(message))) return { category: 'unsupported module', reason: `module ${shortModule(m[1])}` };
  if ((m = /^module "?([^" ]+)"? is not supported/.exec(message))) return { category: 'unsupported module', reason: `module ${shortModule(m[1])}` };
  if ((m = /^unknown argument "([^"]+)" for module (\S+)/.exec(message))) return { category: 'unknown module argument', reason: `${shortModule(m[2])}: argument ${m[1]}` };
  if ((m = /^argument "([^"]+)" of (\S+) must be one of .*, got (.*)$/.exec(message)))
    return { category: 'unsupported argument value', reason: `${shortModule(m[2])}: ${m[1]}=${m[3]}` };
  if ((m = /^argument "([^"]+)" of (\S+) must be (\w+), got (.*)$/.exec(message)))
    return {
      category: 'argument type Ansible would convert',
      reason: `${shortModule(m[2])}: ${m[1]} must be ${m[3]}, got ${m[4].startsWith('"') ? 'a string' : /^-?\d/.test(m[4]) ? 'a number' : 'another type'}`,
    };
  if ((m = /^module (\S+) needs argument "([^"]+)"/.exec(message)))
    return { category: 'required argument Ansible does not require', reason: `${shortModule(m[1])}: ${m[2]} required` };
  if ((m = /^unknown task keyword "([^"]+)"/.exec(message))) return { category: 'unsupported task keyword / loop form', reason: `keyword ${m[1]}` };
  if (/^expected k=v arguments, got "[^"]*}}/.test(message))
    return { category: 'k=v argument parsing', reason: 'free-form k=v string with a {{ expr }} containing spaces' };
  if (/^expected k=v arguments/.test(message)) return { category: 'k=v argument parsing', reason: 'free-form k=v string' };
  if ((m = /^template syntax error: (.*?)(?: \(line \d+\))?$/.exec(message))) return { category: 'Jinja syntax', reason: m[1] };
  if (/^tasks file not found/.test(message)) return { category: 'include/import path resolution', reason: 'tasks file not found relative to the including file' };
  if ((m = /^(\S+): path "[^"]*" must be an absolute path/.exec(message))) return { category: 'argument validation stricter than Ansible', reason: `${m[1]}: path must be absolute` };
  if (/cannot decrypt SOPS file: no age key/.test(message)) return { category: 'SOPS inventory vars without a key', reason: 'SOPS-encrypted group_vars/host_vars read at load (no age key on this machine)' };
  if ((m = /^unknown filter "?([^" ]+)"?/.exec(message)) || (m = /filter "?([^" ]+)"? (?:is )?(?:unknown|not supported)/.exec(message)))
    return { category: 'unknown filter', reason: `filter ${m[1]}` };
  if ((m = /lookup "?([^" ]+)"? (?:is )?(?:unknown|not supported)/.exec(message)) || (m = /^unknown lookup "?([^" ]+)"?/.exec(message)))
    return { category: 'unsupported lookup', reason: `lookup ${m[1]}` };
  if ((m = /^role "([^"]+)" not found/.exec(message)))
    return /^[\w]+\.[\w]+\.[\w]+$/.test(m[1])
      ? { category: 'collection role (namespace.collection.role)', reason: 'role by collection name not found (no collections_path)' }
      : { category: 'role not found', reason: `role ${m[1]}` };
  // generic: keep the message, without machine paths
  return { category: 'other', reason: message.replace(/\/work\/\S+/g, 'PATH') };
}

/** A tasks/vars file for a non-Debian OS (setup-RedHat.yml, Archlinux.yml, ...): Ansible never loads it on Debian. */
const OTHER_OS = /(redhat|rhel|centos|rocky|alma|fedora|amazon|suse|opensuse|sles|arch|freebsd|openbsd|netbsd|darwin|macos|alpine|gentoo|solaris|windows|dnf|yum|zypper|pacman|pkgng)/i;
function isOtherOsFile(file) {
  return !!file && OTHER_OS.test(path.basename(file));
}

// ---- Ansible ----
function ansibleVerdict(r) {
  if (r.rc === 0) return { accepts: true, first: '' };
  const lines = r.out.split('\n');
  const i = lines.findIndex((l) => l.startsWith('ERROR!'));
  const first = i >= 0 ? lines.slice(i, i + 6).filter((l) => l.trim() && !/^\s*\^/.test(l)).join(' ').replace(/\s+/g, ' ') : lines.filter(Boolean).slice(-3).join(' ');
  return { accepts: false, first: first.slice(0, 400) };
}

// ---- lab ----
function labUp(apt = false) {
  const r = run('node', [LAB, 'up', LAB_NAME, '1', ...(apt ? ['--apt'] : [])], { cwd: ROOT });
  if (r.rc !== 0) die(`lab up failed: ${r.out}`);
  return r.out.trim().split('\n').pop();
}

function checkSummary(reportFile) {
  if (!existsSync(reportFile)) return undefined;
  try {
    const rep = JSON.parse(readFileSync(reportFile, 'utf8'));
    return rep;
  } catch {
    return undefined;
  }
}

// ---- main ----
const withAnsible = !flags.has('--no-ansible') && have('ansible-playbook');
const ansibleVersion = withAnsible ? run('ansible-playbook', ['--version']).out.split('\n')[0].trim() : 'not installed';
const runbookVersion = run('node', [RUNBOOK, '--version']).out.trim();
const APPLY = flags.has('--apply');
let labInventory;
if (flags.has('--lab') && !APPLY) labInventory = labUp();

/** One task result per line of a --report file: host, file:line, task, status (for comparing runs). */
function taskLines(rep) {
  const out = [];
  for (const [host, tasks] of Object.entries(rep?.hosts ?? {})) for (const t of tasks) {
    // a task the codebase itself skips in check mode (`when: not ansible_check_mode`): check cannot predict it, by design
    const checkModeSkip = t.status === 'skipped' && /condition false: .*\bansible_check_mode\b/.test(String(t.reason ?? ''));
    out.push({ key: `${host} ${t.file}:${t.line} ${t.task}`, status: t.status, changed: t.changed, checkModeSkip });
  }
  return out;
}

/** runbook --check, apply, apply, --check on a fresh lab host; Ansible --check first where installed. */
function applyPhases(c, p) {
  const phases = {};
  const one = (name, extra) => {
    const report = path.join(p.work, `${name}.json`);
    rmSync(report, { force: true });
    const r = run('node', [RUNBOOK, 'apply', p.playbook, '-i', p.inventory, ...extra, '--format', 'plain', '--no-host-key-checking', '--report', report], { cwd: p.cwd, env: p.env, timeout: 900_000 });
    const rep = checkSummary(report);
    const firstFail = r.out.split('\n').find((l) => /^fatal:|^error/.test(l));
    phases[name] = { rc: r.rc, firstFailure: firstFail?.trim(), tasks: taskLines(rep), changed: taskLines(rep).filter((t) => t.changed).length, tail: r.out.trim().split('\n').slice(-4).join('\n') };
    writeFileSync(path.join(p.work, `${name}.log`), r.out);
  };
  if (withAnsible) {
    const an = run('ansible-playbook', [p.playbook, '-i', p.inventory, '--check'], { cwd: p.cwd, env: p.env, timeout: 900_000 });
    const recap = /changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/.exec(an.out);
    phases.ansibleCheck = { rc: an.rc, changed: recap ? Number(recap[1]) : undefined, failed: recap ? Number(recap[3]) : undefined };
  }
  one('check1', ['--check']);
  one('apply1', []);
  one('apply2', []);
  one('check2', ['--check']);
  // check == apply: the same tasks, in the same order, with the same changed flag (and apply without failure)
  const a = phases.check1.tasks, b = phases.apply1.tasks;
  const diff = [];
  const skippedByDesign = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i]?.key === b[i]?.key && a[i]?.checkModeSkip) {
      if (a[i].changed !== b[i].changed) skippedByDesign.push(a[i].key);
      continue;
    }
    if (a[i]?.key !== b[i]?.key || a[i]?.changed !== b[i]?.changed) diff.push(`${a[i] ? `${a[i].key} ${a[i].status}` : '(none)'} | apply: ${b[i] ? `${b[i].key} ${b[i].status}` : '(none)'}`);
    if (diff.length >= 5) break;
  }
  return {
    ...phases,
    checkMatchesApply: phases.check1.rc === 0 && phases.apply1.rc === 0 && diff.length === 0,
    mismatches: diff,
    // tasks with `when: not ansible_check_mode` that changed in apply: not compared (Ansible's check skips them too)
    skippedByDesign,
    secondApplyUnchanged: phases.apply2.rc === 0 && phases.apply2.changed === 0,
    secondCheckUnchanged: phases.check2.rc === 0 && phases.check2.changed === 0,
  };
}

const results = [];
try {
  for (const c of codebases) {
    if (flags.has('--setup')) {
      const err = setup(c);
      if (err) {
        results.push({ name: c.name, repo: c.repo, commit: c.commit, missing: err });
        continue;
      }
    }
    const dir = path.join(CORPUS, c.dir);
    if (!existsSync(dir)) {
      results.push({ name: c.name, repo: c.repo, commit: c.commit, missing: `${dir} does not exist (use --setup)` });
      continue;
    }
    const head = headOf(dir);
    const codebaseLab = APPLY ? labUp(true) : undefined;
    try {
      const p = prepare(c, labInventory ?? codebaseLab);
      const rb = run('node', [RUNBOOK, 'apply', p.playbook, '-i', p.inventory, '--syntax-check', '--format', 'plain'], { cwd: p.cwd, env: p.env });
      const errors = rb.rc === 0 ? [] : parseRunbook(rb.out, p.cwd).map((e) => ({ ...e, ...classify(e.message), otherOs: isOtherOsFile(e.file) }));
      const res = {
        name: c.name,
        repo: c.repo,
        commit: head,
        pinned: head === c.commit,
        runbook: { loads: rb.rc === 0, rc: rb.rc, errors, summary: rb.out.trim().split('\n').pop() },
      };
      if (withAnsible) {
        const an = run('ansible-playbook', [p.playbook, '-i', p.inventory, '--syntax-check'], { cwd: p.cwd, env: p.env });
        res.ansible = { rc: an.rc, ...ansibleVerdict(an) };
      }
      if (labInventory) {
        const report = path.join(p.work, 'check-report.json');
        const ck = run('node', [RUNBOOK, 'apply', p.playbook, '-i', p.inventory, '--check', '--format', 'plain', '--no-host-key-checking', '--report', report], { cwd: p.cwd, env: p.env });
        const firstFail = ck.out.split('\n').find((l) => /\bfailed\b|^error|FAILED/.test(l) && !/failed=/.test(l));
        res.runbookCheck = { rc: ck.rc, firstFailure: firstFail?.trim(), tail: ck.out.trim().split('\n').slice(-5).join('\n'), report: checkSummary(report) ? report : undefined };
        if (withAnsible) {
          const an = run('ansible-playbook', [p.playbook, '-i', p.inventory, '--check'], { cwd: p.cwd, env: p.env });
          res.ansibleCheck = { rc: an.rc, recap: (an.out.match(/PLAY RECAP[\s\S]*/) ?? [an.out.slice(-400)])[0].trim() };
        }
      }
      if (codebaseLab && res.runbook.loads) res.apply = applyPhases(c, p);
      if (c.variantOf) res.variantOf = c.variantOf;
      results.push(res);
      process.stderr.write(`${c.name}: runbook ${res.runbook.loads ? 'loads' : `refuses (${errors.length} errors)`}${res.ansible ? `, ansible ${res.ansible.accepts ? 'accepts' : 'refuses'}` : ''}\n`);
      if (res.apply) process.stderr.write(`${c.name}: check==apply ${res.apply.checkMatchesApply}, 2nd apply unchanged ${res.apply.secondApplyUnchanged} (changed ${res.apply.check1.changed}/${res.apply.apply1.changed}/${res.apply.apply2.changed}/${res.apply.check2.changed})\n`);
    } finally {
      if (codebaseLab && !flags.has('--keep-lab')) run('node', [LAB, 'down', LAB_NAME], { cwd: ROOT });
    }
  }
} finally {
  if (labInventory && !flags.has('--keep-lab')) run('node', [LAB, 'down', LAB_NAME], { cwd: ROOT });
}

// ---- output ----
const md = [];
md.push(`runbook ${runbookVersion}; ${ansibleVersion}; ${results.length} codebases\n`);
md.push('| codebase@commit | runbook loads? | errors | first failure | Ansible --syntax-check |' + (labInventory ? ' runbook --check | Ansible --check |' : '') + (APPLY ? ' check == apply? | 2nd apply 0 changed? | changed: check/apply/apply/check (Ansible check) | apply failure |' : ''));
md.push('|---|---|---|---|---|' + (labInventory ? '---|---|' : '') + (APPLY ? '---|---|---|---|' : ''));
for (const r of results) {
  if (r.missing) {
    md.push(`| ${r.name}@${r.commit.slice(0, 10)} | not run | | ${r.missing} | |`);
    continue;
  }
  const e = r.runbook.errors[0];
  const first = e ? `${e.file ? `${e.file}:${e.line}: ` : ''}${e.message}`.replace(/\|/g, '\\|').slice(0, 160) : '';
  const an = r.ansible ? (r.ansible.accepts ? 'accepts' : `refuses: ${r.ansible.first.replace(/\|/g, '\\|').slice(0, 160)}`) : 'n/a';
  let row = `| ${r.name}${r.variantOf ? ` (variant of ${r.variantOf})` : ''}@${r.commit.slice(0, 10)}${r.pinned ? '' : ' (not the manifest commit)'} | ${r.runbook.loads ? 'yes' : 'no'} | ${r.runbook.errors.length} | ${first} | ${an} |`;
  if (labInventory) row += ` ${r.runbookCheck.rc === 0 ? 'ok' : `rc ${r.runbookCheck.rc}: ${(r.runbookCheck.firstFailure ?? '').replace(/\|/g, '\\|').slice(0, 120)}`} | ${r.ansibleCheck ? (r.ansibleCheck.rc === 0 ? 'ok' : `rc ${r.ansibleCheck.rc}`) : 'n/a'} |`;
  if (APPLY) {
    const a = r.apply;
    row += a
      ? ` ${a.checkMatchesApply ? 'yes' : 'no'} | ${a.secondApplyUnchanged ? 'yes' : 'no'} | ${a.check1.changed}/${a.apply1.changed}/${a.apply2.changed}/${a.check2.changed}${a.ansibleCheck ? ` (${a.ansibleCheck.changed ?? '?'}${a.ansibleCheck.rc === 0 ? '' : `, rc ${a.ansibleCheck.rc}`})` : ''} | ${(a.apply1.firstFailure ?? a.check1.firstFailure ?? (a.mismatches[0] ? `differs: ${a.mismatches[0]}` : a.skippedByDesign?.length ? `not compared: ${a.skippedByDesign.length} task(s) the role skips in check mode (when: not ansible_check_mode)` : '')).replace(/\|/g, '\\|').slice(0, 160)} |`
      : ' | | | |';
  }
  md.push(row);
}
const main = results.filter((r) => !r.variantOf);
const loads = main.filter((r) => r.runbook?.loads).length;
if (APPLY) {
  const ran = main.filter((r) => r.apply);
  md.push(`\non lab hosts: check == apply for ${ran.filter((r) => r.apply.checkMatchesApply).length}/${ran.length}, second apply changes nothing for ${ran.filter((r) => r.apply.secondApplyUnchanged).length}/${ran.length}, both for ${ran.filter((r) => r.apply.checkMatchesApply && r.apply.secondApplyUnchanged).length}/${ran.length}`);
}
md.push(`\nrunbook loads ${loads}/${main.length} codebases; Ansible accepts ${main.filter((r) => r.ansible?.accepts).length}/${main.length} (rows marked "variant of" are extra drivers of a codebase, not counted)\n`);

// inventory: distinct reasons, by how many codebases each blocks
const byReason = new Map();
for (const r of results) {
  for (const e of r.runbook?.errors ?? []) {
    const k = `${e.category}\u0000${e.reason}`;
    if (!byReason.has(k)) byReason.set(k, { category: e.category, reason: e.reason, codebases: new Set(), debianPath: new Set(), places: [] });
    const b = byReason.get(k);
    b.codebases.add(r.variantOf ?? r.name);
    if (!e.otherOs) b.debianPath.add(r.variantOf ?? r.name);
    b.places.push(`${r.name}: ${e.file ?? '?'}:${e.line ?? '?'}${e.otherOs ? ' [other-OS file]' : ''}  ${e.message}`);
  }
}
const reasons = [...byReason.values()].sort((a, b) => b.codebases.size - a.codebases.size || a.category.localeCompare(b.category) || a.reason.localeCompare(b.reason));
md.push('## Reasons, by the number of codebases each blocks\n');
md.push('"# codebases": codebases where runbook reports it; "outside other-OS files": of those, the codebases where it occurs in at');
md.push('least one file that is not for another OS (setup-RedHat.yml, Archlinux.yml, ...): the ones a Debian run really needs.\n');
md.push('| # codebases | outside other-OS files | category | reason | codebases |');
md.push('|---|---|---|---|---|');
for (const b of reasons)
  md.push(`| ${b.codebases.size} | ${b.debianPath.size} | ${b.category} | ${b.reason.replace(/\|/g, '\\|')} | ${[...b.codebases].join(', ')} |`);
md.push('\n## Every error, by reason\n');
for (const b of reasons) {
  md.push(`### ${b.category}: ${b.reason} (${b.codebases.size})\n`);
  for (const p of b.places) md.push(`- ${p.replace(/\s+/g, ' ')}`);
  md.push('');
}
const text = md.join('\n') + '\n';
process.stdout.write(text);
process.stderr.write(`logs and reports: ${WORK}\n`);
if (values['--md']) writeFileSync(values['--md'], text);
if (values['--json']) writeFileSync(values['--json'], JSON.stringify({ runbookVersion, ansibleVersion, results }, null, 2) + '\n');
process.exitCode = loads === main.length ? 0 : 1;
