/**
 * SOPS vars files with age keys: the file is encrypted in the test in SOPS's own format (a generated age key), then
 * decrypted through real runs (group_vars, vars_files, include_vars) with the value never printed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { parse } from 'yaml';
import { decryptValue, encryptSops, encryptValue } from '../lib/vars/sops.js';
import { cli, events } from './helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-sops-'));
const keyFile = path.join(dir, 'keys.txt');
const otherKeyFile = path.join(dir, 'other.txt');
let recipient = '';

beforeAll(async () => {
  const id = await generateIdentity();
  recipient = await identityToRecipient(id);
  fs.writeFileSync(keyFile, `# created: test\n# public key: ${recipient}\n${id}\n`);
  fs.writeFileSync(otherKeyFile, `${await generateIdentity()}\n`);
  const secret = encryptSops({ db_password: 'hunter2-very-secret', proxmox_vmid: 101, nested: { token: 'tok-12345678', list: ['a-secret', true] }, note_unencrypted: 'plain' }, [recipient]);
  fs.mkdirSync(path.join(dir, 'group_vars', 'all'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'group_vars', 'all', 'secrets.sops.yaml'), secret);
  // a file not named .sops. but holding sops metadata is decrypted too
  fs.writeFileSync(path.join(dir, 'extra.yml'), encryptSops({ extra_secret: 'extra-value-xyz' }, [recipient]));
  fs.writeFileSync(path.join(dir, 'inventory.yml'), 'all:\n  hosts:\n    localhost:\n      ansible_connection: local\n');
  const out = path.join(dir, 'out');
  fs.writeFileSync(
    path.join(dir, 'site.yml'),
    `- hosts: localhost
  gather_facts: false
  vars_files: [extra.yml]
  tasks:
    - name: show
      debug:
        msg: "pw={{ db_password }} vmid={{ proxmox_vmid + 1 }} tok={{ nested.token }} l={{ nested.list[1] }} n={{ note_unencrypted }}"
    - include_vars: extra.yml
    - copy:
        dest: ${out}
        content: "{{ db_password }}/{{ extra_secret }}\\n"
`,
  );
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('SOPS format', () => {
  it('values round-trip with the path as additional data, and a different path fails', () => {
    const key = crypto.randomBytes(32);
    const enc = encryptValue('s3cret', key, 'a:b:');
    expect(enc).toMatch(/^ENC\[AES256_GCM,data:[^,]+,iv:[^,]+,tag:[^,]+,type:str\]$/);
    expect(Buffer.from(/iv:([^,]+)/.exec(enc)![1]!, 'base64').length).toBe(32);
    expect(decryptValue(enc, key, 'a:b:')).toBe('s3cret');
    expect(() => decryptValue(enc, key, 'a:c:')).toThrow();
    expect(decryptValue(encryptValue(42, key, 'x:'), key, 'x:')).toBe(42);
    expect(decryptValue(encryptValue(false, key, 'x:'), key, 'x:')).toBe(false);
  });

  it('the encrypted file has the metadata sops writes, and no plaintext', () => {
    const text = fs.readFileSync(path.join(dir, 'group_vars', 'all', 'secrets.sops.yaml'), 'utf8');
    expect(text).not.toContain('hunter2');
    const doc = parse(text);
    expect(doc.sops.age[0].recipient).toBe(recipient);
    expect(doc.sops.age[0].enc).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----/);
    expect(doc.sops.mac).toMatch(/^ENC\[AES256_GCM,/);
    expect(doc.note_unencrypted).toBe('plain');
    expect(doc.proxmox_vmid).toMatch(/type:int\]$/);
  });
});

describe('SOPS through a real run', () => {
  it('group_vars, vars_files and include_vars are decrypted; the values never appear in the output', () => {
    const r = cli(['apply', path.join(dir, 'site.yml'), '-i', path.join(dir, 'inventory.yml'), '--format', 'json'], { env: { SOPS_AGE_KEY_FILE: keyFile } });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'out'), 'utf8')).toBe('hunter2-very-secret/extra-value-xyz\n');
    const dbg = events(r.stdout).find((e) => e.event === 'task:result' && e.task === 'show')!;
    expect(dbg.output).toContain('vmid=102');
    expect(dbg.output).toContain('l=True');
    // the unencrypted value is readable in the file, but a secret file's values are all masked in output
    expect(dbg.output).toContain('n=********');
    expect(r.stdout + r.stderr).not.toContain('hunter2');
    expect(r.stdout + r.stderr).not.toContain('tok-12345678');
    expect(r.stdout + r.stderr).not.toContain('extra-value-xyz');
  });

  it('no key: a clear error naming the file, before any host is contacted', () => {
    const r = cli(['apply', path.join(dir, 'site.yml'), '-i', path.join(dir, 'inventory.yml'), '--format', 'json'], { env: { SOPS_AGE_KEY_FILE: path.join(dir, 'absent.txt'), SOPS_AGE_KEY: '', HOME: dir } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(path.join(dir, 'group_vars', 'all', 'secrets.sops.yaml'));
    expect(r.stderr).toMatch(/no age key found \(looked in .*absent\.txt\)/);
    expect(events(r.stdout).filter((e) => String(e.event).startsWith('task:'))).toEqual([]);
  });

  it('a key that does not fit, and a tampered file, are refused', () => {
    const wrong = cli(['apply', path.join(dir, 'site.yml'), '-i', path.join(dir, 'inventory.yml')], { env: { SOPS_AGE_KEY_FILE: otherKeyFile } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/secrets\.sops\.yaml.*none of the age keys/);
    // swap two encrypted values: each still decrypts only under its own path, so the file is refused
    const f = path.join(dir, 'group_vars', 'all', 'secrets.sops.yaml');
    const orig = fs.readFileSync(f, 'utf8');
    try {
      const doc = parse(orig);
      const tampered = orig.replace(doc.db_password, doc.nested.token).replace(/token: ENC\[[^\]]+\]/, `token: ${doc.db_password}`);
      fs.writeFileSync(f, tampered);
      const t = cli(['apply', path.join(dir, 'site.yml'), '-i', path.join(dir, 'inventory.yml')], { env: { SOPS_AGE_KEY_FILE: keyFile } });
      expect(t.code).toBe(1);
      expect(t.stderr).toMatch(/secrets\.sops\.yaml.*cannot decrypt the value at db_password/);
      // an unencrypted value changed: only the MAC notices
      fs.writeFileSync(f, orig.replace('note_unencrypted: plain', 'note_unencrypted: changed'));
      const m = cli(['apply', path.join(dir, 'site.yml'), '-i', path.join(dir, 'inventory.yml')], { env: { SOPS_AGE_KEY_FILE: keyFile } });
      expect(m.code).toBe(1);
      expect(m.stderr).toMatch(/secrets\.sops\.yaml.*MAC mismatch/);
    } finally {
      fs.writeFileSync(f, orig);
    }
  });
});
