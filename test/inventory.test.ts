import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigErrors, RunbookError } from '../lib/errors.js';
import { loadInventory, parseHostPattern, pyLiteral, shlexSplit, expandHostPattern } from '../lib/inventory/index.js';
import type { Inventory } from '../lib/inventory/index.js';
import { isUnsafe, loadYamlFile, parseYaml } from '../lib/yaml-load.js';
import { createTemplar } from '../lib/vars/template.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'inventory');
const CLASSIC = join(FIX, 'classic');

const tmpRoots: string[] = [];
afterAll(() => {
  for (const d of tmpRoots) rmSync(d, { recursive: true, force: true });
});

/** Write a small file tree into a fresh temp dir and return its path. */
function tree(files: Record<string, string | Buffer>): string {
  const root = mkdtempSync(join(tmpdir(), 'runbook-inv-'));
  tmpRoots.push(root);
  for (const [rel, content] of Object.entries(files)) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
  return root;
}

/** Run fn, expect ConfigErrors, return its errors as `line:col message` (file name dropped) plus the raw list. */
function configErrors(fn: () => unknown): { list: RunbookError[]; lines: string[] } {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigErrors) return { list: e.errors, lines: e.errors.map((x) => `${x.pos?.line}:${x.pos?.col} ${x.message}`) };
    if (e instanceof RunbookError) return { list: [e], lines: [`${e.pos?.line}:${e.pos?.col} ${e.message}`] };
    throw e;
  }
  throw new Error('expected ConfigErrors, nothing was thrown');
}

const HOSTS = ['bastion', 'web01.example.com', 'web02.example.com', 'web03.example.com', 'web-special', 'db-a', 'db-b'];

describe('YAML inventory with group_vars and host_vars', () => {
  const inv = loadInventory(join(CLASSIC, 'hosts.yml'));

  it('expands ranges, keeps file order, builds implicit all/ungrouped', () => {
    expect([...inv.hosts.keys()]).toEqual(HOSTS);
    expect(inv.groups.get('all')!.children).toEqual(['ungrouped', 'prod', 'staging']);
    expect(inv.groups.get('ungrouped')!.hosts).toEqual(['bastion']);
    expect(inv.groups.get('prod')!.children).toEqual(['web', 'db', 'backup']);
    expect(inv.groups.get('web')!.parents).toEqual(['prod']);
    expect(inv.groups.get('web')!.hosts).toEqual(['web01.example.com', 'web02.example.com', 'web03.example.com', 'web-special']);
    expect(inv.hosts.get('bastion')!.groups).toEqual(['all', 'ungrouped']);
    // sorted by depth, then ansible_group_priority, then name
    expect(inv.hosts.get('web01.example.com')!.groups).toEqual(['all', 'prod', 'staging', 'web']);
    expect(inv.hosts.get('db-a')!.groups).toEqual(['all', 'prod', 'db', 'backup']);
  });

  it('orders layers as Ansible: inventory group vars, group_vars/all, group_vars/*, host vars, host_vars', () => {
    const layers = inv.hostLayers('web02.example.com');
    const f = (p: string) => join(CLASSIC, p);
    expect(layers.map((l) => [l.source, l.precedence])).toEqual([
      [`${f('hosts.yml')} group all`, 'inventory file or script group vars'],
      [`${f('hosts.yml')} group prod`, 'inventory file or script group vars'],
      [`${f('hosts.yml')} group web`, 'inventory file or script group vars'],
      [f('group_vars/all.yml'), 'inventory group_vars/all'],
      [f('group_vars/prod.yml'), 'inventory group_vars/*'],
      [f('group_vars/web/main.yml'), 'inventory group_vars/*'],
      [f('group_vars/web/more.yaml'), 'inventory group_vars/*'],
    ]);
    const web = layers[2];
    expect(web.pos!('http_port')).toEqual({ file: f('hosts.yml'), line: 24, col: 24 });
    expect(layers[5].pos!('http_port')).toEqual({ file: f('group_vars/web/main.yml'), line: 2, col: 12 });
  });

  it('merges host variables with the right precedence', () => {
    expect(inv.hostVars('web02.example.com')).toEqual({
      ntp: 'gv-ntp',
      level: 'gv-web', // group_vars/web beats group_vars/prod, group_vars/all and every inventory-file group var
      port_all: 22,
      env: 'prod',
      tier: 'web', // child group beats parent group
      http_port: 8080, // group_vars/ beats inventory-file group vars
      monitored: true,
      gv_all: true, // YAML 1.1: yes
      extra: [1, 2],
      mode: 420, // YAML 1.1: 0644 is octal
    });
    const w1 = inv.hostVars('web01.example.com');
    expect(w1.env).toBe('staging-host'); // host beats group
    expect(w1.level).toBe('hv-web01'); // host_vars beats everything
    // Ansible's real order: group_vars/all beats a child group's inventory-file vars (staging sets ntp)
    expect(w1.ntp).toBe('gv-ntp');
    expect(inv.hostLayers('web01.example.com').map((l) => l.vars.ntp).filter(Boolean)).toEqual(['pool.ntp.org', 'staging-ntp', 'gv-ntp']);
    // ansible_group_priority: backup (10) is applied after db (5) though "db" sorts after "backup"
    expect(inv.hostVars('db-a').shared).toBe('from-backup');
    expect(inv.hostVars('db-b').shared).toBe('from-db');
    expect(inv.hostVars('db-a').engine).toBe('mysql'); // host_vars/db-a/main.yml beats the inventory
    expect(inv.hostVars('db-b').engine).toBe('postgres');
    expect('ansible_group_priority' in inv.hostVars('db-a')).toBe(false);
    expect(inv.hostVars('web-special')).toMatchObject({ ansible_port: 2222, role: 'special', motd: 'hello world' });
    expect(inv.hostVars('bastion')).toEqual({ ntp: 'gv-ntp', level: 'gv-all', port_all: 22, ansible_host: '10.0.0.1', gv_all: true });
  });

  it('lists its sources', () => {
    expect(inv.sources[0]).toBe(join(CLASSIC, 'hosts.yml'));
    expect(inv.sources).toContain(join(CLASSIC, 'group_vars/web/more.yaml'));
    expect(inv.sources).toContain(join(CLASSIC, 'host_vars/db-a/main.yml'));
  });
});

