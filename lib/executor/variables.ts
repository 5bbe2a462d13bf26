/**
 * Which host runs which task when (Ansible's linear strategy: every host finishes task N before any starts N+1,
 * up to `forks` hosts at once), failures, block/rescue/always, handlers. The only caller of applySteps.
 *
 * Per host and task: render args -> validate -> prepare -> probe (one read-only round trip) -> pure plan ->
 * report -> unless --check, apply. Check and apply share every line up to the last.
 */
import { defaultConnection } from './connect.js';
import { applyShard } from '../inventory/shard.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunbookError } from '../errors.js';
import type { Inventory } from '../inventory/index.js';
import type { Play, Playbook, RoleScope, TaskNode } from '../playbook/model.js';
import { PlaybookLoader, isMap } from '../playbook/loader.js';
import { createTemplar, OMIT, type Templar } from '../vars/template.js';
import { resolveFor } from '../vars/resolve.js';
import { setFinalNames } from '../vars/final.js';
import { merge, precedenceLayers, type Layer } from '../vars/precedence.js';
import { applySteps } from './apply.js';
import { EventBus } from './events.js';
import { loadVarsYaml } from '../vars/sops.js';
import { createRunContext, type RunContext } from './run-context.js';
import { Secrets, markSecret } from './secrets.js';
import { decryptVaultValues } from '../vars/vault.js';

import { HostState, activeVersion, type ExecOptions, type Scope } from './host-state.js';

/**
 * The run's shared state and its variables: hosts, the current play, the precedence layers of a host's variables
 * (lib/vars/precedence.ts), hostvars, rendering. The base of the executor's parts (connections.ts,
 * task-outcome.ts, pipeline.ts, executor.ts).
 */
export abstract class RunVariables {
  readonly templar: Templar;
  protected hosts = new Map<string, HostState>();
  protected playVarsFiles = new Map<string, Record<string, unknown>>();
  protected play!: Play;
  protected playHosts: string[] = [];
  readonly secrets: Secrets;
  /** the command's context (secrets, keyring, -K password); one made here is disposed when the run ends */
  readonly context: RunContext;
  protected readonly ownsContext: boolean;
  protected loader: PlaybookLoader;

  constructor(
    protected readonly pb: Playbook,
    protected readonly inv: Inventory,
    protected readonly opts: ExecOptions,
    protected readonly bus: EventBus,
    context?: RunContext,
  ) {
    this.ownsContext = context === undefined;
    this.context = context ?? createRunContext();
    this.secrets = new Secrets(this.context);
    this.templar = createTemplar();
    this.loader = opts.loader ?? new PlaybookLoader();
  }

  protected activeOf(hosts: string[]): string[] {
    return hosts.filter((h) => this.host(h).active);
  }

  protected host(name: string): HostState {
    let h = this.hosts.get(name);
    if (!h) {
      h = new HostState(name);
      this.hosts.set(name, h);
    }
    return h;
  }

  /** hosts a play pattern selects, with --limit and --shard applied (not --shard when `unsharded`); the implicit localhost when asked for and absent */
  selectPlayHosts(pattern: string, unsharded = false): string[] {
    let hosts = this.inv.selectHosts(pattern);
    if (hosts.length === 0 && /(^|[:,])(localhost|127\.0\.0\.1)($|[:,])/.test(pattern)) hosts = ['localhost'];
    if (this.opts.limit) {
      const lim = new Set(this.inv.selectHosts(this.opts.limit));
      if (this.opts.limit.split(/[:,]/).includes('localhost')) lim.add('localhost');
      hosts = hosts.filter((h) => lim.has(h));
    }
    return unsharded ? hosts : applyShard(hosts, this.opts.shard);
  }

  /** set by abort(): no new task (or loop item, or retry) starts; the run ends with this exit code */
  protected aborted: { signal: string; exitCode: number } | undefined;
  layers(host: string, task: TaskNode | undefined, scope: Scope): Layer[] {
    const st = this.host(host);
    return precedenceLayers({
      role: scope.role ?? task?.role,
      inventory: this.inv.hosts.has(host) ? this.inv.hostLayers(host).map((l) => ({ source: l.source, level: l.precedence, vars: l.vars })) : [],
      facts: st.gathered,
      playVars: this.play?.vars ?? {},
      playVarsFiles: this.playVarsFiles.get(host) ?? {},
      blockVars: scope.blockVars,
      taskVars: task?.vars,
      includeVars: st.includeVars,
      setFacts: st.facts,
      extraVars: this.opts.extraVars,
    });
  }

