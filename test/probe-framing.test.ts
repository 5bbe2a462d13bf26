/**
 * The probe framing of lib/modules/common.ts, run by real shells (dash as /bin/sh, and bash): values with any byte
 * but NUL come back exactly, file content is binary-safe, a cut output never parses, and the helpers that replace
 * processes (rb_dirname, rb_uid, statShell with one stat, file's empty-directory globs) agree with the tools they
 * replace. Also counts the processes a no-op probe starts (strace), which is what the probe rewrite was for.
 */
import { spawnSync } from 'node:child_process';
import { planFrom } from '../lib/modules/types.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExecResult } from '../lib/connection/types.js';
import { EPILOGUE, PRELUDE, formatFrame, isFrameError, parseFrame, parseStat, quote, statShell, type Frame } from '../lib/modules/common.js';
import copy from '../lib/modules/copy.js';
import file from '../lib/modules/file.js';
import type { ModuleContext } from '../lib/modules/types.js';

const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'rb-framing-'));
afterAll(() => fs.rmSync(DIR, { recursive: true, force: true }));

const SHELLS = ['/bin/sh', '/bin/bash'].filter((s) => fs.existsSync(s));

function run(script: string, shell = '/bin/sh', argv: string[] = []): ExecResult {
  const r = spawnSync(shell, ['-c', script, 'probe', ...argv], { timeout: 20_000 });
  return { code: r.status ?? -1, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

function frameOf(r: ExecResult): Frame {
  const f = parseFrame(r);
  if (isFrameError(f)) throw new Error(f.error);
  return f;
}

const ODD = ['plain', 'a b', 'two\nlines', '', 'k=v:w', '-n', '%s%d\\n', 'trailing\n\n', '\ttab', 'ünïcödé ✓', "quote ' and \" and $HOME `x`"];

describe.each(SHELLS)('probe framing under %s', (shell) => {
  it('kv returns every value byte for byte (spaces, newlines, =, :, %, backslashes, quotes, trailing newlines)', () => {
    // the values travel as positional parameters: no quoting of ours is involved in getting them to the shell
    const script = [PRELUDE, 'i=0', 'for v in "$@"; do kv v$i "$v"; i=$((i + 1)); done', EPILOGUE].join('\n');
    const f = frameOf(run(script, shell, ODD));
    ODD.forEach((v, i) => expect(f.str(`v${i}`)).toBe(v));
  });

  it('kvfile is binary-safe; a file that cannot be read leaves no value', () => {
    const bin = path.join(DIR, `bin-${path.basename(shell)}`);
    const all = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));
    fs.writeFileSync(bin, all);
    fs.writeFileSync(`${bin}.empty`, '');
    const script = [PRELUDE, `kvfile a ${quote(bin)}`, `kvfile e ${quote(`${bin}.empty`)}`, `kvfile d ${quote(DIR)} 2>/dev/null`, `kvfile m ${quote(`${bin}.missing`)} 2>/dev/null`, EPILOGUE].join('\n');
    const f = frameOf(run(script, shell));
    expect(f.buf('a')!.equals(all)).toBe(true);
    expect(f.buf('e')!.length).toBe(0);
    expect(f.has('e')).toBe(true);
    expect(f.has('d')).toBe(false);
    expect(f.has('m')).toBe(false);
  });

  it('rb_dirname agrees with dirname(1), names with newlines included', () => {
    const paths = ['/', '//', '/a', '/a/', '/a/b', '/a/b///', 'a', 'a/b', 'a/b/', '/a//b', '/x\ny/z\n', '/sp ace/f', '.', '..', '/tmp/x/'];
    const script = [PRELUDE, 'i=0', 'for v in "$@"; do rb_dirname "$v"; kv d$i "$_d"; e=$(dirname -- "$v"; echo x); kv e$i "${e%??}"; i=$((i + 1)); done', EPILOGUE].join('\n');
    const f = frameOf(run(script, shell, paths));
    paths.forEach((p, i) => expect(f.str(`d${i}`), JSON.stringify(p)).toBe(f.str(`e${i}`)));
  });

  it('rb_uid is the effective uid (id -u), also for another user', () => {
    const script = [PRELUDE, 'rb_uid; kv uid "$_uid"; kv id "$(id -u)"', EPILOGUE].join('\n');
    const f = frameOf(run(script, shell));
    expect(f.str('uid')).toBe(f.str('id'));
    expect(f.str('uid')).toBe(String(process.getuid!()));
    if (process.getuid!() === 0 && fs.existsSync('/usr/sbin/runuser')) {
      const r = spawnSync('/usr/sbin/runuser', ['-u', 'nobody', '--', shell, '-c', script], { timeout: 20_000 });
      const g = frameOf({ code: r.status ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() });
      expect(g.str('uid')).toBe(g.str('id'));
      expect(g.str('uid')).not.toBe('0');
    }
  });
});

