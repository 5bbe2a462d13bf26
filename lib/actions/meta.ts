/** meta: flush_handlers, end_play, end_host, noop (the others are accepted and do nothing). */
import { action } from './types.js';

export default action('meta', 'flush_handlers, end_play, end_host, noop', {
  type: 'object', additionalProperties: false, required: ['_raw_params'],
  properties: { _raw_params: { enum: ['flush_handlers', 'end_play', 'end_host', 'noop', 'clear_facts', 'refresh_inventory', 'clear_host_errors', 'reset_connection', 'end_batch'] } },
}, async ({ args, engine }) => {
  const what = String(args['_raw_params']);
  if (what === 'flush_handlers') await engine.flushHandlers();
  else if (what === 'end_play') await engine.endPlay();
  else if (what === 'end_host') engine.endHost();
  return { status: 'ok', reason: `meta: ${what}`, result: {} };
}, '_raw_params');
