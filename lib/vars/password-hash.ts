/**
 * Ansible's `password_hash` filter and `password` lookup.
 *
 * password_hash: SHA-crypt ($5$ sha256_crypt, $6$ sha512_crypt) exactly as Ulrich Drepper's specification
 * ("Unix crypt using SHA-256 and SHA-512", the algorithm glibc's crypt(3) implements), with node:crypto digests.
 * Like Ansible (which fixes passlib's implicit rounds to 5000), the default is 5000 rounds and then `rounds=` is not
 * written into the hash; a given salt is used as is (at most 16 characters), otherwise a random 16-character one.
 *
 * password lookup: `lookup('password', 'FILE chars=ascii_letters,digits length=20')` returns the password stored in
 * FILE, or generates one, stores it there (0600, directories created) and returns it; `/dev/null` generates a new
 * one every time without storing it.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const ORDER_512: [number, number, number][] = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48], [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10],
  [53, 11, 32], [12, 33, 54], [34, 55, 13], [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
];
const ORDER_256: [number, number, number][] = [
  [0, 10, 20], [21, 1, 11], [12, 22, 2], [3, 13, 23], [24, 4, 14], [15, 25, 5], [6, 16, 26], [27, 7, 17], [18, 28, 8], [9, 19, 29],
];

function b64from24(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let out = '';
  for (let i = 0; i < n; i++) {
    out += ITOA64[w & 0x3f];
    w >>>= 6;
  }
  return out;
}

/** Repeat `block` to exactly `len` bytes (full blocks, then a partial one). */
function stretch(block: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i += block.length) block.copy(out, i, 0, Math.min(block.length, len - i));
  return out;
}

/** SHA-crypt of `password` with `salt`; `rounds` undefined = the default 5000, not written into the result. */
export function shaCrypt(algo: 'sha256' | 'sha512', password: string | Buffer, salt: string, rounds?: number): string {
  const H = (...parts: Buffer[]) => {
    const h = crypto.createHash(algo);
    for (const p of parts) h.update(p);
    return h.digest();
  };
  const P = Buffer.isBuffer(password) ? password : Buffer.from(password, 'utf8');
  const S = Buffer.from(salt, 'utf8').subarray(0, 16);
  const r = rounds === undefined ? 5000 : Math.min(999_999_999, Math.max(1000, Math.floor(rounds)));
  const hashLen = algo === 'sha512' ? 64 : 32;
  const B = H(P, S, P);
  const a = crypto.createHash(algo);
  a.update(P);
  a.update(S);
  a.update(stretch(B, P.length));
  for (let n = P.length; n > 0; n >>= 1) a.update(n & 1 ? B : P);
  let A = a.digest();
  const dp = crypto.createHash(algo);
  for (let i = 0; i < P.length; i++) dp.update(P);
  const Pseq = stretch(dp.digest(), P.length);
  const ds = crypto.createHash(algo);
  for (let i = 0; i < 16 + A[0]!; i++) ds.update(S);
  const Sseq = stretch(ds.digest(), S.length);
  for (let i = 0; i < r; i++) {
    const c = crypto.createHash(algo);
    c.update(i & 1 ? Pseq : A);
    if (i % 3) c.update(Sseq);
    if (i % 7) c.update(Pseq);
    c.update(i & 1 ? A : Pseq);
    A = c.digest();
  }
  let enc = '';
  if (hashLen === 64) {
    for (const [x, y, z] of ORDER_512) enc += b64from24(A[x]!, A[y]!, A[z]!, 4);
    enc += b64from24(0, 0, A[63]!, 2);
  } else {
    for (const [x, y, z] of ORDER_256) enc += b64from24(A[x]!, A[y]!, A[z]!, 4);
    enc += b64from24(0, A[31]!, A[30]!, 3);
  }
  const id = algo === 'sha512' ? '6' : '5';
  return `$${id}$${rounds === undefined ? '' : `rounds=${r}$`}${S.toString('utf8')}$${enc}`;
}

function randomString(len: number, chars: string): string {
  let out = '';
  for (let i = 0; i < len; i++) out += chars[crypto.randomInt(chars.length)];
  return out;
}

/** Ansible's password_hash(hashtype='sha512', salt=None, salt_size=None, rounds=None) */
export function passwordHash(password: unknown, hashtype = 'sha512', salt?: unknown, saltSize?: unknown, rounds?: unknown): string {
  const t = String(hashtype).replace(/_crypt$/, '');
  if (t !== 'sha512' && t !== 'sha256') throw new Error(`password_hash: hash type ${hashtype} is not supported (sha512, sha256)`);
  const s = salt === undefined || salt === null ? randomString(saltSize ? Number(saltSize) : 16, ITOA64) : String(salt);
  if (!/^[./0-9A-Za-z]*$/.test(s)) throw new Error(`password_hash: invalid characters in salt ${JSON.stringify(s)}`);
  const r = rounds === undefined || rounds === null ? undefined : Number(rounds);
  return shaCrypt(t, String(password), s, r === 5000 ? undefined : r);
}

