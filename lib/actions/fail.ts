/** fail: fail the task with a message. */
import { action, anyValue } from './types.js';

export default action('fail', 'fail the task with a message', {
  type: 'object', additionalProperties: false, properties: { msg: anyValue },
}, async ({ args }) => {
  // a msg that is a mapping or list (willshersystems.sshd re-raises `{{ ansible_failed_result }}`) is shown as JSON,
  // as Ansible prints it, never as "[object Object]"
  const msg = args['msg'] ?? 'Failed as requested from task';
  return { status: 'failed', reason: typeof msg === 'string' ? msg : JSON.stringify(msg), result: {} };
});
