/**
 * File integrity: special mode bits (setuid, setgid, sticky) survive every file write, and bytes that are not
 * UTF-8 survive templating, copying, slurping and line edits.
 *
 * 1. Pure unit tests of the bytes codec (lib/modules/bytes.ts) and of the attribute-fix scripts.
 * 2. End to end over real SSH against a lab host: playbooks run with the CLI, results checked on the host with
 *    `stat -c %a` and `sha256sum`, and a second run reports 0 changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { decodeBytes, encodeText, showEscapes, ESCAPE_BASE } from '../lib/modules/bytes.js';
import { attrChanges, diffText, formatFrame, parseFrame, isFrameError, normaliseMode, type FileStat } from '../lib/modules/common.js';
import { cliAsync, events } from './helpers.js';

// ---------------------------------------------------------------------------------------------------------------
// 1. pure

const roundTrip = (b: Buffer): Buffer => encodeText(decodeBytes(b));

describe('bytes codec', () => {
  it('every single byte value round-trips; ASCII is itself, every other lone byte is one escape code point', () => {
    for (let b = 0; b < 256; b++) {
      const buf = Buffer.from([b]);
      const s = decodeBytes(buf);
      expect(roundTrip(buf).equals(buf), `byte ${b}`).toBe(true);
      if (b < 0x80) expect(s).toBe(String.fromCharCode(b));
      else expect(s).toBe(String.fromCodePoint(ESCAPE_BASE + b));
    }
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(roundTrip(all).equals(all)).toBe(true);
    const rev = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i));
    expect(roundTrip(rev).equals(rev)).toBe(true);
  });

  it('random buffers round-trip', () => {
    for (let i = 0; i < 300; i++) {
      const b = randomBytes(1 + (i % 97) * 13);
      expect(roundTrip(b).equals(b), b.toString('hex')).toBe(true);
    }
    // random mixes of valid multi-byte sequences and junk bytes
    const pieces = ['é', '日本', '🎉', '\u{10FFFD}', 'a', '\n'].map((s) => Buffer.from(s));
    for (let i = 0; i < 300; i++) {
      const parts: Buffer[] = [];
      for (let j = 0; j < 20; j++) parts.push(j % 3 === 0 ? randomBytes(1 + (j % 4)) : pieces[(i + j) % pieces.length]!);
      const b = Buffer.concat(parts);
      expect(roundTrip(b).equals(b), b.toString('hex')).toBe(true);
    }
  });

  it('valid UTF-8 (1- to 4-byte sequences) decodes as the text itself (up to U+10FF7F, below the escape range)', () => {
    const text = 'plain ASCII, é ü ß, € 日本語, 🎉 𝄞 \u{10000} \u{10FF7F} \uFFFD \uFEFF, and the end\n';
    const b = Buffer.from(text, 'utf8');
    expect(decodeBytes(b)).toBe(text);
    expect(encodeText(text).equals(b)).toBe(true);
    expect(decodeBytes(Buffer.alloc(0))).toBe('');
    expect(encodeText('').length).toBe(0);
  });

  it('invalid and truncated sequences: each byte escaped on its own, the valid rest untouched', () => {
    const cases: [number[], string][] = [
      [[0x63, 0x61, 0x66, 0xe9], 'caf' + String.fromCodePoint(ESCAPE_BASE + 0xe9)], // Latin-1 é
      [[0xc3], String.fromCodePoint(ESCAPE_BASE + 0xc3)], // truncated 2-byte
      [[0xe2, 0x82], String.fromCodePoint(ESCAPE_BASE + 0xe2, ESCAPE_BASE + 0x82)], // truncated €
      [[0xe2, 0x82, 0x41], String.fromCodePoint(ESCAPE_BASE + 0xe2, ESCAPE_BASE + 0x82) + 'A'],
      [[0xf0, 0x9f, 0x8e], String.fromCodePoint(ESCAPE_BASE + 0xf0, ESCAPE_BASE + 0x9f, ESCAPE_BASE + 0x8e)], // truncated 🎉
      [[0xc0, 0xaf], String.fromCodePoint(ESCAPE_BASE + 0xc0, ESCAPE_BASE + 0xaf)], // overlong '/'
      [[0xed, 0xa0, 0x80], String.fromCodePoint(ESCAPE_BASE + 0xed, ESCAPE_BASE + 0xa0, ESCAPE_BASE + 0x80)], // a surrogate
      [[0xf4, 0x90, 0x80, 0x80], String.fromCodePoint(ESCAPE_BASE + 0xf4, ESCAPE_BASE + 0x90, ESCAPE_BASE + 0x80, ESCAPE_BASE + 0x80)], // > U+10FFFF
      [[0x80, 0xc3, 0xa9], String.fromCodePoint(ESCAPE_BASE + 0x80) + 'é'],
    ];
    for (const [bytes, want] of cases) {
      const b = Buffer.from(bytes);
      expect(decodeBytes(b), b.toString('hex')).toBe(want);
      expect(roundTrip(b).equals(b)).toBe(true);
    }
  });

  it('a file holding the UTF-8 of an escape code point keeps its 4 bytes (they are escaped one by one)', () => {
    const b = Buffer.from(String.fromCodePoint(ESCAPE_BASE + 0xe9), 'utf8'); // F4 8F BF A9
    expect(b.length).toBe(4);
    const s = decodeBytes(b);
    expect([...s].length).toBe(4);
    expect(roundTrip(b).equals(b)).toBe(true);
  });

  it('encodeText of a lone surrogate writes U+FFFD (as UTF-8 does), and escapes show as \\xNN', () => {
    expect(encodeText('\uD800').equals(Buffer.from([0xef, 0xbf, 0xbd]))).toBe(true);
    expect(showEscapes(decodeBytes(Buffer.from([0x41, 0xe9, 0xff, 0x42])))).toBe('A\\xe9\\xffB');
  });

  it('probe content with non-UTF-8 bytes: Frame.str keeps them, buf is raw', () => {
    const latin = Buffer.from('key = caf\xe9\n', 'latin1');
    const f = parseFrame({ code: 0, stdout: formatFrame({ file: latin }), stderr: '' });
    if (isFrameError(f)) throw new Error(f.error);
    expect(encodeText(f.str('file')!).equals(latin)).toBe(true);
    expect(f.buf('file')!.equals(latin)).toBe(true);
  });

  it('diffs show a Latin-1 file as text with \\xNN, and real binary as a placeholder', () => {
    expect(diffText(Buffer.from('name=caf\xe9\nother line\n', 'latin1'), undefined)).toBe('name=caf\\xe9\nother line\n');
    expect(diffText(randomBytes(64).fill(0x90), undefined)).toMatch(/^\(binary content, sha1 /);
    expect(diffText(Buffer.from([0x41, 0, 0x42]), undefined)).toMatch(/^\(binary content/);
  });
});

describe('modes', () => {
  const st = (mode: string, type: FileStat['type'] = 'file'): FileStat => ({
    type, mode, uid: 0, gid: 0, owner: 'root', group: 'root', size: 0, mtime: 0, atime: 0, ctime: 0, inode: 0, dev: 0, nlink: 1,
  });

  it('04755, 4755, 0o4755 and the YAML octal number all name the same full mode', () => {
    for (const m of ['04755', '4755', '0o4755', 0o4755]) expect(normaliseMode(m)).toBe('4755');
    for (const m of ['02755', '2755', 0o2755]) expect(normaliseMode(m)).toBe('2755');
    for (const m of ['01777', '1777', 0o1777]) expect(normaliseMode(m)).toBe('1777');
    // a stat of 4755 and a wanted 04755: nothing to change
    expect(attrChanges('/x', { mode: normaliseMode('04755') }, st('4755')).script).toBeNull();
    expect(attrChanges('/x', { mode: normaliseMode('0755') }, st('4755')).script).toBe('chmod 0755 -- /x');
  });

  it('a change of owner re-applies a mode with setuid/setgid after the chown (which clears them)', () => {
    expect(attrChanges('/x', { owner: 'nobody' }, st('4755')).script).toBe('chown nobody -- /x && chmod 4755 -- /x');
    expect(attrChanges('/x', { group: 'adm', mode: '2750' }, st('2750')).script).toBe('chgrp adm -- /x && chmod 2750 -- /x');
    // no special bits: chown alone
    expect(attrChanges('/x', { owner: 'nobody' }, st('0755')).script).toBe('chown nobody -- /x');
  });

  it('clearing setgid on a directory uses the 5-digit mode GNU chmod applies whole', () => {
    expect(attrChanges('/d', { mode: '0755' }, st('2755', 'directory')).script).toBe('chmod 00755 -- /d');
    expect(attrChanges('/d', { mode: '1777' }, st('0755', 'directory')).script).toBe('chmod 1777 -- /d');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// 2. against a lab host

let lab: Lab;
let inv: string;
let work: string;
const base = `/tmp/rbk-integrity-${process.pid}`;

// three CLI runs of a playbook each, on a machine shared with other lab tests
const LAB_TIMEOUT = 600_000;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function onHost(script: string): Promise<string> {
  const r = await lab.exec(lab.hosts[0]!, ['sh', '-c', script]);
  expect(r.code, `${script}: ${r.stderr}`).toBe(0);
  return r.stdout;
}
const modeOf = async (p: string): Promise<string> => (await onHost(`stat -c %a -- '${p}'`)).trim();
const shaOf = async (p: string): Promise<string> => (await onHost(`sha256sum < '${p}'`)).split(' ')[0]!;

async function play(file: string, extra: string[] = []): Promise<{ changed: string[]; failed: string[]; diffs: Record<string, any> }> {
  const r = await cliAsync(['apply', file, '-i', inv, '--format', 'json', '--diff', '-e', `base=${base}`, ...extra], { timeoutMs: 240_000 });
  const evs = events(r.stdout);
  const results = evs.filter((e) => e.event === 'task:result');
  const failed = results.filter((e) => e.status === 'failed').map((e) => `${e.task}: ${e.reason}`);
  expect(failed, r.stdout + r.stderr).toEqual([]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return {
    changed: results.filter((e) => e.status === 'changed').map((e) => e.task as string),
    failed,
    diffs: Object.fromEntries(results.map((e) => [e.task, e.diff])),
  };
}

beforeAll(async () => {
  lab = await Lab.create({ name: 'integrity', hosts: 1 });
  inv = path.join(lab.dir, 'integrity-inventory.yml');
  fs.writeFileSync(inv, lab.inventoryYaml());
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-integrity-pb-'));
  fs.rmSync(base, { recursive: true, force: true });
});

afterAll(async () => {
  await lab?.destroy();
  fs.rmSync(base, { recursive: true, force: true });
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('special mode bits survive every write (lab host over SSH)', () => {
  const pb = () => path.join(work, 'modes.yml');

  it('copy, template, lineinfile, blockinfile, replace, file keep 04755, 02755 and 01777; a second run changes nothing', async () => {
    fs.mkdirSync(path.join(work, 'templates'), { recursive: true });
    fs.writeFileSync(path.join(work, 'templates', 'tool.j2'), '#!/bin/sh\necho {{ greeting }}\n');
    fs.mkdirSync(path.join(work, 'files'), { recursive: true });
    fs.writeFileSync(path.join(work, 'files', 'prog'), '#!/bin/sh\necho prog\n');
    // files that exist with special bits before the run, edited without a mode: the edit keeps the bits
    await onHost(
      `mkdir -p ${base} && cd ${base} && ` +
        `printf 'a=1\\nb=2\\n' > li-suid && chmod 4755 li-suid && printf 'a=1\\n' > li-sgid && chmod 2755 li-sgid && ` +
        `printf 'a=1\\n' > li-sticky && chmod 1777 li-sticky && printf 'x\\n' > bi-suid && chmod 4755 bi-suid && ` +
        `printf 'old\\n' > re-sgid && chmod 2755 re-sgid && printf 'old\\n' > cp-keep && chmod 4755 cp-keep && ` +
        `printf 'x\\n' > own-suid && chmod 4755 own-suid`,
    );
    fs.writeFileSync(
      pb(),
      `- hosts: all
  gather_facts: false
  vars:
    greeting: hello
  tasks:
    - name: sticky dir
      file: { path: "{{ base }}/sticky", state: directory, mode: "01777" }
    - name: copy into the sticky dir
      copy: { content: "in\\n", dest: "{{ base }}/sticky/inside", mode: "0644" }
    - name: copy suid
      copy: { content: "#!/bin/sh\\n", dest: "{{ base }}/cp-suid", mode: "04755", owner: root }
    - name: copy sgid
      copy: { src: prog, dest: "{{ base }}/cp-sgid", mode: "02755", owner: root, group: root }
    - name: copy sticky file
      copy: { content: "s\\n", dest: "{{ base }}/cp-sticky", mode: "01777", owner: root }
    - name: copy yaml octal number
      copy: { content: "n\\n", dest: "{{ base }}/cp-num", mode: 04755, owner: root }
    - name: copy new content over a setuid file, owner given, no mode
      copy: { content: "new\\n", dest: "{{ base }}/cp-keep", owner: root }
    - name: template suid
      template: { src: tool.j2, dest: "{{ base }}/tp-suid", mode: "04755", owner: root }
    - name: template sgid
      template: { src: tool.j2, dest: "{{ base }}/tp-sgid", mode: "2755", owner: root, group: root }
    - name: template sticky
      template: { src: tool.j2, dest: "{{ base }}/tp-sticky", mode: "01777", owner: root }
    - name: lineinfile new suid file
      lineinfile: { path: "{{ base }}/li-new", line: "k=v", create: true, mode: "04755", owner: root }
    - name: lineinfile keeps suid
      lineinfile: { path: "{{ base }}/li-suid", regexp: "^b=", line: "b=3" }
    - name: lineinfile keeps sgid
      lineinfile: { path: "{{ base }}/li-sgid", line: "c=3", owner: root }
    - name: lineinfile keeps sticky
      lineinfile: { path: "{{ base }}/li-sticky", line: "c=3" }
    - name: blockinfile keeps suid
      blockinfile: { path: "{{ base }}/bi-suid", block: "inside" }
    - name: replace keeps sgid
      replace: { path: "{{ base }}/re-sgid", regexp: "old", replace: "new" }
    - name: file owner change keeps suid
      file: { path: "{{ base }}/own-suid", owner: nobody }
`,
    );
    const first = await play(pb());
    expect(first.changed.sort()).toEqual(
      [
        'sticky dir', 'copy into the sticky dir', 'copy suid', 'copy sgid', 'copy sticky file', 'copy yaml octal number',
        'copy new content over a setuid file, owner given, no mode', 'template suid', 'template sgid', 'template sticky',
        'lineinfile new suid file', 'lineinfile keeps suid', 'lineinfile keeps sgid', 'lineinfile keeps sticky',
        'blockinfile keeps suid', 'replace keeps sgid', 'file owner change keeps suid',
      ].sort(),
    );
    const want: Record<string, string> = {
      sticky: '1777', 'sticky/inside': '644', 'cp-suid': '4755', 'cp-sgid': '2755', 'cp-sticky': '1777', 'cp-num': '4755',
      'cp-keep': '4755', 'tp-suid': '4755', 'tp-sgid': '2755', 'tp-sticky': '1777', 'li-new': '4755', 'li-suid': '4755',
      'li-sgid': '2755', 'li-sticky': '1777', 'bi-suid': '4755', 're-sgid': '2755', 'own-suid': '4755',
    };
    const got: Record<string, string> = {};
    for (const f of Object.keys(want)) got[f] = await modeOf(`${base}/${f}`);
    expect(got).toEqual(want);
    // the content really changed where it should
    expect(await onHost(`cat ${base}/li-suid ${base}/cp-keep ${base}/re-sgid ${base}/tp-suid`)).toBe('a=1\nb=3\nnew\nnew\n#!/bin/sh\necho hello\n');
    expect((await onHost(`stat -c %U -- ${base}/own-suid`)).trim()).toBe('nobody');

    const second = await play(pb());
    expect(second.changed).toEqual([]);
    const check = await play(pb(), ['--check']);
    expect(check.changed).toEqual([]);
  }, LAB_TIMEOUT);

  it('a mode given without its special bits clears them, on a file and on a setgid directory, and then stays', async () => {
    await onHost(`mkdir -p ${base}/clr && cd ${base}/clr && printf 'x\\n' > f && chmod 4755 f && mkdir -p d && chmod 2755 d`);
    const p = path.join(work, 'clear.yml');
    fs.writeFileSync(
      p,
      `- hosts: all
  gather_facts: false
  tasks:
    - name: file mode
      file: { path: "{{ base }}/clr/f", mode: "0755" }
    - name: dir mode
      file: { path: "{{ base }}/clr/d", state: directory, mode: "0755" }
`,
    );
    expect((await play(p)).changed.sort()).toEqual(['dir mode', 'file mode']);
    expect(await modeOf(`${base}/clr/f`)).toBe('755');
    expect(await modeOf(`${base}/clr/d`)).toBe('755');
    expect((await play(p)).changed).toEqual([]);
  }, LAB_TIMEOUT);
});

describe('bytes are bytes (lab host over SSH)', () => {
  // Latin-1 text with other invalid UTF-8 around a UTF-8 part holding a variable
  const latinHead = Buffer.from('# caf\xe9 cr\xe8me \xff\xfe\n', 'latin1');
  const junk = Buffer.from([0xc3, 0x28, 0x20, 0xe2, 0x82, 0x0a, 0xf4, 0x8f, 0xbf, 0xa9, 0x0a, 0xed, 0xa0, 0x80, 0x0a]);
  const tplSrc = Buffer.concat([latinHead, Buffer.from('name={{ who }} été 🎉\n'), junk]);
  const tplOut = Buffer.concat([latinHead, Buffer.from('name=wörld été 🎉\n'), junk]);
  const binary = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(70_000), Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i))]);
  const latinFile = Buffer.from('first caf\xe9\nname=old\n\xe0 la carte \xff\nlast\n', 'latin1');
  const pb = () => path.join(work, 'bytes.yml');

  it('template, copy (src and content), slurp and line edits keep every byte; a second run changes nothing', async () => {
    fs.mkdirSync(path.join(work, 'templates'), { recursive: true });
    fs.mkdirSync(path.join(work, 'files'), { recursive: true });
    fs.writeFileSync(path.join(work, 'templates', 'latin.j2'), tplSrc);
    fs.writeFileSync(path.join(work, 'files', 'blob.bin'), binary);
    fs.writeFileSync(path.join(work, 'files', 'latin.txt'), latinFile);
    await onHost(`mkdir -p ${base}/bytes`);
    // the files the host edits and slurps, put there through the host's own shell (printf octal escapes)
    const printf = (b: Buffer): string => [...b].map((x) => `\\${x.toString(8).padStart(3, '0')}`).join('');
    for (const n of ['li.txt', 're.txt', 'bi.txt', 'slurp.txt']) await onHost(`printf '${printf(latinFile)}' > ${base}/bytes/${n}`);
    expect(await shaOf(`${base}/bytes/li.txt`)).toBe(sha256(latinFile));
    fs.writeFileSync(
      pb(),
      `- hosts: all
  gather_facts: false
  vars:
    who: wörld
  tasks:
    - name: latin-1 template
      template: { src: latin.j2, dest: "{{ base }}/bytes/tpl.out" }
    - name: binary copy
      copy: { src: blob.bin, dest: "{{ base }}/bytes/blob.bin" }
    - name: latin-1 copy
      copy: { src: latin.txt, dest: "{{ base }}/bytes/latin.txt" }
    - name: utf-8 content
      copy: { content: "été 🎉 日本\\n", dest: "{{ base }}/bytes/content.txt" }
    - name: lineinfile on latin-1
      lineinfile: { path: "{{ base }}/bytes/li.txt", regexp: "^name=", line: "name=new été" }
    - name: slurp latin-1
      slurp: { src: "{{ base }}/bytes/slurp.txt" }
      register: s
    - name: write the slurped base64
      copy: { content: "{{ s.content }}", dest: "{{ base }}/bytes/slurp.b64" }
    - name: replace on latin-1
      replace: { path: "{{ base }}/bytes/re.txt", regexp: "^name=old$", replace: "name=new" }
    - name: blockinfile on latin-1
      blockinfile: { path: "{{ base }}/bytes/bi.txt", block: "añadido" }
`,
    );
    const first = await play(pb());
    expect(first.changed.sort()).toEqual(
      ['latin-1 template', 'binary copy', 'latin-1 copy', 'utf-8 content', 'lineinfile on latin-1', 'write the slurped base64', 'replace on latin-1', 'blockinfile on latin-1'].sort(),
    );
    const b = `${base}/bytes`;
    expect(await shaOf(`${b}/tpl.out`)).toBe(sha256(tplOut));
    expect(await shaOf(`${b}/blob.bin`)).toBe(sha256(binary));
    expect(await shaOf(`${b}/latin.txt`)).toBe(sha256(latinFile));
    expect(await shaOf(`${b}/content.txt`)).toBe(sha256(Buffer.from('été 🎉 日本\n')));
    // lineinfile: only its line changed (the new line is UTF-8, as given), every other byte kept
    const liWant = Buffer.concat([Buffer.from('first caf\xe9\n', 'latin1'), Buffer.from('name=new été\n'), Buffer.from('\xe0 la carte \xff\nlast\n', 'latin1')]);
    expect(await shaOf(`${b}/li.txt`)).toBe(sha256(liWant));
    expect((await onHost(`cat ${b}/slurp.b64`))).toBe(latinFile.toString('base64'));
    expect(await shaOf(`${b}/re.txt`)).toBe(sha256(Buffer.from('first caf\xe9\nname=new\n\xe0 la carte \xff\nlast\n', 'latin1')));
    const biWant = Buffer.concat([latinFile, Buffer.from('# BEGIN ANSIBLE MANAGED BLOCK\nañadido\n# END ANSIBLE MANAGED BLOCK\n')]);
    expect(await shaOf(`${b}/bi.txt`)).toBe(sha256(biWant));
    // the diff of the Latin-1 edit is text with the byte shown as \xNN, not a binary placeholder
    expect(JSON.stringify(first.diffs['lineinfile on latin-1'])).toContain('caf\\\\xe9');

    const second = await play(pb());
    expect(second.changed).toEqual([]);
  }, LAB_TIMEOUT);
});
