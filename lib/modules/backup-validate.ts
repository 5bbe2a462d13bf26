/**
 * Ansible's `backup` and `validate` arguments of the modules that write a file whole (copy, template, lineinfile,
 * blockinfile, replace). Both ride on the plan's write step (atomicWriteScript does the work on the host):
 * - backup: before the rename, an existing file is copied to `PATH.PID.YYYY-MM-DD@HH:MM:SS~` (host local time), as
 *   AnsibleModule.backup_local names it; the name comes back after apply (finish) as `backup_file` (lineinfile:
 *   `backup`), and only when the file was rewritten: an attribute-only change or no change makes no backup.
 * - validate: the `%s` command runs against the temp file (content, owner, group and mode already set) before the
 *   rename; a non-zero exit fails the task with Ansible's `failed to validate: rc:N error:...` and the file is left
 *   as it was. In check mode nothing runs, as in Ansible (its modules validate only when not in check mode).
 */
import type { ExecResult } from '../connection/types.js';
import { backupFileOf, validateCommand } from '../connection/scripts.js';
import type { Plan } from './types.js';

export interface WriteOpts {
  backup: boolean;
  validate?: string;
}

export const WRITE_OPTS_SCHEMA = {
  backup: { type: 'boolean' },
  validate: { type: 'string', minLength: 1 },
} as const;

/** backup/validate from raw params; a validate without %s is refused with Ansible's message. */
export function writeOpts(params: Record<string, unknown>): WriteOpts {
  const o: WriteOpts = { backup: params.backup === true };
  if (typeof params.validate === 'string' && params.validate !== '') {
    validateCommand(params.validate); // throws bad_argument: "validate must contain %s: ..."
    o.validate = params.validate;
  }
  return o;
}

/** PURE: the plan with backup/validate on its write steps (a backup only where a file is being replaced). */
export function withWriteOpts(plan: Plan, o: WriteOpts, existing: boolean): Plan {
  if (!o.backup && o.validate === undefined) return plan;
  const steps = plan.steps.map((s) => {
    if (s.kind !== 'write') return s;
    const w = { ...s };
    if (o.backup && existing) w.backup = true;
    if (o.validate !== undefined) w.validate = o.validate;
    return w;
  });
  return { ...plan, steps };
}

/** finish(): the backup file a write step reported, under Ansible's key for the module. */
export function backupResult(outputs: ExecResult[], key: 'backup_file' | 'backup' = 'backup_file'): Record<string, unknown> {
  for (const o of outputs) {
    const b = backupFileOf(o.stdout);
    if (b !== undefined) return { [key]: b };
  }
  return {};
}
