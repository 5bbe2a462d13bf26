// The text of the files and scripts the lab writes for its hosts: sshd_config, the per-host /etc/netns/NS views
// (containers.conf, storage.conf, systemd, passwd), the anchor's init script and the internet HTTP server.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const SSHD = '/usr/sbin/sshd';
const SFTP_SERVER = '/usr/lib/openssh/sftp-server';

/**
 * Each host has one long-lived "anchor" process (`sleep infinity`) started with `ip netns exec NS`, so it lives in
 * the host's netns and in the mount namespace `ip netns exec` made (with the /etc/netns/NS/* bind mounts and its
 * own /sys). sshd (hence every SSH session) and exec() join the anchor's namespaces with nsenter, so they all share
 * one mount namespace per host. That matters for podman: it bind-mounts container netns files under /run/netns in
 * its own mount namespace, and a later podman command (or `podman rm`) started with a fresh `ip netns exec` would
 * not see them ("unknown FS magic"), leaking them.
 *
 * `ip netns exec` remounts /sys, which leaves /sys/fs/cgroup an empty sysfs directory; crun then refuses to start
 * ("invalid file system type on '/sys/fs/cgroup'"), so the anchor mounts cgroup2 there first.
 *
 * Each host also gets its own /run/lock (a small tmpfs), as a real machine has: runbook's per-host run lock lives
 * there, and hosts sharing the root's /run/lock would lock each other out.
 */
export const ANCHOR_INIT =
  'mountpoint -q /sys/fs/cgroup || mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null; ' +
  'mkdir -p /run/lock && mount -t tmpfs -o mode=1777,size=1m lab-run-lock /run/lock; exec "$@"';
/** sshd_config of a host: listens on its address only, its own host key, the lab's authorized_keys. */
export function sshdConfig(host: { name: string; ns: string; address: string; port: number }, hostDir: string, labDir: string): string {
  return [
    `# runbook lab sshd for ${host.name} (netns ${host.ns})`,
    `Port ${host.port}`,
    `ListenAddress ${host.address}`,
    'AddressFamily inet',
    `HostKey ${path.join(hostDir, 'ssh_host_ed25519_key')}`,
    `PidFile ${path.join(hostDir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${path.join(labDir, 'authorized_keys')}`,
    'StrictModes no',
    'UsePAM no',
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
    'AcceptEnv LANG LC_*',
    `Subsystem sftp ${SFTP_SERVER}`,
    '',
  ].join('\n');
}

function containersConf(podmanDir: string): string {
  return [
    '# runbook lab: per-host podman settings (bind-mounted over /etc/containers by `ip netns exec`)',
    '[containers]',
    'cgroups = "disabled"',
    'default_ulimits = ["nofile=1000:1000","nproc=1000:1000"]',
    'log_driver = "k8s-file"',
    '',
    '[network]',
    'network_backend = "netavark"',
    '',
    '[engine]',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `events_logfile_path = "${path.join(podmanDir, 'events.log')}"`,
    // Rootful podman's default lock is one shared-memory segment for the whole machine; per-host podman states
    // must not share it.
    'lock_type = "file"',
    `tmp_dir = "${path.join(podmanDir, 'tmp')}"`,
    '',
  ].join('\n');
}

function storageConf(podmanDir: string): string {
  return [
    '[storage]',
    'driver = "vfs"',
    `graphroot = "${path.join(podmanDir, 'storage')}"`,
    `runroot = "${path.join(podmanDir, 'run')}"`,
    '',
  ].join('\n');
}

/** /etc/netns/NS: private /etc/sysctl.d, /etc/containers and /etc/systemd (with an empty system/) for the host. */
export function writeEtcNetns(ns: string, podmanDir: string, shell?: string): void {
  const etc = path.join('/etc/netns', ns);
  rmSync(etc, { recursive: true, force: true });
  mkdirSync(path.join(etc, 'sysctl.d'), { recursive: true });
  mkdirSync(path.join(etc, 'systemd', 'system'), { recursive: true });
  mkdirSync(path.join(etc, 'containers', 'networks'), { recursive: true });
  // /etc/netns/NS/systemd replaces all of /etc/systemd: keep its top-level config files.
  if (existsSync('/etc/systemd')) {
    for (const f of readdirSync('/etc/systemd', { withFileTypes: true })) {
      if (f.isFile()) copyFileSync(path.join('/etc/systemd', f.name), path.join(etc, 'systemd', f.name));
    }
  }
  for (const f of ['policy.json', 'registries.conf']) {
    if (existsSync(path.join('/etc/containers', f))) copyFileSync(path.join('/etc/containers', f), path.join(etc, 'containers', f));
  }
  writeFileSync(path.join(etc, 'containers', 'containers.conf'), containersConf(podmanDir));
  writeFileSync(path.join(etc, 'containers', 'storage.conf'), storageConf(podmanDir));
  if (shell !== undefined) {
    const passwd = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((l) => (l.startsWith('root:') ? l.split(':').slice(0, 6).concat(shell).join(':') : l))
      .join('\n');
    writeFileSync(path.join(etc, 'passwd'), passwd, { mode: 0o644 });
  }
}

export const HTTP_SERVER = `'use strict';
// runbook lab "internet": answers every HTTP request with the caller's source address.
const http = require('node:http');
const fs = require('node:fs');
const [addr, port, ready] = process.argv.slice(2);
const server = http.createServer((req, res) => {
  const body = (req.socket.remoteAddress || '') + '\\n';
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
});
server.on('error', (e) => { console.error(e); process.exit(1); });
server.listen(Number(port), addr, () => fs.writeFileSync(ready, String(process.pid)));
`;
