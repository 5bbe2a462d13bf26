/**
 * SOPS-encrypted vars files (as community.sops' vars plugin loads them), for age keys.
 *
 * The format (getsops/sops, aes/cipher.go and sops.go): every leaf value of the tree is
 * `ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:str|int|float|bool|bytes|comment]`, encrypted with AES-256-GCM
 * under one 32-byte data key, 32-byte IV, additional data = the mapping keys on the way to the leaf joined with ':'
 * plus a trailing ':' (list indices are not part of the path). The data key is wrapped for each recipient in
 * `sops.age[].enc` (an armored age file). The MAC is SHA-512 over the plaintext leaves in file order (as text: bools
 * True/False, comments excluded; with `mac_only_encrypted` only encrypted leaves, after a fixed 32-byte prefix),
 * printed as upper-case hex and stored encrypted under the data key with `sops.lastmodified` as additional data.
 *
 * The age unwrapping uses the age-encryption library (asynchronous); vars files are loaded synchronously, so it runs
 * in a short-lived worker thread the caller waits for (Atomics.wait), bounded in time.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { isAlias, isMap, isScalar, isSeq, stringify, type Document, type Node } from 'yaml';
import { RunbookError } from '../errors.js';
import { loadYamlFile, type YamlFile } from '../yaml-load.js';

const ENC_RE = /^ENC\[AES256_GCM,data:(.*),iv:(.+),tag:(.+),type:(.+)\]$/s;
const MAC_ONLY_ENCRYPTED_INIT = Buffer.from('8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69', 'hex');
const NONCE = 32;

/** Every decrypted tree so far (the executor marks them as secrets). */
const decrypted: unknown[] = [];
const listeners: ((v: unknown) => void)[] = [];
/**
 * Calls fn for every SOPS tree decrypted so far and from now on (a RunContext marks them as secrets). Returns the
 * function that stops the calls: a context removes its listener when its command ends.
 */
export function onSopsDecrypted(fn: (v: unknown) => void): () => void {
  for (const v of decrypted) fn(v);
  listeners.push(fn);
  return () => {
    const i = listeners.indexOf(fn);
    if (i >= 0) listeners.splice(i, 1);
  };
}

/** How many listeners are registered (a test checks that runs do not leave theirs behind). */
export function sopsListenerCount(): number {
  return listeners.length;
}

/** A vars file SOPS encrypted: named *.sops.yaml / *.sops.yml, or holding a top-level `sops:` metadata mapping. */
export function isSopsFile(file: string, value: unknown): boolean {
  const meta = value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)['sops'] : undefined;
  if (meta && typeof meta === 'object' && !Array.isArray(meta) && ('mac' in meta || 'lastmodified' in meta)) return true;
  return /\.sops\.ya?ml$/i.test(file) && meta !== undefined;
}

/** The age identities runbook can use: SOPS_AGE_KEY (inline), SOPS_AGE_KEY_FILE, else ~/.config/sops/age/keys.txt. */
export function ageIdentities(): { identities: string[]; looked: string[] } {
  const looked: string[] = [];
  const ids: string[] = [];
  const fromText = (t: string) => t.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.startsWith('AGE-SECRET-KEY-'));
  if (process.env['SOPS_AGE_KEY']) {
    looked.push('$SOPS_AGE_KEY');
    ids.push(...fromText(process.env['SOPS_AGE_KEY']));
  }
  const cfg = process.env['XDG_CONFIG_HOME'] || path.join(os.homedir(), '.config');
  const file = process.env['SOPS_AGE_KEY_FILE'] || path.join(cfg, 'sops', 'age', 'keys.txt');
  looked.push(file);
  try {
    ids.push(...fromText(fs.readFileSync(file, 'utf8')));
  } catch {
    /* absent: reported by the caller when no identity fits */
  }
  return { identities: ids, looked };
}

// ---------------------------------------------------------------------------------------------------------------
// the age step, run synchronously in a worker

const WORKER_SRC = `
const { workerData } = require('node:worker_threads');
(async () => {
  const { flag, port, ageUrl, op, items, keys } = workerData;
  let msg;
  try {
    const age = await import(ageUrl);
    if (op === 'decrypt') {
      const errors = [];
      let key;
      for (const enc of items) {
        try {
          const d = new age.Decrypter();
          for (const k of keys) d.addIdentity(k);
          key = Buffer.from(await d.decrypt(age.armor.decode(enc))).toString('base64');
          break;
        } catch (e) { errors.push(String(e && e.message || e)); }
      }
      msg = key ? { ok: key } : { err: errors.join('; ') || 'no age stanza' };
    } else {
      const out = [];
      for (const r of items) {
        const e = new age.Encrypter();
        e.addRecipient(r);
        out.push(age.armor.encode(await e.encrypt(Buffer.from(keys[0], 'base64'))));
      }
      msg = { ok: out };
    }
  } catch (e) { msg = { err: String(e && e.message || e) }; }
  port.postMessage(msg);
  const i32 = new Int32Array(flag);
  Atomics.store(i32, 0, 1);
  Atomics.notify(i32, 0);
})();
`;

