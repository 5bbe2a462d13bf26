/**
 * Read-only commands that contact no host: `runbook roles`, `runbook modules`, `runbook inventory` (like
 * ansible-inventory) and `runbook vars HOST [NAME]` (each variable's value and the source that won).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { ErrorSink, RunbookError } from '../errors.js';
import { PlaybookLoader } from '../playbook/loader.js';
import { allActions, allModules } from '../modules/registry.js';
import type { Inventory } from '../inventory/index.js';
import { precedenceLayers, winners, type Layer } from '../vars/precedence.js';
import { redactSecrets } from '../vars/secret-values.js';
import { isVaultValue } from '../vars/vault.js';
import { parseExtraVars } from './extra-vars.js';
import { openInventory } from './apply.js';
import { CLI_POS, rolesPathFromEnv } from './adhoc.js';

type Format = 'text' | 'json';


const out = (s: string) => process.stdout.write(s);
const json = (o: unknown) => out(JSON.stringify(o) + '\n');

// ---------------------------------------------------------------- roles

export function listRoles(): { name: string; path: string; description: string | null; errors: string[] }[] {
  const dirs = [path.resolve('roles'), ...rolesPathFromEnv()];
  const seen = new Set<string>();
  const res: { name: string; path: string; description: string | null; errors: string[] }[] = [];
  for (const d of dirs) {
    if (!fs.existsSync(d) || !fs.statSync(d).isDirectory()) continue;
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (!e.isDirectory() || seen.has(e.name)) continue;
      seen.add(e.name);
      const loader = new PlaybookLoader({ rolesPath: [d] });
      const def = loader.loadRole(path.join(d, e.name), d, CLI_POS);
      res.push({ name: e.name, path: path.join(d, e.name), description: def?.description ?? null, errors: loader.sink.errors.map((x) => x.format()) });
    }
  }
  return res;
}

function rolesCommand(flags: { format?: string }): number {
  const roles = listRoles();
  if (flags.format === 'json') for (const r of roles) json(r);
  else {
    const w = Math.max(4, ...roles.map((r) => r.name.length));
    for (const r of roles) out(`${r.name.padEnd(w)}  ${r.description ?? '(no description)'}${r.errors.length ? `  [${r.errors.length} error(s): ${r.errors[0]}]` : ''}\n`);
    if (!roles.length) out('no roles (looked in ./roles and RUNBOOK_ROLES_PATH)\n');
  }
  return 0;
}

// ---------------------------------------------------------------- modules

function schemaArgs(schema: Record<string, unknown>): { name: string; required: boolean }[] {
  const props = (schema['properties'] ?? {}) as Record<string, unknown>;
  const req = new Set(Array.isArray(schema['required']) ? (schema['required'] as string[]) : []);
  return Object.keys(props).filter((n) => !n.startsWith('_')).map((name) => ({ name, required: req.has(name) }));
}

function modulesCommand(flags: { format?: string }): number {
  const rows = [
    ...allModules().map((m) => ({ name: m.name, kind: 'module', description: m.description, free_form: m.freeForm ?? null, arguments: schemaArgs(m.schema), aliases: m.aliases })),
    ...allActions().map((a) => ({ name: a.name, kind: 'action', description: a.description, free_form: a.freeForm ?? null, arguments: schemaArgs(a.schema), aliases: a.aliases })),
  ].sort((a, b) => a.name.localeCompare(b.name));
  if (flags.format === 'json') for (const r of rows) json(r);
  else {
    const w = Math.max(...rows.map((r) => r.name.length));
    for (const r of rows) {
      out(`${r.name.padEnd(w)}  ${r.kind === 'action' ? '[action] ' : ''}${r.description}\n`);
      const args = r.arguments.map((a) => a.name + (a.required ? '*' : ''));
      if (r.free_form) args.unshift(`(free form)`);
      if (args.length) out(`${''.padEnd(w)}    args: ${args.join(', ')}\n`);
    }
    out('\n* required\n');
  }
  return 0;
}

// ---------------------------------------------------------------- inventory

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A group's own variables, from the layers of one of its hosts (inventory-file vars, then group_vars files). */
export function groupVars(inv: Inventory, group: string): Record<string, unknown> {
  const members = inv.selectHosts(group);
  if (!members.length) return {};
  const re = new RegExp(`(^|\\s)group ${escapeRe(group)}$|[/\\\\]group_vars[/\\\\]${escapeRe(group)}(\\.(ya?ml|json))?$|[/\\\\]group_vars[/\\\\]${escapeRe(group)}[/\\\\]`);
  const vars: Record<string, unknown> = {};
  for (const l of inv.hostLayers(members[0]!)) if (re.test(l.source)) Object.assign(vars, l.vars);
  return vars;
}

