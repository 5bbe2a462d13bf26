/** setup / gather_facts: facts in one round trip (facts.ts); they are host data, final (lib/vars/final.ts). */
import { markFinal } from '../vars/final.js';
import { FACTS_SCRIPT, factVars, parseFacts } from './facts.js';
import { action, anyValue } from './types.js';

const setup = action('setup', 'gather facts (one round trip)', {
  type: 'object', properties: { gather_subset: anyValue, filter: anyValue, gather_timeout: { type: 'integer' } },
}, async ({ engine }) => {
  const conn = await engine.connect();
  const r = await conn.run(FACTS_SCRIPT);
  const facts = markFinal(parseFacts(r.stdout));
  engine.setGathered(markFinal(factVars(facts)));
  return { status: 'ok', reason: 'facts gathered', result: { ansible_facts: facts } };
});
setup.aliases.push('gather_facts', 'ansible.builtin.gather_facts');
export default setup;
