#!/usr/bin/env node
// Renders the template fixtures of test/fixtures/templates-compat with both tools, side by side, and prints a diff:
//   ansible-playbook (Debian's ansible 2.14) with connection local into a temp dir on this machine, and
//   runbook apply on one lab host (writing under /tmp, which lab hosts share with the machine).
//
//   npx tsc -p tsconfig.json && node bench/compat/template-diff.js [--record]
//
// --record writes Ansible's output to test/fixtures/templates-compat/expected/ (what test/templates-compat.test.ts
// compares runbook's output with). Needs root and the lab's tools; never contacts anything but localhost and the lab.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FIX = path.join(ROOT, 'test/fixtures/templates-compat');
const record = process.argv.includes('--record');
const { Lab } = await import(path.join(ROOT, 'dist/lib/lab/lab.js'));

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-tpldiff-'));
const ansOut = path.join(work, 'ansible');
const rbOut = path.join(work, 'runbook');
fs.mkdirSync(ansOut);
fs.mkdirSync(rbOut);

const a = spawnSync('ansible-playbook', ['-i', 'localhost,', '-c', 'local', 'site.yml', '-e', `out_dir=${ansOut}`, '-e', `fixture_dir=${FIX}`], {
  cwd: FIX, encoding: 'utf8', timeout: 300_000, env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_CONFIG: path.join(FIX, 'ansible.cfg') },
});
if (a.status !== 0) console.error('ansible-playbook failed:\n' + a.stdout + a.stderr);

const lab = await Lab.create({ name: 'tpldiff', hosts: 1 });
try {
  const inv = path.join(lab.dir, 'tpldiff-inventory.yml');
  fs.writeFileSync(inv, lab.inventoryYaml());
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/runbook.js'), 'apply', 'site.yml', '-i', inv, '-e', `out_dir=${rbOut}`, '-e', `fixture_dir=${FIX}`], {
    cwd: FIX, encoding: 'utf8', timeout: 300_000, env: { ...process.env, NO_COLOR: '1' },
  });
  if (r.status !== 0) console.error('runbook apply failed:\n' + r.stdout + r.stderr);
} finally {
  await lab.destroy();
}

let same = 0, differ = 0;
for (const f of fs.readdirSync(ansOut).sort()) {
  const x = fs.readFileSync(path.join(ansOut, f));
  const y = fs.existsSync(path.join(rbOut, f)) ? fs.readFileSync(path.join(rbOut, f)) : undefined;
  if (y && x.equals(y)) { same++; console.log(`same     ${f}`); }
  else {
    differ++;
    console.log(`DIFFERS  ${f}`);
    const d = spawnSync('diff', ['-u', '--label', `ansible/${f}`, '--label', `runbook/${f}`, path.join(ansOut, f), y ? path.join(rbOut, f) : '/dev/null'], { encoding: 'latin1' });
    console.log(d.stdout);
  }
  if (record) fs.copyFileSync(path.join(ansOut, f), path.join(FIX, 'expected', f));
}
console.log(`${same} identical, ${differ} different${record ? `; Ansible's output recorded in ${path.join(FIX, 'expected')}` : ''}`);
fs.rmSync(work, { recursive: true, force: true });
process.exit(differ ? 1 : 0);
