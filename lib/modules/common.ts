/**
 * Helpers shared by the core file/command modules: mode normalisation, probe-output framing, stat parsing,
 * sha1, attribute comparison and the scripts that fix attributes.
 *
 * Probe framing (PRELUDE): NUL-terminated `key=value` records printed by the printf builtin, file content as one
 * base64 section, an `end` record last; a missing end record means the probe died half-way: the plan fails instead
 * of guessing. Values are decoded on the controller, never interpreted by a shell.
 */
import { createHash } from 'node:crypto';
import { quote } from 'shlex';
import { RunbookError } from '../errors.js';
import type { ExecResult } from '../connection/types.js';
import type { FileDiff, Step } from './types.js';
import { decodeBytes, hasEscapedBytes, showEscapes } from './bytes.js';

export { quote };

/** Largest file whose content a probe sends back (for diffs and line edits). */
export const CONTENT_LIMIT = 1024 * 1024;

// ---------------------------------------------------------------------------------------------------------------
// schema fragments

export const MODE_SCHEMA = { type: ['string', 'integer'] } as const;
export const FILE_ATTR_SCHEMA = {
  mode: MODE_SCHEMA,
  owner: { type: 'string', minLength: 1 },
  group: { type: 'string', minLength: 1 },
} as const;

/** The three names every core module answers to. */
export function namesFor(short: string): string[] {
  return [`ansible.builtin.${short}`, `ansible.legacy.${short}`];
}

// ---------------------------------------------------------------------------------------------------------------
// modes

/**
 * Normalise a `mode:` argument to four octal digits ('0644', '1777').
 * A number is the value YAML 1.1 gave an octal literal (0644 -> 420), so it is spelled in octal: 420 -> '0644'.
 * A string is read as octal ('644', '0644', '01777'). Symbolic modes are refused with a clear message.
 */
export function normaliseMode(value: unknown, arg = 'mode'): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 0o7777) {
      throw new RunbookError('bad_argument', `${arg}: ${value} is not a valid file mode (0 to 0o7777)`);
    }
    return value.toString(8).padStart(4, '0');
  }
  if (typeof value === 'string') {
    const s = value.trim();
    if (/^0o[0-7]{1,4}$/i.test(s)) return normaliseMode(parseInt(s.slice(2), 8), arg);
    if (/^[0-7]{1,5}$/.test(s)) {
      const n = parseInt(s, 8);
      if (n > 0o7777) throw new RunbookError('bad_argument', `${arg}: '${value}' is not a valid file mode`);
      return n.toString(8).padStart(4, '0');
    }
    if (/^([ugoa]*[-+=][rwxXstugo]*)(,[ugoa]*[-+=][rwxXstugo]*)*$/.test(s)) {
      throw new RunbookError(
        'bad_argument',
        `${arg}: symbolic modes such as '${value}' are not supported yet; give an octal mode as a quoted string, e.g. '0644'`,
      );
    }
    throw new RunbookError('bad_argument', `${arg}: '${value}' is not a valid file mode; give an octal mode such as '0644'`);
  }
  throw new RunbookError('bad_argument', `${arg}: expected an octal mode string such as '0644'`);
}

/** Permission bits of a raw st_mode as four octal digits. */
export function modeBits(stMode: number): string {
  return (stMode & 0o7777).toString(8).padStart(4, '0');
}

// ---------------------------------------------------------------------------------------------------------------
// probe framing

/**
 * Shell prelude of every probe (put it first): the framing functions, then the frame's start mark (a NUL byte).
 *
 * The wire format costs no process per value: a record is `KEY=VALUE` + NUL, printed by the `printf` builtin (a
 * shell value can hold any byte but NUL, so the NUL ends it unambiguously, spaces and newlines included), or
 * `KEY:BASE64` + NUL for a file's bytes (`kvfile`: ONE `base64` process per file; binary-safe). Output before the
 * start mark (e.g. a login shell's banner) is ignored. The probe ends with `end=ok`: a probe that died half-way or
 * whose output was cut has no end record, and the plan fails instead of guessing.
 *
 * Helpers that fork nothing: `rb_uid` sets $_uid to the effective uid (from /proc/self/status; `id -u` where there
 * is no /proc), `rb_dirname PATH` sets $_d to dirname(PATH) (POSIX dirname(1) rules, names with newlines intact).
 */
