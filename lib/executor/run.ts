/**
 * Which host runs which task when (Ansible's linear strategy: every host finishes task N before any starts N+1,
 * up to `forks` hosts at once), failures, block/rescue/always, handlers. The only caller of applySteps.
 *
 * Per host and task: render args -> validate -> prepare -> probe (one read-only round trip) -> pure plan ->
 * report -> unless --check, apply. Check and apply share every line up to the last.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunbookError } from '../errors.js';
import type { Connection, Become, RunOptions as ConnRunOptions } from '../connection/types.js';
import type { Inventory } from '../inventory/index.js';
import type { BlockNode, Item, Play, Playbook, RoleScope, TaskNode } from '../playbook/model.js';
import { PlaybookLoader, isMap, loopSource, truthy } from '../playbook/loader.js';
import { validateArgs } from '../playbook/validate.js';
import { resolveAction } from '../modules/registry.js';
import type { ModuleContext, ModuleDef, Plan } from '../modules/types.js';
import { decodeBytes } from '../modules/bytes.js';
import { createTemplar, OMIT, TemplateError, type Templar } from '../vars/template.js';
import { resolveFor } from '../vars/resolve.js';
import { merge, type Layer } from '../vars/precedence.js';
import { loadYamlFile } from '../yaml-load.js';
import { applySteps, StepFailed } from './apply.js';
import { EventBus, type HostResult, type Recap, type Status } from './events.js';
import { FACTS_SCRIPT, factVars, parseFacts } from './facts.js';
import { runReboot, type RebootArgs } from './reboot.js';
import { cliBecomePassword } from './become-password.js';
import { connectionSpecFor, openConnection } from './connect.js';
import { acquireHostLock, DEFAULT_LOCK_TIMEOUT_MS } from './lock.js';
import { loadVarsYaml, onSopsDecrypted } from '../vars/sops.js';
import { Secrets, markSecret } from './secrets.js';
import { decryptVaultValues } from '../vars/vault.js';

export interface ExecOptions {
  check: boolean;
  diff: boolean;
  limit?: string;
  tags: string[];
  skipTags: string[];
  extraVars: Record<string, unknown>;
  forks: number;
  /** overrides host key checking for every host (explicit opt-out) */
  hostKeyChecking?: boolean;
  loader?: PlaybookLoader;
  /** how long to wait for another run's lock on a host (--lock-timeout); default 60 s */
  lockTimeoutMs?: number;
  /** ansible.cfg defaults as variables of the lowest precedence (ansible_user, ansible_become, ...) */
  cfgVars?: Record<string, unknown>;
}

const HIDDEN = "the output has been hidden due to 'no_log: true'";

class HostState {
  conn?: Promise<Connection>;
  unreachable = false;
  failed = false;
  ended = false;
  /** bumped by every write to `facts` (set_fact, register, ...), wherever it happens: hostvars entries are rebuilt only then */
  factsVersion = 0;
  facts: Record<string, unknown> = new Proxy({} as Record<string, unknown>, {
    defineProperty: (t, k, d) => (this.factsVersion++, Reflect.defineProperty(t, k, d)),
    deleteProperty: (t, k) => (this.factsVersion++, Reflect.deleteProperty(t, k)),
  });
  gathered: Record<string, unknown> = {};
  includeVars: Record<string, unknown> = {};
  notified = new Set<string>();
  /** the last failed task and its result: ansible_failed_task / ansible_failed_result in rescue */
  lastFailure?: { task: Record<string, unknown>; result: Record<string, unknown> };
  plannedChanges = 0;
  /** check mode: paths earlier planned (not applied) steps would create or write */
  overlay = new Set<string>();
  stats: Recap;
  constructor(readonly name: string) {
    this.stats = { host: name, ok: 0, changed: 0, unreachable: 0, failed: 0, skipped: 0, rescued: 0, ignored: 0 };
  }
  get active(): boolean {
    return !this.unreachable && !this.failed && !this.ended;
  }
}

/** Keywords inherited from play -> block -> task, innermost wins (conditions and tags accumulate). */
interface Scope {
  when: unknown[];
  tags: string[];
  blockVars: Record<string, unknown>[];
  become?: unknown;
  becomeUser?: unknown;
  becomeMethod?: unknown;
  checkMode?: unknown;
  environment: unknown[];
  ignoreErrors?: unknown;
  noLog?: unknown;
  delegateTo?: unknown;
  runOnce?: unknown;
  role?: RoleScope;
}

function inherit(s: Scope, i: Item | Play): Scope {
  return {
    when: [...s.when, ...(!('kind' in i) || i.kind === 'block' ? i.when : [])],
    tags: [...s.tags, ...i.tags],
    blockVars: 'kind' in i && i.kind === 'task' ? s.blockVars : [...s.blockVars, i.vars],
    become: i.become ?? s.become,
    becomeUser: i.becomeUser ?? s.becomeUser,
    becomeMethod: i.becomeMethod ?? s.becomeMethod,
    checkMode: i.checkMode ?? s.checkMode,
    environment: i.environment !== undefined ? [...s.environment, i.environment] : s.environment,
    ignoreErrors: i.ignoreErrors ?? s.ignoreErrors,
    noLog: i.noLog ?? s.noLog,
    delegateTo: i.delegateTo ?? s.delegateTo,
    runOnce: i.runOnce ?? s.runOnce,
    role: ('role' in i ? i.role : undefined) ?? s.role,
  };
}

