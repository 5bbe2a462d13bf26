#!/usr/bin/env node
// runbook test lab CLI (needs root and a build: npx tsc -p tsconfig.json).
//   node bin/lab.js up NAME N [--internet] [--podman] [--apt]   create a lab that outlives this command; prints the inventory path
//   node bin/lab.js down NAME                           destroy it
//   node bin/lab.js list                                labs that exist now
//   node bin/lab.js clean [--all]                       remove leftovers of killed runs (--all: every lab, and the shared rootfs mount)
import { Lab, destroyLab, destroyLeftovers, listLabs, releaseRootfs, LABS_DIR } from '../dist/lib/lab/lab.js';

const USAGE = `usage:
  node bin/lab.js up NAME N [--internet] [--podman] [--apt]
  node bin/lab.js down NAME
  node bin/lab.js list
  node bin/lab.js clean [--all]`;

async function main(argv) {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const args = argv.filter((a) => !a.startsWith('--'));
  const [cmd, ...rest] = args;
  const known = { up: ['--internet', '--podman', '--apt'], down: [], list: [], clean: ['--all'] }[cmd ?? ''];
  if (!known) return fail(USAGE);
  for (const f of flags) if (!known.includes(f)) return fail(`unknown option ${f}\n${USAGE}`);

  if (cmd === 'up') {
    const [name, n] = rest;
    const hosts = Number(n);
    if (!name || !Number.isInteger(hosts) || rest.length !== 2) return fail(USAGE);
    const lab = await Lab.create({
      name,
      hosts,
      internet: flags.has('--internet'),
      podman: flags.has('--podman'),
      apt: flags.has('--apt'),
      persistent: true,
    });
    console.log(lab.inventoryFile);
    return 0;
  }
  if (cmd === 'down') {
    if (rest.length !== 1) return fail(USAGE);
    const existed = await destroyLab(rest[0]);
    if (!existed) console.error(`no lab named ${rest[0]}`);
    return 0;
  }
  if (cmd === 'list') {
    for (const l of listLabs()) console.log(`${l.name}\t${l.persistent ? 'persistent' : l.alive ? 'live' : 'leftover'}\t${l.dir}`);
    return 0;
  }
  if (cmd === 'clean') {
    if (rest.length !== 0) return fail(USAGE);
    await destroyLeftovers(undefined, { all: flags.has('--all') });
    if (flags.has('--all')) await releaseRootfs(LABS_DIR);
    return 0;
  }
  return fail(USAGE);
}

function fail(msg) {
  console.error(msg);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`lab: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
