// The shared container root filesystem for `podman run --rootfs DIR` in lab hosts.
//
// DIR holds the machine's /usr bind-mounted read-only, bin/sbin/lib/lib64 symlinks into usr, empty proc, sys, dev,
// tmp, run, and a minimal /etc. It is cached across labs: created when missing, mounted when /usr is not mounted
// there yet, and never unmounted by a lab's destroy() (other labs, and the mount namespaces of their sshd servers,
// use it). `releaseRootfs()` (used by `bin/lab.js clean --all`) unmounts it when no lab exists any more.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { LabError, must, sleep } from './proc.js';

export const ROOTFS_BASE = '/var/lib/runbook-lab';
export const ROOTFS_DIR = path.join(ROOTFS_BASE, 'rootfs');
const LOCK_DIR = path.join(ROOTFS_BASE, 'rootfs.lock');

/** Mount points currently in this process's mount namespace. */
export function mountPoints(): string[] {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}

export function isMountPoint(dir: string): boolean {
  return mountPoints().includes(dir);
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(ROOTFS_BASE, { recursive: true });
  let locked = false;
  for (let i = 0; i < 200 && !locked; i++) {
    try {
      mkdirSync(LOCK_DIR);
      locked = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A lock older than 30 s belongs to a killed process.
      try {
        if (Date.now() - statSync(LOCK_DIR).mtimeMs > 30_000) rmSync(LOCK_DIR, { recursive: true, force: true });
      } catch {
        /* raced with its owner */
      }
      await sleep(50);
    }
  }
  if (!locked) throw new LabError(`could not take ${LOCK_DIR} within 10 s`);
  try {
    return await fn();
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

const ETC_FILES: Record<string, string> = {
  passwd: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
  group: 'root:x:0:\nnogroup:x:65534:\n',
  hosts: '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n',
  'resolv.conf': '# runbook lab: no DNS\n',
  'nsswitch.conf': 'passwd: files\ngroup: files\nhosts: files\n',
};

/** Creates (if needed) and mounts (if needed) the shared rootfs; returns its path. Idempotent, safe to race. */
export async function ensureRootfs(): Promise<string> {
  return withLock(async () => {
    const dir = ROOTFS_DIR;
    for (const d of ['usr', 'proc', 'sys', 'dev', 'tmp', 'run', 'var/tmp', 'root', 'etc', 'home', 'mnt']) {
      mkdirSync(path.join(dir, d), { recursive: true });
    }
    chmodSync(path.join(dir, 'tmp'), 0o1777);
    chmodSync(path.join(dir, 'var/tmp'), 0o1777);
    for (const d of ['bin', 'sbin', 'lib', 'lib64', 'lib32', 'libx32']) {
      if (!existsSync(path.join('/usr', d))) continue;
      const link = path.join(dir, d);
      if (!existsSync(link)) {
        try {
          symlinkSync(`usr/${d}`, link);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
      }
    }
    for (const [name, content] of Object.entries(ETC_FILES)) {
      const f = path.join(dir, 'etc', name);
      if (!existsSync(f)) writeFileSync(f, content);
    }
    const usr = path.join(dir, 'usr');
    if (!isMountPoint(usr)) {
      await must(['mount', '--bind', '/usr', usr]);
      await must(['mount', '-o', 'remount,bind,ro', usr]);
    }
    return dir;
  });
}

/** Unmounts the shared rootfs's /usr if no lab directory exists (labsDir is the lab registry). */
export async function releaseRootfs(labsDir: string): Promise<boolean> {
  return withLock(async () => {
    const labs = existsSync(labsDir) ? readdirSync(labsDir) : [];
    if (labs.length > 0) return false;
    const usr = path.join(ROOTFS_DIR, 'usr');
    // A stacked mount (from an older, racing version) needs more than one umount; bound it.
    for (let i = 0; i < 5 && isMountPoint(usr); i++) await must(['umount', usr]);
    return !isMountPoint(usr);
  });
}