// ---------------------------------------------------------------------------------------------------------------
// password lookup

const CHARSETS: Record<string, string> = {
  ascii_letters: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
  ascii_lowercase: 'abcdefghijklmnopqrstuvwxyz',
  ascii_uppercase: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  digits: '0123456789',
  hexdigits: '0123456789abcdefABCDEF',
  octdigits: '01234567',
  punctuation: '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
};
CHARSETS['letters'] = CHARSETS['ascii_letters']!;
CHARSETS['lowercase'] = CHARSETS['ascii_lowercase']!;
CHARSETS['uppercase'] = CHARSETS['ascii_uppercase']!;
CHARSETS['printable'] = CHARSETS['digits']! + CHARSETS['ascii_letters']! + CHARSETS['punctuation']! + ' \t\n\r\x0b\x0c';

/** Ansible's chars= list: names of string-module constants or literal characters; ',,' is a literal comma. */
export function passwordChars(spec: unknown): string {
  const list = Array.isArray(spec) ? spec.map(String) : String(spec).replace(/,,/g, '\u0000').split(',').map((s) => s.replace(/\u0000/g, ','));
  let out = '';
  for (const c of list) out += CHARSETS[c] ?? c;
  return [...new Set(out)].join('');
}

/** parse `FILE k=v k=v` (Ansible's _parse_parameters) */
function parseTerm(term: string): { file: string; params: Record<string, string> } {
  const m = /^(\S+)((?:\s+\w+=\S*)*)\s*$/.exec(term.trim());
  if (!m) throw new Error(`could not parse password lookup term ${JSON.stringify(term)}`);
  const params: Record<string, string> = {};
  for (const kv of m[2]!.trim().split(/\s+/).filter(Boolean)) {
    const i = kv.indexOf('=');
    params[kv.slice(0, i)] = kv.slice(i + 1);
  }
  for (const k of Object.keys(params)) {
    if (!['length', 'chars', 'encrypt', 'ident', 'seed'].includes(k)) throw new Error(`unrecognized password lookup parameter ${k}`);
  }
  return { file: m[1]!, params };
}

export function passwordLookup(terms: unknown[], kw: Record<string, unknown>, vars: Record<string, unknown>): unknown[] {
  return terms.map((t) => {
    const { file, params } = parseTerm(String(t));
    const length = Number(params['length'] ?? kw['length'] ?? 20);
    if (!Number.isInteger(length) || length < 1) throw new Error(`password lookup: bad length ${length}`);
    const chars = passwordChars(params['chars'] ?? kw['chars'] ?? ['ascii_letters', 'digits', '.,:-_']);
    if (!chars) throw new Error('password lookup: empty chars');
    if (params['seed'] !== undefined || kw['seed'] !== undefined) throw new Error('password lookup: seed= is not supported (use a file to keep the password stable)');
    const encrypt = params['encrypt'] ?? kw['encrypt'];
    if (file === '/dev/null') {
      const pw = randomString(length, chars);
      return encrypt ? passwordHash(pw, String(encrypt)) : pw;
    }
    const base = typeof vars['role_path'] === 'string' ? String(vars['role_path']) : typeof vars['playbook_dir'] === 'string' ? String(vars['playbook_dir']) : process.cwd();
    const abs = path.resolve(base, file);
    let pw: string;
    let salt: string | undefined;
    if (fs.existsSync(abs)) {
      const content = fs.readFileSync(abs, 'utf8').replace(/\n$/, '');
      const m = /^(.*?)(?: salt=(\S+))?(?: ident=(\S+))?$/s.exec(content)!;
      pw = m[1]!;
      salt = m[2];
      if (encrypt && !salt) {
        salt = randomString(16, ITOA64);
        fs.writeFileSync(abs, `${pw} salt=${salt}\n`, { mode: 0o600 });
      }
    } else {
      pw = randomString(length, chars);
      if (encrypt) salt = randomString(16, ITOA64);
      fs.mkdirSync(path.dirname(abs), { recursive: true });
      fs.writeFileSync(abs, `${pw}${salt ? ` salt=${salt}` : ''}\n`, { mode: 0o600 });
    }
    return encrypt ? passwordHash(pw, String(encrypt), salt) : pw;
  });
}