describe('statShell: one stat process, the same fields as stat(1)', () => {
  const base = path.join(DIR, 'st');
  fs.mkdirSync(base);
  const f1 = path.join(base, 'a file\nwith newline');
  fs.writeFileSync(f1, 'hello\n');
  fs.chmodSync(f1, 0o640);
  const link = path.join(base, 'link');
  const target = 'a file\nwith newline';
  fs.symlinkSync(target, link);
  const dangling = path.join(base, 'dangling');
  fs.symlinkSync('nowhere/x', dangling);

  function statOf(p: string, follow: boolean): { st: ReturnType<typeof parseStat>; sz: string | undefined } {
    const f = frameOf(run([PRELUDE, `p=${quote(p)}`, statShell('x', 'p', follow), 'kv sz "$x_sz"', EPILOGUE].join('\n')));
    return { st: parseStat(f, 'x'), sz: f.str('sz') };
  }

  it('a regular file: type, mode, ids, names, size (also in $PREFIX_sz)', () => {
    const { st, sz } = statOf(f1, false);
    const s = fs.statSync(f1);
    expect(st).toMatchObject({ type: 'file', mode: '0640', uid: s.uid, gid: s.gid, size: 6, inode: s.ino, nlink: 1 });
    expect(st.owner).toBe(run(`stat -c %U -- ${quote(f1)}`).stdout.trim());
    expect(st.group).toBe(run(`stat -c %G -- ${quote(f1)}`).stdout.trim());
    expect(sz).toBe('6');
  });

  it('a symlink: its target exactly (newline inside); followed: the file; dangling and followed: absent', () => {
    expect(statOf(link, false).st).toMatchObject({ type: 'link', target });
    expect(statOf(link, true).st).toMatchObject({ type: 'file', size: 6 });
    expect(statOf(dangling, false).st).toMatchObject({ type: 'link', target: 'nowhere/x' });
    expect(statOf(dangling, true)).toEqual({ st: expect.objectContaining({ type: 'absent' }), sz: '' });
    expect(statOf(path.join(base, 'missing'), false).st.type).toBe('absent');
  });
});

describe('parseFrame', () => {
  const out = run([PRELUDE, 'kv a "x\ny"', `kvfile b /etc/hostname`, 'kv c 3', EPILOGUE].join('\n'));

  it('a cut output never parses, wherever it is cut', () => {
    expect(isFrameError(parseFrame(out))).toBe(false);
    for (let n = 0; n < out.stdout.length; n++) {
      expect(isFrameError(parseFrame({ ...out, stdout: out.stdout.slice(0, n) })), `cut at ${n}`).toBe(true);
    }
  });

  it('ignores what a login shell prints before the frame; refuses output a probe printed of its own', () => {
    const banner = frameOf({ ...out, stdout: `Welcome!\nkey=value\n${out.stdout}` });
    expect(banner.str('a')).toBe('x\ny');
    expect(banner.has('key')).toBe(false);
    const stray = run([PRELUDE, 'kv a 1', 'echo oops', 'kv b 2', EPILOGUE].join('\n'));
    const f = parseFrame(stray);
    expect(isFrameError(f) && f.error).toMatch(/not framed.*oops/);
  });

  it('formatFrame (the fixtures of the module tests) is what the shell prints', () => {
    const r = run([PRELUDE, 'kv a "x y"', 'kv b ""', EPILOGUE].join('\n'));
    expect(r.stdout).toBe(formatFrame({ a: 'x y', b: '' }));
  });
});

describe('file: empty-directory detection without ls', () => {
  const ctx = {} as ModuleContext;
  const cases: Array<[string, string[], boolean]> = [
    ['empty', [], true],
    ['dotfile', ['.a'], false],
    ['dotdot-name', ['..b'], false],
    ['plain', ['x'], false],
    ['glob-chars', ['*'], false],
  ];
  it.each(cases)('%s', async (name, entries, empty) => {
    const d = path.join(DIR, `empty-${name}`);
    fs.mkdirSync(d);
    for (const e of entries) fs.writeFileSync(path.join(d, e), '');
    const p = await file.prepare!({ path: d, state: 'directory' }, ctx);
    const f = frameOf(run(file.probe(p)!.script));
    expect(f.str('empty')).toBe(empty ? '1' : '0');
  });
});

const haveStrace = spawnSync('sh', ['-c', 'command -v strace'], { timeout: 5000 }).status === 0;

describe.skipIf(!haveStrace)('processes a no-op probe starts (strace -f)', () => {
  function processes(script: string): { execs: number; forks: number } {
    const trace = path.join(DIR, `trace-${Math.random().toString(36).slice(2)}`);
    const r = spawnSync('strace', ['-f', '-e', 'trace=execve,clone,clone3,fork,vfork', '-o', trace, '/bin/sh', '-c', script], { timeout: 20_000 });
    expect(r.status).toBe(0);
    const lines = fs.readFileSync(trace, 'utf8').split('\n');
    return { execs: lines.filter((l) => /execve\(/.test(l)).length - 1, forks: lines.filter((l) => /\b(clone3?|v?fork)\(/.test(l)).length };
  }

  it('copy of an unchanged small file: stat and base64 only (it used to be ~25 execs)', async () => {
    const dest = path.join(DIR, 'copy.conf');
    fs.writeFileSync(dest, 'a=1\n');
    const ctx = {} as ModuleContext;
    const p = await copy.prepare!({ dest, content: 'a=1\n', mode: '0644' }, ctx);
    const script = copy.probe(p)!.script;
    expect(planFrom(copy, p, run(script)).steps).toEqual([]);
    const n = processes(script);
    expect(n.execs).toBeLessThanOrEqual(2);
    expect(n.forks).toBeLessThanOrEqual(3);
  });

  it('file state=directory on an existing directory: one stat', async () => {
    const d = path.join(DIR, 'pdir');
    fs.mkdirSync(d, { mode: 0o755 });
    fs.chmodSync(d, 0o755);
    const p = await file.prepare!({ path: d, state: 'directory', mode: '0755' }, {} as ModuleContext);
    const script = file.probe(p)!.script;
    expect(planFrom(file, p, run(script)).steps).toEqual([]);
    expect(processes(script).execs).toBeLessThanOrEqual(1);
  });
});
