/**
 * Gathered facts with Ansible's names and values.
 *
 * 1. Parity with Ansible (no ansible needed at test time): test/fixtures/facts holds, recorded back to back on the
 *    development machine, the output of runbook's FACTS_SCRIPT (runbook-script-output.txt; its python env reduced
 *    to HOME) and `ansible localhost -m setup` from Debian's ansible 2.14 reduced to the keys runbook implements
 *    (ansible-2.14-setup.json). parseFacts(script output) must give Ansible's values for every one of them (mount
 *    sizes, which moved between the two runs, excepted).
 * 2. On a real lab host over SSH: `runbook apply` gathers facts and writes them to /tmp; every value must equal what
 *    the host itself reports (/etc/debian_version, nproc, /proc/meminfo, /sys/class/net, ...), under both
 *    ansible_facts.X and ansible_X.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { parseFacts } from '../lib/actions/facts.js';
import { filterFacts } from '../lib/actions/setup.js';
import { cliAsync, ROOT } from './helpers.js';

const FIX = path.join(ROOT, 'test/fixtures/facts');

describe('parseFacts gives what Ansible 2.14 gathered on the same machine', () => {
  const raw = fs.readFileSync(path.join(FIX, 'runbook-script-output.txt'), 'utf8');
  const ans = JSON.parse(fs.readFileSync(path.join(FIX, 'ansible-2.14-setup.json'), 'utf8')) as Record<string, any>;
  const f = parseFacts(raw);
  const volatile = ['size_available', 'block_available', 'block_used', 'inode_available', 'inode_used'];
  const sortKeys = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sortKeys) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, sortKeys(x)])) : v;
  for (const key of Object.keys(ans).filter((k) => k !== 'ansible_date_time_keys')) {
    it(key, () => {
      const name = key.replace(/^ansible_/, '');
      let mine: unknown = f[name], theirs: unknown = ans[key];
      if (name === 'mounts') {
        const strip = (l: any[]) => l.map((m) => Object.fromEntries(Object.entries(m).filter(([k]) => !volatile.includes(k)))).sort((a: any, b: any) => (a.mount < b.mount ? -1 : 1));
        mine = strip(mine as any[]);
        theirs = strip(theirs as any[]);
      }
      // /sys/class/net's order is readdir's for Ansible and sorted for the shell glob; the tech lists are Python sets
      if (['interfaces', 'all_ipv4_addresses', 'all_ipv6_addresses', 'virtualization_tech_guest', 'virtualization_tech_host'].includes(name)) {
        mine = [...(mine as string[])].sort();
        theirs = [...(theirs as string[])].sort();
      }
      expect(sortKeys(mine)).toEqual(sortKeys(theirs));
    });
  }
  it('date_time has Ansible\'s keys, consistent with each other', () => {
    const dt = f['date_time'] as Record<string, string>;
    expect(Object.keys(dt).sort()).toEqual(ans['ansible_date_time_keys']);
    expect(dt['date']).toBe(`${dt['year']}-${dt['month']}-${dt['day']}`);
    expect(dt['iso8601_basic_short']).toBe(`${dt['year']}${dt['month']}${dt['day']}T${dt['hour']}${dt['minute']}${dt['second']}`);
    expect(dt['epoch_int']).toBe(dt['epoch']);
  });
  it('filter: keeps the facts whose ansible_ name matches', () => {
    expect(Object.keys(filterFacts(f, ['ansible_processor*'])).sort()).toEqual(['processor', 'processor_cores', 'processor_count', 'processor_nproc', 'processor_threads_per_core', 'processor_vcpus']);
    expect(Object.keys(filterFacts(f, 'ansible_memtotal_mb,ansible_lo'))).toEqual(['memtotal_mb', 'lo']);
  });
});

describe('facts gathered from a lab host over SSH equal what the host reports', () => {
  let lab: Lab;
  let facts: Record<string, any>;
  let top: Record<string, any>;
  const out = `/tmp/rbk-facts-${process.pid}`;
  const sh = async (cmd: string) => {
    const r = await lab.exec(lab.hosts[0]!, ['sh', '-c', cmd]);
    return r.stdout.trim();
  };

  beforeAll(async () => {
    lab = await Lab.create({ name: 'facts', hosts: 1 });
    const inv = path.join(lab.dir, 'facts-inventory.yml');
    fs.writeFileSync(inv, lab.inventoryYaml());
    fs.mkdirSync(out, { recursive: true });
    const play = path.join(out, 'facts.yml');
    const names = ['processor_count', 'processor_vcpus', 'distribution_version', 'memtotal_mb', 'eth0', 'hostname', 'python_version', 'os_family'];
    fs.writeFileSync(play, [
      '- hosts: all',
      '  gather_facts: true',
      '  tasks:',
      '    - copy:',
      `        dest: ${out}/{{ inventory_hostname }}.json`,
      `        content: "{{ {'facts': ansible_facts, 'top': {${names.map((n) => `'${n}': ansible_${n}`).join(', ')}}} | to_json }}"`,
      '',
    ].join('\n'));
    const r = await cliAsync(['apply', play, '-i', inv, '--format', 'json'], { timeoutMs: 180_000 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const doc = JSON.parse(fs.readFileSync(path.join(out, `${lab.hosts[0]!.name}.json`), 'utf8'));
    facts = doc.facts;
    top = doc.top;
  }, 240_000);

  afterAll(async () => {
    await lab?.destroy();
    fs.rmSync(out, { recursive: true, force: true });
  });

  it('the same values as ansible_X and ansible_facts.X', () => {
    for (const [k, v] of Object.entries(top)) expect(v, k).toEqual(facts[k]);
  });

  it('distribution: full version from /etc/debian_version, release and family from os-release', async () => {
    const osr = await sh('. /etc/os-release; echo "$ID|$VERSION_CODENAME|$VERSION_ID"');
    const [id, codename] = osr.split('|');
    expect(facts['distribution']).toBe(id === 'debian' ? 'Debian' : facts['distribution']);
    if (id === 'debian') {
      const dv = await sh('cat /etc/debian_version');
      expect(facts['distribution_version']).toBe(dv);
      expect(facts['distribution_major_version']).toBe(dv.split('.')[0]);
      expect(facts['os_family']).toBe('Debian');
      expect(facts['pkg_mgr']).toBe('apt');
    }
    expect(facts['distribution_release']).toBe(codename);
    if (await sh('command -v lsb_release')) expect(facts['lsb']['codename']).toBe(await sh('lsb_release -sc'));
  });

  it('processors and memory from nproc, /proc/cpuinfo and /proc/meminfo', async () => {
    expect(facts['processor_nproc']).toBe(Number(await sh('nproc')));
    const procs = Number(await sh("grep -c '^processor' /proc/cpuinfo"));
    const sockets = Number(await sh("grep '^physical id' /proc/cpuinfo | sort -u | wc -l")) || procs;
    expect(facts['processor_count']).toBe(sockets);
    expect(facts['processor_vcpus']).toBe(facts['processor_threads_per_core'] * facts['processor_cores'] * facts['processor_count']);
    expect((facts['processor'] as string[]).filter((_, i) => i % 3 === 0)).toEqual(Array.from({ length: procs }, (_, i) => String(i)));
    const kb = (k: string) => sh(`awk '/^${k}:/ {print $2}' /proc/meminfo`).then(Number);
    expect(facts['memtotal_mb']).toBe(Math.floor((await kb('MemTotal')) / 1024));
    expect(facts['swaptotal_mb']).toBe(Math.floor((await kb('SwapTotal')) / 1024));
    expect(facts['memory_mb']['real']['total']).toBe(facts['memtotal_mb']);
    expect(facts['memory_mb']['real']['used'] + facts['memory_mb']['real']['free']).toBe(facts['memtotal_mb']);
    expect(typeof facts['memfree_mb']).toBe('number');
  });

  it('platform: kernel, hostname, machine id, architecture', async () => {
    expect(facts['kernel']).toBe(await sh('uname -r'));
    expect(facts['kernel_version']).toBe(await sh('uname -v'));
    expect(facts['architecture']).toBe(await sh('uname -m'));
    expect(facts['nodename']).toBe(await sh('uname -n'));
    expect(facts['hostname']).toBe((await sh('uname -n')).split('.')[0]);
    expect(facts['machine_id']).toBe(await sh('cat /etc/machine-id'));
    expect(facts['domain']).toBe((facts['fqdn'] as string).split('.').slice(1).join('.'));
    expect(facts['uptime_seconds']).toBeTypeOf('number');
    expect(facts['fips']).toBe((await sh('cat /proc/sys/crypto/fips_enabled 2>/dev/null')) === '1');
    // Ansible's rule: / against /proc/1/root when readable, else /'s inode against the root inode (2 on ext4)
    const root = await sh("stat -c '%d %i' /");
    const pid1 = await sh("stat -c '%d %i' /proc/1/root/. 2>/dev/null");
    const fsType = await sh('stat -f -c %T /');
    expect(facts['is_chroot']).toBe(pid1 ? root !== pid1 : root.split(' ')[1] !== (fsType === 'btrfs' ? '256' : fsType === 'xfs' ? '128' : '2'));
  });

  it('network: eth0 as /sys/class/net and ip report it, no default IPv4 route in the lab', async () => {
    const h = lab.hosts[0]!;
    expect(facts['interfaces']).toEqual(expect.arrayContaining(['lo', 'eth0']));
    const eth0 = facts['eth0'];
    expect(eth0['ipv4']['address']).toBe(h.address);
    expect(eth0['macaddress']).toBe(await sh('cat /sys/class/net/eth0/address'));
    expect(eth0['mtu']).toBe(Number(await sh('cat /sys/class/net/eth0/mtu')));
    expect(eth0['active']).toBe(true);
    expect(eth0['type']).toBe('ether');
    expect(eth0['ipv4']['prefix']).toBe(await sh("ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f2"));
    expect(facts['lo']['type']).toBe('loopback');
    expect(facts['all_ipv4_addresses']).toContain(h.address);
    expect(facts['all_ipv4_addresses']).not.toContain('127.0.0.1');
    const v6 = (await sh("ip -6 -o addr show | awk '{print $4}' | cut -d/ -f1 | grep -vx '::1'")).split('\n').filter(Boolean);
    expect([...facts['all_ipv6_addresses']].sort()).toEqual(v6.sort());
    const route = await sh('ip -4 route get 8.8.8.8 2>/dev/null');
    if (!route) expect(facts['default_ipv4']).toEqual({});
  });

  it('mounts, selinux, dns, user, python, env, date_time, service manager', async () => {
    const rootMount = (facts['mounts'] as any[]).find((m) => m.mount === '/');
    expect(rootMount, JSON.stringify(facts['mounts'])).toBeDefined();
    const [frsize, blocks] = (await sh("stat -f -c '%S %b' /")).split(' ').map(Number);
    expect(rootMount.size_total).toBe(frsize! * blocks!);
    expect(rootMount.fstype).toBe(await sh("awk '$2 == \"/\" {print $3}' /proc/mounts | tail -n1"));
    if (!(await sh('ls /sys/fs/selinux/enforce 2>/dev/null'))) expect(facts['selinux']).toEqual({ status: 'disabled' });
    const ns = (await sh("awk '/^nameserver/ {print $2}' /etc/resolv.conf")).split('\n').filter(Boolean);
    if (ns.length) expect(facts['dns']['nameservers']).toEqual(ns);
    expect(facts['user_id']).toBe(await sh('id -un'));
    expect(facts['user_uid']).toBe(Number(await sh('id -u')));
    expect(facts['user_dir']).toBe((await sh('getent passwd "$(id -un)" | cut -d: -f6')));
    expect(facts['user_shell']).toBe((await sh('getent passwd "$(id -un)" | cut -d: -f7')));
    expect(facts['python']['executable']).toBe('/usr/bin/python3');
    expect(facts['python_version']).toBe(await sh("/usr/bin/python3 -c 'import platform; print(platform.python_version())'"));
    expect(facts['env']['HOME']).toBe(facts['user_dir']);
    const dt = facts['date_time'];
    expect(dt['date']).toBe(`${dt['year']}-${dt['month']}-${dt['day']}`);
    expect(dt['tz_offset']).toMatch(/^[+-]\d{4}$/);
    const comm = await sh('cat /proc/1/comm 2>/dev/null');
    if (comm && comm !== 'init' && !comm.endsWith('sh')) expect(facts['service_mgr']).toBe(comm);
    expect(typeof facts['virtualization_type']).toBe('string');
  });
});
