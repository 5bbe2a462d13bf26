/**
 * Checks that need the inventory as well as the playbook, done before any host is contacted: host patterns,
 * roles' argument_specs against the variables each host would give the role.
 */
import { ConfigErrors, RunbookError } from '../errors.js';
import type { Inventory } from '../inventory/index.js';
import type { PlaybookLoader } from '../playbook/loader.js';
import type { Playbook } from '../playbook/model.js';
import { checkRoleArgs } from '../playbook/argument-specs.js';
import { checkUndefined } from '../playbook/undefined-check.js';
import { checkHandlers } from '../playbook/handler-check.js';
import { checkLoadTime, checkVarsFiles } from '../playbook/loadtime-check.js';
import type { SourcePos } from '../errors.js';
import type { Item, RoleScope, TaskNode } from '../playbook/model.js';
import { isMap } from '../playbook/loader.js';
import { resolveAction } from '../modules/registry.js';
import { coerceArgs } from '../playbook/validate.js';
import { createTemplar, OMIT, type Templar } from '../vars/template.js';
import { hasTemplate, referencedNames, resolveFor } from '../vars/resolve.js';
import { loadYamlFile } from '../yaml-load.js';

/**
 * Throws ConfigErrors for what is certain; returns warnings for what only a task that may not run needs
 * (docs/adr/0012: load-time errors only for certainties).
 */
export function preflight(pb: Playbook, inv: Inventory, loader: PlaybookLoader, extraVars: Record<string, unknown>, limit?: string): RunbookError[] {
  const errors: RunbookError[] = [];
  const warnings: RunbookError[] = [];
  const seen = new Set<string>();
  const select = (pattern: string, pos?: { file: string; line: number; col: number }): string[] => {
    try {
      return inv.selectHosts(pattern);
    } catch (e) {
      if (e instanceof RunbookError) {
        if (pos && !e.pos) e.pos = pos;
        errors.push(e);
        return [];
      }
      throw e;
    }
  };
  if (limit) select(limit);
  for (const play of pb.plays) select(play.hosts, play.pos);
  for (const use of loader.roleUses) {
    if (!use.specs) continue;
    const hosts = select(use.play.hosts);
    const targets = hosts.length ? hosts : [undefined];
    for (const h of targets) {
      const vars = { ...use.role.defaults, ...(h ? inv.hostVars(h) : {}), ...use.play.vars, ...use.role.vars, ...use.role.params, ...extraVars };
      for (const p of checkRoleArgs(use.specs, vars, use.role.name)) {
        const msg = `${p.message}${h ? ` for host ${h}` : ''}`;
        const key = `${use.pos.file}:${use.pos.line}:${p.message}`;
        if (seen.has(key)) continue;
        seen.add(key);
        errors.push(new RunbookError('bad_argument', msg, { pos: use.pos }));
      }
    }
  }
  // a required role argument that is missing is one error, not also an "undefined variable" in each task using it
  const missing = new Set(errors.map((e) => /required argument "([\w]+)" is missing/.exec(e.message)?.[1]).filter(Boolean));
  const notMissing = (e: RunbookError) => !missing.has(/undefined variable "([\w]+)"/.exec(e.message)?.[1]);
  const undefWarnings: RunbookError[] = [];
  errors.push(...checkUndefined(pb, inv, extraVars, undefWarnings).filter(notMissing));
  warnings.push(...undefWarnings.filter(notMissing));
  errors.push(...checkStatic(pb, inv, extraVars, warnings));
  errors.push(...checkHandlers(pb, warnings));
  // every expression and template file parses and names filters and tests that exist; templated vars_files
  errors.push(...checkLoadTime(pb, warnings));
  errors.push(...checkVarsFiles(pb, inv, extraVars));
  if (errors.length) throw new ConfigErrors(errors);
  return warnings;
}

/**
 * What the variables known before the run (inventory, play vars and vars_files, role defaults/vars/params,
 * block and task vars, -e) already decide: recursion between variables, a loop over a value that is not a list,
 * and module arguments a module's pure `validate` hook rejects (podman_network subnets). A value that needs
 * anything known only at run time (facts, registered results, set_fact, include_vars, loop items) is left to
 * the run: no false errors.
 */
