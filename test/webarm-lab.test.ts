/**
 * The web-arm scenario end to end: playbooks/web-arm.yml applied over SSH to a lab host with real podman and
 * netavark, a v6-only "internet" and the host's global IPv6 on its uplink. Every acceptance criterion that can be
 * checked in the lab is asserted against the host itself, not against runbook's own report.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { webArmLabInventory } from '../lib/lab/webarm.js';
import { cliAsync, events, ROOT } from './helpers.js';

const PLAYBOOK = path.join(ROOT, 'playbooks/web-arm.yml');
let lab: Lab;
let inv: string;
let repo: string;

const changed = (stdout: string) => events(stdout).filter((e) => e.event === 'task:result' && e.status === 'changed');

beforeAll(async () => {
  lab = await Lab.create({ name: 'webarm', hosts: 1, internet: true, podman: true });
  inv = path.join(lab.dir, 'web-arm-lab.yml');
  fs.writeFileSync(inv, webArmLabInventory(lab));
  repo = path.join(lab.dir, 'repo');
  fs.mkdirSync(path.join(repo, 'docs/adr'), { recursive: true });
  fs.writeFileSync(path.join(repo, 'docs/adr/0010-host-ipv6.md'), '# 0010. Host IPv6\n');
}, 300_000);

afterAll(async () => {
  await lab?.destroy();
});

describe('web-arm on a lab host', () => {
  const host = () => lab.hosts[0]!;
  const sh = async (cmd: string) => lab.exec(host(), ['sh', '-c', cmd]);

  it('applies: forwarding, the dual-stack network, the oneshot, ADR 0011, and NAT66 verified', async () => {
    // the default network is synthesised by podman (its "created" changes at every inspect): compare the rest
    const defaultNet = async () => {
      const n = JSON.parse((await sh('podman network inspect podman --format json')).stdout)[0];
      delete n.created;
      return n;
    };
    const defaultNetBefore = await defaultNet();
    const r = await cliAsync(['apply', PLAYBOOK, '-i', inv, '--format', 'json', '-e', `web_adr_repo=${repo}`], { timeoutMs: 240_000 });
    expect(r.code, r.stdout.slice(-3000) + r.stderr).toBe(0);

    // net.ipv6.conf.all.forwarding is 1, live and persisted; accept_ra untouched
    expect((await sh('cat /proc/sys/net/ipv6/conf/all/forwarding')).stdout.trim()).toBe('1');
    expect((await sh('cat /etc/sysctl.d/90-ipv6-forwarding.conf')).stdout).toMatch(/^net\.ipv6\.conf\.all\.forwarding = 1$/m);

    // the network exists with exactly both subnets
    const net = JSON.parse((await sh('podman network inspect v6egress --format json')).stdout)[0];
    const subnets = net.subnets.map((s: { subnet: string }) => s.subnet).sort();
    expect(subnets).toEqual(['10.89.0.0/24', 'fdaa:bbcc:ddee::/64']);
    expect(net.ipv6_enabled).toBe(true);

    // the oneshot unit with the right ordering
    const unit = (await sh('cat /etc/systemd/system/podman-network-v6egress.service')).stdout;
    expect(unit).toMatch(/Type=oneshot/);
    expect(unit).toMatch(/Wants=podman\.service/);
    expect(unit).toMatch(/After=podman\.service/);
    // enabled (systemctl enable works without a running manager: the WantedBy symlink)
    expect((await sh('systemctl is-enabled podman-network-v6egress.service')).stdout.trim()).toBe('enabled');
    expect(unit).toMatch(/podman network exists v6egress \|\| podman network create --ipv6 --subnet 10\.89\.0\.0\/24 --subnet fdaa:bbcc:ddee::\/64 v6egress/);

    // the verification tasks ran and passed: NAT66 source is the host's global address
    const results = events(r.stdout).filter((e) => e.event === 'task:result');
    const nat = results.find((e) => /saw the host's global address/.test(e.task));
    expect(nat?.status).toBe('ok');
    expect(nat?.reason).toContain(host().globalV6!);

    // and independently of runbook: a container on the network reaches the v6-only server as the host's address
    // (a fresh container's ULA address may be tentative for a moment: up to 3 tries, like the playbook's until)
    let seen = { code: -1, stdout: '', stderr: '' };
    for (let i = 0; i < 3 && seen.code !== 0; i++) {
      if (i) await new Promise((r) => setTimeout(r, 2000));
      seen = await sh(`podman run --rm --network v6egress --rootfs ${lab.rootfs} curl -6 -sS --max-time 10 http://[${lab.internetV6}]/`);
    }
    expect(seen.stdout.trim(), seen.stderr).toBe(host().globalV6);
    // a container on the default network is unaffected: still no IPv6 egress, default network unchanged
    const dflt = await sh(`podman run --rm --rootfs ${lab.rootfs} curl -6 -s --max-time 5 http://[${lab.internetV6}]/`);
    expect(dflt.code).not.toBe(0);
    expect(await defaultNet()).toEqual(defaultNetBefore);

    // ADR 0011 in the repository
    const adrs = fs.readdirSync(path.join(repo, 'docs/adr'));
    const adr = adrs.filter((f) => /^0011-/.test(f));
    expect(adr).toHaveLength(1);
    const text = fs.readFileSync(path.join(repo, 'docs/adr', adr[0]!), 'utf8');
    for (const needle of [/NAT66/, /ULA/, /NDP proxy/, /no backend flip/i, /egress only/i, /rDNS/, /SPF/]) expect(text).toMatch(needle);
  });

  it('a second apply changes nothing; --check after apply reports 0 changed; the ADR exists once', async () => {
    const again = await cliAsync(['apply', PLAYBOOK, '-i', inv, '--format', 'json', '-e', `web_adr_repo=${repo}`], { timeoutMs: 240_000 });
    expect(again.code, again.stderr).toBe(0);
    expect(changed(again.stdout).map((e) => `${e.host}: ${e.task}`)).toEqual([]);
    const check = await cliAsync(['apply', PLAYBOOK, '-i', inv, '--check', '--format', 'json', '-e', `web_adr_repo=${repo}`], { timeoutMs: 240_000 });
    expect(check.code, check.stderr).toBe(0);
    expect(changed(check.stdout).map((e) => `${e.host}: ${e.task}`)).toEqual([]);
    expect(fs.readdirSync(path.join(repo, 'docs/adr')).filter((f) => f.includes('podman-ipv6-egress'))).toHaveLength(1);
  });

  it('check mode reports a drifted sysctl and network honestly and changes nothing', async () => {
    await sh('echo 0 > /proc/sys/net/ipv6/conf/all/forwarding');
    const check = await cliAsync(['apply', PLAYBOOK, '-i', inv, '--check', '--diff', '--format', 'json', '-e', `web_adr_repo=${repo}`], { timeoutMs: 240_000 });
    expect(check.code, check.stderr).toBe(0);
    const c = changed(check.stdout);
    expect(c.map((e) => e.task)).toEqual([expect.stringMatching(/sysctl|kernel|Set/i)]);
    expect(JSON.stringify(c[0].diff)).toMatch(/"before":"0\\n","after":"1\\n"/);
    expect((await sh('cat /proc/sys/net/ipv6/conf/all/forwarding')).stdout.trim()).toBe('0');
    const fix = await cliAsync(['apply', PLAYBOOK, '-i', inv, '--format', 'json', '--skip-tags', 'verify', '-e', `web_adr_repo=${repo}`], { timeoutMs: 240_000 });
    expect(fix.code).toBe(0);
    expect((await sh('cat /proc/sys/net/ipv6/conf/all/forwarding')).stdout.trim()).toBe('1');
  });
});
