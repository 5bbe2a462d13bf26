// A private, copy-on-write root filesystem per lab host (LabOptions.privateRoot, the default; privateEtc is the same
// for /etc alone).
//
// In the host's anchor mount namespace every top-level directory of the machine's / except /proc, /sys, /dev, /run
// and /tmp gets an overlay: lower = the machine's directory, upper and work = the host's slot dir
// (slots/S/hI/root/{upper,work}/DIR). An overlay shows only its lower directory's own filesystem, not the mounts
// below it, so every mount below an overlaid directory (the /etc/netns/NS binds `ip netns exec` made, the shared
// podman rootfs's /usr, ...) is first moved aside with `mount --rbind` into slots/S/hI/root/stash/N and moved back
// on top of the overlay afterwards. Some paths stay the machine's own: /etc/netns (per-namespace views that
// `ip netns exec` binds, also for the pct stand-in's containers) and /var/lib/runbook-lab (the shared podman rootfs);
// see SHARED_INSIDE.
//
// Overlaying each top-level directory (rather than / as a whole plus pivot_root) keeps /proc, /sys, /dev and /run
// the anchor's own (podman, netavark, sshd's /run/sshd and the lab's files under /run/runbook-lab need them), and
// nsenter into the anchor still lands in the host's view with no chroot.
import { readdirSync } from 'node:fs';
import path from 'node:path';

/** Top-level directories that stay shared with the machine. /tmp stays shared on purpose: tests hand files both ways. */
export const SHARED_TOP = ['proc', 'sys', 'dev', 'run', 'tmp'];
/**
 * Paths inside overlaid directories that stay the machine's own: lab plumbing (/etc/netns, /var/lib/runbook-lab),
 * and /root/.pyenv, a toolchain the machine keeps changing underneath (every interactive bash runs `pyenv rehash`,
 * which creates and deletes a lock file). An overlay does not notice its lower directory changing: a host that looked
 * that lock file up while it existed keeps seeing it after the machine deleted it, and its own bash then waits 60 s
 * for the lock on every login. Paths that do not exist are skipped.
 */
export const SHARED_INSIDE = ['/etc/netns', '/var/lib/runbook-lab', '/root/.pyenv'];

export interface PrivateRootPlan {
  /** absolute top-level directories to overlay, e.g. /etc */
  overlays: string[];
  /** mount points (and shared paths) below them to keep on top of the overlays, outermost only */
  keep: { path: string; dir: boolean }[];
}

/** Decodes the octal escapes (\040 for a space, ...) of a mountinfo path. */
function unescapeMount(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The mount points in a /proc/PID/mountinfo text. */
export function mountPointsOf(mountinfo: string): string[] {
  return mountinfo
    .split('\n')
    .filter(Boolean)
    .map((line) => unescapeMount(line.split(' ')[4] ?? ''))
    .filter(Boolean);
}

/**
 * Which directories to overlay and which mounts below them to carry over. `tops`: the top-level directories to
 * overlay (absolute); `mounts`: the mount points of the namespace; `shared`: paths below the tops that must stay
 * the machine's own, when they exist (`isDir` says whether a path is a directory, or a file: undefined = absent).
 */
export function privateRootPlan(
  tops: string[],
  mounts: string[],
  shared: string[],
  isDir: (p: string) => boolean | undefined,
): PrivateRootPlan {
  const under = (p: string) => tops.some((t) => p.startsWith(t + '/'));
  const candidates = [...new Set([...mounts.filter(under), ...shared.filter((p) => under(p) && isDir(p) !== undefined)])];
  const outermost = candidates.filter((p) => !candidates.some((q) => q !== p && p.startsWith(q + '/'))).sort();
  const keep: { path: string; dir: boolean }[] = [];
  for (const p of outermost) {
    const d = isDir(p);
    if (d !== undefined) keep.push({ path: p, dir: d });
  }
  return { overlays: [...tops].sort(), keep };
}

/** The machine's top-level directories to overlay for a whole private root (not symlinks such as /bin -> usr/bin). */
export function rootTops(): string[] {
  return readdirSync('/', { withFileTypes: true })
    .filter((e) => e.isDirectory() && !SHARED_TOP.includes(e.name))
    .map((e) => '/' + e.name);
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Overlay options escape ',' ':' and '\' in paths; a top-level directory name with those is refused instead. */
function overlayPath(p: string): string {
  if (/[,:\\]/.test(p)) throw new Error(`cannot overlay ${JSON.stringify(p)}: ',', ':' or '\\' in the path`);
  return p;
}

/** The sh script (run inside the host's mount namespace) that carries out plan with its state under base. */
export function privateRootScript(plan: PrivateRootPlan, base: string): string {
  const lines = ['set -e', `mkdir -p ${q(base + '/stash')}`];
  plan.keep.forEach((k, i) => {
    const s = path.join(base, 'stash', String(i));
    lines.push(k.dir ? `mkdir -p ${q(s)}` : `: > ${q(s)}`, `mount --rbind ${q(k.path)} ${q(s)}`);
  });
  for (const d of plan.overlays) {
    const name = d.slice(1);
    const upper = path.join(base, 'upper', name);
    const work = path.join(base, 'work', name);
    lines.push(
      `mkdir -p ${q(upper)} ${q(work)}`,
      `mount -t overlay -o ${q(`lowerdir=${overlayPath(d)},upperdir=${overlayPath(upper)},workdir=${overlayPath(work)}`)} rbl-root ${q(d)}`,
    );
  }
  plan.keep.forEach((k, i) => {
    lines.push(`mount --move ${q(path.join(base, 'stash', String(i)))} ${q(k.path)}`);
  });
  // root's startup files as a fresh Debian host has them (/etc/skel), in the host's own copy of /root: the
  // machine's (a developer's pyenv, say) would run for every SSH command and contend for its locks across hosts
  if (plan.overlays.includes('/root')) lines.push('for f in .bashrc .profile; do [ -f /etc/skel/$f ] && cp /etc/skel/$f /root/$f || rm -f /root/$f; done');
  return lines.join('\n') + '\n';
}
