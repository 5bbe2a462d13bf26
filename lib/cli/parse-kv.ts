/**
 * Ansible's k=v argument strings (`-a` of ad hoc runs), by Ansible's own rules: ansible.parsing.splitter's
 * split_args (whitespace split, re-joined inside quotes and {{ }} / {% %} / {# #} blocks, newlines kept, a lone
 * backslash continues a line) and parse_kv (escapes such as \n, \t, \", \\, \xHH, \uHHHH decoded in every word, the
 * first unescaped "=" splits key and value, one pair of surrounding quotes removed, the other words joined as
 * _raw_params; with checkRaw, only the command/shell options are taken as keys). test/habits-adhoc.test.ts checks it
 * against Ansible's results on a table of cases (test/fixtures/golden/parse-kv.json).
 */
import { RunbookError } from '../errors.js';

export class KvParseError extends RunbookError {
  constructor(message: string) {
    super('kv_parse', message);
    this.name = 'KvParseError';
  }
}

/** The command/shell options parse_kv takes as key=value when the rest is free-form (check_raw). */
export const RAW_OPTIONS = ['creates', 'removes', 'chdir', 'executable', 'warn', 'stdin', 'stdin_add_newline', 'strip_empty_ends'];

const ESCAPE_RE = /\\U[0-9a-fA-F]{8}|\\u[0-9a-fA-F]{4}|\\x[0-9a-fA-F]{2}|\\N\{[^}]+\}|\\[\\'"abfnrtv]/g;
const SINGLE: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** Python's codecs 'unicode-escape' on each escape sequence (\N{NAME} is left as written: no name table here). */
function decodeEscapes(s: string): string {
  return s.replace(ESCAPE_RE, (m) => {
    const k = m[1]!;
    if (k === 'U' || k === 'u' || k === 'x') {
      const cp = parseInt(m.slice(2), 16);
      if (cp > 0x10ffff) throw new KvParseError(`invalid escape ${m}`);
      return String.fromCodePoint(cp);
    }
    if (k === 'N') return m;
    return SINGLE[k]!;
  });
}

function quoteState(token: string, quote: string | undefined): string | undefined {
  for (let i = 0; i < token.length; i++) {
    const ch = token[i]!;
    const prev = i > 0 ? token[i - 1] : undefined;
    if ((ch === '"' || ch === "'") && prev !== '\\') {
      if (quote) {
        if (ch === quote) quote = undefined;
      } else quote = ch;
    }
  }
  return quote;
}

function count(s: string, sub: string): number {
  let n = 0;
  for (let i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length)) n++;
  return n;
}

function depth(token: string, cur: number, open: string, close: string): number {
  const o = count(token, open);
  const c = count(token, close);
  if (o !== c) cur = Math.max(0, cur + o - c);
  return cur;
}

/** split_args: the words of an argument string, quotes and template blocks kept whole. */
export function splitArgs(args: string): string[] {
  const params: string[] = [];
  const items = args.split('\n');
  let quote: string | undefined;
  let inside = false;
  let print = 0;
  let block = 0;
  let comment = 0;
  const last = () => {
    if (!params.length) throw new KvParseError('Unable to parse argument string');
    return params.length - 1;
  };
  for (let itemIdx = 0; itemIdx < items.length; itemIdx++) {
    const tokens = items[itemIdx]!.split(' ');
    let continuation = false;
    for (let idx = 0; idx < tokens.length; idx++) {
      const token = tokens[idx]!;
      if (token.length === 0 && idx !== 0) {
        params[last()] += ' ';
        continue;
      }
      if (token === '\\' && !inside) {
        continuation = true;
        continue;
      }
      const wasInside = inside;
      quote = quoteState(token, quote);
      inside = quote !== undefined;
      let appended = false;
      const inBlock = print || block || comment;
      if (inside && !wasInside && !inBlock) {
        params.push(token);
        appended = true;
      } else if (inBlock || inside || wasInside) {
        const l = last();
        if (idx === 0 && wasInside) params[l] += token;
        else if (tokens.length > 1) params[l] += (idx > 0 ? ' ' : '') + token;
        else params[l] += '\n' + token;
        appended = true;
      }
      const p0 = print;
      print = depth(token, print, '{{', '}}');
      if (print !== p0 && !appended) {
        params.push(token);
        appended = true;
      }
      const b0 = block;
      block = depth(token, block, '{%', '%}');
      if (block !== b0 && !appended) {
        params.push(token);
        appended = true;
      }
      const c0 = comment;
      comment = depth(token, comment, '{#', '#}');
      if (comment !== c0 && !appended) {
        params.push(token);
        appended = true;
      }
      if (!(print || block || comment) && !inside && !appended && token !== '') params.push(token);
    }
    if (items.length > 1 && itemIdx !== items.length - 1 && !continuation) params[last()] += '\n';
  }
  if (print || block || comment || inside) throw new KvParseError(`failed at splitting arguments, either an unbalanced jinja2 block or quotes: ${args}`);
  return params;
}

function unquote(s: string): string {
  const quoted = s.length > 1 && s[0] === s[s.length - 1] && (s[0] === '"' || s[0] === "'") && s[s.length - 2] !== '\\';
  return quoted ? s.slice(1, -1) : s;
}

/** Python's str.strip() whitespace */
function pyStrip(s: string): string {
  return s.replace(/^[\s\x1c-\x1f\x85]+|[\s\x1c-\x1f\x85]+$/g, '');
}

function joinArgs(words: string[]): string {
  let out = '';
  for (const w of words) out += out.length === 0 || out.endsWith('\n') ? w : ' ' + w;
  return out;
}

/** parse_kv(args, check_raw): key/value options, and the free words as _raw_params. Throws KvParseError. */
export function parseKv(args: string, checkRaw = false): Record<string, string> {
  const options: Record<string, string> = {};
  const raw: string[] = [];
  for (const orig of splitArgs(args)) {
    const x = decodeEscapes(orig);
    if (!x.includes('=')) {
      raw.push(orig);
      continue;
    }
    let pos = 0;
    let found = false;
    for (;;) {
      pos = x.indexOf('=', pos + 1);
      if (pos < 0) break;
      if (x[pos - 1] !== '\\') {
        found = true;
        break;
      }
    }
    if (!found) {
      raw.push(x.replace(/\\=/g, '='));
      continue;
    }
    const k = x.slice(0, pos);
    const v = x.slice(pos + 1);
    if (checkRaw && !RAW_OPTIONS.includes(k)) raw.push(orig);
    else options[pyStrip(k)] = unquote(pyStrip(v));
  }
  if (raw.length) options['_raw_params'] = joinArgs(raw);
  return options;
}
