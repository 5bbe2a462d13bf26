/**
 * Which host runs which task when (Ansible's linear strategy: every host finishes task N before any starts N+1,
 * up to `forks` hosts at once), failures, block/rescue/always, handlers. The only caller of applySteps.
 *
 * Per host and task: render args -> validate -> prepare -> probe (one read-only round trip) -> pure plan ->
 * report -> unless --check, apply. Check and apply share every line up to the last.
 */
import * as path from 'node:path';
import { RunbookError } from '../errors.js';
import type { Connection, Become, ExecResult, RunOptions as ConnRunOptions } from '../connection/types.js';
import type { TaskNode } from '../playbook/model.js';
import { isMap } from '../playbook/loader.js';
import type { Failure, ModuleDef, Plan } from '../modules/types.js';
import { OMIT } from '../vars/template.js';
import { markFinal, withFinal } from '../vars/final.js';
import { applyPlan, StepFailed } from './apply.js';
import { cliBecomePassword } from './become-password.js';
import { markSecret } from './secrets.js';

import { type ItemOutcome, type Scope } from './host-state.js';
import { RunConnections } from './connections.js';

/**
 * Check mode's overlay, per host: the paths that planned (not applied) steps write or create, and the directories
 * they imply. Recorded from the plan's data (write steps, result path/dest), never from message text.
 */
export function recordPlanned(overlay: Set<string>, plan: Plan): void {
  for (const st of plan.steps) if (st.kind === 'write') overlay.add(st.path);
  // a planned package install creates files nobody listed: remembered by name (not a path: no '/')
  for (const pkg of plan.installs ?? []) overlay.add(`${PACKAGE_MARK}${pkg}`);
  for (const name of plan.accounts ?? []) overlay.add(`${ACCOUNT_MARK}${name}`);
  for (const k of ['path', 'dest']) if (typeof plan.result?.[k] === 'string') overlay.add(plan.result[k] as string);
  // what is created below a directory implies the directory (file state=directory makes the parents too)
  for (const p of [...overlay]) if (p.startsWith('/')) for (let d = path.dirname(p); d !== '/' && d !== '.' && !overlay.has(d); d = path.dirname(d)) overlay.add(d);
}

/**
 * The planned path a failure is about, if any: the failure's `path` itself (or a directory a planned path
 * implies), or, for a bare file name such as systemd's `NAME.service`, the planned path of that name.
 */
export function overlayHit(overlay: ReadonlySet<string>, f: Failure): string | undefined {
  return overlayHitOf(overlay, f)?.hit;
}

/** overlayHit, and whether the hit is a planned package install (rather than a planned write of the path itself) */
export function overlayHitOf(overlay: ReadonlySet<string>, f: Failure): { hit: string; byInstall: boolean } | undefined {
  if (f.path === undefined || f.path === '') return undefined;
  if (overlay.has(f.path)) return { hit: f.path, byInstall: false };
  if (!f.path.includes('/')) {
    const named = [...overlay].find((p) => p.startsWith('/') && path.basename(p) === f.path);
    if (named) return { hit: named, byInstall: false };
    // a unit NAME.service is also what systemd (and `service`) make of a SysV script /etc/init.d/NAME
    const stem = f.path.endsWith('.service') ? f.path.slice(0, -'.service'.length) : undefined;
    if (stem && overlay.has(`/etc/init.d/${stem}`)) return { hit: `/etc/init.d/${stem}`, byInstall: false };
  }
  // after a planned package install, a path that does not exist yet may well be one of the package's files
  // (geerlingguy.security: a template into /etc/fail2ban after installing fail2ban)
  if (MISSING_PATH_CODES.has(f.code)) {
    const pkgs = [...overlay].filter((p) => p.startsWith(PACKAGE_MARK)).map((p) => p.slice(PACKAGE_MARK.length));
    if (pkgs.length) return { hit: `${f.path} (after installing ${pkgs.join(', ')})`, byInstall: true };
  }
  return undefined;
}

/** overlay entries for planned package installs: PACKAGE_MARK + package name */
export const PACKAGE_MARK = 'package:';
/** overlay entries for planned users and groups: ACCOUNT_MARK + name */
export const ACCOUNT_MARK = 'account:';
/** the failure codes that mean "a path this task needs does not exist" */
const MISSING_PATH_CODES = new Set(['missing_path', 'missing_parent', 'unit_not_found']);