class EndPlay extends Error {}

export class Executor {
  readonly templar: Templar;
  private hosts = new Map<string, HostState>();
  private playVarsFiles = new Map<string, Record<string, unknown>>();
  private play!: Play;
  private playHosts: string[] = [];
  readonly secrets = new Secrets();
  private loader: PlaybookLoader;

  constructor(
    private readonly pb: Playbook,
    private readonly inv: Inventory,
    private readonly opts: ExecOptions,
    private readonly bus: EventBus,
  ) {
    this.templar = createTemplar();
    this.loader = opts.loader ?? new PlaybookLoader();
    onSopsDecrypted((v) => this.secrets.markValue(v));
  }

  private host(name: string): HostState {
    let h = this.hosts.get(name);
    if (!h) {
      h = new HostState(name);
      this.hosts.set(name, h);
    }
    return h;
  }

  /** hosts a play pattern selects, with --limit applied; the implicit localhost when asked for and absent */
  selectPlayHosts(pattern: string): string[] {
    let hosts = this.inv.selectHosts(pattern);
    if (hosts.length === 0 && /(^|[:,])(localhost|127\.0\.0\.1)($|[:,])/.test(pattern)) hosts = ['localhost'];
    if (this.opts.limit) {
      const lim = new Set(this.inv.selectHosts(this.opts.limit));
      if (this.opts.limit.split(/[:,]/).includes('localhost')) lim.add('localhost');
      hosts = hosts.filter((h) => lim.has(h));
    }
    return hosts;
  }

  async run(): Promise<{ exitCode: number; recap: Recap[] }> {
    const started = Date.now();
    const all = new Set<string>();
    for (const p of this.pb.plays) for (const h of this.selectPlayHosts(p.hosts)) all.add(h);
    await this.bus.emit({ type: 'run:start', playbook: this.pb.file, check: this.opts.check, hosts: [...all] });
    try {
      for (const play of this.pb.plays) {
        if (this.aborted) break;
        await this.runPlay(play);
      }
    } finally {
      await this.closeAll();
    }
    const recap = await Promise.all(
      [...this.hosts.values()].map(async (h) => (h.conn ? { ...h.stats, commands: await h.conn.then((c) => c.commandCount, () => 0) } : h.stats)),
    );
    const exitCode = this.aborted ? this.aborted.exitCode : recap.some((r) => r.failed > 0) ? 2 : recap.some((r) => r.unreachable > 0) ? 4 : 0;
    await this.bus.emit({ type: 'run:end', recap, durationMs: Date.now() - started, exitCode, check: this.opts.check });
    return { exitCode, recap };
  }

  /** set by abort(): no new task (or loop item, or retry) starts; the run ends with this exit code */
  private aborted: { signal: string; exitCode: number } | undefined;

  /**
   * Stop scheduling (SIGINT/SIGTERM): tasks in flight finish (or fail when closeAll() cuts their connection), no
   * new one starts, the run ends normally with its recap and exits with `exitCode` (130/143).
   */
  abort(signal: string, exitCode: number): void {
    if (this.aborted) return;
    this.aborted = { signal, exitCode };
    void this.bus.emit({ type: 'warning', message: `${signal} received: no new tasks are started; the tasks in flight finish, then the run ends` });
  }

  get abortedBy(): string | undefined {
    return this.aborted?.signal;
  }

  async closeAll(): Promise<void> {
    await Promise.all(
      [...this.hosts.values()].map(async (h) => {
        if (!h.conn) return;
        try {
          await (await h.conn).close();
        } catch {
          /* already gone */
        }
      }),
    );
  }

  private async runPlay(play: Play): Promise<void> {
    this.play = play;
    const hosts = this.selectPlayHosts(play.hosts).filter((h) => {
      const s = this.host(h);
      return !s.unreachable && !s.failed;
    });
    for (const h of hosts) this.host(h).ended = false;
    this.playHosts = hosts;
    this.playVarsFiles.clear();
    await this.bus.emit({ type: 'play:start', name: play.name, hosts, pos: play.pos });
    if (hosts.length === 0) return;
    const scope0: Scope = inherit({ when: [], tags: [], blockVars: [], environment: [] }, play);
    scope0.blockVars = [];
    try {
      if (play.gatherFacts && this.tagSelected(['always'], true)) {
        await this.runTask(
          { kind: 'task', action: 'setup', actionAs: 'gather_facts', name: 'Gathering Facts', args: {}, loopVar: 'item', notify: [], listen: [], when: [], tags: ['always'], vars: {}, pos: play.pos, file: play.file },
          scope0,
          hosts,
        );
      }
      for (const section of play.sections) {
        await this.runItems(section, scope0, () => this.activeOf(hosts));
        await this.flushHandlers(hosts);
      }
    } catch (e) {
      if (!(e instanceof EndPlay)) throw e;
    }
  }

  private activeOf(hosts: string[]): string[] {
    return hosts.filter((h) => this.host(h).active);
  }

