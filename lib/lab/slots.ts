// Claiming a lab name and a slot. Both are atomic mkdirs, so labs made concurrently (tests, demo, bench) never
// share a name, a slot, or the subnet and interface names that follow from the slot.
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { IN_PROGRESS_MS, LABS_DIR, MAX_SLOT, SLOTS_DIR, ageMs, labDirOf, ownerAlive, readJson, type Owner } from './layout.js';
import { LabError, processStartTime } from './proc.js';

/**
 * Makes the lab dir atomically and writes owner.json; throws if a live lab of that name exists. A dead lab of that
 * name is first removed with removeStale (the teardown, which lives above this file).
 */
export async function claimLabDir(name: string, persistent: boolean, removeStale: (name: string) => Promise<unknown>): Promise<Owner> {
  mkdirSync(LABS_DIR, { recursive: true });
  const dir = labDirOf(name);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      mkdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = readJson<Owner>(path.join(dir, 'owner.json'));
      if (!owner && ageMs(dir) < IN_PROGRESS_MS) throw new LabError(`lab ${name} is being created by another process`);
      if (owner?.persistent) throw new LabError(`lab ${name} exists (kept by \`lab.js up\`); remove it first: node bin/lab.js down ${name}`);
      if (owner && ownerAlive(owner)) throw new LabError(`lab ${name} exists and belongs to live process ${owner.pid}`);
      await removeStale(name);
      continue;
    }
    const owner: Owner = { id: randomUUID(), pid: process.pid, start: processStartTime(process.pid) ?? '', persistent };
    writeFileSync(path.join(dir, 'owner.json'), JSON.stringify(owner) + '\n');
    return owner;
  }
  throw new LabError(`could not claim lab dir ${dir}`);
}

/** Takes the lowest free slot (mkdir slots/S) and writes the lab's name and id into it. */
export function allocateSlot(name: string, id: string): number {
  mkdirSync(SLOTS_DIR, { recursive: true });
  for (let n = 1; n <= MAX_SLOT; n++) {
    const d = path.join(SLOTS_DIR, String(n));
    try {
      mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    writeFileSync(path.join(d, 'lab'), `${name}\n${id}\n`);
    return n;
  }
  throw new LabError(`all ${MAX_SLOT} lab slots are in use (see ${SLOTS_DIR}; node bin/lab.js clean)`);
}
