/**
 * Undefined variables found before any host is contacted: every name a task's templates use must be defined
 * somewhere the run can see (inventory, play, role, register, set_fact, loop variables, facts, magic variables,
 * extra vars). Names guarded by `is defined` or `| default` are never flagged. Anything this check cannot see
 * statically (a templated include_vars) turns it off for that play rather than risk a false error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunbookError } from '../errors.js';
import type { Inventory } from '../inventory/index.js';
import type { Item, Play, Playbook, TaskNode } from './model.js';
import { loadYamlFile } from '../yaml-load.js';

const MAGIC = new Set([
  'inventory_hostname', 'inventory_hostname_short', 'group_names', 'groups', 'hostvars', 'playbook_dir',
  'inventory_dir', 'inventory_file', 'role_path', 'role_name', 'ansible_check_mode', 'ansible_diff_mode', 'ansible_play_hosts',
  'ansible_play_hosts_all', 'ansible_play_batch', 'ansible_play_name', 'ansible_run_tags', 'ansible_skip_tags',
  'ansible_version', 'omit', 'ansible_facts', 'ansible_loop', 'ansible_loop_var', 'item', 'ansible_index_var',
  'lookup', 'query', 'q', 'range', 'dict', 'namespace', 'true', 'false', 'none', 'True', 'False', 'None', 'loop',
  'ansible_parent_role_names', 'ansible_role_names', 'play_hosts', 'environment', 'vars', 'undef', 'now',
]);

/** Names a template uses as variables, minus filters, tests, functions, attributes, locals and guarded names. */
export function usedNames(tpl: string): { used: Set<string>; guarded: Set<string> } {
  const used = new Set<string>();
  const guarded = new Set<string>();
  const locals = new Set<string>();
  const re = /\{\{([\s\S]*?)\}\}|\{%-?([\s\S]*?)-?%\}/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(tpl))) {
    let body = (m[1] ?? m[2] ?? '').replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, ' "" ');
    if (m[2] !== undefined) {
      const f = /^\s*for\s+([\w\s,]+?)\s+in\b/.exec(body);
      if (f) for (const n of f[1]!.split(',')) locals.add(n.trim());
      const s = /^\s*set\s+(\w+)/.exec(body);
      if (s) locals.add(s[1]!);
      const mac = /^\s*macro\s+\w+\s*\(([^)]*)\)/.exec(body);
      if (mac) for (const n of mac[1]!.split(',')) locals.add(n.split('=')[0]!.trim());
    }
    for (const g of body.matchAll(/([A-Za-z_]\w*)(?:\.[\w.]+|\[[^\]]*\])*\s*(?:is\s+(?:not\s+)?(?:defined|undefined|none)|\|\s*(?:default|d)\b)/g)) guarded.add(g[1]!);
    for (const g of body.matchAll(/\b(?:if|and|or|not)\s+([A-Za-z_]\w*)\s+is\s+(?:not\s+)?defined/g)) guarded.add(g[1]!);
    // Ansible's default() takes an undefined argument too (x | default(undefined_var) is x when x is defined)
    for (const g of body.matchAll(/\|\s*(?:default|d)\s*\(\s*([A-Za-z_]\w*)/g)) guarded.add(g[1]!);
    body = body
      .replace(/\|\s*[A-Za-z_][\w.]*/g, ' ') // filters
      .replace(/\bis\s+(?:not\s+)?[A-Za-z_]\w*/g, ' ') // tests
      .replace(/\.\s*[A-Za-z_]\w*/g, ' ') // attributes
      .replace(/\b[A-Za-z_]\w*\s*=(?!=)/g, ' ') // keyword arguments
      .replace(/\b[A-Za-z_]\w*\s*\(/g, ' ('); // calls
    for (const t of body.matchAll(/\b([A-Za-z_]\w*)\b/g)) {
      const n = t[1]!;
      if (['and', 'or', 'not', 'in', 'is', 'if', 'else', 'elif', 'endif', 'for', 'endfor', 'set', 'endset', 'with', 'endwith', 'recursive', 'macro', 'endmacro', 'block', 'endblock', 'raw', 'endraw', 'filter', 'endfilter', 'call', 'endcall', 'import', 'from', 'as', 'include', 'extends'].includes(n)) continue;
      used.add(n);
    }
  }
  for (const l of locals) used.delete(l);
  return { used, guarded };
}

function strings(v: unknown, out: string[], depth = 0): void {
  if (typeof v === 'string') {
    if (v.includes('{{') || v.includes('{%')) out.push(v);
  } else if (v && typeof v === 'object' && depth < 30) {
    for (const x of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) strings(x, out, depth + 1);
  }
}

function keysOf(v: unknown, out: Set<string>): void {
  if (v && typeof v === 'object' && !Array.isArray(v)) for (const k of Object.keys(v)) out.add(k);
}

/**
 * @param warnings receives what only a task that may not run needs (under a guard from above, or in the task's
 *   arguments behind its own `when`): certain only if that task runs (docs/adr/0012), so not an error
 */
