/**
 * The state of one host during a run, the keywords inherited from play to block to task (Scope), and the small
 * shared types of the executor.
 */
import type { Item, Play, RoleScope } from '../playbook/model.js';
import type { FileDiff } from '../modules/types.js';
import type { PlaybookLoader } from '../playbook/loader.js';
import { RunbookError } from '../errors.js';
import { OMIT } from '../vars/template.js';
import type { Connection } from '../connection/types.js';
import type { Recap, Status } from './events.js';
import type { Shard } from '../inventory/shard.js';

export interface ExecOptions {
  check: boolean;
  diff: boolean;
  limit?: string;
  /** --shard K/N: only the hosts of this shard (lib/inventory/shard.ts), applied like a further --limit */
  shard?: Shard;
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
  /** -v count: the `ansible_verbosity` variable (willshersystems.sshd prints its facts at 2 and above) */
  verbosity?: number;
}

export const HIDDEN = "the output has been hidden due to 'no_log: true'";

/** bumped whenever any host's `unreachable`, `failed` or `ended` changes: lists of active hosts are cached on it */
let activeEpoch = 0;
export const activeVersion = (): number => activeEpoch;
/** bumped whenever any host's facts or gathered facts change: what hostvars can show (pipelined probes check it) */
let factsEpoch = 0;
export const factsVersionAll = (): number => factsEpoch;

export class HostState {
  conn?: Promise<Connection>;
  private _unreachable = false;
  private _failed = false;
  private _ended = false;
  get unreachable(): boolean {
    return this._unreachable;
  }
  set unreachable(v: boolean) {
    if (v !== this._unreachable) activeEpoch++;
    this._unreachable = v;
  }
  get failed(): boolean {
    return this._failed;
  }
  set failed(v: boolean) {
    if (v !== this._failed) activeEpoch++;
    this._failed = v;
  }
  get ended(): boolean {
    return this._ended;
  }
  set ended(v: boolean) {
    if (v !== this._ended) activeEpoch++;
    this._ended = v;
  }
  /** why the connection could not be opened (kept: a later task on the host reports the same reason) */
  connectError?: Error;
  /** bumped whenever something may change the host (steps about to run, an action that connects): batch.ts fetchedProbe */
  mutations = 0;
  /** bumped by every write to `facts` (set_fact, register, ...), wherever it happens: hostvars entries are rebuilt only then */
  factsVersion = 0;
  facts: Record<string, unknown> = new Proxy({} as Record<string, unknown>, {
    defineProperty: (t, k, d) => (this.factsVersion++, factsEpoch++, Reflect.defineProperty(t, k, d)),
    deleteProperty: (t, k) => (this.factsVersion++, factsEpoch++, Reflect.deleteProperty(t, k)),
  });
  private _gathered: Record<string, unknown> = {};
  get gathered(): Record<string, unknown> {
    return this._gathered;
  }
  set gathered(v: Record<string, unknown>) {
    if (v !== this._gathered) factsEpoch++;
    this._gathered = v;
  }
  includeVars: Record<string, unknown> = {};
  notified = new Set<string>();
  /** the last failed task and its result: ansible_failed_task / ansible_failed_result in rescue */
  lastFailure?: { task: Record<string, unknown>; result: Record<string, unknown> };
  plannedChanges = 0;
  /** check mode: paths earlier planned (not applied) steps would create or write */
  overlay = new Set<string>();
  /** SELinux enabled on the host? asked once, when a task first has SELinux contexts (selinux.ts) */
  selinux?: Promise<boolean>;
  stats: Recap;
  constructor(readonly name: string) {
    this.stats = { host: name, ok: 0, changed: 0, unreachable: 0, failed: 0, skipped: 0, rescued: 0, ignored: 0 };
  }
  get active(): boolean {
    return !this._unreachable && !this._failed && !this._ended;
  }
}

/** Keywords inherited from play -> block -> task, innermost wins (conditions and tags accumulate). */
export interface Scope {
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

export function inherit(s: Scope, i: Item | Play): Scope {
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

export class EndPlay extends Error {}

export interface ItemOutcome {
  status: Status;
  reason: string;
  result: Record<string, unknown>;
  diffs?: FileDiff[];
  output?: string;
  item?: string;
  delegatedTo?: string;
  afterEarlierChange?: boolean;
}

export function dropOmitted(v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) if (val !== OMIT) out[k] = val;
  return out;
}

export function isUnreachable(e: unknown): boolean {
  return e instanceof RunbookError && (e.code === 'unreachable' || e.code === 'host_key' || e.code === 'lock');
}
