#!/usr/bin/env node
// Regenerates lib/modules/ansible-args.json (read by lib/modules/ansible-args.ts at load time) from Ansible's own documented argument specs (`ansible-doc -j`), so
// runbook can tell "a real argument of Ansible's module that runbook does not implement yet" from a typo.
// Usage: node scripts/gen-ansible-args.mjs   (needs Debian's `ansible` package: ansible-doc on PATH)
//   ANSIBLE_COLLECTIONS_PATH=DIR node scripts/gen-ansible-args.mjs: DIR/ansible_collections/containers/podman a
//   checkout of github.com/containers/ansible-podman-collections (1.20: state quadlet and its quadlet_* options, which
//   Debian's containers.podman 1.10 lacks); ansible-doc reads the collections there before its own.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

// runbook name -> Ansible FQCN (modules and the controller-side actions runbook implements or plans to)
const FQCN = {
  command: 'ansible.builtin.command', shell: 'ansible.builtin.shell', copy: 'ansible.builtin.copy',
  file: 'ansible.builtin.file', template: 'ansible.builtin.template', lineinfile: 'ansible.builtin.lineinfile',
  systemd: 'ansible.builtin.systemd', stat: 'ansible.builtin.stat', sysctl: 'ansible.posix.sysctl',
  podman_network: 'containers.podman.podman_network', apt: 'ansible.builtin.apt', service: 'ansible.builtin.service',
  blockinfile: 'ansible.builtin.blockinfile', replace: 'ansible.builtin.replace', slurp: 'ansible.builtin.slurp',
  user: 'ansible.builtin.user', debconf: 'ansible.builtin.debconf', get_url: 'ansible.builtin.get_url',
  podman_volume: 'containers.podman.podman_volume', podman_container: 'containers.podman.podman_container',
  mount: 'ansible.posix.mount', timezone: 'community.general.timezone', package: 'ansible.builtin.package',
  getent: 'ansible.builtin.getent', group: 'ansible.builtin.group', cron: 'ansible.builtin.cron',
  debug: 'ansible.builtin.debug', set_fact: 'ansible.builtin.set_fact', assert: 'ansible.builtin.assert',
  fail: 'ansible.builtin.fail', include_tasks: 'ansible.builtin.include_tasks', import_tasks: 'ansible.builtin.import_tasks',
  include_role: 'ansible.builtin.include_role', import_role: 'ansible.builtin.import_role',
  include_vars: 'ansible.builtin.include_vars', ping: 'ansible.builtin.ping', setup: 'ansible.builtin.setup',
  wait_for_connection: 'ansible.builtin.wait_for_connection', reboot: 'ansible.builtin.reboot',
  podman_image: 'containers.podman.podman_image', podman_pod: 'containers.podman.podman_pod',
  apt_repository: 'ansible.builtin.apt_repository', authorized_key: 'ansible.posix.authorized_key', find: 'ansible.builtin.find',
  hostname: 'ansible.builtin.hostname', ini_file: 'community.general.ini_file', locale_gen: 'community.general.locale_gen',
  modprobe: 'community.general.modprobe', package_facts: 'ansible.builtin.package_facts', pam_limits: 'community.general.pam_limits',
  service_facts: 'ansible.builtin.service_facts', tempfile: 'ansible.builtin.tempfile',
  fetch: 'ansible.builtin.fetch', pause: 'ansible.builtin.pause', raw: 'ansible.builtin.raw', script: 'ansible.builtin.script',
  sops_encrypt: 'community.sops.sops_encrypt', ufw: 'community.general.ufw', uri: 'ansible.builtin.uri',
  wait_for: 'ansible.builtin.wait_for', git: 'ansible.builtin.git', unarchive: 'ansible.builtin.unarchive',
};

const out = {};
let version = '';
for (const [name, fqcn] of Object.entries(FQCN)) {
  const doc = JSON.parse(execFileSync('ansible-doc', ['-j', fqcn], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))[fqcn].doc;
  const opts = {};
  for (const [opt, spec] of Object.entries(doc.options ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    const o = { type: spec.type ?? 'str' };
    if (spec.elements) o.elements = spec.elements;
    if (spec.aliases?.length) o.aliases = spec.aliases;
    opts[opt] = o;
  }
  out[name] = { fqcn, options: opts };
}
version = execFileSync('ansible', ['--version'], { encoding: 'utf8' }).split('\n')[0].trim();
// the containers.podman read: the first one ansible-galaxy lists (ANSIBLE_COLLECTIONS_PATH's before Debian's)
const podman = /^containers\.podman\s+(\S+)/m.exec(execFileSync('ansible-galaxy', ['collection', 'list', 'containers.podman'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
version += `, containers.podman ${podman ? podman[1] : '?'}`;

// one module per line: a regeneration shows as a readable diff
const body = `{"source": ${JSON.stringify(`ansible-doc -j (${version})`)}, "modules": {\n` +
  Object.entries(out).map(([k, v]) => ` ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(',\n') + '\n}}\n';
writeFileSync(new URL('../lib/modules/ansible-args.json', import.meta.url), body);
console.log(`wrote lib/modules/ansible-args.json (${Object.keys(out).length} modules)`);