  private tagSelected(tags: string[], isFacts = false): boolean {
    const set = new Set(tags);
    if (this.opts.skipTags.some((t) => set.has(t))) return false;
    if (set.has('never') && !this.opts.tags.some((t) => set.has(t))) return false;
    if (this.opts.tags.length === 0 || this.opts.tags.includes('all')) return true;
    if (set.has('always')) return !isFacts || true;
    if (this.opts.tags.includes('tagged') && set.size > 0) return true;
    if (this.opts.tags.includes('untagged') && set.size === 0) return true;
    return this.opts.tags.some((t) => set.has(t));
  }

  private async runItems(items: Item[], scope: Scope, hosts: () => string[]): Promise<void> {
    for (const item of items) {
      const active = hosts();
      if (active.length === 0) return;
      if (item.kind === 'block') await this.runBlock(item, scope, active);
      else {
        const s = inherit(scope, item);
        if (!this.tagSelected(s.tags)) continue;
        await this.runTask(item, s, active);
      }
    }
  }

  private async runBlock(b: BlockNode, scope: Scope, hosts: string[]): Promise<void> {
    const s = inherit(scope, b);
    // the block's own conditions are evaluated per host by its tasks (inherited when); hosts stay in order
    const before = new Set(hosts.filter((h) => this.host(h).active));
    const entered = [...before];
    await this.runItems(b.block, s, () => entered.filter((h) => this.host(h).active));
    const failedInBlock = entered.filter((h) => this.host(h).failed && !this.host(h).unreachable);
    if (failedInBlock.length && b.rescue.length) {
      for (const h of failedInBlock) {
        const st = this.host(h);
        st.failed = false;
        st.stats.failed -= 1;
        st.stats.rescued += 1;
        if (st.lastFailure) Object.assign(st.facts, { ansible_failed_task: st.lastFailure.task, ansible_failed_result: st.lastFailure.result });
      }
      await this.runItems(b.rescue, s, () => failedInBlock.filter((h) => this.host(h).active));
    }
    if (b.always.length) {
      const stillFailed = entered.filter((h) => this.host(h).failed && !this.host(h).unreachable);
      for (const h of stillFailed) this.host(h).failed = false;
      await this.runItems(b.always, s, () => entered.filter((h) => this.host(h).active));
      for (const h of stillFailed) this.host(h).failed = true;
    }
  }

  private async flushHandlers(hosts: string[]): Promise<void> {
    const consumed: [string, string][] = [];
    for (const handler of this.play.handlers) {
      const names = new Set([handler.name ?? '', ...handler.listen].filter(Boolean));
      const targets = this.activeOf(hosts).filter((h) => [...this.host(h).notified].some((n) => names.has(n)));
      if (targets.length === 0) continue;
      // a notification reaches every handler with that name or listening to it: consumed after the flush
      for (const h of targets) for (const n of names) if (this.host(h).notified.has(n)) consumed.push([h, n]);
      await this.runTask(handler, inherit({ when: [], tags: [], blockVars: [], environment: [] }, handler), targets, true);
    }
    for (const [h, n] of consumed) this.host(h).notified.delete(n);
  }

  // ---------------------------------------------------------------------------------------------------------
  // variables

  layers(host: string, task: TaskNode | undefined, scope: Scope): Layer[] {
    const st = this.host(host);
    const role = scope.role ?? task?.role;
    const layers: Layer[] = [];
    if (role) layers.push({ source: `role ${role.name} defaults`, level: 'role defaults', vars: role.defaults });
    if (this.inv.hosts.has(host)) {
      for (const l of this.inv.hostLayers(host)) layers.push({ source: l.source, level: l.precedence, vars: l.vars });
    }
    layers.push({ source: 'facts', level: 'host facts', vars: st.gathered });
    layers.push({ source: 'play vars', level: 'play vars', vars: this.play?.vars ?? {} });
    layers.push({ source: 'play vars_files', level: 'play vars_files', vars: this.playVarsFiles.get(host) ?? {} });
    if (role) layers.push({ source: `role ${role.name} vars`, level: 'role vars', vars: role.vars });
    for (const bv of scope.blockVars) layers.push({ source: 'block vars', level: 'block vars', vars: bv });
    if (task) layers.push({ source: 'task vars', level: 'task vars', vars: task.vars });
    layers.push({ source: 'include_vars', level: 'include_vars', vars: st.includeVars });
    layers.push({ source: 'set_fact / register', level: 'set_fact / register', vars: st.facts });
    if (role) layers.push({ source: `role ${role.name} params`, level: 'role params', vars: role.params });
    layers.push({ source: 'extra vars', level: 'extra vars', vars: this.opts.extraVars });
    return layers;
  }

  // hostvars and groups: built once and reused (they were rebuilt for every host on every task: O(hosts²) per task).
  // The inventory does not change during a run; a host's entry is rebuilt when its facts were written to
  // (HostState.factsVersion) or its gathered facts replaced. Entries and the hostvars object are replaced, never
  // mutated, so a task's variables stay the snapshot they were when the task started.
  private groupsCache?: Record<string, string[]>;
  private invVarsCache = new Map<string, Record<string, unknown>>();
  private hostvarsEntries = new Map<string, { version: number; gathered: unknown; value: Record<string, unknown> }>();
  private hostvarsCache?: Record<string, unknown>;

