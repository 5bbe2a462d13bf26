// Lab extension: make a lab host stand in for a Proxmox VE host with LXC containers.
//
// Each "container" is a network namespace of its own (only `lo`, no sshd), named rbl<slot>-<host>ct<vmid> so the
// lab's teardown removes it with the rest of the slot, with a private /etc/sysctl.d (/etc/netns/<ns>/sysctl.d, bound
// over /etc/sysctl.d by `ip netns exec`), like the lab hosts themselves.
//
// The host gets an executable `pct` that implements `pct exec VMID -- CMD [ARG...]` (refusing non-root callers,
// like Proxmox's) by running CMD with `ip netns exec <container ns>`: stdin, stdout, stderr and the exit code pass
// through. The script lives in the lab dir and is bind-mounted over /usr/local/sbin in the host's own mount
// namespace only (the one its sshd and every SSH session share), so the machine and other lab hosts never see it;
// it disappears with the host's anchor process, and removePct() unmounts it earlier.
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Lab } from './lab.js';
import { LabError, must, run } from './proc.js';

export interface PctContainer {
  vmid: number;
  /** the container's network namespace (on the machine: `ip netns exec NS ...` enters it) */
  ns: string;
  /** its private /etc/sysctl.d, as the machine sees it */
  sysctlDir: string;
}

export interface PctHost {
  host: string;
  containers: PctContainer[];
  /** where the pct script lives (bound over /usr/local/sbin inside the host) */
  binDir: string;
  /** one line per `pct exec`: "<vmid> <uid>" */
  logFile: string;
}

const BIN_MOUNT = '/usr/local/sbin';

function pctScript(containers: PctContainer[], logFile: string, runLockBase: string): string {
  const cases = containers.map((c) => `  ${c.vmid}) ns=${c.ns} ;;`).join('\n');
  return `#!/bin/sh
# runbook lab stand-in for Proxmox's pct (lib/lab/pct.ts): only \`pct exec VMID -- CMD [ARG...]\`
if [ "$(id -u)" != 0 ]; then
  echo "pct: permission denied - only root can run pct" >&2
  exit 255
fi
if [ "\${1:-}" != exec ] || [ $# -lt 2 ]; then
  echo "pct: lab stand-in: only 'pct exec VMID -- CMD [ARG...]' is implemented" >&2
  exit 255
fi
vmid=$2
shift 2
[ "\${1:-}" = -- ] && shift
case $vmid in
${cases}
  *) echo "Configuration file 'nodes/lab/lxc/$vmid.conf' does not exist" >&2; exit 2 ;;
esac
if [ $# -eq 0 ]; then
  echo "pct: missing command" >&2
  exit 255
fi
printf '%s %s\\n' "$vmid" "$(id -u)" >> ${logFile}
# a container has its own /run/lock (runbook's per-host run lock lives there): bind the container's own directory
# over it inside the mount namespace that \`ip netns exec\` makes for this command
exec ip netns exec "$ns" /bin/sh -c 'mount --bind "$1" /run/lock || exit 255; shift; exec "$@"' pct-enter "${runLockBase}$vmid" "$@"
`;
}

/**
 * Makes lab host `host` a Proxmox stand-in with containers `vmids`. Bounded: every command has a timeout.
 */
export async function installPct(lab: Lab, host: string, vmids: number[]): Promise<PctHost> {
  const h = lab.host(host);
  if (vmids.length === 0 || vmids.some((v) => !Number.isInteger(v) || v < 100 || v > 999_999_999)) {
    throw new LabError(`installPct: container ids must be integers from 100, got ${JSON.stringify(vmids)}`);
  }
  const containers: PctContainer[] = vmids.map((vmid) => {
    const ns = `rbl${lab.slot}-${h.name}ct${vmid}`;
    return { vmid, ns, sysctlDir: path.join('/etc/netns', ns, 'sysctl.d') };
  });
  const binDir = path.join(lab.dir, 'hosts', h.name, 'pct-bin');
  const logFile = path.join(lab.dir, 'hosts', h.name, 'pct.log');
  mkdirSync(binDir, { recursive: true });
  writeFileSync(logFile, '');
  for (const c of containers) {
    rmSync(path.dirname(c.sysctlDir), { recursive: true, force: true });
    mkdirSync(c.sysctlDir, { recursive: true });
    await must(['ip', 'netns', 'add', c.ns], { timeoutMs: 10_000 });
    await must(['ip', '-n', c.ns, 'link', 'set', 'lo', 'up'], { timeoutMs: 10_000 });
  }
  const runLockBase = path.join(lab.dir, 'hosts', h.name, 'run-lock-');
  for (const c of containers) {
    mkdirSync(runLockBase + c.vmid, { recursive: true });
    chmodSync(runLockBase + c.vmid, 0o1777);
  }
  writeFileSync(path.join(binDir, 'pct'), pctScript(containers, logFile, runLockBase), { mode: 0o755 });
  const r = await lab.exec(h, ['mount', '--bind', binDir, BIN_MOUNT], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new LabError(`installPct: cannot bind ${binDir} over ${BIN_MOUNT} in ${h.name}: ${r.stderr}`);
  return { host: h.name, containers, binDir, logFile };
}

/** Runs argv inside a container (as the machine sees it, not through the Proxmox host): for assertions. */
export async function execInContainer(c: PctContainer, argv: string[], opts: { timeoutMs?: number } = {}) {
  return run(['ip', 'netns', 'exec', c.ns, ...argv], { timeoutMs: opts.timeoutMs ?? 20_000 });
}

/** Undoes installPct (the lab's destroy() would also remove the namespaces and /etc/netns dirs). Idempotent. */
export async function removePct(lab: Lab, p: PctHost): Promise<void> {
  await lab.exec(p.host, ['umount', BIN_MOUNT], { timeoutMs: 10_000 }).catch(() => undefined);
  for (const c of p.containers) {
    await run(['ip', 'netns', 'pids', c.ns], { timeoutMs: 10_000 }).then(async (r) => {
      for (const pid of r.stdout.split('\n').map(Number).filter((n) => n > 0)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    });
    await run(['ip', 'netns', 'del', c.ns], { timeoutMs: 10_000 });
    rmSync(path.dirname(c.sysctlDir), { recursive: true, force: true });
  }
  rmSync(p.binDir, { recursive: true, force: true });
  for (const c of p.containers) rmSync(path.join(path.dirname(p.logFile), `run-lock-${c.vmid}`), { recursive: true, force: true });
}