describe('INI inventory', () => {
  const yml = loadInventory(join(CLASSIC, 'hosts.yml'));
  const ini = loadInventory(join(CLASSIC, 'hosts.ini'));

  it('gives the same hosts, groups and IDENTICAL hostVars as the YAML one', () => {
    expect([...ini.hosts.keys()]).toEqual(HOSTS);
    for (const h of HOSTS) {
      expect(ini.hostVars(h), h).toEqual(yml.hostVars(h));
      expect(ini.hosts.get(h)!.groups, h).toEqual(yml.hosts.get(h)!.groups);
    }
    expect(ini.hostLayers('db-a').map((l) => l.source.replace(/hosts\.ini/, 'hosts.yml'))).toEqual(yml.hostLayers('db-a').map((l) => l.source));
  });

  it('keeps the position of each INI variable', () => {
    const web = ini.hostLayers('web02.example.com').find((l) => l.source.endsWith('group web'))!;
    expect(web.pos!('monitored')).toEqual({ file: join(CLASSIC, 'hosts.ini'), line: 17, col: 1 });
    const special = ini.hostLayers('web-special').find((l) => l.source.endsWith('host web-special'))!;
    expect(special.pos!('motd')?.line).toBe(11);
    expect(special.pos!('motd')?.col).toBe(31);
  });

  it('reading the directory holding both files gives the same variables', () => {
    const both = loadInventory(CLASSIC);
    for (const h of HOSTS) expect(both.hostVars(h), h).toEqual(yml.hostVars(h));
  });

  it('types values with Python literal rules, like ansible-core', () => {
    const root = tree({
      'inv.ini': [
        'h1 a=22 b=True c=yes d="[1, \'x\']" e=\'007\' f=1.5 g=0x1F h="{\'k\': None}" i=ab#comment',
        'h2:2200 s="two words" t=\'"quoted"\'',
        '[all:vars]',
        'v1 = 42',
        'v2=false',
        'v3=hello world # not a comment here',
        "v4='single'",
        'v5=0644',
      ].join('\n'),
    });
    const inv = loadInventory(join(root, 'inv.ini'));
    expect(inv.hostVars('h1')).toMatchObject({ a: 22, b: true, c: 'yes', d: [1, 'x'], e: '007', f: 1.5, g: 31, h: { k: null }, i: 'ab' });
    expect(inv.hostVars('h2')).toMatchObject({ ansible_port: 2200, s: 'two words', t: 'quoted' }); // shlex, then literal_eval, unquote twice
    expect(inv.hostVars('h2')).toMatchObject({ v1: 42, v2: 'false', v3: 'hello world # not a comment here', v4: 'single', v5: '0644' });
    expect(inv.groups.get('ungrouped')!.hosts).toEqual(['h1', 'h2']);
  });

  it('accepts children declared before their groups, and IPv6 hosts', () => {
    const root = tree({
      'inv': ['[prod:children]', 'web', '', '[web]', 'fe80::1', '[2001:db8::2]:2222', '10.1.1.1:2022', 'app[1:2]'].join('\n'),
    });
    const inv = loadInventory(join(root, 'inv'));
    expect([...inv.hosts.keys()]).toEqual(['fe80::1', '2001:db8::2', '10.1.1.1', 'app1', 'app2']);
    expect(inv.hosts.get('fe80::1')!.groups).toEqual(['all', 'prod', 'web']);
    expect(inv.hostVars('2001:db8::2')).toEqual({ ansible_port: 2222 });
    expect(inv.hostVars('10.1.1.1')).toEqual({ ansible_port: 2022 });
    expect(inv.selectHosts('fe80::1')).toEqual(['fe80::1']);
    expect(inv.selectHosts('fe80::1,2001:db8::2')).toEqual(['fe80::1', '2001:db8::2']);
    expect(inv.selectHosts('prod:!fe80::1')).toEqual(['2001:db8::2', '10.1.1.1', 'app1', 'app2']);
  });
});

