import type { RunbookError, SourcePos } from '../errors.js';

export interface InvHost {
  name: string;
  /** all groups it belongs to, incl. ancestors and 'all', in variable order (depth, ansible_group_priority, name) */
  groups: string[];
}

export interface InvGroup {
  name: string;
  children: string[];
  /** hosts listed directly in this group (not those of its children) */
  hosts: string[];
  parents: string[];
}

/** Ansible's names for the variable sources an inventory provides, lowest precedence first. */
export type InventoryPrecedence =
  | 'inventory file or script group vars'
  | 'inventory group_vars/all'
  | 'inventory group_vars/*'
  | 'inventory file or script host vars'
  | 'inventory host_vars/*';

export interface VarLayer {
  /** e.g. 'inventory/hosts.yml group all', 'inventory/group_vars/web.yml', 'inventory/host_vars/h1/main.yml' */
  source: string;
  precedence: InventoryPrecedence;
  vars: Record<string, unknown>;
  /** where a key of `vars` was set */
  pos?: (key: string) => SourcePos | undefined;
}

export interface Inventory {
  /** insertion (file) order */
  hosts: Map<string, InvHost>;
  groups: Map<string, InvGroup>;
  /**
   * Variable layers for a host, LOWEST precedence first, in Ansible's default order (VARIABLE_PRECEDENCE =
   * all_inventory, groups_inventory, all_plugins_inventory, groups_plugins_inventory; then host vars):
   *  1. inventory-file vars of `all`,
   *  2. inventory-file vars of the host's other groups, sorted by depth, ansible_group_priority, name,
   *  3. group_vars/all (per inventory source),
   *  4. group_vars/GROUP for the host's other groups, same order,
   *  5. the host's inventory-file vars,
   *  6. host_vars/HOST.
   * Throws RunbookError('config') for an unknown host.
   */
  hostLayers(host: string): VarLayer[];
  /** merged host variables (later layers win; dicts replace, like Ansible's default hash_behaviour=replace) */
  hostVars(host: string): Record<string, unknown>;
  /** hosts matching an Ansible host pattern, inventory order, no duplicates; throws RunbookError('bad_pattern') */
  selectHosts(pattern: string): string[];
  /** the inventory files and vars files read, in reading order */
  sources: string[];
  /** things Ansible would only warn about (vars files for unknown groups/hosts, skipped files) */
  warnings: RunbookError[];
}
