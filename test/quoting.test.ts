/**
 * Quoting, as a property over 200 random strings (fixed seed) built from the characters that break shells: quotes,
 * `$()`, backticks, `;`, `|`, `&`, redirections, globs, newlines, tabs, backslashes, unicode. Over real SSH to a lab
 * host, each string goes through a command's argv, a file's path, a file's content and a sysctl-like value; each
 * must arrive byte-exact, and none may be executed (the strings carry commands that would create a canary file).
 * A NUL byte is refused with a clear error before anything runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { installPct, removePct, type PctHost } from '../lib/lab/pct.js';
import { cliAsync, events } from './helpers.js';

const N = 200;
let lab: Lab;
let dir: string;
const base = `/tmp/rbk-quoting-${process.pid}`;
const canary = `${base}/PWNED`;

const FRAGMENTS = [
  "'", '"', '$(', ')', '`', ';', '|', '&', '&&', '>', '<', '>>', '*', '?', '[', ']', '{', '}', '~', '#', '!', '\\', '\\n',
  ' ', '  ', '\t', '\n', '\r', '$HOME', '${IFS}', '$1', '$@', '%s', '%', '-n', '--', '-e', 'é', 'ß', '✓', '🔑', '中文', 'ﬁ',
  `$(touch ${canary})`, `\`touch ${canary}\``, `; touch ${canary}`, `| touch ${canary}`, `' ; touch ${canary} ; '`, `" ; touch ${canary} ; "`,
  'a', 'b', 'x', '0', '=', ',', ':', '@', '^', '+',
];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** Random strings; never a Jinja delimiter ({{ {% {#), which is templating, not shell quoting. */
function strings(): string[] {
  const r = rng(0x5eed);
  const out: string[] = [];
  while (out.length < N) {
    const n = 1 + Math.floor(r() * 8);
    let s = '';
    for (let i = 0; i < n; i++) s += FRAGMENTS[Math.floor(r() * FRAGMENTS.length)];
    if (/\{[{%#]/.test(s)) continue;
    out.push(s);
  }
  return out;
}

/** a file name from s: no '/', not '.'/'..', at most 200 bytes */
function fileName(s: string, i: number): string {
  let f = `${i}-${s.replace(/\//g, '_')}`;
  while (Buffer.byteLength(f) > 200) f = f.slice(0, -1);
  return f;
}

beforeAll(async () => {
  lab = await Lab.create({ name: 'quoting', hosts: 1 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-quoting-'));
  fs.writeFileSync(path.join(dir, 'inv.yml'), lab.inventoryYaml());
});

afterAll(async () => {
  await lab?.destroy();
  fs.rmSync(base, { recursive: true, force: true });
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('quoting property: 200 hostile strings arrive byte-exact and are never executed', () => {
  it('through command argv, file paths, file content and sysctl-like values (60)', async () => {
    const ss = strings();
    // a sysctl value is one non-blank line: prefixed, newlines made spaces (the module refuses both, rightly)
    const items = ss.map((s, i) => ({ i, s, f: fileName(s, i), v: `v${i}:${s.replace(/[\n\r]/g, ' ')}` }));
    fs.writeFileSync(path.join(dir, 'items.json'), JSON.stringify({ items, base }));
    fs.writeFileSync(
      path.join(dir, 'q.yml'),
      `- hosts: lab
  gather_facts: false
  tasks:
    - file: { path: "{{ base }}/{{ d }}", state: directory }
      loop: [argv, paths, sysctl]
      loop_control: { loop_var: d }
    - name: argv
      command:
        argv: [sh, -c, 'printf "%s" "$1" > "$2"', sh, "{{ item.s }}", "{{ base }}/argv/{{ item.i }}"]
      loop: "{{ items }}"
    - name: the string as a file's path and its content
      copy: { content: "{{ item.s }}", dest: "{{ base }}/paths/{{ item.f }}" }
      loop: "{{ items }}"
    - name: sysctl-like values (the first 60)
      sysctl: { name: net.ipv4.ip_forward, value: "{{ item.v }}", sysctl_file: "{{ base }}/sysctl/{{ item.i }}.conf", sysctl_set: false, reload: false }
      loop: "{{ items[:60] }}"
`,
    );
    const r = await cliAsync(['apply', path.join(dir, 'q.yml'), '-i', path.join(dir, 'inv.yml'), '-e', `@${path.join(dir, 'items.json')}`, '--format', 'json'], { timeoutMs: 850_000 });
    const failed = events(r.stdout).filter((e) => e.event === 'task:result' && e.status === 'failed');
    expect(failed, r.stderr + JSON.stringify(failed).slice(0, 3000)).toEqual([]);
    expect(r.code, r.stderr).toBe(0);

    // read everything back in one go, as JSON (node in the host's namespace reads the bytes)
    const h = lab.hosts[0]!;
    const reader = `const fs=require('fs');const b=${JSON.stringify(base)};const o={argv:{},paths:{},sysctl:{}};` +
      `for(const d of ['argv','paths'])for(const f of fs.readdirSync(b+'/'+d))o[d][f]=fs.readFileSync(b+'/'+d+'/'+f).toString('base64');` +
      `for(const f of fs.readdirSync(b+'/sysctl'))o.sysctl[f]=fs.readFileSync(b+'/sysctl/'+f).toString('base64');process.stdout.write(JSON.stringify(o))`;
    const back = JSON.parse((await lab.exec(h, [process.execPath, '-e', reader])).stdout) as { argv: Record<string, string>; paths: Record<string, string>; sysctl: Record<string, string> };
    const dec = (b64: string | undefined) => (b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8'));
    let checked = 0;
    for (const it of items) {
      expect(dec(back.argv[String(it.i)]), `argv #${it.i} ${JSON.stringify(it.s)}`).toBe(it.s);
      expect(dec(back.paths[it.f]), `path and content #${it.i} ${JSON.stringify(it.f)}`).toBe(it.s);
      if (it.i < 60) {
        // the module normalises whitespace runs (as sysctl itself reads values); everything else is exact
        const want = it.v.trim().replace(/\s+/g, ' ');
        const conf = dec(back.sysctl[`${it.i}.conf`]) ?? '';
        expect(conf.split('\n').filter(Boolean).map((l) => l.replace(/^net\.ipv4\.ip_forward\s*=\s*/, '')), `sysctl #${it.i} ${JSON.stringify(it.v)}`).toEqual([want]);
      }
      checked++;
    }
    expect(checked).toBe(N);
    expect(Object.keys(back.paths)).toHaveLength(N);
    expect(Object.keys(back.sysctl)).toHaveLength(60);
    // nothing was executed: the canary never appeared, on the host or anywhere on the (shared) filesystem path
    expect((await lab.exec(h, ['test', '-e', canary])).code).not.toBe(0);
    expect(fs.existsSync(canary)).toBe(false);
  }, 900_000);

  it('through the pct connection too (two shell layers: ssh to the Proxmox host, then pct exec): 60 strings', async () => {
    const h = lab.hosts[0]!;
    let pct: PctHost | undefined;
    try {
      pct = await installPct(lab, h.name, [101]);
      const pbase = `${base}-pct`;
      const ss = strings().slice(0, 60);
      const items = ss.map((s, i) => ({ i, s, f: fileName(s, i) }));
      fs.writeFileSync(path.join(dir, 'pct-items.json'), JSON.stringify({ items, base: pbase }));
      const inv = `all:\n  children:\n    ct:\n      hosts:\n        ct101:\n          ansible_connection: pct\n          proxmox_vmid: 101\n          ansible_host: ${h.address}\n          ansible_port: ${h.port}\n          ansible_user: root\n          ansible_ssh_private_key_file: ${lab.keyFile}\n          runbook_known_hosts: ${lab.knownHostsFile}\n`;
      fs.writeFileSync(path.join(dir, 'pct-inv.yml'), inv);
      fs.writeFileSync(
        path.join(dir, 'pct.yml'),
        `- hosts: ct
  gather_facts: false
  tasks:
    - file: { path: "{{ base }}/{{ d }}", state: directory }
      loop: [argv, paths]
      loop_control: { loop_var: d }
    - name: argv through pct
      command:
        argv: [sh, -c, 'printf "%s" "$1" > "$2"', sh, "{{ item.s }}", "{{ base }}/argv/{{ item.i }}"]
      loop: "{{ items }}"
    - name: path and content through pct
      copy: { content: "{{ item.s }}", dest: "{{ base }}/paths/{{ item.f }}" }
      loop: "{{ items }}"
`,
      );
      const r = await cliAsync(['apply', path.join(dir, 'pct.yml'), '-i', path.join(dir, 'pct-inv.yml'), '-e', `@${path.join(dir, 'pct-items.json')}`, '--format', 'json'], { timeoutMs: 600_000 });
      const failed = events(r.stdout).filter((e) => e.event === 'task:result' && e.status !== 'changed');
      expect(failed, r.stderr + JSON.stringify(failed).slice(0, 3000)).toEqual([]);
      expect(r.code, r.stderr).toBe(0);
      // every command really went through pct exec into container 101: the loops are batched (issue 16, ADR 0006:
      // the command items in one command, the copy loop's probes in one and its writes in another), so at least
      // one pct exec for the commands and two for the copies; the files below show every item arrived
      expect(fs.readFileSync(pct.logFile, 'utf8').split('\n').filter((l) => l.startsWith('101 ')).length).toBeGreaterThanOrEqual(3);
      // the files are on the (shared) filesystem: read them as bytes here
      for (const it of items) {
        expect(fs.readFileSync(`${pbase}/argv/${it.i}`, 'utf8'), `argv #${it.i} ${JSON.stringify(it.s)}`).toBe(it.s);
        expect(fs.readFileSync(`${pbase}/paths/${it.f}`, 'utf8'), `path #${it.i} ${JSON.stringify(it.f)}`).toBe(it.s);
      }
      expect(fs.existsSync(canary)).toBe(false);
      fs.rmSync(pbase, { recursive: true, force: true });
    } finally {
      if (pct) await removePct(lab, pct);
    }
  }, 650_000);

  it('a NUL byte is refused with a clear error, and nothing runs', async () => {
    await lab.exec(lab.hosts[0]!, ['mkdir', '-p', base]);
    fs.writeFileSync(path.join(dir, 'nul.json'), JSON.stringify({ base, bad: `a\u0000b; touch ${canary}` }));
    for (const task of ['command: { argv: [echo, "{{ bad }}"] }', 'copy: { content: "x", dest: "{{ base }}/nul-{{ bad }}" }', 'copy: { content: "{{ bad }}", dest: "{{ base }}/nul-content" }']) {
      fs.writeFileSync(path.join(dir, 'nul.yml'), `- hosts: lab\n  gather_facts: false\n  tasks:\n    - ${task}\n`);
      const r = await cliAsync(['apply', path.join(dir, 'nul.yml'), '-i', path.join(dir, 'inv.yml'), '-e', `@${path.join(dir, 'nul.json')}`, '--format', 'json']);
      const res = events(r.stdout).find((e) => e.event === 'task:result')!;
      if (task.includes('content: "{{ bad }}"')) {
        // file content is bytes, not a shell word: a NUL in content is carried exactly (stdin), never through a shell
        expect(res.status, JSON.stringify(res)).toBe('changed');
        expect((await lab.exec(lab.hosts[0]!, ['cat', `${base}/nul-content`])).stdout).toBe(`a\u0000b; touch ${canary}`);
      } else {
        expect(r.code, task + r.stderr + JSON.stringify(res)).toBe(2);
        expect(res.status).toBe('failed');
        expect(res.reason).toMatch(/contains a NUL byte/);
        expect(res.reason).not.toMatch(/\n\s+at /);
      }
    }
    expect((await lab.exec(lab.hosts[0]!, ['test', '-e', canary])).code).not.toBe(0);
  });
});
