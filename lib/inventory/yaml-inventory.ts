/**
 * Ansible's YAML inventory format: top-level keys are groups (usually just `all`); a group is a mapping with
 * `hosts` (mapping of host name or range pattern -> vars or nothing), `children` (mapping of group name -> group)
 * and `vars`, nested to any depth. Where Ansible only warns (an unexpected key, a group that is not a mapping), runbook
 * reports an error with its position.
 */
import { isMap } from 'yaml';
import type { SourcePos } from '../errors.js';
import type { YamlFile, YamlPath } from '../yaml-load.js';
import type { InventoryBuilder } from './builder.js';
import { expandHostPattern, HostNameError } from './host-names.js';

type Obj = Record<string, unknown>;

function kindOf(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return '__vault__' in (v as Obj) ? 'a vault value' : 'a mapping';
  return `a ${typeof v} (${JSON.stringify(v)})`;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !('__vault__' in v);
}

/** Keys of the mapping at `path` in file order (JS objects put integer-like keys first), then merged-in keys. */
function keysInOrder(f: YamlFile, path: YamlPath, obj: Obj): string[] {
  const n = f.node(path);
  const out = new Set<string>();
  if (isMap(n)) {
    for (const it of n.items) {
      const k = it.key as { value?: unknown; source?: string } | null;
      const v = k && typeof k === 'object' && 'value' in k ? k.value : k;
      if (typeof v === 'symbol') continue;
      const s = String(v);
      if (s in obj) out.add(s);
    }
  }
  for (const k of Object.keys(obj)) out.add(k);
  return [...out];
}

export function parseYamlInventory(f: YamlFile, b: InventoryBuilder): void {
  const data = f.value;
  if (data === null || data === undefined) {
    b.warn('empty inventory file', f.pos([]));
    return;
  }
  if (!isObj(data)) {
    b.error(`an inventory must be a mapping of groups (like "all:"), got ${kindOf(data)}`, f.pos([]));
    return;
  }
  if ('plugin' in data && typeof data.plugin === 'string') {
    b.error(`inventory plugin configurations ("plugin: ${data.plugin}") are not supported`, f.pos(['plugin']), 'config');
    return;
  }
  for (const name of keysInOrder(f, [], data)) {
    const v = data[name];
    if (v !== null && v !== undefined && !isObj(v)) {
      b.error(
        `unknown top-level key "${name}": top-level keys are groups (like "all") and take a mapping of hosts, children and vars, not ${kindOf(v)}`,
        f.keyPos([name]) ?? f.pos([name]),
      );
      continue;
    }
    parseGroup(f, b, name, v, [name]);
  }
}

function parseGroup(f: YamlFile, b: InventoryBuilder, name: string, data: unknown, path: YamlPath): void {
  const keyPos = f.keyPos(path) ?? f.pos(path);
  b.group(name, keyPos);
  if (data === null || data === undefined) return;
  if (!isObj(data)) {
    b.error(`group "${name}" must be a mapping of hosts, children and vars, got ${kindOf(data)}`, f.pos(path));
    return;
  }
  for (const key of keysInOrder(f, path, data)) {
    let v = data[key];
    const at: YamlPath = [...path, key];
    if (key !== 'vars' && key !== 'children' && key !== 'hosts') {
      b.error(`unknown key "${key}" in group "${name}" (expected hosts, children or vars)`, f.keyPos(at) ?? f.pos(at));
      continue;
    }
    if (v === null || v === undefined) continue;
    // Ansible accepts a single name as a string: `hosts: web1`, `children: web`
    let single = false;
    if (typeof v === 'string' && key !== 'vars') {
      v = { [v]: null };
      single = true;
    }
    if (!isObj(v)) {
      const hint = Array.isArray(v) && key !== 'vars' ? ` (write "${key}:" entries as "name:" keys, not "- name")` : '';
      b.error(`"${key}" of group "${name}" must be a mapping, got ${kindOf(v)}${hint}`, f.pos(at));
      continue;
    }
    const obj = v;
    const names = single ? Object.keys(obj) : keysInOrder(f, at, obj);
    if (key === 'vars') {
      b.addGroupVars(name, {
        source: `${f.file} group ${name}`,
        precedence: 'inventory file or script group vars',
        vars: obj,
        pos: (k: string) => f.exactPos([...at, k]) ?? f.keyPos([...at, k]),
      });
    } else if (key === 'children') {
      for (const child of names) {
        const cpath = [...at, child];
        const cpos = single ? f.pos(at) : (f.keyPos(cpath) ?? f.pos(cpath));
        parseGroup(f, b, child, obj[child], single ? at : cpath);
        b.addChild(name, child, cpos);
      }
    } else {
      for (const pattern of names) {
        const hpath = [...at, pattern];
        const hpos: SourcePos = single ? f.pos(at) : (f.keyPos(hpath) ?? f.pos(hpath));
        const hv = obj[pattern];
        if (hv !== null && hv !== undefined && !isObj(hv)) {
          b.error(`host "${pattern}" must have a mapping of variables or nothing, got ${kindOf(hv)}`, f.pos(hpath));
          continue;
        }
        let expanded: { hosts: string[]; port?: number };
        try {
          expanded = expandHostPattern(pattern);
        } catch (e) {
          if (!(e instanceof HostNameError)) throw e;
          b.error(`bad host pattern "${pattern}": ${e.message}`, hpos);
          continue;
        }
        const vars: Record<string, unknown> = {};
        if (expanded.port !== undefined) vars.ansible_port = expanded.port;
        Object.assign(vars, hv ?? {});
        for (const h of expanded.hosts) {
          b.addHost(h, name, hpos);
          b.addHostVars(h, {
            source: `${f.file} host ${h}`,
            precedence: 'inventory file or script host vars',
            vars,
            pos: (k: string) => (k === 'ansible_port' && !(hv && 'ansible_port' in hv) ? hpos : (f.exactPos([...hpath, k]) ?? f.keyPos([...hpath, k]))),
          });
        }
      }
    }
  }
}