export const PRELUDE = [
  `kv() { printf '%s=%s\\0' "$1" "$2"; }`,
  // kvfile KEY FILE: the file's bytes (read from stdin so odd names never reach another tool's output); a file that
  // cannot be read unsets KEY again instead of leaving a partial value
  `kvfile() { printf '%s:' "$1"; if base64 < "$2"; then printf '\\0'; else printf '\\0'; printf 'rb_unset=%s\\0' "$1"; fi; }`,
  `rb_uid() { _uid=; while read -r _k _a _b _c; do if [ "$_k" = Uid: ]; then _uid=$_b; break; fi; done 2>/dev/null </proc/self/status; [ -n "$_uid" ] || _uid=$(id -u); }`,
  `rb_dirname() { _d=$1; case $_d in *[!/]*) ;; '') _d=.; return;; *) _d=/; return;; esac; ` +
    `while :; do case $_d in */) _d=\${_d%/};; *) break;; esac; done; ` +
    `case $_d in */*) _d=\${_d%/*}; while :; do case $_d in */) _d=\${_d%/};; *) break;; esac; done; [ -n "$_d" ] || _d=/;; *) _d=.;; esac; }`,
  `printf '\\0'`,
].join('\n');

export const EPILOGUE = `kv end ok`;

/** The framed output a probe prints for these values (strings as `KEY=VALUE`, buffers as file content). For tests and tools. */
export function formatFrame(values: Record<string, string | Buffer>, end = true): string {
  const recs = Object.entries(values).map(([k, v]) => (typeof v === 'string' ? `${k}=${v}\0` : `${k}:${v.toString('base64')}\0`));
  return `\0${recs.join('')}${end ? 'end=ok\0' : ''}`;
}

interface RawValue {
  /** the record was `KEY:BASE64` (file content) */
  b64: boolean;
  v: string;
}

