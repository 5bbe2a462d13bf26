/**
 * web-arm modules: lib/net/subnets, sysctl, podman_network, adr_doc.
 * Plan tests are data (params + raw probe output -> steps/reason/diff/fail); the probes also run for real on this
 * machine (sysctl read-only; podman_network with a uniquely named scratch network removed afterwards; adr_doc in
 * a temp dir).
 */
import { spawnSync } from 'node:child_process';
import { planFrom } from '../lib/modules/types.js';
import { LocalConnection } from '../lib/connection/local.js';
import { applySteps } from '../lib/executor/apply.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExecResult } from '../lib/connection/types.js';
import type { ModuleContext, ModuleDef, Plan, Step } from '../lib/modules/types.js';
import { formatFrame } from '../lib/modules/common.js';
import { RunbookError } from '../lib/errors.js';
import {
  defaultGateway,
  formatIPv6,
  isRfc1918,
  isUla,
  normaliseAddress,
  normaliseSubnet,
  overlaps,
  parseSubnet,
  PODMAN_DEFAULT_SUBNET,
  checkGateway,
} from '../lib/net/subnets.js';
import sysctl, { editSysctlFile, normaliseSysctlValue, sysctlRelPath } from '../lib/modules/sysctl.js';
import podmanNetwork, { createCommand, parsePodmanNetworkState, podmanNetworkProbeScript, preparePodmanNetwork } from '../lib/modules/podman-network.js';
import adrDoc, { prepareAdr, renderAdr, slugify } from '../lib/modules/adr-doc.js';
import { Environment } from 'minijinja-js';
import { parseDocument } from 'yaml';

const ctx: ModuleContext = {
  host: 'test',
  vars: {},
  findFile: () => undefined,
  renderTemplateFile: () => '',
};

async function prep<P>(m: ModuleDef<P>, params: Record<string, unknown>): Promise<P> {
  return m.prepare ? await m.prepare(params, ctx) : (params as P);
}