export function inventoryList(inv: Inventory): Record<string, unknown> {
  const res: Record<string, unknown> = { _meta: { hostvars: Object.fromEntries([...inv.hosts.keys()].map((h) => [h, inv.hostVars(h)])) } };
  for (const [name, g] of inv.groups) {
    const entry: Record<string, unknown> = {};
    const hosts = name === 'all' ? g.hosts.filter((h) => !g.children.some((c) => inv.selectHosts(c).includes(h))) : g.hosts;
    if (hosts.length) entry['hosts'] = hosts;
    if (g.children.length) entry['children'] = g.children;
    const v = groupVars(inv, name);
    if (Object.keys(v).length) entry['vars'] = v;
    res[name] = entry;
  }
  return res;
}

export function inventoryGraph(inv: Inventory, root = 'all'): string {
  const lines: string[] = [];
  const walk = (name: string, depth: number, seen: Set<string>) => {
    const g = inv.groups.get(name);
    if (!g) return;
    const pre = depth === 0 ? '' : '  |'.repeat(depth - 1) + '  |--';
    lines.push(`${pre}@${name}:`);
    if (seen.has(name)) return;
    const next = new Set(seen).add(name);
    for (const c of g.children) walk(c, depth + 1, next);
    // like ansible-inventory, hosts of `all` are shown under `ungrouped` (or their groups) only
    const inChild = (h: string) => g.children.some((c) => inv.selectHosts(c).includes(h));
    for (const h of g.hosts) if (name !== 'all' || !inChild(h)) lines.push('  |'.repeat(depth) + '  |--' + h);
  };
  walk(root, 0, new Set());
  return lines.join('\n') + '\n';
}

interface InventoryFlags {
  inventory: string;
  graph?: boolean;
  list?: boolean;
  host?: string;
  format?: string;
  showSecrets?: boolean;
}

/**
 * Variables for display: a value that is secret (vault, SOPS, a secret-named vars file: secret-values.ts), or an
 * inline `!vault` value not decrypted, shows as `<encrypted>` unless --show-secrets asks for the plaintext.
 */
function shown(v: unknown, showSecrets: boolean | undefined): unknown {
  if (showSecrets) return v;
  const hideVault = (x: unknown, depth: number): unknown => {
    if (isVaultValue(x)) return '<encrypted>';
    if (x === null || typeof x !== 'object' || depth > 30) return x;
    if (Array.isArray(x)) return x.map((y) => hideVault(y, depth + 1));
    return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, hideVault(y, depth + 1)]));
  };
  return redactSecrets(hideVault(v, 0));
}

function inventoryCommand(group: string | undefined, flags: InventoryFlags): number {
  const inv = openInventory(flags.inventory, flags.inventory !== 'inventory');
  for (const w of inv.warnings) process.stderr.write(`warning: ${w.format()}\n`);
  if (flags.host) {
    if (!inv.hosts.has(flags.host)) throw new RunbookError('config', `host "${flags.host}" is not in the inventory`);
    out(JSON.stringify(shown(inv.hostVars(flags.host), flags.showSecrets), null, flags.format === 'json' ? undefined : 4) + '\n');
    return 0;
  }
  if (flags.graph) {
    const root = group ?? 'all';
    if (!inv.groups.has(root)) throw new RunbookError('config', `group "${root}" is not in the inventory`);
    out(inventoryGraph(inv, root));
    return 0;
  }
  out(JSON.stringify(shown(inventoryList(inv), flags.showSecrets), null, flags.format === 'json' ? undefined : 4) + '\n');
  return 0;
}

// ---------------------------------------------------------------- vars

export interface VarRow {
  name: string;
  value: unknown;
  source: string;
  level: string;
  where: string | null;
  overrides: { source: string; level: string; value: unknown }[];
}

