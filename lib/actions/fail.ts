/** fail: fail the task with a message. */
import { action, anyValue } from './types.js';

export default action('fail', 'fail the task with a message', {
  type: 'object', additionalProperties: false, properties: { msg: anyValue },
}, async ({ args }) => ({ status: 'failed', reason: String(args['msg'] ?? 'Failed as requested from task'), result: {} }));
