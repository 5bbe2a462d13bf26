/**
 * A looped file/copy/lineinfile task runs in ONE remote command for all its items' probes and ONE for all their
 * steps (pipeline.ts runBatch), counted per task with the bench's own counter (bench/trace-commands.js reads each
 * connection's commandCount), on a real lab host. The output ((item=...) lines, per-item results, register) and the
 * host's end state are the same as item by item (RUNBOOK_BATCH=0), in apply and in check mode; items that touch the
 * same path, or whose plan fails after an earlier item's steps, and a command's later items, are probed again after
 * the earlier items' steps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { normRunOutput, tracedApply, type TracedRun } from './helpers.js';
import { pathsOverlap } from '../lib/executor/pipeline.js';
import { batchScript, splitBatch } from '../lib/connection/scripts.js';

let lab: Lab;
let inv: string;
const local = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-batch-'));
const remoteBase = `/tmp/rbk-batch-${process.pid}`;

const playbook = (dir: string) => `- hosts: lab
  gather_facts: false
  vars:
    dir: ${dir}
  tasks:
    - name: base
      file: {path: "{{ dir }}", state: directory}
    - name: copies
      copy: {dest: "{{ dir }}/{{ item }}.conf", content: "{{ item }}\\n", mode: "0640"}
      loop: [a, b, c, d]
    - name: lines
      lineinfile: {path: "{{ dir }}/l-{{ item.f }}.conf", line: "{{ item.l }}", create: true}
      loop: [{f: a, l: one}, {f: b, l: two}, {f: c, l: three}]
      loop_control: {label: "{{ item.f }}"}
    - name: modes
      file: {path: "{{ dir }}/l-{{ item }}.conf", mode: "0600"}
      loop: [a, b, c]
      register: modes
    - name: validated
      copy: {dest: "{{ dir }}/v-{{ item.n }}", content: "{{ item.n }}\\n", validate: "{{ item.v }} %s"}
      loop: [{n: x, v: "true"}, {n: y, v: "false"}, {n: z, v: "true"}]
      ignore_errors: true
      register: validated
    - name: changed per item
      lineinfile: {path: "{{ dir }}/l-{{ item }}.conf", line: extra}
      loop: [a, c]
      changed_when: item == 'c'
    - name: same file
      lineinfile: {path: "{{ dir }}/same.conf", line: "{{ item }}", create: true}
      loop: [l1, l2, l3]
    - name: touch through a new parent
      file: {path: "{{ dir }}/{{ item.p }}", state: "{{ item.s }}"}
      loop: [{p: p/q, s: directory}, {p: p/r, s: touch}]
    - name: alias
      file: {path: "{{ dir }}/alias", src: "{{ dir }}", state: link}
    - name: link to an earlier item through an alias
      file: {path: "{{ dir }}/{{ item.p }}", state: "{{ item.s }}", src: "{{ item.src | default(omit) }}"}
      loop: [{p: t1, s: touch}, {p: l1, s: link, src: "{{ dir }}/alias/t1"}]
    - name: nested dirs
      file: {path: "{{ dir }}/{{ item }}", state: directory, mode: "0750"}
      loop: [n, n/a, n/b, m]
    - name: commands
      command: {cmd: "touch {{ dir }}/{{ item.t }}", creates: "{{ dir }}/{{ item.c }}"}
      loop: [{t: c1, c: c1}, {t: c2, c: c1}, {t: c3, c: c3}]
    - name: shells
      shell: "echo {{ item }} >> {{ dir }}/shells.log"
      loop: [s1, s2, s3]
    - name: report
      debug: {msg: "{{ modes.results | map(attribute='changed') | list }} {{ validated.results | map(attribute='failed') | list }}"}
`;

type Run = TracedRun;

function run(dir: string, extra: string[], env: Record<string, string> = {}): Promise<Run> {
  const pb = path.join(local, `site-${path.basename(dir)}.yml`);
  fs.writeFileSync(pb, playbook(dir));
  return tracedApply(pb, ['-i', inv, '--format', 'plain', ...extra], local, env);
}

const norm = normRunOutput;

async function hostState(dir: string): Promise<string> {
  const r = await lab.exec(lab.hosts[0]!.name, ['/bin/sh', '-c', `cd ${dir} && find . -printf '%p %y %m\\n' | sort && for f in $(find . -type f | sort); do echo "== $f"; cat "$f"; done`]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

beforeAll(async () => {
  lab = await Lab.create({ name: 'batch', hosts: 1 });
  inv = path.join(lab.dir, 'batch-inventory.yml');
  fs.writeFileSync(inv, lab.inventoryYaml());
}, 300_000);

afterAll(async () => {
  await lab?.exec(lab.hosts[0]!.name, ['/bin/sh', '-c', `rm -rf ${remoteBase}-*`]).catch(() => undefined);
  await lab?.destroy();
  fs.rmSync(local, { recursive: true, force: true });
});

describe('loop items in one remote command per phase', () => {
  it('apply: 2 commands per batched task (1 unchanged), same output and end state as item by item; overlaps probed again', async () => {
    const dirA = `${remoteBase}-batched`;
    const dirB = `${remoteBase}-single`;
    const dirE = `${remoteBase}-ahead`;
    // the commands per task with loops batched, and item by item; probes fetched ahead (pipeline-probe.test.ts) off
    const a = await run(dirA, [], { RUNBOOK_PIPELINE: '0' });
    const b = await run(dirB, [], { RUNBOOK_BATCH: '0', RUNBOOK_PIPELINE: '0' });
    // and everything on: the same again, in fewer commands
    const e = await run(dirE, []);
    expect(norm(e.stdout, dirE)).toEqual(norm(b.stdout, dirB));
    expect(await hostState(dirE)).toBe(await hostState(dirB));
    const total = (r: Run) => Object.values(r.trace).flat().reduce((x, y) => x + y, 0);
    expect(total(e)).toBeLessThan(total(a));
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(a.stdout).toContain('ignoring');
    // per-item lines and results identical to item by item
    expect(norm(a.stdout, dirA)).toEqual(norm(b.stdout, dirB));
    expect(a.stdout).toContain("(item=a)");
    expect(a.stdout).toMatch(/failed: \[[^\]]+\] \(item=\{'n': 'y', 'v': 'false'\}\) => .*failed to validate/);
    expect(a.stdout).toMatch(/\[True, True, True\] \[\w+, True, \w+\]/);
    expect(await hostState(dirA)).toBe(await hostState(dirB));
    expect(await hostState(dirA)).toContain('== ./same.conf\nl1\nl2\nl3\n');

    const one = (r: Run, t: string) => Math.max(...r.trace[t]!);
    // item by item: a probe and an apply per changed item
    expect(one(b, 'copies')).toBe(8);
    expect(one(b, 'lines')).toBe(6);
    // batched: one probe command and one apply command per task
    for (const t of ['copies', 'lines', 'modes', 'validated']) expect(one(a, t), t).toBe(2);
    // changed_when false for c: the line is still written (steps ran) in the same one apply command
    expect(one(a, 'changed per item')).toBe(2);
    // the same file three times: one probe of all, then each item's steps with the later items probed again after
    // them (1 + 1 + 1 + 1; item by item: 3 probes, 3 applies)
    expect(one(b, 'same file')).toBe(6);
    expect(one(a, 'same file')).toBe(4);
    // n/a and n/b are inside n: probed again after n is made (1 + 1), then their steps with m's (1)
    expect(one(a, 'nested dirs')).toBe(3);
    // a command may change anything: after c1 runs, the later items are probed again, and c2 (creates c1) is skipped
    expect(one(a, 'commands')).toBe(3);
    expect(await hostState(dirA)).not.toContain('./c2 ');
    expect(await hostState(dirA)).toContain('./c3 f');
    // no probe: every item's command in one, in order
    expect(one(a, 'shells')).toBe(1);
    expect(one(b, 'shells')).toBe(3);
    expect(await hostState(dirA)).toContain('== ./shells.log\ns1\ns2\ns3\n');
    // p/r's parent does not exist at the probe, but touch's plan does not depend on it: one batch each
    expect(one(a, 'touch through a new parent')).toBe(2);
    // l1's src (t1 through the alias) does not exist at the probe: its plan fails after t1's planned steps, so it is
    // probed again after them (1 + 1 + 1), and the link is made as item by item
    expect(one(a, 'link to an earlier item through an alias')).toBe(3);

    // unchanged: one command per batched task
    const a2 = await run(dirA, [], { RUNBOOK_PIPELINE: '0' });
    expect(a2.code, a2.stdout + a2.stderr).toBe(0);
    const e2 = await run(dirE, []);
    expect(norm(e2.stdout, dirE)).toEqual(norm(a2.stdout, dirA));
    expect(total(e2)).toBeLessThan(total(a2));
    for (const t of ['copies', 'lines', 'modes', 'same file', 'nested dirs', 'commands']) expect(one(a2, t), t).toBe(1);
    // touch changes every run: its step after the one probe command
    expect(one(a2, 'link to an earlier item through an alias')).toBe(2);
    expect(a2.stdout).not.toMatch(/changed: \[[^\]]+\] => \(item=(a|b|d)\)/); // c: changed_when says so
  }, 400_000);

  it('check mode: the same output as item by item, nothing written, one probe command per batched task', async () => {
    const dirC = `${remoteBase}-checka`;
    const dirD = `${remoteBase}-checkb`;
    // the base directory exists, nothing else: every item would change
    await lab.exec(lab.hosts[0]!.name, ['/bin/sh', '-c', `mkdir -p ${dirC} ${dirD}`]);
    const c = await run(dirC, ['--check'], { RUNBOOK_PIPELINE: '0' });
    const d = await run(dirD, ['--check'], { RUNBOOK_BATCH: '0', RUNBOOK_PIPELINE: '0' });
    expect(norm(c.stdout, dirC)).toEqual(norm(d.stdout, dirD));
    expect(c.code).toBe(d.code);
    expect(c.stdout).toContain('(item=a)');
    const dirF = `${remoteBase}-checkc`;
    await lab.exec(lab.hosts[0]!.name, ['/bin/sh', '-c', `mkdir -p ${dirF}`]);
    const f = await run(dirF, ['--check']);
    expect(norm(f.stdout, dirF)).toEqual(norm(d.stdout, dirD));
    expect(await hostState(dirF)).toBe('. d 755\n');
    expect(Math.max(...c.trace['copies']!)).toBe(1);
    expect(Math.max(...d.trace['copies']!)).toBe(4);
    expect(await hostState(dirC)).toBe('. d 755\n');
  }, 400_000);
});

describe('batch framing on a host', () => {
  it('one unit with input reads the stream itself; skipped after a failure in its group, it still drains it', async () => {
    const input = Buffer.alloc(200_000, 'z');
    const f = `${remoteBase}-direct`;
    for (const first of ['exit 3', 'true']) {
      const b = batchScript([{ script: first, group: 0 }, { script: `cat > ${f}`, input, group: 0 }, { script: 'echo after', group: 1 }], 'n1');
      expect(b.input?.length).toBe(input.length);
      expect(b.script).not.toContain('mktemp');
      const r = await lab.exec(lab.hosts[0]!.name, ['/bin/sh', '-c', b.script], { input: b.input });
      expect(r.code, r.stderr).toBe(0);
      const u = splitBatch(r, 3, 'n1').units;
      expect(u[0]!.code).toBe(first === 'true' ? 0 : 3);
      expect(u[1]?.code).toBe(first === 'true' ? 0 : undefined);
      expect(u[2]!.stdout).toBe('after\n');
      const size = await lab.exec(lab.hosts[0]!.name, ['/bin/sh', '-c', `stat -c %s ${f} 2>/dev/null || echo none; rm -f ${f}`]);
      expect(size.stdout.trim()).toBe(first === 'true' ? String(input.length) : 'none');
    }
  });
});

describe('batch framing (pure)', () => {
  it('pathsOverlap: same path, a path inside another, not siblings', () => {
    expect(pathsOverlap([['/a/b'], ['/a/c']])).toBe(false);
    expect(pathsOverlap([['/a/b'], ['/a/b/']])).toBe(true);
    expect(pathsOverlap([['/a'], ['/a/b/c']])).toBe(true);
    expect(pathsOverlap([['/ab'], ['/a']])).toBe(false);
    expect(pathsOverlap([['/a/x', '/a/x/y'], ['/b']])).toBe(false);
  });

  it('splitBatch cuts each unit at its own nonce marker; a skipped unit has no result', () => {
    const n = 'abc123';
    const { script } = batchScript([{ script: 'echo hi', group: 0 }, { script: 'exit 3', group: 1 }, { script: 'echo no', group: 1 }], n);
    expect(script).toContain('RBabc123');
    const r = splitBatch({ code: 0, stdout: `hi\n\0RB${n}:0:0\0\0RB${n}:1:3\0\0RBother:2:0\0`, stderr: `\0RB${n}:0\0oops\0RB${n}:1\0` }, 3, n);
    expect(r.units[0]).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
    expect(r.units[1]).toEqual({ code: 3, stdout: '', stderr: 'oops' });
    expect(r.units[2]).toBeUndefined();
    expect(r.rest.stdout).toBe(`\0RBother:2:0\0`);
  });
});
