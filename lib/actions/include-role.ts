/** include_role: load a role when reached and run its tasks for this host; its handlers join the play's. */
import { action, str } from './types.js';

export default action('include_role', 'run a role here', {
  type: 'object', additionalProperties: false, required: ['name'],
  properties: { name: str, tasks_from: str, defaults_from: str, vars_from: str, handlers_from: str, public: { type: 'boolean' }, apply: { type: 'object' } },
}, async ({ task, args, engine }) => {
  const { scope, tasks } = engine.loadRole(String(args['name']), task.pos);
  await engine.runIncluded(tasks, { role: scope, vars: task.vars });
  return { status: 'ok', reason: `included ${tasks.length} tasks`, result: {} };
});
