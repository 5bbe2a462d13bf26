/** setup / gather_facts: facts in one round trip (facts.ts); they are host data, final (lib/vars/final.ts). */
import { markFinal } from '../vars/final.js';
import { FACTS_SCRIPT, factVars, parseFacts } from './facts.js';
import { action, anyValue } from './types.js';

/** fnmatch-style pattern (`ansible_eth*`, `*_mb`) as a RegExp. */
function globRe(p: string): RegExp {
  return new RegExp('^' + p.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
}

/** Ansible's `filter:` keeps the facts whose ansible_-prefixed name matches one of the patterns. */
export function filterFacts(facts: Record<string, unknown>, filter: unknown): Record<string, unknown> {
  const pats = (Array.isArray(filter) ? filter : typeof filter === 'string' ? filter.split(',') : []).map((p) => String(p).trim()).filter(Boolean);
  if (!pats.length) return facts;
  const res = pats.map(globRe);
  return Object.fromEntries(Object.entries(facts).filter(([k]) => res.some((r) => r.test(`ansible_${k}`) || r.test(k))));
}

const setup = action('setup', 'gather facts (one round trip)', {
  type: 'object', properties: { gather_subset: anyValue, filter: anyValue, gather_timeout: { type: 'integer' } },
}, async ({ engine, args }) => {
  const conn = await engine.connect();
  const r = await conn.run(FACTS_SCRIPT);
  const facts = markFinal(filterFacts(parseFacts(r.stdout), args["filter"]));
  engine.setGathered(markFinal(factVars(facts)));
  return { status: 'ok', reason: 'facts gathered', result: { ansible_facts: facts } };
});
setup.aliases.push('gather_facts', 'ansible.builtin.gather_facts');
export default setup;
