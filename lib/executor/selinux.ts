/**
 * SELinux file contexts (seuser, serole, setype, selevel of file, copy, template, ...). Ansible applies them only
 * where SELinux is enabled and ignores them everywhere else, so roles written for both families (geerlingguy.mysql's
 * `setype: mysqld_db_t`) run unchanged on Debian. runbook does the same on a host without SELinux; on a host with
 * SELinux enabled it does not set contexts yet, and says so instead of pretending.
 */
import { RunbookError } from '../errors.js';
import type { Connection } from '../connection/types.js';

export const SELINUX_ARGS = ['seuser', 'serole', 'setype', 'selevel'] as const;

export function hasSelinuxArgs(args: Record<string, unknown>): boolean {
  return SELINUX_ARGS.some((k) => k in args);
}

/** Is SELinux enabled on the host? Asked once per host (`cache`), read from /sys/fs/selinux as Ansible's facts do. */
export async function selinuxEnabled(conn: Connection, cache: { selinux?: Promise<boolean> }): Promise<boolean> {
  cache.selinux ??= conn.run('if [ -r /sys/fs/selinux/enforce ]; then echo enabled; else echo disabled; fi').then((r) => r.stdout.trim() === 'enabled');
  return cache.selinux;
}

/** The arguments without the SELinux ones, for a host without SELinux; an error on a host with it. */
export async function withoutSelinuxArgs(module: string, args: Record<string, unknown>, conn: Connection, cache: { selinux?: Promise<boolean> }): Promise<Record<string, unknown>> {
  if (!hasSelinuxArgs(args)) return args;
  const given = SELINUX_ARGS.filter((k) => k in args);
  if (await selinuxEnabled(conn, cache)) {
    throw new RunbookError('bad_argument', `${module}: SELinux contexts (${given.join(', ')}) are not supported by runbook yet, and SELinux is enabled on this host`);
  }
  const out = { ...args };
  for (const k of given) delete out[k];
  return out;
}
