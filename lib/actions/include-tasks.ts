/** include_tasks: run the tasks of another file for this host, loaded when reached (or pre-loaded by the loader). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunbookError } from '../errors.js';
import { action, str } from './types.js';

export default action('include_tasks', 'run the tasks of another file (loaded when reached)', {
  type: 'object', additionalProperties: false,
  properties: { _raw_params: str, file: str, apply: { type: 'object' } },
}, async ({ task, args, engine }) => {
  const items = task.include?.tasks ?? (() => {
    const f = String(args['file'] ?? args['_raw_params']);
    const base = engine.role()?.path;
    const cands = [path.resolve(path.dirname(task.file), f), ...(base ? [path.join(base, 'tasks', f)] : [])];
    const file = cands.find((c) => fs.existsSync(c));
    if (!file) throw new RunbookError('missing_file', `tasks file not found: ${f}`, { pos: task.pos });
    return engine.loadTasks(file);
  })();
  await engine.runIncluded(items, { vars: task.vars });
  return { status: 'ok', reason: `included ${items.length} tasks`, result: {} };
}, '_raw_params');
