/**
 * ansible-playbook's listing flags, in its output format (2.14): `--list-hosts`, `--list-tasks`, `--list-tags`
 * print what a run would target and run, and contact no host:
 *
 *   playbook: site.yml
 *
 *     play #1 (web): Configure web	TAGS: []
 *       pattern: ['web']
 *       hosts (2):
 *         web1
 *         web2
 *       tasks:
 *         common : install packages	TAGS: [pkg]
 *         TASK TAGS: [pkg]
 *
 * As Ansible: hosts in inventory order, --limit applied; only the tasks of a play's main sections (not rescue/always, not
 * handlers, not the contents of a dynamic include) and only those --tags/--skip-tags select; a task's tags include
 * those it inherits; an unnamed task shows its action. Also `--start-at-task`'s name check.
 */
import { applyShard, type Shard } from '../inventory/shard.js';
import { ConfigErrors, RunbookError } from '../errors.js';
import type { Inventory } from '../inventory/index.js';
import { unmatchedTerms } from '../inventory/patterns.js';
import type { Item, Play, Playbook, TaskNode } from '../playbook/model.js';
import { closest } from '../playbook/keywords.js';
import { startsHere, taskTitle } from '../playbook/task-names.js';

export { startsHere, taskTitle };

export interface ListFlags {
  listTasks?: boolean;
  listHosts?: boolean;
  listTags?: boolean;
  limit?: string;
  shard?: Shard;
  tags?: string[];
  skipTags?: string[];
}

const LOCALHOST = /(^|[:,])(localhost|127\.0\.0\.1)($|[:,])/;

/** Ansible's Taggable.evaluate_tags: whether --tags/--skip-tags select a task with these (inherited) tags. */
export function tagsSelect(own: string[], only: string[], skip: string[]): boolean {
  const tags = new Set(own.length ? own : ['untagged']);
  const onlyTags = new Set(only.length ? only : ['all']);
  const skipTags = new Set(skip);
  const meets = (s: Set<string>) => [...s].some((t) => tags.has(t));
  let run: boolean;
  if (tags.has('always')) run = true;
  else if (onlyTags.has('all') && !tags.has('never')) run = true;
  else if (meets(onlyTags)) run = true;
  else if (onlyTags.has('tagged') && own.length > 0 && !tags.has('never')) run = true;
  else run = false;
  if (run && skipTags.size) {
    if (skipTags.has('all')) {
      if (!tags.has('always') || skipTags.has('always')) run = false;
    } else if (meets(skipTags)) run = false;
    else if (skipTags.has('tagged') && own.length > 0) run = false;
  }
  return run;
}

const sortedTags = (tags: Iterable<string>) => [...new Set(tags)].sort();
const tagList = (tags: Iterable<string>) => `[${sortedTags(tags).join(', ')}]`;

/** The tasks a run of the play would reach, statically, with their inherited tags (Ansible's list order). */
export function listedTasks(play: Play, only: string[], skip: string[]): { task: TaskNode; tags: string[] }[] {
  const out: { task: TaskNode; tags: string[] }[] = [];
  const walk = (items: Item[], inherited: string[], depth: number) => {
    if (depth > 200) return;
    for (const i of items) {
      const tags = [...inherited, ...i.tags];
      if (i.kind === 'block') walk(i.block, tags, depth + 1);
      else if (tagsSelect(tags, only, skip)) out.push({ task: i, tags: sortedTags(tags) });
    }
  };
  for (const sec of play.sections) walk(sec, play.tags, 0);
  return out;
}

/** A play's hosts as a run would target them: its pattern, --limit, the implicit localhost; inventory order. */
export function listedHosts(inv: Inventory, play: Play, limit?: string, shard?: Shard): string[] {
  let hosts: string[];
  try {
    hosts = inv.selectHosts(play.hosts);
    if (hosts.length === 0 && LOCALHOST.test(play.hosts)) hosts = ['localhost'];
    if (limit) {
      const lim = new Set(inv.selectHosts(limit));
      if (limit.split(/[:,]/).includes('localhost')) lim.add('localhost');
      hosts = hosts.filter((h) => lim.has(h));
    }
  } catch {
    hosts = [];
  }
  return applyShard(hosts, shard);
}

/** The listing ansible-playbook prints for --list-hosts/--list-tasks/--list-tags (any combination). */
export function listPlaybook(pb: Playbook, inv: Inventory, playbookArg: string, flags: ListFlags): { stdout: string; warnings: string[] } {
  const only = flags.tags ?? [];
  const skip = flags.skipTags ?? [];
  const warnings: string[] = [];
  const lines: string[] = ['', `playbook: ${playbookArg}`];
  pb.plays.forEach((play, n) => {
    try {
      for (const t of unmatchedTerms(play.hosts, (a) => inv.selectHosts(a))) {
        const w = `Could not match supplied host pattern, ignoring: ${t}`;
        if (!warnings.includes(w)) warnings.push(w);
      }
    } catch {
      /* malformed: reported at load */
    }
    lines.push('', `  play #${n + 1} (${play.hosts}): ${play.name}\tTAGS: ${tagList(play.tags)}`);
    if (flags.listHosts) {
      const hosts = listedHosts(inv, play, flags.limit, flags.shard);
      lines.push(`    pattern: ['${play.hosts}']`, `    hosts (${hosts.length}):`, ...hosts.map((h) => `      ${h}`));
    }
    const tasks = listedTasks(play, only, skip);
    if (flags.listTasks) {
      lines.push('    tasks:');
      for (const { task, tags } of tasks) lines.push(`      ${taskTitle(task)}\tTAGS: ${tagList(tags)}`);
    }
    if (flags.listTags) lines.push(`      TASK TAGS: ${tagList(tasks.flatMap((t) => t.tags))}`);
  });
  return { stdout: lines.join('\n') + '\n', warnings };
}

/**
 * --start-at-task NAME must name a task a run can reach (Ansible only warns at the end and exits 0; runbook stops
 * before contacting any host, exit 1, with the closest task name).
 */
export function checkStartAt(pb: Playbook, wanted: string, only: string[], skip: string[]): void {
  const titles: string[] = [];
  for (const play of pb.plays) {
    for (const { task } of listedTasks(play, only, skip)) {
      if (startsHere(task, wanted)) return;
      if (task.name) titles.push(taskTitle(task), task.name);
    }
  }
  const hint = closest(wanted, titles);
  throw new ConfigErrors([
    new RunbookError('usage', `--start-at-task "${wanted}": no task of the playbook has that name${hint ? ` (did you mean "${hint}"?)` : ''}; only tasks loaded statically (not inside include_tasks/include_role) can be started at`),
  ]);
}