/**
 * Facts a module returns (`ansible_facts` in its result: package_facts, service_facts, getent, hostname) become host
 * facts as Ansible's do: each name a variable of its own and a key of `ansible_facts` (an `ansible_` prefix dropped
 * there). A new object each time: hostvars notices the change by identity.
 */
export function mergeModuleFacts(gathered: Record<string, unknown>, facts: Record<string, unknown>): Record<string, unknown> {
  const prev = isMap(gathered['ansible_facts']) ? (gathered['ansible_facts'] as Record<string, unknown>) : {};
  const inner: Record<string, unknown> = { ...prev };
  for (const [k, v] of Object.entries(facts)) inner[k.startsWith('ansible_') ? k.slice('ansible_'.length) : k] = v;
  return markFinal({ ...gathered, ...facts, ansible_facts: inner });
}

/**
 * After the plan: apply it (unless check mode: the one place check mode differs), then the outcome keywords
 * (changed_when, failed_when) - and the task keywords that shape a run (check_mode, environment, become).
 */
export abstract class TaskOutcome extends RunConnections {
  /**
   * `apply` runs the plan's steps (default: applyPlan on conn, one command for all of them); a loop's batch passes the
   * outcome its one batched command already had for this item (pipeline.ts), so everything after is the same code.
   */
  protected async executePlan(def: ModuleDef<any>, params: unknown, plan: Plan, conn: Connection, runOpts: ConnRunOptions, check: boolean, task: TaskNode, ctx: Record<string, unknown>, apply: (steps: Plan['steps']) => Promise<ExecResult[]> = (steps) => applyPlan(conn, steps, runOpts)): Promise<ItemOutcome> {
    if (plan.fail && check) {
      // check mode cannot see what earlier tasks would have changed: when the failure is about a path an earlier
      // planned step creates, the honest answer is "would change, after an earlier change", not a failure
      const overlay = this.host(ctx['inventory_hostname'] as string).overlay;
      // a task run as a user an earlier task creates: sudo refuses the probe ("unknown user") until it exists
      const becomeUser = runOpts.become?.user;
      const of = overlayHitOf(overlay, plan.fail);
      // the module's plan for the state the earlier change leaves (systemd: the unit written, or installed): exact
      const alt = of ? (of.byInstall ? plan.fail.ifInstalled : plan.fail.ifCreated) : undefined;
      if (of && alt && !alt.fail) {
        const changes = alt.steps.length > 0;
        if (changes) recordPlanned(overlay, alt);
        const reason = `after an earlier change (${of.hit} is planned but not yet there): ${alt.reason}${changes ? ' (check mode: not applied)' : ''}`;
        return { status: changes ? 'changed' : 'ok', reason, result: { ...(alt.result ?? {}), changed: changes }, afterEarlierChange: true };
      }
      const hit = of?.hit ?? (becomeUser !== undefined && overlay.has(`${ACCOUNT_MARK}${becomeUser}`) ? `user ${becomeUser}` : undefined);
      if (hit) {
        return { status: 'changed', reason: `would change, after an earlier change (${hit} is planned but not yet there)`, result: { ...(plan.result ?? {}), changed: true }, afterEarlierChange: true };
      }
    }
    if (plan.fail) return { status: 'failed', reason: plan.fail.message, result: { ...(plan.result ?? {}), failed: true, msg: plan.fail.message }, diffs: plan.diffs };
    const willApply = plan.steps.length > 0 && (!check || plan.runInCheckMode === true);
    let result: Record<string, unknown> = { ...(plan.result ?? {}) };
    let changed = plan.steps.length > 0;
    let reason = plan.reason;
    let ran = false;
    if (willApply) {
      try {
        const outputs = await apply(plan.steps);
        ran = true;
        reason = plan.doneReason ?? plan.reason;
        if (def.finish) result = { ...result, ...def.finish(params, outputs, plan) };
      } catch (e) {
        if (e instanceof StepFailed) {
          const extra = def.finish ? def.finish(params, e.outputs, plan) : {};
          return { status: 'failed', reason: e.message, result: { ...result, ...extra, failed: true, msg: e.message }, diffs: plan.diffs };
        }
        throw e;
      }
    } else if (plan.steps.length > 0) {
      reason = `${plan.reason} (check mode: not applied)`;
      recordPlanned(this.host(ctx['inventory_hostname'] as string).overlay, plan);
    }
    // what the host returned is data, never a template (final.ts)
    markFinal(result);
    // changed_when / failed_when see the registered variable (and the result's own keys)
    const rctx = withFinal(ctx, { ...(task.register ? { [task.register]: markFinal({ ...result, changed }) } : {}), ...result });
    let failed = result['failed'] === true;
    if (failed && typeof result['msg'] === 'string') {
      // a failed command says which exit code and the last words it printed, not just "non-zero return code"
      const tail = typeof result['stderr'] === 'string' && result['stderr'] ? String(result['stderr']).trim().split('\n').slice(-2).join(' / ') : '';
      reason = String(result['msg']) + (typeof result['rc'] === 'number' ? ` (rc=${result['rc']})` : '') + (tail ? `: ${tail}` : '');
    }
    if (task.changedWhen !== undefined) {
      const literal = typeof task.changedWhen === 'boolean' ? task.changedWhen : undefined;
      if (literal !== undefined) changed = literal;
      else if (ran || plan.steps.length === 0) changed = this.evalAll(task.changedWhen, rctx);
      else {
        // in check mode the command's output does not exist: decide without it when possible
        try {
          changed = this.evalAll(task.changedWhen, rctx);
        } catch {
          changed = true;
        }
      }
    }
    if (task.failedWhen !== undefined && (ran || plan.steps.length === 0)) {
      failed = this.evalAll(task.failedWhen, rctx);
      if (failed) reason = `failed_when matched: ${JSON.stringify(task.failedWhen)}`;
    }
    result['changed'] = changed;
    if (failed) return { status: 'failed', reason, result: { ...result, failed: true }, diffs: plan.diffs };
    if (isMap(result['ansible_facts'])) {
      const st = this.host(ctx['inventory_hostname'] as string);
      st.gathered = mergeModuleFacts(st.gathered, result['ansible_facts'] as Record<string, unknown>);
    }
    return { status: changed ? 'changed' : 'ok', reason, result, diffs: plan.diffs };
  }

