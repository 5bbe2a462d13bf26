/**
 * Host-name helpers shared by the inventory parsers, following Ansible:
 * - `shlexSplit`: Python's `shlex.split(line, comments=True)` (POSIX mode), used for INI host lines;
 * - `parseAddress`: split `host:port`, `[v6]:port`, leaving bare IPv6 addresses whole;
 * - `expandHostRange`: `web[01:10].x`, `db-[a:c]`, `n[0:10:2]`, nested ranges.
 */
import { isIPv6 } from 'node:net';
import { RunbookError } from '../errors.js';

export class HostNameError extends RunbookError {
  constructor(message: string) {
    super('host_name', message);
    this.name = 'HostNameError';
  }
}

/** Python `shlex.split(s, comments=True)`: POSIX quoting; `#` starts a comment even inside a word. */
export function shlexSplit(s: string): string[] {
  const out: string[] = [];
  let tok = '';
  let inTok = false;
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inTok) out.push(tok);
      tok = '';
      inTok = false;
      i++;
    } else if (c === '#') {
      break;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end === -1) throw new HostNameError('No closing quotation');
      tok += s.slice(i + 1, end);
      inTok = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= s.length) throw new HostNameError('No closing quotation');
        const d = s[i];
        if (d === '"') break;
        if (d === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\')) {
          tok += s[i + 1];
          i += 2;
          continue;
        }
        tok += d;
        i++;
      }
      i++;
      inTok = true;
    } else if (c === '\\') {
      if (i + 1 >= s.length) throw new HostNameError('No escaped character');
      tok += s[i + 1];
      inTok = true;
      i += 2;
    } else {
      tok += c;
      inTok = true;
      i++;
    }
  }
  if (inTok) out.push(tok);
  return out;
}

/** True for an IPv6 literal, optionally with a `%zone`. */
export function isIPv6Literal(s: string): boolean {
  const bare = s.replace(/%[\w.-]+$/, '');
  return bare.includes(':') && isIPv6(bare);
}

/**
 * Ansible's `parse_address(addr, allow_ranges=True)`: returns the host part (ranges kept) and an optional port.
 * Throws HostNameError when the text is no host name, address or range pattern.
 */
export function parseAddress(addr: string): { host: string; port?: number } {
  let host = addr;
  let port: number | undefined;
  const br = /^\[(.+)\]:(\d+)$/.exec(addr);
  const hp = /^((?:[^:[\]]|\[[^\]]*\])*):(\d+)$/.exec(addr);
  if (br && isIPv6Literal(br[1])) {
    host = br[1];
    port = Number(br[2]);
  } else if (hp) {
    host = hp[1];
    port = Number(hp[2]);
  }
  if (port !== undefined && (port < 0 || port > 65535)) throw new HostNameError(`port out of range: ${port}`);
  if (isIPv6Literal(host)) return { host, port };
  // hostname or IPv4, each label possibly holding [x:y] ranges
  if (!host || !/^(?:[^\s:[\]]|\[[0-9a-zA-Z]*:[0-9a-zA-Z]+(?::\d+)?\])+$/.test(host)) {
    throw new HostNameError(`not a valid host name or address: ${addr}`);
  }
  return { host, port };
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Expand `[beg:end]` / `[beg:end:step]` ranges (numeric with zero padding, or single letters). */
export function expandHostRange(pattern: string): string[] {
  const open = pattern.indexOf('[');
  if (open === -1) return [pattern];
  const close = pattern.indexOf(']', open);
  if (close === -1) throw new HostNameError(`unclosed "[" in host range: ${pattern}`);
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  const bounds = pattern.slice(open + 1, close).split(':');
  if (bounds.length !== 2 && bounds.length !== 3) throw new HostNameError('host range must be begin:end or begin:end:step');
  const beg = bounds[0] || '0';
  const end = bounds[1];
  const stepText = bounds[2] ?? '1';
  if (!end) throw new HostNameError('host range must specify end value');
  if (!/^\d+$/.test(stepText) || Number(stepText) < 1) throw new HostNameError(`bad host range step: ${stepText}`);
  const step = Number(stepText);
  let seq: string[];
  const ib = beg.length === 1 ? LETTERS.indexOf(beg) : -1;
  const ie = end.length === 1 ? LETTERS.indexOf(end) : -1;
  if (ib !== -1 && ie !== -1) {
    if (ib > ie) throw new HostNameError('host range must have begin <= end');
    seq = [];
    for (let i = ib; i <= ie; i += step) seq.push(LETTERS[i]);
  } else {
    if (!/^\d+$/.test(beg) || !/^\d+$/.test(end)) throw new HostNameError(`bad host range [${bounds.join(':')}]`);
    const pad = beg.length > 1 && beg[0] === '0' ? beg.length : 0;
    if (pad && pad !== end.length) throw new HostNameError('host range must specify equal-length begin and end formats');
    const b = Number(beg);
    const e = Number(end);
    if (e - b > 100000) throw new HostNameError('host range too large');
    seq = [];
    for (let i = b; i <= e; i += step) seq.push(pad ? String(i).padStart(pad, '0') : String(i));
  }
  const out: string[] = [];
  for (const s of seq) out.push(...expandHostRange(head + s + tail));
  return out;
}

/** Ansible's host-key handling in YAML and INI inventories: parse `name[:port]`, then expand ranges. */
export function expandHostPattern(text: string): { hosts: string[]; port?: number } {
  let host = text;
  let port: number | undefined;
  try {
    ({ host, port } = parseAddress(text));
  } catch {
    // Ansible keeps an unrecognisable pattern as the name itself.
  }
  const hosts = host.includes('[') && !isIPv6Literal(host) ? expandHostRange(host) : [host];
  return { hosts, port };
}
