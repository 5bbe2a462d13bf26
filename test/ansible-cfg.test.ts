/**
 * ansible.cfg in the working directory (or ANSIBLE_CONFIG) is honoured, with runbook's own flags winning; proven by
 * real runs against 2 lab hosts over SSH.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { loadAnsibleCfg, parseIni } from '../lib/cli/ansible-cfg.js';
import { cliAsync, events } from './helpers.js';

let lab: Lab;
const base = `/tmp/rbk-cfg-${process.pid}`;
const repo = path.join(base, 'repo');

function writeRepo(cfg: string, hostVars: Record<string, unknown> = {}): void {
  fs.mkdirSync(path.join(repo, 'myroles', 'probe', 'tasks'), { recursive: true });
  fs.writeFileSync(path.join(repo, 'ansible.cfg'), cfg);
  const hosts = lab.hosts.map((h) => `    ${h.name}:\n      ansible_host: ${h.address}\n      ansible_port: ${h.port}\n${Object.entries(hostVars).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}\n`).join('')}`).join('');
  fs.writeFileSync(path.join(repo, 'hosts.yml'), `all:\n  hosts:\n${hosts}`);
  fs.writeFileSync(
    path.join(repo, 'myroles', 'probe', 'tasks', 'main.yml'),
    `- name: whoami
  command: id -un
  register: who
  changed_when: false
- name: record
  copy:
    dest: "${base}/{{ inventory_hostname }}.txt"
    content: "user={{ who.stdout }} facts={{ ansible_kernel is defined }}\\n"
- name: slow
  command: sleep 1
  changed_when: false
`,
  );
  fs.writeFileSync(path.join(repo, 'site.yml'), '- hosts: all\n  roles: [probe]\n');
}

const CFG = () => `# a repository's ansible.cfg
[defaults]
inventory = ./hosts.yml   ; inline comment, as configparser strips it
roles_path = ./nothing-here:./myroles
forks = 1
gathering = explicit
remote_user = root
private_key_file = ${lab.keyFile}
host_key_checking = False

[diff]
always = true

[privilege_escalation]
become = true
become_user = nobody
become_method = sudo
`;

beforeAll(async () => {
  lab = await Lab.create({ name: 'cfg', hosts: 2 });
  fs.mkdirSync(base, { recursive: true });
  fs.chmodSync(base, 0o1777);
});

afterAll(async () => {
  await lab?.destroy();
  fs.rmSync(base, { recursive: true, force: true });
});

describe('INI parsing', () => {
  it('sections, = and :, inline ; comments, continuation lines, relative paths from the file', () => {
    const ini = parseIni('[defaults]\n# c\nforks: 7 ; seven\nroles_path = a\n  b\n', '/x/ansible.cfg');
    expect(ini['defaults']!['forks']!.value).toBe('7');
    expect(ini['defaults']!['roles_path']!.value).toBe('a\nb');
    fs.mkdirSync(base, { recursive: true });
    const f = path.join(base, 'unit.cfg');
    fs.writeFileSync(f, '[defaults]\nroles_path = roles:~/r\ninventory = inv/hosts, other\n');
    const c = loadAnsibleCfg(f);
    expect(c.rolesPath).toEqual([path.join(base, 'roles'), path.join(process.env['HOME']!, 'r')]);
    expect(c.inventory).toEqual([path.join(base, 'inv/hosts'), path.join(base, 'other')]);
  });
  it('bad values name the file and line', () => {
    const f = path.join(base, 'bad.cfg');
    fs.writeFileSync(f, '[defaults]\nforks = many\n');
    expect(() => loadAnsibleCfg(f)).toThrow(/forks must be a positive integer/);
    try {
      loadAnsibleCfg(f);
    } catch (e) {
      expect((e as { pos: unknown }).pos).toEqual({ file: f, line: 2, col: 1 });
    }
    fs.writeFileSync(f, 'forks = 2\n');
    expect(() => loadAnsibleCfg(f)).toThrow(/outside any \[section\]/);
  });
});

describe('ansible.cfg over SSH on 2 lab hosts', () => {
  it('inventory, roles_path, remote_user, private_key_file, host_key_checking, gathering, diff, forks and become come from ./ansible.cfg', async () => {
    writeRepo(CFG());
    const t0 = Date.now();
    const r = await cliAsync(['apply', 'site.yml', '--format', 'json'], { cwd: repo });
    const took = Date.now() - t0;
    expect(r.code, r.stderr + r.stdout).toBe(0);
    for (const h of lab.hosts) {
      // become_user=nobody through sudo; gathering=explicit: no facts
      expect(fs.readFileSync(path.join(base, `${h.name}.txt`), 'utf8')).toBe('user=nobody facts=False\n');
    }
    const ev = events(r.stdout);
    expect(ev.some((e) => e.event === 'task:start' && e.name === 'Gathering Facts')).toBe(false);
    // diff = true: the copy's diff is in the results
    const rec = ev.filter((e) => e.event === 'task:result' && e.task === 'record');
    expect(rec).toHaveLength(2);
    for (const e of rec) expect(e.diff?.[0]?.after).toContain('user=nobody');
    // forks = 1: the two `sleep 1` ran one after the other (and the whoami probes too)
    expect(took).toBeGreaterThan(2000);
  });

  it("runbook's flags win: -f, -i, and host variables win over remote_user/become", async () => {
    writeRepo(CFG(), { ansible_become_user: 'root' });
    const other = path.join(repo, 'other.yml');
    const h0 = lab.hosts[0]!;
    fs.writeFileSync(other, `all:\n  hosts:\n    ${h0.name}:\n      ansible_host: ${h0.address}\n      ansible_port: ${h0.port}\n      ansible_become_user: root\n`);
    const r = await cliAsync(['apply', 'site.yml', '--format', 'json', '-i', other, '-f', '5'], { cwd: repo });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const hosts = new Set(events(r.stdout).filter((e) => e.event === 'task:result').map((e) => e.host));
    expect([...hosts]).toEqual([lab.hosts[0]!.name]);
    expect(fs.readFileSync(path.join(base, `${lab.hosts[0]!.name}.txt`), 'utf8')).toBe('user=root facts=False\n');
  });

  it('ANSIBLE_CONFIG names the file; its remote_user is used (a wrong one makes the host unreachable)', async () => {
    writeRepo(CFG());
    const alt = path.join(base, 'alt.cfg');
    fs.writeFileSync(alt, CFG().replace('remote_user = root', 'remote_user = nosuchuser').replace('inventory = ./hosts.yml', `inventory = ${path.join(repo, 'hosts.yml')}`).replace('./myroles', path.join(repo, 'myroles')));
    const r = await cliAsync(['apply', 'site.yml', '--format', 'json'], { cwd: repo, env: { ANSIBLE_CONFIG: alt } });
    expect(r.code).toBe(4);
    expect(events(r.stdout).filter((e) => e.event === 'host:unreachable')).toHaveLength(2);
    // host_key_checking = True and no known_hosts for the lab: refused, not silently accepted
    fs.writeFileSync(alt, CFG().replace('host_key_checking = False', 'host_key_checking = True').replace('inventory = ./hosts.yml', `inventory = ${path.join(repo, 'hosts.yml')}`).replace('./myroles', path.join(repo, 'myroles')));
    const k = await cliAsync(['apply', 'site.yml', '--format', 'json'], { cwd: repo, env: { ANSIBLE_CONFIG: alt, HOME: base } });
    expect(k.code).toBe(4);
    expect(k.stdout + k.stderr).toMatch(/host key/i);
  });
});
