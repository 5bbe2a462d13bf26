/** Task names as Ansible shows and matches them (--list-tasks, --start-at-task). */
import type { TaskNode } from './model.js';
import { globToRegExp } from '../inventory/patterns.js';

/** Ansible's Task.get_name(): "role : name" for a named task of a role, the name, else the action as written. */
export function taskTitle(t: TaskNode): string {
  if (t.name) return t.role ? `${t.role.name} : ${t.name}` : t.name;
  return t.actionAs;
}

/** Ansible's --start-at-task match: the name or "role : name", exactly or as a shell-style glob. */
export function startsHere(t: TaskNode, wanted: string): boolean {
  const re = globToRegExp(wanted);
  const names = [t.name, t.name ? taskTitle(t) : undefined].filter((x): x is string => !!x);
  return names.some((n) => n === wanted || re.test(n));
}
