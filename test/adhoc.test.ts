/**
 * Ad-hoc commands against real hosts: `runbook role ROLE PATTERN` and `runbook run PATTERN -m/-a | -- CMD` in the lab
 * (real sshd, real podman), and the pre-contact checks they share with `apply`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { cli, cliAsync, events, ROOT } from './helpers.js';

const FIX = path.join(ROOT, 'test/fixtures/adhoc');
const changed = (stdout: string) => events(stdout).filter((e) => e.event === 'task:result' && e.status === 'changed');
const results = (stdout: string) => events(stdout).filter((e) => e.event === 'task:result');

describe('role and run before any host is contacted', () => {
  it('role --help / --describe print the arguments from meta/argument_specs.yml', () => {
    const r = cli(['role', 'podman-network', '--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/podman_network_subnet_v4\s+\(str; optional; default: "10\.89\.0\.0\/24"\)/);
    expect(r.stdout).toMatch(/Private \(RFC 1918\) IPv4 subnet/);
    const j = cli(['role', 'greeter', '--describe', '--format', 'json'], { cwd: FIX });
    expect(j.code, j.stderr).toBe(0);
    const lines = events(j.stdout);
    expect(lines.find((l) => l.argument === 'greeter_path')).toMatchObject({ type: 'path', required: true, description: 'Where the greeting file is written.' });
  });

  it('a missing required argument or a wrong type is exit 1 with the spec description; unknown role and bad args too', () => {
    // the inventory's only host is unroutable (TEST-NET-1): contacting it would hang, not fail fast
    const r = cli(['role', 'greeter', 'all', '-i', 'inventory.yml', '--format', 'json'], { cwd: FIX, timeoutMs: 20_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/required argument "greeter_path" is missing \(Where the greeting file is written\.\)/);
    expect(r.stderr).toMatch(/no host was contacted/);
    expect(events(r.stdout)).toEqual([]);
    const t = cli(['role', 'podman-network', 'all', '-i', path.join(FIX, 'inventory.yml'), '-e', 'podman_network_recreate=maybe'], { timeoutMs: 20_000 });
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/"podman_network_recreate" must be of type bool.*Replace a network that exists/);
    expect(cli(['role', 'nope', 'all', '-i', path.join(FIX, 'inventory.yml')]).stderr).toMatch(/role "nope" not found/);
    const m = cli(['run', 'all', '-i', path.join(FIX, 'inventory.yml'), '-m', 'copy', '-a', 'bogus=1'], { timeoutMs: 20_000 });
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/unknown argument "bogus" for module copy/);
    expect(cli(['run', 'all', '-i', path.join(FIX, 'inventory.yml'), '-m', 'cpy', '-a', 'x=1']).stderr).toMatch(/unknown module "cpy" \(did you mean "copy"\?\)/);
  });

  it('run on localhost: a controller-side action with YAML arguments', () => {
    const r = cli(['run', 'localhost', '-i', path.join(FIX, 'inventory.yml'), '-m', 'debug', '-a', '{msg: "hi {{ inventory_hostname }}"}', '--format', 'json'], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(results(r.stdout)).toMatchObject([{ host: 'localhost', status: 'ok' }]);
    expect(JSON.stringify(results(r.stdout)[0])).toContain('hi localhost');
  });
});

describe('inventory, vars, roles, modules (no host contacted)', () => {
  const INV = path.join(ROOT, 'test/fixtures/inventory/classic/hosts.yml');
  it('inventory --list has _meta.hostvars and each group with hosts/children/vars', () => {
    const r = cli(['inventory', '-i', INV, '--list', '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d._meta.hostvars['web02.example.com']).toMatchObject({ level: 'gv-web', http_port: 8080, env: 'prod' });
    expect(d.all.children).toEqual(['ungrouped', 'prod', 'staging']);
    expect(d.ungrouped.hosts).toEqual(['bastion']);
    expect(d.prod.children).toEqual(['web', 'db', 'backup']);
    expect(d.web.hosts).toEqual(['web01.example.com', 'web02.example.com', 'web03.example.com', 'web-special']);
    expect(d.web.vars).toMatchObject({ http_port: 8080, tier: 'web' });
    expect(d.staging.vars).toEqual({ ntp: 'staging-ntp' });
  });
  it('inventory --graph and --host', () => {
    const g = cli(['inventory', '-i', INV, '--graph']);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout).toContain('@all:\n  |--@ungrouped:\n  |  |--bastion\n  |--@prod:\n  |  |--@web:\n  |  |  |--web01.example.com');
    expect(g.stdout.match(/bastion/g)).toHaveLength(1);
    const h = cli(['inventory', '-i', INV, '--host', 'web01.example.com']);
    expect(JSON.parse(h.stdout)).toMatchObject({ level: 'hv-web01', env: 'staging-host' });
    expect(cli(['inventory', '-i', INV, '--host', 'nope']).code).toBe(1);
  });
  it('vars HOST NAME names the winning source and what it overrides', () => {
    const r = cli(['vars', 'web01.example.com', 'http_port', '-i', INV]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^http_port = 8080 {3}\(from: \S*group_vars\/web\/main\.yml line 2; overrides: \S*hosts\.yml group web = 80\)$/m);
    const j = cli(['vars', 'web01.example.com', 'level', '-i', INV, '-e', 'level=cli', '--format', 'json']);
    expect(events(j.stdout)).toMatchObject([{ name: 'level', value: 'cli', level: 'extra vars', overrides: expect.arrayContaining([expect.objectContaining({ value: 'hv-web01' })]) }]);
    expect(cli(['vars', 'web01.example.com', 'nosuch', '-i', INV]).code).toBe(1);
  });
  it('roles and modules', () => {
    const r = cli(['roles']);
    expect(r.stdout).toMatch(/^podman-network\s+A dual-stack podman bridge network/m);
    const m = cli(['modules', '--format', 'json']);
    const copy = events(m.stdout).find((e) => e.name === 'copy');
    expect(copy?.arguments).toContainEqual({ name: 'dest', required: true });
  });
});

describe('role and run in the lab', () => {
  let lab: Lab;
  let inv: string;
  beforeAll(async () => {
    lab = await Lab.create({ name: 'adhoc', hosts: 2, internet: false, podman: true });
    inv = lab.inventoryFile;
  }, 300_000);
  afterAll(async () => {
    await lab?.destroy();
  });

  const host2 = () => lab.hosts[1]!;
  const roleArgs = () => [
    'role', 'podman-network', host2().name, '-i', inv, '--format', 'json',
    '-e', 'podman_network_name=adhocnet',
    '-e', 'podman_network_subnet_v4=10.77.0.0/24',
    '-e', 'podman_network_subnet_v6=fd12:3456:789a::/64',
    '-e', 'podman_network_systemd=false',
  ];

  it('applies the podman-network role ad hoc with other subnets, then converged', async () => {
    const r = await cliAsync(roleArgs(), { timeoutMs: 180_000 });
    expect(r.code, r.stdout.slice(-3000) + r.stderr).toBe(0);
    expect(new Set(results(r.stdout).map((e) => e.host))).toEqual(new Set([host2().name]));
    expect(changed(r.stdout).length).toBeGreaterThan(0);
    const net = JSON.parse((await lab.exec(host2(), ['podman', 'network', 'inspect', 'adhocnet', '--format', 'json'])).stdout)[0];
    expect(net.subnets.map((s: { subnet: string }) => s.subnet).sort()).toEqual(['10.77.0.0/24', 'fd12:3456:789a::/64']);
    // host 1 was not matched: untouched
    expect((await lab.exec(lab.hosts[0]!, ['podman', 'network', 'exists', 'adhocnet'])).code).not.toBe(0);

    const again = await cliAsync(roleArgs(), { timeoutMs: 180_000 });
    expect(again.code, again.stderr).toBe(0);
    expect(changed(again.stdout).map((e) => `${e.host}: ${e.task}`)).toEqual([]);
  });

  it('run -m command -a and -- CMD report per host', async () => {
    const r = await cliAsync(['run', 'lab', '-i', inv, '-m', 'command', '-a', 'echo hi', '--format', 'json'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const res = results(r.stdout).filter((e) => e.task === 'output');
    expect(res.map((e) => e.host).sort()).toEqual(lab.hosts.map((h) => h.name).sort());
    for (const e of res) expect(e.output).toBe('hi');

    const u = await cliAsync(['run', 'lab', '-i', inv, '--format', 'json', '--', 'uname', '-n'], { timeoutMs: 120_000 });
    expect(u.code, u.stderr).toBe(0);
    const ures = results(u.stdout);
    expect(ures.filter((e) => e.status === 'changed')).toHaveLength(2);
    expect(Object.fromEntries(ures.filter((e) => e.task === 'output').map((e) => [e.host, e.output]))).toEqual(
      Object.fromEntries(lab.hosts.map((h) => [h.name, expect.any(String)])),
    );

    const plain = await cliAsync(['run', 'lab', '-i', inv, '--format', 'plain', '-m', 'shell', '-a', 'echo from-$(hostname)'], { timeoutMs: 120_000 });
    expect(plain.code, plain.stderr).toBe(0);
    // ansible's ad hoc lines: "host | CHANGED | rc=0 >>" and the output
    for (const h of lab.hosts) expect(plain.stdout).toMatch(new RegExp(`^${h.name} \\| CHANGED \\| rc=0 >>\nfrom-`, 'm'));
  });

  // a path of this lab only (the hosts share the controller's /tmp)
  const target = () => path.join(lab.dir, 'adhoc-check.txt');
  it('run -m copy --check reports the change and changes nothing', async () => {
    const r = await cliAsync(['run', 'lab', '-i', inv, '--check', '--diff', '--format', 'json', '-m', 'copy', '-a', `dest=${target()} content=hello`], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(changed(r.stdout).map((e) => e.host).sort()).toEqual(lab.hosts.map((h) => h.name).sort());
    for (const h of lab.hosts) expect((await lab.exec(h, ['test', '-e', target()])).code).not.toBe(0);
    const real = await cliAsync(['run', 'lab', '-i', inv, '--format', 'json', '-m', 'copy', '-a', `dest=${target()} content=hello`], { timeoutMs: 120_000 });
    expect(real.code, real.stderr).toBe(0);
    expect((await lab.exec(host2(), ['cat', target()])).stdout).toBe('hello');
  });
});
