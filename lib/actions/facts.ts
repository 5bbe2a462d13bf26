/**
 * Fact gathering in ONE round trip: a read-only POSIX sh script prints the raw sources Ansible's setup module reads
 * (/proc/cpuinfo, /proc/meminfo, /etc/os-release, /sys/class/net, /proc/mounts, ...) as `@@@ name` sections, and a
 * pure parser (parseFacts) turns them into ansible_facts with Ansible's names and values, following
 * ansible/module_utils/facts (2.14) for the Linux collectors: platform, distribution, lsb, hardware (cpu, memory,
 * mounts), network, virtual, user, env, python, date_time, dns, selinux, pkg_mgr, service_mgr, chroot.
 */
import { cpuFacts, memoryFacts, mountFacts } from './gather/hardware.js';
import { kvLines, networkFacts } from './gather/network.js';

export { cpuFacts, memoryFacts, mountFacts, networkFacts };

/** The script. It only reads; GNU date, iproute2 `ip` and coreutils `stat -f` are used when present. */
export const FACTS_SCRIPT = String.raw`s() { echo "@@@ $1"; }
s uname; uname -s; uname -r; uname -v; uname -m; uname -n
s cpuinfo; grep -E '^(processor|vendor_id|model name|Processor|cpu|Vendor|physical id|core id|cpu cores|siblings|# processors|ncpus active)[[:space:]]*:' /proc/cpuinfo 2>/dev/null
s nproc; nproc 2>/dev/null
s xen; [ -e /proc/xen ] && echo yes
s meminfo; cat /proc/meminfo 2>/dev/null
s os_release; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null
s debian_version; cat /etc/debian_version 2>/dev/null
s lsb_release; command -v lsb_release >/dev/null 2>&1 && echo present
s lsb_file; cat /etc/lsb-release 2>/dev/null
s machine_id; cat /etc/machine-id 2>/dev/null || cat /var/lib/dbus/machine-id 2>/dev/null
s hostname_f; hostname -f 2>/dev/null
s route4; ip -4 route get 8.8.8.8 2>/dev/null
s route6; ip -6 route get 2404:6800:400a:800::1012 2>/dev/null
for d in /sys/class/net/*; do
  [ -d "$d" ] || continue
  s "if %{d##*/}"
  for f in address mtu operstate type flags speed; do v=; read -r v 2>/dev/null < "$d/$f"; [ -n "$v" ] && echo "$f=$v"; done
  [ -e "$d/device" ] && l=$(readlink "$d/device") && echo "pciid=%{l##*/}"
  [ -e "$d/device/driver/module" ] && l=$(readlink -f "$d/device/driver/module") && echo "module=%{l##*/}"
  [ -d "$d/bridge" ] && echo "bridge=$(ls "$d/brif" 2>/dev/null | tr '\n' ' ')"
done
s addr; ip addr show 2>/dev/null
s mounts; cat /etc/mtab 2>/dev/null || cat /proc/mounts 2>/dev/null
s findmnt; findmnt --list --noheadings --notruncate 2>/dev/null
s lsblk; lsblk --list --noheadings --paths --output NAME,UUID --exclude 2 2>/dev/null
s statvfs
while read -r dev mnt rest; do
  case "$dev" in /*|\\*|*:/*) ;; *) continue ;; esac
  m=$(printf '%b' "$mnt")
  echo "$mnt $(stat -f -c '%S %s %b %f %a %c %d' "$m" 2>/dev/null)"
done < /proc/mounts
s selinux; if [ -r /sys/fs/selinux/enforce ]; then cat /sys/fs/selinux/enforce; fi
s user; id -un; id -u; id -g; id -ru; id -rg; getent passwd "$(id -un)"
s pkg; for p in /usr/bin/apt-get /usr/bin/dnf /usr/bin/yum /usr/bin/zypper /usr/bin/pacman /sbin/apk /usr/bin/emerge /usr/sbin/pkg; do [ -x "$p" ] && echo "$p"; done
s svc
cat /proc/1/comm 2>/dev/null | sed 's/^/comm=/'
[ -L /sbin/init ] && echo "init=$(readlink /sbin/init)"
command -v systemctl >/dev/null 2>&1 && echo systemctl=1
command -v initctl >/dev/null 2>&1 && echo initctl=1
for p in /run/systemd/system/ /dev/.run/systemd/ /dev/.systemd/ /etc/init/ /sbin/openrc /etc/init.d/; do [ -e "$p" ] && echo "exists=$p"; done
s virt
grep -E '/docker(/|-[0-9a-f]+\.scope)|/lxc/|/machine\.slice/machine-lxc|/system\.slice/containerd\.service' /proc/1/cgroup 2>/dev/null | sed 's/^/cgroup=/'
tr '\0' '\n' 2>/dev/null < /proc/1/environ | grep '^container=' | sed 's/^/environ=/'
[ -e /proc/vz ] && [ ! -e /proc/lve ] && echo "vz=$([ -e /proc/bc ] && echo host || echo guest)"
[ -r /run/systemd/container ] && echo "systemd_container=$(cat /run/systemd/container)"
{ [ -e /.dockerenv ] || [ -e /.dockerinit ]; } && echo dockerenv=1
[ -e /proc/xen ] && echo "xen=$(grep -q control_d /proc/xen/capabilities 2>/dev/null && echo host || echo guest)"
for f in product_name sys_vendor bios_vendor; do v=$(cat "/sys/devices/virtual/dmi/id/$f" 2>/dev/null) && echo "$f=$v"; done
s dns; cat /etc/resolv.conf 2>/dev/null
s uptime; cat /proc/uptime 2>/dev/null
s fips; cat /proc/sys/crypto/fips_enabled 2>/dev/null
s chroot; echo "debian_chroot=$debian_chroot"; echo "root=$(stat -c '%d %i' / 2>/dev/null)"; echo "pid1=$(stat -c '%d %i' /proc/1/root/. 2>/dev/null)"; echo "fstype=$(stat -f -c %T / 2>/dev/null)"
s date; t=$(date +%s.%N); date -d "@$t" '+%Y|%m|%A|%w|%W|%d|%H|%M|%S|%s|%N|%Z|%z'; date -u -d "@$t" '+%Y-%m-%dT%H:%M:%S|%N'
py=; for p in /usr/bin/python3 /usr/libexec/platform-python /usr/bin/python; do [ -x "$p" ] && { py=$p; break; }; done
s python; [ -n "$py" ] && "$py" -c 'import sys, os, json, socket, time
try:
    import ssl; ssl.SSLContext; ctx = True
except Exception:
    ctx = False
print(json.dumps({"executable": sys.executable, "version_info": list(sys.version_info), "type": sys.implementation.name, "has_sslcontext": ctx, "fqdn": socket.getfqdn(), "tz_dst": time.tzname[1], "env": dict(os.environ)}))' 2>/dev/null
s env; [ -z "$py" ] && env
s end`.replace(/%\{/g, '$' + '{');

type Dict = Record<string, unknown>;

function sections(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('@@@ ')) {
      cur = [];
      out.set(line.slice(4), cur);
    } else if (cur) cur.push(line);
  }
  for (const v of out.values()) while (v.length && v[v.length - 1] === '') v.pop();
  return out;
}