export class Frame {
  constructor(private readonly raw: Map<string, RawValue>) {}
  has(key: string): boolean {
    return this.raw.has(key);
  }
  /** a value as text; file content is decoded with decodeBytes (bytes that are not UTF-8 survive, see bytes.ts) */
  str(key: string): string | undefined {
    const r = this.raw.get(key);
    if (r === undefined) return undefined;
    return r.b64 ? decodeBytes(Buffer.from(r.v, 'base64')) : r.v;
  }
  buf(key: string): Buffer | undefined {
    const r = this.raw.get(key);
    if (r === undefined) return undefined;
    return r.b64 ? Buffer.from(r.v, 'base64') : Buffer.from(r.v, 'utf8');
  }
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parse framed probe output; returns an error message when the probe failed or its output is incomplete. */
export function parseFrame(r: ExecResult | null): Frame | { error: string } {
  if (!r) return { error: 'internal: the probe did not run' };
  const failed = (): { error: string } => {
    const why = r.stderr.trim() || r.stdout.replace(/\0/g, ' ').trim() || `exit code ${r.code}`;
    return { error: `probe failed (exit ${r.code}): ${why}` };
  };
  const start = r.stdout.indexOf('\0');
  if (r.code !== 0 || start < 0) return failed();
  const raw = new Map<string, RawValue>();
  const recs = r.stdout.slice(start + 1).split('\0');
  const rest = recs.pop(); // text after the last NUL: '' unless the output was cut inside a record
  for (const rec of recs) {
    const m = /[=:]/.exec(rec);
    const key = m ? rec.slice(0, m.index) : '';
    if (!m || !KEY.test(key)) {
      return { error: `probe output is not framed (a probe printed something of its own): ${JSON.stringify(rec.slice(0, 120))}` };
    }
    const v = rec.slice(m.index + 1);
    if (key === 'rb_unset') raw.delete(v);
    else raw.set(key, { b64: m[0] === ':', v });
  }
  const frame = new Frame(raw);
  if (rest !== '' || frame.str('end') !== 'ok') return failed();
  return frame;
}

export function isFrameError(f: Frame | { error: string }): f is { error: string } {
  return !(f instanceof Frame);
}

// ---------------------------------------------------------------------------------------------------------------
// stat

export type FileType = 'absent' | 'file' | 'directory' | 'link' | 'fifo' | 'socket' | 'char' | 'block' | 'other';

export interface FileStat {
  type: FileType;
  /** four octal digits ('' when absent) */
  mode: string;
  uid: number;
  gid: number;
  owner: string;
  group: string;
  size: number;
  mtime: number;
  atime: number;
  ctime: number;
  inode: number;
  dev: number;
  nlink: number;
  /** symlink target (only when type is link) */
  target?: string;
}

/**
 * Shell snippet: stat of the path in variable $VAR, printed under keys PREFIX_* (raw, owner, group, target), with
 * ONE `stat` process (owner and group names cannot contain ':', the separator); also sets the shell variable
 * $PREFIX_sz to the size in bytes ('' when absent) for later decisions in the same probe.
 * follow=true stats what a symlink points to (and a dangling link is absent).
 */
export function statShell(prefix: string, variable: string, follow: boolean): string {
  const L = follow ? '-L ' : '';
  const v = `"$${variable}"`;
  const exists = follow ? `[ -e ${v} ]` : `{ [ -e ${v} ] || [ -L ${v} ]; }`;
  return [
    `${prefix}_sz=`,
    `if ${exists}; then`,
    `  _st=$(stat ${L}-c '%f %u %g %s %Y %X %Z %i %d %h:%U:%G' -- ${v})`,
    `  _r=\${_st%%:*}; _st=\${_st#"$_r"}; _st=\${_st#:}; kv ${prefix}_raw "$_r"; kv ${prefix}_owner "\${_st%%:*}"; kv ${prefix}_group "\${_st#*:}"`,
    `  _r=\${_r#* * * }; ${prefix}_sz=\${_r%% *}`,
    follow ? '' : `  if [ -L ${v} ]; then _t=$(readlink -- ${v}; echo x); _t=\${_t%?}; kv ${prefix}_target "\${_t%?}"; fi`,
    `else`,
    `  kv ${prefix}_raw absent`,
    `fi`,
  ]
    .filter(Boolean)
    .join('\n');
}

export function typeOf(stMode: number): FileType {
  switch (stMode & 0o170000) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'directory';
    case 0o120000:
      return 'link';
    case 0o010000:
      return 'fifo';
    case 0o140000:
      return 'socket';
    case 0o020000:
      return 'char';
    case 0o060000:
      return 'block';
    default:
      return 'other';
  }
}

export function parseStat(frame: Frame, prefix: string): FileStat {
  const raw = frame.str(`${prefix}_raw`);
  if (raw === undefined) throw new RunbookError('internal', `probe output lacks ${prefix}_raw`);
  const absent: FileStat = {
    type: 'absent', mode: '', uid: -1, gid: -1, owner: '', group: '', size: 0, mtime: 0, atime: 0, ctime: 0, inode: 0, dev: 0, nlink: 0,
  };
  if (raw === 'absent') return absent;
  const f = raw.trim().split(/\s+/);
  if (f.length < 10 || !/^[0-9a-fA-F]+$/.test(f[0]!)) throw new RunbookError('internal', `cannot parse stat output: ${raw}`);
  const stMode = parseInt(f[0]!, 16);
  const n = (i: number): number => Number(f[i]);
  const st: FileStat = {
    type: typeOf(stMode),
    mode: modeBits(stMode),
    uid: n(1),
    gid: n(2),
    size: n(3),
    mtime: n(4),
    atime: n(5),
    ctime: n(6),
    inode: n(7),
    dev: n(8),
    nlink: n(9),
    owner: frame.str(`${prefix}_owner`) ?? '',
    group: frame.str(`${prefix}_group`) ?? '',
  };
  const target = frame.str(`${prefix}_target`);
  if (st.type === 'link' && target !== undefined) st.target = target;
  return st;
}

