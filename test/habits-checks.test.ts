/**
 * Issue 15, what needs no host: --list-tasks/--list-hosts/--list-tags print what ansible-playbook 2.14 printed for
 * the same playbook (recorded in test/fixtures/habits-list/recorded/); --limit or an ad hoc pattern that leaves no
 * host is exit 1 naming it with a did-you-mean; a notify no handler answers is a load error at the notify's line
 * (a warning where handlers may come from an include_role); same-name handlers warn naming both places;
 * --start-at-task with an unknown name is exit 1. The hosts of these inventories do not exist: nothing here may
 * contact one (every case ends before the run, which the exit codes and "no host was contacted" show).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, cli } from './helpers.js';
import { closestName, unmatchedTerms } from '../lib/inventory/patterns.js';
import { tagsSelect } from '../lib/cli/list.js';

const LIST = path.join(ROOT, 'test/fixtures/habits-list');

describe('--list-tasks, --list-hosts, --list-tags as ansible-playbook 2.14', () => {
  const cases = [
    '--list-tasks',
    '--list-hosts',
    '--list-tags',
    '--list-tasks --list-hosts --list-tags',
    '--list-tasks --tags config,debugging',
    '--list-tasks --skip-tags pkg,always',
    '--list-hosts --limit web2:db1',
    '--list-tasks --list-tags --tags tagged',
  ];
  for (const args of cases) {
    it(args, () => {
      const name = args.replace(/--/g, '').replace(/[ ,:]/g, '_');
      const r = cli(['apply', 'site.yml', '-i', 'inventory.yml', ...args.split(' ')], { cwd: LIST });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(fs.readFileSync(path.join(LIST, 'recorded', `${name}.stdout`), 'utf8'));
      // the unmatched term of play 2 (db:webz) is warned about as Ansible does
      expect(r.stderr).toBe(fs.readFileSync(path.join(LIST, 'recorded', `${name}.stderr`), 'utf8'));
    });
  }
});

describe('patterns and handlers, before any host is contacted', () => {
  let dir: string;
  const write = (name: string, text: string) => {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
    return p;
  };
  const run = (args: string[]) => cli(args, { cwd: dir });
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-habits-checks-'));
    // hosts in TEST-NET-1: never reached (every case ends at load)
    write('inventory.yml', 'all:\n  children:\n    webservers:\n      hosts:\n        web1: {ansible_host: 192.0.2.1}\n    dbservers:\n      hosts:\n        db1: {ansible_host: 192.0.2.2}\n');
    write('site.yml', '- hosts: webservers\n  gather_facts: false\n  tasks:\n    - name: t\n      command: "true"\n');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('--limit that leaves no host: exit 1, the pattern named, the closest group suggested', () => {
    const r = run(['apply', 'site.yml', '-i', 'inventory.yml', '--limit', 'webz']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: --limit "webz" leaves no hosts to target: "webz" matches no host or group (did you mean "web1"?)');
    expect(r.stderr).toContain('no host was contacted');
    const g = run(['apply', 'site.yml', '-i', 'inventory.yml', '--limit', 'webservrs']);
    expect(g.code).toBe(1);
    expect(g.stderr).toContain('"webservrs" matches no host or group (did you mean "webservers"?)');
    // terms that all match but exclude each other
    const x = run(['apply', 'site.yml', '-i', 'inventory.yml', '--limit', 'webservers:&dbservers']);
    expect(x.code).toBe(1);
    expect(x.stderr).toContain('--limit "webservers:&dbservers" leaves no hosts to target: its terms together exclude every host');
    // also with --syntax-check, as ansible-playbook
    expect(run(['apply', 'site.yml', '-i', 'inventory.yml', '--limit', 'webz', '--syntax-check']).code).toBe(1);
    // a limit that matches is fine; a term of it that matches nothing is Ansible's warning
    expect(run(['apply', 'site.yml', '-i', 'inventory.yml', '--limit', 'db1', '--syntax-check']).code).toBe(0);
    const part = run(['apply', 'site.yml', '-i', 'inventory.yml', '--limit', 'db1:webz', '--syntax-check']);
    expect(part.code, part.stderr).toBe(0);
    expect(part.stderr).toContain('[WARNING]: Could not match supplied host pattern, ignoring: webz\n');
  });

  it('runbook run and runbook role with a pattern that matches nothing: exit 1 with a did-you-mean', () => {
    const r = run(['run', 'dbservrs', '-i', 'inventory.yml', '--', 'true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: host pattern "dbservrs" leaves no hosts to target: "dbservrs" matches no host or group (did you mean "dbservers"?)');
    const both = run(['run', 'webservers', '-i', 'inventory.yml', '--limit', 'db1', '--', 'true']);
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('host pattern "webservers" with --limit "db1" leaves no hosts to target');
    write('roles/r0/tasks/main.yml', '- name: noop\n  command: "true"\n');
    const role = run(['role', 'r0', 'webz', '-i', 'inventory.yml']);
    expect(role.code).toBe(1);
    expect(role.stderr).toContain('host pattern "webz" leaves no hosts to target');
  });

  it('a notify no handler answers is an error at its line with a did-you-mean; listen topics and role handlers count', () => {
    write('roles/web/tasks/main.yml', '- name: role task\n  command: "true"\n  notify: reload web\n');
    write('roles/web/handlers/main.yml', '- name: reload web\n  command: "true"\n');
    const pb = write(
      'notify.yml',
      [
        '- hosts: webservers',
        '  gather_facts: false',
        '  roles: [web]',
        '  vars: {which: restart app}',
        '  tasks:',
        '    - name: changes config',
        '      command: "true"',
        '      notify: restart ap',
        '    - name: changes more',
        '      command: "true"',
        '      notify:',
        '        - restart app',
        '        - "web : reload web"',
        '        - reload cach',
        '    - name: templated',
        '      command: "true"',
        '      notify: "{{ which }}"',
        '  handlers:',
        '    - name: restart app',
        '      command: "true"',
        '    - name: flush',
        '      command: "true"',
        '      listen: reload cache',
        '',
      ].join('\n'),
    );
    const r = run(['apply', 'notify.yml', '-i', 'inventory.yml', '--syntax-check']);
    expect(r.code, r.stderr).toBe(1);
    const errs = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errs).toEqual([
      `error: ${pb}:8:15: notify "restart ap" matches no handler name or listen topic of play "webservers" (did you mean "restart app"?)`,
      `error: ${pb}:14:11: notify "reload cach" matches no handler name or listen topic of play "webservers" (did you mean "reload cache"?)`,
    ]);
    expect(r.stderr).toContain('2 configuration errors; no host was contacted');
    // the same run without --syntax-check stops there too, before any host
    const a = run(['apply', 'notify.yml', '-i', 'inventory.yml']);
    expect(a.code).toBe(1);
    expect(a.stdout).not.toContain('TASK [');
  });

  it('where an include_role may add handlers at run time, the notify is a warning; same-name handlers warn naming both', () => {
    write('roles/dyn/tasks/main.yml', '- name: dyn task\n  command: "true"\n');
    write('roles/dyn/handlers/main.yml', '- name: restart dyn\n  command: "true"\n');
    const pb = write(
      'dynamic.yml',
      [
        '- hosts: webservers',
        '  gather_facts: false',
        '  tasks:',
        '    - include_role:',
        '        name: dyn',
        '    - name: notifies the included role',
        '      command: "true"',
        '      notify: restart dyn',
        '  handlers:',
        '    - name: restart app',
        '      command: "true"',
        '    - name: restart app',
        '      command: "false"',
        '',
      ].join('\n'),
    );
    const r = run(['apply', 'dynamic.yml', '-i', 'inventory.yml', '--syntax-check']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      `warning: ${pb}:8:15: notify "restart dyn" matches no handler name or listen topic of play "webservers"; it may still be defined at run time: the include_role at ${pb}:4 adds its role's handlers when it runs`,
    );
    expect(r.stderr).toContain(`warning: ${pb}:10:7: handler "restart app" at ${pb}:10 is shadowed by the handler of the same name at ${pb}:12: only the last one loaded runs`);
  });

  it('--start-at-task with a name no task has: exit 1 with the closest name, no host contacted', () => {
    const r = cli(['apply', 'site.yml', '-i', 'inventory.yml', '--start-at-task', 'write confg'], { cwd: LIST });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: --start-at-task "write confg": no task of the playbook has that name (did you mean "write config"?)');
    expect(r.stderr).toContain('no host was contacted');
  });
});

describe('pure helpers', () => {
  const inv: Record<string, string[]> = { web: ['web1', 'web2'], db: ['db1'], web1: ['web1'], web2: ['web2'], db1: ['db1'] };
  const select = (a: string) => inv[a] ?? (a.startsWith('~') ? Object.keys(inv).filter((k) => new RegExp(a.slice(1)).test(k)).flatMap((k) => inv[k]!) : []);
  it('unmatchedTerms names each term that matches nothing, without its operator; localhost and all never', () => {
    expect(unmatchedTerms('web:webz', select)).toEqual(['webz']);
    expect(unmatchedTerms('web:!dbz:&wbe', select)).toEqual(['dbz', 'wbe']);
    expect(unmatchedTerms('all:localhost:127.0.0.1', select)).toEqual([]);
    expect(unmatchedTerms('~^we', select)).toEqual([]);
    expect(unmatchedTerms('~^zz', select)).toEqual(['~^zz']);
  });
  it('closestName suggests a near name only', () => {
    expect(closestName('webz', ['web', 'db', 'webservers'])).toBe('web');
    expect(closestName('WEB', ['web', 'db'])).toBe('web');
    expect(closestName('frontend', ['web', 'db'])).toBeUndefined();
  });
  it('tagsSelect follows Ansible: never, always, tagged, untagged, skip all', () => {
    expect(tagsSelect([], [], [])).toBe(true);
    expect(tagsSelect(['never', 'x'], [], [])).toBe(false);
    expect(tagsSelect(['never', 'x'], ['x'], [])).toBe(true);
    expect(tagsSelect(['always'], ['x'], [])).toBe(true);
    expect(tagsSelect(['always'], [], ['always'])).toBe(false);
    expect(tagsSelect(['always'], [], ['all'])).toBe(true);
    expect(tagsSelect(['y'], ['tagged'], [])).toBe(true);
    expect(tagsSelect([], ['tagged'], [])).toBe(false);
    expect(tagsSelect([], ['untagged'], [])).toBe(true);
    expect(tagsSelect(['y'], [], ['tagged'])).toBe(false);
  });
});
