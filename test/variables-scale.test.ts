/**
 * No work per host-task that grows with the number of hosts (issue 16, "no O(hosts²) work per task"). Building a
 * host's variables (RunVariables.varsFor) must not walk the inventory: `hostvars` is one object per run whose
 * entries are checked and rebuilt only when read, and the list of active play hosts is recomputed only after some
 * host failed, became unreachable or ended. Counted, not timed: RunVariables.work counts every hostvars check and
 * build and every scan of the play's hosts.
 *
 * The first part drives varsFor directly (pure: no host is contacted); the second runs a real playbook on local
 * hosts and compares the counters at two inventory sizes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Executor, type ExecOptions } from '../lib/executor/executor.js';
import { EventBus } from '../lib/executor/events.js';
import { loadInventory } from '../lib/inventory/index.js';
import { loadPlaybookFile } from '../lib/playbook/loader.js';
import type { Play, TaskNode } from '../lib/playbook/model.js';
import type { Scope } from '../lib/executor/host-state.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rb-varscale-'));
  dirs.push(d);
  return d;
}

function inventoryFile(d: string, n: number): string {
  const f = path.join(d, `inv-${n}.yml`);
  const lines = ['all:', '  vars:', '    runbook_lock: false', '    ansible_connection: local', '  children:', '    web:', '      hosts:'];
  for (let i = 0; i < n; i++) lines.push(`        h${i}:`, `          rack: r${i % 3}`);
  fs.writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

const OPTS: ExecOptions = { check: true, diff: false, tags: [], skipTags: [], extraVars: {}, forks: 5 };
const SCOPE: Scope = { when: [], tags: [], blockVars: [], environment: [] };
const TASK = { kind: 'task', action: 'debug', actionAs: 'debug', args: {}, loopVar: 'item', notify: [], listen: [], when: [], tags: [], vars: {}, pos: { file: 'x', line: 1, col: 1 }, file: 'x' } as unknown as TaskNode;

/** an Executor whose protected parts the test drives by hand: one play over every host, tasks simulated */
class Driven extends Executor {
  constructor(n: number) {
    const d = tmp();
    super({ file: path.join(d, 'pb.yml'), dir: d, plays: [] }, loadInventory(inventoryFile(d, n)), OPTS, new EventBus());
    this.play = { name: 'p', hosts: 'all', vars: {}, varsFiles: [], sections: [], handlers: [], gatherFacts: false, when: [], tags: [] } as unknown as Play;
    this.playHosts = this.selectPlayHosts('all');
  }
  get names(): string[] {
    return this.playHosts;
  }
  vars(h: string): Record<string, unknown> {
    return this.varsFor(h, TASK, SCOPE);
  }
  state(h: string) {
    return this.host(h);
  }
}

/** one simulated task: every host's variables are built, then every host registers a result */
function simulateTask(x: Driven, k: number, read?: (ctx: Record<string, unknown>, h: string) => void): void {
  for (const h of x.names) {
    const ctx = x.vars(h);
    read?.(ctx, h);
    x.state(h).facts[`r${k}`] = { stdout: `${h}-${k}` };
  }
}