// ---------------------------------------------------------------------------------------------------------------
// attributes

export interface WantedAttrs {
  mode?: string;
  owner?: string;
  group?: string;
}

/** Does `want` (a name or a numeric id) name the same account as (name, id)? */
export function sameAccount(want: string, name: string, id: number): boolean {
  return want === name || (/^\d+$/.test(want) && Number(want) === id);
}

/**
 * Compare wanted attributes with a stat; returns the human changes ("mode 0600 -> 0644") and the script that
 * makes them (null when nothing differs). `noDeref` changes a symlink itself (chown -h).
 */
export function attrChanges(path: string, want: WantedAttrs, cur: FileStat, noDeref = false): { changes: string[]; script: string | null } {
  const changes: string[] = [];
  const cmds: string[] = [];
  const q = quote(path);
  if (want.owner !== undefined && !sameAccount(want.owner, cur.owner, cur.uid)) {
    changes.push(`owner ${cur.owner || cur.uid} -> ${want.owner}`);
    cmds.push(`chown ${noDeref ? '-h ' : ''}${quote(want.owner)} -- ${q}`);
  }
  if (want.group !== undefined && !sameAccount(want.group, cur.group, cur.gid)) {
    changes.push(`group ${cur.group || cur.gid} -> ${want.group}`);
    cmds.push(`chgrp ${noDeref ? '-h ' : ''}${quote(want.group)} -- ${q}`);
  }
  // chmod after chown: chown clears the setuid/setgid bits of a file (even for root), so when the owner or group
  // changes, a mode with those bits is set again, wanted or kept
  if (want.mode !== undefined && want.mode !== cur.mode) {
    changes.push(`mode ${cur.mode} -> ${want.mode}`);
    cmds.push(chmodCmd(want.mode, q, cur.type === 'directory' && hasSetId(cur.mode)));
  } else if (cmds.length && !noDeref && cur.type !== 'link' && hasSetId(want.mode ?? cur.mode)) {
    cmds.push(chmodCmd(want.mode ?? cur.mode, q, false));
  }
  return { changes, script: cmds.length ? cmds.join(' && ') : null };
}

/** does an octal mode string have the setuid or setgid bit */
function hasSetId(mode: string): boolean {
  return /^[0-7]+$/.test(mode) && (parseInt(mode, 8) & 0o6000) !== 0;
}

/**
 * `chmod MODE -- PATH`. `exact`: the octal mode as 5 digits (00755), which GNU chmod applies whole to a directory;
 * with 3 or 4 digits it keeps a directory's setuid/setgid bits, so 0755 on a 2755 directory would leave 2755 and
 * every run would report the change again.
 */
export function chmodCmd(mode: string, quotedPath: string, exact: boolean): string {
  const m = exact && /^[0-7]{1,5}$/.test(mode) ? (parseInt(mode, 8) & 0o7777).toString(8).padStart(5, '0') : quote(mode);
  return `chmod ${m} -- ${quotedPath}`;
}

/** Script for the attributes of a path just created (nothing compared: everything given is applied). */
export function attrScript(path: string, want: WantedAttrs, noDeref = false): string[] {
  const q = quote(path);
  const cmds: string[] = [];
  if (want.owner !== undefined) cmds.push(`chown ${noDeref ? '-h ' : ''}${quote(want.owner)} -- ${q}`);
  if (want.group !== undefined) cmds.push(`chgrp ${noDeref ? '-h ' : ''}${quote(want.group)} -- ${q}`);
  if (want.mode !== undefined) cmds.push(chmodCmd(want.mode, q, false));
  return cmds;
}

