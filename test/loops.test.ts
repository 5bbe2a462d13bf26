/**
 * Every loop kind's items, as Ansible's lookup plugins give them (lib/ansible/plugins/lookup/*.py): with_<name> is
 * lookup <name> (lib/vars/loop-lookups.ts), lookup()/query() reach the same functions from templates, and the
 * loader turns loop keywords into typed task fields (never magic argument keys). Pure logic plus real files in a
 * temporary directory; no host.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loopItems, subdirFor, findInSearchPath } from '../lib/vars/loop-lookups.js';
import { createTemplar } from '../lib/vars/template.js';
import { PlaybookLoader } from '../lib/playbook/loader.js';
import type { Item, TaskNode } from '../lib/playbook/model.js';
import { ConfigErrors } from '../lib/errors.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-loops-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function tree(root: string, files: Record<string, string>): string {
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), text);
  }
  return root;
}

const pb = tree(path.join(dir, 'pb'), {
  'roles/web/files/a.conf': 'a\n',
  'roles/web/files/b.conf': 'b\n',
  'roles/web/files/.hidden.conf': 'h\n',
  'roles/web/files/sub/c.conf': 'c\n',
  'roles/web/templates/Debian.j2': 'debian {{ who }}\n',
  'roles/web/templates/default.j2': 'default\n',
  'roles/web/vars/default.yml': 'x: 1\n',
  'roles/web/tasks/main.yml': '- debug: msg=hi\n',
  'files/top.conf': 'top\n',
  'only-here.txt': 'x\n',
});
const role = path.join(pb, 'roles/web');
const vars = { playbook_dir: pb, role_path: role, who: 'world' };
const place = (subdir = 'files') => ({ searchPath: [role, path.join(role, 'tasks')], subdir });
const items = (lookup: string, terms: unknown, subdir?: string) => loopItems(lookup, terms, vars, place(subdir));

describe('with_<lookup> items', () => {
  it('items flattens one level, list keeps lists, a lone string is one item', () => {
    expect(items('items', ['a', ['b', ['c']], 'd'])).toEqual(['a', 'b', ['c'], 'd']);
    expect(items('list', ['a', ['b', 'c']])).toEqual(['a', ['b', 'c']]);
    expect(items('items', 'solo')).toEqual(['solo']);
  });

  it('community.general.flattened flattens every depth and stops at a None term (devsec.hardening)', () => {
    expect(items('community.general.flattened', [['/usr/bin', ['/usr/sbin', ['/bin']]], '/sbin'])).toEqual(['/usr/bin', '/usr/sbin', '/bin', '/sbin']);
    expect(items('flattened', ['a', 'None', 'b'])).toEqual(['a']);
  });
  it('dict gives key/value pairs in order; a list is refused', () => {
    expect(items('dict', { b: 1, a: { x: 2 } })).toEqual([{ key: 'b', value: 1 }, { key: 'a', value: { x: 2 } }]);
    expect(() => items('dict', [1])).toThrow(/with_dict expects a dict/);
  });
  it('indexed_items numbers the flattened items', () => {
    expect(items('indexed_items', ['a', ['b', 'c']])).toEqual([[0, 'a'], [1, 'b'], [2, 'c']]);
  });
  it('nested is the cartesian product, first list outermost, a string term is a one-item list', () => {
    expect(items('nested', [['alice', 'bob'], ['db1', 'db2'], 'ro'])).toEqual([
      ['alice', 'db1', 'ro'], ['alice', 'db2', 'ro'], ['bob', 'db1', 'ro'], ['bob', 'db2', 'ro'],
    ]);
    expect(items('nested', [[1, 2]])).toEqual([[1], [2]]);
    expect(() => items('nested', [])).toThrow(/at least one element/);
    expect(items('cartesian', [['a', 'b'], [1, 2]])).toEqual([['a', 1], ['a', 2], ['b', 1], ['b', 2]]);
  });
  it('together zips, filling the shorter lists with None', () => {
    expect(items('together', [['a', 'b', 'c'], [1, 2]])).toEqual([['a', 1], ['b', 2], ['c', null]]);
  });
  it('subelements pairs each element with each entry of its sublist; item.0 is the element without the sublist', () => {
    const users = [
      { name: 'alice', groups: ['wheel', 'adm'], mysql: { hosts: ['%', 'localhost'] } },
      { name: 'bob', groups: ['users'], mysql: { hosts: ['db1'] } },
    ];
    expect(items('subelements', [users, 'groups'])).toEqual([
      [{ name: 'alice', mysql: { hosts: ['%', 'localhost'] } }, 'wheel'],
      [{ name: 'alice', mysql: { hosts: ['%', 'localhost'] } }, 'adm'],
      [{ name: 'bob', mysql: { hosts: ['db1'] } }, 'users'],
    ]);
    // a nested subkey; the input is not modified
    expect(items('subelements', [users, 'mysql.hosts']).map((x) => [(x as [{ name: string }, string])[0].name, (x as unknown[])[1]])).toEqual([['alice', '%'], ['alice', 'localhost'], ['bob', 'db1']]);
    expect(users[0]!.groups).toEqual(['wheel', 'adm']);
  });
  it('subelements: a missing key fails unless skip_missing; a skipped registered result gives nothing', () => {
    const users = [{ name: 'alice', keys: ['k1'] }, { name: 'carol' }];
    expect(() => items('subelements', [users, 'keys'])).toThrow(/could not find 'keys' key in iterated item/);
    expect(items('subelements', [users, 'keys', { skip_missing: true }])).toEqual([[{ name: 'alice' }, 'k1']]);
    expect(items('subelements', [{ skipped: true, results: [] }, 'keys'])).toEqual([]);
    expect(() => items('subelements', [users])).toThrow(/two or three items/);
    expect(() => items('subelements', [users, 'keys', { bogus: 1 }])).toThrow(/flags/);
  });
  it('sequence: key=value form with start/end/stride/format and count', () => {
    expect(items('sequence', 'start=1 end=10 stride=3 format=host%02d')).toEqual(['host01', 'host04', 'host07', 'host10']);
    expect(items('sequence', 'count=5')).toEqual(['1', '2', '3', '4', '5']);
    expect(items('sequence', 'start=1 count=5 stride=2')).toEqual(['1', '3', '5', '7', '9']);
    expect(items('sequence', 'start=0x0f00 count=4 format=%04x')).toEqual(['0f00', '0f01', '0f02', '0f03']);
    expect(items('sequence', 'start=5 end=11 stride=2 format=0x%02x')).toEqual(['0x05', '0x07', '0x09', '0x0b']);
    expect(items('sequence', 'start=10 end=0 stride=-5')).toEqual(['10', '5', '0']);
    expect(items('sequence', 'count=0')).toEqual([]);
  });
  it('sequence: the short form [start-]end[/stride][:format]', () => {
    expect(items('sequence', '5')).toEqual(['1', '2', '3', '4', '5']);
    expect(items('sequence', '5-8')).toEqual(['5', '6', '7', '8']);
    expect(items('sequence', '2-10/2')).toEqual(['2', '4', '6', '8', '10']);
    expect(items('sequence', '4:host%02d')).toEqual(['host01', 'host02', 'host03', 'host04']);
    expect(items('sequence', '1-10/2:web%d')).toEqual(['web1', 'web3', 'web5', 'web7', 'web9']);
  });
  it('sequence: the errors Ansible gives', () => {
    expect(() => items('sequence', 'start=1')).toThrow(/must specify count or end/);
    expect(() => items('sequence', 'end=3 count=2')).toThrow(/can't specify both count and end/);
    expect(() => items('sequence', 'start=5 end=1')).toThrow(/to count backwards make stride negative/);
    expect(() => items('sequence', 'start=1 end=5 stride=-1')).toThrow(/to count forward/);
    expect(() => items('sequence', 'end=3 format=%d-%d')).toThrow(/bad formatting string/);
    expect(() => items('sequence', 'end=3 colour=red')).toThrow(/unrecognized arguments/);
  });
  it('random_choice picks one of the terms', () => {
    const got = items('random_choice', ['a', 'b', 'c']);
    expect(got).toHaveLength(1);
    expect(['a', 'b', 'c']).toContain(got[0]);
    expect(items('random_choice', [])).toEqual([]);
  });
  it('fileglob: the role files/ first, sorted, hidden files only when asked, a directory part searched too', () => {
    expect(items('fileglob', '*.conf')).toEqual([path.join(role, 'files/a.conf'), path.join(role, 'files/b.conf')]);
    expect(items('fileglob', 'sub/*.conf')).toEqual([path.join(role, 'files/sub/c.conf')]);
    expect(items('fileglob', 'top.conf')).toEqual([path.join(pb, 'files/top.conf')]);
    expect(items('fileglob', '*.nothing')).toEqual([]);
  });
  it('first_found: list form, the dict form with paths, skip, and the action decides the subdirectory', () => {
    expect(items('first_found', ['missing.conf', 'b.conf', 'a.conf'])).toEqual([path.join(role, 'files/b.conf')]);
    expect(items('first_found', ['Ubuntu.j2', 'Debian.j2'], subdirFor('ansible.builtin.template'))).toEqual([path.join(role, 'templates/Debian.j2')]);
    expect(items('first_found', ['RedHat.yml', 'default.yml'], subdirFor('include_vars'))).toEqual([path.join(role, 'vars/default.yml')]);
    expect(items('first_found', { files: ['x.conf', 'c.conf'], paths: [path.join(role, 'files/sub')] })).toEqual([path.join(role, 'files/sub/c.conf')]);
    expect(items('first_found', [{ files: 'x.conf,y.conf', skip: true }])).toEqual([]);
    expect(() => items('first_found', ['x.conf'])).toThrow(/No file was found when using first_found/);
    expect(items('first_found', ['only-here.txt'])).toEqual([path.join(pb, 'only-here.txt')]);
    expect(subdirFor('copy')).toBe('files');
  });
  it('template renders from the role templates/ with the task variables', () => {
    expect(items('template', ['Debian.j2'], 'templates')).toEqual(['debian world\n']);
  });
  it('lines and pipe run on the controller, in the role (else the playbook) directory', () => {
    expect(items('lines', "printf 'one\\ntwo\\n'; pwd")).toEqual(['one', 'two', role]);
    expect(items('pipe', 'echo "  hi  "')).toEqual(['  hi']);
    expect(() => items('pipe', 'exit 3')).toThrow(/returned 3/);
  });
  it('env, file and varnames through the same path', () => {
    process.env['RBK_LOOPS_TEST'] = 'from-env';
    expect(items('env', ['RBK_LOOPS_TEST'])).toEqual(['from-env']);
    expect(items('file', ['a.conf'])).toEqual(['a']);
    expect(items('varnames', ['^play', '^wh'])).toEqual(['playbook_dir', 'who']);
  });
  it('a lookup nobody has', () => {
    expect(() => items('nosuchlookup', [])).toThrow(/lookup plugin 'nosuchlookup' not found/);
  });
  it('the search path: role subdir, role, task directory, playbook', () => {
    expect(findInSearchPath(vars, 'files', 'a.conf')).toBe(path.join(role, 'files/a.conf'));
    expect(findInSearchPath(vars, 'files', 'files/top.conf')).toBe(path.join(pb, 'files/top.conf'));
    expect(findInSearchPath(vars, 'files', 'nope')).toBeUndefined();
  });
});

describe('lookup() and query() in templates', () => {
  const t = createTemplar();
  const v = { ...vars, users: [{ name: 'a', k: [1, 2] }, { name: 'b', k: [3] }], l1: [1, 2], l2: ['x', 'y'] };
  it('query returns lists; lookup joins or unwraps', () => {
    expect(t.render("{{ query('nested', l1, l2) }}", v)).toEqual([[1, 'x'], [1, 'y'], [2, 'x'], [2, 'y']]);
    expect(t.render("{{ q('together', l1, l2) }}", v)).toEqual([[1, 'x'], [2, 'y']]);
    expect(t.render("{{ query('subelements', users, 'k') | map(attribute='1') | list }}", v)).toEqual([1, 2, 3]);
    expect(t.render("{{ query('subelements', users, 'k', {'skip_missing': True}) | length }}", v)).toBe(3);
    expect(t.render("{{ query('sequence', 'start=1 end=3') }}", v)).toEqual(['1', '2', '3']);
    expect(t.render("{{ query('indexed_items', l2) }}", v)).toEqual([[0, 'x'], [1, 'y']]);
    expect(t.render("{{ query('dict', {'a': 1}) }}", v)).toEqual([{ key: 'a', value: 1 }]);
    expect(t.render("{{ lookup('pipe', 'echo piped') }}", v)).toBe('piped');
    expect(t.render("{{ lookup('first_found', ['nope', 'a.conf']) }}", v)).toBe(path.join(role, 'files/a.conf'));
    expect(t.render("{{ lookup('first_found', findme, errors='ignore') }}", { ...v, findme: ['nope'] })).toBeNull();
    expect(t.render("{{ lookup('template', 'Debian.j2') }}", v)).toBe('debian world\n');
    expect(t.render("{{ query('varnames', '^l[0-9]$') }}", v)).toEqual(['l1', 'l2']);
    expect(t.render("{{ query('fileglob', '*.conf') | map('basename') | list }}", v)).toEqual(['a.conf', 'b.conf']);
    expect(t.render("{{ query('random_choice', 'only') }}", v)).toEqual(['only']);
  });
  it('item.0 / item.1 read as subscripts, as in Jinja2', () => {
    expect(t.render('{{ item.0.name }}:{{ item.1 }}', { item: [{ name: 'alice' }, 'wheel'] })).toBe('alice:wheel');
  });
});

describe('the loader types loops and includes', () => {
  const load = (files: Record<string, string>, opts = {}) => {
    const d = tree(fs.mkdtempSync(path.join(dir, 'l-')), files);
    const loader = new PlaybookLoader(opts);
    try {
      return { pb: loader.loadPlaybook(path.join(d, 'site.yml')), loader, d };
    } catch (e) {
      if (e instanceof ConfigErrors) return { errors: e.errors.map((x) => x.format()), loader, d };
      throw e;
    }
  };
  const play = (tasks: string) => `- hosts: localhost\n  gather_facts: false\n  tasks:\n${tasks}`;
  const tasksOf = (items: Item[]): TaskNode[] => items.flatMap((i) => (i.kind === 'task' ? [i] : tasksOf([...i.block, ...i.rescue, ...i.always])));

  it("import_role brings the role's handlers into the play, as in Ansible", () => {
    const r = load({
      'site.yml': play('    - import_role:\n        name: web\n'),
      'roles/web/tasks/main.yml': '- command: /bin/true\n  notify: reload web\n',
      'roles/web/handlers/main.yml': '- name: reload web\n  command: /bin/true\n',
    });
    expect(r.errors).toBeUndefined();
    expect(r.pb!.plays[0]!.handlers.map((h) => h.name)).toEqual(['reload web']);
  });

  it('loop and with_<name> become task.loop; the arguments keep only what was written', () => {
    const r = load({ 'site.yml': play('    - debug: msg=x\n      with_nested: [[1], [2]]\n    - debug: msg=y\n      loop: [1]\n    - debug: msg=z\n      with_items: [a]\n') });
    const ts = tasksOf(r.pb!.plays[0]!.sections.flat());
    expect(ts.map((t) => t.loop && (t.loop.kind === 'loop' ? 'loop' : t.loop.lookup))).toEqual(['nested', 'loop', 'items']);
    expect(ts[0]!.loop!.terms).toEqual([[1], [2]]);
    expect(ts[0]!.loop!.pos.line).toBe(5);
    for (const t of ts) expect(Object.keys(t.args)).toEqual(['msg']);
  });
  it('include_tasks with a literal name is task.include with its tasks pre-loaded', () => {
    const r = load({ 'site.yml': play('    - include_tasks: more.yml\n'), 'more.yml': '- debug: msg=more\n' });
    const t = r.pb!.plays[0]!.sections.flat()[0] as TaskNode;
    expect(t.include?.file).toBe(path.join(r.d, 'more.yml'));
    expect(tasksOf(t.include!.tasks).map((x) => x.args['msg'])).toEqual(['more']);
    expect(Object.keys(t.args)).toEqual(['_raw_params']);
  });
  it('a with_<name> without a lookup is an error naming file:line; under when it is a warning', () => {
    const e = load({ 'site.yml': play('    - debug: msg=x\n      with_nosuch: [1]\n') });
    expect(e.errors).toEqual([expect.stringMatching(/site\.yml:5:7: unknown loop "with_nosuch": there is no lookup "nosuch"/)]);
    const typo = load({ 'site.yml': play('    - debug: msg=x\n      with_sequnce: "1-3"\n') });
    expect(typo.errors![0]).toMatch(/did you mean "with_sequence"\?/);
    const ansible = load({ 'site.yml': play('    - debug: msg=x\n      with_dig: [example.org]\n') });
    expect(ansible.errors![0]).toMatch(/site\.yml:5:7: loop "with_dig" is not supported by runbook yet/);
    const guarded = load({ 'site.yml': play('    - debug: msg=x\n      with_dig: [example.org]\n      when: false\n') });
    expect(guarded.errors).toBeUndefined();
    expect(guarded.loader.warnings.map((w) => w.format())).toEqual([expect.stringMatching(/site\.yml:5:7: loop "with_dig" is not supported by runbook yet; this task fails if it runs/)]);
    expect((guarded.pb!.plays[0]!.sections.flat()[0] as TaskNode).deferred?.message).toMatch(/with_dig/);
  });
  it('two loops on one task are refused', () => {
    const e = load({ 'site.yml': play('    - debug: msg=x\n      loop: [1]\n      with_items: [2]\n') });
    expect(e.errors![0]).toMatch(/site\.yml:6:7: a task can have one loop, this one has loop, with_items/);
  });
});