describe('varsFor does no work that grows with the hosts', () => {
  for (const n of [10, 100]) {
    it(`${n} hosts: building every host's variables for a task walks no host list (hostvars, active hosts)`, () => {
      const x = new Driven(n);
      simulateTask(x, 0); // the first task builds the shared parts once
      expect(x.work.hostvarsViews).toBe(1);
      expect(x.work.activeScans).toBe(1);
      const before = { ...x.work };
      for (let k = 1; k <= 5; k++) simulateTask(x, k);
      // 5 tasks x n host-tasks, each writing a fact: no hostvars entry looked at, no scan of the play's hosts
      expect(x.work.hostvarsChecks - before.hostvarsChecks).toBe(0);
      expect(x.work.hostvarsBuilds - before.hostvarsBuilds).toBe(0);
      expect(x.work.activeScans - before.activeScans).toBe(0);
      expect(x.work.hostvarsViews).toBe(1);
    });

    it(`${n} hosts: reading one host's hostvars entry costs one check, and one rebuild only after that host changed`, () => {
      const x = new Driven(n);
      const other = (h: string) => x.names[(x.names.indexOf(h) + 1) % n]!;
      simulateTask(x, 0);
      const before = { ...x.work };
      const seen: unknown[] = [];
      // each host reads its neighbour's result of the previous task, as `hostvars[other].r0.stdout` would
      simulateTask(x, 1, (ctx, h) => seen.push(((ctx['hostvars'] as Record<string, Record<string, { stdout: string }>>)[other(h)]!['r0'] as { stdout: string }).stdout));
      expect(seen).toEqual(x.names.map((h) => `${other(h)}-0`));
      expect(x.work.hostvarsChecks - before.hostvarsChecks).toBe(n);
      // every neighbour had written r0 since its entry was last built (never): n builds, once each
      expect(x.work.hostvarsBuilds - before.hostvarsBuilds).toBe(n);
      // read twice with no write in between: checked, not rebuilt
      const hv = x.vars(x.names[0]!)['hostvars'] as Record<string, Record<string, unknown>>;
      const b2 = x.work.hostvarsBuilds;
      const e1 = hv[x.names[1]!];
      const e2 = hv[x.names[1]!];
      expect(e1).toBe(e2);
      expect(x.work.hostvarsBuilds - b2).toBe(1); // h1 wrote r1 after its entry was built
      expect((e2 as Record<string, unknown>)['r1']).toEqual({ stdout: `${x.names[1]}-1` });
      expect(Object.keys(hv)).toEqual(x.names);
    });
  }

  it('the active play hosts follow failures, unreachable hosts and a recovered host, recomputed only then', () => {
    const x = new Driven(6);
    const active = () => x.vars('h0')['ansible_play_hosts'] as string[];
    expect(active()).toEqual(['h0', 'h1', 'h2', 'h3', 'h4', 'h5']);
    const s0 = x.work.activeScans;
    expect(active()).toEqual(['h0', 'h1', 'h2', 'h3', 'h4', 'h5']);
    expect(x.work.activeScans).toBe(s0);
    x.state('h2').failed = true;
    x.state('h4').unreachable = true;
    expect(active()).toEqual(['h0', 'h1', 'h3', 'h5']);
    expect(x.vars('h1')['ansible_play_batch']).toEqual(['h0', 'h1', 'h3', 'h5']);
    expect(x.vars('h1')['ansible_play_hosts_all']).toEqual(['h0', 'h1', 'h2', 'h3', 'h4', 'h5']);
    expect(x.work.activeScans).toBe(s0 + 1);
    x.state('h2').failed = false; // rescued
    x.state('h5').ended = true; // meta: end_host
    expect(active()).toEqual(['h0', 'h1', 'h2', 'h3']);
    // a write of the same value changes nothing
    x.state('h2').failed = false;
    const s1 = x.work.activeScans;
    active();
    expect(x.work.activeScans).toBe(s1);
  });
});

describe('a real run: the work per host-task does not grow with the inventory', () => {
  const run = async (n: number) => {
    const d = tmp();
    const inv = inventoryFile(d, n);
    const pb = path.join(d, 'play.yml');
    fs.writeFileSync(
      pb,
      JSON.stringify([
        {
          hosts: 'web',
          gather_facts: false,
          tasks: [
            { 'ansible.builtin.set_fact': { x: '{{ inventory_hostname }}-x' } },
            { 'ansible.builtin.command': { cmd: 'echo {{ x }}' }, register: 'r', changed_when: false },
            { 'ansible.builtin.set_fact': { y: '{{ r.stdout }}-{{ ansible_play_hosts | length }}' } },
            { 'ansible.builtin.assert': { that: ["y == inventory_hostname + '-x-' + (ansible_play_hosts | length | string)"] } },
          ],
        },
      ]),
    );
    const { playbook, loader } = loadPlaybookFile(pb);
    const ex = new Executor(playbook, loadInventory(inv), { ...OPTS, check: false, loader }, new EventBus());
    const r = await ex.run();
    return { code: r.exitCode, ok: r.recap.reduce((a, h) => a + h.ok, 0), work: ex.work };
  };

  it('3 and 12 hosts: the same counts of hostvars and host-list work, whatever the number of hosts', async () => {
    const small = await run(3);
    const large = await run(12);
    expect(small.code).toBe(0);
    expect(large.code).toBe(0);
    expect(small.ok).toBe(3 * 4);
    expect(large.ok).toBe(12 * 4);
    // no template here reads hostvars: no entry is ever checked or built; the active hosts are listed once
    for (const r of [small, large]) {
      expect(r.work.hostvarsViews).toBe(1);
      expect(r.work.hostvarsChecks).toBe(0);
      expect(r.work.hostvarsBuilds).toBe(0);
      expect(r.work.activeScans).toBe(1);
    }
  }, 120_000);
});
