/**
 * The mutable model the inventory parsers fill in (like Ansible's InventoryData), and `finish()`, which reconciles
 * it (implicit `all`/`ungrouped`, depths, name clashes) into the read-only Inventory.
 */
import { ErrorSink, RunbookError, type SourcePos } from '../errors.js';
import { selectHosts as select } from './patterns.js';
import type { InvGroup, InvHost, Inventory, VarLayer } from './types.js';

export interface GroupRec {
  name: string;
  children: string[];
  hosts: string[];
  parents: string[];
  /** inventory-file vars, in definition order */
  layers: VarLayer[];
  priority: number;
  pos?: SourcePos;
}

export interface HostRec {
  name: string;
  /** groups the host was put in directly */
  direct: string[];
  /** inventory-file vars, in definition order */
  layers: VarLayer[];
  pos?: SourcePos;
}

/** group_vars/ and host_vars/ layers found beside one inventory source */
export interface VarsSource {
  dir: string;
  groups: Map<string, VarLayer[]>;
  hosts: Map<string, VarLayer[]>;
}

export class InventoryBuilder {
  readonly sink = new ErrorSink();
  readonly warnings: RunbookError[] = [];
  readonly groups = new Map<string, GroupRec>();
  readonly hosts = new Map<string, HostRec>();
  readonly sources: string[] = [];
  readonly varsSources: VarsSource[] = [];
  /** each group's hosts as a set: membership checks stay O(1) in groups of tens of thousands of hosts */
  private readonly groupHostSets = new Map<string, Set<string>>();

  constructor() {
    this.group('all');
    this.group('ungrouped');
    this.addChild('all', 'ungrouped');
  }

  error(message: string, pos?: SourcePos, code: 'config' | 'schema' = 'schema'): void {
    this.sink.add(new RunbookError(code, message, { pos }));
  }

  warn(message: string, pos?: SourcePos): void {
    this.warnings.push(new RunbookError('config', message, { pos }));
  }

  group(name: string, pos?: SourcePos): GroupRec {
    let g = this.groups.get(name);
    if (!g) {
      g = { name, children: [], hosts: [], parents: [], layers: [], priority: 1, pos };
      this.groups.set(name, g);
    } else if (!g.pos && pos) {
      g.pos = pos;
    }
    return g;
  }

  /** True when `b` is `a` or one of its descendants. */
  private reaches(a: string, b: string, seen = new Set<string>()): boolean {
    if (a === b) return true;
    if (seen.has(a)) return false;
    seen.add(a);
    return (this.groups.get(a)?.children ?? []).some((c) => this.reaches(c, b, seen));
  }

  addChild(parent: string, child: string, pos?: SourcePos): void {
    const p = this.group(parent);
    const c = this.group(child, pos);
    if (child === 'all') {
      this.error(`group "all" cannot be a child of "${parent}"`, pos);
      return;
    }
    if (p.children.includes(child)) return;
    if (this.reaches(child, parent)) {
      this.error(`adding group "${child}" as a child of "${parent}" creates a loop`, pos);
      return;
    }
    p.children.push(child);
    c.parents.push(parent);
  }

  addHost(name: string, group: string | undefined, pos?: SourcePos): HostRec {
    let h = this.hosts.get(name);
    if (!h) {
      h = { name, direct: [], layers: [], pos };
      this.hosts.set(name, h);
    }
    if (group !== undefined) {
      const g = this.group(group);
      let set = this.groupHostSets.get(group);
      if (!set) this.groupHostSets.set(group, (set = new Set(g.hosts)));
      if (!set.has(name)) {
        set.add(name);
        g.hosts.push(name);
      }
      if (!h.direct.includes(group)) h.direct.push(group);
    }
    return h;
  }

  addHostVars(host: string, layer: VarLayer): void {
    if (Object.keys(layer.vars).length) this.addHost(host, undefined).layers.push(layer);
  }

  /** Inventory-file group vars; `ansible_group_priority` sets the group's priority and is not a variable. */
  addGroupVars(group: string, layer: VarLayer): void {
    const g = this.group(group);
    if ('ansible_group_priority' in layer.vars) {
      const { ansible_group_priority: prio, ...rest } = layer.vars;
      const n = typeof prio === 'number' ? prio : typeof prio === 'string' && /^\s*[-+]?\d+\s*$/.test(prio) ? Number(prio) : NaN;
      if (Number.isInteger(n)) g.priority = n;
      else this.error(`ansible_group_priority must be an integer, got ${JSON.stringify(prio)}`, layer.pos?.('ansible_group_priority'));
      layer = { ...layer, vars: rest };
    }
    if (Object.keys(layer.vars).length) g.layers.push(layer);
  }

  /** Reconcile as Ansible does and return the Inventory; throws ConfigErrors when anything was wrong. */
  finish(): Inventory {
    const ungrouped = this.groups.get('ungrouped')!;
    for (const g of this.groups.values()) {
      if (g.name !== 'all' && g.parents.length === 0) this.addChild('all', g.name);
    }
    // hosts that are in another group leave ungrouped (collected, then removed in one pass: linear in hosts)
    const leaveUngrouped = new Set<string>();
    const inUngrouped = new Set(ungrouped.hosts);
    for (const h of this.hosts.values()) {
      const others = h.direct.filter((n) => n !== 'all' && n !== 'ungrouped');
      if (others.length) {
        if (h.direct.includes('ungrouped')) {
          h.direct = h.direct.filter((n) => n !== 'ungrouped');
          leaveUngrouped.add(h.name);
        }
      } else if (!h.direct.includes('ungrouped')) {
        h.direct.push('ungrouped');
        if (!inUngrouped.has(h.name)) {
          inUngrouped.add(h.name);
          ungrouped.hosts.push(h.name);
        }
      }
      const g = this.groups.get(h.name);
      if (g) {
        const where = g.pos ? ` (group defined at ${g.pos.file}:${g.pos.line})` : '';
        this.error(`"${h.name}" is both a host and a group${where}`, h.pos ?? g.pos);
      }
    }
    if (leaveUngrouped.size) ungrouped.hosts = ungrouped.hosts.filter((n) => !leaveUngrouped.has(n));
    this.groupHostSets.clear();
    this.sink.throwIfAny();
    return buildInventory(this);
  }
}

