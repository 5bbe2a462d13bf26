/**
 * Ansible modules runbook knows of but does not implement (yet). The loader reports a task using one of them at
 * load time, at the task's line, as "module X is not supported (yet)" instead of "unknown module": a playbook
 * never fails half-way through a play because of a module runbook cannot run.
 *
 * A name that resolves to a real module or action is never reported from here (the registry is asked first),
 * so implementing a module only needs its registration; removing it from this list keeps the list honest.
 */

/** short name -> the collections it lives in (ansible.builtin names also answer to ansible.legacy) */
const BUILTIN = [
  'add_host', 'apt_key', 'assemble', 'async_status', 'command_async', 'deb822_repository', 'dnf', 'dnf5',
  'dpkg_selections', 'expect', 'group_by', 'iptables', 'known_hosts', 'pip', 'rpm_key',
  'sysvinit', 'validate_argument_spec', 'yum',
  'yum_repository',
];
const COLLECTIONS: Record<string, string[]> = {
  'ansible.posix': ['acl', 'at', 'firewalld', 'patch', 'seboolean', 'selinux', 'synchronize'],
  'community.general': [
    'alternatives', 'apk', 'archive', 'filesystem', 'git_config', 'lvg', 'lvol', 'make',
    'nmcli', 'npm', 'parted', 'pipx', 'proxmox', 'proxmox_kvm', 'snap', 'xml',
    'zfs',
  ],
  'community.docker': ['docker_container', 'docker_image', 'docker_network', 'docker_volume', 'docker_compose_v2'],
  'containers.podman': ['podman_image', 'podman_network', 'podman_pod', 'podman_secret', 'podman_play', 'podman_login'],
  'community.crypto': ['openssh_keypair', 'openssl_privatekey', 'x509_certificate'],
};

const NAMES: Map<string, string> = (() => {
  const m = new Map<string, string>();
  for (const n of BUILTIN) {
    for (const full of [n, `ansible.builtin.${n}`, `ansible.legacy.${n}`]) m.set(full, `ansible.builtin.${n}`);
  }
  for (const [coll, names] of Object.entries(COLLECTIONS)) {
    for (const n of names) {
      m.set(`${coll}.${n}`, `${coll}.${n}`);
      if (!m.has(n)) m.set(n, `${coll}.${n}`);
    }
  }
  return m;
})();

/** The canonical (FQCN) name of a known-but-unsupported Ansible module, or undefined. */
export function unsupportedModule(name: string): string | undefined {
  return NAMES.get(name);
}

/** Every known-but-unsupported name (short and FQCN). */
export function unsupportedNames(): string[] {
  return [...NAMES.keys()];
}
