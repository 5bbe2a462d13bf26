/**
 * Bytes <-> text, losslessly: the one codec used wherever a file's content crosses between bytes and a JS string
 * (the template source read on the controller, the probe's content decode, the write's encode).
 *
 * Files are bytes; most are UTF-8, some are not (a Latin-1 config, a binary blob). Ansible keeps such bytes with
 * Python's surrogateescape. JS strings could hold lone surrogates too, but the template engine (minijinja, WASM)
 * takes UTF-8 and cannot carry them, so here each byte that is not part of a valid UTF-8 sequence becomes one
 * private-use code point, U+10FF00 + byte (only 0x80..0xFF can be invalid, so U+10FF80..U+10FFFF, the end of
 * Supplementary Private Use Area-B, which real text does not use). encodeText() turns those code points back into
 * the single byte. A file that really holds the UTF-8 encoding of one of those code points has its 4 bytes escaped
 * one by one, so decodeBytes() -> encodeText() gives back the input bytes for every input.
 */

/** First code point of the escape range: the escape of byte b is ESCAPE_BASE + b (b >= 0x80). */
export const ESCAPE_BASE = 0x10ff00;
const FIRST_ESCAPE = ESCAPE_BASE + 0x80;

/** Length of the valid UTF-8 sequence starting at buf[i] (1..4), or 0 when the byte there starts none. */
function seqLength(buf: Uint8Array, i: number): number {
  const b = buf[i]!;
  if (b < 0x80) return 1;
  const cont = (j: number, lo = 0x80, hi = 0xbf): boolean => j < buf.length && buf[j]! >= lo && buf[j]! <= hi;
  if (b >= 0xc2 && b <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (b >= 0xe0 && b <= 0xef) {
    // no overlongs (E0 A0..), no surrogates (ED ..9F)
    const lo = b === 0xe0 ? 0xa0 : 0x80;
    const hi = b === 0xed ? 0x9f : 0xbf;
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    // no overlongs (F0 90..), nothing above U+10FFFF (F4 ..8F); and not the escape range itself (F4 8F BE/BF ..)
    const lo = b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xf4 ? 0x8f : 0xbf;
    if (!(cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3))) return 0;
    if (b === 0xf4 && buf[i + 1] === 0x8f && buf[i + 2]! >= 0xbe) return 0;
    return 4;
  }
  return 0;
}

/** Bytes -> string: valid UTF-8 as text, every other byte as its escape code point. Never loses a byte. */
export function decodeBytes(buf: Uint8Array): string {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let out = '';
  let run = 0; // start of the current run of valid UTF-8
  for (let i = 0; i < b.length; ) {
    if (b[i]! < 0x80) {
      i++;
      continue;
    }
    const n = seqLength(b, i);
    if (n > 0) {
      i += n;
      continue;
    }
    if (run < i) out += b.toString('utf8', run, i);
    out += String.fromCodePoint(ESCAPE_BASE + b[i]!);
    i++;
    run = i;
  }
  if (run < b.length) out += b.toString('utf8', run, b.length);
  return out;
}

const ESCAPES = /[\u{10FF80}-\u{10FFFF}]/u;
const ESCAPES_G = /[\u{10FF80}-\u{10FFFF}]+/gu;

/** String -> bytes: UTF-8, except that each escape code point becomes its one byte again. */
export function encodeText(s: string): Buffer {
  if (!ESCAPES.test(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let last = 0;
  for (const m of s.matchAll(ESCAPES_G)) {
    if (m.index > last) parts.push(Buffer.from(s.slice(last, m.index), 'utf8'));
    const raw: number[] = [];
    for (const ch of m[0]) raw.push(ch.codePointAt(0)! - ESCAPE_BASE);
    parts.push(Buffer.from(raw));
    last = m.index + m[0].length;
  }
  if (last < s.length) parts.push(Buffer.from(s.slice(last), 'utf8'));
  return Buffer.concat(parts);
}

/** Does the string hold escaped (non-UTF-8) bytes? */
export function hasEscapedBytes(s: string): boolean {
  return ESCAPES.test(s);
}

/** For display (diffs): each escaped byte as `\xNN`, the rest unchanged. */
export function showEscapes(s: string): string {
  return s.replace(ESCAPES_G, (m) => [...m].map((ch) => `\\x${(ch.codePointAt(0)! - ESCAPE_BASE).toString(16).padStart(2, '0')}`).join(''));
}