describe('per-host directory inventory (hosts/NAME)', () => {
  const root = join(FIX, 'perhost');
  const inv = loadInventory(root);

  it('derives groups from each host file', () => {
    expect([...inv.hosts.keys()]).toEqual(['alpha', 'beta', 'gamma']);
    expect(inv.hosts.get('alpha')!.groups).toEqual(['all', 'monitoring', 'prod', 'web']);
    expect(inv.hosts.get('beta')!.groups).toEqual(['all', 'prod', 'db']);
    expect(inv.hosts.get('gamma')!.groups).toEqual(['all', 'ungrouped']);
    expect(inv.groups.get('monitoring')!.parents).toEqual(['all']);
    expect(inv.selectHosts('prod')).toEqual(['alpha', 'beta']);
  });

  it('uses host files as inventory host vars, below host_vars/', () => {
    expect(inv.hostVars('alpha')).toEqual({ env: 'prod', http_port: 8080, ansible_host: '192.0.2.10' });
    expect(inv.hostVars('beta')).toEqual({ env: 'prod', disk: 200 });
    expect(inv.hostLayers('beta').map((l) => l.precedence)).toEqual([
      'inventory file or script group vars',
      'inventory file or script host vars',
      'inventory host_vars/*',
    ]);
    expect(inv.hostLayers('beta')[1].source).toBe(`${join(root, 'hosts/beta.yml')} host beta`);
    expect(inv.hostVars('gamma')).toEqual({});
  });

  it('reports a host defined twice and a bad groups list', () => {
    const r = tree({ 'hosts/a.yml': 'x: 1\n', 'hosts/a/vars.yml': 'x: 2\n', 'hosts/b.yml': 'groups: web\nroles:\n  - 12\n' });
    const { lines } = configErrors(() => loadInventory(r));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^1:1 host "a" is defined by both/);
    expect(lines[1]).toBe('3:5 "roles" entries must be group names, got 12');
  });
});

