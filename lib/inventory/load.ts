/**
 * loadInventory: one or more inventory sources (a YAML file, an INI file, or a directory), plus group_vars/ and
 * host_vars/ beside each (for a file: in its directory; for a directory: inside it).
 *
 * A directory is read as Ansible reads one: its entries in sorted order, recursively, skipping hidden entries,
 * group_vars/, host_vars/, vars_plugins/ and files ending in ~ .orig .bak .swp .md .txt .rst .cfg .retry .pyc .pyo
 * .rpm; `.yml/.yaml/.json` files are YAML inventories, `.ini` files and files without extension INI ones (unless
 * they look like YAML). Its top-level `hosts/` folder, if a folder, is the per-host layout (see per-host.ts).
 * All errors of all files are collected and thrown together as ConfigErrors.
 */
import { readdirSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { RunbookError } from '../errors.js';
import { parseYaml, readTextFile } from '../yaml-load.js';
import { InventoryBuilder } from './builder.js';
import { parseIniInventory } from './ini-inventory.js';
import { loadPerHostDir } from './per-host.js';
import type { Inventory } from './types.js';
import { loadVarsDir } from './vars-files.js';
import { parseYamlInventory } from './yaml-inventory.js';

const IGNORED_NAMES = new Set(['group_vars', 'host_vars', 'vars_plugins']);
const IGNORED_EXTS = ['.pyc', '.pyo', '.swp', '.bak', '~', '.rpm', '.md', '.txt', '.rst', '.orig', '.cfg', '.retry'];
const YAML_EXTS = ['.yml', '.yaml', '.json'];

/** Whether a file without a YAML extension holds YAML rather than INI (first meaningful line `---` or `name:`). */
function looksLikeYaml(src: string): boolean {
  for (const raw of src.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    return line === '---' || /^[^\s=[\]]+:\s*(?:#.*)?$/.test(line);
  }
  return false;
}

function parseInventoryFile(file: string, b: InventoryBuilder, explicit: boolean): void {
  const ext = extname(file).toLowerCase();
  if (!explicit && !YAML_EXTS.includes(ext) && ext !== '.ini' && ext !== '') {
    b.warn(`skipped ${file}: not an inventory file extension (.yml, .yaml, .json, .ini or none)`);
    return;
  }
  if (!explicit && ext !== '.ini' && !YAML_EXTS.includes(ext)) {
    try {
      if (statSync(file).mode & 0o111) {
        b.warn(`skipped ${file}: executable (dynamic inventory scripts are not supported)`);
        return;
      }
    } catch {
      /* read error reported below */
    }
  }
  const src = b.sink.guard(() => readTextFile(file));
  if (src === undefined) return;
  b.sources.push(file);
  if (YAML_EXTS.includes(ext) || (ext !== '.ini' && looksLikeYaml(src))) {
    const f = b.sink.guard(() => parseYaml(src, file));
    if (f) parseYamlInventory(f, b);
  } else {
    parseIniInventory(src, file, b);
  }
}

function scanDir(dir: string, b: InventoryBuilder, top: boolean): void {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    b.sink.add(new RunbookError('missing_file', `cannot read directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`));
    return;
  }
  for (const name of names) {
    if (name.startsWith('.') || IGNORED_NAMES.has(name) || IGNORED_EXTS.some((x) => name.endsWith(x))) continue;
    const full = join(dir, name);
    let isDir = false;
    try {
      isDir = statSync(full).isDirectory();
    } catch {
      continue; // dangling symlink
    }
    if (isDir) {
      if (top && name === 'hosts') loadPerHostDir(full, b);
      else scanDir(full, b, false);
    } else {
      parseInventoryFile(full, b, false);
    }
  }
}

/** Load an inventory from one path or several (like repeated `-i`). Throws ConfigErrors / RunbookError. */
export function loadInventory(path: string | readonly string[]): Inventory {
  const paths = typeof path === 'string' ? [path] : [...path];
  const b = new InventoryBuilder();
  const varsDirs: string[] = [];
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      b.sink.add(new RunbookError('missing_file', `inventory not found: ${p}`));
      continue;
    }
    if (isDir) scanDir(p, b, true);
    else parseInventoryFile(p, b, true);
    const base = isDir ? p : dirname(p) || '.';
    if (!varsDirs.includes(base)) varsDirs.push(base);
  }
  // vars files are read after every source is parsed, so all groups and hosts are known
  for (const base of varsDirs) {
    const groups = loadVarsDir(join(base, 'group_vars'), (g) => (g === 'all' ? 'inventory group_vars/all' : 'inventory group_vars/*'), b.sink, b.sources);
    const hosts = loadVarsDir(join(base, 'host_vars'), () => 'inventory host_vars/*', b.sink, b.sources);
    b.varsSources.push({ dir: base, groups, hosts });
    for (const g of groups.keys()) {
      if (!b.groups.has(g)) b.warn(`${join(base, 'group_vars', g)}: no group "${g}" in the inventory; its vars are not used`);
    }
    for (const h of hosts.keys()) {
      // host_vars/localhost is the implicit localhost's when the inventory does not list it
      if (!b.hosts.has(h) && h !== 'localhost') b.warn(`${join(base, 'host_vars', h)}: no host "${h}" in the inventory; its vars are not used`);
    }
  }
  return b.finish();
}
