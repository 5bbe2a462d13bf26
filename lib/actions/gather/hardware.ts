/** Ansible's LinuxHardware collectors (cpu, memory, mounts) over the raw sections of FACTS_SCRIPT (../facts.ts). Pure. */

type Dict = Record<string, unknown>;

/** Ansible's LinuxHardware.get_cpu_facts (x86/ARM), from the cpuinfo lines the script keeps. */
export function cpuFacts(lines: string[], nproc: number | undefined, arch: string, xen: boolean): Dict {
  const processor: string[] = [];
  let i = 0, vendor = 0, model = 0, proc = 0;
  let physid = '0', coreid = '0';
  const sockets = new Map<string, number>(), cores = new Map<string, number>();
  let hashProcessors: number | undefined;
  for (const line of lines) {
    const c = line.indexOf(':');
    const key = (c < 0 ? line : line.slice(0, c)).trim();
    const val = c < 0 ? '' : line.slice(c + 1).trim();
    if (['model name', 'Processor', 'vendor_id', 'cpu', 'Vendor', 'processor'].includes(key)) {
      processor.push(val);
      if (key === 'vendor_id') vendor++;
      if (key === 'model name') model++;
      if (key === 'processor') proc++;
      i++;
    } else if (key === 'physical id') {
      physid = val;
      if (!sockets.has(physid)) sockets.set(physid, 1);
    } else if (key === 'core id') {
      coreid = val;
      if (!sockets.has(coreid)) cores.set(coreid, 1);
    } else if (key === 'cpu cores') sockets.set(physid, parseInt(val, 10));
    else if (key === 'siblings') cores.set(coreid, parseInt(val, 10));
    else if (key === '# processors') hashProcessors = parseInt(val, 10);
    else if (key === 'ncpus active') i = parseInt(val, 10);
  }
  if (vendor > 0 && vendor === model) i = vendor;
  if (/^(armv|aarch|ppc)/.test(arch)) i = proc;
  const f: Dict = { processor };
  if (hashProcessors !== undefined) f['processor_cores'] = hashProcessors;
  if (arch === 's390x') return f;
  void xen; // Xen paravirt needs cpu flags; not read (rare)
  f['processor_count'] = sockets.size ? sockets.size : i;
  const sv = [...sockets.values()];
  f['processor_cores'] = sv.length && sv[0] ? sv[0] : 1;
  const cv = [...cores.values()];
  f['processor_threads_per_core'] = Math.floor((cv.length ? cv[0]! : 1) / (f['processor_cores'] as number));
  f['processor_vcpus'] = (f['processor_threads_per_core'] as number) * (f['processor_count'] as number) * (f['processor_cores'] as number);
  f['processor_nproc'] = nproc ?? proc;
  return f;
}

/** Ansible's LinuxHardware.get_memory_facts: MB are kB // 1024. */
export function memoryFacts(lines: string[]): Dict {
  const kb: Record<string, number> = {};
  for (const l of lines) {
    const m = /^([^:]+):\s*(\d+)/.exec(l);
    if (m) kb[m[1]!] = Math.floor(parseInt(m[2]!, 10) / 1024);
  }
  const f: Dict = {};
  for (const k of ['MemTotal', 'SwapTotal', 'MemFree', 'SwapFree']) if (kb[k] !== undefined) f[`${k.toLowerCase()}_mb`] = kb[k];
  const g = (k: string) => kb[k] ?? null;
  const sub = (a: number | null, b: number | null) => (a === null || b === null ? null : a - b);
  const nocacheFree = kb['Cached'] !== undefined && kb['MemFree'] !== undefined && kb['Buffers'] !== undefined ? kb['Cached'] + kb['MemFree'] + kb['Buffers'] : null;
  f['memory_mb'] = {
    real: { total: g('MemTotal'), used: sub(g('MemTotal'), g('MemFree')), free: g('MemFree') },
    nocache: { free: nocacheFree, used: sub(g('MemTotal'), nocacheFree) },
    swap: { total: g('SwapTotal'), free: g('SwapFree'), used: sub(g('SwapTotal'), g('SwapFree')), cached: g('SwapCached') },
  };
  return f;
}

const octal = (s: string) => s.replace(/\\[0-9]{3}/g, (m) => String.fromCharCode(parseInt(m.slice(1), 8)));

/** Ansible's get_mount_facts: real devices only, bind mounts marked, sizes from statvfs. */
export function mountFacts(mtab: string[], findmnt: string[], lsblk: string[], statvfs: string[]): Dict[] {
  const binds = new Set<string>();
  for (const l of findmnt) {
    const f = l.split(/\s+/);
    if (f.length >= 2 && /\]$/.test(f[1]!)) binds.add(f[0]!);
  }
  const uuids = new Map<string, string>();
  for (const l of lsblk) {
    const f = l.trim().split(/\s+/);
    if (f.length >= 2) uuids.set(f[0]!, f[1]!);
  }
  const sizes = new Map<string, number[]>();
  for (const l of statvfs) {
    const f = l.split(' ');
    if (f.length >= 8 && f.slice(-7).every((x) => /^\d+$/.test(x))) sizes.set(octal(f.slice(0, -7).join(' ')), f.slice(-7).map(Number));
  }
  const byMount = new Map<string, Dict>();
  for (const line of mtab) {
    const fields = line.split(/\s+/).filter(Boolean).map(octal);
    if (fields.length < 4) continue;
    const [device, mount, fstype, options] = fields as [string, string, string, string];
    if ((!device.startsWith('/') && !device.startsWith('\\') && !device.includes(':/')) || fstype === 'none') continue;
    const info: Dict = { mount, device, fstype, options };
    // Ansible's MTAB_BIND_MOUNT_RE is r'.*bind.*"' (with a stray quote), so it never matches: ',bind' is always added
    if (binds.has(mount)) info['options'] = options + ',bind';
    const s = sizes.get(mount);
    if (s) {
      const [frsize, bsize, blocks, , bavail, files, ffree] = s as [number, number, number, number, number, number, number];
      Object.assign(info, {
        size_total: frsize * blocks, size_available: frsize * bavail, block_size: bsize, block_total: blocks,
        block_available: bavail, block_used: blocks - bavail, inode_total: files, inode_available: ffree, inode_used: files - ffree,
      });
    }
    info['uuid'] = uuids.get(device) || 'N/A';
    byMount.set(mount, info);
  }
  return [...byMount.values()];
}