export function explainVars(inv: Inventory, host: string, extraVars: Record<string, unknown>): VarRow[] {
  if (!inv.hosts.has(host)) throw new RunbookError('config', `host "${host}" is not in the inventory`);
  const inLayers = inv.hostLayers(host);
  const layers: (Layer & { pos?: (k: string) => { file: string; line: number; col: number } | undefined })[] = precedenceLayers({
    inventory: inLayers.map((l) => ({ source: l.source, level: l.precedence, vars: l.vars, pos: l.pos })),
    extraVars,
    extraVarsSource: 'extra vars (-e)',
  });
  const rows: VarRow[] = [];
  for (const [name, w] of [...winners(layers)].sort(([a], [b]) => a.localeCompare(b))) {
    const l = w.layer as (typeof layers)[number];
    const p = l.pos?.(name);
    rows.push({
      name,
      value: w.value,
      source: l.source,
      level: l.level,
      where: p ? `${p.file}:${p.line}:${p.col}` : null,
      overrides: w.overridden.map((o) => ({ source: o.source, level: o.level, value: o.vars[name] })),
    });
  }
  return rows;
}

function varsCommand(host: string, name: string | undefined, flags: { inventory: string; extraVars: string[]; format?: string; showSecrets?: boolean }): number {
  const sink = new ErrorSink();
  const extraVars = sink.guard(() => parseExtraVars(flags.extraVars)) ?? {};
  const inv = sink.guard(() => openInventory(flags.inventory, flags.inventory !== 'inventory'));
  sink.throwIfAny();
  let rows = explainVars(inv!, host, extraVars).map((r) => ({
    ...r,
    value: shown(r.value, flags.showSecrets),
    overrides: r.overrides.map((o) => ({ ...o, value: shown(o.value, flags.showSecrets) })),
  }));
  if (name !== undefined) {
    rows = rows.filter((r) => r.name === name);
    if (!rows.length) throw new RunbookError('undefined_variable', `variable "${name}" is not defined for host ${host} (by the inventory or -e)`);
  }
  const fmt: Format = flags.format === 'json' ? 'json' : 'text';
  for (const r of rows) {
    if (fmt === 'json') json(r);
    else {
      const line = r.where ? r.where.split(':').slice(-2)[0] : undefined;
      const from = `${r.source}${line ? ` line ${line}` : ''}`;
      const over = r.overrides.length ? `; overrides: ${r.overrides.map((o) => `${o.source} = ${JSON.stringify(o.value)}`).join(', ')}` : '';
      out(`${r.name} = ${JSON.stringify(r.value)}   (from: ${from}${over})\n`);
    }
  }
  return 0;
}

// ---------------------------------------------------------------- registration

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function registerInspect(program: Command): void {
  const fmt = () => new Option('--format <format>', 'text, or json (one object per line)').choices(['text', 'plain', 'tty', 'json']);
  program
    .command('roles')
    .description('list the roles under ./roles and RUNBOOK_ROLES_PATH with their short description')
    .addOption(fmt())
    .action((flags: { format?: string }) => {
      process.exitCode = rolesCommand(flags);
    });
  program
    .command('modules')
    .description('list the modules and actions with their arguments (* = required)')
    .addOption(fmt())
    .action((flags: { format?: string }) => {
      process.exitCode = modulesCommand(flags);
    });
  program
    .command('inventory')
    .description('show the inventory like ansible-inventory: --list (JSON, default), --graph [GROUP], --host NAME')
    .argument('[group]', 'with --graph: the group to start from')
    .option('-i, --inventory <path>', 'inventory file or directory', 'inventory')
    .option('--list', 'all groups and hosts as JSON, with _meta.hostvars (default)', false)
    .option('--graph', 'the group tree', false)
    .option('--host <name>', 'one host\'s merged variables as JSON')
    .option('--show-secrets', 'print secret values (vault, SOPS, secret files) instead of <encrypted>', false)
    .addOption(fmt())
    .action((group: string | undefined, flags: InventoryFlags) => {
      process.exitCode = inventoryCommand(group, flags);
    });
  program
    .command('vars')
    .description('each variable of HOST (or only NAME), its value and the source that won: inventory layers, then -e')
    .argument('<host>', 'inventory host')
    .argument('[name]', 'only this variable')
    .option('-i, --inventory <path>', 'inventory file or directory', 'inventory')
    .option('-e, --extra-vars <kv>', 'extra variables, as for apply (repeatable)', collect, [])
    .option('--show-secrets', 'print secret values (vault, SOPS, secret files) instead of <encrypted>', false)
    .addOption(fmt())
    .action((host: string, name: string | undefined, flags: { inventory: string; extraVars: string[]; format?: string; showSecrets?: boolean }) => {
      process.exitCode = varsCommand(host, name, flags);
    });
}