/** Pick the file attribute params (mode normalised) out of raw params. */
export function wantedAttrs(params: Record<string, unknown>): WantedAttrs {
  const w: WantedAttrs = {};
  const mode = normaliseMode(params.mode);
  if (mode !== undefined) w.mode = mode;
  if (typeof params.owner === 'string') w.owner = params.owner;
  if (typeof params.group === 'string') w.group = params.group;
  return w;
}

// ---------------------------------------------------------------------------------------------------------------
// content

export function sha1(data: Buffer | string): string {
  return createHash('sha1').update(data).digest('hex');
}

/**
 * Text for a diff side, or a placeholder for binary content. Text that is mostly UTF-8 with a few other bytes (a
 * Latin-1 file) is shown with those bytes as `\xNN`; content with NUL bytes or mostly non-UTF-8 bytes is binary.
 */
export function diffText(data: Buffer | undefined, sha: string | undefined): string {
  if (data === undefined) return sha ? `(content not fetched: larger than ${CONTENT_LIMIT} bytes, sha1 ${sha})\n` : '';
  if (data.includes(0)) return `(binary content, sha1 ${sha1(data)})\n`;
  const text = decodeBytes(data);
  if (!hasEscapedBytes(text)) return text;
  const shown = showEscapes(text);
  // an escaped byte is 2 UTF-16 units in text and 4 characters shown: more than 1 byte in 10 escaped is binary
  const escaped = (shown.length - text.length) / 2;
  if (escaped * 10 > data.length) return `(binary content, sha1 ${sha1(data)})\n`;
  return shown;
}

export function contentDiff(label: string, before: Buffer | undefined, beforeSha: string | undefined, after: Buffer): FileDiff {
  return { label, before: diffText(before, beforeSha), after: diffText(after, sha1(after)) };
}

/**
 * The steps that write an edited file whole (lineinfile, blockinfile, replace): `mkdir -p` of a missing parent, then
 * an atomic write that keeps the existing file's mode (and, as root, its owner and group) unless `want` says
 * otherwise. `changes` lists the attribute changes for the plan's reason.
 */
export function wholeFileWrite(path: string, after: Buffer, want: WantedAttrs, cur: FileStat, frame: Frame): { steps: Step[]; changes: string[] } {
  const steps: Step[] = [];
  const exists = cur.type === 'file';
  if (!exists && frame.str('parent') !== '1') {
    const parent = dirnameOf(path);
    steps.push({ kind: 'run', script: `mkdir -p -- ${quote(parent)}`, describe: `create directory ${parent}` });
  }
  const write: Step = { kind: 'write', path, content: after, describe: `write ${path}` };
  let changes: string[] = [];
  if (exists) {
    const root = frame.str('uid') === '0';
    write.mode = want.mode ?? cur.mode;
    const owner = want.owner ?? (root ? String(cur.uid) : undefined);
    const group = want.group ?? (root ? String(cur.gid) : undefined);
    if (owner !== undefined) write.owner = owner;
    if (group !== undefined) write.group = group;
    changes = attrChanges(path, want, cur).changes;
  } else {
    Object.assign(write, want);
  }
  steps.push(write);
  return { steps, changes };
}

export function dirnameOf(path: string): string {
  const p = path.replace(/\/+$/, '');
  const i = p.lastIndexOf('/');
  if (i < 0) return '.';
  if (i === 0) return '/';
  return p.slice(0, i);
}

export function basenameOf(path: string): string {
  const p = path.replace(/\/+$/, '');
  return p.slice(p.lastIndexOf('/') + 1);
}

/** Split output into lines like Python's splitlines() for *_lines results. */
export function splitLines(s: string): string[] {
  if (s === '') return [];
  const lines = s.split(/\r\n|\n|\r/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export function badArg(msg: string): RunbookError {
  return new RunbookError('bad_argument', msg);
}
