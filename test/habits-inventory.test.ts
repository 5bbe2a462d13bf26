/**
 * Large inventories load right: 30,000 hosts in YAML and 33,000 in INI (bench/inventory-scale.js's generators, the
 * same files the benchmark times), every host in its groups with its vars, patterns selecting the right ones; and the
 * linear duplicate-key check still reports duplicates where the YAML library's own check did.
 * (No timing is asserted: bench/inventory-scale.js measures the time per host.)
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadInventory } from '../lib/inventory/index.js';
import { ConfigErrors } from '../lib/errors.js';
// @ts-expect-error: a plain JS module of the benchmark
import { iniInventory, yamlInventory } from '../bench/inventory-scale.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rb-habits-inv-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const N = 30_000;
const name = (i: number) => `node${String(i).padStart(6, '0')}.dc${i % 7}.example.com`;

describe('a 30,000-host inventory', () => {
  for (const [fmt, gen, ext] of [['yaml', yamlInventory, 'yml'], ['ini', iniInventory, 'ini']] as const) {
    it(`${fmt}: every host, its groups and vars, patterns`, () => {
      const file = path.join(dir, `big.${ext}`);
      fs.writeFileSync(file, (gen as (n: number) => string)(N));
      const inv = loadInventory(file);
      const extra = fmt === 'ini' ? N / 10 : 0; // the INI file adds a range of extra[0001:3000].example.org
      expect(inv.hosts.size).toBe(N + extra);
      // inventory order is file order: group by group
      const hosts = [...inv.hosts.keys()];
      expect(hosts.slice(0, 2)).toEqual([name(0), name(10)]);
      for (const i of [0, 1, 7, 4321, 29_999]) {
        const h = name(i);
        const g = `grp${i % 10}`;
        expect(inv.hosts.get(h)?.groups).toEqual(['all', i % 10 % 2 === 0 ? 'east' : 'west', g]);
        expect(inv.hostVars(h)).toMatchObject({ ansible_user: 'deploy', tier: `t${i % 10}`, ansible_host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, rack: `r${i % 40}` });
      }
      expect(inv.selectHosts('grp3')).toHaveLength(N / 10);
      expect(inv.selectHosts('east')).toHaveLength(N / 2);
      const sel = inv.selectHosts('east:&grp2:!node00000*');
      expect(sel).toHaveLength(N / 10 - 1);
      expect(sel[0]).toBe(name(12));
      expect(inv.selectHosts('all')).toHaveLength(N + extra);
      expect(inv.groups.get("ungrouped")!.hosts).toEqual([]);
      if (fmt === 'ini') expect(inv.groups.get('range')!.hosts).toHaveLength(extra);
    });
  }

  it('hosts first listed ungrouped, then in a group, leave ungrouped; the others stay, in order', () => {
    const file = path.join(dir, 'ungrouped.ini');
    const lines = Array.from({ length: 5000 }, (_, i) => `h${i}`);
    fs.writeFileSync(file, `${lines.join('\n')}\n[g]\n${lines.filter((_, i) => i % 2 === 0).join('\n')}\n`);
    const inv = loadInventory(file);
    expect(inv.groups.get('ungrouped')!.hosts).toEqual(lines.filter((_, i) => i % 2 === 1));
    expect(inv.groups.get('g')!.hosts).toHaveLength(2500);
    expect(inv.hosts.get('h1')!.groups).toEqual(['all', 'ungrouped']);
    expect(inv.hosts.get('h2')!.groups).toEqual(['all', 'g']);
  });

  it('a duplicate host key in a big YAML mapping is still an error at its line', () => {
    const file = path.join(dir, 'dup.yml');
    const hosts = Array.from({ length: 3000 }, (_, i) => `    h${i}:`);
    hosts.push('    h17:');
    fs.writeFileSync(file, `all:\n  hosts:\n${hosts.join('\n')}\n  vars: {a: 1, b: 2, a: 3}\n`);
    try {
      loadInventory(file);
      expect.unreachable('a duplicate key must fail');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigErrors);
      const msgs = (e as ConfigErrors).errors.map((x) => `${x.pos?.line}:${x.pos?.col} ${x.message}`);
      expect(msgs).toEqual([`3003:5 duplicate key "h17"`, `3004:22 duplicate key "a"`]);
    }
  });
});
