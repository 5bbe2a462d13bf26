/** set_fact: host variables for the rest of the run (rendered once, here: final from now on, lib/vars/final.ts). */
import { action } from './types.js';

export default action('set_fact', 'set host variables for the rest of the run', {
  type: 'object', properties: { cacheable: { type: 'boolean' } },
}, async ({ args, engine }) => {
  const { cacheable, ...facts } = args;
  void cacheable;
  engine.setFacts(facts);
  return { status: 'ok', reason: `set ${Object.keys(facts).join(', ')}`, result: { ansible_facts: facts } };
});
