/**
 * Pipelined probes (ADR 0006, 2026-12-03): a single file-like task's steps carry the next task's probe in the same
 * remote command, when the next task can be rendered before this one's result is known. Each later task here reads
 * what the earlier one changed on the host (a lineinfile without `create` on the file the copy before it wrote, a
 * stat through a link made the task before), so a probe that ran before the earlier apply would plan differently or
 * fail. On two real lab hosts the output (--diff), the recap, the registered values and the end state are the same
 * with pipelining on and off (RUNBOOK_PIPELINE=0), and the commands per task (bench/trace-commands.js) drop with it.
 * A registered result used by the next task, a failure on another host that changes ansible_play_hosts, and two
 * inventory names for one machine are not pipelined (or the prefetched probe is dropped) and give the same results.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { Lab } from '../lib/lab/lab.js';
import { normRunOutput, tracedApply, type TracedRun } from './helpers.js';

let lab: Lab;
let inv: string;
let aliasInv: string;
const local = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-pipe-'));
// /srv is private to each lab host (docs/lab.md), /tmp is shared between them
const remoteBase = `/srv/rbk-pipe-${process.pid}`;

const playbook = (dir: string) => `- hosts: lab
  gather_facts: false
  vars:
    dir: ${dir}
  tasks:
    - name: base
      file: {path: "{{ dir }}", state: directory}
    - name: copy base
      copy: {dest: "{{ dir }}/app.conf", content: "a=1\\nb=2\\n", mode: "0644"}
    - name: edit copied
      lineinfile: {path: "{{ dir }}/app.conf", regexp: "^b=", line: "b=3"}
    - name: append
      lineinfile: {path: "{{ dir }}/app.conf", line: "c=4"}
      notify: seen
    - name: mode
      file: {path: "{{ dir }}/app.conf", mode: "0600"}
    - name: link
      file: {path: "{{ dir }}/link", src: "{{ dir }}/app.conf", state: link}
    - name: stat through the link
      stat: {path: "{{ dir }}/link", follow: true}
      register: st
    - name: uses the registered result
      copy: {dest: "{{ dir }}/size", content: "{{ st.stat.size }} {{ st.stat.mode }}\\n"}
    - name: fails on one host
      copy: {dest: "{{ dir }}/v", content: "v\\n", validate: "{{ 'false' if inventory_hostname == groups.lab[1] else 'true' }} %s"}
    - name: play hosts after a failure
      copy: {dest: "{{ dir }}/hosts", content: "{{ ansible_play_hosts | join(',') }}\\n"}
    - name: failed and ignored
      copy: {dest: "{{ dir }}/w", content: "w\\n", validate: "false %s"}
      ignore_errors: true
    - name: after the ignored failure
      stat: {path: "{{ dir }}/w"}
      register: w
    - name: report
      debug: {msg: "{{ st.stat.size }} {{ st.stat.mode }} {{ w.stat.exists }}"}
  handlers:
    - name: seen
      debug: {msg: handled}
`;

const aliasPlaybook = (dir: string) => `- hosts: all
  gather_facts: false
  tasks:
    - name: dir
      file: {path: "${dir}", state: directory}
    - name: write
      copy: {dest: "${dir}/shared", content: "{{ inventory_hostname }}\\n"}
    - name: add
      lineinfile: {path: "${dir}/shared", line: "x-{{ inventory_hostname }}"}
`;

type Run = TracedRun;

function run(pbText: string, inventory: string, extra: string[], env: Record<string, string> = {}): Promise<Run> {
  const pb = path.join(local, `site-${Math.random().toString(36).slice(2)}.yml`);
  fs.writeFileSync(pb, pbText);
  // -f 1: the hosts in a fixed order, so the two runs' outputs compare line by line
  return tracedApply(pb, ['-i', inventory, '-f', '1', '--format', 'plain', ...extra], local, env);
}

const norm = normRunOutput;

async function hostState(host: number, dir: string): Promise<string> {
  const r = await lab.exec(lab.hosts[host]!.name, ['/bin/sh', '-c', `cd ${dir} && find . -printf '%p %y %m %l\\n' | sort && for f in $(find . -type f | sort); do echo "== $f"; cat "$f"; done`]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

const total = (r: Run) => Object.values(r.trace).flat().reduce((a, b) => a + b, 0);
const max = (r: Run, t: string) => Math.max(...(r.trace[t] ?? [-1]));

beforeAll(async () => {
  lab = await Lab.create({ name: 'pipe', hosts: 2 });
  inv = path.join(lab.dir, 'pipe-inventory.yml');
  fs.writeFileSync(inv, lab.inventoryYaml());
  // two inventory names for the first lab host
  const doc = YAML.parse(lab.inventoryYaml());
  const lh = doc.all.children.lab;
  const first = lh.hosts[lab.hosts[0]!.name];
  lh.hosts = { alias1: first, alias2: first };
  aliasInv = path.join(lab.dir, 'pipe-alias-inventory.yml');
  fs.writeFileSync(aliasInv, YAML.stringify(doc));
}, 300_000);

afterAll(async () => {
  for (const h of lab?.hosts ?? []) await lab.exec(h.name, ['/bin/sh', '-c', `rm -rf ${remoteBase}-*`]).catch(() => undefined);
  await lab?.destroy();
  fs.rmSync(local, { recursive: true, force: true });
});

describe('the next task probe in the same command as this task steps', () => {
  it('apply with --diff: same output, recap, registered values and end state as without; fewer commands', async () => {
    const dirA = `${remoteBase}-on`;
    const dirB = `${remoteBase}-off`;
    const a = await run(playbook(dirA), inv, ['--diff']);
    const b = await run(playbook(dirB), inv, ['--diff'], { RUNBOOK_PIPELINE: '0' });
    // the second host fails one task on purpose
    expect(a.code, a.stdout + a.stderr).toBe(2);
    expect(b.code, b.stdout + b.stderr).toBe(2);
    expect(norm(a.stdout, dirA)).toEqual(norm(b.stdout, dirB));
    // the probes saw every earlier apply: the edit found the copied file, the stat saw the link's target as edited
    expect(a.stdout).toContain('+b=3');
    expect(a.stdout).toContain('+c=4');
    expect(a.stdout).toContain('handled');
    expect(a.stdout).toMatch(/"msg": "12 0600 False"|12 0600 False/);
    for (const h of [0, 1]) expect(await hostState(h, dirA)).toBe((await hostState(h, dirB)).replaceAll(dirB, dirA));
    const s0 = await hostState(0, dirA);
    expect(s0).toContain('== ./app.conf\na=1\nb=3\nc=4\n');
    expect(s0).toContain('== ./size\n12 0600\n');
    // the other host had failed when this one's task started: its prefetched probe (rendered with both) was dropped
    expect(s0).toContain(`== ./hosts\n${lab.hosts[0]!.name}\n`);
    expect(s0).not.toContain('./w ');

    // without pipelining: a probe and an apply for each changed task
    for (const t of ['copy base', 'edit copied', 'append', 'mode', 'link']) expect(max(b, t), t).toBe(2);
    expect(max(b, 'stat through the link')).toBe(1);
    // pipelined: the probe came with the previous task's steps
    for (const t of ['copy base', 'edit copied', 'append', 'mode', 'link', 'fails on one host', 'failed and ignored']) expect(max(a, t), t).toBe(1);
    // the stat's probe came with the link's steps on both hosts: the first host's registered result changed no
    // script the second host's stat renders to
    expect(a.trace['stat through the link']).toEqual([0, 0]);
    expect(max(a, 'after the ignored failure')).toBe(0);
    // after a stat (no steps, no command of its own): its own probe, with the next tasks' probes, then its steps
    expect(max(a, 'uses the registered result')).toBe(2);
    // the other host's failure changed ansible_play_hosts, which is in the content, not in the probe: still exact
    expect(a.trace['play hosts after a failure']).toEqual([1]);
    expect(total(a)).toBeLessThan(total(b) - 10);

    // unchanged: nothing applied, nothing to pipeline with; the same output either way
    const a2 = await run(playbook(dirA), inv, ['--diff']);
    const b2 = await run(playbook(dirB), inv, ['--diff'], { RUNBOOK_PIPELINE: '0' });
    expect(norm(a2.stdout, dirA)).toEqual(norm(b2.stdout, dirB));
    expect(a2.stdout).toMatch(/ok=\d+\s+changed=\d+/);
    expect(max(a2, 'edit copied')).toBe(1);
  }, 400_000);

  it('check mode: the probes of the next tasks in one command, the same output as without', async () => {
    const dirC = `${remoteBase}-check-on`;
    const dirD = `${remoteBase}-check-off`;
    const c = await run(playbook(dirC), inv, ['--check', '--diff']);
    const d = await run(playbook(dirD), inv, ['--check', '--diff'], { RUNBOOK_PIPELINE: '0' });
    expect(norm(c.stdout, dirC)).toEqual(norm(d.stdout, dirD));
    expect(c.code).toBe(d.code);
    // nothing is applied in check mode: the first probe command brings the next tasks' probes
    expect(d.trace['copy base']).toEqual([1, 1]);
    expect(c.trace['copy base']).toEqual([0, 0]);
    expect(c.trace['edit copied']).toEqual([0, 0]);
    expect(total(c)).toBeLessThan(total(d));
  }, 400_000);

  it('two inventory names for one machine: not pipelined (the other name writes in between), same end state', async () => {
    const dirE = `${remoteBase}-alias-on`;
    const dirF = `${remoteBase}-alias-off`;
    const e = await run(aliasPlaybook(dirE), aliasInv, []);
    const f = await run(aliasPlaybook(dirF), aliasInv, [], { RUNBOOK_PIPELINE: '0' });
    expect(e.code, e.stdout + e.stderr).toBe(0);
    expect(norm(e.stdout, dirE)).toEqual(norm(f.stdout, dirF));
    expect(await hostState(0, dirE)).toBe((await hostState(0, dirF)).replaceAll(dirF, dirE));
    expect(await hostState(0, dirE)).toContain('== ./shared\nalias2\nx-alias1\nx-alias2\n');
    expect(e.trace['add']).toEqual([2, 2]);
  }, 400_000);
});
