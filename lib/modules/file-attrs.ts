/**
 * File attributes: mode normalisation, the stat a probe prints and its parse, and the comparison of wanted
 * attributes with a stat (the human changes and the script that makes them).
 */
import { quote } from 'shlex';
import { RunbookError } from '../errors.js';
import { STAT_DECL, STAT_FORMAT } from '../connection/scripts.js';
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
    // a symbolic mode (u+rwx,go-w, a=r, u=rwX) stays symbolic: what it means depends on the current mode, so the
    // plan resolves it against the stat the probe saw (resolveMode), as Ansible's _symbolic_mode_to_octal does
    if (isSymbolicMode(s)) return s;
    throw new RunbookError('bad_argument', `${arg}: '${value}' is not a valid file mode; give an octal mode such as '0644'`);
  }
  throw new RunbookError('bad_argument', `${arg}: expected an octal mode string such as '0644'`);
}

/** Ansible's symbolic mode syntax: comma-separated `[ugoa]*([-+=][rwxXstugo]*)+` clauses. */
export function isSymbolicMode(mode: string): boolean {
  return /^[ugoa]*([-+=][rwxXstugo]*)+(,[ugoa]*([-+=][rwxXstugo]*)+)*$/.test(mode);
}

/** The umask a probe did not report (the usual one of a login shell). */
export const DEFAULT_UMASK = 0o022;

/**
 * Resolve a wanted mode (four octal digits, or symbolic) against the mode a path has now, exactly as Ansible's
 * AnsibleModule._symbolic_mode_to_octal does: clauses apply in order; `X` and the u/g/o copy sources read the
 * ORIGINAL mode (not the one built so far); an empty `who` means `a` with the umask's bits left alone; `=` clears
 * the class's rwx and its setuid/setgid/sticky bit. `cur` is the current mode (octal string) and whether it is a
 * directory; a path about to be created starts from 0666 (file) or 0777 (directory) minus the umask.
 */
export function resolveMode(mode: string, cur: { mode: string; directory: boolean }, umask = DEFAULT_UMASK): string {
  if (!isSymbolicMode(mode)) return mode;
  const prev = parseInt(cur.mode || '0', 8) & 0o7777;
  let out = prev;
  const rev = umask ^ 0o7777;
  const applyX = cur.directory || (prev & 0o111) !== 0;
  const S = { u: { s: 0o4000, t: 0, x: 0o100, w: 0o200, r: 0o400, shift: 6 }, g: { s: 0o2000, t: 0, x: 0o010, w: 0o020, r: 0o040, shift: 3 }, o: { s: 0, t: 0o1000, x: 0o001, w: 0o002, r: 0o004, shift: 0 } } as const;
  const MASK = { u: 0o4700, g: 0o2070, o: 0o1007 } as const;
  for (const clause of mode.split(',')) {
    const m = /^([ugoa]*)(.*)$/.exec(clause)!;
    let users = m[1]!;
    const useUmask = users === '';
    if (users === 'a' || users === '') users = 'ugo';
    const ops = [...m[2]!.matchAll(/([-+=])([rwxXstugo]*)/g)];
    for (const [, op, perms] of ops) {
      for (const u of users as Iterable<'u' | 'g' | 'o'>) {
        if (u !== 'u' && u !== 'g' && u !== 'o') continue; // 'a' inside e.g. 'ua' is not Ansible syntax; skip it
        const c = S[u];
        let bits = 0;
        for (const ch of perms!) {
          if (ch === 'r' || ch === 'w' || ch === 'x') bits |= useUmask ? rev & c[ch] : c[ch];
          else if (ch === 's') bits |= c.s;
          else if (ch === 't') bits |= c.t;
          else if (ch === 'X') bits |= applyX ? c.x : 0;
          else {
            // copy another class's bits (from the original mode) into this class
            const from = S[ch as 'u' | 'g' | 'o'];
            bits |= (((prev >> from.shift) & 0o7) << c.shift);
          }
        }
        if (op === '=') out = (out & (MASK[u] ^ 0o7777)) | bits;
        else if (op === '+') out |= bits;
        else out &= ~bits;
      }
    }
  }
  return (out & 0o7777).toString(8).padStart(4, '0');
}

/** The wanted attributes with a symbolic mode resolved against the stat (absent: the mode a new path starts with). */
export function resolveWanted(want: WantedAttrs, cur: FileStat, umask = DEFAULT_UMASK, createAs: 'file' | 'directory' = 'file'): WantedAttrs {
  if (want.mode === undefined || !isSymbolicMode(want.mode)) return want;
  const base = cur.type === 'absent' ? { mode: ((createAs === 'directory' ? 0o777 : 0o666) & ~umask).toString(8), directory: createAs === 'directory' } : { mode: cur.mode, directory: cur.type === 'directory' };
  return { ...want, mode: resolveMode(want.mode, base, umask) };
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
export function statShell(prefix: string, variable: string, follow: boolean, literal?: string): string {
  const L = follow ? '-L ' : '';
  const v = `"$${variable}"`;
  const exists = follow ? `[ -e ${v} ]` : `{ [ -e ${v} ] || [ -L ${v} ]; }`;
  // literal: the path the variable holds, declared for the batch's one stat of all its probes' paths
  // (lib/connection/scripts.ts, STAT_DECL): the record it prefetched is used when the variable still names it
  const prefetched = literal !== undefined && !follow;
  return [
    prefetched ? `${STAT_DECL} ${quote(literal)}` : '',
    `${prefix}_sz=`,
    `if ${exists}; then`,
    prefetched
      ? `  if [ -n "\${_rbpf-}" ] && rb_pf ${v}; then :; else _st=$(stat -c '${STAT_FORMAT}' -- ${v}); fi`
      : `  _st=$(stat ${L}-c '${STAT_FORMAT}' -- ${v})`,
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
