/**
 * The static check before a run (lib/executor/preflight.ts checkStatic) looks at each task once per set of hosts
 * that give it the same inputs (the raw values of the variables it names, transitively), instead of once per host:
 * an error only one host's variables cause is still found and names that host, whichever host comes first.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-preflight-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function check(inventory: string, playbook: string): { code: number; err: string[] } {
  const inv = path.join(tmp, `inv-${Math.random().toString(36).slice(2)}.yml`);
  const pb = path.join(tmp, `pb-${Math.random().toString(36).slice(2)}.yml`);
  fs.writeFileSync(inv, inventory);
  fs.writeFileSync(pb, playbook);
  const r = cli(['apply', pb, '-i', inv, '--syntax-check'], { cwd: tmp });
  return { code: r.code, err: r.stderr.split('\n').filter((l) => l.startsWith('error: ')) };
}

describe('static checks per distinct inputs, not per host', () => {
  it('a recursion only the last host has is found, after hosts that share their variables', () => {
    const hosts = Array.from({ length: 30 }, (_, i) => `    h${i}: {x: "{{ y }}", y: "1"}`).join('\n');
    const r = check(`all:\n  hosts:\n${hosts}\n    last: {x: "{{ y }}", y: "{{ x }}"}\n`, `- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: {msg: "{{ x }}"}\n`);
    expect(r.code, r.err.join('\n')).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/recursion in variables: (x -> y -> x|y -> x -> y)/);
  });

  it('an argument that is wrong only with one host name is found and names that host', () => {
    const hosts = ['a', 'b', 'c'].map((h) => `    ${h}: {}`).join('\n');
    const pb = `- hosts: all\n  gather_facts: false\n  tasks:\n    - containers.podman.podman_network:\n        name: n\n        subnet: "{{ '10.89.1.5/24' if inventory_hostname == 'c' else '10.89.1.0/24' }}"\n`;
    const r = check(`all:\n  hosts:\n${hosts}\n`, pb);
    expect(r.code, r.err.join('\n')).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/subnet 10\.89\.1\.5\/24 has host bits set.*host c/);
  });

  it('hosts that all give the same inputs: no error, exit 0', () => {
    const hosts = Array.from({ length: 50 }, (_, i) => `    h${i}: {}`).join('\n');
    const r = check(`all:\n  vars: {base: "/srv/{{ inventory_hostname }}"}\n  hosts:\n${hosts}\n`, `- hosts: all\n  gather_facts: false\n  tasks:\n    - file: {path: "{{ base }}/x", state: directory}\n`);
    expect(r.code, r.err.join('\n')).toBe(0);
  });
});