/** os-release: KEY=value with optional shell quoting. */
function osRelease(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of lines) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(l.trim());
    if (!m) continue;
    let v = m[2]!;
    if (/^".*"$/.test(v)) v = v.slice(1, -1).replace(/\\(["$`\\])/g, '$1');
    else if (/^'.*'$/.test(v)) v = v.slice(1, -1);
    out[m[1]!] = v;
  }
  return out;
}

// ---------------------------------------------------------------- system

const FAMILY: Record<string, string> = {
  debian: 'Debian', ubuntu: 'Debian', raspbian: 'Debian', linuxmint: 'Debian', devuan: 'Debian', kali: 'Debian', pop: 'Debian',
  fedora: 'RedHat', centos: 'RedHat', rhel: 'RedHat', rocky: 'RedHat', almalinux: 'RedHat', ol: 'RedHat', amzn: 'RedHat',
  arch: 'Archlinux', manjaro: 'Archlinux', alpine: 'Alpine', nixos: 'NixOS', opensuse: 'Suse', 'opensuse-leap': 'Suse', sles: 'Suse', gentoo: 'Gentoo',
};
const DIST_NAME: Record<string, string> = {
  debian: 'Debian', ubuntu: 'Ubuntu', centos: 'CentOS', rhel: 'RedHat', fedora: 'Fedora', rocky: 'Rocky', almalinux: 'AlmaLinux',
  arch: 'Archlinux', alpine: 'Alpine', opensuse: 'openSUSE', 'opensuse-leap': 'openSUSE Leap', sles: 'SLES', linuxmint: 'Linux Mint',
  raspbian: 'Debian', amzn: 'Amazon', ol: 'OracleLinux', nixos: 'NixOS', gentoo: 'Gentoo', kali: 'Kali', devuan: 'Devuan', pop: 'Pop!_OS',
};

export function distributionFacts(osr: Record<string, string>, debianVersion: string | undefined): Dict {
  const id = (osr['ID'] ?? '').toLowerCase();
  if (!id) return {};
  let version = osr['VERSION_ID'] ?? '';
  // Debian: the full point release from /etc/debian_version (12.11); testing/sid say "trixie/sid" there
  if ((id === 'debian' || id === 'raspbian') && debianVersion && /^\d+(\.\d+)*$/.test(debianVersion.trim())) version = debianVersion.trim();
  const like = (osr['ID_LIKE'] ?? '').toLowerCase().split(/\s+/);
  const family = FAMILY[id] ?? (like.includes('debian') || like.includes('ubuntu') ? 'Debian' : like.some((l) => ['rhel', 'fedora', 'centos'].includes(l)) ? 'RedHat' : id.charAt(0).toUpperCase() + id.slice(1));
  const f: Dict = {
    distribution: DIST_NAME[id] ?? (osr['NAME'] ?? id),
    distribution_version: version,
    distribution_major_version: version.split('.')[0],
    distribution_release: osr['VERSION_CODENAME'] ?? osr['UBUNTU_CODENAME'] ?? '',
    os_family: family,
  };
  if (version.includes('.')) f['distribution_minor_version'] = version.split('.')[1];
  return f;
}

/** What `lsb_release -a` prints, from os-release (Debian's and Ubuntu's lsb_release read it; this saves a Python start). */
function lsbReleaseLines(osr: Record<string, string>): string[] {
  return [
    `Distributor ID:\t${(osr['NAME'] ?? osr['ID'] ?? '').split(/\s+/)[0]}`, `Description:\t${osr['PRETTY_NAME'] ?? ''}`,
    `Release:\t${osr['VERSION_ID'] ?? 'n/a'}`, `Codename:\t${osr['VERSION_CODENAME'] ?? 'n/a'}`,
  ];
}

function lsbFacts(bin: string[], file: string[]): Dict {
  const l: Dict = {};
  if (bin.length) {
    for (const line of bin) {
      if (!line.includes(':')) continue;
      const v = line.slice(line.indexOf(':') + 1).trim();
      if (line.includes('LSB Version:')) l['release'] = v;
      else if (line.includes('Distributor ID:')) l['id'] = v;
      else if (line.includes('Description:')) l['description'] = v;
      else if (line.includes('Release:')) l['release'] = v;
      else if (line.includes('Codename:')) l['codename'] = v;
    }
  } else {
    for (const line of file) {
      if (!line.includes('=')) continue;
      const v = line.slice(line.indexOf('=') + 1).trim();
      if (line.includes('DISTRIB_ID')) l['id'] = v;
      else if (line.includes('DISTRIB_RELEASE')) l['release'] = v;
      else if (line.includes('DISTRIB_DESCRIPTION')) l['description'] = v;
      else if (line.includes('DISTRIB_CODENAME')) l['codename'] = v;
    }
  }
  if (typeof l['release'] === 'string') l['major_release'] = l['release'].split('.')[0];
  return l;
}

function dnsFacts(lines: string[]): Dict {
  const d: Dict = {};
  for (const line of lines) {
    if (line.startsWith('#') || line.startsWith(';') || !line.trim()) continue;
    const t = line.split(/\s+/).filter(Boolean);
    if (t.length < 1) continue;
    if (t[0] === 'nameserver' && t[1]) ((d['nameservers'] ??= []) as string[]).push(t[1]);
    else if (t[0] === 'domain' && t[1]) d['domain'] = t[1];
    else if (t[0] === 'search') d['search'] = t.slice(1);
    else if (t[0] === 'sortlist') d['sortlist'] = t.slice(1);
    else if (t[0] === 'options') {
      const o: Dict = (d['options'] ??= {}) as Dict;
      for (const opt of t.slice(1)) {
        const i = opt.indexOf(':');
        if (i > 0) o[opt.slice(0, i)] = opt.slice(i + 1);
        else o[opt] = true;
      }
    }
  }
  return d;
}

function serviceMgr(kv: string[]): string {
  let proc1: string | undefined;
  const exists = new Set<string>();
  let systemctl = false, initctl = false, init: string | undefined;
  for (const l of kv) {
    if (l.startsWith('comm=')) proc1 = l.slice(5);
    else if (l.startsWith('init=')) init = l.slice(5);
    else if (l === 'systemctl=1') systemctl = true;
    else if (l === 'initctl=1') initctl = true;
    else if (l.startsWith('exists=')) exists.add(l.slice(7));
  }
  if (proc1 === undefined && init !== undefined) proc1 = init;
  if (proc1 !== undefined) proc1 = proc1.slice(proc1.lastIndexOf('/') + 1).trim();
  if (proc1 !== undefined && (proc1 === 'init' || proc1.endsWith('sh') || proc1 === '')) proc1 = undefined;
  const map: Record<string, string> = { procd: 'openwrt_init', 'runit-init': 'runit', svscan: 'svc', 'openrc-init': 'openrc' };
  if (proc1 !== undefined) return map[proc1] ?? proc1;
  if (systemctl && ['/run/systemd/system/', '/dev/.run/systemd/', '/dev/.systemd/'].some((p) => exists.has(p))) return 'systemd';
  if (initctl && exists.has('/etc/init/')) return 'upstart';
  if (exists.has('/sbin/openrc')) return 'openrc';
  if (systemctl && init !== undefined && init.slice(init.lastIndexOf('/') + 1) === 'systemd') return 'systemd';
  if (exists.has('/etc/init.d/')) return 'sysvinit';
  return 'service';
}

/** Ansible's LinuxVirtual, the container checks and the DMI names; otherwise NA. */
function virtFacts(lines: string[]): Dict {
  const guest = new Set<string>(), host = new Set<string>();
  let type: string | undefined, role: string | undefined;
  const found = (t: string, r: string, set = guest) => { set.add(t); if (!type) { type = t; role = r; } };
  const kv = lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const);
  for (const [k, v] of kv) {
    if (k !== 'cgroup') continue;
    if (/\/docker(\/|-[0-9a-f]+\.scope)/.test(v)) found('docker', 'guest');
    if (/\/lxc\//.test(v) || /\/machine.slice\/machine-lxc/.test(v)) found('lxc', 'guest');
    if (/\/system.slice\/containerd.service/.test(v)) found('containerd', 'guest');
  }
  for (const [k, v] of kv) {
    if (k !== 'environ') continue;
    if (/container=lxc/.test(v)) found('lxc', 'guest');
    if (/container=podman/.test(v)) found('podman', 'guest');
    if (/^container=./.test(v)) found('container', 'guest');
  }
  const get = (k: string) => kv.find(([a]) => a === k)?.[1];
  const vz = get('vz');
  if (vz) { (vz === 'host' ? host : guest).add('openvz'); if (!type) { type = 'openvz'; role = vz; } else type = 'openvz'; }
  const sc = get('systemd_container');
  if (sc) found(sc, 'guest');
  if (get('dockerenv')) found('docker', 'guest');
  if ([...guest].some((t) => ['docker', 'lxc', 'podman', 'openvz', 'containerd'].includes(t)) || sc) guest.add('container');
  const xen = get('xen');
  if (xen) { (xen === 'host' ? host : guest).add('xen'); if (!type) { type = 'xen'; role = xen; } }
  const product = get('product_name'), vendor = get('sys_vendor'), bios = get('bios_vendor');
  const dmi = (t: string) => { guest.add(t); if (!type) { type = t; role ??= 'guest'; } };
  if (product && ['KVM', 'KVM Server', 'Bochs', 'AHV'].includes(product)) dmi('kvm');
  if (product && ['VMware Virtual Platform', 'VMware7,1'].includes(product)) dmi('VMware');
  if (product && ['OpenStack Compute', 'OpenStack Nova'].includes(product)) dmi('openstack');
  if (bios === 'Xen') dmi('xen');
  if (bios === 'innotek GmbH') dmi('virtualbox');
  if (bios && ['Amazon EC2', 'DigitalOcean', 'Hetzner'].includes(bios)) dmi('kvm');
  if (vendor && ['QEMU', 'Amazon EC2', 'DigitalOcean', 'Google', 'Scaleway', 'Nutanix'].includes(vendor)) dmi('kvm');
  if (vendor === 'Microsoft Corporation') dmi('VirtualPC');
  if (vendor === 'Parallels Software International Inc.') dmi('parallels');
  return { virtualization_type: type ?? 'NA', virtualization_role: role ?? 'NA', virtualization_tech_guest: [...guest], virtualization_tech_host: [...host] };
}

function dateTimeFacts(lines: string[], tzDst: string | undefined): Dict | undefined {
  const local = (lines[0] ?? '').split('|');
  const utc = (lines[1] ?? '').split('|');
  if (local.length < 13 || utc.length < 2) return undefined;
  const [Y, m, A, w, W, d, H, M, S, s, N, Z, z] = local as string[] as [string, string, string, string, string, string, string, string, string, string, string, string, string];
  const micro = N.slice(0, 6);
  return {
    year: Y, month: m, weekday: A, weekday_number: w, weeknumber: W, day: d, hour: H, minute: M, second: S,
    epoch: s, epoch_int: String(parseInt(s, 10)), date: `${Y}-${m}-${d}`, time: `${H}:${M}:${S}`,
    iso8601_micro: `${utc[0]}.${utc[1]!.slice(0, 6)}Z`, iso8601: `${utc[0]}Z`,
    iso8601_basic: `${Y}${m}${d}T${H}${M}${S}${micro}`, iso8601_basic_short: `${Y}${m}${d}T${H}${M}${S}`,
    tz: Z, tz_dst: tzDst ?? Z, tz_offset: z,
  };
}

/** Ansible's is_chroot(): $debian_chroot, else / against /proc/1/root, else (no access to it) /'s inode against the file system's root inode. */
function isChroot(ch: Record<string, string>): boolean {
  if (ch['debian_chroot']) return true;
  if (ch['pid1']) return ch['root'] !== ch['pid1'];
  const rootIno = ch['fstype'] === 'btrfs' ? '256' : ch['fstype'] === 'xfs' ? '128' : '2';
  return ch['root']!.split(' ')[1] !== rootIno;
}

const PKG: [string, string][] = [['/usr/bin/apt-get', 'apt'], ['/usr/bin/dnf', 'dnf'], ['/usr/bin/yum', 'yum'], ['/usr/bin/zypper', 'zypper'], ['/usr/bin/pacman', 'pacman'], ['/sbin/apk', 'apk'], ['/usr/bin/emerge', 'portage'], ['/usr/sbin/pkg', 'pkgng']];

export function parseFacts(stdout: string): Dict {
  const secs = sections(stdout);
  const sec = (n: string) => secs.get(n) ?? [];
  const first = (n: string) => sec(n)[0]?.trim() || undefined;
  const [system, kernel, kernelVersion, machine, node] = sec('uname');
  const arch = machine ?? '';
  let py: Dict | undefined;
  try { py = first('python') ? (JSON.parse(sec('python').join('\n')) as Dict) : undefined; } catch { py = undefined; }
  const fqdn = (py?.['fqdn'] as string | undefined) ?? first('hostname_f') ?? node;
  const f: Dict = {
    system, kernel, kernel_version: kernelVersion, machine, architecture: arch,
    userspace_architecture: arch,
    nodename: node, hostname: node?.split('.')[0], fqdn, domain: fqdn ? fqdn.split('.').slice(1).join('.') : undefined,
    machine_id: first('machine_id'),
  };
  const osr = osRelease(sec('os_release'));
  Object.assign(f, distributionFacts(osr, first('debian_version')));
  f['lsb'] = lsbFacts(first('lsb_release') ? lsbReleaseLines(osr) : [], sec('lsb_file'));
  const np = first('nproc');
  Object.assign(f, cpuFacts(sec('cpuinfo'), np ? parseInt(np, 10) : undefined, arch, !!first('xen')));
  Object.assign(f, memoryFacts(sec('meminfo')));
  f['mounts'] = mountFacts(sec('mounts'), sec('findmnt'), sec('lsblk'), sec('statvfs'));
  Object.assign(f, networkFacts(secs));
  const enforce = first('selinux');
  f['selinux'] = enforce === undefined ? { status: 'disabled' } : { status: 'enabled', mode: enforce === '1' ? 'enforcing' : 'permissive' };
  f['selinux_python_present'] = true;
  const u = sec('user');
  if (u.length >= 3) {
    const pw = (u[5] ?? '').split(':');
    Object.assign(f, {
      user_id: u[0], user_uid: Number(u[1]), user_gid: Number(u[2]),
      ...(pw.length >= 7 ? { user_uid: Number(pw[2]), user_gid: Number(pw[3]), user_gecos: pw[4], user_dir: pw[5], user_shell: pw[6] } : {}),
      real_user_id: Number(u[3] ?? u[1]), effective_user_id: Number(u[1]), real_group_id: Number(u[4] ?? u[2]), effective_group_id: Number(u[4] ?? u[2]),
    });
  }
  const pk = sec('pkg');
  f['pkg_mgr'] = PKG.find(([p]) => pk.includes(p))?.[1] ?? 'unknown';
  f['service_mgr'] = serviceMgr(sec('svc'));
  Object.assign(f, virtFacts(sec('virt')));
  f['dns'] = dnsFacts(sec('dns'));
  const up = first('uptime');
  if (up) f['uptime_seconds'] = Math.trunc(parseFloat(up));
  // Ansible's fips fact: /proc/sys/crypto/fips_enabled says 1 (false when it is missing or says anything else)
  f['fips'] = first('fips')?.trim() === '1';
  const ch = kvLines(sec('chroot'));
  if (ch['root']) f['is_chroot'] = isChroot(ch);
  f['date_time'] = dateTimeFacts(sec('date'), py?.['tz_dst'] as string | undefined);
  if (py) {
    const vi = py['version_info'] as [number, number, number, string, number];
    f['python'] = {
      executable: py['executable'], has_sslcontext: py['has_sslcontext'], type: py['type'],
      version: { major: vi[0], minor: vi[1], micro: vi[2], releaselevel: vi[3], serial: vi[4] }, version_info: vi,
    };
    f['python_version'] = `${vi[0]}.${vi[1]}.${vi[2]}`;
    f['env'] = py['env'];
  } else {
    const env: Record<string, string> = {};
    for (const l of sec('env')) { const i = l.indexOf('='); if (i > 0) env[l.slice(0, i)] = l.slice(i + 1); }
    f['env'] = env;
  }
  f['gather_subset'] = ['all'];
  f['module_setup'] = true;
  for (const k of Object.keys(f)) if (f[k] === undefined) delete f[k];
  return f;
}

/** ansible_facts plus the injected top-level `ansible_X` variables Ansible also sets (module_setup and gather_subset are not prefixed). */
export function factVars(facts: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ansible_facts: facts };
  for (const [k, v] of Object.entries(facts)) out[k === 'module_setup' || k === 'gather_subset' ? k : `ansible_${k}`] = v;
  return out;
}
