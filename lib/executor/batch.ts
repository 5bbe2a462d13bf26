/**
 * Loop items in one round trip: the items of a file-like task (batched modules below) are probed in one remote command
 * and their steps applied in another, when no two items' paths overlap (ADR 0006). A layer of the pipeline's class
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
import { applyBatch, probeBatch } from './apply.js';
import { dropOmitted, isUnreachable, type ItemOutcome, type Scope } from './host-state.js';
import { TaskOutcome } from './task-outcome.js';
import { decodeBytes } from '../modules/bytes.js';

/**
 * Modules whose probe reads, and whose steps change, only the paths their `path`/`dest`/`src` name (and files
 * inside them): their loop items are probed and applied in one command each when no two items' paths overlap.
 */
const BATCHED = new Set(['file', 'copy', 'template', 'lineinfile', 'blockinfile', 'replace', 'ini_file', 'stat', 'slurp']);
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

export abstract class TaskBatch extends TaskOutcome {
  protected abstract errText(e: unknown, task: TaskNode): string;

  /**
   * All items of a looped module task in two remote commands instead of two per item: every item is rendered,
   * validated and prepared, their probes go in ONE command (framed outputs split per item, lib/connection/scripts.ts
   * batchScript), each item is planned, and the steps of all items that apply go in ONE command (applyBatch: an
   * item's steps stop at its first failure, the other items' steps still run, as item by item). Then every item's
   * outcome (changed_when, failed_when, check mode's overlay, register) goes through executePlan in item order, the
   * same code as item by item.
   *
   * Exact only when no item's probe could see what an earlier item's steps change. Returns null (item by item) when
   * the module is not one whose effects are the paths it names (BATCHED), when two items name the same path or one
   * names a path inside another's (a directory and a file in it, a link and its target), for `until`/`delegate_to`,
   * when items run with different environment/become, or when a plan failed after an earlier item planned steps
   * that would have run before its probe (a missing parent an earlier item creates): then that probe round trip
   * was read-only and everything runs again item by item. Check mode applies nothing, so its plans are exact.
   */
  protected async runBatch(task: TaskNode, scope: Scope, host: string, ictxs: Record<string, unknown>[]): Promise<ItemOutcome[] | null> {
    const resolved = resolveAction(task.action);
    if (!resolved || resolved.kind === 'action' || !BATCHED.has(resolved.def.name)) return null;
    if (task.until !== undefined || task.delegateTo !== undefined || scope.delegateTo !== undefined) return null;
    const def = resolved.def;
    const fail = (reason: string): ItemOutcome => ({ status: 'failed', reason, result: { failed: true, msg: reason } });
    interface Prep {
      ctx: Record<string, unknown>;
      out?: ItemOutcome;
      params?: unknown;
      probe?: ReturnType<typeof def.probe>;
      check?: boolean;
      runOpts?: ConnRunOptions;
      keys?: string[];
    }
    const preps: Prep[] = [];
    let optsKey: string | undefined;
    for (const ctx of ictxs) {
      const p: Prep = { ctx };
      preps.push(p);
      try {
        let skip: ItemOutcome | undefined;
        for (const c of [...scope.when, ...task.when]) {
          if (!this.evalBool(c, ctx)) {
            skip = { status: 'skipped', reason: `condition false: ${typeof c === 'string' ? c : JSON.stringify(c)}`, result: { skipped: true, false_condition: c } };
            break;
          }
        }
        if (skip) {
          p.out = skip;
          continue;
        }
      } catch (e) {
        p.out = fail(this.errText(e, task));
        continue;
      }
      if (task.deferred) {
        p.out = fail(`${task.deferred.pos.file}:${task.deferred.pos.line}:${task.deferred.pos.col}: ${task.deferred.message}`);
        continue;
      }
      let args: Record<string, unknown>;
      try {
        args = dropOmitted(this.render(task.args, ctx) as Record<string, unknown>);
      } catch (e) {
        p.out = fail(this.errText(e, task));
        continue;
      }
      // SELinux contexts depend on the host (selinux.ts): item by item
      if (hasSelinuxArgs(args)) return null;
      const errs = validateArgs(def.schema, (args = coerceArgs(def.schema, args)), def.name, true);
      if (errs.length) {
        p.out = fail(`${task.pos.file}:${task.pos.line}:${task.pos.col}: ${errs.map((e) => e.message).join('; ')}`);
        continue;
      }
      const runOpts: ConnRunOptions = {};
      try {
        const env = this.envFor(scope, task, ctx);
        if (env) runOpts.env = env;
        const become = this.becomeFor(scope, task, ctx, host);
        if (become) runOpts.become = become;
        p.check = this.taskCheckMode(scope, task, ctx) ?? this.opts.check;
      } catch {
        return null; // item by item reports it exactly as before
      }
      const k = JSON.stringify([runOpts.env ?? null, runOpts.become ?? null]);
      if (optsKey !== undefined && k !== optsKey) return null;
      optsKey = k;
      p.runOpts = runOpts;
      p.keys = pathKeys(def.name, args);
      const mctx: ModuleContext = {
        host,
        vars: ctx,
        findFile: (kind, name) => this.findFile(kind, name, scope.role ?? task.role),
        renderTemplateFile: (f) => {
          const src = decodeBytes(fs.readFileSync(f));
          const tv = templateVars(typeof args['src'] === 'string' ? args['src'] : f, f, typeof args['dest'] === 'string' ? args['dest'] : undefined, ctx['ansible_managed']);
          return preserveTrailingNewlines(src, this.templar.renderString(src, resolveFor(src, { ...ctx, ...tv }, this.templar), { trimBlocks: true, keepTrailingNewline: false }));
        },
      };
      try {
        p.params = def.prepare ? await def.prepare(args, mctx) : args;
        p.probe = def.probe(p.params);
      } catch (e) {
        if (isUnreachable(e)) return null;
        p.out = fail(this.errText(e, task));
      }
    }
    const live = preps.filter((p) => p.out === undefined);
    if (live.length < 2) return null;
    if (pathsOverlap(live.map((p) => p.keys ?? []))) return null;
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
    // probes: one command for all items that have one
    const probed = live.filter((p) => p.probe);
    let outputs: ExecResult[] = [];
    if (probed.length) {
      try {
        outputs = await probeBatch(conn, probed.map((p) => p.probe!.script), runOpts);
      } catch (e) {
        if (isUnreachable(e)) return upTo(preps.indexOf(probed[0]!), e);
        throw e;
      }
    }
    const plans = new Map<Prep, Plan>();
    for (const p of live) {
      try {
        const j = probed.indexOf(p);
        const state = p.probe ? p.probe.parse(outputs[j]!) : null;
        plans.set(p, def.plan(p.params as never, state as never));
      } catch (e) {
        p.out = fail(this.errText(e, task));
      }
    }
    const applies = (p: Prep): boolean => {
      const plan = plans.get(p);
      return plan !== undefined && !plan.fail && plan.steps.length > 0 && (!p.check || plan.runInCheckMode === true);
    };
    // a plan that failed after an earlier item's steps would have run before its probe may be stale: item by item
    let earlierApplies = false;
    for (const p of live) {
      const plan = plans.get(p);
      if (plan?.fail && earlierApplies) return null;
      if (applies(p)) earlierApplies = true;
    }
    // steps: one command for all items that apply
    const appliers = live.filter(applies);
    const applied = new Map<Prep, ExecResult[] | Error>();
    if (appliers.length > 1) {
      let res: Array<ExecResult[] | Error>;
      try {
        res = await applyBatch(conn, appliers.map((p) => plans.get(p)!.steps), runOpts);
      } catch (e) {
        res = appliers.map(() => (e instanceof Error ? e : new Error(String(e))));
      }
      appliers.forEach((p, i) => applied.set(p, res[i]!));
    }
    const out: ItemOutcome[] = [];
    for (const p of preps) {
      if (p.out === undefined) {
        const plan = plans.get(p)!;
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
