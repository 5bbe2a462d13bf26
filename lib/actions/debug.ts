/** debug: print a message, or a variable (as JSON). */
import { action, anyValue, str } from './types.js';

export default action('debug', 'print a message or a variable', {
  type: 'object', additionalProperties: false,
  properties: { msg: anyValue, var: str, verbosity: { type: 'integer' } },
}, async ({ args, vars, engine }) => {
  let output: string;
  if (args['var'] !== undefined) {
    const name = String(args['var']);
    const v = engine.evaluate(name, vars);
    output = `${name}: ${JSON.stringify(v, null, 2)}`;
  } else output = typeof args['msg'] === 'string' ? args['msg'] : JSON.stringify(args['msg'] ?? 'Hello world!', null, 2);
  return { status: 'ok', reason: 'debug', output, result: { msg: args['msg'] } };
});
