/**
 * A runbook extension (after NixOS's per-host layout): inside an inventory directory, `hosts/` holds one entry per
 * machine, `hosts/NAME.yml` (.yaml, .json) or a folder `hosts/NAME/` whose `vars.yml` (.yaml, .json) is optional
 * (the folder may hold other host-specific files). The file is a mapping of the host's variables; its `groups:` and
 * `roles:` lists (strings) put the host in those groups (created as needed) and are not variables. Adding a machine
 * is adding a file: no central list to edit. Entries starting with `.` or `_` are skipped.
 */
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { loadYamlFile } from '../yaml-load.js';
import type { InventoryBuilder } from './builder.js';
import { VARS_EXTS, varsLayerOf } from './vars-files.js';

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function loadPerHostDir(dir: string, b: InventoryBuilder): void {
  const byHost = new Map<string, string[]>();
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.') || name.startsWith('_') || name.endsWith('~')) continue;
    const full = join(dir, name);
    const ext = extname(name);
    let host: string;
    if (isDir(full)) host = name;
    else if (VARS_EXTS.includes(ext)) host = name.slice(0, -ext.length);
    else continue;
    byHost.set(host, [...(byHost.get(host) ?? []), name]);
  }
  for (const [host, entries] of byHost) {
    if (entries.length > 1) {
      b.error(`host "${host}" is defined by both ${entries.map((e) => join(dir, e)).join(' and ')}; keep one`, { file: join(dir, entries[1]), line: 1, col: 1 }, 'config');
      continue;
    }
    const entry = join(dir, entries[0]);
    let file: string | undefined = entry;
    if (isDir(entry)) {
      const found = VARS_EXTS.map((e) => join(entry, 'vars' + e)).filter((p) => !isDir(p) && exists(p));
      if (found.length > 1) b.error(`host "${host}" has more than one vars file: ${found.join(', ')}`, { file: found[1], line: 1, col: 1 }, 'config');
      file = found[0];
    }
    const hostPos = { file: file ?? entry, line: 1, col: 1 };
    b.addHost(host, undefined, hostPos);
    if (!file) continue;
    b.sources.push(file);
    const f = b.sink.guard(() => loadYamlFile(file));
    if (!f) continue;
    const layer = varsLayerOf(f, [], 'inventory file or script host vars', b.sink, `${file} host ${host}`, 'a host file');
    if (!layer) continue;
    const vars = { ...layer.vars };
    for (const key of ['groups', 'roles']) {
      if (!(key in vars)) continue;
      const list = vars[key];
      delete vars[key];
      const items = typeof list === 'string' ? [list] : list;
      if (!Array.isArray(items)) {
        b.error(`"${key}" must be a list of group names`, f.pos([key]));
        continue;
      }
      items.forEach((g, i) => {
        if (typeof g !== 'string' || !g.trim() || /[\s:[\],]/.test(g)) {
          b.error(`"${key}" entries must be group names, got ${JSON.stringify(g)}`, f.pos([key, i]));
          return;
        }
        if (g === 'all') return;
        b.group(g, f.pos([key, i]));
        b.addHost(host, g, hostPos);
      });
    }
    b.addHostVars(host, { ...layer, vars });
  }
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}