  protected evalAll(cond: unknown, ctx: Record<string, unknown>): boolean {
    const list = Array.isArray(cond) ? cond : [cond];
    return list.every((c) => this.evalBool(c, ctx));
  }

  protected taskCheckMode(scope: Scope, task: TaskNode, ctx: Record<string, unknown>): boolean | undefined {
    const v = task.checkMode ?? scope.checkMode;
    if (v === undefined) return undefined;
    return this.evalBool(this.render(v, ctx), ctx);
  }

  protected envFor(scope: Scope, task: TaskNode, ctx: Record<string, unknown>): Record<string, string> | undefined {
    const envs = [...scope.environment, ...(task.environment !== undefined ? [task.environment] : [])];
    if (!envs.length) return undefined;
    const out: Record<string, string> = {};
    for (const e of envs) {
      const v = this.render(e, ctx);
      if (!isMap(v)) throw new RunbookError('bad_argument', 'environment must be a mapping', { pos: task.pos });
      for (const [k, val] of Object.entries(v)) if (val !== OMIT) out[k] = String(val);
    }
    return out;
  }

  protected becomeFor(scope: Scope, task: TaskNode, ctx: Record<string, unknown>, target: string): Become | undefined {
    const b = task.become ?? scope.become ?? ctx['ansible_become'];
    if (b === undefined || !this.evalBool(this.render(b, ctx), ctx)) return undefined;
    const user = String(this.render(task.becomeUser ?? scope.becomeUser ?? ctx['ansible_become_user'] ?? 'root', ctx));
    const method = String(this.render(task.becomeMethod ?? scope.becomeMethod ?? ctx['ansible_become_method'] ?? 'sudo', ctx));
    if (method !== 'sudo' && method !== 'su') throw new RunbookError('bad_argument', `become_method ${method} is not supported (sudo, su)`, { pos: task.pos });
    // becoming the user the connection already runs as is a no-op in the connection itself (it knows the real login
    // user, which may come from ~/.ssh/config; for pct it is the container's root)
    void target;
    const pw = ctx['ansible_become_password'] ?? ctx['ansible_become_pass'] ?? cliBecomePassword();
    // the become password is a secret wherever it came from (an inventory variable, -K)
    return { method, user, password: pw !== undefined ? markSecret(String(this.render(pw, ctx))) : undefined };
  }
}
