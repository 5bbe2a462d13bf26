/** wait_for_connection: drop the connection and retry until the host answers again, within `timeout`. */
import { action } from './types.js';

export default action('wait_for_connection', 'wait until the host answers again', {
  type: 'object', additionalProperties: false,
  properties: { timeout: { type: 'integer' }, delay: { type: 'integer' }, sleep: { type: 'integer' }, connect_timeout: { type: 'integer' } },
}, async ({ args, engine }) => {
  const timeout = Number(args['timeout'] ?? 600) * 1000;
  const delay = Number(args['delay'] ?? 0) * 1000;
  const sleep = Number(args['sleep'] ?? 1) * 1000;
  await new Promise((r) => setTimeout(r, delay));
  const deadline = Date.now() + timeout;
  for (let i = 0; ; i++) {
    await engine.resetConnection();
    try {
      const c = await engine.connect();
      const r = await c.run('true');
      if (r.code === 0) return { status: 'ok', reason: `connected after ${i + 1} attempts`, result: { elapsed: Math.round((timeout - (deadline - Date.now())) / 1000) } };
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) return { status: 'failed', reason: `timed out waiting for connection after ${timeout / 1000}s`, result: {} };
    await new Promise((r) => setTimeout(r, sleep));
  }
});
