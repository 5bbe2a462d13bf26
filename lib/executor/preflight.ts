/**
 * Checks that need the inventory as well as the playbook, done before any host is contacted: host patterns,
 * roles' argument_specs against the variables each host would give the role.
 */
import { ConfigErrors, RunbookError } from '../errors.js';
import type { Inventory } from '../inventory/index.js';
import type { PlaybookLoader } from '../playbook/loader.js';
import type { Playbook } from '../playbook/model.js';
import { checkRoleArgs } from '../playbook/argument-specs.js';
import { checkUndefined } from '../playbook/undefined-check.js';

export function preflight(pb: Playbook, inv: Inventory, loader: PlaybookLoader, extraVars: Record<string, unknown>, limit?: string): void {
  const errors: RunbookError[] = [];
  const seen = new Set<string>();
  const select = (pattern: string, pos?: { file: string; line: number; col: number }): string[] => {
    try {
      return inv.selectHosts(pattern);
    } catch (e) {
      if (e instanceof RunbookError) {
        if (pos && !e.pos) e.pos = pos;
        errors.push(e);
        return [];
      }
      throw e;
    }
  };
  if (limit) select(limit);
  for (const play of pb.plays) select(play.hosts, play.pos);
  for (const use of loader.roleUses) {
    if (!use.specs) continue;
    const hosts = select(use.play.hosts);
    const targets = hosts.length ? hosts : [undefined];
    for (const h of targets) {
      const vars = { ...use.role.defaults, ...(h ? inv.hostVars(h) : {}), ...use.play.vars, ...use.role.vars, ...use.role.params, ...extraVars };
      for (const p of checkRoleArgs(use.specs, vars, use.role.name)) {
        const msg = `${p.message}${h ? ` for host ${h}` : ''}`;
        const key = `${use.pos.file}:${use.pos.line}:${p.message}`;
        if (seen.has(key)) continue;
        seen.add(key);
        errors.push(new RunbookError('bad_argument', msg, { pos: use.pos }));
      }
    }
  }
  errors.push(...checkUndefined(pb, inv, extraVars));
  if (errors.length) throw new ConfigErrors(errors);
}
