/**
 * The filters and lookups real homelab roles use, with Ansible's results (expected values are what ansible-core
 * 2.14 / Jinja2 give for the same expressions).
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { createTemplar } from '../lib/vars/template.js';
import { shaCrypt } from '../lib/vars/password-hash.js';
import { encryptSops } from '../lib/vars/sops.js';
import { FACTS_SCRIPT, parseFacts } from '../lib/actions/facts.js';

const t = createTemplar();
const ev = (expr: string, vars: Record<string, unknown> = {}) => t.evaluate(expr, vars);
const rs = (s: string, vars: Record<string, unknown> = {}) => t.render(s, vars);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-filters-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const users = [
  { name: 'alice', shell: '/bin/bash', enabled: true, groups: ['wheel'], uid: 1001 },
  { name: 'bob', shell: '/bin/sh', enabled: false, groups: [], uid: 1002 },
  { name: 'carol', shell: '/bin/bash', enabled: 'yes', groups: ['wheel', 'podman'], uid: 1003 },
];

describe('filters', () => {
  it('bool', () => {
    expect(ev("'yes' | bool")).toBe(true);
    expect(ev("'False' | bool")).toBe(false);
    expect(ev("'1' | bool")).toBe(true);
    expect(ev("'off' | bool")).toBe(false);
    expect(ev('x | bool', { x: 'on' })).toBe(true);
    expect(ev("'' | bool")).toBe(false);
  });
  it('length, list, int', () => {
    expect(ev('users | length', { users })).toBe(3);
    expect(ev("'abc' | length")).toBe(3);
    expect(ev('d | length', { d: { a: 1, b: 2 } })).toBe(2);
    expect(ev("'42' | int + 1")).toBe(43);
    expect(ev("'x' | int")).toBe(0);
    expect(ev("'0x1F' | int(base=16)")).toBe(31);
    expect(ev("d.keys() | list | sort", { d: { b: 1, a: 2 } })).toEqual(['a', 'b']);
  });
  it('selectattr / rejectattr / map with tests and attribute=', () => {
    expect(ev("users | selectattr('shell', 'equalto', '/bin/bash') | map(attribute='name') | list", { users })).toEqual(['alice', 'carol']);
    expect(ev("users | selectattr('enabled') | map(attribute='name') | join(',')", { users })).toBe('alice,carol');
    expect(ev("users | selectattr('groups', 'contains', 'podman') | map(attribute='uid') | list", { users })).toEqual([1003]);
    expect(ev("users | rejectattr('enabled') | map(attribute='name') | first", { users })).toBe('bob');
    expect(ev("users | selectattr('uid', '>', 1001) | list | length", { users })).toBe(2);
    expect(ev("['1','2'] | map('int') | sum")).toBe(3);
    expect(ev("users | map(attribute='groups') | flatten | unique | sort", { users })).toEqual(['podman', 'wheel']);
    expect(ev("users | selectattr('name', 'match', '^[ab]') | map(attribute='name') | list", { users })).toEqual(['alice', 'bob']);
  });
  it('default, with boolean=true and on a missing attribute', () => {
    expect(ev("missing | default('x')")).toBe('x');
    expect(ev("'' | default('x')")).toBe('');
    expect(ev("'' | default('x', true)")).toBe('x');
    expect(ev("a.b.c | default(5)", { a: {} })).toBe(5);
    expect(ev("a | d([])", {})).toEqual([]);
  });
  it('dirname, trim, join, sort, unique, regex_escape, urlencode', () => {
    expect(ev("'/etc/pve/lxc/101.conf' | dirname")).toBe('/etc/pve/lxc');
    expect(ev("'/etc/' | dirname")).toBe('/etc');
    expect(ev("'  x y \\n' | trim")).toBe('x y');
    expect(ev("[3, 1, 2] | sort")).toEqual([1, 2, 3]);
    expect(ev("users | sort(attribute='uid', reverse=true) | map(attribute='name') | first", { users })).toBe('carol');
    expect(ev("[1, 2, 1, 3, 2] | unique")).toEqual([1, 2, 3]);
    expect(ev("['a', 'b'] | join(' ')")).toBe('a b');
    expect(ev("'1.2.3.4' | regex_escape")).toBe('1\\.2\\.3\\.4');
    expect(ev("'a b&c=d/é' | urlencode")).toBe('a%20b%26c%3Dd/%C3%A9');
    expect(ev("{'a': 'b c', 'd': 1} | urlencode")).toBe('a=b+c&d=1'); // Jinja2 quotes dict items for a query string
  });
  it('from_json, from_yaml, b64decode', () => {
    expect(ev('s | from_json', { s: '{"a": [1, true, null]}' })).toEqual({ a: [1, true, null] });
    expect(ev('s | from_yaml', { s: 'a: 1\nb: [x, y]\n' })).toEqual({ a: 1, b: ['x', 'y'] });
    expect(ev("'aGVsbG8gd29ybGQ=' | b64decode")).toBe('hello world');
    expect(ev("'hello' | b64encode | b64decode")).toBe('hello');
  });
  it('dict2items, items2dict, combine (recursive=, list_merge=)', () => {
    expect(ev("{'a': 1, 'b': 2} | dict2items")).toEqual([{ key: 'a', value: 1 }, { key: 'b', value: 2 }]);
    expect(ev("{'a': 1} | dict2items(key_name='k', value_name='v')")).toEqual([{ k: 'a', v: 1 }]);
    expect(ev("[{'key': 'a', 'value': 1}] | items2dict")).toEqual({ a: 1 });
    const a = { x: { y: 1, z: [1] }, k: 1 };
    const b = { x: { w: 2, z: [2] } };
    expect(ev('a | combine(b)', { a, b })).toEqual({ x: { w: 2, z: [2] }, k: 1 });
    expect(ev('a | combine(b, recursive=true)', { a, b })).toEqual({ x: { y: 1, w: 2, z: [2] }, k: 1 });
    expect(ev("a | combine(b, recursive=true, list_merge='append')", { a, b })).toEqual({ x: { y: 1, w: 2, z: [1, 2] }, k: 1 });
    expect(ev('[a, b, {"k": 3}] | combine', { a, b })).toEqual({ x: { w: 2, z: [2] }, k: 3 });
  });
  it('password_hash sha512 with a salt matches crypt(3) (Drepper test vectors and glibc)', () => {
    // Drepper's specification's vectors
    expect(shaCrypt('sha512', 'Hello world!', 'saltstring')).toBe('$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1');
    expect(shaCrypt('sha512', 'Hello world!', 'saltstringsaltstring', 10000)).toBe('$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.');
    expect(shaCrypt('sha512', 'we have a short salt string but not a short password', 'short', 77777)).toBe('$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0');
    expect(shaCrypt('sha512', 'a very much longer text to encrypt.  This one even stretches over morethan one line.', 'anotherlongsaltstring', 1400)).toBe('$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1');
    expect(shaCrypt('sha256', 'Hello world!', 'saltstring')).toBe('$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5');
    expect(shaCrypt('sha256', 'Hello world!', 'saltstringsaltstring', 10000)).toBe('$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA');
    // through the filter, as roles write it
    expect(ev("'Hello world!' | password_hash('sha512', 'saltstring')")).toBe('$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1');
    expect(ev("'secret' | password_hash('sha512', salt='mysalt', rounds=5000)")).toBe('$6$mysalt$UX6P1VKOf6dr0s2pg4pLNvIUB6hLXvP6M5f/Yj9hJgMPdAJ4oArvk5YUD9/XWtk1JOpVwt/JTsczMJr8sFVML1');
    const random = ev("'pw' | password_hash('sha512')") as string;
    expect(random).toMatch(/^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
  });
  it('password_hash equals the system crypt(3) for random passwords and salts', () => {
    let py = false;
    try {
      execFileSync('python3', ['-W', 'ignore', '-c', 'import crypt'], { stdio: 'ignore' });
      py = true;
    } catch {
      /* no python crypt module */
    }
    if (!py) return;
    for (let i = 0; i < 5; i++) {
      const pw = Math.random().toString(36).repeat(i + 1);
      const salt = Math.random().toString(36).slice(2, 2 + 4 + i * 3).replace(/[^a-z0-9]/g, 'x');
      const sys = execFileSync('python3', ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], "$6$" + sys.argv[2]))', pw, salt], { encoding: 'utf8' }).trim();
      expect(shaCrypt('sha512', pw, salt)).toBe(sys);
    }
  });
});

