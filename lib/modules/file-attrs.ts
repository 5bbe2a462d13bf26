/**
 * File attributes: mode normalisation, the stat a probe prints and its parse, and the comparison of wanted
 * attributes with a stat (the human changes and the script that makes them).
 */
import { quote } from 'shlex';
import { RunbookError } from '../errors.js';
import type { Frame } from './probe-frame.js';

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
