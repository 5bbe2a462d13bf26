/** Name -> module or action. Short names, ansible.builtin.X, ansible.legacy.X and each module's own aliases. */
import type { ModuleDef } from './types.js';
import { ACTIONS, type ActionDef } from '../actions/index.js';
import { MODULES } from './index.js';

export type Resolved = { kind: 'module'; def: ModuleDef<any> } | { kind: 'action'; def: ActionDef };

let table: Map<string, Resolved> | undefined;

function build(): Map<string, Resolved> {
  const t = new Map<string, Resolved>();
  for (const def of MODULES) {
    for (const n of [def.name, ...def.aliases]) t.set(n, { kind: 'module', def });
  }
  for (const def of ACTIONS) {
    for (const n of [def.name, ...def.aliases]) t.set(n, { kind: 'action', def });
  }
  return t;
}

export function resolveAction(name: string): Resolved | undefined {
  table ??= build();
  return table.get(name);
}

export function allNames(): string[] {
  table ??= build();
  return [...table.keys()];
}

export function allModules(): ModuleDef<any>[] {
  return MODULES;
}

export function allActions(): ActionDef[] {
  return ACTIONS;
}