function ageSync(op: 'decrypt' | 'encrypt', items: string[], keys: string[]): { ok?: unknown; err?: string } {
  const ageUrl = pathToFileURL(createRequire(import.meta.url).resolve('age-encryption')).href;
  const flag = new SharedArrayBuffer(4);
  const { port1, port2 } = new MessageChannel();
  const w = new Worker(WORKER_SRC, { eval: true, workerData: { flag, port: port2, ageUrl, op, items, keys }, transferList: [port2] });
  try {
    const r = Atomics.wait(new Int32Array(flag), 0, 0, 30_000);
    if (r === 'timed-out') return { err: 'age did not answer within 30s' };
    const m = receiveMessageOnPort(port1);
    return (m?.message as { ok?: unknown; err?: string }) ?? { err: 'age worker gave no answer' };
  } finally {
    void w.terminate();
    port1.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// values

interface Meta {
  lastmodified?: string;
  mac?: string;
  unencrypted_suffix?: string;
  encrypted_suffix?: string;
  unencrypted_regex?: string;
  encrypted_regex?: string;
  mac_only_encrypted?: boolean;
  age?: { recipient?: string; enc?: string }[];
}

function leafBytes(v: unknown): Buffer {
  if (typeof v === 'boolean') return Buffer.from(v ? 'True' : 'False');
  if (Buffer.isBuffer(v)) return v;
  return Buffer.from(String(v));
}

function shouldEncrypt(meta: Meta, keys: string[]): boolean {
  let enc = true;
  const suf = meta.unencrypted_suffix ?? (meta.encrypted_suffix || meta.encrypted_regex || meta.unencrypted_regex ? '' : '_unencrypted');
  if (suf && keys.some((k) => k.endsWith(suf))) enc = false;
  if (meta.encrypted_suffix) enc = keys.some((k) => k.endsWith(meta.encrypted_suffix!));
  if (meta.unencrypted_regex && keys.some((k) => new RegExp(meta.unencrypted_regex!).test(k))) enc = false;
  if (meta.encrypted_regex) enc = keys.some((k) => new RegExp(meta.encrypted_regex!).test(k));
  return enc;
}

export function decryptValue(value: string, key: Buffer, aad: string): unknown {
  if (value === '') return '';
  const m = ENC_RE.exec(value);
  if (!m) throw new Error('value is not in SOPS format (ENC[AES256_GCM,...])');
  const iv = Buffer.from(m[2]!, 'base64');
  const d = crypto.createDecipheriv('aes-256-gcm', key, iv);
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(Buffer.from(m[3]!, 'base64'));
  const out = Buffer.concat([d.update(Buffer.from(m[1]!, 'base64')), d.final()]);
  const s = out.toString('utf8');
  switch (m[4]) {
    case 'str':
    case 'comment':
      return s;
    case 'int':
    case 'int64':
      if (!/^[+-]?\d+$/.test(s)) throw new Error(`bad int ${s}`);
      return Number(s);
    case 'float':
      return Number(s);
    case 'bool':
      return ['true', '1', 't'].includes(s.toLowerCase());
    case 'bytes':
      return out;
    default:
      throw new Error(`unknown SOPS value type ${m[4]}`);
  }
}

export function encryptValue(v: unknown, key: Buffer, aad: string): string {
  let type: string;
  let text: string;
  if (typeof v === 'string') {
    if (v === '') return '';
    type = 'str';
    text = v;
  } else if (typeof v === 'boolean') {
    type = 'bool';
    text = v ? 'True' : 'False';
  } else if (typeof v === 'number') {
    type = Number.isInteger(v) ? 'int' : 'float';
    text = String(v);
  } else throw new Error(`cannot encrypt a ${typeof v}`);
  const iv = crypto.randomBytes(NONCE);
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad));
  const data = Buffer.concat([c.update(Buffer.from(text)), c.final()]);
  return `ENC[AES256_GCM,data:${data.toString('base64')},iv:${iv.toString('base64')},tag:${c.getAuthTag().toString('base64')},type:${type}]`;
}