  private hostvars(): Record<string, unknown> {
    let stale = this.hostvarsCache === undefined;
    for (const h of this.inv.hosts.keys()) {
      const st = this.hosts.get(h);
      const version = st ? st.factsVersion : -1;
      const e = this.hostvarsEntries.get(h);
      if (e && e.version === version && e.gathered === st?.gathered) continue;
      let inv = this.invVarsCache.get(h);
      if (!inv) this.invVarsCache.set(h, (inv = this.inv.hostVars(h)));
      this.hostvarsEntries.set(h, { version, gathered: st?.gathered, value: { ...inv, ...(st ? { ...st.gathered, ...st.facts } : {}), inventory_hostname: h } });
      stale = true;
    }
    if (stale) this.hostvarsCache = Object.fromEntries([...this.inv.hosts.keys()].map((h) => [h, this.hostvarsEntries.get(h)!.value]));
    return this.hostvarsCache!;
  }

  varsFor(host: string, task: TaskNode | undefined, scope: Scope): Record<string, unknown> {
    // `!vault` values written inline (play, role, block, task vars) are decrypted here and never printed
    const vars = decryptVaultValues(merge(this.layers(host, task, scope)), () => task?.pos, markSecret) as Record<string, unknown>;
    const groups = (this.groupsCache ??= Object.fromEntries([...this.inv.groups.keys()].map((g) => [g, this.inv.selectHosts(g)])));
    const hostvars = this.hostvars();
    const role = scope.role ?? task?.role;
    return {
      ...this.opts.cfgVars,
      ...vars,
      inventory_hostname: host,
      inventory_hostname_short: host.split('.')[0],
      group_names: (this.inv.hosts.get(host)?.groups ?? []).filter((g) => g !== 'all' && g !== 'ungrouped'),
      groups,
      hostvars,
      playbook_dir: this.pb.dir,
      inventory_dir: this.inv.sources[0] ? path.dirname(this.inv.sources[0]) : undefined,
      role_path: role?.path,
      role_name: role?.name,
      ansible_check_mode: this.opts.check,
      ansible_diff_mode: this.opts.diff,
      ansible_play_hosts: this.activeOf(this.playHosts),
      ansible_play_hosts_all: this.playHosts,
      ansible_play_batch: this.activeOf(this.playHosts),
      ansible_play_name: this.play?.name,
      ansible_run_tags: this.opts.tags.length ? this.opts.tags : ['all'],
      ansible_skip_tags: this.opts.skipTags,
      ansible_version: { full: '2.14.0', major: 2, minor: 14, revision: 0, string: '2.14.0 (runbook)' },
      omit: OMIT,
    };
  }

  render(value: unknown, ctx: Record<string, unknown>): unknown {
    return this.templar.render(value, resolveFor(value, ctx, this.templar));
  }

  evalBool(expr: unknown, ctx: Record<string, unknown>): boolean {
    if (typeof expr === 'boolean') return expr;
    if (expr === null || expr === undefined) return false;
    if (typeof expr === 'number') return expr !== 0;
    const s = String(expr);
    return this.templar.evaluateBool(s, resolveFor(`{{ ${s.replace(/^\s*\{\{|\}\}\s*$/g, '')} }}`, ctx, this.templar));
  }

  private async loadVarsFiles(host: string): Promise<void> {
    if (this.playVarsFiles.has(host) || this.play.varsFiles.length === 0) return;
    const out: Record<string, unknown> = {};
    for (const f of this.play.varsFiles) {
      const ctx = this.varsFor(host, undefined, { when: [], tags: [], blockVars: [], environment: [] });
      const file = f.includes('{{') ? path.resolve(this.pb.dir, String(this.render(f, ctx))) : f;
      const y = loadVarsYaml(file);
      if (y.value && !isMap(y.value)) throw new RunbookError('schema', `vars file ${file} must be a mapping`, { pos: y.pos([]) });
      Object.assign(out, this.secrets.absorb(file, (y.value ?? {}) as Record<string, unknown>, (p) => y.pos(p)));
    }
    this.playVarsFiles.set(host, out);
  }

  // ---------------------------------------------------------------------------------------------------------
  // tasks

