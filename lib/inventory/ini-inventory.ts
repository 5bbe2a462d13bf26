/**
 * Ansible's INI inventory format, following ansible-core's ini plugin line by line:
 * - lines before any section are hosts of `ungrouped`; `#` and `;` start comment lines;
 * - `[g]` hosts (`name[:port] k=v ...`, split like Python's shlex with comments; ranges `web[01:10]`);
 * - `[g:children]` group names, `[g:vars]` one `k=v` per line (everything after `=` is the value);
 * - every value goes through Python's `ast.literal_eval`, kept as text when that fails (so `22` is a number,
 *   `True` a boolean, `'x'` a string, but `yes`/`true` stay text), in host lines and :vars alike: that is what the
 *   plugin's code does, whatever the docs say of :vars;
 * - `[g:vars]` for a group defined nowhere and `[g:children]` naming an undefined group are errors.
 * Unlike Ansible (which stops at the first), every error of the file is collected.
 */
import type { SourcePos } from '../errors.js';
import type { InventoryBuilder } from './builder.js';
import { expandHostPattern, HostNameError, shlexSplit } from './host-names.js';
import { pyLiteral } from './py-literal.js';
import type { VarLayer } from './types.js';

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;
const GROUPNAME = /^([^:\]\s]+)\s*(?:#.*)?$/;

interface Pending {
  state: 'vars' | 'children';
  pos: SourcePos;
  parents: { name: string; pos: SourcePos }[];
}

export function parseIniInventory(src: string, file: string, b: InventoryBuilder): void {
  const lines = src.split(/\r\n|\r|\n/);
  const pending = new Map<string, Pending>();
  let group = 'ungrouped';
  let state: 'hosts' | 'vars' | 'children' = 'hosts';
  let varsLayer: (VarLayer & { keyPos: Map<string, SourcePos> }) | undefined;
  const sectionVars: { group: string; layer: VarLayer }[] = [];

  const addPendingChildren = (name: string): void => {
    const p = pending.get(name);
    if (!p) return;
    pending.delete(name);
    for (const parent of p.parents) {
      b.addChild(parent.name, name, parent.pos);
      const pp = pending.get(parent.name);
      if (pp && pp.state === 'children') addPendingChildren(parent.name);
    }
  };

  lines.forEach((raw, idx) => {
    const lineNo = idx + 1;
    const line = raw.trim();
    if (!line || line[0] === '#' || line[0] === ';') return;
    const col = raw.indexOf(line[0]) + 1;
    const at: SourcePos = { file, line: lineNo, col };
    const m = SECTION.exec(line);
    if (m) {
      group = m[1];
      const kind = m[2] ?? 'hosts';
      varsLayer = undefined;
      if (kind !== 'hosts' && kind !== 'vars' && kind !== 'children') {
        b.error(`section [${m[1]}:${kind}] has unknown type "${kind}" (expected vars or children)`, at);
        state = 'hosts';
        group = '\0invalid';
        return;
      }
      state = kind;
      if (!b.groups.has(group)) {
        if (state === 'vars' && !pending.has(group)) pending.set(group, { state: 'vars', pos: at, parents: [] });
        b.group(group, state === 'vars' ? undefined : at);
      } else if (state !== 'vars') {
        b.group(group, at);
      }
      const p = pending.get(group);
      if (p && state !== 'vars') {
        if (p.state === 'children') addPendingChildren(group);
        else pending.delete(group);
      }
      return;
    }
    if (line.startsWith('[') && line.endsWith(']')) {
      b.error(`invalid section "${line}": no spaces or other invalid characters are allowed in a section name`, at);
      group = '\0invalid';
      return;
    }
    if (group === '\0invalid') return;

    if (state === 'hosts') {
      let tokens: string[];
      try {
        tokens = shlexSplit(line);
      } catch (e) {
        b.error(`cannot parse host line: ${(e as Error).message}`, at);
        return;
      }
      if (!tokens.length) return;
      let expanded: { hosts: string[]; port?: number };
      try {
        expanded = expandHostPattern(tokens[0]);
      } catch (e) {
        if (!(e instanceof HostNameError)) throw e;
        b.error(`bad host pattern "${tokens[0]}": ${e.message}`, at);
        return;
      }
      const vars: Record<string, unknown> = {};
      const keyPos = new Map<string, SourcePos>();
      if (expanded.port !== undefined) {
        vars.ansible_port = expanded.port;
        keyPos.set('ansible_port', at);
      }
      let ok = true;
      for (const t of tokens.slice(1)) {
        const eq = t.indexOf('=');
        const kcol = raw.indexOf(eq > 0 ? t.slice(0, eq + 1) : t);
        const kpos = { file, line: lineNo, col: kcol >= 0 ? kcol + 1 : col };
        if (eq === -1) {
          b.error(`expected key=value host variable assignment, got "${t}"`, kpos);
          ok = false;
          continue;
        }
        const k = t.slice(0, eq);
        vars[k] = pyLiteral(t.slice(eq + 1));
        keyPos.set(k, kpos);
      }
      if (!ok) return;
      for (const h of expanded.hosts) {
        b.addHost(h, group, at);
        b.addHostVars(h, {
          source: `${file} host ${h}`,
          precedence: 'inventory file or script host vars',
          vars,
          pos: (k) => keyPos.get(k),
        });
      }
    } else if (state === 'vars') {
      const eq = line.indexOf('=');
      if (eq === -1) {
        b.error(`expected key=value, got "${line}"`, at);
        return;
      }
      const k = line.slice(0, eq).trim();
      const v = pyLiteral(line.slice(eq + 1).trim());
      if (!varsLayer) {
        const keyPos = new Map<string, SourcePos>();
        varsLayer = { source: `${file} group ${group}`, precedence: 'inventory file or script group vars', vars: {}, keyPos, pos: (key) => keyPos.get(key) };
        sectionVars.push({ group, layer: varsLayer });
      }
      varsLayer.vars[k] = v;
      varsLayer.keyPos.set(k, at);
    } else {
      const gm = GROUPNAME.exec(line);
      if (!gm) {
        b.error(`expected a group name, got "${line}"`, at);
        return;
      }
      const child = gm[1];
      if (!b.groups.has(child)) {
        const p = pending.get(child);
        if (!p) pending.set(child, { state: 'children', pos: at, parents: [{ name: group, pos: at }] });
        else p.parents.push({ name: group, pos: at });
      } else {
        b.addChild(group, child, at);
      }
    }
  });
  for (const { group: g, layer } of sectionVars) {
    b.addGroupVars(g, { source: layer.source, precedence: layer.precedence, vars: layer.vars, pos: layer.pos });
  }
  for (const [name, p] of pending) {
    if (p.state === 'vars') b.error(`section [${name}:vars] is for a group that is defined nowhere: ${name}`, p.pos);
    else b.error(`section [${p.parents[p.parents.length - 1].name}:children] includes undefined group "${name}"`, p.pos);
  }
}
