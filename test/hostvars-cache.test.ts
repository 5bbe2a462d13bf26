/**
 * The executor builds `hostvars` and `groups` once and rebuilds a host's hostvars entry only when that host's facts
 * were written (set_fact, register) or gathered (lib/executor/run.ts, Executor.hostvars). This checks, with real
 * runs on three local hosts, that every such write is visible to the other hosts in later tasks, overwrites
 * included, and that a task sees hostvars as they were when it started.
 * (Needs a build: the CLI runs from dist/.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rb-hostvars-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const hosts = ['a', 'b', 'c'];
fs.writeFileSync(
  path.join(dir, 'inventory.yml'),
  ['all:', '  hosts:', ...hosts.flatMap((h) => [`    ${h}:`, '      ansible_connection: local', `      inv_${h}: from-inventory-${h}`]), '  vars:', '    runbook_lock: false', ''].join('\n'),
);
const out = path.join(dir, 'out');
const show = (label: string) => ({
  name: `show ${label}`,
  'ansible.builtin.copy': {
    dest: `${out}/{{ inventory_hostname }}.${label}`,
    // spelled out per host: `default` on a missing attribute inside a {% for %} loop fails in runbook's templar today
    content: `${hosts.map((h) => `${h}={{ hostvars['${h}'].x | default('-') }}/{{ hostvars['${h}'].r.stdout | default('-') }}/{{ hostvars['${h}'].inv_${h} }}`).join(' ')} {{ groups['all'] | join(',') }}\n`,
  },
});
fs.writeFileSync(
  path.join(dir, 'play.yml'),
  JSON.stringify([
    {
      hosts: 'all',
      gather_facts: false,
      tasks: [
        { 'ansible.builtin.file': { path: out, state: 'directory' }, run_once: true },
        show('0'),
        { 'ansible.builtin.set_fact': { x: '{{ inventory_hostname }}1' } },
        show('1'),
        // an overwrite of an existing fact, only on one host
        { 'ansible.builtin.set_fact': { x: 'b2' }, when: "inventory_hostname == 'b'" },
        { 'ansible.builtin.command': { cmd: 'echo r-{{ inventory_hostname }}' }, register: 'r' },
        show('2'),
      ],
    },
    // a second play sees the facts of the first
    { hosts: 'c', gather_facts: false, tasks: [show('3')] },
  ]),
);

describe('hostvars across hosts and tasks (cached entries)', () => {
  it('every set_fact and register is visible to the other hosts in later tasks, overwrites included', () => {
    const r = cli(['apply', path.join(dir, 'play.yml'), '-i', path.join(dir, 'inventory.yml'), '--format', 'plain']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const read = (h: string, label: string) => fs.readFileSync(path.join(out, `${h}.${label}`), 'utf8').trim();
    const inv = (h: string) => `from-inventory-${h}`;
    for (const h of hosts) {
      expect(read(h, '0')).toBe(`${hosts.map((o) => `${o}=-/-/${inv(o)}`).join(' ')} a,b,c`);
      expect(read(h, '1')).toBe(`${hosts.map((o) => `${o}=${o}1/-/${inv(o)}`).join(' ')} a,b,c`);
      expect(read(h, '2')).toBe(`${hosts.map((o) => `${o}=${o === 'b' ? 'b2' : `${o}1`}/r-${o}/${inv(o)}`).join(' ')} a,b,c`);
    }
    expect(read('c', '3')).toBe(read('c', '2'));
  });
});
