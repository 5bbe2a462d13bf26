/**
 * Probes marked INLINE_MARK (lib/connection/scripts.ts inlineProbe) run in the batch's own shell, without a subshell
 * of their own. Real shells, real files: every marked probe of file, copy, template, stat, sysctl and command
 * names every variable and function it leaves behind (bash's compgen lists them), leaves the shell's directory,
 * umask, traps and options as they were, gives the output it gives alone, and a later unit of the same command sees
 * none of its names. A variable that is already set (an `environment:` value, say) makes the batch run the probe in a
 * subshell instead, so the later unit still sees that value.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalConnection } from '../lib/connection/local.js';
import { batchScript, inlineNames, q, splitBatch } from '../lib/connection/scripts.js';
import { PRELUDE } from '../lib/modules/probe-frame.js';
import { probeBatch } from '../lib/executor/apply.js';
import { prepareFile, probeFileScript } from '../lib/modules/file.js';
import { contentProbeScript } from '../lib/modules/copy.js';
import { prepareStat, probeStatScript } from '../lib/modules/stat.js';
import sysctl, { sysctlProbeScript } from '../lib/modules/sysctl.js';
import { prepareCommand, probeCommandScript } from '../lib/modules/command.js';

const conn = new LocalConnection('local');
let dir = '';
const haveBash = spawnSync('sh', ['-c', 'command -v bash']).status === 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rb-inline-'));
  writeFileSync(join(dir, 'file'), 'x\n');
  mkdirSync(join(dir, 'a dir'));
  writeFileSync(join(dir, 'a dir', 'inside'), 'y');
  symlinkSync('file', join(dir, 'link'));
  writeFileSync(join(dir, '90-test.conf'), 'net.core.somaxconn = 1024\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const probes = (): Array<[string, string]> => [
  ['file', probeFileScript(prepareFile({ path: join(dir, 'file'), state: 'file', mode: '0644' }))],
  ['file directory recurse', probeFileScript(prepareFile({ path: join(dir, 'a dir'), state: 'directory', recurse: true, owner: 'root' }))],
  ['file link', probeFileScript(prepareFile({ path: join(dir, 'new link'), src: join(dir, 'file'), state: 'link' }))],
  ['file times', probeFileScript(prepareFile({ path: join(dir, 'file'), state: 'touch', modification_time: 'preserve', access_time: '202601010000.00' }))],
  ['copy', contentProbeScript({ dest: join(dir, 'file') } as never)],
  ['copy into a directory', contentProbeScript({ dest: join(dir, 'a dir'), srcBase: 'inside' } as never)],
  ['copy through a link', contentProbeScript({ dest: join(dir, 'link') } as never)],
  ['stat', probeStatScript(prepareStat({ path: join(dir, 'link'), follow: true, get_checksum: true }))],
  ['stat absent', probeStatScript(prepareStat({ path: join(dir, 'absent') }))],
  ['sysctl', sysctlProbeScript(sysctl.prepare!({ name: 'net.core.somaxconn', value: '1024', sysctl_file: join(dir, '90-test.conf') }, {} as never) as never)],
  ['command creates', probeCommandScript(prepareCommand({ cmd: 'true', creates: join(dir, 'fi*'), removes: join(dir, 'absent') }, false))],
];

describe('inline probes', () => {
  it('every probe of these modules is marked (command with chdir is not: it changes directory)', () => {
    for (const [what, sc] of probes()) expect(inlineNames(sc), what).toBeDefined();
    expect(inlineNames(probeCommandScript(prepareCommand({ cmd: 'true', creates: '/x', chdir: '/tmp' }, false)))).toBeUndefined();
  });

  it.skipIf(!haveBash)('each names every variable and function it leaves behind (bash compgen, before and after)', () => {
    for (const [what, sc] of probes()) {
      const names = inlineNames(sc)!;
      const wrapper = [
        'compgen -v | sort > "$1/before.v"',
        'eval "$RB_PROBE" > /dev/null',
        'compgen -v | sort > "$1/after.v"',
        'compgen -A function | sort > "$1/after.f"',
        'comm -13 "$1/before.v" "$1/after.v"',
        'echo --',
        'cat "$1/after.f"',
      ].join('\n');
      const out = execFileSync('bash', ['-c', wrapper, 'bash', dir], { encoding: 'utf8', env: { ...process.env, RB_PROBE: sc } });
      const [vars, fns] = out.split('--\n');
      const left = vars!.split('\n').filter((v) => v && v !== '_' && v !== 'BASH_REMATCH' && v !== 'PIPESTATUS');
      expect(left.filter((v) => !names.vars.includes(v)), `${what}: variables not named`).toEqual([]);
      expect(left.length, `${what}: assigns something`).toBeGreaterThan(0);
      const defined = fns!.split('\n').filter(Boolean);
      expect(defined.filter((f) => !names.fns.includes(f)), `${what}: functions not named`).toEqual([]);
    }
  });

  it('in one batch: the outputs they give alone; the shell unchanged after them; their names gone for the next unit', async () => {
    const list = probes();
    const alone = [];
    for (const [, sc] of list) alone.push(await conn.run(sc));
    // what a later unit sees of the shell: directory, umask, traps, options, and the probes' names
    const names = [...new Set(list.flatMap(([, sc]) => inlineNames(sc)!.vars))];
    const fns = [...new Set(list.flatMap(([, sc]) => inlineNames(sc)!.fns))];
    const look = [
      'pwd; umask; trap; set +o | sort | tr "\\n" " "; echo',
      ...names.map((v) => `printf '%s=%s\\n' ${v} "\${${v}-unset}"`),
      ...fns.map((f) => `command -v ${f} >/dev/null && echo "function ${f} defined"`),
      'true',
    ].join('\n');
    const units = [
      { script: look, group: 0 },
      ...list.map(([, sc], i) => ({ script: sc, group: i + 1, probe: true })),
      { script: look, group: list.length + 1 },
    ];
    // the probes' prelude travels once (batchScript's shared texts), each probe evals it
    const { script } = batchScript(units, 'inl1', [PRELUDE]);
    expect(script.match(/\{ eval "\$_rbs"; \}/g)).toHaveLength(list.length);
    expect(script.split(q(PRELUDE)).length).toBe(2);
    expect(script.match(/eval "\$_rbsh0"/g)).toHaveLength(list.length);
    const r = await conn.run(script);
    const { units: outs } = splitBatch(r, units.length, 'inl1');
    // atime (the 6th field of a _raw record, the 2nd of times) moves when a probe reads a file's content
    const noAtime = (s: string) => s.replace(/(_raw=\S+ \S+ \S+ \S+ \S+ )\d+/g, '$1-').replace(/(times=\S+ )\S+/g, '$1-');
    list.forEach(([what], i) => expect(noAtime(outs[i + 1]!.stdout), what).toBe(noAtime(alone[i]!.stdout)));
    expect(outs[list.length + 1]!.stdout).toBe(outs[0]!.stdout);
    expect(outs[0]!.stdout).toContain('p=unset');
    expect(outs[0]!.stdout).not.toContain('function kv defined');
  });

  it('a name already set (here from the environment) runs the probe in a subshell: the next unit still sees it', async () => {
    const sc = probeFileScript(prepareFile({ path: join(dir, 'file'), state: 'file' }));
    expect(inlineNames(sc)!.vars).toContain('p');
    const units = [
      { script: sc, group: 0, probe: true },
      { script: 'printf "p=%s\\n" "${p-unset}"', group: 1 },
    ];
    const { script } = batchScript(units, 'inl2');
    const r = await conn.run(script, { env: { p: 'kept' } });
    const { units: outs } = splitBatch(r, units.length, 'inl2');
    expect(outs[1]!.stdout).toBe('p=kept\n');
    const alone = await conn.run(sc, { env: { p: 'kept' } });
    expect(outs[0]!.stdout.replace(/(_raw=\S+ \S+ \S+ \S+ \S+ )\d+/g, '$1-')).toBe(alone.stdout.replace(/(_raw=\S+ \S+ \S+ \S+ \S+ )\d+/g, '$1-'));
    // and the batch of probes the executor sends gives the same output
    const [viaBatch] = await probeBatch(conn, [sc, sc], { env: { p: 'kept' } });
    expect(viaBatch!.stdout.replace(/(_raw=\S+ \S+ \S+ \S+ \S+ )\d+/g, '$1-')).toBe(alone.stdout.replace(/(_raw=\S+ \S+ \S+ \S+ \S+ )\d+/g, '$1-'));
  });
});

describe('kvtext: small plain text through the read builtin, everything else through base64', () => {
  const cases: Array<[string, Buffer, 'text' | 'base64']> = [
    ['ascii lines', Buffer.from('a = 1\n\tb=2 # x\n'), 'text'],
    ['no final line break', Buffer.from('one\ntwo'), 'text'],
    ['only line breaks', Buffer.from('\n\n\n'), 'text'],
    ['empty', Buffer.alloc(0), 'text'],
    ['backslashes and quotes', Buffer.from('a\\b "c" \'d\' $e `f`\n'), 'text'],
    ['UTF-8', Buffer.from('café\n'), 'base64'],
    ['not UTF-8', Buffer.from([0x61, 0xff, 0x0a]), 'base64'],
    ['a NUL byte', Buffer.from('a\0b\n'), 'base64'],
    ['CRLF', Buffer.from('a\r\nb\r\n'), 'base64'],
    ['over 4096 bytes', Buffer.from('x'.repeat(5000)), 'base64'],
  ];
  for (const sh of ['sh', 'bash']) {
    it.skipIf(sh === 'bash' && !haveBash)(`${sh}: every file's bytes come back exact`, async () => {
      for (const [what, bytes, how] of cases) {
        const f = join(dir, 'kvtext');
        writeFileSync(f, bytes);
        const { PRELUDE, EPILOGUE, parseFrame, Frame } = await import('../lib/modules/probe-frame.js');
        const script = `${PRELUDE}\nkvtext content ${JSON.stringify(f)} "$(wc -c < ${JSON.stringify(f)})"\n${EPILOGUE}`;
        const r = spawnSync(sh, ['-c', script]);
        const frame = parseFrame({ code: r.status ?? -1, stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString() });
        expect(frame, what).toBeInstanceOf(Frame);
        const out = r.stdout.toString('latin1');
        expect(out.includes('content='), `${what}: as text`).toBe(how === 'text');
        expect(out.includes('content:'), `${what}: as base64`).toBe(how === 'base64');
        expect(Buffer.from(r.stdout).equals(Buffer.from(out, 'latin1'))).toBe(true);
        const got = how === 'text' ? Buffer.from(out.slice(out.indexOf('content=') + 8, out.indexOf('\0', out.indexOf('content='))), 'latin1') : (frame as InstanceType<typeof Frame>).buf('content')!;
        expect(got.equals(bytes), what).toBe(true);
      }
    });
  }
});
