/**
 * docs/compatibility.md stays true: every registered module has a row, and every row marked supported or partial
 * resolves to what runbook really has (a module or action, a keyword, a filter the templar knows, a lookup).
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { allActions, allModules, resolveAction } from '../lib/modules/registry.js';
import { BLOCK_KEYWORDS, PLAY_KEYWORDS, TASK_KEYWORDS } from '../lib/playbook/keywords.js';
import { LOOKUPS } from '../lib/vars/filters.js';
import { createTemplar } from '../lib/vars/template.js';
import { ROOT } from './helpers.js';

type Row = { name: string; status: string; notes: string };

function tables(): Map<string, Row[]> {
  const text = fs.readFileSync(path.join(ROOT, 'docs/compatibility.md'), 'utf8');
  const out = new Map<string, Row[]>();
  let section = '';
  for (const line of text.split('\n')) {
    const h = /^## (.+)$/.exec(line);
    if (h) {
      section = h[1]!.trim();
      out.set(section, []);
      continue;
    }
    const m = /^\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|\s*([^|]*?)\s*\|$/.exec(line);
    if (!m || m[1] === '---' || /^(Module|Keyword|Filter|Lookup)$/.test(m[1]!)) continue;
    out.get(section)?.push({ name: m[1]!, status: m[2]!, notes: m[3]! });
  }
  return out;
}

const t = tables();
const rows = (s: string) => t.get(s) ?? [];
const claimed = (s: string) => rows(s).filter((r) => r.status === 'supported' || r.status === 'partial');

describe('docs/compatibility.md', () => {
  it('has the four tables, every status is one of supported / partial / not yet, no duplicates', () => {
    for (const s of ['Modules', 'Keywords', 'Filters', 'Lookups']) expect(rows(s).length, s).toBeGreaterThan(3);
    for (const [s, rs] of t) {
      for (const r of rs) expect(['supported', 'partial', 'not yet'], `${s}: ${r.name}`).toContain(r.status);
      const names = rs.map((r) => r.name);
      expect(new Set(names).size, s).toBe(names.length);
    }
  });

  it('every module and action runbook registers has a row', () => {
    const names = new Set(rows('Modules').map((r) => r.name));
    const missing = [...allModules(), ...allActions()].map((d) => d.name).filter((n) => !names.has(n) && !['gather_facts'].includes(n));
    expect(missing).toEqual([]);
  });

  it('every module row marked supported or partial resolves in the registry', () => {
    const bad = claimed('Modules').filter((r) => !resolveAction(r.name)).map((r) => r.name);
    expect(bad).toEqual([]);
  });

  it('every keyword row marked supported or partial is a keyword runbook accepts', () => {
    const known = new Set([...TASK_KEYWORDS, ...BLOCK_KEYWORDS, ...PLAY_KEYWORDS, 'block', 'rescue', 'always', 'import_playbook']);
    const bad = claimed('Keywords').filter((r) => !known.has(r.name)).map((r) => r.name);
    expect(bad).toEqual([]);
  });

  it('every filter row marked supported or partial is a filter the templar knows', () => {
    const templar = createTemplar();
    const unknown = claimed('Filters').filter((r) => {
      try {
        templar.render(`{{ x | ${r.name} }}`, { x: 'a' });
        return false;
      } catch (e) {
        return /unknown filter/i.test(String((e as Error).message));
      }
    });
    expect(unknown.map((r) => r.name)).toEqual([]);
    // the check itself can fail: a made-up filter is reported as unknown
    expect(() => templar.render('{{ x | no_such_filter_xyz }}', { x: 1 })).toThrow(/unknown filter/i);
  });

  it('every lookup row marked supported or partial is a lookup runbook has', () => {
    const bad = claimed('Lookups').filter((r) => !(r.name in LOOKUPS)).map((r) => r.name);
    expect(bad).toEqual([]);
  });
});