describe('host patterns', () => {
  const inv = loadInventory(join(CLASSIC, 'hosts.yml'));
  const sel = (p: string) => inv.selectHosts(p);
  const W = ['web01.example.com', 'web02.example.com', 'web03.example.com'];

  it('all, groups, hosts, globs, regexes', () => {
    expect(sel('all')).toEqual(HOSTS);
    expect(sel('*')).toEqual(HOSTS);
    expect(sel('web')).toEqual([...W, 'web-special']);
    expect(sel('prod')).toEqual([...W, 'web-special', 'db-a', 'db-b']);
    expect(sel('ungrouped')).toEqual(['bastion']);
    expect(sel('db-b')).toEqual(['db-b']);
    expect(sel('web0*')).toEqual(W);
    expect(sel('*.example.com')).toEqual(W);
    expect(sel('web0[12].example.com')).toEqual(W.slice(0, 2));
    expect(sel('db-?')).toEqual(['db-a', 'db-b']);
    expect(sel('~web0[12]')).toEqual(W.slice(0, 2));
    expect(sel('~(db|bas)')).toEqual(['bastion', 'db-a', 'db-b']);
    expect(sel('~w.{2}\\d{1,2}')).toEqual(W);
  });

  it('unions, intersections and exclusions in Ansible order', () => {
    expect(sel('db:web')).toEqual([...W, 'web-special', 'db-a', 'db-b']);
    expect(sel('db,bastion')).toEqual(['bastion', 'db-a', 'db-b']);
    expect(sel('db, bastion ,')).toEqual(['bastion', 'db-a', 'db-b']);
    expect(sel('prod:&staging')).toEqual(['web01.example.com']);
    expect(sel('prod:!web')).toEqual(['db-a', 'db-b']);
    expect(sel('!web')).toEqual(['bastion', 'db-a', 'db-b']);
    expect(sel('&db')).toEqual(['db-a', 'db-b']);
    // exclusions apply last, intersections after unions, whatever the written order
    expect(sel('!web01.example.com:&prod:web')).toEqual(['web02.example.com', 'web03.example.com', 'web-special']);
    expect(sel('web,db:&backup')).toEqual(['db-a']);
    expect(sel('web:db:web')).toEqual([...W, 'web-special', 'db-a', 'db-b']);
  });

  it('subscripts and slices', () => {
    expect(sel('web[0]')).toEqual(['web01.example.com']);
    expect(sel('web[-1]')).toEqual(['web-special']);
    expect(sel('web[1:2]')).toEqual(['web02.example.com', 'web03.example.com']);
    expect(sel('web[2:]')).toEqual(['web03.example.com', 'web-special']);
    expect(sel('prod[0]:db[0]')).toEqual(['web01.example.com', 'db-a']);
    expect(sel('web[99]')).toEqual([]);
  });

  it('no match is an empty list, a malformed pattern a bad_pattern error', () => {
    expect(sel('nomatch')).toEqual([]);
    expect(sel('nomatch*:web[0]')).toEqual(['web01.example.com']);
    for (const bad of ['a:&', '[', 'web[', 'a]', '~(', '', '  ', '!', 'a:!', 'a:&!b', 'web[1-2]', '~']) {
      let err: unknown;
      try {
        sel(bad);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(bad)).toBeInstanceOf(RunbookError);
      expect((err as RunbookError).code).toBe('bad_pattern');
    }
    expect(parseHostPattern('a:&b:!c[1:2]')).toEqual([
      { op: 'union', expr: 'a', text: 'a' },
      { op: 'intersection', expr: 'b', text: '&b' },
      { op: 'exclusion', expr: 'c', text: '!c[1:2]', subscript: { start: 1, end: 2 } },
    ]);
  });
});