/** Walk a YAML node in file order (SOPS's order), calling leaf(value, keys) for every scalar leaf. */
function walk(doc: Document, node: Node | null | undefined, keys: string[], leaf: (v: unknown, keys: string[]) => unknown): unknown {
  if (!node) return null;
  if (isAlias(node)) return walk(doc, node.resolve(doc) as Node, keys, leaf);
  if (isMap(node)) {
    const out: Record<string, unknown> = {};
    for (const p of node.items) {
      const k = isScalar(p.key) ? String(p.key.value) : String(p.key);
      out[k] = walk(doc, p.value as Node, [...keys, k], leaf);
    }
    return out;
  }
  if (isSeq(node)) return node.items.map((i) => walk(doc, i as Node, keys, leaf));
  if (isScalar(node)) return node.value === null || node.value === undefined ? null : leaf(node.value, keys);
  return null;
}

let shapeOnly = false;
/**
 * --syntax-check needs no secrets: with `on`, SOPS files are checked for shape (age recipients, MAC, every value
 * that should be encrypted is an ENC[...] value) and not decrypted; each encrypted value stays unknown, as an opaque
 * `{ __vault__: ciphertext }` the checks already leave alone (defined, value unknown).
 */
export function setSopsShapeOnly(on: boolean): void {
  shapeOnly = on;
}

/** Decrypt a loaded SOPS file to its plain vars (without the `sops` key); the MAC is verified. Sync. */
export function decryptSopsYaml(f: YamlFile): Record<string, unknown> {
  const file = f.file;
  const at = (p: (string | number)[]) => f.pos(p);
  const fail = (msg: string, p: (string | number)[] = ['sops']) => new RunbookError('config', `${file}: ${msg}`, { pos: at(p) });
  const top = f.value as Record<string, unknown>;
  const meta = (top['sops'] ?? {}) as Meta;
  const stanzas = (meta.age ?? []).map((a) => a.enc).filter((e): e is string => typeof e === 'string');
  if (!stanzas.length) throw fail('SOPS file has no age recipients (sops.age); only age keys are supported');
  if (shapeOnly) {
    if (typeof meta.mac !== 'string' || typeof meta.lastmodified !== 'string') throw fail('SOPS metadata lacks mac or lastmodified');
    const root = f.doc.contents as Node;
    if (!isMap(root)) throw fail('a SOPS vars file must be a mapping', []);
    const out: Record<string, unknown> = {};
    for (const p of root.items) {
      const k = isScalar(p.key) ? String(p.key.value) : String(p.key);
      if (k === 'sops') continue;
      out[k] = walk(f.doc, p.value as Node, [k], (v, keys) => {
        if (!shouldEncrypt(meta, keys)) return v;
        if (typeof v !== 'string' || !ENC_RE.test(v)) throw fail(`the value at ${keys.join('.')} is not SOPS-encrypted (expected ENC[AES256_GCM,...])`, keys);
        return { __vault__: v };
      });
    }
    return out;
  }
  const { identities, looked } = ageIdentities();
  if (!identities.length) throw fail(`cannot decrypt SOPS file: no age key found (looked in ${looked.join(', ')}); set SOPS_AGE_KEY_FILE`);
  const r = ageSync('decrypt', stanzas, identities);
  if (!r.ok) {
    const rec = (meta.age ?? []).map((a) => a.recipient).filter(Boolean).join(', ');
    throw fail(`cannot decrypt SOPS file: none of the age keys in ${looked.join(', ')} fits its recipients (${rec}): ${r.err}`);
  }
  const key = Buffer.from(String(r.ok), 'base64');
  const hash = crypto.createHash('sha512');
  if (meta.mac_only_encrypted) hash.update(MAC_ONLY_ENCRYPTED_INIT);
  const root = f.doc.contents as Node;
  const out: Record<string, unknown> = {};
  if (!isMap(root)) throw fail('a SOPS vars file must be a mapping', []);
  for (const p of root.items) {
    const k = isScalar(p.key) ? String(p.key.value) : String(p.key);
    if (k === 'sops') continue;
    out[k] = walk(f.doc, p.value as Node, [k], (v, keys) => {
      const enc = shouldEncrypt(meta, keys);
      let plain: unknown = v;
      if (enc) {
        try {
          plain = decryptValue(String(v), key, keys.join(':') + ':');
        } catch (e) {
          throw fail(`cannot decrypt the value at ${keys.join('.')}: ${(e as Error).message}`, keys);
        }
      }
      if (!meta.mac_only_encrypted || enc) hash.update(leafBytes(plain));
      return plain;
    });
  }
  if (typeof meta.mac !== 'string' || typeof meta.lastmodified !== 'string') throw fail('SOPS metadata lacks mac or lastmodified');
  let stored: unknown;
  try {
    stored = decryptValue(meta.mac, key, meta.lastmodified);
  } catch (e) {
    throw fail(`the SOPS MAC cannot be decrypted (file tampered with?): ${(e as Error).message}`, ['sops', 'mac']);
  }
  const computed = hash.digest('hex').toUpperCase();
  if (stored !== computed) throw fail('SOPS MAC mismatch: the file was changed after it was encrypted', ['sops', 'mac']);
  decrypted.push(out);
  for (const fn of listeners) fn(out);
  return out;
}

