/** ping: the host answers a command. */
import { action, str } from './types.js';

export default action('ping', 'check the host answers', { type: 'object', additionalProperties: false, properties: { data: str } }, async ({ engine }) => {
  const conn = await engine.connect();
  const r = await conn.run('echo pong');
  return { status: r.code === 0 ? 'ok' : 'failed', reason: r.code === 0 ? 'pong' : r.stderr, result: { ping: 'pong' } };
});
