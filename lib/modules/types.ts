/**
 * A module never sees a "check" flag. It is:
 *   prepare (optional, controller side: read a src file, render a template) ->
 *   probe   ({ script, parse }: ONE read-only sh script, and the PURE parse of its output into the module's typed State) ->
 *   plan    (a PURE function of params + State -> steps, diff, reason, or a structured Failure).
 * The executor reports the plan and, unless --check, hands the steps to the one interpreter that mutates hosts
 * (lib/executor/apply.ts). `changed` means "the plan had steps". Check and apply share every line up to the last.
 */
import type { ExecResult } from '../connection/types.js';

export type Step =
  /** run a sh script; `capture` makes its result the task's stdout/stderr/rc; non-zero exit fails the task unless allowFailure */
  | { kind: 'run'; script: string; input?: Buffer | string; capture?: boolean; allowFailure?: boolean; describe?: string }
  /** write content atomically (temp file in the same directory, then rename), owner/group, then mode; string content
   *  is encoded with encodeText (lib/modules/bytes.ts), so escaped non-UTF-8 bytes are written as the bytes */
  | { kind: 'write'; path: string; content: Buffer | string; mode?: string; owner?: string; group?: string; describe?: string; backup?: boolean; validate?: string };

export interface FileDiff {
  /** path, or a label such as `sysctl net.ipv6.conf.all.forwarding` */
  label: string;
  before: string;
  after: string;
}

/**
 * Why a plan or a step fails, as data: a stable `code` (e.g. 'missing_parent', 'unit_not_found', 'probe_failed'),
 * the `path` it is about when there is one (an absolute path, or a bare file name such as a systemd unit's
 * `NAME.service`), and the message shown. Check mode consults `path` against the writes earlier tasks planned.
 */
export interface Failure {
  code: string;
  path?: string;
  message: string;
  /**
   * for a missing `path`: the plan once it exists, as an earlier planned write creates it (ifCreated) or as a
   * planned package install provides it (ifInstalled). Check mode plans against that state instead of guessing.
   */
  ifCreated?: Plan;
  ifInstalled?: Plan;
}

/** A failure, as data. */
export function failure(code: string, message: string, path?: string | undefined): Failure {
  return path === undefined ? { code, message } : { code, path, message };
}

/** A plan that fails (no steps; the reason is the message). */
export function failPlan(f: Failure, result?: Record<string, unknown>, reason = f.message): Plan {
  return result === undefined ? { steps: [], reason, fail: f } : { steps: [], reason, fail: f, result };
}

/** The read-only probe of a module: one sh script, and the PURE parse of its output into the module's State. */
export interface Probe<S> {
  script: string;
  parse(output: ExecResult): S;
}

/** The State of a probe that failed or whose output was incomplete: the plan fails with it. */
export interface ProbeFailed {
  probeFailed: Failure;
}

export function isProbeFailed(s: unknown): s is ProbeFailed {
  return typeof s === 'object' && s !== null && 'probeFailed' in s;
}

export interface Plan {
  steps: Step[];
  /** why there is nothing to do (a no-op must say why), or a short description of the change */
  reason: string;
  /** the reason once the steps have run, when it reads differently ("command would run" -> "command ran") */
  doneReason?: string;
  diffs?: FileDiff[];
  /** values merged into the registered result (e.g. path, state, before/after values) */
  result?: Record<string, unknown>;
  /** the module decided the task fails (e.g. unknown sysctl key); no steps are run */
  fail?: Failure;
  /** run these steps even in check mode (read-only commands whose output later tasks need) */
  runInCheckMode?: boolean;
  /**
   * the packages the steps install (apt, package): in check mode, the files they would create are unknown, so a
   * later task that fails about a missing path is reported as a change after an earlier change
   */
  installs?: string[];
  /**
   * the users (and groups) the steps create: in check mode they do not exist yet, so a later task that runs as one
   * of them (become_user) cannot be probed and is reported as a change after an earlier change
   */
  accounts?: string[];
}

/** What a module may use on the controller side (never a connection). */
export interface ModuleContext {
  host: string;
  vars: Record<string, unknown>;
  /** find a file for `src:` (role files/ dir, then playbook dir); returns an absolute path or undefined */
  findFile(kind: 'files' | 'templates', name: string): string | undefined;
  /**
   * render a Jinja2 template file with the host's variables (Ansible template-module whitespace rules); the file is
   * read with decodeBytes (lib/modules/bytes.ts), so its bytes that are not UTF-8 come back as escape code points
   */
  renderTemplateFile(path: string): string;
  /** is the task in check mode: ONLY for controller-only modules that write on the controller via steps (never to decide steps) */
  readonly checkMode?: never;
}

export interface ModuleDef<P = Record<string, unknown>, S = unknown> {
  /** short name, e.g. 'copy' */
  name: string;
  /** other names it answers to, e.g. 'ansible.builtin.copy', 'ansible.legacy.copy' */
  aliases: string[];
  /** one line for `runbook modules` */
  description: string;
  /** JSON schema (draft 2020) of the params after templating; validated with ajv. Unknown args are rejected. */
  schema: Record<string, unknown>;
  /** for `k=v` free-form modules (command, shell): the name of the param that takes the free text */
  freeForm?: string;
  /** runs on the controller only (debug, set_fact, assert, fail): no probe, no connection */
  controllerOnly?: boolean;
  /**
   * optional, PURE: problems with fully known (rendered) params, found before any host is contacted (preflight
   * calls it for tasks whose args are static or resolvable from inventory/play/role vars); [] when fine
   */
  validate?(params: Record<string, unknown>): string[];
  /** normalise params (defaults, aliases, controller-side file reads); may throw RunbookError('bad_argument') */
  prepare?(params: Record<string, unknown>, ctx: ModuleContext): P | Promise<P>;
  /** the read-only probe (script + parse into State); null when the module needs no probe (the plan gets null) */
  probe(params: P): Probe<S> | null;
  /** PURE: params + State (null when there was no probe) -> plan */
  plan(params: P, state: S | null): Plan;
  /** optional: compute result fields from the captured output of applied steps (command: stdout, rc ...) */
  finish?(params: P, outputs: ExecResult[], plan: Plan): Record<string, unknown>;
}

/** Controller-side actions the executor implements itself (debug, set_fact, assert, fail, meta, include_*). */
export interface ActionResult {
  changed: boolean;
  failed?: boolean;
  msg?: string;
  /** facts set by set_fact */
  facts?: Record<string, unknown>;
  result?: Record<string, unknown>;
}

/**
 * What the executor does between the probe's round trip and the plan, for a probe output already in hand (tests,
 * tools): parse the output into the module's State (null when there is no probe or no output), then plan.
 */
export function planFrom<P, S>(def: ModuleDef<P, S>, params: P, output: ExecResult | null): Plan {
  const probe = def.probe(params);
  return def.plan(params, probe !== null && output !== null ? probe.parse(output) : null);
}
