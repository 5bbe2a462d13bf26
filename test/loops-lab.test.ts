/**
 * with_<lookup> loops end to end over SSH on a lab host: nested, subelements (skip_missing), sequence, together,
 * fileglob and first_found (controller files), lines (a controller command). The (item=...) lines are Ansible's,
 * and what each item wrote is read back from the host; a second apply changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { cliAsync } from './helpers.js';

let lab: Lab;
let inv: string;
const local = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-loops-lab-'));
const remote = `/tmp/rbk-loops-${process.pid}`;

const files = {
  'files/a.conf': 'alpha\n',
  'files/b.conf': 'beta\n',
  'site.yml': `- hosts: lab
  gather_facts: false
  vars:
    dir: ${remote}
    users:
      - {name: alice, keys: [k1, k2]}
      - {name: bob, keys: [k3]}
      - {name: carol}
  tasks:
    - file: {path: "{{ dir }}", state: directory}
    - name: nested
      copy: {dest: "{{ dir }}/n-{{ item.0 }}{{ item.1 }}", content: "{{ item.0 }}{{ item.1 }}\\n"}
      with_nested: [[a, b], [1, 2]]
    - name: subelements
      copy: {dest: "{{ dir }}/s-{{ item.0.name }}-{{ item.1 }}", content: "{{ item.0.name }} {{ item.1 }} {{ 'keys' in item.0 }}\\n"}
      with_subelements: ["{{ users }}", keys, {skip_missing: true}]
    - name: sequence
      copy: {dest: "{{ dir }}/{{ item }}", content: "{{ item }}\\n"}
      with_sequence: start=1 end=5 stride=2 format=web%02d
    - name: together
      copy: {dest: "{{ dir }}/t-{{ item.0 }}", content: "{{ item.1 }}\\n"}
      with_together: [[x, y, z], [10, 20]]
    - name: fileglob
      copy: {src: "{{ item }}", dest: "{{ dir }}/g-{{ item | basename }}"}
      with_fileglob: "*.conf"
    - name: first_found
      copy: {src: "{{ item }}", dest: "{{ dir }}/ff"}
      with_first_found: ["{{ undefined_here }}.conf", missing.conf, b.conf]
    - name: lines
      copy: {dest: "{{ dir }}/l-{{ item }}", content: "{{ item }}\\n"}
      with_lines: printf 'one\\ntwo\\n'
`,
};

beforeAll(async () => {
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(local, f)), { recursive: true });
    fs.writeFileSync(path.join(local, f), text);
  }
  lab = await Lab.create({ name: 'loops', hosts: 1 });
  inv = path.join(lab.dir, 'loops-inventory.yml');
  fs.writeFileSync(inv, lab.inventoryYaml());
}, 300_000);

afterAll(async () => {
  await lab?.destroy();
  fs.rmSync(local, { recursive: true, force: true });
});

describe('with_<lookup> loops over SSH', () => {
  it('apply: the items as Ansible gives them, written on the host; a second apply changes nothing', async () => {
    const h = lab.hosts[0]!.name;
    const r = await cliAsync(['apply', path.join(local, 'site.yml'), '-i', inv, '--format', 'plain'], { timeoutMs: 240_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const item = (label: string) => expect(r.stdout).toContain(`changed: [${h}] => (item=${label})`);
    for (const l of ["['a', 1]", "['a', 2]", "['b', 1]", "['b', 2]"]) item(l);
    for (const l of ["[{'name': 'alice'}, 'k1']", "[{'name': 'alice'}, 'k2']", "[{'name': 'bob'}, 'k3']"]) item(l);
    expect(r.stdout).not.toContain('carol');
    for (const l of ['web01', 'web03', 'web05']) item(l);
    for (const l of ["['x', 10]", "['y', 20]", "['z', None]"]) item(l);
    item(path.join(local, 'files/a.conf'));
    item(path.join(local, 'files/b.conf'));
    for (const l of ['one', 'two']) item(l);

    const sh = async (cmd: string) => (await lab.exec(h, ['sh', '-c', cmd])).stdout;
    expect((await sh(`cd ${remote} && ls | sort`)).split('\n').filter(Boolean)).toEqual([
      'ff', 'g-a.conf', 'g-b.conf', 'l-one', 'l-two', 'n-a1', 'n-a2', 'n-b1', 'n-b2', 's-alice-k1', 's-alice-k2', 's-bob-k3', 't-x', 't-y', 't-z', 'web01', 'web03', 'web05',
    ]);
    // Ansible's templar finalizes None to '' (t-z: together filled the short list with None)
    expect(await sh(`cat ${remote}/n-b2 ${remote}/s-alice-k2 ${remote}/t-z ${remote}/ff ${remote}/g-a.conf ${remote}/web03`)).toBe('b2\nalice k2 False\n\nbeta\nalpha\nweb03\n');

    const again = await cliAsync(['apply', path.join(local, 'site.yml'), '-i', inv, '--format', 'plain'], { timeoutMs: 240_000 });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`${h}\\s+: ok=\\d+\\s+changed=0 `));
    await sh(`rm -rf ${remote}`);
  }, 600_000);

  it('loop_control.pause: the items run one by one, the pause between them (not before the first)', async () => {
    const h = lab.hosts[0]!.name;
    const dir = `${remote}-pause`;
    const pb = path.join(local, 'pause.yml');
    fs.writeFileSync(pb, `- hosts: lab\n  gather_facts: false\n  tasks:\n    - file: {path: "${dir}", state: directory}\n    - name: stamped\n      shell: "date +%s%N > ${dir}/{{ item }}"\n      loop: [a, b, c]\n      loop_control: {pause: 1}\n    - name: bad pause\n      debug: {msg: "{{ item }}"}\n      loop: [x]\n      loop_control: {pause: soon}\n`);
    const r = await cliAsync(['apply', pb, '-i', inv, '--format', 'plain'], { timeoutMs: 120_000 });
    // the host's own clock: each item ran at least a second after the one before
    const ns = (await lab.exec(h, ['sh', '-c', `cat ${dir}/a ${dir}/b ${dir}/c; rm -rf ${dir}`])).stdout.trim().split('\n').map((l) => BigInt(l));
    expect(ns).toHaveLength(3);
    expect(Number(ns[1]! - ns[0]!) / 1e9).toBeGreaterThanOrEqual(1);
    expect(Number(ns[2]! - ns[1]!) / 1e9).toBeGreaterThanOrEqual(1);
    // a pause that is not a number fails the task at its line
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr, r.stdout + r.stderr).toMatch(/pause\.yml:\d+:\d+: loop_control\.pause must be a number of seconds, got .{0,2}soon/);
  }, 300_000);
});
