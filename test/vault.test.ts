/**
 * Ansible Vault: files and `!vault` values made by Debian's real ansible-vault (2.14, committed under
 * test/fixtures/vault/) decrypt with node:crypto only; our encryptor round-trips; a wrong password or altered data is
 * refused (HMAC). End to end against a lab host: an encrypted host_vars file as in the deerlab seed (connection
 * variables and all) works with --vault-password-file, ANSIBLE_VAULT_PASSWORD_FILE and --ask-vault-pass, and its
 * values reach the host but never any output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { vaultDecrypt, vaultEncrypt, VaultError } from '../lib/vars/vault.js';
import { Lab } from '../lib/lab/lab.js';
import { BIN, ROOT, cli, cliAsync, events } from './helpers.js';

const FX = path.join(ROOT, 'test/fixtures/vault');
const PW = 'runbook-vault-test';
const PWFILE = path.join(FX, 'password.txt');

describe('vault format (fixtures made by ansible-vault 2.14)', () => {
  it('decrypts a whole 1.1 file', () => {
    const text = vaultDecrypt(fs.readFileSync(path.join(FX, 'whole-file.yml'), 'utf8'), PW).toString('utf8');
    expect(text).toBe('db_password: "s3cr3t-Wh0le-F1le"\napi_token: tok-4242-xyz\nmulti: "line one\\nline two"\n');
  });

  it('decrypts a 1.2 file with a vault-id label, unicode intact', () => {
    expect(vaultDecrypt(fs.readFileSync(path.join(FX, 'labelled.yml'), 'utf8'), PW).toString('utf8')).toBe('unicode: "pässwörd ✓ 🔑"\n');
  });

  it('decrypts an encrypt_string value (indented block, as !vault carries it)', () => {
    const src = fs.readFileSync(path.join(FX, 'inline.yml'), 'utf8');
    const body = src.split('!vault |\n')[1]!.split('\n').map((l) => l.trim()).join('\n');
    expect(vaultDecrypt(body, PW).toString('utf8')).toBe('inline-S3cret-value');
  });

  it('a wrong password and altered data are refused by the HMAC check', () => {
    const src = fs.readFileSync(path.join(FX, 'whole-file.yml'), 'utf8');
    expect(() => vaultDecrypt(src, 'not-the-password')).toThrow(/HMAC mismatch/);
    // flip one hex digit of the ciphertext (the last body line)
    const lines = src.trimEnd().split('\n');
    const last = lines[lines.length - 1]!;
    lines[lines.length - 1] = last.slice(0, -1) + (last.endsWith('0') ? '1' : '0');
    expect(() => vaultDecrypt(lines.join('\n'), PW)).toThrow(VaultError);
    expect(() => vaultDecrypt('$ANSIBLE_VAULT;1.1;AES128\n00\n', PW)).toThrow(/cipher/);
    expect(() => vaultDecrypt('$ANSIBLE_VAULT;1.1;AES256\nzz\n', PW)).toThrow(/hexadecimal/);
  });

  it('our encryptor round-trips 200 random values of random lengths (0..300 bytes)', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 200; i++) {
      const len = Math.floor(rnd() * 300);
      const buf = Buffer.from(Array.from({ length: len }, () => Math.floor(rnd() * 256)));
      const pw = `pw-${i}-${rnd()}`;
      const env = vaultEncrypt(buf, pw);
      expect(env.startsWith('$ANSIBLE_VAULT;1.1;AES256\n')).toBe(true);
      expect(env.split('\n').slice(1, -1).every((l) => l.length <= 80)).toBe(true);
      expect(vaultDecrypt(env, pw).equals(buf)).toBe(true);
    }
  });

  const hasAnsible = spawnSync('sh', ['-c', 'command -v ansible-vault']).status === 0;
  it.skipIf(!hasAnsible)('ansible-vault (when installed) decrypts what our encryptor wrote', () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-vault-'));
    const f = path.join(d, 'x.yml');
    fs.writeFileSync(f, vaultEncrypt('answer: "forty two ✓"\n', PW));
    const r = spawnSync('ansible-vault', ['view', '--vault-password-file', PWFILE, f], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('answer: "forty two ✓"\n');
    fs.rmSync(d, { recursive: true, force: true });
  });
});

describe('vault at load time, no host contacted', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-vault-cfg-'));
    fs.mkdirSync(path.join(dir, 'inv', 'host_vars'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'inv', 'hosts.yml'), 'all:\n  hosts:\n    target:\n      ansible_host: 127.0.0.9\n      ansible_port: 1\n');
    fs.copyFileSync(path.join(FX, 'whole-file.yml'), path.join(dir, 'inv', 'host_vars', 'target.yml'));
    fs.writeFileSync(path.join(dir, 'pb.yml'), '- hosts: all\n  gather_facts: false\n  tasks:\n    - debug:\n        var: db_password\n');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('an encrypted host_vars file without a password: exit 1 naming the file, no host contacted', () => {
    const r = cli(['apply', path.join(dir, 'pb.yml'), '-i', path.join(dir, 'inv')], { env: { ANSIBLE_VAULT_PASSWORD_FILE: '' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/host_vars\/target\.yml:1:1: found vault-encrypted data but no vault password was given/);
    expect(r.stdout + r.stderr).not.toMatch(/unreachable|\n\s+at .*\.js:\d+/);
  });

  it('a wrong password: exit 1, HMAC mismatch, no host contacted', () => {
    const bad = path.join(dir, 'bad-pw');
    fs.writeFileSync(bad, 'wrong\n');
    const r = cli(['apply', path.join(dir, 'pb.yml'), '-i', path.join(dir, 'inv'), '--vault-password-file', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/host_vars\/target\.yml:1:1: cannot decrypt vault data: HMAC mismatch/);
    expect(r.stdout + r.stderr).not.toMatch(/unreachable/);
  });

  it('a missing password file is a usage error', () => {
    const r = cli(['apply', path.join(dir, 'pb.yml'), '-i', path.join(dir, 'inv'), '--vault-password-file', path.join(dir, 'nope')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot read vault password file .*nope: ENOENT/);
  });

  it('a !vault value with a wrong password names its line', () => {
    const inv2 = path.join(dir, 'inv2');
    fs.mkdirSync(path.join(inv2, 'group_vars'), { recursive: true });
    fs.writeFileSync(path.join(inv2, 'hosts.yml'), 'all:\n  hosts:\n    target:\n      ansible_host: 127.0.0.9\n      ansible_port: 1\n');
    fs.copyFileSync(path.join(FX, 'inline.yml'), path.join(inv2, 'group_vars', 'all.yml'));
    const bad = path.join(dir, 'bad-pw');
    fs.writeFileSync(bad, 'wrong\n');
    const r = cli(['apply', path.join(dir, 'pb.yml'), '-i', inv2, '--vault-password-file', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/group_vars\/all\.yml:2:\d+: cannot decrypt vault data/);
  });
});

describe('encrypted host_vars end to end against a lab host (deerlab style)', () => {
  let lab: Lab;
  let dir: string;
  const base = `/tmp/rbk-vault-${process.pid}`;
  const SECRETS = ['Db-Pa55-from-whole-file-vault', 'Tok3n-from-inline-!vault', 'Sec-named-file-v4lue'];

  beforeAll(async () => {
    lab = await Lab.create({ name: 'vault', hosts: 1 });
    const h = lab.hosts[0]!;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-vault-e2e-'));
    const inv = path.join(dir, 'inventory');
    fs.mkdirSync(path.join(inv, 'host_vars'), { recursive: true });
    fs.mkdirSync(path.join(inv, 'group_vars', 'all'), { recursive: true });
    // the inventory names the host only; how to reach it is in the encrypted host_vars, as in the deerlab seed
    fs.writeFileSync(path.join(inv, 'hosts.yml'), `all:\n  children:\n    containers:\n      hosts:\n        ${h.name}: {}\n`);
    const hv = [
      `ansible_host: ${h.address}`,
      `ansible_port: ${h.port}`,
      'ansible_user: root',
      `ansible_ssh_private_key_file: ${lab.keyFile}`,
      `runbook_known_hosts: ${lab.knownHostsFile}`,
      'proxmox_vmid: 100',
      `db_password: "${SECRETS[0]}"`,
    ].join('\n');
    fs.writeFileSync(path.join(inv, 'host_vars', `${h.name}.yml`), vaultEncrypt(hv + '\n', PW));
    fs.writeFileSync(path.join(inv, 'group_vars', 'all', 'main.yml'), `app_base: ${base}\napi_token: !vault |\n${vaultEncrypt(SECRETS[1]!, PW).trimEnd().split('\n').map((l) => `  ${l}`).join('\n')}\n`);
    fs.writeFileSync(path.join(inv, 'group_vars', 'all', 'secrets.yml'), `named_secret: "${SECRETS[2]}"\n`);
    fs.writeFileSync(
      path.join(dir, 'site.yml'),
      `- hosts: containers
  gather_facts: false
  tasks:
    - name: base dir
      file: { path: "{{ app_base }}", state: directory }
    - name: credentials file
      copy:
        dest: "{{ app_base }}/creds.conf"
        content: "db={{ db_password }}\\ntoken={{ api_token }}\\nnamed={{ named_secret }}\\n"
        mode: "0600"
    - name: show the password
      debug: { var: db_password }
    - name: echo the token
      command: echo "{{ api_token }}"
      register: echoed
    - name: show what was echoed
      debug: { msg: "{{ echoed.stdout }} and {{ named_secret }}" }
    - name: vmid is usable
      assert: { that: ["proxmox_vmid == 100"] }
`,
    );
  });

  afterAll(async () => {
    await lab?.destroy();
    fs.rmSync(base, { recursive: true, force: true });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = (extra: string[], env: Record<string, string> = {}) => cliAsync(['apply', path.join(dir, 'site.yml'), '-i', path.join(dir, 'inventory'), '--diff', ...extra], { env: { ANSIBLE_VAULT_PASSWORD_FILE: '', ...env } });

  it('--vault-password-file: values reach the host, never any output or the report (plain, json)', async () => {
    for (const format of ['plain', 'json']) {
      fs.rmSync(base, { recursive: true, force: true });
      const report = path.join(dir, `report-${format}.json`);
      const r = await run(['--vault-password-file', PWFILE, '--format', format, '--report', report]);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const creds = await lab.exec(lab.hosts[0]!, ['cat', `${base}/creds.conf`]);
      expect(creds.stdout).toBe(`db=${SECRETS[0]}\ntoken=${SECRETS[1]}\nnamed=${SECRETS[2]}\n`);
      const all = r.stdout + r.stderr + fs.readFileSync(report, 'utf8');
      for (const s of SECRETS) expect(all).not.toContain(s);
      expect(all).toContain('********');
      if (format === 'json') {
        const ev = events(r.stdout).filter((e) => e.event === 'task:result');
        expect(ev.find((e) => e.task === 'credentials file')?.status).toBe('changed');
        expect(ev.find((e) => e.task === 'vmid is usable')?.status).toBe('ok');
      }
    }
  });

  it('ANSIBLE_VAULT_PASSWORD_FILE works the same, and the second run changes nothing', async () => {
    const r = await run(['--format', 'json'], { ANSIBLE_VAULT_PASSWORD_FILE: PWFILE });
    expect(r.code, r.stderr).toBe(0);
    const end = events(r.stdout).find((e) => e.event === 'run:end')!;
    expect(end.recap[0].changed).toBe(1); // only the command task
    for (const s of SECRETS) expect(r.stdout + r.stderr).not.toContain(s);
  });

  it('--ask-vault-pass reads the password from standard input', async () => {
    const r = await new Promise<{ code: number; out: string }>((resolve) => {
      const p = spawn(process.execPath, [BIN, 'apply', path.join(dir, 'site.yml'), '-i', path.join(dir, 'inventory'), '--ask-vault-pass', '--format', 'plain'], {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: '1', CI: 'true', ANSIBLE_VAULT_PASSWORD_FILE: '' },
      });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (out += d));
      const t = setTimeout(() => p.kill('SIGKILL'), 120_000);
      p.on('close', (code) => {
        clearTimeout(t);
        resolve({ code: code ?? -1, out });
      });
      p.stdin.end(`${PW}\n`);
    });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/PLAY RECAP/);
    for (const s of SECRETS) expect(r.out).not.toContain(s);
  });
});
