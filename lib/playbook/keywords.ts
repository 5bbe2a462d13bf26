import { editDistance } from '../edit-distance.js';

/** Ansible keywords: every key of a task that is not one of these names the module (or action). */
export const TASK_KEYWORDS = new Set([
  'name', 'action', 'local_action', 'args', 'when', 'loop', 'loop_control', 'register', 'notify', 'listen', 'tags',
  'check_mode', 'changed_when', 'failed_when', 'ignore_errors', 'ignore_unreachable', 'become', 'become_user',
  'become_method', 'become_flags', 'delegate_to', 'delegate_facts', 'run_once', 'no_log', 'environment', 'vars',
  'until', 'retries', 'delay', 'diff', 'any_errors_fatal', 'throttle', 'timeout', 'collections', 'module_defaults',
  'debugger', 'connection', 'remote_user', 'async', 'poll', 'with_items', 'with_list', 'with_dict',
  'with_together', 'with_fileglob', 'with_sequence', 'with_subelements', 'with_nested', 'port',
]);

export const BLOCK_KEYWORDS = new Set([
  'name', 'block', 'rescue', 'always', 'when', 'tags', 'become', 'become_user', 'become_method', 'become_flags',
  'check_mode', 'ignore_errors', 'no_log', 'environment', 'vars', 'delegate_to', 'run_once', 'any_errors_fatal',
  'collections', 'module_defaults', 'debugger', 'connection', 'remote_user', 'diff', 'throttle', 'timeout',
  'ignore_unreachable', 'notify',
]);

export const PLAY_KEYWORDS = new Set([
  'name', 'hosts', 'vars', 'vars_files', 'vars_prompt', 'roles', 'pre_tasks', 'tasks', 'post_tasks', 'handlers',
  'gather_facts', 'become', 'become_user', 'become_method', 'become_flags', 'check_mode', 'connection', 'remote_user',
  'tags', 'environment', 'ignore_errors', 'no_log', 'serial', 'strategy', 'any_errors_fatal', 'max_fail_percentage',
  'collections', 'module_defaults', 'order', 'port', 'gather_subset', 'gather_timeout', 'force_handlers', 'diff',
  'debugger', 'throttle', 'timeout', 'ignore_unreachable', 'run_once', 'fact_path', 'when',
]);

export const ROLE_ENTRY_KEYWORDS = new Set([
  'role', 'name', 'vars', 'tags', 'when', 'become', 'become_user', 'become_method', 'delegate_to', 'environment',
  'ignore_errors', 'no_log', 'check_mode', 'collections', 'connection', 'remote_user', 'run_once',
]);

/** Close matches for "did you mean" hints. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 4)) ? best : undefined;
}