/** loadYamlFile, with a SOPS-encrypted file's value decrypted (positions still refer to the encrypted file). */
export function loadVarsYaml(file: string): YamlFile {
  const y = loadYamlFile(file);
  if (!isSopsFile(file, y.value)) return y;
  return { ...y, value: decryptSopsYaml(y) };
}

/**
 * Encrypt plain vars to a SOPS YAML document for the given age recipients (what `sops -e` writes for age). Used by the
 * tests and for making fixtures; the format follows SOPS's own (see the top of this file).
 */
export function encryptSops(plain: Record<string, unknown>, recipients: string[], opts: { unencryptedSuffix?: string; lastmodified?: string } = {}): string {
  const key = crypto.randomBytes(32);
  const suffix = opts.unencryptedSuffix ?? '_unencrypted';
  const hash = crypto.createHash('sha512');
  const enc = (v: unknown, keys: string[]): unknown => {
    if (v === null || v === undefined) return null;
    if (Array.isArray(v)) return v.map((x) => enc(x, keys));
    if (typeof v === 'object') return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, enc(x, [...keys, k])]));
    hash.update(leafBytes(v));
    if (keys.some((k) => k.endsWith(suffix))) return v;
    return encryptValue(v, key, keys.join(':') + ':');
  };
  const body = Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, enc(v, [k])]));
  const wrapped = ageSync('encrypt', recipients, [key.toString('base64')]);
  if (!wrapped.ok) throw new Error(`age: ${wrapped.err}`);
  const lastmodified = opts.lastmodified ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const mac = encryptValue(hash.digest('hex').toUpperCase(), key, lastmodified);
  const doc = {
    ...body,
    sops: {
      age: recipients.map((r, i) => ({ recipient: r, enc: (wrapped.ok as string[])[i] })),
      lastmodified,
      mac,
      unencrypted_suffix: suffix,
      version: '3.9.0',
    },
  };
  return stringify(doc, { lineWidth: 0 });
}

/**
 * community.sops.sops lookup: the decrypted file as text (YAML, without the `sops` key), or with
 * `extract='["key"][0]'` the value at that path. FILE is looked up like Ansible's files: the role's files/, then
 * files/ beside the playbook, then the playbook directory (or absolute).
 */
export function sopsLookup(terms: unknown[], kw: Record<string, unknown>, vars: Record<string, unknown>): unknown[] {
  return terms.map((t) => {
    const name = String(t);
    const bases: string[] = [];
    if (typeof vars['role_path'] === 'string') bases.push(path.join(vars['role_path'], 'files'), vars['role_path']);
    if (typeof vars['playbook_dir'] === 'string') bases.push(path.join(vars['playbook_dir'], 'files'), vars['playbook_dir']);
    bases.push(process.cwd());
    const file = path.isAbsolute(name) ? name : bases.map((b) => path.resolve(b, name)).find((p) => fs.existsSync(p));
    if (!file || !fs.existsSync(file)) throw new Error(`could not find the SOPS file ${name} (looked in ${bases.join(', ')})`);
    const y = loadYamlFile(file);
    if (!isSopsFile(file, y.value)) throw new Error(`${file} is not a SOPS-encrypted file (no sops metadata)`);
    let v: unknown = decryptSopsYaml(y);
    if (kw['extract'] !== undefined) {
      const steps = [...String(kw['extract']).matchAll(/\[\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|(-?\d+))\s*\]/g)];
      if (!steps.length) throw new Error(`extract must look like '["key"][0]', got ${String(kw['extract'])}`);
      for (const s of steps) {
        const k = s[3] !== undefined ? Number(s[3]) : (s[1] ?? s[2])!;
        if (v === null || typeof v !== 'object' || !(k in (v as object))) throw new Error(`${file}: no value at ${String(kw['extract'])}`);
        v = (v as Record<string | number, unknown>)[k];
      }
      if (v !== null && typeof v === 'object') return stringify(v).replace(/\s+$/, '');
      return v;
    }
    const text = stringify(v);
    return kw['rstrip'] === false ? text : text.replace(/\s+$/, '');
  });
}