  // hostvars and groups: built once and reused; no call of varsFor walks the inventory (that made O(hosts²) work per
  // task: every host-task looked at every host). `hostvars` is one object for the run with a getter per inventory
  // host; the getter rebuilds that host's entry only when its facts were written to (HostState.factsVersion) or its
  // gathered facts replaced, so reading hostvars['x'] costs O(1) when x did not change. Entries are replaced, never
  // mutated: a value read from an entry stays as it was. hostvars is live, as Ansible's is: a read sees what the
  // other host has written so far (in the linear strategy, every earlier task of every host).
  protected groupsCache?: Record<string, string[]>;
  protected invVarsCache = new Map<string, Record<string, unknown>>();
  protected hostvarsEntries = new Map<string, { version: number; gathered: unknown; value: Record<string, unknown> }>();
  protected hostvarsView?: Record<string, unknown>;
  /** work counters (test/variables-scale.test.ts): how often hostvars were built, checked, and hosts scanned for the active list */
  readonly work = { hostvarsViews: 0, hostvarsChecks: 0, hostvarsBuilds: 0, activeScans: 0 };

  protected hostvarsEntry(h: string): Record<string, unknown> {
    this.work.hostvarsChecks++;
    const st = this.hosts.get(h);
    const version = st ? st.factsVersion : -1;
    const e = this.hostvarsEntries.get(h);
    if (e && e.version === version && e.gathered === st?.gathered) return e.value;
    this.work.hostvarsBuilds++;
    let inv = this.invVarsCache.get(h);
    if (!inv) this.invVarsCache.set(h, (inv = this.inv.hostVars(h)));
    // a host's facts and registered results are data (final.ts): never rendered, even through hostvars
    const value = setFinalNames({ ...inv, ...(st ? { ...st.gathered, ...st.facts } : {}), inventory_hostname: h }, st ? [...Object.keys(st.gathered), ...Object.keys(st.facts)] : []);
    this.hostvarsEntries.set(h, { version, gathered: st?.gathered, value });
    return value;
  }

  protected hostvars(): Record<string, unknown> {
    if (this.hostvarsView) return this.hostvarsView;
    this.work.hostvarsViews++;
    const view: Record<string, unknown> = {};
    for (const h of this.inv.hosts.keys()) Object.defineProperty(view, h, { enumerable: true, get: () => this.hostvarsEntry(h) });
    return (this.hostvarsView = view);
  }

  /** the play's hosts still active (not failed, unreachable or ended), recomputed only after some host's state changed */
  private activeCache?: { of: string[]; epoch: number; list: string[] };
  protected activePlayHosts(): string[] {
    const c = this.activeCache;
    if (c && c.of === this.playHosts && c.epoch === activeVersion()) return c.list;
    this.work.activeScans++;
    const list = this.activeOf(this.playHosts);
    this.activeCache = { of: this.playHosts, epoch: activeVersion(), list };
    return list;
  }

  varsFor(host: string, task: TaskNode | undefined, scope: Scope): Record<string, unknown> {
    // `!vault` values written inline (play, role, block, task vars) are decrypted here and never printed
    const vars = decryptVaultValues(merge(this.layers(host, task, scope)), () => task?.pos, markSecret) as Record<string, unknown>;
    const groups = (this.groupsCache ??= Object.fromEntries([...this.inv.groups.keys()].map((g) => [g, this.inv.selectHosts(g)])));
    const hostvars = this.hostvars();
    const role = scope.role ?? task?.role;
    // facts, registered results and set_fact values that won are final (never rendered again: final.ts)
    const st = this.host(host);
    const finals: string[] = [];
    for (const src of [st.gathered, st.facts]) for (const k of Object.keys(src)) if (vars[k] === src[k]) finals.push(k);
    return setFinalNames({
      // Ansible always defines the connection plugin's name (willshersystems.sshd tests `ansible_connection`): the
      // default the connection itself takes; the inventory's wins
      ansible_connection: defaultConnection(host, this.play?.connection),
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
      // Ansible's name of the running role (its FQCN for a collection's role; runbook's role name is that already)
      ...(role ? { ansible_role_name: role.name } : {}),
      ansible_check_mode: this.opts.check,
      ansible_diff_mode: this.opts.diff,
      ansible_verbosity: this.opts.verbosity ?? 0,
      ansible_play_hosts: this.activePlayHosts(),
      ansible_play_hosts_all: this.playHosts,
      ansible_play_batch: this.activePlayHosts(),
      ansible_play_name: this.play?.name,
      ansible_run_tags: this.opts.tags.length ? this.opts.tags : ['all'],
      ansible_skip_tags: this.opts.skipTags,
      ansible_version: { full: '2.14.0', major: 2, minor: 14, revision: 0, string: '2.14.0 (runbook)' },
      omit: OMIT,
    }, finals);
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

  protected async loadVarsFiles(host: string): Promise<void> {
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

  findFile(kind: 'files' | 'templates', name: string, role?: RoleScope): string | undefined {
    if (path.isAbsolute(name)) return fs.existsSync(name) ? name : undefined;
    const cands: string[] = [];
    if (role) cands.push(path.join(role.path, kind, name), path.join(role.path, name));
    cands.push(path.join(this.pb.dir, kind, name), path.join(this.pb.dir, name));
    return cands.find((c) => fs.existsSync(c));
  }

}