describe('inventory errors carry file:line:col and are all reported together', () => {
  it('YAML inventory structure errors and a non-mapping vars file', () => {
    const root = tree({
      'hosts.yml': [
        'all:', //                     1
        '  hosts:', //                 2
        '    ok1:', //                 3
        '    bad1: just-a-string', //  4
        '  children:', //              5
        '    web:', //                 6
        '      host:', //              7
        '        x:', //               8
        '    db:', //                  9
        '      hosts: [d1, d2]', //    10
        'oops: 42', //                 11
        'ok1:', //                     12
        '  hosts:', //                 13
        '    y:', //                   14
      ].join('\n'),
      'group_vars/web.yml': '# comment\n- a\n- b\n',
      'host_vars/y.yml': 'a: 1\nb: [\n',
    });
    const { list, lines } = configErrors(() => loadInventory(join(root, 'hosts.yml')));
    expect(lines).toEqual(
      expect.arrayContaining([
        '4:11 host "bad1" must have a mapping of variables or nothing, got a string ("just-a-string")',
        '7:7 unknown key "host" in group "web" (expected hosts, children or vars)',
        '10:14 "hosts" of group "db" must be a mapping, got a list (write "hosts:" entries as "name:" keys, not "- name")',
        expect.stringMatching(/^11:1 unknown top-level key "oops"/),
        '2:1 a vars file must be a mapping of variables, got a list',
        expect.stringMatching(/^3:5 "ok1" is both a host and a group \(group defined at .*hosts\.yml:12\)$/),
      ]),
    );
    expect(list.find((e) => e.message.includes('vars file'))!.pos!.file).toBe(join(root, 'group_vars/web.yml'));
    const syntax = list.find((e) => e.code === 'yaml_syntax')!;
    expect(syntax.pos!.file).toBe(join(root, 'host_vars/y.yml'));
    expect(list).toHaveLength(7);
  });

  it('INI errors, all of them, with lines', () => {
    const root = tree({
      'inv.ini': [
        '[web]', //                     1
        'h1 ansible_port=22 oops', //   2
        '[web:bogus]', //               3
        '[ghost:vars]', //              4
        'x=1', //                       5
        '[prod:children]', //           6
        'web', //                       7
        'missing', //                   8
        '[db]', //                      9
        "h2 'unclosed", //              10
        '[bad group]', //               11
      ].join('\n'),
    });
    const { lines } = configErrors(() => loadInventory(join(root, 'inv.ini')));
    expect(lines).toEqual([
      '2:20 expected key=value host variable assignment, got "oops"',
      '3:1 section [web:bogus] has unknown type "bogus" (expected vars or children)',
      '10:1 cannot parse host line: No closing quotation',
      '11:1 invalid section "[bad group]": no spaces or other invalid characters are allowed in a section name',
      '4:1 section [ghost:vars] is for a group that is defined nowhere: ghost',
      '8:1 section [prod:children] includes undefined group "missing"',
    ]);
  });

  it('a loop of groups, an inventory plugin config, a missing path', () => {
    const root = tree({
      'loop.ini': '[a:children]\nb\n[b:children]\na\n',
      'plugin.yml': 'plugin: constructed\n',
    });
    expect(configErrors(() => loadInventory(join(root, 'loop.ini'))).lines).toEqual(['4:1 adding group "a" as a child of "b" creates a loop']);
    expect(configErrors(() => loadInventory(join(root, 'plugin.yml'))).lines).toEqual(['1:9 inventory plugin configurations ("plugin: constructed") are not supported']);
    const missing = configErrors(() => loadInventory(join(root, 'nope')));
    expect(missing.list[0].code).toBe('missing_file');
  });

  it('group_vars given twice for one group', () => {
    const root = tree({ 'hosts': '[web]\nw1\n', 'group_vars/web.yml': 'a: 1\n', 'group_vars/web/x.yml': 'a: 2\n' });
    const { lines } = configErrors(() => loadInventory(join(root, 'hosts')));
    expect(lines[0]).toMatch(/^1:1 vars for "web" are defined by both .*group_vars\/web and .*group_vars\/web\.yml; keep one$/);
  });

  it('warns (no error) about vars files for unknown groups and hosts', () => {
    const root = tree({ 'hosts': '[web]\nw1\n', 'group_vars/wbe.yml': 'a: 1\n', 'host_vars/w2.yml': 'a: 1\n' });
    const inv = loadInventory(join(root, 'hosts'));
    expect(inv.warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/no group "wbe" in the inventory/),
      expect.stringMatching(/no host "w2" in the inventory/),
    ]);
  });
});

