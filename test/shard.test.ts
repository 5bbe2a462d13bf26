/**
 * --shard K/N and `runbook report merge` (lib/inventory/shard.ts, lib/report/merge.ts, docs/adr/0016): the partition
 * as pure logic, the merge's refusals and exit codes on report files, and in the lab 3 shard processes of one
 * playbook side by side over 6 hosts: every host done exactly once (per the reports and per a file each host
 * appends to in its private root), and the merged report equal, but for timings, to one unsharded run's on fresh state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { applyShard, parseShard, shardIndex } from '../lib/inventory/shard.js';
import { mergeReports } from '../lib/report/merge.js';
import { ConfigErrors, RunbookError } from '../lib/errors.js';
import { ROOT, cli, cliAsync } from './helpers.js';

const SITE = path.join(ROOT, 'test/fixtures/shard/site.yml');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-shard-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const recap = (host: string, o: Partial<Record<'ok' | 'changed' | 'failed' | 'unreachable', number>> = {}) => ({ host, ok: 1, changed: 0, unreachable: 0, failed: 0, skipped: 0, rescued: 0, ignored: 0, ...o });
function report(name: string, body: Record<string, unknown>): string {
  const f = path.join(tmp, name);
  const hosts = Object.fromEntries(((body['recap'] as { host: string }[]) ?? []).map((r) => [r.host, []]));
  fs.writeFileSync(f, JSON.stringify({ playbook: '/p/site.yml', check: false, exit_code: 0, duration_ms: 10, recap: [], hosts, ...body }));
  return f;
}

describe('shard: the partition', () => {
  it('parses K/N and refuses anything else', () => {
    expect(parseShard('2/3')).toEqual({ k: 2, n: 3 });
    for (const bad of ['0/3', '4/3', '3', '1/0', 'a/b', '-1/2', '1/2/3']) expect(() => parseShard(bad), bad).toThrow(RunbookError);
  });

  it('puts every host in exactly one shard, whatever the order of the hosts', () => {
    const hosts = Array.from({ length: 500 }, (_, i) => `web-${i}.example.org`);
    for (const n of [1, 2, 3, 7]) {
      const parts = Array.from({ length: n }, (_, k) => applyShard(hosts, { k: k + 1, n }));
      expect(parts.flat().sort()).toEqual([...hosts].sort());
      const reversed = Array.from({ length: n }, (_, k) => applyShard([...hosts].reverse(), { k: k + 1, n }));
      for (let k = 0; k < n; k++) expect(new Set(reversed[k])).toEqual(new Set(parts[k]));
      // a host's shard is its own: it does not move when other hosts come or go
      for (const h of hosts.slice(0, 50)) expect(applyShard([h], { k: shardIndex(h, n) + 1, n })).toEqual([h]);
      // balance of a hash: 500 hosts over 7 shards, each within 40 % of the mean (binomial: ~12 % std dev)
      for (const p of parts) expect(Math.abs(p.length - 500 / n)).toBeLessThan((0.4 * 500) / n);
    }
  });

  it('shard 1/1 and no shard are the same', () => {
    expect(applyShard(['a', 'b'], { k: 1, n: 1 })).toEqual(['a', 'b']);
    expect(applyShard(['a', 'b'], undefined)).toEqual(['a', 'b']);
  });
});

describe('report merge on files', () => {
  it('exits as a single run would: a failed task 2 over an unreachable host 4, an interrupted shard 130', () => {
    const ok = report('ok.json', { recap: [recap('a')] });
    const unreach = report('unreach.json', { recap: [recap('b', { unreachable: 1 })], exit_code: 4 });
    const failed = report('failed.json', { recap: [recap('c', { failed: 1 })], exit_code: 2 });
    const intr = report('intr.json', { recap: [recap('d')], exit_code: 130 });
    expect(mergeReports([ok]).exit_code).toBe(0);
    expect(mergeReports([ok, unreach]).exit_code).toBe(4);
    expect(mergeReports([unreach, ok, failed]).exit_code).toBe(2);
    expect(mergeReports([ok, failed, intr]).exit_code).toBe(130);
    const m = mergeReports([failed, unreach, ok]);
    expect(m.recap.map((r) => r.host)).toEqual(['a', 'b', 'c']);
    expect(Object.keys(m.hosts)).toEqual(['a', 'b', 'c']);
  });

  it('refuses a host in two files, different playbooks, different check modes, a file that is no report', () => {
    const a = report('a.json', { recap: [recap('a'), recap('b')] });
    const b = report('b.json', { recap: [recap('b'), recap('c')] });
    const other = report('other.json', { playbook: '/p/other.yml', recap: [recap('x')] });
    const check = report('check.json', { check: true, recap: [recap('y')] });
    const junk = path.join(tmp, 'junk.json');
    fs.writeFileSync(junk, '{"hello": 1}');
    const msgs = (files: string[]) => {
      try {
        mergeReports(files);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigErrors);
        return (e as ConfigErrors).errors.map((x) => x.message).join('\n');
      }
      throw new Error('merge did not refuse');
    };
    expect(msgs([a, b])).toMatch(/host b is in both .*a\.json and .*b\.json/);
    expect(msgs([a, other])).toMatch(/other\.json is a report of \/p\/other\.yml/);
    expect(msgs([a, check])).toMatch(/check\.json ran in check mode/);
    expect(msgs([a, junk])).toMatch(/junk\.json is not a runbook --report file/);
    expect(msgs([a, path.join(tmp, 'absent.json')])).toMatch(/report not found/);
  });

  it('the command prints the recap and exits with the merged code', () => {
    const ok = report('c-ok.json', { recap: [recap('h1', { changed: 1 })] });
    const failed = report('c-failed.json', { recap: [recap('h2', { failed: 1 })], exit_code: 2 });
    const out = path.join(tmp, 'c-merged.json');
    const r = cli(['report', 'merge', ok, failed, '-o', out]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toMatch(/PLAY RECAP/);
    expect(r.stdout).toMatch(/^h1\s+: ok=1\s+changed=1 /m);
    expect(r.stdout).toMatch(/^h2\s+: .*failed=1 /m);
    expect(JSON.parse(fs.readFileSync(out, 'utf8')).exit_code).toBe(2);
    const bad = cli(['report', 'merge', ok, ok]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/host h1 is in both/);
  });
});

describe('3 shards in the lab', () => {
  let lab: Lab;
  let inv: string;
  beforeAll(async () => {
    lab = await Lab.create({ name: 'shard', hosts: 6, shell: '/bin/sh' });
    inv = path.join(lab.dir, 'shard-inventory.yml');
    fs.writeFileSync(inv, lab.inventoryYaml());
  }, 240_000);
  afterAll(async () => {
    await lab?.destroy();
  });

  /**
   * a report without what differs between two runs of the same thing: durations, and the recap's `commands` (a
   * performance counter that varies by one between identical runs: the lock's release races the count); recap in
   * host order
   */
  const normal = (file: string) => {
    const r = JSON.parse(fs.readFileSync(file, 'utf8'));
    delete r.duration_ms;
    for (const x of r.recap) delete x.commands;
    r.recap.sort((a: { host: string }, b: { host: string }) => a.host.localeCompare(b.host));
    for (const entries of Object.values(r.hosts) as Record<string, unknown>[][]) for (const e of entries) delete e['duration_ms'];
    return r;
  };

  it('covers every host exactly once, and the merged report is the single run\'s', async () => {
    const names = lab.hosts.map((h) => h.name);
    const runs = [1, 2, 3].map((k) =>
      cliAsync(['apply', SITE, '-i', inv, '--shard', `${k}/3`, '--report', path.join(tmp, `r${k}.json`), '--format', 'plain', '-e', 'tag=t1'], { timeoutMs: 180_000 }),
    );
    const results = await Promise.all(runs);
    for (const r of results) expect(r.code, r.stderr + r.stdout).toBe(0);
    // per the reports: each host in exactly one, with every task once
    const seen = new Map<string, number>();
    for (const k of [1, 2, 3]) {
      const r = JSON.parse(fs.readFileSync(path.join(tmp, `r${k}.json`), 'utf8'));
      for (const h of r.recap.map((x: { host: string }) => x.host)) seen.set(h, (seen.get(h) ?? 0) + 1);
      for (const h of Object.keys(r.hosts)) expect(r.hosts[h].map((e: { task: string }) => e.task)).toEqual(['state directory', 'who am I', 'count this run', 'say so']);
      expect(Object.keys(r.hosts).sort()).toEqual(applyShard(names, { k, n: 3 }).sort());
    }
    expect([...seen.keys()].sort()).toEqual([...names].sort());
    expect([...seen.values()].every((c) => c === 1)).toBe(true);
    // per the hosts: each ran the playbook once
    for (const h of names) {
      expect(await lab.readFile(h, '/var/lib/rbshard/t1/runs'), h).toBe('run\n');
      expect(await lab.readFile(h, '/var/lib/rbshard/t1/name'), h).toBe(`${h}\n`);
    }
    const merged = path.join(tmp, 'merged.json');
    const m = cli(['report', 'merge', ...[1, 2, 3].map((k) => path.join(tmp, `r${k}.json`)), '-o', merged]);
    expect(m.code, m.stderr).toBe(0);
    for (const h of names) expect(m.stdout).toMatch(new RegExp(`^${h}\\s+: ok=4\\s+changed=3 `, 'm'));

    // the same playbook, unsharded, on fresh state (the same paths, emptied)
    for (const h of names) expect((await lab.exec(h, ['rm', '-rf', '/var/lib/rbshard'])).code).toBe(0);
    const single = path.join(tmp, 'single.json');
    const s = await cliAsync(['apply', SITE, '-i', inv, '--report', single, '--format', 'plain', '-e', 'tag=t1'], { timeoutMs: 180_000 });
    expect(s.code, s.stderr + s.stdout).toBe(0);
    expect(normal(merged)).toEqual(normal(single));
  }, 600_000);

  it('a shard with no host exits 0 with a note and an empty report', async () => {
    // host1 falls in one shard of 3; the others get nothing of --limit host1
    const empty = [1, 2, 3].find((k) => applyShard(['host1'], { k, n: 3 }).length === 0)!;
    const out = path.join(tmp, 'empty.json');
    const r = await cliAsync(['apply', SITE, '-i', inv, '--limit', 'host1', '--shard', `${empty}/3`, '--report', out, '--format', 'plain', '-e', 'tag=t2'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`note: shard ${empty}/3 has none of the 1 selected host`));
    const body = JSON.parse(fs.readFileSync(out, 'utf8'));
    expect(body.recap).toEqual([]);
    expect(body.hosts).toEqual({});
    // while a --limit that matches nothing stays an error
    const bad = await cliAsync(['apply', SITE, '-i', inv, '--limit', 'nosuchhost', '--shard', '1/3'], { timeoutMs: 60_000 });
    expect(bad.code).toBe(1);
  }, 120_000);
});
