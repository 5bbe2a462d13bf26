/**
 * The validated, source-located model of plays, roles, tasks and handlers. No templating happens here: every
 * value is kept as written, and rendered per host at run time by lib/vars.
 */
import type { SourcePos } from '../errors.js';

/** Keywords that may be set on a play, a block, a role entry or a task, and are inherited downwards. */
export interface Inheritable {
  become?: unknown;
  becomeUser?: unknown;
  becomeMethod?: unknown;
  checkMode?: unknown;
  environment?: unknown;
  ignoreErrors?: unknown;
  noLog?: unknown;
  delegateTo?: unknown;
  runOnce?: unknown;
  /** conditions; all must hold */
  when: unknown[];
  tags: string[];
  vars: Record<string, unknown>;
}

export interface RoleScope {
  name: string;
  path: string;
  defaults: Record<string, unknown>;
  vars: Record<string, unknown>;
  params: Record<string, unknown>;
}

export interface TaskNode extends Inheritable {
  kind: 'task';
  name?: string;
  /** canonical module or action name (e.g. 'copy', 'debug', 'include_tasks') */
  action: string;
  /** as written (short or FQCN) */
  actionAs: string;
  /** the module's or action's arguments as written (never anything the loader adds) */
  args: Record<string, unknown>;
  /** `loop:` or a `with_<lookup>:` (undefined: the task runs once) */
  loop?: TaskLoop;
  loopVar: string;
  indexVar?: string;
  loopLabel?: unknown;
  /** loop_control.pause: seconds to wait between loop items (a template until rendered) */
  loopPause?: unknown;
  register?: string;
  notify: string[];
  listen: string[];
  changedWhen?: unknown;
  failedWhen?: unknown;
  until?: unknown;
  retries?: unknown;
  delay?: unknown;
  pos: SourcePos;
  role?: RoleScope;
  /** the file the task is written in */
  file: string;
  /**
   * include_tasks with a literal file name: the file, found and loaded with the playbook so its errors are known
   * before any host is contacted; run when (and each time) the include is reached. Absent for a templated name:
   * the action loads that file when it is reached.
   */
  include?: { file: string; tasks: Item[] };
  /**
   * A problem that is certain only if this task runs (an unsupported module in another OS's branch, a variable
   * only a skipped path needs, ...): a warning at load, and the task fails with it when it is reached on a host.
   */
  deferred?: { code: string; message: string; pos: SourcePos };
  /**
   * Why this task might not run although its play does, from above it (an enclosing block's or include's when, a
   * rescue section, a handler, --tags): problems found in it are then warnings, not errors (docs/adr/0012). The
   * task's own `when` is in `when`.
   */
  guard?: string;
}

/**
 * A task's loop as written. `loop:` takes a list; `with_<name>:` hands its terms to the lookup <name> (Ansible's
 * rule: with_items is lookup('items'), with_nested is lookup('nested'), ...) and loops over what it returns.
 * `terms` are rendered per host when the task runs.
 */
export type TaskLoop =
  | { kind: 'loop'; terms: unknown; pos: SourcePos }
  | { kind: 'lookup'; lookup: string; terms: unknown; pos: SourcePos };

/** The keyword a loop was written with (`loop`, `with_items`, ...), for messages. */
export function loopKeyword(l: TaskLoop): string {
  return l.kind === 'loop' ? 'loop' : `with_${l.lookup}`;
}

export interface BlockNode extends Inheritable {
  kind: 'block';
  name?: string;
  block: Item[];
  rescue: Item[];
  always: Item[];
  pos: SourcePos;
  role?: RoleScope;
  file: string;
}

export type Item = TaskNode | BlockNode;

export interface Play extends Inheritable {
  name: string;
  hosts: string;
  gatherFacts: boolean;
  connection?: string;
  varsFiles: string[];
  /** tasks in execution order by section; each section ends with a handler flush */
  sections: Item[][];
  handlers: TaskNode[];
  pos: SourcePos;
  file: string;
  serial?: number;
}

export interface Playbook {
  file: string;
  dir: string;
  plays: Play[];
}
