#!/usr/bin/env node
// Records test/fixtures/facts: runbook's FACTS_SCRIPT output and `ansible localhost -m setup` (Debian's ansible 2.14),
// back to back on this machine, for test/facts.test.ts. Needs a built dist/ (npx tsc -p tsconfig.json) and ansible.
// The machine's environment is not recorded: the python section's env is reduced to HOME.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const { FACTS_SCRIPT, parseFacts } = await import(path.join(ROOT, 'dist/lib/actions/facts.js'));
const FIX = path.join(ROOT, 'test/fixtures/facts');
fs.mkdirSync(FIX, { recursive: true });

// other labs may add or remove interfaces between the two runs: retry (a few times) until both saw the same ones
let raw, setup;
for (let attempt = 1; ; attempt++) {
  setup = execFileSync('ansible', ['localhost', '-m', 'setup'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, ANSIBLE_NOCOLOR: '1' } });
  raw = execFileSync('sh', ['-c', FACTS_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const theirs = JSON.parse(setup.slice(setup.indexOf('{'))).ansible_facts.ansible_interfaces.slice().sort().join(' ');
  const mine = parseFacts(raw).interfaces.slice().sort().join(' ');
  if (mine === theirs) break;
  if (attempt >= 5) throw new Error(`interfaces kept changing between the runs: ${mine} / ${theirs}`);
}

const lines = raw.split('\n').map((l, i, all) => {
  if (all[i - 1] !== '@@@ python' || !l.startsWith('{')) return l;
  const d = JSON.parse(l);
  d.env = { HOME: d.env.HOME };
  return JSON.stringify(d);
});
fs.writeFileSync(path.join(FIX, 'runbook-script-output.txt'), lines.join('\n'));

const a = JSON.parse(setup.slice(setup.indexOf('{'))).ansible_facts;
const keep = `processor processor_count processor_cores processor_threads_per_core processor_vcpus processor_nproc memtotal_mb
  swaptotal_mb distribution distribution_version distribution_major_version distribution_minor_version distribution_release
  os_family architecture kernel kernel_version hostname nodename fqdn domain machine_id interfaces default_ipv4 default_ipv6
  all_ipv4_addresses all_ipv6_addresses mounts selinux python python_version user_id user_uid user_gid user_dir user_shell
  user_gecos pkg_mgr service_mgr virtualization_type virtualization_role virtualization_tech_guest virtualization_tech_host
  lsb dns is_chroot system machine userspace_architecture real_user_id effective_user_id real_group_id effective_group_id`.split(/\s+/);
const out = {};
for (const k of [...keep, ...a.ansible_interfaces.map((i) => i.replace(/[:-]/g, '_'))]) out[`ansible_${k}`] = a[`ansible_${k}`];
out.ansible_date_time_keys = Object.keys(a.ansible_date_time).sort();
const sorted = (v) => (Array.isArray(v) ? v.map(sorted) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])])) : v);
fs.writeFileSync(path.join(FIX, 'ansible-2.14-setup.json'), JSON.stringify(sorted(out), null, 1) + '\n');
console.log(`recorded ${Object.keys(out).length} Ansible facts and the script output in ${FIX}`);