  private async runTask(task: TaskNode, scope: Scope, hosts: string[], handler = false): Promise<void> {
    if (this.aborted) return;
    const title = task.name ?? `${task.actionAs}`;
    let targets = hosts;
    if (truthy(scope.runOnce)) targets = hosts.slice(0, 1);
    await this.bus.emit({ type: 'task:start', name: title, action: task.action, hosts: targets, pos: task.pos, handler, role: (scope.role ?? task.role)?.name });
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

  private async parallel<T>(hosts: string[], fn: (h: string) => Promise<T>): Promise<T[]> {
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

  private async report(task: TaskNode, title: string, r: HostResult, noLog: boolean): Promise<void> {
    const st = this.host(r.host);
    if (noLog) {
      r = { ...r, diffs: r.diffs ? [{ label: r.diffs[0]?.label ?? '', before: HIDDEN + '\n', after: HIDDEN + '\n' }] : undefined, output: r.output !== undefined ? HIDDEN : undefined, reason: r.status === 'skipped' || r.status === 'unreachable' ? r.reason : HIDDEN, item: r.item !== undefined ? '(censored)' : undefined };
    }
    r = this.secrets.scrubResult(r);
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

  private async runTaskOnHost(task: TaskNode, scope: Scope, host: string, title: string): Promise<HostResult> {
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
      if (task.loop !== undefined) items = this.loopItems(task, ctx);
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
    for (const [i, item] of items.entries()) {
      if (this.aborted) break;
      const ictx: Record<string, unknown> = { ...ctx, [task.loopVar]: item, ansible_loop_var: task.loopVar };
      if (task.indexVar) ictx[task.indexVar] = i;
      ictx['ansible_loop'] = { index: i + 1, index0: i, first: i === 0, last: i === items.length - 1, length: items.length };
      const r = await this.runOne(task, scope, host, ictx, noLog);
      let label: string;
      try {
        label = task.loopLabel !== undefined ? String(this.render(task.loopLabel, ictx)) : typeof item === 'string' ? item : JSON.stringify(item);
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

  private loopItems(task: TaskNode, ctx: Record<string, unknown>): unknown[] {
    const { raw, mode } = loopSource(task.loop);
    const v = this.render(raw, ctx);
    if (mode === 'dict') {
      if (!isMap(v)) throw new RunbookError('bad_argument', `with_dict needs a dictionary, got ${typeof v}`, { pos: task.pos });
      return Object.entries(v).map(([key, value]) => ({ key, value }));
    }
    if (mode === 'items' && Array.isArray(v)) return v.flatMap((x) => (Array.isArray(x) ? x : [x]));
    if (mode === 'items' && typeof v === 'string') return [v];
    if (!Array.isArray(v)) {
      throw new RunbookError('bad_argument', `loop needs a list, got ${v === null ? 'null' : typeof v}${typeof v === 'string' ? ` "${v.slice(0, 60)}"` : ''} (use "| dict2items" for a dictionary)`, { pos: task.pos });
    }
    return v;
  }

  private async finishHost(task: TaskNode, scope: Scope, host: string, ctx: Record<string, unknown>, r: ItemOutcome, items: ItemOutcome[], done: (s: Status, reason: string, extra?: Partial<HostResult>) => Promise<HostResult>, noLog: boolean): Promise<HostResult> {
    const st = this.host(host);
    if (task.register && r.status !== 'unreachable') {
      const reg: Record<string, unknown> = { ...r.result, changed: r.status === 'changed', failed: r.status === 'failed', skipped: r.status === 'skipped' };
      if (r.status === 'failed' && reg['msg'] === undefined) reg['msg'] = r.reason;
      st.facts[task.register] = noLog ? this.secrets.markValue(reg) : reg;
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
    return done(r.status, r.reason, { diffs: this.opts.diff ? r.diffs : undefined, output: r.output, item: items.length ? undefined : r.item, ignored: ignored || undefined, delegatedTo: r.delegatedTo, afterEarlierChange: r.afterEarlierChange });
  }

  private errText(e: unknown, task: TaskNode): string {
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

  /** One module run (one loop item, or the whole task without a loop). */
  private async runOne(task: TaskNode, scope: Scope, host: string, ctx: Record<string, unknown>, noLog: boolean): Promise<ItemOutcome> {
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
    const resolved = resolveAction(task.action)!;
    let args: Record<string, unknown>;
    try {
      // an include's pre-loaded tasks (__items__) are rendered when they run, with their own loop variables
      args = this.render(Object.fromEntries(Object.entries(task.args).filter(([k]) => k !== '__items__' && k !== '__file__')), ctx) as Record<string, unknown>;
      args = dropOmitted(args);
    } catch (e) {
      return fail(this.errText(e, task));
    }
    if (resolved.kind === 'action') {
      try {
        return await this.runAction(task, scope, host, ctx, args);
      } catch (e) {
        if (e instanceof EndPlay) throw e;
        if (isUnreachable(e)) return { status: 'unreachable', reason: (e as Error).message, result: { unreachable: true } };
        return fail(this.errText(e, task));
      }
    }
    const def = resolved.def;
    const errs = validateArgs(def.schema, args, def.name, true);
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

    const mctx: ModuleContext = {
      host,
      vars: ctx,
      findFile: (kind, name) => this.findFile(kind, name, scope.role ?? task.role),
      renderTemplateFile: (p) => {
        const src = decodeBytes(fs.readFileSync(p));
        return this.templar.renderString(src, resolveFor(src, ctx, this.templar), { trimBlocks: true, keepTrailingNewline: true });
      },
    };
    const forceCheck = this.taskCheckMode(scope, task, ctx);
    const check = forceCheck ?? this.opts.check;
    const retries = task.until !== undefined ? Math.max(0, Number(this.render(task.retries ?? 3, ctx))) : 0;
    const delay = task.until !== undefined ? Math.max(0, Number(this.render(task.delay ?? 5, ctx))) : 0;
    let attempt = 0;
    for (;;) {
      let outcome: ItemOutcome;
      let notRun = false;
      try {
        const conn = await this.connect(target);
        const params = def.prepare ? await def.prepare(args, mctx) : args;
        const script = def.probe(params);
        const probe = script !== null ? await conn.run(script, runOpts) : null;
        const plan: Plan = def.plan(params, probe);
        // check mode: planned steps are not run, so there is no result for `until` to judge; retrying cannot help
        notRun = check && plan.steps.length > 0 && plan.runInCheckMode !== true;
        outcome = await this.executePlan(def, params, plan, conn, runOpts, check, task, ctx);
      } catch (e) {
        if (this.aborted && isUnreachable(e)) return fail(`interrupted by ${this.aborted.signal}: ${(e as Error).message}`);
        if (isUnreachable(e)) return { status: 'unreachable', reason: (e as Error).message, result: { unreachable: true } };
        outcome = fail(this.errText(e, task));
      }
      outcome.delegatedTo = delegatedTo;
      if (task.until === undefined || this.aborted || notRun) return outcome;
      outcome.result['attempts'] = attempt + 1;
      const uctx = task.register ? { ...ctx, [task.register]: outcome.result } : ctx;
      let ok = false;
      try {
        ok = this.evalBool(task.until, { ...uctx, ...outcome.result });
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

  private async executePlan(def: ModuleDef<any>, params: unknown, plan: Plan, conn: Connection, runOpts: ConnRunOptions, check: boolean, task: TaskNode, ctx: Record<string, unknown>): Promise<ItemOutcome> {
    if (plan.fail && check) {
      // check mode cannot see what earlier tasks would have changed: when the failure is about a path an earlier
      // planned step creates, the honest answer is "would change, after an earlier change", not a failure
      const overlay = this.host(ctx['inventory_hostname'] as string).overlay;
      // a planned path (or a directory a planned path implies) named whole in the failure, not as a prefix of another
      const hit = [...overlay].find((p) => {
        for (let i = plan.fail!.indexOf(p); i !== -1; i = plan.fail!.indexOf(p, i + 1)) if (!/[\w./-]/.test(plan.fail![i + p.length] ?? ' ')) return true;
        return false;
      }) ?? [...overlay].find((p) => {
        // or only its file name, e.g. systemd's "Could not find the requested service NAME.service"
        const b = path.basename(p);
        return b.includes('.') && b.length >= 4 && new RegExp(`(^|[\\s'"/])${b.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[\\s:'",])`).test(plan.fail!);
      });
      if (hit) {
        return { status: 'changed', reason: `would change, after an earlier change (${hit} is planned but not yet there)`, result: { ...(plan.result ?? {}), changed: true }, afterEarlierChange: true };
      }
    }
    if (plan.fail) return { status: 'failed', reason: plan.fail, result: { ...(plan.result ?? {}), failed: true, msg: plan.fail }, diffs: plan.diffs };
    const willApply = plan.steps.length > 0 && (!check || plan.runInCheckMode === true);
    let result: Record<string, unknown> = { ...(plan.result ?? {}) };
    let changed = plan.steps.length > 0;
    let reason = plan.reason;
    let ran = false;
    if (willApply) {
      try {
        const outputs = await applySteps(conn, plan.steps, runOpts);
        ran = true;
        reason = reason.replace(/\bwould run\b/, 'ran');
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
      const overlay = this.host(ctx['inventory_hostname'] as string).overlay;
      for (const st of plan.steps) if (st.kind === 'write') overlay.add(st.path);
      for (const k of ['path', 'dest']) if (typeof plan.result?.[k] === 'string') overlay.add(plan.result[k] as string);
      // what is created below a directory implies the directory (file state=directory makes the parents too)
      for (const p of [...overlay]) for (let d = path.dirname(p); d !== '/' && d !== '.' && !overlay.has(d); d = path.dirname(d)) overlay.add(d);
    }
    // changed_when / failed_when see the registered variable (and the result's own keys)
    const rctx = { ...ctx, ...(task.register ? { [task.register]: { ...result, changed } } : {}), ...result };
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
    return { status: changed ? 'changed' : 'ok', reason, result, diffs: plan.diffs };
  }

  private evalAll(cond: unknown, ctx: Record<string, unknown>): boolean {
    const list = Array.isArray(cond) ? cond : [cond];
    return list.every((c) => this.evalBool(c, ctx));
  }

  private taskCheckMode(scope: Scope, task: TaskNode, ctx: Record<string, unknown>): boolean | undefined {
    const v = task.checkMode ?? scope.checkMode;
    if (v === undefined) return undefined;
    return this.evalBool(this.render(v, ctx), ctx);
  }

  private envFor(scope: Scope, task: TaskNode, ctx: Record<string, unknown>): Record<string, string> | undefined {
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

  private becomeFor(scope: Scope, task: TaskNode, ctx: Record<string, unknown>, target: string): Become | undefined {
    const b = task.become ?? scope.become ?? ctx['ansible_become'];
    if (b === undefined || !this.evalBool(this.render(b, ctx), ctx)) return undefined;
    const user = String(this.render(task.becomeUser ?? scope.becomeUser ?? ctx['ansible_become_user'] ?? 'root', ctx));
    const method = String(this.render(task.becomeMethod ?? scope.becomeMethod ?? ctx['ansible_become_method'] ?? 'sudo', ctx));
    if (method !== 'sudo' && method !== 'su') throw new RunbookError('bad_argument', `become_method ${method} is not supported (sudo, su)`, { pos: task.pos });
    // becoming the user the connection already runs as is a no-op in the connection itself (it knows the real login
    // user, which may come from ~/.ssh/config; for pct it is the container's root)
    void target;
    const pw = ctx['ansible_become_password'] ?? ctx['ansible_become_pass'] ?? cliBecomePassword();
    return { method, user, password: pw !== undefined ? String(this.render(pw, ctx)) : undefined };
  }

  findFile(kind: 'files' | 'templates', name: string, role?: RoleScope): string | undefined {
    if (path.isAbsolute(name)) return fs.existsSync(name) ? name : undefined;
    const cands: string[] = [];
    if (role) cands.push(path.join(role.path, kind, name), path.join(role.path, name));
    cands.push(path.join(this.pb.dir, kind, name), path.join(this.pb.dir, name));
    return cands.find((c) => fs.existsSync(c));
  }

  async connect(host: string): Promise<Connection> {
    const st = this.host(host);
    if (st.unreachable) throw new RunbookError('unreachable', `host ${host} is unreachable`, { host });
    if (!st.conn) {
      const ctx = this.varsFor(host, undefined, { when: [], tags: [], blockVars: [], environment: [] });
      const resolved = resolveFor(Object.fromEntries(Object.entries(ctx).filter(([k]) => k.startsWith('ansible_') || k.startsWith('runbook_') || k.startsWith('proxmox_'))), ctx, this.templar);
      const spec = connectionSpecFor(host, resolved, this.opts.hostKeyChecking, this.play?.connection);
      // the host lock (lock.ts) serialises runs against one host; --check writes nothing, so it takes none
      const lock = !this.opts.check && spec.type !== 'local' && resolved['runbook_lock'] !== false && !/^(false|no|off|0)$/i.test(String(resolved['runbook_lock'] ?? ''));
      st.conn = openConnection(spec).then((c) =>
        lock
          ? acquireHostLock(c, {
              file: resolved['runbook_lock_file'] !== undefined ? String(resolved['runbook_lock_file']) : undefined,
              timeoutMs: this.opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
              onWait: (message) => void this.bus.emit({ type: 'warning', message, host }),
            })
          : c,
      );
      // unreachable hosts stay unreachable for the run
      st.conn.catch(() => {
        st.unreachable = true;
      });
    }
    return st.conn;
  }

  // ---------------------------------------------------------------------------------------------------------
  // controller-side actions

  private async runAction(task: TaskNode, scope: Scope, host: string, ctx: Record<string, unknown>, args: Record<string, unknown>): Promise<ItemOutcome> {
    const st = this.host(host);
    switch (task.action) {
      case 'debug': {
        let output: string;
        if (args['var'] !== undefined) {
          const name = String(args['var']);
          const v = this.templar.evaluate(name, resolveFor(`{{ ${name} }}`, ctx, this.templar));
          output = `${name}: ${JSON.stringify(v, null, 2)}`;
        } else output = typeof args['msg'] === 'string' ? args['msg'] : JSON.stringify(args['msg'] ?? 'Hello world!', null, 2);
        return { status: 'ok', reason: 'debug', output, result: { msg: args['msg'] } };
      }
      case 'set_fact': {
        const { cacheable, ...facts } = args;
        Object.assign(st.facts, facts);
        return { status: 'ok', reason: `set ${Object.keys(facts).join(', ')}`, result: { ansible_facts: facts } };
      }
      case 'assert': {
        const that = Array.isArray(task.args['that']) ? task.args['that'] : [task.args['that']];
        for (const c of that) {
          if (!this.evalBool(c, ctx)) {
            const msg = args['fail_msg'] ?? args['msg'];
            return { status: 'failed', reason: msg !== undefined ? String(msg) : `assertion failed: ${String(c)}`, result: { assertion: c, evaluated_to: false } };
          }
        }
        return { status: 'ok', reason: args['success_msg'] !== undefined ? String(args['success_msg']) : 'all assertions passed', result: {} };
      }
      case 'fail':
        return { status: 'failed', reason: String(args['msg'] ?? 'Failed as requested from task'), result: {} };
      case 'meta': {
        const what = String(args['_raw_params']);
        if (what === 'flush_handlers') await this.flushHandlers(this.playHosts);
        else if (what === 'end_play') {
          for (const h of this.playHosts) this.host(h).ended = true;
          await this.report(task, task.name ?? 'meta', { host, status: 'ok', reason: 'end_play', durationMs: 0 }, false);
          throw new EndPlay();
        } else if (what === 'end_host') st.ended = true;
        return { status: 'ok', reason: `meta: ${what}`, result: {} };
      }
      case 'include_tasks':
      case 'include_role': {
        let items: Item[];
        let roleScope: RoleScope | undefined;
        if (task.action === 'include_tasks') {
          items = (task.args['__items__'] as Item[] | undefined) ?? (() => {
            const f = String(args['file'] ?? args['_raw_params']);
            const base = (scope.role ?? task.role)?.path;
            const cands = [path.resolve(path.dirname(task.file), f), ...(base ? [path.join(base, 'tasks', f)] : [])];
            const file = cands.find((c) => fs.existsSync(c));
            if (!file) throw new RunbookError('missing_file', `tasks file not found: ${f}`, { pos: task.pos });
            const loaded = this.loader.itemsFromFile(file);
            if (this.loader.sink.errors.length) throw this.loader.sink.errors[0];
            return loaded;
          })();
        } else {
          const def = this.loader.loadRole(String(args['name']), this.pb.dir, task.pos);
          if (!def) throw this.loader.sink.errors.pop() ?? new RunbookError('missing_role', `role ${args['name']} not found`, { pos: task.pos });
          roleScope = { name: def.name, path: def.path, defaults: def.defaults, vars: def.vars, params: { ...task.vars } };
          items = def.tasks;
          for (const hnd of def.handlers) if (!this.play.handlers.includes(hnd)) this.play.handlers.push({ ...hnd, role: roleScope });
        }
        // include runs its tasks for this host right here (a per-host include, like Ansible's)
        const inner: Scope = { ...scope, when: [], blockVars: [...scope.blockVars, task.vars], role: roleScope ?? scope.role ?? task.role };
        const prev = this.playHosts;
        await this.runItemsForHost(items, inner, host);
        this.playHosts = prev;
        return { status: 'ok', reason: `included ${items.length} tasks`, result: {} };
      }
      case 'include_vars': {
        const f = String(args['file'] ?? args['_raw_params']);
        const role = scope.role ?? task.role;
        const cands = [path.resolve(path.dirname(task.file), f), ...(role ? [path.join(role.path, 'vars', f)] : []), path.resolve(this.pb.dir, f)];
        const file = cands.find((c) => fs.existsSync(c));
        if (!file) throw new RunbookError('missing_file', `vars file not found: ${f}`, { pos: task.pos });
        const y = loadVarsYaml(file);
        const vars = this.secrets.absorb(file, (y.value ?? {}) as Record<string, unknown>, (p) => y.pos(p));
        if (args['name']) st.includeVars[String(args['name'])] = vars;
        else Object.assign(st.includeVars, vars);
        return { status: 'ok', reason: `loaded ${file}`, result: { ansible_facts: vars } };
      }
      case 'ping': {
        const conn = await this.connect(host);
        const r = await conn.run('echo pong');
        return { status: r.code === 0 ? 'ok' : 'failed', reason: r.code === 0 ? 'pong' : r.stderr, result: { ping: 'pong' } };
      }
      case 'setup': {
        const conn = await this.connect(host);
        const r = await conn.run(FACTS_SCRIPT);
        const facts = parseFacts(r.stdout);
        st.gathered = factVars(facts);
        return { status: 'ok', reason: 'facts gathered', result: { ansible_facts: facts } };
      }
      case 'wait_for_connection': {
        const timeout = Number(args['timeout'] ?? 600) * 1000;
        const delay = Number(args['delay'] ?? 0) * 1000;
        const sleep = Number(args['sleep'] ?? 1) * 1000;
        await new Promise((r) => setTimeout(r, delay));
        const deadline = Date.now() + timeout;
        for (let i = 0; ; i++) {
          try {
            if (st.conn) await (await st.conn.catch(() => undefined))?.close();
          } catch {
            /* ignore */
          }
          st.conn = undefined;
          st.unreachable = false;
          try {
            const c = await this.connect(host);
            const r = await c.run('true');
            if (r.code === 0) return { status: 'ok', reason: `connected after ${i + 1} attempts`, result: { elapsed: Math.round((timeout - (deadline - Date.now())) / 1000) } };
          } catch {
            st.conn = undefined;
            st.unreachable = false;
          }
          if (Date.now() > deadline) return { status: 'failed', reason: `timed out waiting for connection after ${timeout / 1000}s`, result: {} };
          await new Promise((r) => setTimeout(r, sleep));
        }
      }
      case 'reboot': {
        // drops and re-opens the connection (lib/executor/reboot.ts); always changed; check mode runs nothing
        if (this.taskCheckMode(scope, task, ctx) ?? this.opts.check) return { status: 'changed', reason: 'would reboot (check mode: nothing run)', result: { rebooted: true, elapsed: 0 } };
        const become = this.becomeFor(scope, task, ctx, host);
        const reset = async () => {
          const old = st.conn;
          st.conn = undefined;
          st.unreachable = false;
          await (await old?.catch(() => undefined))?.close().catch(() => undefined);
        };
        const r = await runReboot(args as RebootArgs, { connect: () => this.connect(host), reset, runOpts: become ? { become } : {} });
        return { status: r.ok ? 'changed' : 'failed', reason: r.reason, result: r.result };
      }
      default:
        throw new RunbookError('internal', `action ${task.action} has no implementation`);
    }
  }

  /** Run items for a single host (include_tasks / include_role). */
  private async runItemsForHost(items: Item[], scope: Scope, host: string): Promise<void> {
    await this.runItems(items, scope, () => [host].filter((h) => this.host(h).active));
  }
}

interface ItemOutcome {
  status: Status;
  reason: string;
  result: Record<string, unknown>;
  diffs?: import('../modules/types.js').FileDiff[];
  output?: string;
  item?: string;
  delegatedTo?: string;
  afterEarlierChange?: boolean;
}

function dropOmitted(v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) if (val !== OMIT) out[k] = val;
  return out;
}

function isUnreachable(e: unknown): boolean {
  return e instanceof RunbookError && (e.code === 'unreachable' || e.code === 'host_key' || e.code === 'lock');
}
