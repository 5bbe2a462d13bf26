#!/usr/bin/env node
// Writes lib/playbook/ansible-modules.json: the module names Ansible knows (so the loader can tell "a module
// runbook does not implement yet" from "a name nothing knows"), and for the modules runbook implements, the
// option names Ansible accepts for them (so an option runbook lacks is deferred, not refused).
// Needs ansible-doc (Debian's `ansible` package); run by hand, the result is committed, the tests never need it.
//   node scripts/gen-ansible-modules.mjs
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (args) => execFileSync('ansible-doc', args, { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] });
// the collections real playbooks use most; the rest of Debian's bundle is vendor/network gear
const KEEP = /^(ansible\.[a-z_]+|community\.[a-z_]+|containers\.podman|kubernetes\.core|amazon\.aws|google\.cloud|azure\.azcollection|openstack\.cloud|theforeman\.foreman|ngine_io\.[a-z_]+|hetzner\.hcloud|grafana\.grafana|sensu\.sensu_go|lowlydba\.sqlserver)\./;

const listed = Object.keys(JSON.parse(run(['-t', 'module', '-l', '-j'])));
const modules = listed.filter((n) => KEEP.test(n)).sort();

// short names Ansible 2.x still resolves: ansible.builtin's own, and the routing table's redirects (pacman -> community.general.pacman)
const version = execFileSync('ansible', ['--version'], { encoding: 'utf8' });
const pyDir = /ansible python module location = (\S+)/.exec(version)?.[1];
const core = /\[core ([^\]]+)\]/.exec(version)?.[1] ?? 'unknown';
const redirects = {};
if (pyDir) {
  const rt = YAML.parse(fs.readFileSync(path.join(pyDir, 'config', 'ansible_builtin_runtime.yml'), 'utf8'));
  for (const [short, v] of Object.entries(rt?.plugin_routing?.modules ?? {})) {
    if (v && typeof v.redirect === 'string' && !short.includes('.') && KEEP.test(v.redirect)) redirects[short] = v.redirect;
  }
}

// option names (and aliases) Ansible accepts for the modules runbook implements
const { allModules } = await import(path.join(root, 'dist/lib/modules/registry.js'));
const fqcnOf = (short) => (modules.includes(`ansible.builtin.${short}`) ? `ansible.builtin.${short}` : redirects[short] ?? modules.find((m) => m.endsWith(`.${short}`)));
const options = {};
for (const def of allModules()) {
  const fq = fqcnOf(def.name);
  if (!fq) continue;
  let doc;
  try {
    doc = JSON.parse(run(['-t', 'module', '-j', fq]))[fq]?.doc;
  } catch {
    continue;
  }
  const names = new Set();
  for (const [k, o] of Object.entries(doc?.options ?? {})) {
    names.add(k);
    for (const a of o?.aliases ?? []) names.add(a);
  }
  options[def.name] = [...names].sort();
}

const out = { source: `ansible-doc of ansible-core ${core} with Debian's bundled collections`, modules, redirects, options };
fs.writeFileSync(path.join(root, 'lib/playbook/ansible-modules.json'), JSON.stringify(out) + '\n');
console.log(`${modules.length} modules, ${Object.keys(redirects).length} short-name redirects, options of ${Object.keys(options).length} runbook modules`);
