/**
 * Which host runs which task when (Ansible's linear strategy: every host finishes task N before any starts N+1,
 * up to `forks` hosts at once), failures, block/rescue/always, handlers. The only caller of applySteps.
 *
 * Per host and task: render args -> validate -> prepare -> probe (one read-only round trip) -> pure plan ->
 * report -> unless --check, apply. Check and apply share every line up to the last.
 */
import { RunbookError } from '../errors.js';
import type { RunOptions as ConnRunOptions } from '../connection/types.js';
import type { Item, RoleScope, TaskNode } from '../playbook/model.js';
import { truthy } from '../playbook/loader.js';
import { taskLoopItems } from './loops.js';
import { pyStr } from '../vars/filters.js';
import { coerceArgs, validateArgs } from '../playbook/validate.js';
import { withoutSelinuxArgs } from './selinux.js';
import { resolveAction } from '../modules/registry.js';
import type { Plan } from '../modules/types.js';
import { TemplateError } from '../vars/template.js';
import { resolveFor } from '../vars/resolve.js';
import { markFinal, withFinal } from '../vars/final.js';
import { type HostResult, type Status } from './events.js';
import { loadVarsYaml } from '../vars/sops.js';

import type { ActionDef, ActionEngine } from '../actions/types.js';
import { EndPlay, HIDDEN, dropOmitted, isUnreachable, type ItemOutcome, type Scope } from './host-state.js';
import { TaskBatch, itemContexts } from './batch.js';
import { applyPlan } from './apply.js';
import type { ExecResult } from '../connection/types.js';
import type { Step } from '../modules/types.js';
export { pathsOverlap } from './batch.js';

/**
 * The run-task pipeline, per (host, task): variables -> loop items -> when -> render args -> validate -> probe ->
 * pure plan -> apply (task-outcome.ts) -> outcome -> register/notify -> report. Controller-side actions are
 * registered handlers (lib/actions/), reached through the same pipeline.
 */
export abstract class TaskPipeline extends TaskBatch {
  /** the strategy's (executor.ts): what include_* and meta need of it */
  protected abstract flushHandlers(hosts: string[]): Promise<void>;
  protected abstract runItemsForHost(items: Item[], scope: Scope, host: string): Promise<void>;

  protected async runTask(task: TaskNode, scope: Scope, hosts: string[], handler = false): Promise<void> {
    if (this.aborted) return;
    const title = task.name ?? `${task.actionAs}`;
    let targets = hosts;
    if (truthy(scope.runOnce)) targets = hosts.slice(0, 1);
    await this.bus.emit({ type: 'task:start', name: title, action: task.action, hosts: targets, pos: task.pos, handler, role: (scope.role ?? task.role)?.name });
    // the connections this task opens, all first (connections.ts preconnect): a module, or gathering facts, on the
    // hosts' own connections
    const resolved = resolveAction(task.action);
    if (resolved && (resolved.kind === 'module' || resolved.def.name === 'setup') && task.delegateTo === undefined && scope.delegateTo === undefined) {
      await this.preconnect(
        targets,
        async (h) => {
          await this.loadVarsFiles(h);
          const ctx = this.varsFor(h, task, scope);
          return [...scope.when, ...task.when].every((c) => this.evalBool(c, ctx));
        },
        (hs, fn) => this.parallel(hs, fn),
      );
    }
    const results = await this.parallel(targets, (h) => this.runTaskOnHost(task, scope, h, title));
    if (truthy(scope.runOnce) && targets.length === 1) {
      // run_once: the result (and registered variable) applies to every host of the batch
      const reg = task.register;
      const first = this.host(targets[0]!);
      for (const h of hosts.slice(1)) {
        const st = this.host(h);
        if (reg && reg in first.facts) st.facts[reg] = first.facts[reg];
        if (results[0]?.status === 'changed') for (const n of task.notify) st.notified.add(n);
      }
    }
    await this.bus.emit({ type: 'task:end', name: title });
  }

  protected async parallel<T>(hosts: string[], fn: (h: string) => Promise<T>): Promise<T[]> {
    const out: T[] = new Array(hosts.length);
    let next = 0;
    const worker = async () => {
      while (next < hosts.length && !this.aborted) {
        const i = next++;
        out[i] = await fn(hosts[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.forks, hosts.length) }, worker));
    return out;
  }

