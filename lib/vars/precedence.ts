/**
 * Variable precedence, in ONE place. Ansible's order, lowest first; runbook supports every source listed here:
 *
 *   1. role defaults (roles/X/defaults/main.yml)
 *   2. inventory group vars: all, then other groups by depth, ansible_group_priority and name
 *      (inventory-file vars, then inventory group_vars/ files, per group)
 *   3. inventory host vars (inventory-file vars, then host_vars/)
 *   4. host facts (gather_facts / setup)
 *   5. play vars
 *   6. play vars_files
 *   7. role vars (roles/X/vars/main.yml)
 *   8. block vars (outer block first)
 *   9. task vars
 *  10. include_vars
 *  11. set_fact and registered results
 *  12. role params (roles: - role: X, param: value)
 *  13. extra vars (-e), always win
 *
 * Dictionaries replace, they are not merged (Ansible's hash_behaviour=replace).
 */
export interface Layer {
  /** where the values come from, for `runbook vars` (e.g. "inventory group_vars/web.yml") */
  source: string;
  /** the precedence level name from the list above */
  level: string;
  vars: Record<string, unknown>;
}

export const LEVELS = [
  'role defaults',
  'inventory group vars',
  'inventory host vars',
  'host facts',
  'play vars',
  'play vars_files',
  'role vars',
  'block vars',
  'task vars',
  'include_vars',
  'set_fact / register',
  'role params',
  'extra vars',
] as const;

export function merge(layers: Layer[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const l of layers) Object.assign(out, l.vars);
  return out;
}

/** For each variable name, which layer won (the last one that sets it). */
export function winners(layers: Layer[]): Map<string, { value: unknown; layer: Layer; overridden: Layer[] }> {
  const out = new Map<string, { value: unknown; layer: Layer; overridden: Layer[] }>();
  for (const l of layers) {
    for (const [k, v] of Object.entries(l.vars)) {
      const prev = out.get(k);
      out.set(k, { value: v, layer: l, overridden: prev ? [...prev.overridden, prev.layer] : [] });
    }
  }
  return out;
}