describe('yaml-load', () => {
  it('reads YAML 1.1 as PyYAML/Ansible does', () => {
    const f = parseYaml(
      ['a: yes', 'b: 0644', 'c: on', 'd: n', 'e: 1e3', 'f: 1.0e+3', 'g: 2001-12-14', 'base: &b {x: 1, y: 2}', 'm:', '  <<: *b', '  y: 3'].join('\n'),
      'x.yml',
    );
    expect(f.value).toEqual({ a: true, b: 420, c: true, d: 'n', e: '1e3', f: 1000, g: '2001-12-14', base: { x: 1, y: 2 }, m: { x: 1, y: 3 } });
    // positions through merge keys and aliases
    expect(f.pos(['m', 'x'])).toEqual({ file: 'x.yml', line: 8, col: 14 });
    expect(f.pos(['m', 'y'])).toEqual({ file: 'x.yml', line: 11, col: 6 });
  });

  it('gives the position of any value, key, or nearest ancestor', () => {
    const f = parseYaml('top:\n  list:\n    - one\n    - k: v\n  empty:\n', 'p.yml');
    expect(f.pos(['top', 'list', 1, 'k'])).toEqual({ file: 'p.yml', line: 4, col: 10 });
    expect(f.keyPos(['top', 'list', 1, 'k'])).toEqual({ file: 'p.yml', line: 4, col: 7 });
    expect(f.pos(['top', 'list', 0])).toEqual({ file: 'p.yml', line: 3, col: 7 });
    expect(f.pos(['top', 'empty'])).toEqual({ file: 'p.yml', line: 5, col: 3 }); // null value: the key
    expect(f.exactPos(['top', 'nope'])).toBeUndefined();
    expect(f.pos(['top', 'list', 7])).toEqual({ file: 'p.yml', line: 3, col: 5 }); // nearest existing: the list
    expect(f.posOf(f.node(['top', 'list']))).toEqual({ file: 'p.yml', line: 3, col: 5 });
  });

  it('keeps !vault and !unsafe loadable', () => {
    const f = parseYaml('pw: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\nraw: !unsafe "{{ not_a_template }}"\nplain: x\n', 'v.yml');
    expect(f.value).toMatchObject({ pw: { __vault__: '$ANSIBLE_VAULT;1.1;AES256\n6162\n' }, plain: 'x' });
    // !unsafe text renders to itself, once, and is never a template
    expect(createTemplar().render((f.value as Record<string, unknown>)['raw'], {})).toBe('{{ not_a_template }}');
    expect(isUnsafe(f, ['raw'])).toBe(true);
    expect(isUnsafe(f, ['plain'])).toBe(false);
  });

  it('collects every syntax error with short messages and positions', () => {
    const src = ['a: 1', 'b:', '  c: 2', 'a: 3', 'msg: {{ name }}', 'ok: "{{ name }}"', 'items:', '  - {{ x }}', 'tag: !nope x', 'd:', '\t- e'].join('\n');
    const { list, lines } = configErrors(() => parseYaml(src, 's.yml'));
    expect(lines).toEqual([
      '4:1 duplicate key "a"',
      '5:6 found unquoted "{{": quote the whole value ("{{ name }}")',
      '8:5 found unquoted "{{": quote the whole value ("{{ x }}")',
      '9:6 unknown tag !nope',
      '11:1 tabs are not allowed for indentation',
    ]);
    expect(list.every((e) => e.code === 'yaml_syntax' && e.pos?.file === 's.yml')).toBe(true);
  });

  it('points at the {{ trap even when it breaks the line', () => {
    expect(configErrors(() => parseYaml('cmd: {{ a }} --force\n', 't.yml')).lines).toEqual(['1:6 found unquoted "{{": quote the whole value ("{{ a }} --force")']);
  });

  it('refuses binary files, huge files and directories with a clear error', () => {
    const root = tree({ 'bin.yml': Buffer.from([0x61, 0x3a, 0x0a, 0x62, 0x00, 0x01]), 'latin1.yml': Buffer.from([0x61, 0x3a, 0x20, 0xe9, 0x0a]) });
    const bin = configErrors(() => loadYamlFile(join(root, 'bin.yml')));
    expect(bin.lines).toEqual(['2:2 binary file (contains a NUL byte), not text']);
    expect(configErrors(() => loadYamlFile(join(root, 'latin1.yml'))).lines).toEqual(['1:1 not valid UTF-8 text']);
    const big = join(root, 'big.yml');
    writeFileSync(big, Buffer.alloc(10 * 1024 * 1024 + 1, 0x20));
    const e = configErrors(() => loadYamlFile(big));
    expect(e.lines[0]).toMatch(/^1:1 file too large to be YAML configuration \(10\.0 MB; limit 10 MB\)$/);
    expect(configErrors(() => loadYamlFile(root)).list[0].code).toBe('missing_file');
    expect(configErrors(() => loadYamlFile(join(root, 'none.yml'))).list[0].code).toBe('missing_file');
  });

  it('empty document is null, multiple documents are an error', () => {
    expect(parseYaml('# nothing\n', 'e.yml').value).toBeNull();
    expect(configErrors(() => parseYaml('a: 1\n---\nb: 2\n', 'm.yml')).lines).toEqual(['2:1 more than one YAML document in the file (only one is allowed)']);
  });
});