  protected async report(task: TaskNode, title: string, r: HostResult, noLog: boolean): Promise<void> {
    const st = this.host(r.host);
    if (noLog) {
      delete (r as { items?: unknown }).items;
      r = { ...r, diffs: r.diffs ? [{ label: r.diffs[0]?.label ?? '', before: HIDDEN + '\n', after: HIDDEN + '\n' }] : undefined, output: r.output !== undefined ? HIDDEN : undefined, reason: r.status === 'skipped' || r.status === 'unreachable' ? r.reason : HIDDEN, item: r.item !== undefined ? '(censored)' : undefined };
    }
    // secrets are masked by the event bus, in every string of every event (events.ts)
    await this.bus.emit({ type: 'task:result', task: title, pos: task.pos, result: r });
    switch (r.status) {
      case 'ok':
        st.stats.ok++;
        break;
      case 'changed':
        st.stats.changed++;
        st.stats.ok++;
        break;
      case 'skipped':
        st.stats.skipped++;
        break;
      case 'failed':
        if (r.ignored) st.stats.ignored++;
        else st.stats.failed++;
        break;
      case 'unreachable':
        st.stats.unreachable++;
        break;
    }
  }

  protected async runTaskOnHost(task: TaskNode, scope: Scope, host: string, title: string): Promise<HostResult> {
    const st = this.host(host);
    const t0 = Date.now();
    let noLog = false;
    const done = async (status: Status, reason: string, extra: Partial<HostResult> = {}): Promise<HostResult> => {
      const r: HostResult = { host, status, reason, durationMs: Date.now() - t0, ...extra };
      await this.report(task, title, r, noLog);
      return r;
    };
    let ctx: Record<string, unknown>;
    try {
      await this.loadVarsFiles(host);
      ctx = this.varsFor(host, task, scope);
      noLog = scope.noLog !== undefined ? this.evalBool(this.render(scope.noLog, ctx), ctx) : false;
      if (task.noLog !== undefined) noLog = this.evalBool(this.render(task.noLog, ctx), ctx);
      // the task's own vars of a no_log task are secrets wherever they show up later
      if (noLog && Object.keys(task.vars).length) this.secrets.markValue(this.render(task.vars, ctx));
    } catch (e) {
      st.failed = true;
      return done('failed', this.errText(e, task));
    }

    // loop or single
    let items: unknown[] | undefined;
    try {
      if (task.loop !== undefined) items = taskLoopItems(task, scope.role ?? task.role, ctx, (v, c) => this.render(v, c));
    } catch (e) {
      st.failed = true;
      return done('failed', this.errText(e, task));
    }

    if (items === undefined) {
      const r = await this.runOne(task, scope, host, ctx, noLog);
      return this.finishHost(task, scope, host, ctx, r, [], done, noLog);
    }
    // a loop: when and the module run per item; the task's result aggregates
    const results: ItemOutcome[] = [];
    const all = items;
    const ictxs = itemContexts(task, ctx, all);
    // one remote command for all items' probes and one for all their steps, where that is exact (runBatch)
    // RUNBOOK_BATCH=0: item by item (the bench's before/after and the tests' reference output)
    const batched = all.length > 1 && process.env['RUNBOOK_BATCH'] !== '0' ? await this.runBatch(task, scope, host, ictxs) : null;
    let pauseMs = 0;
    if (task.loopPause !== undefined) {
      let sec = NaN;
      try {
        sec = Number(this.render(task.loopPause, ctx));
      } catch (e) {
        st.failed = true;
        return done('failed', this.errText(e, task));
      }
      if (!Number.isFinite(sec) || sec < 0) {
        st.failed = true;
        return done('failed', `${task.pos.file}:${task.pos.line}:${task.pos.col}: loop_control.pause must be a number of seconds, got ${JSON.stringify(task.loopPause)}`);
      }
      pauseMs = sec * 1000;
    }
    for (const [i, item] of items.entries()) {
      if (this.aborted) break;
      // loop_control.pause: Ansible waits between items (not before the first)
      if (pauseMs > 0 && i > 0) await new Promise((r) => setTimeout(r, pauseMs));
      const ictx = ictxs[i]!;
      if (batched && i >= batched.length) break;
      const r = batched ? batched[i]! : await this.runOne(task, scope, host, ictx, noLog);
      let label: string;
      try {
        // Ansible prints the item as Python's str() does: (item=[1, 'a']), (item={'key': 'a', 'value': 1})
        label = task.loopLabel !== undefined ? pyStr(this.render(task.loopLabel, ictx)) : pyStr(item);
      } catch {
        label = JSON.stringify(item);
      }
      r.item = label;
      r.result[task.loopVar] = item;
      results.push(r);
      if (r.status === 'unreachable') break;
    }
    const agg: ItemOutcome = {
      status: results.some((r) => r.status === 'unreachable') ? 'unreachable' : results.some((r) => r.status === 'failed') ? 'failed' : results.some((r) => r.status === 'changed') ? 'changed' : results.every((r) => r.status === 'skipped') ? 'skipped' : 'ok',
      reason: results.length === 0 ? 'loop over an empty list' : results.filter((r) => r.status === 'unreachable' || r.status === 'failed').map((r) => `[${r.item}] ${r.reason}`).join('; ') || `${results.filter((r) => r.status === 'changed').length} of ${results.length} items changed`,
      result: { results: results.map((r) => r.result), changed: results.some((r) => r.status === 'changed'), failed: results.some((r) => r.status === 'failed'), skipped: results.length === 0 || results.every((r) => r.status === 'skipped') },
      diffs: results.flatMap((r) => r.diffs ?? []),
    };
    if (results.length === 0) agg.status = 'skipped';
    return this.finishHost(task, scope, host, ctx, agg, results, done, noLog);
  }

