/**
 * lib/playbook/validate.ts compiles argument schemas with `validateSchema: false` (checking each against the
 * draft-2020 meta-schema at run time cost more than the schemas themselves). The check moves here: every schema of
 * every module and action the registry knows is a valid draft-2020 schema, and compiles in strict mode apart from
 * the keywords runbook's schemas use on purpose.
 */
import { describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { allActions, allModules } from '../lib/modules/registry.js';
import { validateArgs } from '../lib/playbook/validate.js';

const defs = [...allModules(), ...allActions()].map((d) => [d.name, d.schema] as const);

describe('argument schemas', () => {
  it('the registry has modules and actions to check', () => {
    expect(allModules().length).toBeGreaterThan(10);
    expect(allActions().length).toBeGreaterThan(3);
  });

  const meta = new Ajv2020({ strict: false });
  it.each(defs)('%s: valid against the draft-2020 meta-schema', (_name, schema) => {
    const ok = meta.validateSchema(schema);
    expect(meta.errors ?? [], JSON.stringify(meta.errors)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('a schema that is not valid would have been caught by this test', () => {
    expect(meta.validateSchema({ type: 'object', properties: { x: { type: 'strnig' } } })).toBe(false);
    expect(meta.validateSchema({ type: 'object', required: 'x' })).toBe(false);
  });

  it('validation still reports errors with validateSchema off (the runtime setting)', () => {
    const copy = allModules().find((m) => m.name === 'copy')!;
    const errs = validateArgs(copy.schema, { dest: '/x', content: 'a', bogus: 1 }, 'copy');
    expect(errs.map((e) => e.code)).toEqual(['unknown_argument']);
    expect(validateArgs(copy.schema, { dest: '/x', content: 'a' }, 'copy')).toEqual([]);
  });
});
