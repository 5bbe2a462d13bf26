/** include_vars: load variables from a file (beside the task's file, the role's vars/, or the playbook's dir). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunbookError } from '../errors.js';
import { action, str } from './types.js';

export default action('include_vars', 'load variables from a file', {
  type: 'object', properties: { _raw_params: str, file: str, name: str },
}, async ({ task, args, vars, engine }) => {
  const f = String(args['file'] ?? args['_raw_params']);
  const role = engine.role();
  const cands = [path.resolve(path.dirname(task.file), f), ...(role ? [path.join(role.path, 'vars', f)] : []), path.resolve(String(vars['playbook_dir'] ?? '.'), f)];
  const file = cands.find((c) => fs.existsSync(c));
  if (!file) throw new RunbookError('missing_file', `vars file not found: ${f}`, { pos: task.pos });
  const loaded = engine.loadVars(file);
  engine.setIncludeVars(loaded, args['name'] ? String(args['name']) : undefined);
  return { status: 'ok', reason: `loaded ${file}`, result: { ansible_facts: loaded } };
}, '_raw_params');