  protected async finishHost(task: TaskNode, scope: Scope, host: string, ctx: Record<string, unknown>, r: ItemOutcome, items: ItemOutcome[], done: (s: Status, reason: string, extra?: Partial<HostResult>) => Promise<HostResult>, noLog: boolean): Promise<HostResult> {
    const st = this.host(host);
    if (task.register && r.status !== 'unreachable') {
      const reg: Record<string, unknown> = { ...r.result, changed: r.status === 'changed', failed: r.status === 'failed', skipped: r.status === 'skipped' };
      if (r.status === 'failed' && reg['msg'] === undefined) reg['msg'] = r.reason;
      st.facts[task.register] = markFinal(noLog ? this.secrets.markValue(reg) : reg);
    }
    if (r.status === 'changed') {
      st.plannedChanges++;
      for (const n of task.notify) {
        try {
          st.notified.add(String(this.render(n, ctx)));
        } catch {
          st.notified.add(n);
        }
      }
    }
    if (r.status === 'unreachable') {
      st.unreachable = true;
      await this.bus.emit({ type: 'host:unreachable', host, message: r.reason });
      return done('unreachable', r.reason);
    }
    let ignored = false;
    if (r.status === 'failed') {
      let ignore = false;
      try {
        ignore = scope.ignoreErrors !== undefined && this.evalBool(this.render(scope.ignoreErrors, ctx), ctx);
        if (task.ignoreErrors !== undefined) ignore = this.evalBool(this.render(task.ignoreErrors, ctx), ctx);
      } catch {
        ignore = false;
      }
      if (ignore) ignored = true;
      else {
        st.failed = true;
        st.lastFailure = { task: { name: task.name ?? task.actionAs, action: task.action }, result: { ...r.result, failed: true, msg: r.result['msg'] ?? r.reason } };
      }
    }
    // a loop's result carries one entry per item: the reporters show `(item=...)` lines from them
    const perItem = items.length ? items.map((i) => ({ host, status: i.status, reason: i.reason, item: i.item, durationMs: 0, result: i.result, output: i.output, diffs: this.opts.diff ? i.diffs : undefined, delegatedTo: i.delegatedTo })) : undefined;
    return done(r.status, r.reason, { diffs: this.opts.diff ? r.diffs : undefined, output: r.output, item: items.length ? undefined : r.item, ignored: ignored || undefined, delegatedTo: r.delegatedTo, afterEarlierChange: r.afterEarlierChange, ...(perItem ? { items: perItem } : {}) } as Partial<HostResult>);
  }

  protected errText(e: unknown, task: TaskNode): string {
    if (e instanceof TemplateError) {
      const where = `${task.pos.file}:${task.pos.line}:${task.pos.col}`;
      return e.code === 'undefined_variable' ? `${where}: undefined variable: ${e.message}` : `${where}: template error: ${e.message}`;
    }
    if (e instanceof RunbookError) {
      const p = e.pos ?? task.pos;
      return `${p.file}:${p.line}:${p.col}: ${e.message}`;
    }
    if (e instanceof Error) return e.message;
    return String(e);
  }

