/** assert: fail unless every condition holds (conditions are evaluated as written, not pre-rendered). */
import { action, anyValue } from './types.js';

export default action('assert', 'fail unless every condition holds', {
  type: 'object', additionalProperties: false, required: ['that'],
  properties: {
    that: { anyOf: [{ type: 'string' }, { type: 'boolean' }, { type: 'array' }] },
    msg: anyValue, fail_msg: anyValue, success_msg: anyValue, quiet: { type: 'boolean' },
  },
}, async ({ task, args, vars, engine }) => {
  const that = Array.isArray(task.args['that']) ? task.args['that'] : [task.args['that']];
  for (const c of that) {
    if (!engine.evalBool(c, vars)) {
      const msg = args['fail_msg'] ?? args['msg'];
      return { status: 'failed', reason: msg !== undefined ? String(msg) : `assertion failed: ${String(c)}`, result: { assertion: c, evaluated_to: false } };
    }
  }
  return { status: 'ok', reason: args['success_msg'] !== undefined ? String(args['success_msg']) : 'all assertions passed', result: {} };
});
