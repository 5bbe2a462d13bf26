/**
 * Which host runs which task when (Ansible's linear strategy: every host finishes task N before any starts N+1,
 * up to `forks` hosts at once), failures, block/rescue/always, handlers. The only caller of applySteps.
 *
 * Per host and task: render args -> validate -> prepare -> probe (one read-only round trip) -> pure plan ->
 * report -> unless --check, apply. Check and apply share every line up to the last.
 */
import { exitCodeFor } from '../errors.js';
import type { BlockNode, Item, Play, TaskNode } from '../playbook/model.js';
import { markFinal } from '../vars/final.js';
import { applySteps } from './apply.js';
import { type Recap } from './events.js';

import { EndPlay, inherit, type Scope } from './host-state.js';
import { TaskPipeline } from './pipeline.js';
import type { NextTask } from './batch.js';
import { unmatchedTerms } from '../inventory/patterns.js';
import { startsHere } from '../playbook/task-names.js';

export type { ExecOptions } from './host-state.js';

/**
 * The strategy: which host runs which task when (Ansible's linear strategy: every host finishes task N before any
 * starts N+1, up to `forks` hosts at once), blocks with rescue/always, handlers, failures, abort. Each task on
 * each host goes through the pipeline (pipeline.ts).
 */
export class Executor extends TaskPipeline {
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
      if (this.ownsContext) this.context.dispose();
    }
    const recap = await Promise.all(
      [...this.hosts.values()].map(async (h) => (h.conn ? { ...h.stats, commands: await h.conn.then((c) => c.commandCount, () => 0) } : h.stats)),
    );
    const exitCode = exitCodeFor({ recap, aborted: this.aborted });
    await this.bus.emit({ type: 'run:end', recap, durationMs: Date.now() - started, exitCode, check: this.opts.check });
    return { exitCode, recap };
  }
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

  /**
   * --start-at-task: while set, tasks are not run until the first whose name (or "role : name") is this or matches
   * it as a glob; Gathering Facts still runs, as in Ansible. Checked before the run (lib/cli/list.ts checkStartAt).
   */
  startAt: string | undefined;

  /** pattern terms already warned about: Ansible's Display shows a warning once */
  private warnedTerms = new Set<string>();

  /**
   * A play's `hosts:` term that matches no host or group: Ansible's warning, once per term, and the play goes on
   * ("skipping: no hosts matched" when nothing at all is left). --limit leaving nothing stopped the run earlier.
   */
  protected async warnUnmatched(pattern: string): Promise<void> {
    let terms: string[];
    try {
      terms = unmatchedTerms(pattern, (a) => this.inv.selectHosts(a));
    } catch {
      return; // malformed: preflight reported it
    }
    for (const t of terms) {
      if (this.warnedTerms.has(t)) continue;
      this.warnedTerms.add(t);
      await this.bus.emit({ type: 'warning', message: `Could not match supplied host pattern, ignoring: ${t}` });
    }
  }

  protected async runPlay(play: Play): Promise<void> {
    this.play = play;
    await this.warnUnmatched(play.hosts);
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

  protected tagSelected(tags: string[], isFacts = false): boolean {
    const set = new Set(tags);
    if (this.opts.skipTags.some((t) => set.has(t))) return false;
    if (set.has('never') && !this.opts.tags.some((t) => set.has(t))) return false;
    if (this.opts.tags.length === 0 || this.opts.tags.includes('all')) return true;
    if (set.has('always')) return !isFacts || true;
    if (this.opts.tags.includes('tagged') && set.size > 0) return true;
    if (this.opts.tags.includes('untagged') && set.size === 0) return true;
    return this.opts.tags.some((t) => set.has(t));
  }

  protected async runItems(items: Item[], scope: Scope, hosts: () => string[]): Promise<void> {
    for (const [i, item] of items.entries()) {
      const active = hosts();
      if (active.length === 0) return;
      if (item.kind === 'block') await this.runBlock(item, scope, active);
      else {
        const s = inherit(scope, item);
        if (!this.tagSelected(s.tags)) continue;
        if (this.startAt !== undefined) {
          if (!startsHere(item, this.startAt)) continue;
          this.startAt = undefined;
        }
        // the tasks that run next in this list, up to the next block: their probes may ride on this one's commands (batch.ts)
        const nexts: NextTask[] = [];
        for (let j = i + 1; j < items.length && nexts.length < 8; j++) {
          const n = items[j]!;
          if (n.kind !== 'task') break;
          const ns = inherit(scope, n);
          if (this.tagSelected(ns.tags)) nexts.push({ task: n, scope: ns });
        }
        this.nextAfter.set(s, nexts);
        await this.runTask(item, s, active);
      }
    }
  }

  protected async runBlock(b: BlockNode, scope: Scope, hosts: string[]): Promise<void> {
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
        if (st.lastFailure) Object.assign(st.facts, markFinal({ ansible_failed_task: st.lastFailure.task, ansible_failed_result: st.lastFailure.result }));
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

  protected async flushHandlers(hosts: string[]): Promise<void> {
    const consumed: [string, string][] = [];
    const handlers = this.play.handlers;
    // same-name handlers: only the last one loaded answers to the name (Ansible's shadowing; the load warned);
    // every handler still answers to its listen topics
    const lastByName = new Map<string, TaskNode>();
    for (const h of handlers) if (h.name) lastByName.set(h.name, h);
    for (const handler of handlers) {
      const own = handler.name ? [...(lastByName.get(handler.name) === handler ? [handler.name] : []), ...(handler.role ? [`${handler.role.name} : ${handler.name}`] : [])] : [];
      const names = new Set([...own, ...handler.listen].filter(Boolean));
      const targets = this.activeOf(hosts).filter((h) => [...this.host(h).notified].some((n) => names.has(n)));
      if (targets.length === 0) continue;
      // a notification reaches every handler with that name or listening to it: consumed after the flush
      for (const h of targets) for (const n of names) if (this.host(h).notified.has(n)) consumed.push([h, n]);
      await this.runTask(handler, inherit({ when: [], tags: [], blockVars: [], environment: [] }, handler), targets, true);
    }
    for (const [h, n] of consumed) this.host(h).notified.delete(n);
  }

  /** Run items for a single host (include_tasks / include_role). */
  protected async runItemsForHost(items: Item[], scope: Scope, host: string): Promise<void> {
    await this.runItems(items, scope, () => [host].filter((h) => this.host(h).active));
  }
}