export function checkStatic(pb: Playbook, inv: Inventory, extraVars: Record<string, unknown>, warnings: RunbookError[] = []): RunbookError[] {
  const templar = createTemplar();
  const errors: RunbookError[] = [];
  const seen = new Set<string>();
  // a task that may not run (a guard from above, its own when, a deferred problem): certain only if it runs
  const add = (t: TaskNode) => (pos: SourcePos, msg: string) => {
    const key = `${pos.file}:${pos.line}:${msg}`;
    if (seen.has(key)) return;
    seen.add(key);
    const why = t.guard ?? (t.when.length ? 'its when may be false' : undefined);
    if (t.deferred) return;
    if (why) warnings.push(new RunbookError('bad_argument', `${msg}; the task may not run (${why}) and fails if it does`, { pos }));
    else errors.push(new RunbookError('bad_argument', msg, { pos }));
  };
  // names whose value changes during the run are not static
  const dynamic = new Set<string>();
  const collectDynamic = (items: Item[]) => {
    for (const i of items) {
      if (i.kind === 'block') {
        collectDynamic(i.block);
        collectDynamic(i.rescue);
        collectDynamic(i.always);
        continue;
      }
      if (i.register) dynamic.add(i.register);
      dynamic.add(i.loopVar);
      if (i.indexVar) dynamic.add(i.indexVar);
      if (i.action === 'set_fact' || i.action === 'include_vars') for (const k of Object.keys(i.args)) dynamic.add(k);
      if (i.include) collectDynamic(i.include.tasks);
    }
  };
  for (const play of pb.plays) {
    for (const sec of play.sections) collectDynamic(sec);
    collectDynamic(play.handlers);
  }
  const includeVars = pb.plays.some((p) => hasAction([...p.sections.flat(), ...p.handlers], 'include_vars'));

  for (const play of pb.plays) {
    let hosts: string[] = [];
    try {
      hosts = inv.selectHosts(play.hosts);
    } catch {
      /* reported by preflight */
    }
    const targets: (string | undefined)[] = hosts.length ? hosts.slice(0, 100) : [undefined];
    const filesVars: Record<string, unknown> = {};
    for (const f of play.varsFiles) {
      if (f.includes('{{')) continue;
      try {
        const v = loadYamlFile(f).value;
        if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(filesVars, v);
      } catch {
        /* reported by the loader or the run */
      }
    }
    const walk = (items: Item[], blockVars: Record<string, unknown>[], role: RoleScope | undefined) => {
      for (const i of items) {
        const r = i.role ?? role;
        if (i.kind === 'block') {
          for (const sub of [i.block, i.rescue, i.always]) walk(sub, [...blockVars, i.vars], r);
          continue;
        }
        if (i.include) walk(i.include.tasks, [...blockVars, i.vars], r);
        // hosts whose variables the task reads (transitively, as written) are the same as an earlier host's get the
        // same answers: checked once (O(tasks), not O(tasks x hosts), for inventories whose hosts share their vars)
        const checkedRec = new Set<string>();
        const checkedVal = new Set<string>();
        for (const h of targets) {
          const ctx: Record<string, unknown> = {
            ...(r?.defaults ?? {}),
            ...(h ? inv.hostVars(h) : {}),
            ...play.vars,
            ...filesVars,
            ...(r?.vars ?? {}),
            ...Object.assign({}, ...blockVars),
            ...i.vars,
            ...(r?.params ?? {}),
            ...extraVars,
          };
          for (const n of dynamic) delete ctx[n];
          if (includeVars) for (const k of Object.keys(ctx)) if (!(k in extraVars)) delete ctx[k];
          if (h) Object.assign(ctx, { inventory_hostname: h, inventory_hostname_short: h.split('.')[0] });
          // recursion depends on what the values name, not on the host's name; the values' checks on everything
          const kRec = inputsKey(i, ctx, true);
          const kVal = inputsKey(i, ctx, false);
          const recursion = kRec === undefined || !checkedRec.has(kRec);
          const values = kVal === undefined || !checkedVal.has(kVal);
          if (kRec !== undefined) checkedRec.add(kRec);
          if (kVal !== undefined) checkedVal.add(kVal);
          if (recursion || values) checkTask(i, ctx, h, templar, add(i), { recursion, values });
        }
      }
    };
    for (const sec of play.sections) walk(sec, [], undefined);
    walk(play.handlers, [], undefined);
  }
  return errors;
}

