/**
 * Cycles and absurd nesting are found at load with a plain message (issue 15): a cycle of imports or includes names
 * every file in it with the line that leads on; 20,000 levels of blocks or of YAML name the file and never print
 * "Maximum call stack size exceeded". Real CLI, real files, --syntax-check (no host).
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli } from './helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-cycles-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string>): string {
  const root = path.join(dir, name);
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), text);
  }
  return root;
}
const play = (tasks: string) => `- hosts: localhost\n  gather_facts: false\n  tasks:\n${tasks}`;
const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('cycles name every file in them', () => {
  it('import_tasks a.yml -> b.yml -> c.yml -> a.yml', () => {
    const d = tree('imports', {
      'site.yml': play('    - import_tasks: a.yml\n'),
      'a.yml': '- debug: msg=a\n- import_tasks: b.yml\n',
      'b.yml': '- debug: msg=b\n- debug: msg=b2\n- import_tasks: c.yml\n',
      'c.yml': '- import_tasks: a.yml\n',
    });
    const r = cli(['apply', path.join(d, 'site.yml'), '--syntax-check']);
    expect(r.code).toBe(1);
    const f = (n: string) => esc(path.join(d, n));
    expect(r.stderr).toMatch(new RegExp(`error: ${f('c.yml')}:1:3: import cycle: ${f('a.yml')}:2 -> ${f('b.yml')}:3 -> ${f('c.yml')}:1 -> ${f('a.yml')}\\n`));
    expect(r.stderr).not.toMatch(/call stack/i);
  });
  it('include_tasks in a cycle with nothing to stop it is an error; with a when it is left to the run', () => {
    const d = tree('includes', {
      'site.yml': play('    - include_tasks: a.yml\n'),
      'a.yml': '- include_tasks: b.yml\n',
      'b.yml': '- include_tasks: a.yml\n',
      'guarded.yml': play('    - include_tasks: again.yml\n'),
      'again.yml': '- set_fact: {n: "{{ (n | default(0) | int) + 1 }}"}\n- include_tasks: again.yml\n  when: n | int < 3\n',
    });
    const r = cli(['apply', path.join(d, 'site.yml'), '--syntax-check']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`include cycle: ${path.join(d, 'a.yml')}:1 -> ${path.join(d, 'b.yml')}:1 -> ${path.join(d, 'a.yml')}`);
    const g = cli(['apply', path.join(d, 'guarded.yml'), '--syntax-check']);
    expect(g.stderr).not.toMatch(/cycle|call stack/i);
    expect(g.code).toBe(0);
    // and it runs, ending when the condition says so
    const run = cli(['apply', path.join(d, 'guarded.yml'), '--format', 'plain', '-e', 'runbook_lock=false']);
    expect(run.stdout + run.stderr).toMatch(/failed=0/);
    expect(run.code).toBe(0);
  });
  it('import_playbook p1 -> p2 -> p3 -> p1', () => {
    const d = tree('playbooks', {
      'p1.yml': '- import_playbook: p2.yml\n',
      'p2.yml': '- hosts: localhost\n  tasks: []\n- import_playbook: p3.yml\n',
      'p3.yml': '- import_playbook: p1.yml\n',
    });
    const r = cli(['apply', path.join(d, 'p1.yml'), '--syntax-check']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`import_playbook recursion: ${path.join(d, 'p1.yml')}:1 -> ${path.join(d, 'p2.yml')}:3 -> ${path.join(d, 'p3.yml')}:1 -> ${path.join(d, 'p1.yml')}`);
  });
});

describe('20,000 levels of nesting: a plain message naming the file', () => {
  const N = 20_000;
  it('blocks (flow style)', () => {
    const d = tree('deep-blocks', { 'site.yml': play(`    - ${'{block: ['.repeat(N)}{debug: {msg: hi}}${']}'.repeat(N)}\n`) });
    const r = cli(['apply', path.join(d, 'site.yml'), '--syntax-check']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`error: ${esc(path.join(d, 'site.yml'))}:\\d+:\\d+: .*nested too deeply`));
    expect(r.stderr).not.toMatch(/call stack/i);
  });
  it('blocks (indented): refused past the nesting limit, with the file', () => {
    const lines = ['- hosts: localhost', '  gather_facts: false', '  tasks:'];
    for (let i = 0; i < 400; i++) lines.push(`${'  '.repeat(i + 2)}- block:`);
    lines.push(`${'  '.repeat(402)}- debug: msg=hi`);
    const d = tree('deep-indent', { 'site.yml': lines.join('\n') + '\n' });
    const r = cli(['apply', path.join(d, 'site.yml'), '--syntax-check']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`error: ${esc(path.join(d, 'site.yml'))}:\\d+:\\d+: blocks nested more than \\d+ levels deep in ${esc(path.join(d, 'site.yml'))}`));
    expect(r.stderr).not.toMatch(/call stack/i);
  });
  it('plain YAML (a value 20,000 lists deep), in a tasks file too', () => {
    const deep = `${'['.repeat(N)}${']'.repeat(N)}`;
    const d = tree('deep-yaml', {
      'site.yml': `- hosts: localhost\n  gather_facts: false\n  vars:\n    x: ${deep}\n  tasks: []\n`,
      'tasks.yml': play('    - import_tasks: more.yml\n'),
      'more.yml': `- debug:\n    msg: ${deep}\n`,
    });
    for (const [pbk, bad] of [['site.yml', 'site.yml'], ['tasks.yml', 'more.yml']]) {
      const r = cli(['apply', path.join(d, pbk!), '--syntax-check']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${path.join(d, bad!)} is nested too deeply to read`);
      expect(r.stderr).not.toMatch(/call stack/i);
    }
  });
});
