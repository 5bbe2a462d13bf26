/** Ansible's LinuxNetwork collector over the raw sections of FACTS_SCRIPT (../facts.ts). Pure. */

type Dict = Record<string, unknown>;

/** `KEY=value` lines (the first `sep` splits) as a record; also used by ../facts.ts */
export function kvLines(lines: string[], sep = '='): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(sep);
    if (i > 0) out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

const IF_TYPE: Record<string, string> = { '1': 'ether', '32': 'infiniband', '512': 'ppp', '772': 'loopback', '65534': 'tunnel' };

function routeGet(lines: string[], target: string): Dict {
  const out: Dict = {};
  const words = (lines[0] ?? '').trim().split(/\s+/);
  if (words[0] !== target) return out;
  for (let i = 0; i < words.length - 1; i++) {
    if (words[i] === 'dev') out['interface'] = words[i + 1];
    else if (words[i] === 'src') out['address'] = words[i + 1];
    else if (words[i] === 'via' && words[i + 1] !== target) out['gateway'] = words[i + 1];
  }
  return out;
}

function v4(address: string, prefix: string): { netmask: string; network: string } {
  const n = Number(prefix);
  const a = address.split('.').reduce((x, o) => x * 256 + Number(o), 0);
  const mask = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
  const dot = (x: number) => [24, 16, 8, 0].map((s) => (x >>> s) & 255).join('.');
  return { netmask: dot(mask), network: dot((a & mask) >>> 0) };
}

/** Ansible's LinuxNetwork: interfaces from /sys/class/net, addresses from `ip addr show`, default_ipv4/6 from `ip route get`. */
export function networkFacts(secs: Map<string, string[]>): Dict {
  const def4 = routeGet(secs.get('route4') ?? [], '8.8.8.8');
  const def6 = routeGet(secs.get('route6') ?? [], '2404:6800:400a:800::1012');
  const ifs = new Map<string, Dict>();
  for (const [name, lines] of secs) {
    if (!name.startsWith('if ')) continue;
    const dev = name.slice(3);
    const kv = kvLines(lines);
    const d: Dict = { device: dev };
    if (kv['address'] && kv['address'] !== '00:00:00:00:00:00') d['macaddress'] = kv['address'];
    if (kv['mtu']) d['mtu'] = parseInt(kv['mtu'], 10);
    if (kv['operstate']) d['active'] = kv['operstate'] !== 'down';
    if (kv['module']) d['module'] = kv['module'];
    if (kv['type']) d['type'] = IF_TYPE[kv['type']] ?? 'unknown';
    if (kv['bridge'] !== undefined) {
      d['type'] = 'bridge';
      d['interfaces'] = kv['bridge'].split(' ').filter(Boolean);
    }
    if (kv['pciid']) d['pciid'] = kv['pciid'];
    if (kv['speed'] && /^-?\d+$/.test(kv['speed'])) d['speed'] = parseInt(kv['speed'], 10);
    if (kv['flags']) d['promisc'] = (parseInt(kv['flags'], 16) & 0x100) > 0;
    ifs.set(dev, d);
  }
  const all4: string[] = [], all6: string[] = [];
  let dev = '';
  for (const line of secs.get('addr') ?? []) {
    const head = /^\d+:\s+([^:@\s]+)(@\S+)?:/.exec(line);
    if (head) { dev = head[1]!; continue; }
    const words = line.trim().split(/\s+/);
    const d = ifs.get(dev);
    if (!d) continue;
    if (words[0] === 'inet') {
      let address: string, prefix = '32', broadcast = '';
      if (words[1]!.includes('/')) {
        [address, prefix] = words[1]!.split('/') as [string, string];
        if (words.length > 3 && words[2] === 'brd') broadcast = words[3]!;
      } else address = words[1]!;
      const entry = { address, broadcast, ...v4(address, prefix), prefix };
      const label = words[words.length - 1]!;
      const secondary = words.includes('secondary');
      const target = label !== dev ? (ifs.get(label.replace(/:/g, '_')) ?? (() => { const x: Dict = {}; ifs.set(label, x); return x; })()) : d;
      if (!secondary && !('ipv4' in target)) target['ipv4'] = { address, broadcast, netmask: entry.netmask, network: entry.network, prefix };
      else ((target['ipv4_secondaries'] ??= []) as Dict[]).push({ address, broadcast, netmask: entry.netmask, network: entry.network, prefix });
      if (secondary && label !== dev) ((d['ipv4_secondaries'] ??= []) as Dict[]).push({ address, broadcast, netmask: entry.netmask, network: entry.network, prefix });
      if (def4['address'] === address) {
        Object.assign(def4, { broadcast, netmask: entry.netmask, network: entry.network, prefix, macaddress: d['macaddress'] ?? 'unknown', mtu: d['mtu'], type: d['type'] ?? 'unknown', alias: label });
      }
      if (!address.startsWith('127.')) all4.push(address);
    } else if (words[0] === 'inet6') {
      let address: string, prefix: string, scope: string;
      if (words[2] === 'peer') { address = words[1]!; prefix = words[3]!.split('/')[1]!; scope = words[5]!; }
      else { [address, prefix] = words[1]!.split('/') as [string, string]; scope = words[3]!; }
      ((d['ipv6'] ??= []) as Dict[]).push({ address, prefix, scope });
      if (def6['address'] === address) Object.assign(def6, { prefix, scope, macaddress: d['macaddress'] ?? 'unknown', mtu: d['mtu'], type: d['type'] ?? 'unknown' });
      if (address !== '::1') all6.push(address);
    }
  }
  const f: Dict = { interfaces: [...ifs.keys()].map((n) => n.replace(/:/g, '_')), default_ipv4: def4, default_ipv6: def6, all_ipv4_addresses: all4, all_ipv6_addresses: all6 };
  for (const [n, d] of ifs) f[n.replace(/[:-]/g, '_')] = d;
  return f;
}

