/**
 * A task's loop items on one host: `loop:` renders to a list; `with_<lookup>:` renders its terms and hands them to
 * the lookup (lib/vars/loop-lookups.ts), with Ansible's search path for files (the role, the task's directory, the
 * playbook's directory) and the subdirectory its action implies (template -> templates/, include_vars -> vars/).
 */
import * as path from 'node:path';
import { RunbookError } from '../errors.js';
import type { RoleScope, TaskNode } from '../playbook/model.js';
import { isMap } from '../playbook/loader.js';
import { loopItems, subdirFor } from '../vars/loop-lookups.js';
import { TemplateError } from '../vars/template.js';

type Render = (v: unknown, ctx: Record<string, unknown>) => unknown;

export function taskLoopItems(task: TaskNode, role: RoleScope | undefined, ctx: Record<string, unknown>, render: Render): unknown[] {
  const loop = task.loop!;
  if (loop.kind === 'loop') {
    const v = render(loop.terms, ctx);
    if (!Array.isArray(v)) {
      throw new RunbookError('bad_argument', `loop needs a list, got ${v === null ? 'null' : typeof v}${typeof v === 'string' ? ` "${v.slice(0, 60)}"` : ''} (use "| dict2items" for a dictionary)`, { pos: task.pos });
    }
    return v;
  }
  // Ansible renders with_first_found's candidates one by one and skips those with an undefined variable
  const terms = loop.lookup === 'first_found' || loop.lookup === 'ansible.builtin.first_found' ? lenient(loop.terms, ctx, render) : render(loop.terms, ctx);
  const searchPath = [...new Set([...(role ? [role.path] : []), path.dirname(task.file)])];
  try {
    return loopItems(loop.lookup, terms, ctx, { searchPath, subdir: subdirFor(task.action) });
  } catch (e) {
    if (e instanceof RunbookError || e instanceof TemplateError) throw e;
    throw new RunbookError('bad_argument', `with_${loop.lookup}: ${(e as Error).message}`, { pos: loop.pos });
  }
}

function lenient(v: unknown, ctx: Record<string, unknown>, render: Render): unknown {
  const keep = (x: unknown): unknown[] => {
    try {
      return [lenient(x, ctx, render)];
    } catch (e) {
      if (e instanceof TemplateError && e.code === 'undefined_variable') return [];
      throw e;
    }
  };
  if (Array.isArray(v)) return v.flatMap(keep);
  if (isMap(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === 'files' && Array.isArray(x) ? x.flatMap(keep) : render(x, ctx)]));
  return render(v, ctx);
}
