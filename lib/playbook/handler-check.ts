/**
 * Handlers, checked at load (issue 15): a `notify` that no handler of its play can answer (no handler name, no
 * `role : name`, no `listen` topic, in the play's handlers or its roles') is an error with the file:line of the
 * notify and a did-you-mean; a warning instead when handlers may still come from somewhere the load cannot see
 * (an include_role, which adds its role's handlers when it runs, or a role whose handlers are not in the play).
 * Handlers with the same name: Ansible notifies only the last one loaded (the executor does the same), so each
 * shadowed one is a warning naming both places. A templated notify (`{{ }}`) is left to the run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunbookError, type SourcePos } from '../errors.js';
import type { Item, Play, Playbook, TaskNode } from './model.js';
import { closest } from './keywords.js';

export interface HandlerCheck {
  errors: RunbookError[];
  warnings: RunbookError[];
}

const fileLines = new Map<string, string[] | undefined>();
function linesOf(file: string): string[] | undefined {
  if (!fileLines.has(file)) {
    try {
      fileLines.set(file, fs.readFileSync(file, 'utf8').split('\n'));
    } catch {
      fileLines.set(file, undefined);
    }
  }
  return fileLines.get(file);
}

/**
 * Where the task's notify names `name`: the list item or the value on the notify line, else the `notify:` key,
 * else the task. Found in the task's own lines of its file (those indented under the task's first key).
 */
export function notifyPos(t: TaskNode, name: string): SourcePos {
  const lines = linesOf(t.pos.file);
  if (!lines || t.pos.line < 1) return t.pos;
  const start = t.pos.line - 1;
  const first = lines[start] ?? '';
  // the task's keys are indented like its first key (after the "- " of a list item)
  const keyIndent = /^(\s*(?:-\s+)?)/.exec(first)![1]!.length;
  let keyLine = -1;
  for (let i = start; i < lines.length && i < start + 500; i++) {
    const l = lines[i]!;
    if (i > start && l.trim() && !l.trim().startsWith('#')) {
      const ind = /^\s*/.exec(l)![0].length;
      if (ind < keyIndent) break;
    }
    if (keyLine < 0) {
      const m = /^(\s*(?:-\s+)?)notify\s*:/.exec(l);
      if (m && m[1]!.length === keyIndent) {
        keyLine = i;
        const at = l.indexOf(name, m[0].length);
        if (at >= 0) return { file: t.pos.file, line: i + 1, col: at + 1 };
      }
    } else {
      const ind = /^\s*/.exec(l)![0].length;
      if (l.trim() && ind <= keyIndent && !l.trimStart().startsWith('-')) break;
      const at = l.indexOf(name);
      if (at >= 0) return { file: t.pos.file, line: i + 1, col: at + 1 };
    }
  }
  if (keyLine >= 0) return { file: t.pos.file, line: keyLine + 1, col: keyIndent + 1 };
  return t.pos;
}

function walk(items: Item[], visit: (t: TaskNode) => void, depth = 0): void {
  if (depth > 200) return;
  for (const i of items) {
    if (i.kind === 'block') {
      for (const sub of [i.block, i.rescue, i.always]) walk(sub, visit, depth + 1);
      continue;
    }
    visit(i);
    if (i.include) walk(i.include.tasks, visit, depth + 1);
  }
}

function roleDirs(items: Item[], out: Set<string>, depth = 0): void {
  if (depth > 200) return;
  for (const i of items) {
    if (i.role) out.add(i.role.path);
    if (i.kind === 'block') for (const sub of [i.block, i.rescue, i.always]) roleDirs(sub, out, depth + 1);
    else if (i.include) roleDirs(i.include.tasks, out, depth + 1);
  }
}

const where = (p: SourcePos) => `${p.file}:${p.line}`;

function checkPlay(play: Play, out: HandlerCheck): void {
  const answers = new Set<string>();
  for (const h of play.handlers) {
    if (h.name) {
      answers.add(h.name);
      if (h.role) answers.add(`${h.role.name} : ${h.name}`);
    }
    for (const l of h.listen) answers.add(l);
  }
  // handlers the load cannot see: include_role adds its role's handlers when it runs; a role in use whose
  // handlers are not among the play's (import_role) may still hold the name
  const dynamic: string[] = [];
  const tasks: TaskNode[] = [];
  for (const sec of play.sections) walk(sec, (t) => tasks.push(t));
  walk(play.handlers, (t) => tasks.push(t));
  for (const t of tasks) if (t.action === 'include_role') dynamic.push(`the include_role at ${where(t.pos)} adds its role's handlers when it runs`);
  const dirs = new Set<string>();
  for (const sec of play.sections) roleDirs(sec, dirs);
  const withHandlers = new Set(play.handlers.map((h) => h.role?.path).filter(Boolean));
  for (const d of dirs) {
    if (withHandlers.has(d)) continue;
    if (['main.yml', 'main.yaml', 'main'].some((f) => fs.existsSync(path.join(d, 'handlers', f)))) dynamic.push(`the handlers of role ${path.basename(d)} are not among the play's`);
  }
  const seen = new Set<string>();
  for (const t of tasks) {
    for (const n of t.notify) {
      if (n.includes('{{') || n.includes('{%') || answers.has(n)) continue;
      const pos = notifyPos(t, n);
      const key = `${where(pos)}:${pos.col}:${n}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const hint = closest(n, answers);
      const msg = `notify "${n}" matches no handler name or listen topic of play "${play.name}"${hint ? ` (did you mean "${hint}"?)` : answers.size ? '' : ' (the play has no handlers)'}`;
      if (dynamic.length) out.warnings.push(new RunbookError('schema', `${msg}; it may still be defined at run time: ${dynamic[0]}`, { pos }));
      else out.errors.push(new RunbookError('schema', msg, { pos }));
    }
  }
  // same-name handlers: the last one loaded is the one notified
  const byName = new Map<string, TaskNode[]>();
  for (const h of play.handlers) {
    if (!h.name) continue;
    const l = byName.get(h.name) ?? [];
    // the same handler loaded twice (a role used twice) is one definition
    if (!l.some((x) => where(x.pos) === where(h.pos))) l.push(h);
    byName.set(h.name, l);
  }
  for (const [name, hs] of byName) {
    if (hs.length < 2) continue;
    const last = hs[hs.length - 1]!;
    for (const h of hs.slice(0, -1)) {
      out.warnings.push(
        new RunbookError('schema', `handler "${name}" at ${where(h.pos)} is shadowed by the handler of the same name at ${where(last.pos)}: only the last one loaded runs when "${name}" is notified (its listen topics still work)`, { pos: h.pos }),
      );
    }
  }
}

/** Every handler problem of the playbook: returns the errors (what is certain), adds the rest to `warnings`. */
export function checkHandlers(pb: Playbook, warnings: RunbookError[] = []): RunbookError[] {
  const out: HandlerCheck = { errors: [], warnings };
  for (const play of pb.plays) checkPlay(play, out);
  return out.errors;
}