describe('helpers', () => {
  it('pyLiteral follows ast.literal_eval', () => {
    expect(pyLiteral('12')).toBe(12);
    expect(pyLiteral('-3')).toBe(-3);
    expect(pyLiteral('1_000')).toBe(1000);
    expect(pyLiteral('0o17')).toBe(15);
    expect(pyLiteral('.5')).toBe(0.5);
    expect(pyLiteral('1e3')).toBe(1000);
    expect(pyLiteral('None')).toBeNull();
    expect(pyLiteral('(1, 2)')).toEqual([1, 2]);
    expect(pyLiteral('(1)')).toBe(1);
    expect(pyLiteral('{1, 2}')).toEqual([1, 2]);
    expect(pyLiteral("'a' \"b\"")).toBe('ab');
    expect(pyLiteral("'tab\\there'")).toBe('tab\there');
    expect(pyLiteral("r'a\\n'")).toBe('a\\n');
    for (const s of ['true', 'yes', '0644', '10.0.0.1', '1j', 'foo bar', '[1,', "'open", 'a=b', '']) expect(pyLiteral(s), s).toBe(s);
  });

  it('shlexSplit and host ranges', () => {
    expect(shlexSplit(`h a="x y" b='q"r' c=d\\ e f#g h`)).toEqual(['h', 'a=x y', 'b=q"r', 'c=d e', 'f']);
    expect(expandHostPattern('web[01:03].x').hosts).toEqual(['web01.x', 'web02.x', 'web03.x']);
    expect(expandHostPattern('db-[a:c]').hosts).toEqual(['db-a', 'db-b', 'db-c']);
    expect(expandHostPattern('n[0:6:3]-[1:2]').hosts).toEqual(['n0-1', 'n0-2', 'n3-1', 'n3-2', 'n6-1', 'n6-2']);
    expect(expandHostPattern('h[:2]:2222')).toEqual({ hosts: ['h0', 'h1', 'h2'], port: 2222 });
    expect(expandHostPattern('fe80::1:2')).toEqual({ hosts: ['fe80::1:2'], port: undefined });
    expect(() => expandHostPattern('w[1:10]x[01:3]')).toThrow(/equal-length/);
  });
});

export type { Inventory };