/** Templates that may read variables by a name the text does not spell out (vars['x'], lookup('vars', ...), hostvars). */
const INDIRECT = /\bvars\b|lookup|query|\bq\(|hostvars|varnames/;

/**
 * What a task's check reads of ctx: the raw values of every variable its arguments, loop and when name, and the
 * names those values name in turn. Undefined (check every host) when a template may read variables indirectly.
 */
function inputsKey(t: TaskNode, ctx: Record<string, unknown>, anyHostName: boolean): string | undefined {
  const seen = new Map<string, unknown>();
  const todo: unknown[] = [t.args, t.loop?.terms, t.when];
  for (let n = 0; todo.length && n < 10_000; n++) {
    const v = todo.pop();
    const texts: string[] = [];
    const gather = (x: unknown, depth: number): void => {
      if (typeof x === 'string') {
        if (x.includes('{{') || x.includes('{%')) texts.push(x);
      } else if (depth < 20 && x && typeof x === 'object') for (const y of Array.isArray(x) ? x : Object.values(x)) gather(y, depth + 1);
    };
    gather(v, 0);
    for (const text of texts) {
      if (INDIRECT.test(text)) return undefined;
      for (const name of referencedNames(text)) {
        if (seen.has(name)) continue;
        seen.set(name, anyHostName && (name === 'inventory_hostname' || name === 'inventory_hostname_short') ? '' : ctx[name]);
        todo.push(ctx[name]);
      }
    }
  }
  if (todo.length) return undefined;
  try {
    return JSON.stringify([...seen].sort(([a], [b]) => (a < b ? -1 : 1)));
  } catch {
    return undefined;
  }
}

function hasAction(items: Item[], action: string): boolean {
  return items.some((i) => (i.kind === 'block' ? hasAction([...i.block, ...i.rescue, ...i.always], action) : i.action === action || (i.include !== undefined && hasAction(i.include.tasks, action))));
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return `a string ${JSON.stringify(v.length > 60 ? v.slice(0, 60) + '...' : v)}`;
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v} (${JSON.stringify(v)})`;
}

function checkTask(t: TaskNode, ctx: Record<string, unknown>, host: string | undefined, templar: Templar, add: (pos: SourcePos, msg: string) => void, what = { recursion: true, values: true }): void {
  const who = `task "${t.name ?? t.actionAs}"`;
  // 1. recursion between variables the task uses
  if (what.recursion) {
    try {
      resolveFor([t.args, t.loop?.terms, t.when], ctx, templar);
    } catch (e) {
      if (e instanceof RunbookError && /recursion in variables|nested too deeply/.test(e.message)) {
        add(t.pos, `${e.message} (variables that refer to each other in a cycle, used by ${who})`);
        return;
      }
    }
  }
  if (!what.values) return;
  const render = (v: unknown): { ok: true; v: unknown } | { ok: false } => {
    try {
      return { ok: true, v: templar.render(v, resolveFor(v, ctx, templar)) };
    } catch {
      return { ok: false };
    }
  };
  // 2. a loop over something that is not a list
  const mode = t.loop?.kind === 'loop' ? 'loop' : t.loop?.lookup === 'items' ? 'items' : t.loop?.lookup === 'dict' ? 'dict' : undefined;
  if (t.loop !== undefined && mode) {
    const raw = t.loop.terms;
    const templated = hasTemplate(raw);
    const r = templated ? render(raw) : { ok: true as const, v: raw };
    if (r.ok && !(isMap(r.v) && '__vault__' in r.v)) {
      const via = templated && typeof raw === 'string' ? ` (${raw.trim()}${host ? ` for host ${host}` : ''})` : '';
      if (mode === 'loop' && !Array.isArray(r.v)) add(t.pos, `loop needs a list, got ${describe(r.v)}${via} in ${who} (use "| dict2items" for a dictionary)`);
      if (mode === 'items' && !Array.isArray(r.v) && typeof r.v !== 'string') add(t.pos, `with_items needs a list, got ${describe(r.v)}${via} in ${who}`);
      if (mode === 'dict' && !isMap(r.v)) add(t.pos, `with_dict needs a dictionary, got ${describe(r.v)}${via} in ${who}`);
    }
  }
  // 3. the module's own pure validation, when every argument is known now
  const resolved = resolveAction(t.action);
  if (!resolved || resolved.kind !== 'module' || !resolved.def.validate) return;
  if (t.loop !== undefined) return; // arguments may depend on the item
  const args: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(t.args)) args[k] = v;
  const templated = hasTemplate(args);
  const r = templated ? render(args) : { ok: true as const, v: args };
  if (!r.ok || !isMap(r.v)) return;
  const clean: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r.v)) if (v !== OMIT) clean[k] = v;
  for (const p of resolved.def.validate(coerceArgs(resolved.def.schema, clean))) add(t.pos, `${p}${templated && host ? ` (with the variables of host ${host})` : ''}`);
}
