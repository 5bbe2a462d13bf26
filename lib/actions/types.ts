/**
 * Controller-side actions (debug, set_fact, include_*, meta, setup, reboot, ...): one file each in lib/actions/,
 * registered like modules (lib/actions/index.ts). An action gets its rendered arguments and an ActionEngine: the
 * few things of the run it may touch, bound to the task and host it runs for. The run-task pipeline
 * (lib/executor/pipeline.ts) never names an action; adding one is a new file here and a line in index.ts.
 */
import type { SourcePos } from '../errors.js';
import type { Become, Connection } from '../connection/types.js';
import type { Item, RoleScope, TaskNode } from '../playbook/model.js';

/** How a task ended on a host (the executor's events carry the same). */
export type Status = 'ok' | 'changed' | 'skipped' | 'failed' | 'unreachable';

export interface ActionOutcome {
  status: Status;
  reason: string;
  result: Record<string, unknown>;
  /** what a debug-like action shows */
  output?: string;
}

/** What an action may do to the run, bound to one task on one host. */
export interface ActionEngine {
  /** --check, or the task's own check_mode */
  readonly check: boolean;
  evaluate(expr: string, vars: Record<string, unknown>): unknown;
  evalBool(expr: unknown, vars: Record<string, unknown>): boolean;
  /** the host's connection, opened when needed; throws an unreachable error */
  connect(): Promise<Connection>;
  /** drop the host's connection (and its unreachable mark): the next connect() opens a new one */
  resetConnection(): Promise<void>;
  become(): Become | undefined;
  setFacts(facts: Record<string, unknown>): void;
  setGathered(vars: Record<string, unknown>): void;
  setIncludeVars(vars: Record<string, unknown>, name?: string): void;
  /** a vars file: decrypted, its secrets registered */
  loadVars(file: string): Record<string, unknown>;
  /** the task's role, for relative file lookups */
  role(): RoleScope | undefined;
  /** the tasks of a file, loaded now (include_tasks) */
  loadTasks(file: string): Item[];
  /** a role, loaded now (include_role); its handlers join the play's */
  loadRole(name: string, pos: SourcePos): { scope: RoleScope; tasks: Item[] };
  /** run items for this host right here, with the given role scope and extra vars */
  runIncluded(items: Item[], opts: { role?: RoleScope; vars: Record<string, unknown> }): Promise<void>;
  flushHandlers(): Promise<void>;
  /** meta: end_play (reports this host's result, then stops the play for every host) */
  endPlay(): Promise<never>;
  endHost(): void;
}

export interface ActionCall {
  task: TaskNode;
  host: string;
  vars: Record<string, unknown>;
  args: Record<string, unknown>;
  engine: ActionEngine;
}

export interface ActionDef {
  name: string;
  aliases: string[];
  description: string;
  /** JSON Schema of the arguments, checked at load like every module's */
  schema: Record<string, unknown>;
  freeForm?: string;
  /** absent for the ones the loader resolves (import_tasks, import_role) */
  run?(call: ActionCall): Promise<ActionOutcome>;
}

export const anyValue = {};
export const str = { type: 'string' };

export function action(name: string, description: string, schema: Record<string, unknown>, run?: ActionDef['run'], freeForm?: string): ActionDef {
  return { name, aliases: [`ansible.builtin.${name}`, `ansible.legacy.${name}`], description, schema, freeForm, run };
}