function sh(script: string, input?: string): ExecResult {
  const r = spawnSync('sh', ['-c', script], { input, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** the steps run through the REAL interpreter (lib/executor/apply.ts) on the local connection */
const local = new LocalConnection('local');
async function apply(steps: Step[]): Promise<void> {
  await applySteps(local, steps, {});
}

async function probePlan<P>(m: ModuleDef<P>, params: Record<string, unknown>): Promise<Plan> {
  const p = await prep(m, params);
  const script = m.probe(p)?.script ?? null;
  return planFrom(m, p, script === null ? null : sh(script));
}

function expectBadArgument(fn: () => unknown, text: string | RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RunbookError);
    expect((e as RunbookError).code).toBe('bad_argument');
    expect((e as RunbookError).message).toMatch(text);
    return;
  }
  throw new Error('expected a bad_argument error');
}

const havePodman = spawnSync('sh', ['-c', 'command -v podman && [ "$(id -u)" = 0 ]']).status === 0;

// ---------------------------------------------------------------------------------------------------------------
describe('lib/net/subnets', () => {
  it('normalises spelling variants of one subnet to one string', () => {
    const variants = ['fdaa:bbcc:ddee::/64', 'fdaa:bbcc:ddee:0::/64', 'FDAA:BBCC:DDEE:0000:0000:0000:0000:0000/64', 'fdaa:bbcc:ddee:0:0:0:0:0/64', ' fdaa:bbcc:ddee::/64 '];
    for (const v of variants) expect(normaliseSubnet(v)).toBe('fdaa:bbcc:ddee::/64');
    expect(normaliseSubnet('10.89.0.0/24')).toBe('10.89.0.0/24');
    expect(normaliseAddress('2a01:04f8:c012:043b:0000:0000:0000:0001')).toBe('2a01:4f8:c012:43b::1');
  });

  it('prints IPv6 in RFC 5952 form', () => {
    const cases: [string, string][] = [
      ['0:0:0:0:0:0:0:0', '::'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['fe80:0:0:0:0:0:0:0', 'fe80::'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ];
    for (const [a, b] of cases) expect(normaliseAddress(a)).toBe(b);
    expect(formatIPv6(1n)).toBe('::1');
  });

  it('rejects host bits set, naming the network meant', () => {
    expectBadArgument(() => parseSubnet('10.89.0.5/24'), 'subnet 10.89.0.5/24 has host bits set; did you mean 10.89.0.0/24?');
    expectBadArgument(() => parseSubnet('fdaa:bbcc:ddee::1/64'), 'did you mean fdaa:bbcc:ddee::/64?');
    expectBadArgument(() => parseSubnet('10.89.0.0'), /not in CIDR notation/);
    expectBadArgument(() => parseSubnet('10.89.0.0/33'), /longer than 32 bits/);
    expectBadArgument(() => parseSubnet('10.89.300.0/24'), /not a valid IP address/);
    expectBadArgument(() => parseSubnet('fdaa::zz/64'), /not a valid IP address/);
  });

  it('classifies RFC 1918 and ULA, and overlaps', () => {
    expect(isRfc1918(parseSubnet('10.89.0.0/24'))).toBe(true);
    expect(isRfc1918(parseSubnet('172.16.5.0/24'))).toBe(true);
    expect(isRfc1918(parseSubnet('172.32.0.0/24'))).toBe(false);
    expect(isRfc1918(parseSubnet('192.168.0.0/16'))).toBe(true);
    expect(isRfc1918(parseSubnet('100.64.0.0/24'))).toBe(false);
    expect(isUla(parseSubnet('fdaa:bbcc:ddee::/64'))).toBe(true);
    expect(isUla(parseSubnet('fc00::/64'))).toBe(false);
    expect(isUla(parseSubnet('2a01:4f8:c012:43b::/64'))).toBe(false);
    expect(overlaps(parseSubnet('10.88.5.0/24'), PODMAN_DEFAULT_SUBNET)).toBe(true);
    expect(overlaps(parseSubnet('10.89.0.0/24'), PODMAN_DEFAULT_SUBNET)).toBe(false);
    expect(overlaps(parseSubnet('10.0.0.0/8'), PODMAN_DEFAULT_SUBNET)).toBe(true);
    expect(overlaps(parseSubnet('fdaa::/64'), parseSubnet('10.0.0.0/8'))).toBe(false);
  });

  it('default gateway is the first host address; gateways are checked', () => {
    expect(defaultGateway(parseSubnet('10.89.0.0/24'))).toBe('10.89.0.1');
    expect(defaultGateway(parseSubnet('fdaa:bbcc:ddee::/64'))).toBe('fdaa:bbcc:ddee::1');
    expect(checkGateway(parseSubnet('fdaa:bbcc:ddee::/64'), 'FDAA:BBCC:DDEE:0::0001')).toBe('fdaa:bbcc:ddee::1');
    expectBadArgument(() => checkGateway(parseSubnet('10.89.0.0/24'), '10.90.0.1'), /not inside subnet/);
    expectBadArgument(() => checkGateway(parseSubnet('10.89.0.0/24'), '10.89.0.255'), /broadcast/);
    expectBadArgument(() => defaultGateway(parseSubnet('10.89.0.1/32')), /too small/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('podman_network arguments (validated before any host is touched)', () => {
  const good = { name: 'v6egress', subnet: ['10.89.0.0/24', 'fdaa:bbcc:ddee::/64'], ipv6: true };

  it('accepts the web-arm values and normalises them', () => {
    const p = preparePodmanNetwork({ ...good, subnet: ['10.89.0.0/24', 'FDAA:BBCC:DDEE:0::/64'] });
    expect(p.subnets).toEqual([
      { subnet: '10.89.0.0/24', gateway: '10.89.0.1', family: 4 },
      { subnet: 'fdaa:bbcc:ddee::/64', gateway: 'fdaa:bbcc:ddee::1', family: 6 },
    ]);
    expect(p.ipv6).toBe(true);
    expect(createCommand(p)).toBe('podman network create --driver bridge --ipv6 --subnet 10.89.0.0/24 --subnet fdaa:bbcc:ddee::/64 v6egress');
    // a comma-separated string is one list
    expect(preparePodmanNetwork({ name: 'v6egress', subnet: '10.89.0.0/24,fdaa:bbcc:ddee::/64' }).subnets).toHaveLength(2);
  });

  const bad: [string, Record<string, unknown>, string | RegExp][] = [
    ['10.88 overlap', { ...good, subnet: ['10.88.1.0/24', 'fdaa:bbcc:ddee::/64'] }, "subnet 10.88.1.0/24 overlaps podman's default network 10.88.0.0/16"],
    ['10.88 overlap without v6', { name: 'n', subnet: '10.0.0.0/8' }, /overlaps podman's default network/],
    ['non-ULA v6', { ...good, subnet: ['10.89.0.0/24', '2a01:4f8:c012:43b::/64'] }, 'subnet 2a01:4f8:c012:43b::/64 is not a unique local (fd00::/8) IPv6 subnet'],
    ['fc00::/7 half that is not fd', { ...good, subnet: ['10.89.0.0/24', 'fc00:1::/64'] }, /not a unique local/],
    ['/63', { ...good, subnet: ['10.89.0.0/24', 'fdaa:bbcc:ddee::/63'] }, 'subnet fdaa:bbcc:ddee::/63 must be a /64 (got /63)'],
    ['host bits', { ...good, subnet: ['10.89.0.5/24', 'fdaa:bbcc:ddee::/64'] }, 'has host bits set; did you mean 10.89.0.0/24?'],
    ['public v4 in a NAT66 network', { ...good, subnet: ['100.64.0.0/24', 'fdaa:bbcc:ddee::/64'] }, /not a private \(RFC 1918\)/],
    ['ipv6 false with a v6 subnet', { ...good, ipv6: false }, /ipv6 is false/],
    ['ipv6 true without a v6 subnet', { name: 'n', subnet: '10.89.0.0/24', ipv6: true }, /no IPv6 subnet/],
    ['gateway outside', { ...good, gateway: '10.90.0.1' }, /not inside any given subnet/],
    ['bad name', { ...good, name: '-x y' }, /not a valid podman network name/],
  ];
  for (const [what, params, msg] of bad) {
    it(`rejects: ${what}`, () => expectBadArgument(() => preparePodmanNetwork(params), msg));
  }

  it('reports every problem at once', () => {
    expectBadArgument(() => preparePodmanNetwork({ name: 'v6egress', subnet: ['10.88.0.0/24', 'fdaa:bbcc:ddee::/63'] }), /10\.88\.0\.0\/16.*must be a \/64/);
  });

  it('explicit gateways are passed for every subnet, in subnet order', () => {
    const p = preparePodmanNetwork({ ...good, gateway: ['fdaa:bbcc:ddee::fe'] });
    expect(createCommand(p)).toBe(
      'podman network create --driver bridge --ipv6 --subnet 10.89.0.0/24 --gateway 10.89.0.1 --subnet fdaa:bbcc:ddee::/64 --gateway fdaa:bbcc:ddee::fe v6egress',
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
const b64 = (s: string): string => Buffer.from(s).toString('base64');

function sysctlOut(live: string | 'unknown', file: string | null): ExecResult {
  const kv: Record<string, string | Buffer> = live === 'unknown' ? { live_state: 'unknown' } : { live_state: 'value', live };
  if (file === null) kv.file_state = 'absent';
  else Object.assign(kv, { file_state: 'file', file: Buffer.from(file), file_mode: '644' });
  return { code: 0, stdout: formatFrame(kv), stderr: '' };
}

describe('sysctl plan (data)', () => {
  const fwd = { name: 'net.ipv6.conf.all.forwarding', value: 1, sysctl_file: '/etc/sysctl.d/90-ipv6-forwarding.conf' };

  it('normalises values as users expect', () => {
    expect(normaliseSysctlValue('yes')).toBe('1');
    expect(normaliseSysctlValue('On')).toBe('1');
    expect(normaliseSysctlValue(true)).toBe('1');
    expect(normaliseSysctlValue('false')).toBe('0');
    expect(normaliseSysctlValue(0)).toBe('0');
    expect(normaliseSysctlValue(' 32768 \t 60999 ')).toBe('32768 60999');
    expect(sysctlRelPath('net.ipv4.conf.enp1s0/100.rp_filter')).toBe('net/ipv4/conf/enp1s0.100/rp_filter');
    expect(sysctlRelPath('net/ipv4/conf/enp1s0.100/rp_filter')).toBe('net/ipv4/conf/enp1s0.100/rp_filter');
  });

  const cases: {
    what: string;
    params: Record<string, unknown>;
    live: string | 'unknown';
    file: string | null;
    steps: string[];
    reason?: string | RegExp;
    fileAfter?: string;
    live_diff?: [string, string];
    fail?: string | RegExp;
  }[] = [
    {
      what: 'fresh host: file created and live value set',
      params: fwd,
      live: '0',
      file: null,
      steps: ['write', 'run'],
      fileAfter: 'net.ipv6.conf.all.forwarding = 1\n',
      live_diff: ['0\n', '1\n'],
    },
    {
      what: 'already set (line spelled k=v): no-op with a reason',
      params: fwd,
      live: '1',
      file: '# forwarding for NAT66\nnet.ipv6.conf.all.forwarding=1\n',
      steps: [],
      reason: 'net.ipv6.conf.all.forwarding is 1 live and in /etc/sysctl.d/90-ipv6-forwarding.conf',
    },
    {
      what: 'yes normalises to 1: no change',
      params: { ...fwd, value: 'yes' },
      live: '1',
      file: 'net.ipv6.conf.all.forwarding = 1\n',
      steps: [],
    },
    {
      what: 'only the live value differs',
      params: fwd,
      live: '0',
      file: 'net.ipv6.conf.all.forwarding = 1\n',
      steps: ['run'],
      live_diff: ['0\n', '1\n'],
    },
    {
      what: 'only the file differs; other keys and comments stay byte-identical',
      params: fwd,
      live: '1',
      file: '# keep me\nnet.ipv6.conf.enp1s0.accept_ra=0\n  net.ipv6.conf.all.forwarding =  0  \nkernel.panic = 10',
      steps: ['write'],
      fileAfter: '# keep me\nnet.ipv6.conf.enp1s0.accept_ra=0\nnet.ipv6.conf.all.forwarding = 1\nkernel.panic = 10',
    },
    {
      what: 'appended after a file without a final newline',
      params: fwd,
      live: '1',
      file: 'net.ipv6.conf.enp1s0.accept_ra = 0',
      steps: ['write'],
      fileAfter: 'net.ipv6.conf.enp1s0.accept_ra = 0\nnet.ipv6.conf.all.forwarding = 1\n',
    },
    {
      what: 'duplicate lines for the key collapse into one',
      params: fwd,
      live: '1',
      file: 'net.ipv6.conf.all.forwarding = 1\nx.y = 2\nnet/ipv6/conf/all/forwarding = 0\n',
      steps: ['write'],
      fileAfter: 'net.ipv6.conf.all.forwarding = 1\nx.y = 2\n',
    },
    {
      what: 'multi-value key: whitespace does not matter',
      params: { name: 'net.ipv4.ip_local_port_range', value: '32768  60999', sysctl_file: '/etc/sysctl.d/x.conf' },
      live: '32768\t60999',
      file: 'net.ipv4.ip_local_port_range=32768 60999\n',
      steps: [],
    },
    {
      what: 'sysctl_set and reload false: file only',
      params: { ...fwd, sysctl_set: false, reload: 'no' },
      live: '0',
      file: null,
      steps: ['write'],
    },
    {
      what: 'unknown key fails clearly',
      params: { name: 'net.ipv6.conf.all.forwardingg', value: 1 },
      live: 'unknown',
      file: null,
      steps: [],
      fail: 'unknown sysctl key net.ipv6.conf.all.forwardingg (no /proc/sys/net/ipv6/conf/all/forwardingg)',
    },
    {
      what: 'state absent removes only that line, live untouched',
      params: { name: 'net.ipv6.conf.all.forwarding', state: 'absent', sysctl_file: '/etc/sysctl.d/90.conf' },
      live: '1',
      file: 'a.b = 1\nnet.ipv6.conf.all.forwarding = 1\nc.d = 2\n',
      steps: ['write'],
      fileAfter: 'a.b = 1\nc.d = 2\n',
    },
    {
      what: 'state absent, file absent: no-op',
      params: { name: 'net.ipv6.conf.all.forwarding', state: 'absent', sysctl_file: '/etc/sysctl.d/90.conf' },
      live: '1',
      file: null,
      steps: [],
      reason: /is not in/,
    },
  ];

  for (const c of cases) {
    it(c.what, async () => {
      const p = await prep(sysctl, c.params);
      const plan = planFrom(sysctl, p, sysctlOut(c.live, c.file));
      if (c.fail) {
        expect(plan.fail?.message).toMatch(c.fail);
        expect(plan.steps).toEqual([]);
        return;
      }
      expect(plan.fail?.message).toBeUndefined();
      expect(plan.steps.map((s) => s.kind)).toEqual(c.steps);
      if (c.reason) expect(plan.reason).toMatch(c.reason);
      if (c.fileAfter !== undefined) {
        const w = plan.steps.find((s) => s.kind === 'write');
        expect(w && w.kind === 'write' && w.content).toBe(c.fileAfter);
        expect(plan.diffs?.find((d) => d.label.startsWith('/'))).toMatchObject({ before: c.file ?? '', after: c.fileAfter });
      }
      if (c.live_diff) {
        expect(plan.diffs?.find((d) => d.label.endsWith('(live)'))).toEqual({
          label: `sysctl ${c.params.name} (live)`,
          before: c.live_diff[0],
          after: c.live_diff[1],
        });
      }
      // the law: after applying, planning again gives no steps
      const after = planFrom(sysctl, p, sysctlOut(c.params.state === 'absent' ? c.live : (p as { value: string }).value, c.fileAfter ?? c.file));
      if (c.params.sysctl_set === undefined) expect(after.steps).toEqual([]);
    });
  }

  it('editSysctlFile keeps an empty result empty and appends to an empty file', () => {
    expect(editSysctlFile('', 'a.b', '1')).toBe('a.b = 1\n');
    expect(editSysctlFile('a.b=1\n', 'a.b', undefined)).toBe('');
    expect(editSysctlFile('-a.b = 0\n', 'a.b', '1')).toBe('a.b = 1\n');
  });

  it('rejects bad names and missing values before any host is touched', async () => {
    await expect(prep(sysctl, { name: 'net/../../etc/passwd', value: 1 })).rejects.toThrow(/not a valid sysctl key/);
    await expect(prep(sysctl, { name: 'net.ipv4.ip_forward' })).rejects.toThrow(/value is required/);
    await expect(prep(sysctl, { name: 'net.ipv4.ip_forward', value: 1, sysctl_file: 'rel.conf' })).rejects.toThrow(/absolute/);
  });
});

describe('sysctl probe (real, read-only)', () => {
  it('reads a real key and an absent file', async () => {
    const p = await prep(sysctl, { name: 'net.ipv4.ip_forward', value: fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), sysctl_file: '/nonexistent/runbook-test.conf' });
    const r = sh(sysctl.probe(p)!.script);
    expect(r.code).toBe(0);
    const plan = planFrom(sysctl, p, r);
    expect(plan.fail?.message).toBeUndefined();
    // live value equal: only the (absent) file would be written
    expect(plan.steps.map((s) => s.kind)).toEqual(['write']);
  });

  it('reads a multi-value key and a real file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rb-sysctl-'));
    const file = path.join(dir, '90-test.conf');
    const live = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    fs.writeFileSync(file, `# x\nnet.ipv4.ip_local_port_range=${live.trim().split(/\s+/).join('   ')}\n`);
    const plan = await probePlan(sysctl, { name: 'net.ipv4.ip_local_port_range', value: live, sysctl_file: file });
    expect(plan.steps).toEqual([]);
    fs.rmSync(dir, { recursive: true });
  });

  it('an unknown key fails', async () => {
    const plan = await probePlan(sysctl, { name: 'net.ipv4.no_such_key_runbook', value: 1, sysctl_file: '/nonexistent/x.conf' });
    expect(plan.fail?.message).toBe('unknown sysctl key net.ipv4.no_such_key_runbook (no /proc/sys/net/ipv4/no_such_key_runbook)');
  });
});

// ---------------------------------------------------------------------------------------------------------------
function inspectJson(nets: { name: string; subnets: [string, string?][]; internal?: boolean; driver?: string }[]): string {
  return JSON.stringify(
    nets.map((n) => ({
      name: n.name,
      id: 'x',
      driver: n.driver ?? 'bridge',
      network_interface: 'podman1',
      subnets: n.subnets.map(([subnet, gateway]) => (gateway ? { subnet, gateway } : { subnet })),
      ipv6_enabled: n.subnets.some(([s]) => s.includes(':')),
      internal: n.internal ?? false,
      dns_enabled: true,
    })),
    null,
    5,
  );
}

function podmanOut(nets: Parameters<typeof inspectJson>[0], attached: string[] = []): ExecResult {
  const lines = ['podman=yes', 'ls_rc=0', 'inspect_rc=0', `inspect=${b64(inspectJson(nets))}`];
  if (nets.some((n) => n.name === 'v6egress')) lines.push('ps_rc=0', `attached=${b64(attached.join('\n'))}`);
  return { code: 0, stdout: lines.join('\n') + '\n', stderr: '' };
}

const DEFAULT_NET = { name: 'podman', subnets: [['10.88.0.0/16', '10.88.0.1']] as [string, string?][] };

describe('podman_network plan (data)', () => {
  const args = { name: 'v6egress', subnet: ['10.89.0.0/24', 'fdaa:bbcc:ddee::/64'], ipv6: true };
  const cases: {
    what: string;
    params?: Record<string, unknown>;
    out: ExecResult;
    scripts?: string[];
    reason?: string | RegExp;
    fail?: string | RegExp;
    diff?: { before: string; after: string };
  }[] = [
    {
      what: 'absent: created with exactly the subnets',
      out: podmanOut([DEFAULT_NET]),
      scripts: ['podman network create --driver bridge --ipv6 --subnet 10.89.0.0/24 --subnet fdaa:bbcc:ddee::/64 v6egress'],
      reason: 'create network v6egress with 10.89.0.0/24, fdaa:bbcc:ddee::/64',
      diff: { before: '', after: 'subnet 10.89.0.0/24 gateway 10.89.0.1\nsubnet fdaa:bbcc:ddee::/64 gateway fdaa:bbcc:ddee::1\n' },
    },
    {
      what: 'exists with the same subnets spelled differently: no-op',
      out: podmanOut([DEFAULT_NET, { name: 'v6egress', subnets: [['fdaa:bbcc:ddee:0:0:0:0:0/64', 'FDAA:BBCC:DDEE::1'], ['10.89.0.0/24', '10.89.0.1']] }]),
      scripts: [],
      reason: 'network v6egress exists with fdaa:bbcc:ddee::/64, 10.89.0.0/24',
    },
    {
      what: 'exists without a reported gateway: the default gateway is assumed',
      out: podmanOut([{ name: 'v6egress', subnets: [['10.89.0.0/24'], ['fdaa:bbcc:ddee::/64']] }]),
      scripts: [],
    },
    {
      what: 'drift: reported, not recreated without recreate',
      out: podmanOut([DEFAULT_NET, { name: 'v6egress', subnets: [['10.89.0.0/24', '10.89.0.1']] }]),
      fail: 'network v6egress exists with subnets 10.89.0.0/24, expected 10.89.0.0/24, fdaa:bbcc:ddee::/64: set recreate: true to replace it',
    },
    {
      what: 'drift with recreate and no container attached: rm + create',
      params: { ...args, recreate: true },
      out: podmanOut([DEFAULT_NET, { name: 'v6egress', subnets: [['10.89.0.0/24', '10.89.0.1']] }]),
      scripts: ['podman network rm v6egress', 'podman network create --driver bridge --ipv6 --subnet 10.89.0.0/24 --subnet fdaa:bbcc:ddee::/64 v6egress'],
      reason: /recreate network v6egress/,
      diff: { before: 'subnet 10.89.0.0/24 gateway 10.89.0.1\n', after: 'subnet 10.89.0.0/24 gateway 10.89.0.1\nsubnet fdaa:bbcc:ddee::/64 gateway fdaa:bbcc:ddee::1\n' },
    },
    {
      what: 'drift with recreate but containers attached: fails naming them',
      params: { ...args, recreate: 'yes' },
      out: podmanOut([{ name: 'v6egress', subnets: [['10.89.0.0/24', '10.89.0.1']] }], ['mailer', 'fetcher']),
      fail: /containers attached: mailer, fetcher/,
    },
    {
      what: 'gateway drift is drift',
      params: { ...args, gateway: ['10.89.0.254'] },
      out: podmanOut([{ name: 'v6egress', subnets: [['10.89.0.0/24', '10.89.0.1'], ['fdaa:bbcc:ddee::/64', 'fdaa:bbcc:ddee::1']] }]),
      fail: /gateways 10\.89\.0\.1, fdaa:bbcc:ddee::1, expected 10\.89\.0\.254, fdaa:bbcc:ddee::1/,
    },
    {
      what: 'overlap with another podman network on the host fails naming it',
      out: podmanOut([DEFAULT_NET, { name: 'piped', subnets: [['10.89.0.0/16', '10.89.0.1']] }]),
      fail: 'podman_network v6egress: subnet 10.89.0.0/24 overlaps podman network piped (10.89.0.0/16)',
    },
    {
      what: 'podman not installed',
      out: { code: 0, stdout: 'podman=missing\n', stderr: '' },
      fail: /podman is not installed/,
    },
    {
      what: 'podman network ls fails',
      out: { code: 0, stdout: `podman=yes\nls_rc=125\nls_err=${b64('Error: boom\n')}\n`, stderr: '' },
      fail: /podman network ls failed: Error: boom/,
    },
    {
      what: 'state absent, exists, nothing attached: removed',
      params: { name: 'v6egress', state: 'absent' },
      out: podmanOut([{ name: 'v6egress', subnets: [['10.89.0.0/24', '10.89.0.1']] }]),
      scripts: ['podman network rm v6egress'],
    },
    {
      what: 'state absent, attached: fails',
      params: { name: 'v6egress', state: 'absent' },
      out: podmanOut([{ name: 'v6egress', subnets: [['10.89.0.0/24', '10.89.0.1']] }], ['c1']),
      fail: /containers attached: c1/,
    },
    {
      what: 'state absent, not there: no-op',
      params: { name: 'v6egress', state: 'absent' },
      out: podmanOut([DEFAULT_NET]),
      scripts: [],
      reason: 'network v6egress does not exist',
    },
  ];
  for (const c of cases) {
    it(c.what, async () => {
      const p = await prep(podmanNetwork, c.params ?? args);
      const plan = planFrom(podmanNetwork, p, c.out);
      if (c.fail) {
        expect(plan.fail?.message).toMatch(c.fail);
        expect(plan.steps).toEqual([]);
        return;
      }
      expect(plan.fail?.message).toBeUndefined();
      expect(plan.steps.map((s) => (s.kind === 'run' ? s.script : s.kind))).toEqual(c.scripts);
      if (c.reason) expect(plan.reason).toMatch(c.reason);
      if (c.diff) expect(plan.diffs?.[0]).toMatchObject(c.diff);
    });
  }

  it('result names the network and its subnets', async () => {
    const p = await prep(podmanNetwork, args);
    const plan = planFrom(podmanNetwork, p, podmanOut([{ name: 'v6egress', subnets: [['10.89.0.0/24'], ['fdaa:bbcc:ddee::/64']] }]));
    expect(plan.result).toMatchObject({ network: { name: 'v6egress', subnets: ['10.89.0.0/24', 'fdaa:bbcc:ddee::/64'] } });
  });
});

describe.skipIf(!havePodman)('podman_network against this machine (root podman, scratch network)', () => {
  const name = `rbtest-${process.pid}`;
  const cleanup = (): void => {
    sh(`podman rm -f rbtest-c-${process.pid} >/dev/null 2>&1; podman network rm ${name} >/dev/null 2>&1; true`);
  };
  afterAll(cleanup);

  it('probe -> plan -> apply -> probe -> plan gives 0 steps; drift detected; recreate honoured', async () => {
    cleanup();
    // find subnets no other podman network on this machine uses (other tests may hold scratch networks)
    let args: Record<string, unknown> | undefined;
    let plan: Plan | undefined;
    for (let i = 0; i < 40 && !args; i++) {
      const x = (process.pid + i * 7) % 200 + 20;
      const candidate = { name, subnet: [`10.231.${x}.0/24`, `fd7e:5a1c:${x.toString(16)}::/64`], ipv6: true };
      const pl = await probePlan(podmanNetwork, candidate);
      if (pl.fail?.message && /overlaps podman network/.test(pl.fail?.message)) continue;
      args = candidate;
      plan = pl;
    }
    expect(args).toBeDefined();
    expect(plan!.fail?.message).toBeUndefined();
    expect(plan!.steps).toHaveLength(1);
    await apply(plan!.steps);

    // spelled differently: still nothing to do
    const subnets = args!.subnet as string[];
    const again = await probePlan(podmanNetwork, { ...args, subnet: [subnets[1]!.replace('::/64', ':0:0::/64').toUpperCase(), subnets[0]] });
    expect(again.fail?.message).toBeUndefined();
    expect(again.steps).toEqual([]);
    expect(again.reason).toBe(`network ${name} exists with ${subnets.join(', ')}`);

    // drift (v4 only asked): fails without recreate
    const drift = await probePlan(podmanNetwork, { name, subnet: subnets[0] });
    expect(drift.fail?.message).toMatch(/set recreate: true/);

    // a container attached: recreate refuses, naming it (podman create: nothing runs)
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rb-rootfs-'));
    const c = sh(`podman create --name rbtest-c-${process.pid} --network ${name} --rootfs ${root} /bin/true`);
    expect(c.stderr).toBe('');
    expect(c.code).toBe(0);
    const refused = await probePlan(podmanNetwork, { name, subnet: subnets[0], recreate: true });
    expect(refused.fail?.message).toMatch(new RegExp(`containers attached: rbtest-c-${process.pid}`));
    // state absent lists the attached containers too (present without recreate does not ask podman ps)
    const absentRefused = await probePlan(podmanNetwork, { name, state: 'absent' });
    expect(absentRefused.fail?.message).toMatch(new RegExp(`cannot be removed: containers attached: rbtest-c-${process.pid}`));
    sh(`podman rm -f rbtest-c-${process.pid}`);
    fs.rmSync(root, { recursive: true, force: true });

    // recreate with no container attached: rm + create, then converged
    const re = await probePlan(podmanNetwork, { name, subnet: subnets[0], recreate: true });
    expect(re.steps).toHaveLength(2);
    await apply(re.steps);
    expect((await probePlan(podmanNetwork, { name, subnet: subnets[0] })).steps).toEqual([]);

    // the netavark files say what podman says (rb_netfiles: no podman process for present without recreate)
    const internal = `${name}-i`;
    const made = sh(`podman network create --internal --subnet 10.232.${(process.pid % 200) + 20}.0/24 ${internal}`);
    try {
      expect(made.stderr).toBe('');
      const byFiles = sh(podmanNetworkProbeScript(name, false, true));
      const byPodman = sh(podmanNetworkProbeScript(name, false, false));
      // this machine's podman: rootful, netavark, default configuration (scripts/setup.sh installs it so)
      expect(byFiles.stdout).toMatch(/^source=files$/m);
      expect(byPodman.stdout).not.toMatch(/^source=files$/m);
      const nets = (r: ExecResult) => {
        const st = parsePodmanNetworkState(r);
        expect(st.kind).toBe('ok');
        return st.kind === 'ok' ? [...st.networks].sort((a, b) => a.name.localeCompare(b.name)) : [];
      };
      const fromFiles = nets(byFiles);
      expect(fromFiles).toEqual(nets(byPodman));
      expect(fromFiles.map((n) => n.name)).toEqual(expect.arrayContaining(['podman', name, internal]));
      expect(fromFiles.find((n) => n.name === internal)?.internal).toBe(true);
      // a containers.conf that moves podman's network settings: podman is asked
      const conf = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rb-conf-')), 'containers.conf');
      fs.writeFileSync(conf, '[network]\ndefault_subnet = "10.77.0.0/16"\n');
      const moved = spawnSync('sh', ['-c', podmanNetworkProbeScript(name, false, true)], { encoding: 'utf8', env: { ...process.env, CONTAINERS_CONF_OVERRIDE: conf } });
      expect(moved.stdout).toMatch(/^ls_rc=0$/m);
      expect(moved.stdout).not.toMatch(/^source=files$/m);
      fs.rmSync(path.dirname(conf), { recursive: true, force: true });
    } finally {
      sh(`podman network rm ${internal}`);
    }

    // absent
    const rm = await probePlan(podmanNetwork, { name, state: 'absent' });
    expect(rm.steps).toHaveLength(1);
    await apply(rm.steps);
    expect((await probePlan(podmanNetwork, { name, state: 'absent' })).steps).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('adr_doc', () => {
  const adr = {
    title: 'Podman IPv6 egress via NAT66 from a ULA network',
    status: 'Accepted',
    date: '2026-06-03',
    context: 'Containers have no IPv6.',
    decision: 'Use NAT66.',
    consequences: 'No rDNS/SPF for the NAT66 source.',
  };

  it('slugifies titles and renders a fixed layout', () => {
    expect(slugify('NAT66/ULA over a routed GUA sub-prefix!')).toBe('nat66-ula-over-a-routed-gua-sub-prefix');
    expect(slugify('Änderung für Über')).toBe('anderung-fur-uber');
    expect(renderAdr(adr, 11)).toBe(
      '# 0011. Podman IPv6 egress via NAT66 from a ULA network\n\nStatus: Accepted\n\nDate: 2026-06-03\n\n' +
        '## Context\n\nContainers have no IPv6.\n\n## Decision\n\nUse NAT66.\n\n## Consequences\n\nNo rDNS/SPF for the NAT66 source.\n',
    );
  });

  const probeOut = (files: Record<string, string>, slug: string): ExecResult => {
    const lines = ['repo=yes', 'dir=yes'];
    for (const [n, c] of Object.entries(files)) {
      lines.push(`f=${b64(n)}`);
      if (new RegExp(`^\\d+-${slug}\\.md$`).test(n)) lines.push(`c=${b64(n)} ${b64(c)}`);
    }
    return { code: 0, stdout: lines.join('\n') + '\n', stderr: '' };
  };

  it('plans: next free number, found by slug, fixed number, taken number', async () => {
    const p = await prep(adrDoc, { ...adr, repo: '/r' });
    const slug = p.slug;
    const next = planFrom(adrDoc, p, probeOut({ '0001-a.md': '', '0010-host-ipv6.md': '', 'README.md': '' }, slug));
    expect(next.steps).toMatchObject([{ kind: 'write', path: `/r/docs/adr/0011-${slug}.md`, content: renderAdr(adr, 11) }]);
    expect(next.reason).toBe(`create ADR 0011-${slug}.md`);

    const same = planFrom(adrDoc, p, probeOut({ '0003-a.md': '', [`0011-${slug}.md`]: renderAdr(adr, 11) }, slug));
    expect(same.steps).toEqual([]);
    expect(same.reason).toBe(`ADR 0011-${slug}.md is up to date`);

    const changed = planFrom(adrDoc, p, probeOut({ [`0011-${slug}.md`]: renderAdr({ ...adr, status: 'Proposed' }, 11) }, slug));
    expect(changed.steps).toHaveLength(1);
    expect(changed.diffs?.[0]?.before).toContain('Status: Proposed');

    const fixed = await prep(adrDoc, { ...adr, repo: '/r', number: 11 });
    expect(planFrom(adrDoc, fixed, probeOut({ '0001-a.md': '' }, slug)).steps).toMatchObject([{ path: `/r/docs/adr/0011-${slug}.md` }]);
    expect(planFrom(adrDoc, fixed, probeOut({ '0011-other.md': '' }, slug)).fail?.message).toMatch('ADR number 0011 is taken by 0011-other.md');
    expect(planFrom(adrDoc, fixed, probeOut({ [`0007-${slug}.md`]: '' }, slug)).fail?.message).toMatch(`already exists as 0007-${slug}.md`);

    const noDir = planFrom(adrDoc, p, { code: 0, stdout: 'repo=yes\ndir=no\n', stderr: '' });
    expect(noDir.steps.map((s) => s.kind)).toEqual(['run', 'write']);
    expect(planFrom(adrDoc, p, { code: 0, stdout: 'repo=no\n', stderr: '' }).fail?.message).toMatch('repository /r does not exist');
  });

  it('a left-out date keeps the existing record date', async () => {
    const p = await prep(adrDoc, { ...adr, date: '', repo: '/r' });
    expect(p.dateDefaulted).toBe(true);
    const plan = planFrom(adrDoc, p, probeOut({ [`0004-${p.slug}.md`]: renderAdr({ ...adr, date: '2020-01-02' }, 4) }, p.slug));
    expect(plan.steps).toEqual([]);
    await expect(prep(adrDoc, { ...adr, date: '03.06.2026', repo: '/r' })).rejects.toThrow(/not YYYY-MM-DD/);
    await expect(prep(adrDoc, { ...adr, repo: 'relative' })).rejects.toThrow(/absolute/);
  });

  it('against a temp dir: 0001, again 0 steps, another ADR 0002', async () => {
    const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'rb-adr-'));
    try {
      const first = await probePlan(adrDoc, { ...adr, repo });
      expect(first.steps.map((s) => s.kind)).toEqual(['run', 'write']);
      await apply(first.steps);
      const file = path.join(repo, 'docs/adr', `0001-${slugify(adr.title)}.md`);
      expect(fs.readFileSync(file, 'utf8')).toBe(renderAdr(adr, 1));
      expect((await probePlan(adrDoc, { ...adr, repo })).steps).toEqual([]);

      const second = await probePlan(adrDoc, { ...adr, title: 'Keep podman', repo });
      expect(second.steps).toMatchObject([{ kind: 'write', path: path.join(repo, 'docs/adr/0002-keep-podman.md') }]);
      await apply(second.steps);
      expect((await probePlan(adrDoc, { ...adr, title: 'Keep podman', repo })).steps).toEqual([]);

      // content changed: the same file is rewritten, number kept
      const upd = await probePlan(adrDoc, { ...adr, decision: 'Use NAT66 from fdaa:bbcc:ddee::/64.', repo });
      expect(upd.steps).toMatchObject([{ kind: 'write', path: file }]);
      expect(upd.reason).toBe(`update ADR 0001-${slugify(adr.title)}.md`);
    } finally {
      fs.rmSync(repo, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('roles, inventory and playbook files', () => {
  const root = path.resolve(import.meta.dirname, '..');
  const load = (f: string): unknown => {
    const doc = parseDocument(fs.readFileSync(path.join(root, f), 'utf8'), { version: '1.1' });
    expect(doc.errors, f).toEqual([]);
    return doc.toJS();
  };

  for (const role of ['sysctl', 'podman-network', 'adr-doc']) {
    it(`role ${role}: argument_specs cover every default, with the same default`, () => {
      const defaults = load(`roles/${role}/defaults/main.yml`) as Record<string, unknown>;
      const specs = load(`roles/${role}/meta/argument_specs.yml`) as { argument_specs: { main: { short_description: string; options: Record<string, { type: string; default?: unknown; required?: boolean }> } } };
      const opts = specs.argument_specs.main.options;
      expect(specs.argument_specs.main.short_description).toBeTruthy();
      for (const [k, v] of Object.entries(defaults)) {
        expect(opts[k], `${role}: ${k} has no argument spec`).toBeDefined();
        expect(opts[k]!.default, `${role}: ${k}`).toEqual(v);
      }
      for (const [k, o] of Object.entries(opts)) {
        expect(['str', 'bool', 'int', 'list', 'dict', 'path', 'raw']).toContain(o.type);
        if (!o.required) expect(Object.keys(defaults), `${role}: optional ${k} has no default`).toContain(k);
      }
      const tasks = load(`roles/${role}/tasks/main.yml`) as Record<string, unknown>[];
      expect(tasks.length).toBeGreaterThan(0);
    });
  }

  it('the oneshot unit renders as asked', () => {
    const env = new Environment();
    env.trimBlocks = true;
    env.lstripBlocks = true;
    const src = fs.readFileSync(path.join(root, 'roles/podman-network/templates/podman-network.service.j2'), 'utf8');
    const unit = env.renderStr(src, {
      podman_network_name: 'v6egress',
      podman_network_subnet_v4: '10.89.0.0/24',
      podman_network_subnet_v6: 'fdaa:bbcc:ddee::/64',
      podman_network_before_units: ['podman-mailer.service'],
    });
    for (const line of [
      'Wants=podman.service',
      'After=podman.service',
      'Before=podman-mailer.service',
      'Type=oneshot',
      'RemainAfterExit=yes',
      "ExecStart=/bin/sh -c 'podman network exists v6egress || podman network create --ipv6 --subnet 10.89.0.0/24 --subnet fdaa:bbcc:ddee::/64 v6egress'",
      'WantedBy=multi-user.target podman-mailer.service',
    ]) {
      expect(unit.split('\n')).toContain(line);
    }
    const none = env.renderStr(src, { podman_network_name: 'n', podman_network_subnet_v4: 'a', podman_network_subnet_v6: 'b', podman_network_before_units: [] });
    expect(none).not.toMatch(/^Before=/m);
  });

  it.skipIf(!havePodman)('the oneshot command is idempotent on this machine', () => {
    const name = `rbunit-${process.pid}`;
    const env = new Environment();
    env.trimBlocks = true;
    const src = fs.readFileSync(path.join(root, 'roles/podman-network/templates/podman-network.service.j2'), 'utf8');
    const x = (process.pid % 200) + 20;
    const unit = env.renderStr(src, {
      podman_network_name: name,
      podman_network_subnet_v4: `10.232.${x}.0/24`,
      podman_network_subnet_v6: `fd7e:5a1d:${x.toString(16)}::/64`,
      podman_network_before_units: [],
    });
    const cmd = /^ExecStart=\/bin\/sh -c '(.*)'$/m.exec(unit)![1]!;
    try {
      expect(sh(cmd).code).toBe(0);
      expect(sh(cmd)).toMatchObject({ code: 0, stdout: '' });
      expect(sh(`podman network inspect ${name}`).stdout).toContain(`fd7e:5a1d:${x.toString(16)}::/64`);
    } finally {
      sh(`podman network rm ${name}`);
    }
  });

  it('inventory: web-arm in group web with the seed values', () => {
    const inv = load('inventory/web-arm/hosts.yml') as { all: { children: { web: { hosts: Record<string, Record<string, unknown>> } } } };
    expect(inv.all.children.web.hosts['web-arm']).toMatchObject({
      ansible_host: '2a01:4f8:c012:43b::1',
      ansible_user: 'root',
      web_uplink_if: 'enp1s0',
      web_global_v6: '2a01:4f8:c012:43b::1',
    });
    const gv = load('inventory/web-arm/group_vars/web.yml') as Record<string, unknown>;
    expect(preparePodmanNetwork({ name: gv.web_v6egress_name, subnet: [gv.web_v6egress_subnet_v4, gv.web_v6egress_subnet_v6], ipv6: true }).subnets).toHaveLength(2);
    expect(gv.web_v6egress_before_units).toEqual([]);
  });

  it('playbook: forwarding, network, ADR 0011 with the decision points, verify tagged', () => {
    const plays = load('playbooks/web-arm.yml') as Record<string, any>[];
    expect(plays.map((p) => p.hosts)).toEqual(['web', 'localhost', 'web']);
    expect(plays[0]!.roles.map((r: { role: string }) => r.role)).toEqual(['sysctl', 'podman-network']);
    expect(plays[0]!.roles[0].vars.sysctl_settings).toEqual({ 'net.ipv6.conf.all.forwarding': 1 });
    const adr = plays[1]!.roles[0].vars;
    const text = `${adr.adr_context}\n${adr.adr_decision}\n${adr.adr_consequences}`;
    for (const point of ['NAT66', 'ULA', 'routed global (GUA) sub-prefix', 'NDP proxy', 'second /64', 'on-link /64', 'no backend flip', 'Egress only', 'rDNS', 'SPF', 'deliverability']) {
      expect(text).toContain(point);
    }
    expect(plays[1]!.connection).toBe('local');
    expect(plays[2]!.tags).toEqual(['verify']);
    expect(plays[2]!.tasks.every((t: Record<string, unknown>) => !('check_mode' in t))).toBe(true);
    // the ADR renders through the module and is a valid plan input
    const p = prepareAdr({ ...adr, repo: '/r', title: adr.adr_title, slug: adr.adr_slug, date: adr.adr_date, number: 11, context: adr.adr_context, decision: adr.adr_decision, consequences: adr.adr_consequences });
    expect(renderAdr(p, 11)).toMatch(/^# 0011\. IPv6 egress for podman containers: NAT66 from a ULA network\n/);
  });
});
