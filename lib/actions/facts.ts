/**
 * Fact gathering in ONE round trip: a read-only script prints key=value lines, a pure parser turns them into
 * ansible_facts with Ansible's key names (the common ones).
 */
export const FACTS_SCRIPT = [
  'echo "hostname=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)"',
  'echo "fqdn=$(hostname -f 2>/dev/null || hostname 2>/dev/null)"',
  'echo "kernel=$(uname -r)"',
  'echo "kernel_version=$(uname -v)"',
  'echo "machine=$(uname -m)"',
  'echo "system=$(uname -s)"',
  'echo "user_id=$(id -un)"',
  'echo "user_uid=$(id -u)"',
  'if [ -r /etc/os-release ]; then . /etc/os-release; echo "os_id=$ID"; echo "os_version=$VERSION_ID"; echo "os_codename=$VERSION_CODENAME"; echo "os_name=$NAME"; fi',
  'r4=$(ip -4 route show default 2>/dev/null | head -n1); echo "def4=$r4"',
  'if [ -n "$r4" ]; then dev=$(echo "$r4" | sed -n "s/.* dev \\([^ ]*\\).*/\\1/p"); echo "def4dev=$dev"; echo "def4addr=$(ip -4 -o addr show dev "$dev" 2>/dev/null | awk \'{print $4}\' | head -n1)"; fi',
  'r6=$(ip -6 route show default 2>/dev/null | head -n1); echo "def6=$r6"',
  'if [ -n "$r6" ]; then dev=$(echo "$r6" | sed -n "s/.* dev \\([^ ]*\\).*/\\1/p"); echo "def6dev=$dev"; echo "def6addr=$(ip -6 -o addr show dev "$dev" scope global 2>/dev/null | awk \'{print $4}\' | head -n1)"; fi',
  'echo "ipv4_all=$(ip -4 -o addr show scope global 2>/dev/null | awk \'{print $4}\' | tr "\\n" " ")"',
  'echo "ipv6_all=$(ip -6 -o addr show scope global 2>/dev/null | awk \'{print $4}\' | tr "\\n" " ")"',
  'echo "memtotal_kb=$(awk \'/MemTotal/ {print $2}\' /proc/meminfo 2>/dev/null)"',
  'echo "nproc=$(nproc 2>/dev/null)"',
  'if [ -d /run/systemd/system ]; then echo "service_mgr=systemd"; else echo "service_mgr=$(cat /proc/1/comm 2>/dev/null)"; fi',
  'echo "python=$(command -v python3 2>/dev/null)"',
].join('\n');

const osFamily: Record<string, string> = { debian: 'Debian', ubuntu: 'Debian', fedora: 'RedHat', centos: 'RedHat', rhel: 'RedHat', rocky: 'RedHat', almalinux: 'RedHat', arch: 'Archlinux', alpine: 'Alpine', nixos: 'NixOS', opensuse: 'Suse' };

export function parseFacts(stdout: string): Record<string, unknown> {
  const kv: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  const addrOnly = (cidr: string | undefined) => (cidr ? cidr.split('/')[0]! : undefined);
  const gw = (route: string | undefined) => (route ? /via (\S+)/.exec(route)?.[1] : undefined);
  const id = kv['os_id'] ?? '';
  const facts: Record<string, unknown> = {
    hostname: kv['hostname'],
    nodename: kv['hostname'],
    fqdn: kv['fqdn'],
    kernel: kv['kernel'],
    kernel_version: kv['kernel_version'],
    architecture: kv['machine'],
    machine: kv['machine'],
    system: kv['system'],
    user_id: kv['user_id'],
    user_uid: Number(kv['user_uid']),
    distribution: id ? id.charAt(0).toUpperCase() + id.slice(1) : undefined,
    distribution_version: kv['os_version'],
    distribution_major_version: kv['os_version']?.split('.')[0],
    distribution_release: kv['os_codename'],
    os_family: osFamily[id] ?? (id ? id.charAt(0).toUpperCase() + id.slice(1) : undefined),
    default_ipv4: kv['def4'] ? { address: addrOnly(kv['def4addr']), interface: kv['def4dev'], gateway: gw(kv['def4']) } : {},
    default_ipv6: kv['def6'] ? { address: addrOnly(kv['def6addr']), interface: kv['def6dev'], gateway: gw(kv['def6']) } : {},
    all_ipv4_addresses: (kv['ipv4_all'] ?? '').split(' ').filter(Boolean).map((a) => addrOnly(a)),
    all_ipv6_addresses: (kv['ipv6_all'] ?? '').split(' ').filter(Boolean).map((a) => addrOnly(a)),
    memtotal_mb: kv['memtotal_kb'] ? Math.round(Number(kv['memtotal_kb']) / 1024) : undefined,
    processor_vcpus: kv['nproc'] ? Number(kv['nproc']) : undefined,
    service_mgr: kv['service_mgr'],
    python: kv['python'] ? { executable: kv['python'] } : undefined,
  };
  for (const k of Object.keys(facts)) if (facts[k] === undefined) delete facts[k];
  return facts;
}

/** ansible_facts plus the injected top-level `ansible_X` variables Ansible also sets. */
export function factVars(facts: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ansible_facts: facts };
  for (const [k, v] of Object.entries(facts)) out[`ansible_${k}`] = v;
  return out;
}
