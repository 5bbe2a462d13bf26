/**
 * A batch of probes stats all the paths they declare in ONE `stat` process (lib/connection/scripts.ts STAT_DECL,
 * prefetchScript), and every probe's output is the one it gives alone. Real sh, real stat, real files: the
 * LocalConnection runs the batch on this machine; a `stat` earlier in PATH counts the processes.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalConnection } from '../lib/connection/local.js';
import { batchScript } from '../lib/connection/scripts.js';
import { applyAndProbe, probeBatch } from '../lib/executor/apply.js';
import { prepareFile, probeFileScript } from '../lib/modules/file.js';
import { contentProbeScript } from '../lib/modules/copy.js';

const conn = new LocalConnection('local');
let dir = '';
let bin = '';
let log = '';
const env = () => ({ PATH: `${bin}:${process.env['PATH']}`, RB_STAT_LOG: log });
/** atime (the 6th field of a `_raw=` record) moves whenever a probe reads a file's content: not compared */
const noAtime = (r: { stdout: string }) => ({ ...r, stdout: r.stdout.replace(/(_raw=\S+ \S+ \S+ \S+ \S+ )\d+/g, '$1-') });
const stats = () => (readFileSync(log, 'utf8').match(/^stat /gm) ?? []).length;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rb-prefetch-'));
  bin = join(dir, 'bin');
  mkdirSync(bin);
  log = join(dir, 'stat.log');
  const real = execFileSync('sh', ['-c', 'command -v stat'], { encoding: 'utf8' }).trim();
  writeFileSync(join(bin, 'stat'), `#!/bin/sh\necho "stat $*" >> "$RB_STAT_LOG"\nexec ${real} "$@"\n`);
  chmodSync(join(bin, 'stat'), 0o755);
  writeFileSync(join(dir, 'file'), 'x');
  mkdirSync(join(dir, 'a dir'));
  writeFileSync(join(dir, "it's here"), 'y');
  symlinkSync('file', join(dir, 'link'));
  symlinkSync('nowhere', join(dir, 'dangling'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const names = ['file', 'a dir', "it's here", 'link', 'dangling', 'fifo', 'absent', 'a dir/absent too'];
const fileProbes = () => names.map((n) => probeFileScript(prepareFile({ path: join(dir, n), state: 'file' })));

describe('one stat for a batch of probes', () => {
  it('file probes: every output as alone, one stat for all existing paths (a link target still its own stat -L)', async () => {
    const scripts = fileProbes();
    writeFileSync(log, '');
    const alone = [];
    for (const sc of scripts) alone.push(await conn.run(sc, { env: env() }));
    const aloneStats = stats();
    expect(aloneStats).toBeGreaterThanOrEqual(6);
    writeFileSync(log, '');
    const batched = await probeBatch(conn, scripts, { env: env() });
    expect(batched.map(noAtime)).toEqual(alone.map(noAtime));
    // one lstat of the 6 existing paths, and the stat -L of the link to a file (follow: not prefetched; the
    // dangling link's target does not exist, so it has none)
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines.filter((l) => !l.startsWith('stat -L'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('stat -L'))).toEqual([`stat -L -c %f %u %g %s %Y %X %Z %i %d %h:%U:%G -- ${join(dir, 'link')}`]);
  });

  it('copy probes too; after steps in the same command the probes stat again (nothing prefetched is stale)', async () => {
    const target = join(dir, 'copy-target');
    writeFileSync(target, 'old');
    const probe = contentProbeScript({ dest: target } as never);
    const other = contentProbeScript({ dest: join(dir, 'file') } as never);
    writeFileSync(log, '');
    const before = await probeBatch(conn, [probe, other], { env: env() });
    expect(stats()).toBe(1);
    expect(before.map(noAtime)).toEqual([noAtime(await conn.run(probe, { env: env() })), noAtime(await conn.run(other, { env: env() }))]);
    // steps (change the target's mode), then the two probes again: they see the new mode
    chmodSync(target, 0o600);
    const step = { kind: 'run' as const, script: `chmod 0640 ${target}` };
    writeFileSync(log, '');
    const r = await applyAndProbe(conn, [[step]], [probe, other], { env: env() });
    const alone = await conn.run(probe, { env: env() });
    expect(noAtime(r.probes[0]!)).toEqual(noAtime(alone));
    expect(alone.stdout).toMatch(/d_raw=81a0 /); // 0100640
  });

  it('a path that vanishes between the existence check and the stat: the probes stat on their own', () => {
    // the prefetch is only used when every existing path got exactly one record
    const { script } = batchScript(fileProbes().map((s, i) => ({ script: s, group: i, probe: true })), 'abc123');
    expect(script).toContain('[ "$_rbpm" = $# ] && _rbpf=1');
    expect(script.match(/stat -c/g)!.length).toBeGreaterThan(1);
  });
});