describe('lookups', () => {
  it('password: generates with chars= and length=, stores it in the file, reuses it', () => {
    const vars = { playbook_dir: tmp };
    const first = rs("{{ lookup('password', 'credentials/db chars=ascii_lowercase,digits length=24') }}", vars) as string;
    expect(first).toMatch(/^[a-z0-9]{24}$/);
    const file = path.join(tmp, 'credentials', 'db');
    expect(fs.readFileSync(file, 'utf8')).toBe(first + '\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(rs("{{ lookup('password', 'credentials/db chars=ascii_lowercase,digits length=24') }}", vars)).toBe(first);
    expect(rs("{{ lookup('ansible.builtin.password', 'credentials/db') }}", vars)).toBe(first);
    const dflt = rs("{{ lookup('password', '/dev/null') }}", vars) as string;
    expect(dflt).toMatch(/^[A-Za-z0-9.,:\-_]{20}$/);
    expect(rs("{{ lookup('password', '/dev/null length=8 chars=digits') }}", vars)).toMatch(/^\d{8}$/);
    // encrypt=: the stored line gets a salt, the hash is stable
    const h1 = rs("{{ lookup('password', 'credentials/root encrypt=sha512_crypt') }}", vars) as string;
    expect(h1).toMatch(/^\$6\$/);
    expect(rs("{{ lookup('password', 'credentials/root encrypt=sha512_crypt') }}", vars)).toBe(h1);
    expect(fs.readFileSync(path.join(tmp, 'credentials', 'root'), 'utf8')).toMatch(/^\S{20} salt=[./0-9A-Za-z]{16}\n$/);
  });
  it('vars: a variable by (computed) name, with default', () => {
    expect(rs("{{ lookup('vars', 'ct_' + name) }}", { name: 'web', ct_web: 101 })).toBe(101);
    expect(rs("{{ lookup('vars', 'nope', default='d') }}", {})).toBe('d');
    expect(() => rs("{{ lookup('vars', 'nope') }}", {})).toThrow(/nope/);
  });
  it('community.sops.sops: the decrypted file, or one value with extract=', async () => {
    const id = await generateIdentity();
    const keyFile = path.join(tmp, 'age.txt');
    fs.writeFileSync(keyFile, `${id}\n`);
    fs.mkdirSync(path.join(tmp, 'files'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'files', 'tokens.sops.yaml'), encryptSops({ api: { token: 'tok-abc' }, ids: [7, 8] }, [await identityToRecipient(id)]));
    const old = process.env['SOPS_AGE_KEY_FILE'];
    process.env['SOPS_AGE_KEY_FILE'] = keyFile;
    try {
      const vars = { playbook_dir: tmp };
      expect(rs(`{{ lookup('community.sops.sops', 'tokens.sops.yaml', extract='["api"]["token"]') }}`, vars)).toBe('tok-abc');
      expect(rs(`{{ lookup('community.sops.sops', 'tokens.sops.yaml', extract='["ids"][1]') }}`, vars)).toBe(8);
      expect(rs("{{ lookup('community.sops.sops', 'tokens.sops.yaml') | from_yaml }}", vars)).toEqual({ api: { token: 'tok-abc' }, ids: [7, 8] });
    } finally {
      if (old === undefined) delete process.env['SOPS_AGE_KEY_FILE'];
      else process.env['SOPS_AGE_KEY_FILE'] = old;
    }
  });
});

describe('facts', () => {
  it('default_ipv4.address and kernel from the facts script on this machine', () => {
    const out = execFileSync('sh', ['-c', FACTS_SCRIPT], { encoding: 'utf8' });
    const f = parseFacts(out);
    expect(f['kernel']).toBe(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
    const route = execFileSync('sh', ['-c', 'ip -4 route show default | head -n1'], { encoding: 'utf8' }).trim();
    if (route) expect((f['default_ipv4'] as Record<string, unknown>)['address']).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });
});
