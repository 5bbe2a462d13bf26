/**
 * Loop items in few round trips: the items of a looped task (batched modules below) are probed in one remote command
 * and their steps applied in another, probing again after earlier items' steps where they may overlap (ADR 0006). A layer of the pipeline's class
 * chain, like task-outcome.ts; pipeline.ts decides when to call it.
 */
import * as fs from 'node:fs';
import { posix } from 'node:path';
import type { ExecResult, RunOptions as ConnRunOptions } from '../connection/types.js';
import type { TaskNode } from '../playbook/model.js';
import { truthy } from '../playbook/loader.js';
import { coerceArgs, validateArgs } from '../playbook/validate.js';
import { hasSelinuxArgs } from './selinux.js';
import { resolveAction } from '../modules/registry.js';
import type { ModuleContext, Plan } from '../modules/types.js';
import { resolveFor } from '../vars/resolve.js';
import { preserveTrailingNewlines, templateVars } from '../vars/template-vars.js';
import { applyAndProbe, BATCH_SCRIPT_BUDGET, planSize, probeBatch, probeSize } from './apply.js';
import { taskLoopItems } from './loops.js';
import { withFinal } from '../vars/final.js';
import type { Connection } from '../connection/types.js';
import type { Probe, ModuleDef, Step } from '../modules/types.js';
import { connectionSpecFor } from './connect.js';
import { dropOmitted, factsVersionAll, isUnreachable, type ItemOutcome, type Scope } from './host-state.js';
import { TaskOutcome } from './task-outcome.js';
import { decodeBytes } from '../modules/bytes.js';

/**
 * Modules whose probe reads, and whose steps change, only the paths their `path`/`dest`/`src` name (and files
 * inside them): their loop items are probed and applied in one command each when no two items' paths overlap.
 */
const BATCHED = new Set(['file', 'copy', 'template', 'lineinfile', 'blockinfile', 'replace', 'ini_file', 'stat', 'slurp']);
/**
 * Modules whose steps may change anything (a command) or more than the item names (sysctl's reload sets every key of
 * its file), and whose prepare reads nothing on the host: their loop items are batched too, but after any item's
 * steps every later item is probed again (runBatch).
 */
const SEQUENTIAL = new Set(['command', 'shell', 'sysctl']);
/** The remote paths an item names: copy/template's `src` is on the controller (unless remote_src); file's link `src` is relative to the link's directory. */
function pathKeys(module: string, args: Record<string, unknown>): string[] {
  const str = (k: string) => (typeof args[k] === 'string' && args[k] !== '' ? [args[k] as string] : []);
  const keys = [...str('path'), ...str('dest'), ...str('name')];
  if (module === 'file') {
    const base = keys[0];
    for (const src of str('src')) keys.push(base !== undefined && !src.startsWith('/') ? posix.join(posix.dirname(base), src) : src);
  } else if ((module !== 'copy' && module !== 'template') || truthy(args['remote_src'])) keys.push(...str('src'));
  return keys;
}

/** Do two items name the same path, or one a path inside (or through) another's? Relative names compare as given. */
export function pathsOverlap(items: string[][]): boolean {
  const norm = (p: string) => posix.normalize(p).replace(/\/+$/, '') || '/';
  const seen: Array<{ item: number; p: string }> = [];
  items.forEach((keys, item) => {
    for (const k of new Set(keys.map(norm))) seen.push({ item, p: k });
  });
  if (seen.length > 4000) return true; // not worth the quadratic check: item by item
  const inside = (a: string, b: string) => a === b || b === '/' || a.startsWith(b.endsWith('/') ? b : b + '/');
  for (let i = 0; i < seen.length; i++) {
    for (let j = i + 1; j < seen.length; j++) {
      const a = seen[i]!;
      const b = seen[j]!;
      if (a.item !== b.item && (inside(a.p, b.p) || inside(b.p, a.p))) return true;
    }
  }
  return false;
}

/** A task the strategy runs after this one in the same list (executor.ts runItems), with its scope. */
export interface NextTask {
  task: TaskNode;
  scope: Scope;
}

