#!/usr/bin/env node
// Inventory loading time per host: generated YAML and INI inventories of 1,000 / 7,500 / 30,000 hosts (10 groups
// under 2 parents, per-host vars, group vars, a host range line in INI), each loaded in a fresh node process with
// dist/lib/inventory's loadInventory, and a pattern selected. Needs a built dist/ (npx tsc -p tsconfig.json).
//
//   node bench/inventory-scale.js [--sizes 1000,7500,30000] [--keep]
//
// Prints wall and CPU time of loadInventory (module import excluded), time per host and peak RSS per size and format. Loading is linear when the per-host time stays
// flat as the size grows.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const SIZES = opt('--sizes', '1000,7500,30000').split(',').map(Number);
const GROUPS = 10;

if (!existsSync(path.join(ROOT, 'dist', 'lib', 'inventory', 'load.js'))) {
  console.error('inventory-scale: dist/ is missing; run `npx tsc -p tsconfig.json` first');
  process.exit(1);
}

/** host i: web0001.dc3.example.com style names, a group by i % GROUPS, a few host vars */
const hostName = (i) => `node${String(i).padStart(6, '0')}.dc${i % 7}.example.com`;

export function yamlInventory(n) {
  const lines = ['all:', '  vars:', '    ansible_user: deploy', '  children:'];
  for (const parent of ['east', 'west']) {
    lines.push(`    ${parent}:`, '      vars:', `        region: ${parent}`, '      children:');
    for (let g = 0; g < GROUPS; g++) {
      if ((g % 2 === 0) !== (parent === 'east')) continue;
      lines.push(`        grp${g}:`, '          vars:', `            tier: t${g}`, '          hosts:');
      for (let i = g; i < n; i += GROUPS) lines.push(`            ${hostName(i)}:`, `              ansible_host: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, `              rack: r${i % 40}`);
    }
  }
  return lines.join('\n') + '\n';
}

export function iniInventory(n) {
  const lines = ['[all:vars]', 'ansible_user=deploy', ''];
  for (let g = 0; g < GROUPS; g++) {
    lines.push(`[grp${g}]`);
    for (let i = g; i < n; i += GROUPS) lines.push(`${hostName(i)} ansible_host=10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255} rack=r${i % 40}`);
    lines.push('', `[grp${g}:vars]`, `tier=t${g}`, '');
  }
  lines.push('[east:children]', ...Array.from({ length: GROUPS / 2 }, (_, k) => `grp${2 * k}`), '');
  lines.push('[west:children]', ...Array.from({ length: GROUPS / 2 }, (_, k) => `grp${2 * k + 1}`), '');
  lines.push('[range]', `extra[0001:${String(Math.max(1, Math.floor(n / 10))).padStart(4, '0')}].example.org`, '');
  return lines.join('\n');
}

const LOADER = `
const { loadInventory } = await import(${JSON.stringify(path.join(ROOT, 'dist', 'lib', 'inventory', 'load.js'))});
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
const inv = loadInventory(process.argv[1]);
const t1 = process.hrtime.bigint();
const c = process.cpuUsage(c0);
const sel = inv.selectHosts('east:&grp2:!node000002*');
const vars = inv.hostVars([...inv.hosts.keys()][0]);
const t2 = process.hrtime.bigint();
process.stdout.write(JSON.stringify({ hosts: inv.hosts.size, load: Number(t1 - t0) / 1e9, select: Number(t2 - t1) / 1e9, selected: sel.length, cpu: (c.user + c.system) / 1e6, rss: process.resourceUsage().maxRSS / 1024, tier: vars.tier }));
`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rb-inv-scale-'));
  try {
    console.log('format  hosts    load s    CPU s   per host µs (wall)   select s   peak RSS MB');
    for (const n of SIZES) {
      for (const [fmt, gen, ext] of [['yaml', yamlInventory, 'yml'], ['ini', iniInventory, 'ini']]) {
        const file = path.join(dir, `inv-${n}.${ext}`);
        writeFileSync(file, gen(n));
        const r = spawnSync(process.execPath, ['--input-type=module', '-e', LOADER, file], { encoding: 'utf8', timeout: 300_000 });
        if (r.status !== 0) {
          console.error(`${fmt} ${n}: failed (${r.status ?? r.signal})\n${r.stderr.slice(-2000)}`);
          process.exitCode = 1;
          continue;
        }
        const m = JSON.parse(r.stdout);
        console.log(`${fmt.padEnd(6)}  ${String(m.hosts).padStart(6)}  ${m.load.toFixed(2).padStart(7)}  ${m.cpu.toFixed(2).padStart(7)}  ${((m.load / m.hosts) * 1e6).toFixed(1).padStart(19)}  ${m.select.toFixed(3).padStart(9)}  ${m.rss.toFixed(0).padStart(12)}`);
      }
    }
  } finally {
    if (argv.includes('--keep')) console.log(`inventories kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