export function checkUndefined(pb: Playbook, inv: Inventory, extraVars: Record<string, unknown>, warnings: RunbookError[] = []): RunbookError[] {
  const known = new Set<string>(MAGIC);
  keysOf(extraVars, known);
  for (const h of inv.hosts.keys()) keysOf(inv.hostVars(h), known);
  // the implicit localhost (not listed, so not iterated) sees the `all` vars and host_vars/localhost
  if (inv.hosts.has('localhost')) keysOf(inv.hostVars('localhost'), known);
  for (const g of inv.groups.keys()) known.add(g);
  let dynamic = false;
  const tasks: { t: TaskNode; ctxNames: Set<string> }[] = [];
  const walk = (items: Item[], play: Play, locals: Set<string>) => {
    for (const i of items) {
      keysOf(i.vars, known);
      if (i.role) {
        keysOf(i.role.defaults, known);
        keysOf(i.role.vars, known);
        keysOf(i.role.params, known);
      }
      if (i.kind === 'block') {
        walk(i.block, play, locals);
        walk(i.rescue, play, locals);
        walk(i.always, play, locals);
        continue;
      }
      if (i.register) known.add(i.register);
      known.add(i.loopVar);
      if (i.indexVar) known.add(i.indexVar);
      if (i.action === 'set_fact') keysOf(i.args, known);
      // facts a module returns (ansible_facts in its result) are variables from then on
      if (i.action === 'getent') {
        const db = i.args['database'];
        if (typeof db === 'string' && !db.includes('{{')) known.add(`getent_${db}`);
        else dynamic = true;
      }
      if (i.action === 'package_facts') known.add('packages');
      if (i.action === 'service_facts') known.add('services');
      if (i.action === 'hostname') for (const n of ['ansible_hostname', 'ansible_nodename', 'ansible_fqdn', 'ansible_domain']) known.add(n);
      if (i.action === 'include_vars') {
        const f = String(i.args['file'] ?? i.args['_raw_params'] ?? '');
        const name = i.args['name'];
        if (typeof name === 'string') known.add(name);
        const cands = [path.resolve(path.dirname(i.file), f), ...(i.role ? [path.join(i.role.path, 'vars', f)] : [])];
        const file = f.includes('{{') ? undefined : cands.find((c) => fs.existsSync(c));
        if (!file) dynamic = true;
        else {
          try {
            keysOf(loadYamlFile(file).value, known);
          } catch {
            dynamic = true;
          }
        }
      }
      if (i.include) walk(i.include.tasks, play, locals);
      else if (i.action === 'include_tasks') dynamic = true;
      if (i.action === 'include_role' || i.action === 'setup') dynamic = i.action === 'include_role' ? true : dynamic;
      tasks.push({ t: i, ctxNames: locals });
    }
  };
  for (const play of pb.plays) {
    keysOf(play.vars, known);
    for (const f of play.varsFiles) {
      if (f.includes('{{')) {
        dynamic = true;
        continue;
      }
      try {
        keysOf(loadYamlFile(f).value, known);
      } catch {
        /* reported elsewhere */
      }
    }
    for (const s of play.sections) walk(s, play, new Set());
    walk(play.handlers, play, new Set());
  }
  if (dynamic) return [];
  const errors: RunbookError[] = [];
  for (const { t } of tasks) {
    const texts: string[] = [];
    strings(t.args, texts);
    // with_first_found skips a candidate whose variables are undefined (Ansible's rule): never an error here
    if (!(t.loop?.kind === 'lookup' && t.loop.lookup.endsWith('first_found'))) strings(t.loop?.terms, texts);
    strings(t.notify, texts);
    for (const w of [t.changedWhen, t.failedWhen, t.until].flat()) {
      if (typeof w === 'string') texts.push(w.includes('{{') ? w : `{{ ${w} }}`);
    }
    // names the task's own when uses are evaluated whenever the task is reached; the rest only when it holds
    const whenTexts: string[] = [];
    for (const w of t.when.flat()) if (typeof w === 'string') whenTexts.push(w.includes('{{') ? w : `{{ ${w} }}`);
    const inWhen = new Set<string>();
    for (const s of whenTexts) {
      const { used, guarded } = usedNames(s);
      for (const n of used) if (!guarded.has(n)) inWhen.add(n);
    }
    texts.push(...whenTexts);
    if (t.action === 'assert') {
      const that = Array.isArray(t.args['that']) ? t.args['that'] : [t.args['that']];
      for (const c of that) if (typeof c === 'string' && !c.includes('{{')) texts.push(`{{ ${c} }}`);
    }
    if (t.action === 'debug' && typeof t.args['var'] === 'string') texts.push(`{{ ${t.args['var']} }}`);
    const missing = new Set<string>();
    for (const s of texts) {
      const { used, guarded } = usedNames(s);
      for (const n of used) if (!known.has(n) && !guarded.has(n) && !n.startsWith('ansible_')) missing.add(n);
    }
    for (const n of missing) {
      const msg = `undefined variable "${n}" in task "${t.name ?? t.actionAs}" (defined nowhere: not in the inventory, play, roles, registered results, set_fact or -e)`;
      const why = t.guard ?? (t.when.length && !inWhen.has(n) ? 'its when may be false' : undefined);
      if (why) warnings.push(new RunbookError('undefined_variable', `${msg}; the task may not run (${why}) and fails if it does`, { pos: t.pos }));
      else errors.push(new RunbookError('undefined_variable', msg, { pos: t.pos }));
    }
  }
  return errors;
}
