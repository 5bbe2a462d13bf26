#!/usr/bin/env node
// Records ansible-playbook's default (plain) output of test/fixtures/golden/plain/site.yml against a one-host lab into
// test/fixtures/golden/plain/ansible-playbook.txt. test/habits-plain.test.ts compares runbook --format plain with it
// line by line (timings, paths and addresses normalised). Run once, as root, after `npx tsc -p tsconfig.json`:
//
//   node scripts/record-golden.mjs
//
// Needs ansible-playbook (Debian's ansible package); the test itself does not.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const DIR = path.join(ROOT, 'test', 'fixtures', 'golden', 'plain');
const { Lab } = await import(path.join(ROOT, 'dist', 'lib', 'lab', 'lab.js'));

const version = spawnSync('ansible-playbook', ['--version'], { encoding: 'utf8' });
if (version.status !== 0) {
  console.error('record-golden: ansible-playbook is not installed (apt-get install ansible)');
  process.exit(1);
}
const work = mkdtempSync(path.join(os.tmpdir(), 'rb-golden-'));
const lab = await Lab.create({ name: 'golden', hosts: 1, internet: false });
try {
  mkdirSync(path.join(work, 'cp'));
  const cfg = path.join(work, 'ansible.cfg');
  writeFileSync(
    cfg,
    [
      '[defaults]',
      'interpreter_python = /usr/bin/python3',
      'retry_files_enabled = False',
      `local_tmp = ${work}/tmp`,
      '',
      '[ssh_connection]',
      'pipelining = True',
      `control_path_dir = ${work}/cp`,
      `ssh_args = -o ControlMaster=auto -o ControlPersist=30s -o UserKnownHostsFile=${lab.knownHostsFile} -o StrictHostKeyChecking=yes -o BatchMode=yes`,
      '',
    ].join('\n'),
  );
  // stdout to a file, not a pipe: the ssh ControlPersist master inherits it and would hold a pipe open
  const outFile = path.join(work, 'stdout.txt');
  const fd = openSync(outFile, 'w');
  const r = spawnSync('ansible-playbook', ['-i', lab.inventoryFile, path.join(DIR, 'site.yml')], {
    stdio: ['ignore', fd, 'pipe'],
    encoding: 'utf8',
    cwd: work,
    timeout: 300_000,
    env: { ...process.env, ANSIBLE_CONFIG: cfg, ANSIBLE_NOCOLOR: '1', ANSIBLE_FORCE_COLOR: '0', ANSIBLE_STDOUT_CALLBACK: 'default' },
  });
  closeSync(fd);
  r.stdout = readFileSync(outFile, 'utf8');
  if (r.status !== 0) {
    console.error(`ansible-playbook exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
    process.exitCode = 1;
  } else {
    writeFileSync(path.join(DIR, 'ansible-playbook.txt'), r.stdout);
    writeFileSync(path.join(DIR, 'VERSION'), version.stdout.split('\n')[0].trim() + '\n');
    process.stdout.write(r.stdout);
  }
} finally {
  await lab.destroy();
  rmSync(work, { recursive: true, force: true });
}
