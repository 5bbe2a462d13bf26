/**
 * group: plan tables (pure: params + framed probe -> steps) and, over real SSH on a lab host, the law: --check
 * predicts exactly what apply changes and changes nothing; apply creates; again is a no-op; a gid change is one
 * groupmod; removal likewise. The lab host shares the machine's /etc/group: the group name is unique per run and
 * removed afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planFrom } from '../lib/modules/types.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { ExecResult } from '../lib/connection/types.js';
import { formatFrame } from '../lib/modules/common.js';
import group, { prepareGroup } from '../lib/modules/group.js';
import { Lab } from '../lib/lab/lab.js';
import { cliAsync, events, ROOT } from './helpers.js';

const frame = (kv: Record<string, string>): ExecResult => ({ code: 0, stdout: formatFrame(kv), stderr: '' });
const plan = (params: Record<string, unknown>, kv: Record<string, string>) => {
  const p = prepareGroup(params);
  const a = planFrom(group, p, frame(kv));
  expect(planFrom(group, p, frame(kv)), 'plans are pure').toEqual(a);
  return a;
};

describe('group plans', () => {
  it('missing -> groupadd with gid and -r; system only matters when creating', () => {
    const a = plan({ name: 'web', gid: 990, system: true }, { entry: '', by_gid: '' });
    expect(a.steps).toEqual([{ kind: 'run', script: 'groupadd -g 990 -r -- web', describe: 'groupadd web' }]);
    expect(a.reason).toBe('create system group web with gid 990');
    expect(plan({ name: 'web', system: true }, { entry: 'web:x:1001:' }).steps).toEqual([]);
  });
  it('other gid -> groupmod -g; same gid -> no-op saying why', () => {
    expect(plan({ name: 'web', gid: 990 }, { entry: 'web:x:1001:', by_gid: '' }).steps).toEqual([{ kind: 'run', script: 'groupmod -g 990 -- web', describe: 'groupmod web' }]);
    const same = plan({ name: 'web', gid: 990 }, { entry: 'web:x:990:a,b', by_gid: 'web:x:990:a,b' });
    expect(same.steps).toEqual([]);
    expect(same.reason).toBe('group web exists with gid 990');
  });
  it('a gid another group has fails before any change, unless non_unique (-o)', () => {
    expect(plan({ name: 'web', gid: 100 }, { entry: '', by_gid: 'users:x:100:' }).fail?.message).toMatch(/GID '100' already exists \(group users\)/);
    expect(plan({ name: 'web', gid: 100, non_unique: true }, { entry: '', by_gid: 'users:x:100:' }).steps).toEqual([{ kind: 'run', script: 'groupadd -g 100 -o -- web', describe: 'groupadd web' }]);
  });
  it('absent: groupdel when there, no-op when not', () => {
    expect(plan({ name: 'web', state: 'absent' }, { entry: 'web:x:990:' }).steps).toEqual([{ kind: 'run', script: 'groupdel -- web', describe: 'groupdel web' }]);
    expect(plan({ name: 'web', state: 'absent' }, { entry: '' }).reason).toBe('group web does not exist');
  });
  it('bad names and gids are refused', () => {
    expect(() => prepareGroup({ name: 'a b' })).toThrow(/not a valid group name/);
    expect(() => prepareGroup({ name: 'a', gid: -1 })).toThrow(/non-negative integer/);
    expect(prepareGroup({ name: 'a', gid: '990', system: 'yes', non_unique: 'no' })).toEqual({ name: 'a', state: 'present', gid: 990, system: true, nonUnique: false });
  });
});

describe('group over SSH', () => {
  let lab: Lab;
  let inv: string;
  const name = `rbkg${process.pid % 100000}`;
  const gidFree = (g: number) => spawnSync('getent', ['group', String(g)]).status === 2;
  let gid = 0;
  let gid2 = 0;
  beforeAll(async () => {
    for (let g = 880; g < 990 && !gid2; g++) if (gidFree(g)) (gid ? (gid2 = g) : (gid = g));
    expect(gid2, 'two free gids below 990').toBeGreaterThan(0);
    lab = await Lab.create({ name: 'modgrp', hosts: 1 });
    inv = path.join(lab.dir, 'modgrp-inventory.yml');
    fs.writeFileSync(inv, lab.inventoryYaml());
  }, 300_000);
  afterAll(async () => {
    await lab?.destroy();
    if (spawnSync('getent', ['group', name]).status === 0) spawnSync('groupdel', [name]);
  });
  const changedOf = (stdout: string) => events(stdout).filter((e) => e.event === 'task:result' && e.status === 'changed').map((e) => e.task as string);
  const run = async (vars: Record<string, string | number>, check = false) => {
    const extra = Object.entries(vars).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    const r = await cliAsync(['apply', path.join(ROOT, 'test/fixtures/modargs/group.yml'), '-i', inv, '--format', 'json', ...extra, ...(check ? ['--check'] : [])], { timeoutMs: 300_000 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    return changedOf(r.stdout);
  };
  const observe = async () => (await lab.exec(lab.hosts[0]!, ['sh', '-c', `getent group ${name}; true`])).stdout;
  const law = async (vars: Record<string, string | number>) => {
    const before = await observe();
    expect(await run(vars, true)).toEqual(['A system group with a fixed gid']);
    expect(await observe(), '--check changes nothing').toBe(before);
    expect(await run(vars)).toEqual(['A system group with a fixed gid']);
    expect(await run(vars), 'again is a no-op').toEqual([]);
    expect(await run(vars, true)).toEqual([]);
  };

  it('create, change the gid, remove: each predicted by --check, applied, then a no-op', async () => {
    await law({ test_group: name, test_gid: gid, group_state: 'present' });
    expect((await observe()).trim()).toBe(`${name}:x:${gid}:`);
    await law({ test_group: name, test_gid: gid2, group_state: 'present' });
    expect((await observe()).trim()).toBe(`${name}:x:${gid2}:`);
    await law({ test_group: name, test_gid: gid2, group_state: 'absent' });
    expect((await observe()).trim()).toBe('');
  }, 900_000);
});