  /**
   * One module run (one loop item, or the whole task without a loop). Its probe may have been fetched ahead, and its
   * commands carry the probes of the tasks after it (batch.ts fetchedProbe, probeAhead, applyAhead).
   */
  protected async runOne(task: TaskNode, scope: Scope, host: string, ctx: Record<string, unknown>, noLog: boolean): Promise<ItemOutcome> {
    const fail = (reason: string, result: Record<string, unknown> = {}): ItemOutcome => ({ status: 'failed', reason, result: { ...result, failed: true, msg: reason } });
    // conditions: inherited block conditions and the task's own, all must hold
    const conds = [...scope.when, ...task.when];
    try {
      for (const c of conds) {
        if (!this.evalBool(c, ctx)) return { status: 'skipped', reason: `condition false: ${typeof c === 'string' ? c : JSON.stringify(c)}`, result: { skipped: true, false_condition: c } };
      }
    } catch (e) {
      return fail(this.errText(e, task));
    }
    // a problem the loader could only defer (docs/adr: load-time errors only for what is certain) fails the task now
    if (task.deferred) return fail(`${task.deferred.pos.file}:${task.deferred.pos.line}:${task.deferred.pos.col}: ${task.deferred.message}`);
    const resolved = resolveAction(task.action)!;
    let args: Record<string, unknown>;
    try {
      args = dropOmitted(this.render(task.args, ctx) as Record<string, unknown>);
    } catch (e) {
      return fail(this.errText(e, task));
    }
    if (resolved.kind === 'action') {
      // an action that may touch the host or wait: probes fetched ahead are not trusted after it
      if (!this.isPureAction(resolved.def.name)) this.mutated(host, scope.delegateTo !== undefined || task.delegateTo !== undefined);
      try {
        return await this.runAction(resolved.def, task, scope, host, ctx, args);
      } catch (e) {
        if (e instanceof EndPlay) throw e;
        if (isUnreachable(e)) return { status: 'unreachable', reason: (e as Error).message, result: { unreachable: true } };
        return fail(this.errText(e, task));
      }
    }
    const def = resolved.def;
    // Ansible's type conversions ("yes" -> true, "86400" -> 86400): the module receives what was validated
    const errs = validateArgs(def.schema, (args = coerceArgs(def.schema, args)), def.name, true);
    if (errs.length) return fail(`${task.pos.file}:${task.pos.line}:${task.pos.col}: ${errs.map((e) => e.message).join('; ')}`);

    // delegate_to: the connection of another host, the variables of this one
    let target = host;
    let delegatedTo: string | undefined;
    if (scope.delegateTo !== undefined || task.delegateTo !== undefined) {
      try {
        delegatedTo = String(this.render(task.delegateTo ?? scope.delegateTo, ctx));
        target = delegatedTo;
      } catch (e) {
        return fail(this.errText(e, task));
      }
    }
    const runOpts: ConnRunOptions = {};
    try {
      const env = this.envFor(scope, task, ctx);
      if (env) runOpts.env = env;
      const become = this.becomeFor(scope, task, ctx, target);
      if (become) runOpts.become = become;
    } catch (e) {
      return fail(this.errText(e, task));
    }

    // the template module's own variables (ansible_managed, template_path, ...: template-vars.ts)
    const mctx = this.moduleContext(task, scope, host, ctx, args);
    const forceCheck = this.taskCheckMode(scope, task, ctx);
    const check = forceCheck ?? this.opts.check;
    // probes ahead: only on the host's own connection, never for a task that runs more than once
    const ahead = target === host && task.until === undefined;
    // a module that may change the host beyond its steps (or wait for it to change by itself)
    if (!this.aheadModule(def.name)) this.mutated(host, target !== host);
    const retries = task.until !== undefined ? Math.max(0, Number(this.render(task.retries ?? 3, ctx))) : 0;
    const delay = task.until !== undefined ? Math.max(0, Number(this.render(task.delay ?? 5, ctx))) : 0;
    let attempt = 0;
    for (;;) {
      let outcome: ItemOutcome;
      let notRun = false;
      try {
        const conn = await this.connect(target);
        args = await withoutSelinuxArgs(def.name, args, conn, this.host(target));
        const params = def.prepare ? await def.prepare(args, mctx) : args;
        const probe = def.probe(params);
        let output: ExecResult | undefined;
        if (probe !== null) {
          output = ahead ? this.fetchedProbe(host, probe.script, runOpts) : undefined;
          output ??= ahead && task.loop === undefined ? (await this.probeAhead(conn, scope, host, [probe.script], runOpts))[0]! : await conn.run(probe.script, runOpts);
        }
        const state = probe !== null ? probe.parse(output!) : null;
        const plan: Plan = def.plan(params, state);
        // check mode: planned steps are not run, so there is no result for `until` to judge; retrying cannot help
        notRun = check && plan.steps.length > 0 && plan.runInCheckMode !== true;
        // the steps carry the next task's probe (ADR 0006)
        const apply = async (steps: Step[]): Promise<ExecResult[]> => {
          this.mutated(host, target !== host);
          if (!ahead) return applyPlan(conn, steps, runOpts);
          const r = (await this.applyAhead(conn, scope, host, [steps], [], runOpts)).plans[0]!;
          if (r instanceof Error) throw r;
          return r;
        };
        outcome = await this.executePlan(def, params, plan, conn, runOpts, check, task, ctx, apply);
      } catch (e) {
        if (this.aborted && isUnreachable(e)) return fail(`interrupted by ${this.aborted.signal}: ${(e as Error).message}`);
        if (isUnreachable(e)) return { status: 'unreachable', reason: (e as Error).message, result: { unreachable: true } };
        outcome = fail(this.errText(e, task));
      }
      outcome.delegatedTo = delegatedTo;
      if (task.until === undefined || this.aborted || notRun) return outcome;
      outcome.result['attempts'] = attempt + 1;
      let ok = false;
      try {
        ok = this.evalBool(task.until, withFinal(ctx, { ...(task.register ? { [task.register]: outcome.result } : {}), ...outcome.result }));
      } catch {
        ok = false;
      }
      if (ok) return outcome;
      if (attempt >= retries) {
        // Ansible: the retries ran out without the condition holding: the task fails, with its attempts
        return outcome.status === 'failed' ? outcome : { ...outcome, status: 'failed', reason: `until condition not met after ${attempt + 1} attempts: ${String(task.until)}`, result: { ...outcome.result, failed: true } };
      }
      attempt++;
      await new Promise((r) => setTimeout(r, delay * 1000));
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // controller-side actions: registered handlers (lib/actions/), given an engine bound to this task and host

  protected async runAction(def: ActionDef, task: TaskNode, scope: Scope, host: string, ctx: Record<string, unknown>, args: Record<string, unknown>): Promise<ItemOutcome> {
    if (!def.run) throw new RunbookError('internal', `action ${task.action} has no implementation`);
    return def.run({ task, host, vars: ctx, args, engine: this.actionEngine(task, scope, host, ctx) });
  }

  private actionEngine(task: TaskNode, scope: Scope, host: string, ctx: Record<string, unknown>): ActionEngine {
    const st = this.host(host);
    return {
      check: this.taskCheckMode(scope, task, ctx) ?? this.opts.check,
      evaluate: (expr, vars) => this.templar.evaluate(expr, resolveFor(`{{ ${expr} }}`, vars, this.templar)),
      evalBool: (expr, vars) => this.evalBool(expr, vars),
      connect: () => this.connect(host),
      resetConnection: async () => {
        const old = st.conn;
        st.conn = undefined;
        st.unreachable = false;
        await (await old?.catch(() => undefined))?.close().catch(() => undefined);
      },
      become: () => this.becomeFor(scope, task, ctx, host),
      // rendered once, here: the values are final from now on (a copied host output stays text)
      setFacts: (facts) => void Object.assign(st.facts, markFinal(facts)),
      setGathered: (vars) => void (st.gathered = vars),
      setIncludeVars: (vars, name) => void (name ? (st.includeVars[name] = vars) : Object.assign(st.includeVars, vars)),
      loadVars: (file) => {
        const y = loadVarsYaml(file);
        return this.secrets.absorb(file, (y.value ?? {}) as Record<string, unknown>, (p) => y.pos(p));
      },
      role: () => scope.role ?? task.role,
      loadTasks: (file) => {
        const loaded = this.loader.itemsFromFile(file);
        if (this.loader.sink.errors.length) throw this.loader.sink.errors[0];
        return loaded;
      },
      loadRole: (name, pos) => {
        const def = this.loader.loadRole(name, this.pb.dir, pos);
        if (!def) throw this.loader.sink.errors.pop() ?? new RunbookError('missing_role', `role ${name} not found`, { pos });
        const roleScope: RoleScope = { name: def.name, path: def.path, defaults: def.defaults, vars: def.vars, params: { ...task.vars } };
        for (const hnd of def.handlers) if (!this.play.handlers.includes(hnd)) this.play.handlers.push({ ...hnd, role: roleScope });
        return { scope: roleScope, tasks: def.tasks };
      },
      runIncluded: async (items, { role, vars }) => {
        // an include runs its tasks for this host right here (a per-host include, like Ansible's)
        const inner: Scope = { ...scope, when: [], blockVars: [...scope.blockVars, vars], role: role ?? scope.role ?? task.role };
        const prev = this.playHosts;
        await this.runItemsForHost(items, inner, host);
        this.playHosts = prev;
      },
      flushHandlers: () => this.flushHandlers(this.playHosts),
      endPlay: async () => {
        for (const h of this.playHosts) this.host(h).ended = true;
        await this.report(task, task.name ?? 'meta', { host, status: 'ok', reason: 'end_play', durationMs: 0 }, false);
        throw new EndPlay();
      },
      endHost: () => void (st.ended = true),
    };
  }
}