function buildInventory(b: InventoryBuilder): Inventory {
  // depth: longest path from `all`
  const depth = new Map<string, number>();
  const depthOf = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    depth.set(name, 0); // loops were refused in addChild; this only guards
    const g = b.groups.get(name)!;
    const d = name === 'all' ? 0 : Math.max(0, ...g.parents.map((p) => depthOf(p) + 1));
    depth.set(name, d);
    return d;
  };
  const cmp = (x: string, y: string): number => {
    const gx = b.groups.get(x)!;
    const gy = b.groups.get(y)!;
    return depthOf(x) - depthOf(y) || gx.priority - gy.priority || (x < y ? -1 : x > y ? 1 : 0);
  };

  const ancestors = (start: string[]): string[] => {
    const seen = new Set<string>();
    const stack = [...start];
    while (stack.length) {
      const n = stack.pop()!;
      if (seen.has(n)) continue;
      seen.add(n);
      stack.push(...b.groups.get(n)!.parents);
    }
    seen.add('all');
    return [...seen].sort(cmp);
  };

  const hosts = new Map<string, InvHost>();
  const order = new Map<string, number>();
  for (const h of b.hosts.values()) {
    order.set(h.name, order.size);
    hosts.set(h.name, { name: h.name, groups: ancestors(h.direct) });
  }
  const groups = new Map<string, InvGroup>();
  for (const g of b.groups.values()) {
    groups.set(g.name, { name: g.name, children: [...g.children], hosts: [...g.hosts], parents: [...g.parents] });
  }

  // all hosts of a group and its descendants, in inventory order
  const groupHostsCache = new Map<string, string[]>();
  const groupHosts = (name: string): string[] => {
    const cached = groupHostsCache.get(name);
    if (cached) return cached;
    const set = new Set<string>();
    const seen = new Set<string>();
    const visit = (n: string): void => {
      if (seen.has(n)) return;
      seen.add(n);
      const g = b.groups.get(n)!;
      for (const h of g.hosts) set.add(h);
      for (const c of g.children) visit(c);
    };
    visit(name);
    const list = [...set].sort((x, y) => order.get(x)! - order.get(y)!);
    groupHostsCache.set(name, list);
    return list;
  };

  const hostLayers = (host: string): VarLayer[] => {
    const h = hosts.get(host);
    if (!h && host === IMPLICIT_LOCALHOST) {
      // Ansible's implicit localhost (a play on localhost the inventory does not list): the `all` group's vars,
      // group_vars/all and host_vars/localhost, with a local connection
      const out: VarLayer[] = [...b.groups.get('all')!.layers];
      for (const src of b.varsSources) out.push(...(src.groups.get('all') ?? []));
      out.push({ source: 'implicit localhost', precedence: 'inventory file or script host vars', vars: { ansible_connection: 'local' } });
      for (const src of b.varsSources) out.push(...(src.hosts.get(host) ?? []));
      return out;
    }
    if (!h) throw new RunbookError('config', `unknown host "${host}"`);
    const others = h.groups.filter((g) => g !== 'all');
    const out: VarLayer[] = [];
    out.push(...b.groups.get('all')!.layers);
    for (const g of others) out.push(...b.groups.get(g)!.layers);
    for (const src of b.varsSources) out.push(...(src.groups.get('all') ?? []));
    for (const src of b.varsSources) for (const g of others) out.push(...(src.groups.get(g) ?? []));
    out.push(...b.hosts.get(host)!.layers);
    for (const src of b.varsSources) out.push(...(src.hosts.get(host) ?? []));
    return out;
  };

  const hostOrder = [...hosts.keys()];
  const groupNames = [...groups.keys()];
  return {
    hosts: hosts.has(IMPLICIT_LOCALHOST) ? hosts : new WithImplicitLocalhost(hosts),
    groups,
    sources: [...b.sources],
    warnings: [...b.warnings],
    hostLayers,
    hostVars(host: string): Record<string, unknown> {
      const out: Record<string, unknown> = {};
      for (const l of hostLayers(host)) Object.assign(out, l.vars);
      return out;
    },
    selectHosts(pattern: string): string[] {
      return select({ hostOrder, groupNames, groupHosts, hasHost: (n) => hosts.has(n) }, pattern);
    },
  };
}

const IMPLICIT_LOCALHOST = 'localhost';

/**
 * The hosts of an inventory that does not list localhost: iteration (and so `all`, patterns, hostvars) shows only
 * the listed hosts, as in Ansible, but `has`/`get` answer for the implicit localhost too, so a play on localhost
 * gets its variables (hostLayers) like any host.
 */
class WithImplicitLocalhost extends Map<string, InvHost> {
  private readonly local: InvHost = { name: IMPLICIT_LOCALHOST, groups: ['all'] };
  override has(k: string): boolean {
    return super.has(k) || k === IMPLICIT_LOCALHOST;
  }
  override get(k: string): InvHost | undefined {
    return super.get(k) ?? (k === IMPLICIT_LOCALHOST ? this.local : undefined);
  }
}