/** Arguments that call a lookup (which may act on the controller: password, pipe) are not rendered ahead of time. */
const LOOKUP = /\b(lookup|query|q)\s*\(/;
/**
 * Modules whose probe may be sent ahead of their turn (read-only, reads only the host's own state, prepare reads
 * nothing but the controller's files) and whose run changes the host only through its plan's steps: every other
 * module's run counts as a change of the host (a wait_for waits for something to change by itself).
 */
const AHEAD = new Set([
  ...BATCHED, ...SEQUENTIAL,
  'apt', 'package', 'service', 'systemd', 'user', 'group', 'mount', 'timezone', 'cron', 'authorized_key', 'pam_limits', 'modprobe',
  'locale_gen', 'debconf', 'apt_repository', 'ufw', 'podman_network', 'podman_volume', 'podman_container',
]);
/** Actions that neither touch a host nor wait: running them leaves the probes fetched ahead exact. */
const PURE_ACTIONS = new Set(['debug', 'set_fact', 'assert', 'fail', 'set_stats', 'group_by', 'add_host']);
/**
 * Tasks looked at ahead, after a probe that found nothing to change; after steps, only the next one. The command's
 * size (BATCH_SCRIPT_BUDGET) bounds it too: about 20 file probes fit one command.
 */
const AHEAD_TASKS = 16;
/** Loops whose items may be rendered ahead: plain lists (other lookups may act on the controller). */
const PURE_LOOKUPS = new Set(['items', 'list', 'dict', 'indexed_items', 'together', 'nested', 'cartesian', 'subelements', 'sequence']);

/** A probe's output fetched ahead, valid while the host has not been changed since (HostState.mutations). */
interface Fetched {
  output: ExecResult;
  mutations: number;
  delegated: number;
}

export abstract class TaskBatch extends TaskOutcome {
  protected abstract errText(e: unknown, task: TaskNode): string;

  /** per task invocation (its Scope object, made fresh by runItems for each run of a task): the tasks after it */
  readonly nextAfter = new WeakMap<Scope, NextTask[]>();
  /** per host: probe outputs fetched ahead, by run options and script (probeKey) */
  private fetched = new Map<string, Map<string, Fetched>>();
  /** per host: the probe scripts an upcoming task renders to, and the variables' state they were rendered from */
  private aheadRendered = new Map<string, WeakMap<TaskNode, { scope: Scope; seen: unknown[]; keys: string[] }>>();
  /** steps run on a host other than the inventory host (delegate_to): any host may have changed */
  private delegatedMutations = 0;
  /** per play: the hosts that share a connection target with another host of the play */
  private sharedTargets?: { play: unknown; hosts: Set<string> };

  /**
   * Something may have changed on the host (steps about to run, an action that connects, a module outside AHEAD):
   * what was fetched ahead for it is stale. `delegated`: on another host than the inventory host's own.
   */
  protected mutated(host: string, delegated = false): void {
    this.host(host).mutations++;
    this.fetched.delete(host);
    if (delegated) this.delegatedMutations++;
  }

  protected isPureAction(name: string): boolean {
    return PURE_ACTIONS.has(name);
  }

  protected aheadModule(name: string): boolean {
    return AHEAD.has(name);
  }

  /**
   * Probes ahead of their turn (ADR 0006, 2026-12-03). A command for task N (its probe, or its steps) also carries
   * the probes of the tasks after it, rendered now for this host; their outputs are kept by script. When a later task
   * renders to the same probe script with the same run options, and nothing has changed on the host since (no steps,
   * no action that connects, no module outside AHEAD, nothing delegated anywhere), the kept output is what its own
   * probe would read now: it is used instead of a round trip. Exact whatever changed on the controller in between:
   * a task whose variables changed renders to another script, which is not found. Not for hosts that share their
   * machine with another inventory host, nor the controller itself (sharesTarget), nor RUNBOOK_PIPELINE=0.
   */
  protected fetchedProbe(host: string, script: string, runOpts: ConnRunOptions): ExecResult | undefined {
    const m = this.fetched.get(host);
    const f = m?.get(probeKey(script, runOpts));
    if (!f) return undefined;
    if (f.mutations !== this.host(host).mutations || f.delegated !== this.delegatedMutations) {
      this.fetched.delete(host);
      return undefined;
    }
    return f.output;
  }

  private keep(host: string, keys: string[], outputs: Array<ExecResult | undefined>): void {
    let m = this.fetched.get(host);
    if (!m) this.fetched.set(host, (m = new Map()));
    const mutations = this.host(host).mutations;
    keys.forEach((k, i) => {
      const o = outputs[i];
      if (o !== undefined) m!.set(k, { output: o, mutations, delegated: this.delegatedMutations });
    });
  }

  /**
   * The probe scripts of the tasks after this one (`scope`: this task's invocation) for this host, with this
   * command's run options, not already fetched: at most `tasks` tasks and `budget` bytes of script.
   */
  protected async aheadProbes(scope: Scope, host: string, runOpts: ConnRunOptions, tasks: number, budget: number): Promise<Array<{ key: string; script: string }>> {
    if (process.env['RUNBOOK_PIPELINE'] === '0' || this.sharesTarget(host)) return [];
    const nexts = (this.nextAfter.get(scope) ?? []).slice(0, tasks);
    const runKey = JSON.stringify([runOpts.env ?? null, runOpts.become ?? null]);
    const out: Array<{ key: string; script: string }> = [];
    let size = 0;
    for (const next of nexts) {
      const scripts = await this.renderAhead(next, host, runKey);
      for (const { key, script } of scripts) {
        if (this.fetchedProbe(host, script, runOpts) !== undefined || out.some((o) => o.key === key)) continue;
        if (size + probeSize(script) > budget) return out;
        size += probeSize(script);
        out.push({ key, script });
      }
    }
    return out;
  }

  /** This host's probe scripts of one upcoming task (per item of a loop), rendered as runOne/runBatch will render them. */
  private async renderAhead(next: NextTask, host: string, runKey: string): Promise<Array<{ key: string; script: string }>> {
    const { task, scope } = next;
    const resolved = resolveAction(task.action);
    if (!resolved || resolved.kind === 'action' || !AHEAD.has(resolved.def.name)) return [];
    if (task.until !== undefined || task.delegateTo !== undefined || scope.delegateTo !== undefined || task.runOnce !== undefined || scope.runOnce !== undefined || task.deferred !== undefined) return [];
    if (LOOKUP.test(JSON.stringify(task.args))) return [];
    if (task.loop !== undefined && (task.loop.kind !== 'loop' ? !PURE_LOOKUPS.has(task.loop.lookup.replace(/^ansible\.builtin\./, '')) : LOOKUP.test(JSON.stringify(task.loop.terms)))) return [];
    let cache = this.aheadRendered.get(host);
    if (!cache) this.aheadRendered.set(host, (cache = new WeakMap()));
    const seen = [...this.varsState(host), runKey];
    const hit = cache.get(task);
    if (hit && sameScope(hit.scope, scope) && hit.seen.length === seen.length && hit.seen.every((v, i) => v === seen[i])) return hit.keys.map((k) => ({ key: k, script: k.slice(k.indexOf('\n') + 1) }));
    const def = resolved.def;
    const keys: string[] = [];
    try {
      const ctx = this.varsFor(host, task, scope);
      const ctxs = task.loop === undefined ? [ctx] : itemContexts(task, ctx, taskLoopItems(task, scope.role ?? task.role, ctx, (v, c) => this.render(v, c)));
      for (const ictx of ctxs) {
        const r = await this.prepareItem(def as ModuleDef<unknown>, task, scope, host, ictx);
        if (r.kind !== 'ready' || !r.probe || JSON.stringify([r.runOpts.env ?? null, r.runOpts.become ?? null]) !== runKey) continue;
        keys.push(probeKey(r.probe.script, r.runOpts));
      }
    } catch {
      // whatever fails to render now is rendered in its turn, and reported there
    }
    cache.set(task, { scope, seen, keys });
    return keys.map((k) => ({ key: k, script: k.slice(k.indexOf('\n') + 1) }));
  }

  /** A probe in one command with the probes of the tasks after this one (aheadProbes); its output. */
  protected async probeAhead(conn: Connection, scope: Scope, host: string, scripts: string[], runOpts: ConnRunOptions): Promise<ExecResult[]> {
    const own = scripts.reduce((n, sc) => n + probeSize(sc), 0);
    const ahead = own < BATCH_SCRIPT_BUDGET ? await this.aheadProbes(scope, host, runOpts, AHEAD_TASKS, BATCH_SCRIPT_BUDGET - own) : [];
    if (!ahead.length) return scripts.length === 1 ? [await conn.run(scripts[0]!, runOpts)] : probeBatch(conn, scripts, runOpts);
    const outs = await probeBatch(conn, [...scripts, ...ahead.map((a) => a.script)], runOpts);
    this.keep(host, ahead.map((a) => a.key), outs.slice(scripts.length));
    return outs.slice(0, scripts.length);
  }

  /**
   * Steps (of one or several plans) in one command with the next task's probes after them (aheadProbes); the steps'
   * results. The caller has called mutated(host) before: what is fetched here is after the steps.
   */
  protected async applyAhead(conn: Connection, scope: Scope, host: string, plans: Step[][], reprobe: string[], runOpts: ConnRunOptions): Promise<{ plans: Array<ExecResult[] | Error>; probes: Array<ExecResult | undefined> }> {
    const own = plans.reduce((n, steps) => n + planSize(steps), 0) + reprobe.reduce((n, sc) => n + probeSize(sc), 0);
    const ahead = own < BATCH_SCRIPT_BUDGET ? await this.aheadProbes(scope, host, runOpts, 1, BATCH_SCRIPT_BUDGET - own) : [];
    const r = await applyAndProbe(conn, plans, [...reprobe, ...ahead.map((a) => a.script)], runOpts);
    this.keep(host, ahead.map((a) => a.key), r.probes.slice(reprobe.length));
    return { plans: r.plans, probes: r.probes.slice(0, reprobe.length) };
  }

  /**
   * Does another host of the play reach the same machine (the same address, port, pct container and jump hosts), or
   * is this host the controller itself (connection local, a loopback address)? Computed once per play.
   */
  private sharesTarget(host: string): boolean {
    if (this.sharedTargets?.play !== this.play) {
      const byKey = new Map<string, string[]>();
      const shared = new Set<string>();
      for (const h of this.playHosts) {
        let key: string;
        try {
          const ctx = this.varsFor(h, undefined, { when: [], tags: [], blockVars: [], environment: [] });
          const v = resolveFor(Object.fromEntries(Object.entries(ctx).filter(([k]) => k.startsWith('ansible_') || k.startsWith('runbook_') || k.startsWith('proxmox_'))), ctx, this.templar);
          const spec = connectionSpecFor(h, v, this.opts.hostKeyChecking, this.play?.connection);
          const loop = spec.type === 'local' || /^(localhost|127\.|::1$|\[::1\])/i.test(spec.address);
          key = loop ? 'loopback' : JSON.stringify([spec.type, spec.address.toLowerCase(), spec.port, spec.vmid ?? null, spec.jumpHosts ?? null]);
        } catch {
          key = 'unknown';
        }
        byKey.set(key, [...(byKey.get(key) ?? []), h]);
      }
      // the controller itself is never fetched ahead: a module's prepare (copy/template src) reads the controller's
      // files, which the steps run before could be writing
      for (const [key, hs] of byKey) if (hs.length > 1 || key === 'unknown' || key === 'loopback') for (const h of hs) shared.add(h);
      this.sharedTargets = { play: this.play, hosts: shared };
    }
    return this.sharedTargets.hosts.has(host) || !this.playHosts.includes(host);
  }

  /** What the variables of a host's task are rendered from, beyond the task and its scope (varsFor). */
  private varsState(host: string): unknown[] {
    const st = this.host(host);
    // any host's facts (hostvars is one live view: its identity says nothing, factsVersionAll does)
    return [this.play, factsVersionAll(), st.factsVersion, st.gathered, st.includeVars, Object.keys(st.includeVars).length, this.playVarsFiles.get(host), this.activeOf(this.playHosts).join('\n')];
  }

  /** The controller-side context a module's prepare gets (files of the role or playbook, template rendering). */
  protected moduleContext(task: TaskNode, scope: Scope, host: string, ctx: Record<string, unknown>, args: Record<string, unknown>): ModuleContext {
    return {
      host,
      vars: ctx,
      findFile: (kind, name) => this.findFile(kind, name, scope.role ?? task.role),
      renderTemplateFile: (f) => {
        const src = decodeBytes(fs.readFileSync(f));
        const tv = templateVars(typeof args['src'] === 'string' ? args['src'] : f, f, typeof args['dest'] === 'string' ? args['dest'] : undefined, ctx['ansible_managed']);
        return preserveTrailingNewlines(src, this.templar.renderString(src, resolveFor(src, { ...ctx, ...tv }, this.templar), { trimBlocks: true, keepTrailingNewline: false }));
      },
    };
  }

  /**
   * One item of a module task made ready to probe, as runOne would make it: its `when` (false: skipped), its args
   * rendered, coerced and validated (an error: the item fails with it), its environment and become (the run options)
   * and check mode, then prepare and the probe. 'alone' when the item must run by itself (SELinux arguments depend
   * on the host; a problem item by item reports exactly, or an unreachable host during prepare).
   * runBatch and renderAhead (the probes of a later task) both use it, so a probe sent ahead is the one the task's
   * own turn renders.
   */
  private async prepareItem(
    def: ModuleDef<unknown>,
    task: TaskNode,
    scope: Scope,
    host: string,
    ctx: Record<string, unknown>,
  ): Promise<
    | { kind: 'done'; out: ItemOutcome }
    | { kind: 'alone' }
    | { kind: 'ready'; params: unknown; probe: Probe<unknown> | null; runOpts: ConnRunOptions; check: boolean; keys: string[] }
  > {
    const fail = (reason: string): { kind: 'done'; out: ItemOutcome } => ({ kind: 'done', out: { status: 'failed', reason, result: { failed: true, msg: reason } } });
    try {
      for (const c of [...scope.when, ...task.when]) {
        if (!this.evalBool(c, ctx)) {
          return { kind: 'done', out: { status: 'skipped', reason: `condition false: ${typeof c === 'string' ? c : JSON.stringify(c)}`, result: { skipped: true, false_condition: c } } };
        }
      }
    } catch (e) {
      return fail(this.errText(e, task));
    }
    if (task.deferred) return fail(`${task.deferred.pos.file}:${task.deferred.pos.line}:${task.deferred.pos.col}: ${task.deferred.message}`);
    let args: Record<string, unknown>;
    try {
      args = dropOmitted(this.render(task.args, ctx) as Record<string, unknown>);
    } catch (e) {
      return fail(this.errText(e, task));
    }
    // SELinux contexts depend on the host (selinux.ts): item by item
    if (hasSelinuxArgs(args)) return { kind: 'alone' };
    const errs = validateArgs(def.schema, (args = coerceArgs(def.schema, args)), def.name, true);
    if (errs.length) return fail(`${task.pos.file}:${task.pos.line}:${task.pos.col}: ${errs.map((e) => e.message).join('; ')}`);
    const runOpts: ConnRunOptions = {};
    let check: boolean;
    try {
      const env = this.envFor(scope, task, ctx);
      if (env) runOpts.env = env;
      const become = this.becomeFor(scope, task, ctx, host);
      if (become) runOpts.become = become;
      check = this.taskCheckMode(scope, task, ctx) ?? this.opts.check;
    } catch {
      return { kind: 'alone' }; // item by item reports it exactly
    }
    try {
      const params = def.prepare ? await def.prepare(args, this.moduleContext(task, scope, host, ctx, args)) : args;
      return { kind: 'ready', params, probe: def.probe(params), runOpts, check, keys: pathKeys(def.name, args) };
    } catch (e) {
      if (isUnreachable(e)) return { kind: 'alone' };
      return fail(this.errText(e, task));
    }
  }

  /**
   * All items of a looped module task in as few remote commands as stay exact: every item is rendered, validated and
   * prepared, their probes go in ONE command (framed outputs split per item, lib/connection/scripts.ts batchScript),
   * each item is planned, and the steps of the items that apply go in one command (an item's steps stop at its first
   * failure, the other items' steps still run, as item by item). When an item's probe may have read something an
   * earlier item's steps change (overlapping paths: a directory and a file in it, the same sysctl file; any earlier
   * change, for command, shell and sysctl), the steps collected so far go first and that item (and every later one
   * they may affect) is probed again after them in the same command. Then every item's outcome (changed_when,
   * failed_when, check mode's overlay, register) goes through executePlan in item order, the same code as item by item.
   * Unchanged items: one command for the whole loop. Check mode applies nothing, so its plans are exact.
   *
   * Returns null (item by item) for modules outside BATCHED and SEQUENTIAL, for `until`/`delegate_to`, and when
   * items run with different environment/become.
   */
  protected async runBatch(task: TaskNode, scope: Scope, host: string, ictxs: Record<string, unknown>[]): Promise<ItemOutcome[] | null> {
    const resolved = resolveAction(task.action);
    if (!resolved || resolved.kind === 'action') return null;
    const mode = BATCHED.has(resolved.def.name) ? 'paths' : SEQUENTIAL.has(resolved.def.name) ? 'all' : null;
    if (mode === null) return null;
    // a pause between items (loop_control.pause) is time on the host between them: item by item
    if (task.until !== undefined || task.delegateTo !== undefined || scope.delegateTo !== undefined || task.loopPause !== undefined) return null;
    const def = resolved.def;
    const fail = (reason: string): ItemOutcome => ({ status: 'failed', reason, result: { failed: true, msg: reason } });
    interface Prep {
      ctx: Record<string, unknown>;
      out?: ItemOutcome;
      params?: unknown;
      probe?: Probe<unknown> | null;
      check?: boolean;
      runOpts?: ConnRunOptions;
      keys?: string[];
    }
    const preps: Prep[] = [];
    let optsKey: string | undefined;
    for (const ctx of ictxs) {
      const r = await this.prepareItem(def as ModuleDef<unknown>, task, scope, host, ctx);
      if (r.kind === 'alone') return null;
      if (r.kind === 'done') {
        preps.push({ ctx, out: r.out });
        continue;
      }
      const k = JSON.stringify([r.runOpts.env ?? null, r.runOpts.become ?? null]);
      if (optsKey !== undefined && k !== optsKey) return null;
      optsKey = k;
      preps.push({ ctx, params: r.params, probe: r.probe, check: r.check, runOpts: r.runOpts, keys: r.keys });
    }
    const live = preps.filter((p) => p.out === undefined);
    if (live.length < 2) return null;
    const runOpts = live[0]!.runOpts!;
    const unreachable = (e: unknown): ItemOutcome => ({ status: 'unreachable', reason: (e as Error).message, result: { unreachable: true } });
    // what the items got up to the first unreachable one (item by item stops there too)
    const upTo = (i: number, e: unknown): ItemOutcome[] => [...preps.slice(0, i).map((p) => p.out ?? fail('internal: no outcome')), unreachable(e)];
    let conn;
    try {
      conn = await this.connect(host);
    } catch (e) {
      if (isUnreachable(e)) return upTo(preps.indexOf(live[0]!), e);
      throw e;
    }
    // probes: those fetched ahead, and one command for all the others (with the probes of the tasks after this one)
    const probed = live.filter((p) => p.probe);
    const outputs: ExecResult[] = probed.map((p) => this.fetchedProbe(host, p.probe!.script, runOpts)!);
    const toProbe = probed.filter((_, k) => outputs[k] === undefined);
    if (toProbe.length) {
      try {
        const outs = await this.probeAhead(conn, scope, host, toProbe.map((p) => p.probe!.script), runOpts);
        toProbe.forEach((p, k) => (outputs[probed.indexOf(p)] = outs[k]!));
      } catch (e) {
        if (isUnreachable(e)) return upTo(preps.indexOf(toProbe[0]!), e);
        throw e;
      }
    }
    // per item: its plan, or the error its probe's output gave
    const plans = new Map<Prep, Plan | Error>();
    const planFrom = (p: Prep, output: ExecResult | undefined) => {
      try {
        const state = p.probe ? p.probe.parse(output!) : null;
        plans.set(p, def.plan(p.params as never, state as never));
      } catch (e) {
        plans.set(p, e instanceof Error ? e : new Error(String(e)));
      }
    };
    live.forEach((p) => planFrom(p, p.probe ? outputs[probed.indexOf(p)] : undefined));
    const applies = (p: Prep): boolean => {
      const plan = plans.get(p);
      return plan !== undefined && !(plan instanceof Error) && !plan.fail && plan.steps.length > 0 && (!p.check || plan.runInCheckMode === true);
    };
    // Segments: walk the items in order, collecting the ones that apply; an item whose probe may have read what a
    // collected item's steps change (its paths overlap theirs; any item of a module whose steps may change anything;
    // a plan that failed or a probe that could not be read, which an earlier step may explain) is probed again in the
    // same command as the collected steps, after them. So every plan is made from a probe that ran after the steps of
    // every earlier item that could affect it, as item by item; unchanged items cost no command beyond the first.
    const stale = (p: Prep, flushed: Prep[]): boolean => {
      if (!p.probe || !flushed.length) return false;
      const plan = plans.get(p);
      if (mode === 'all' || plan instanceof Error || plan?.fail) return true;
      return pathsOverlap([flushed.flatMap((q) => q.keys ?? []), p.keys ?? []]);
    };
    const applied = new Map<Prep, ExecResult[] | Error>();
    let pending: Prep[] = [];
    let ended: { at: number; error: Error } | undefined;
    const flush = async (at: number): Promise<void> => {
      const again = live.slice(at).filter((q) => stale(q, pending));
      let res: { plans: Array<ExecResult[] | Error>; probes: Array<ExecResult | undefined> };
      this.mutated(host);
      try {
        const steps = pending.map((p) => (plans.get(p) as Plan).steps);
        const probes = again.map((q) => q.probe!.script);
        // the last command of the loop carries the next task's probes
        res = at === live.length ? await this.applyAhead(conn, scope, host, steps, probes, runOpts) : await applyAndProbe(conn, steps, probes, runOpts);
        // a probe the command did not get to (it ended early): on its own
        const missing = again.filter((_, k) => res.probes[k] === undefined);
        if (missing.length) {
          const alone = await probeBatch(conn, missing.map((q) => q.probe!.script), runOpts);
          missing.forEach((q, k) => (res.probes[again.indexOf(q)] = alone[k]));
        }
      } catch (e) {
        const error = e instanceof Error ? e : new Error(String(e));
        pending.forEach((p) => applied.set(p, error));
        pending = [];
        ended = { at, error };
        return;
      }
      pending.forEach((p, k) => applied.set(p, res.plans[k]!));
      again.forEach((q, k) => planFrom(q, res.probes[k]));
      pending = [];
    };
    for (let i = 0; i < live.length; i++) {
      const p = live[i]!;
      if (pending.length && stale(p, pending)) {
        await flush(i);
        if (ended) break;
      }
      if (applies(p)) pending.push(p);
    }
    if (pending.length && !ended) await flush(live.length);
    // the command that ended the walk: the items after it did not run (an unreachable host stops the loop there)
    if (ended) {
      for (const p of live.slice(ended.at)) {
        if (!applied.has(p)) p.out = isUnreachable(ended.error) ? unreachable(ended.error) : fail(this.errText(ended.error, task));
      }
    }
    for (const p of live) {
      const plan = plans.get(p);
      if (p.out === undefined && plan instanceof Error) p.out = fail(this.errText(plan, task));
    }
    const out: ItemOutcome[] = [];
    for (const p of preps) {
      if (p.out === undefined) {
        const plan = plans.get(p) as Plan;
        const pre = applied.get(p);
        const apply = pre === undefined ? undefined : async () => {
          if (pre instanceof Error) throw pre;
          return pre;
        };
        try {
          p.out = await this.executePlan(def, p.params, plan, conn, runOpts, p.check!, task, p.ctx, apply);
        } catch (e) {
          if (this.aborted && isUnreachable(e)) p.out = fail(`interrupted by ${this.aborted.signal}: ${(e as Error).message}`);
          else if (isUnreachable(e)) p.out = unreachable(e);
          else p.out = fail(this.errText(e, task));
        }
      }
      out.push(p.out);
      if (p.out.status === 'unreachable') break;
    }
    return out;
  }
}

/** The key of a probe output kept ahead: the run options it ran with and its script. */
function probeKey(script: string, runOpts: ConnRunOptions): string {
  return JSON.stringify([runOpts.env ?? null, runOpts.become ?? null]).replace(/\n/g, '\\n') + '\n' + script;
}

/** A loop's per-item variables (the loop variable, index_var, ansible_loop), as pipeline.ts runs the items. */
export function itemContexts(task: TaskNode, ctx: Record<string, unknown>, all: unknown[]): Record<string, unknown>[] {
  // loop items are rendered values: final, never rendered again (a host's output looped over stays text)
  return all.map((item, i) =>
    withFinal(ctx, {
      [task.loopVar]: item,
      ansible_loop_var: task.loopVar,
      ...(task.indexVar ? { [task.indexVar]: i } : {}),
      ansible_loop: { index: i + 1, index0: i, first: i === 0, last: i === all.length - 1, length: all.length },
    }),
  );
}

/** The same scope, as runItems makes it again for the same task in the same list (inherit() of the same parent). */
function sameScope(a: Scope, b: Scope): boolean {
  const arr = (x: unknown[], y: unknown[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  return (
    arr(a.when, b.when) && arr(a.tags, b.tags) && arr(a.blockVars, b.blockVars) && arr(a.environment, b.environment) &&
    a.become === b.become && a.becomeUser === b.becomeUser && a.becomeMethod === b.becomeMethod && a.checkMode === b.checkMode &&
    a.ignoreErrors === b.ignoreErrors && a.noLog === b.noLog && a.delegateTo === b.delegateTo && a.runOnce === b.runOnce && a.role === b.role
  );
}
