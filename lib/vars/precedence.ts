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

/** Where a host's variables come from at one point of a run; absent sources are skipped. */
export interface LayerSources {
  role?: { name: string; defaults: Record<string, unknown>; vars: Record<string, unknown>; params: Record<string, unknown> };
  /** inventory group and host layers, lowest first (Inventory.hostLayers) */
  inventory?: Layer[];
  facts?: Record<string, unknown>;
  playVars?: Record<string, unknown>;
  playVarsFiles?: Record<string, unknown>;
  blockVars?: Record<string, unknown>[];
  taskVars?: Record<string, unknown>;
  includeVars?: Record<string, unknown>;
  setFacts?: Record<string, unknown>;
  extraVars?: Record<string, unknown>;
  /** how extra vars are named in `runbook vars` */
  extraVarsSource?: string;
}

/** The layers of LEVELS, in that order, from the sources at hand: every caller builds its layers here. */
export function precedenceLayers(s: LayerSources): Layer[] {
  const out: Layer[] = [];
  const add = (level: (typeof LEVELS)[number], source: string, vars: Record<string, unknown> | undefined) => {
    if (vars) out.push({ source, level, vars });
  };
  const role = s.role;
  add('role defaults', `role ${role?.name} defaults`, role?.defaults);
  if (s.inventory) out.push(...s.inventory);
  add('host facts', 'facts', s.facts);
  add('play vars', 'play vars', s.playVars);
  add('play vars_files', 'play vars_files', s.playVarsFiles);
  add('role vars', `role ${role?.name} vars`, role?.vars);
  for (const bv of s.blockVars ?? []) add('block vars', 'block vars', bv);
  add('task vars', 'task vars', s.taskVars);
  add('include_vars', 'include_vars', s.includeVars);
  add('set_fact / register', 'set_fact / register', s.setFacts);
  add('role params', `role ${role?.name} params`, role?.params);
  add('extra vars', s.extraVarsSource ?? 'extra vars', s.extraVars);
  return out;
}

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
