/**
 * unarchive (ansible.builtin.unarchive): unpack a tar (plain, gz, bz2, xz, zst: whatever the host's GNU tar and
 * its compressors read) or zip archive into an existing directory `dest`.
 *
 * The archive's members are listed (controller-side src: on the controller in prepare, `tar -tv` / `unzip -Z`;
 * remote_src: on the host by the probe). The probe (read-only) stats what is under dest for the archive's top-level
 * names (GNU find -printf) and checks `creates`, dest and the tools. The plan compares member by member as Ansible's
 * handlers do: a missing path, another type, another size, another mtime (tar; a newer file with keep_newer is
 * kept), another link target, another mode (as root, when no mode is given) and owner/group/mode when given; any
 * difference unpacks the archive (so check mode is exact). Zip members are compared by type and size (zip times
 * are local times without a zone). `creates` that exists short-circuits. A controller-side archive travels on the
 * step's stdin into a temp file on the host, removed afterwards. Returns dest, src, handler, and files with
 * list_files.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ExecResult } from '../connection/types.js';
import { RunbookError } from '../errors.js';
import { failPlan, failure, isProbeFailed, type ModuleContext, type ModuleDef, type Plan, type ProbeFailed, type Step } from './types.js';
import { EPILOGUE, FILE_ATTR_SCHEMA, PRELUDE, attrChanges, badArg, frameState, namesFor, quote, resolveWanted, wantedAttrs, type FileStat, type WantedAttrs } from './common.js';
import { fnmatch } from './find.js';

export type ArchiveFormat = 'tar' | 'gz' | 'bz2' | 'xz' | 'zst' | 'zip';

export interface Member {
  /** path relative to dest, no leading ./ or /, no trailing / */
  name: string;
  type: 'file' | 'directory' | 'link' | 'hardlink' | 'other';
  size: number;
  /** seconds since the epoch (tar; 0 for zip) */
  mtime: number;
  /** permission bits, four octal digits */
  mode: string;
  target?: string;
}

export interface UnarchiveParams {
  src: string;
  dest: string;
  remoteSrc: boolean;
  /** controller-side archive bytes, its format and members */
  content?: Buffer;
  format?: ArchiveFormat;
  members?: Member[];
  creates?: string;
  listFiles: boolean;
  exclude: string[];
  include: string[];
  keepNewer: boolean;
  extraOpts: string[];
  attrs: WantedAttrs;
}

export const unarchiveSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['src', 'dest'],
  properties: {
    src: { type: 'string', minLength: 1 },
    dest: { type: 'string', minLength: 1 },
    remote_src: { type: 'boolean' },
    copy: { type: 'boolean' },
    creates: { type: 'string' },
    list_files: { type: 'boolean' },
    exclude: { type: ['array', 'string'], items: { type: 'string' } },
    include: { type: ['array', 'string'], items: { type: 'string' } },
    keep_newer: { type: 'boolean' },
    extra_opts: { type: ['array', 'string'], items: { type: 'string' } },
    ...FILE_ATTR_SCHEMA,
  },
};

/** the format from the first bytes of the archive */
export function formatOf(head: Buffer): ArchiveFormat | undefined {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gz';
  if (head.subarray(0, 3).toString('latin1') === 'BZh') return 'bz2';
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zst';
  if (head.subarray(0, 2).toString('latin1') === 'PK') return 'zip';
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  return undefined;
}

const TOOL: Record<ArchiveFormat, string> = { tar: 'tar', gz: 'gzip', bz2: 'bzip2', xz: 'xz', zst: 'zstd', zip: 'unzip' };

/** GNU tar's escapes in listed names (\\, \n, \t, \ooo ...) */
function untarEscape(s: string): string {
  const bytes: number[] = [];
  const buf = Buffer.from(s, 'utf8');
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0x5c && i + 1 < buf.length) {
      const c = String.fromCharCode(buf[i + 1]!);
      const o = /^[0-7]{3}$/.exec(buf.subarray(i + 1, i + 4).toString('latin1'));
      if (o) { bytes.push(parseInt(o[0], 8)); i += 3; continue; }
      const map: Record<string, number> = { '\\': 0x5c, n: 10, t: 9, r: 13, f: 12, v: 11, a: 7, b: 8, '?': 0x7f };
      if (map[c] !== undefined) { bytes.push(map[c]!); i++; continue; }
    }
    bytes.push(buf[i]!);
  }
  return Buffer.from(bytes).toString('utf8');
}

const clean = (n: string) => n.replace(/^(?:\.?\/)+/, '').replace(/\/+$/, '');

/** `TZ=UTC0 tar -tv --full-time --numeric-owner` output -> members. Pure. */
export function parseTarListing(text: string): Member[] {
  const out: Member[] = [];
  for (const line of text.split('\n')) {
    const m = /^([-dlhcbpC])([-rwxsStT]{9})\S*\s+\d+\/\d+\s+(\d+|\d+,\s*\d+)\s+(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) (.*)$/.exec(line);
    if (!m) continue;
    let name = m[10]!;
    let target: string | undefined;
    const t = m[1]!;
    if (t === 'l' || t === 'h') {
      const sep = t === 'l' ? ' -> ' : ' link to ';
      const i = name.indexOf(sep);
      if (i >= 0) { target = untarEscape(name.slice(i + sep.length)); name = name.slice(0, i); }
    }
    name = clean(untarEscape(name));
    if (name === '' || name === '.') continue;
    const r = m[2]!;
    let bits = 0;
    [...r].forEach((c, i) => { if (c !== '-' && c !== 'S' && c !== 'T') bits |= 1 << (8 - i); });
    if (/[sS]/.test(r[2]!)) bits |= 0o4000;
    if (/[sS]/.test(r[5]!)) bits |= 0o2000;
    if (/[tT]/.test(r[8]!)) bits |= 0o1000;
    const mem: Member = {
      name,
      type: t === '-' ? 'file' : t === 'd' ? 'directory' : t === 'l' ? 'link' : t === 'h' ? 'hardlink' : 'other',
      size: /,/.test(m[3]!) ? 0 : Number(m[3]),
      mtime: Date.UTC(+m[4]!, +m[5]! - 1, +m[6]!, +m[7]!, +m[8]!, +m[9]!) / 1000,
      mode: bits.toString(8).padStart(4, '0'),
    };
    if (target !== undefined) mem.target = target;
    out.push(mem);
  }
  return out;
}

/** `unzip -Z -T` (zipinfo) output -> members. Pure. */
export function parseZipListing(text: string): Member[] {
  const out: Member[] = [];
  for (const line of text.split('\n')) {
    const m = /^([-dl?])([-rwxsStT]{9})\s+\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+\d{8}\.\d{6}\s(.*)$/.exec(line);
    if (!m) continue;
    const name = clean(m[4]!);
    if (name === '') continue;
    let bits = 0;
    [...m[2]!].forEach((c, i) => { if (c !== '-' && c !== 'S' && c !== 'T') bits |= 1 << (8 - i); });
    const isDir = m[1] === 'd' || m[4]!.endsWith('/');
    out.push({ name, type: isDir ? 'directory' : m[1] === 'l' ? 'link' : 'file', size: isDir ? 0 : Number(m[3]), mtime: 0, mode: (bits & 0o777).toString(8).padStart(4, '0') });
  }
  return out;
}

/** the listing command for an archive file (sh text; PATH is the quoted path) */
const listCmd = (format: ArchiveFormat, path: string) => (format === 'zip' ? `unzip -Z -T -- ${path}` : `TZ=UTC0 tar -tv --full-time --numeric-owner -f ${path}`);

const strs = (v: unknown): string[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v.map(String) : String(v).split(',').map((s) => s.trim()).filter(Boolean));

export function prepareUnarchive(raw: Record<string, unknown>, ctx: ModuleContext): UnarchiveParams {
  if (raw.copy !== undefined && raw.remote_src !== undefined) throw badArg('unarchive: parameters are mutually exclusive: copy|remote_src');
  const remoteSrc = raw.remote_src === true || raw.copy === false;
  const src = String(raw.src);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(src)) throw badArg(`unarchive: a URL src (${src}) is not supported by runbook yet; download it with get_url first`);
  const p: UnarchiveParams = {
    src,
    dest: String(raw.dest),
    remoteSrc,
    listFiles: raw.list_files === true,
    exclude: strs(raw.exclude),
    include: strs(raw.include),
    keepNewer: raw.keep_newer === true,
    extraOpts: strs(raw.extra_opts),
    attrs: wantedAttrs(raw),
  };
  if (typeof raw.creates === 'string' && raw.creates) p.creates = raw.creates;
  if (p.include.length && p.exclude.length) throw badArg('unarchive: parameters are mutually exclusive: exclude|include');
  if (!remoteSrc) {
    const found = ctx.findFile('files', src);
    if (!found) throw new RunbookError('missing_file', `unarchive: Source '${src}' not found (looked in the role's files/ and the playbook directory)`);
    let content: Buffer;
    try {
      content = readFileSync(found);
    } catch (e) {
      throw new RunbookError('missing_file', `unarchive: cannot read src '${src}' (${found}): ${(e as Error).message}`);
    }
    const format = formatOf(content.subarray(0, 512));
    if (!format) throw badArg(`unarchive: Failed to find handler for "${src}": not a tar (gz, bz2, xz, zst) or zip archive`);
    let listing: string;
    try {
      listing = format === 'zip'
        ? execFileSync('unzip', ['-Z', '-T', '--', found], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 })
        : execFileSync('tar', ['-tv', '--full-time', '--numeric-owner', '-f', found], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC0' }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
    } catch (e) {
      throw badArg(`unarchive: cannot list ${src} on the controller (${TOOL[format]}): ${(e as Error).message.split('\n')[0]}`);
    }
    p.content = content;
    p.format = format;
    p.members = format === 'zip' ? parseZipListing(listing) : parseTarListing(listing);
  }
  return p;
}

const FMT = '%y\\t%s\\t%T@\\t%m\\t%U\\t%G\\t%u\\t%g\\t%P\\t%l\\0';

export function unarchiveScript(p: UnarchiveParams): string {
  const lines = [PRELUDE, `d=${quote(p.dest)}`];
  if (p.creates !== undefined) lines.push(`if [ -e ${quote(p.creates)} ]; then kv creates 1; kv end ok; exit 0; fi`);
  lines.push(`if [ -d "$d" ]; then kv destdir 1; elif [ -e "$d" ]; then kv destexists 1; fi`);
  lines.push(`rb_uid; kv uid "$_uid"`);
  lines.push(`for t in tar gzip bzip2 xz zstd unzip; do command -v "$t" >/dev/null 2>&1 && kv "has_$t" 1; done`);
  // walk dest below the archive's top-level names only
  lines.push(`walk() { [ -e "$d/$1" ] || [ -L "$d/$1" ] || return 0; printf 'walk:'; find "$d/$1" -printf "%H\\t${FMT}" 2>/dev/null | base64; printf '\\0'; }`);
  if (p.remoteSrc) {
    lines.push(`s=${quote(p.src)}`);
    lines.push(`if [ ! -f "$s" ]; then kv nosrc 1; kv end ok; exit 0; fi`);
    lines.push(`printf 'head:'; head -c 512 -- "$s" | base64; printf '\\0'`);
    lines.push(`case $(head -c 2 -- "$s") in PK) l=$(${listCmd('zip', '"$s"')} 2>&1);; *) l=$(${listCmd('tar', '"$s"')} 2>&1);; esac; kv list_rc $?; kv list "$l"`);
    // one walk over all top-level names (split by newline; ./ and / stripped)
    lines.push(`printf 'walk:'; printf '%s\\n' "$l" | sed -n 's/^[-dlhcbpC?][-rwxsStT]\\{9\\}.* [0-9:.]\\{6,15\\} \\(.*\\)$/\\1/p' | sed 's| -> .*||; s| link to .*||; s|^\\(\\./\\)*/*||; s|/.*||' | sort -u | while IFS= read -r n; do [ -n "$n" ] && [ "$n" != . ] || continue; [ -e "$d/$n" ] || [ -L "$d/$n" ] || continue; find "$d/$n" -printf "%H\\t${FMT}" 2>/dev/null; done | base64; printf '\\0'`);
  } else {
    const tops = [...new Set((p.members ?? []).map((m) => m.name.split('/')[0]!))].filter((n) => n !== '' && n !== '.' && n !== '..');
    lines.push(`printf 'walk:'; for n in ${tops.map(quote).join(' ') || "''"}; do [ -n "$n" ] || continue; [ -e "$d/$n" ] || [ -L "$d/$n" ] || continue; find "$d/$n" -printf "%H\\t${FMT}" 2>/dev/null; done | base64; printf '\\0'`);
  }
  lines.push(EPILOGUE);
  return lines.join('\n');
}

export interface DestEntry extends FileStat {
  rel: string;
}

export interface UnarchiveState {
  creates: boolean;
  destDir: boolean;
  destExists: boolean;
  root: boolean;
  tools: Set<string>;
  noSrc: boolean;
  format?: ArchiveFormat;
  members?: Member[];
  listError?: string;
  entries: Map<string, DestEntry>;
}

export type UnarchiveProbeState = UnarchiveState | ProbeFailed;

const FTYPE: Record<string, FileStat['type']> = { f: 'file', d: 'directory', l: 'link', p: 'fifo', s: 'socket', c: 'char', b: 'block' };

export function parseUnarchive(r: ExecResult, p: UnarchiveParams): UnarchiveProbeState {
  const f = frameState(r);
  if (isProbeFailed(f)) return f;
  const tools = new Set<string>();
  for (const t of ['tar', 'gzip', 'bzip2', 'xz', 'zstd', 'unzip']) if (f.str(`has_${t}`) === '1') tools.add(t);
  const s: UnarchiveState = {
    creates: f.str('creates') === '1',
    destDir: f.str('destdir') === '1',
    destExists: f.str('destexists') === '1',
    root: f.str('uid') === '0',
    tools,
    noSrc: f.str('nosrc') === '1',
    entries: new Map(),
  };
  if (p.remoteSrc) {
    const head = f.buf('head');
    const fmt = head ? formatOf(head) : undefined;
    if (fmt) s.format = fmt;
    if (f.str('list_rc') !== '0') s.listError = f.str('list') ?? '';
    else if (fmt) s.members = fmt === 'zip' ? parseZipListing(f.str('list') ?? '') : parseTarListing(f.str('list') ?? '');
  } else {
    if (p.format) s.format = p.format;
    if (p.members) s.members = p.members;
  }
  const dest = p.dest.replace(/\/+$/, '') || '/';
  for (const rec of (f.buf('walk') ?? Buffer.alloc(0)).toString('utf8').split('\0')) {
    if (!rec) continue;
    const x = rec.split('\t');
    if (x.length < 11) continue;
    // %H is the start point (dest/top); %P the path below it
    const start = x[0]!;
    const below = x[9]!;
    const top = start.slice(dest.length).replace(/^\/+/, '');
    const rel = below ? `${top}/${below}` : top;
    const e: DestEntry = {
      rel,
      type: FTYPE[x[1]!] ?? 'other',
      size: Number(x[2]),
      mtime: Number(x[3]),
      mode: (parseInt(x[4]!, 8) & 0o7777).toString(8).padStart(4, '0'),
      uid: Number(x[5]),
      gid: Number(x[6]),
      owner: x[7] === x[5] ? '' : x[7]!,
      group: x[8] === x[6] ? '' : x[8]!,
      atime: 0, ctime: 0, inode: 0, dev: 0, nlink: 1,
    };
    if (e.type === 'link') e.target = x.slice(10).join('\t');
    s.entries.set(rel, e);
  }
  return s;
}

/** is the member selected by include / exclude (shell globs on the member path, as Ansible's fnmatch) */
export function selected(p: UnarchiveParams, name: string): boolean {
  if (p.include.length) return p.include.some((g) => fnmatch(name, g) || fnmatch(`${name}/`, g));
  return !p.exclude.some((g) => fnmatch(name, g) || fnmatch(`${name}/`, g));
}

/** Why a member differs from what is in dest (undefined: the same). Pure. */
export function memberDiff(p: UnarchiveParams, m: Member, e: DestEntry | undefined, format: ArchiveFormat, root: boolean): string | undefined {
  if (!e) return `${m.name} is missing`;
  const want = m.type === 'hardlink' ? 'file' : m.type;
  if (want !== 'other' && e.type !== want) return `${m.name} is a ${e.type}, not a ${want}`;
  if (m.type === 'file') {
    if (format !== 'zip' && p.keepNewer && Math.floor(e.mtime) > m.mtime) return undefined;
    if (e.size !== m.size) return `${m.name} size ${e.size} -> ${m.size}`;
    if (format !== 'zip' && Math.floor(e.mtime) !== m.mtime) return `${m.name} mtime differs`;
  }
  if (m.type === 'link' && m.target !== undefined && e.target !== m.target) return `${m.name} link target ${e.target} -> ${m.target}`;
  if (p.attrs.mode === undefined && root && format !== 'zip' && m.type !== 'link' && m.type !== 'hardlink' && e.mode !== m.mode) return `${m.name} mode ${e.mode} -> ${m.mode}`;
  return undefined;
}

export function planUnarchive(p: UnarchiveParams, s: UnarchiveProbeState | null): Plan {
  if (!s) return failPlan(failure('probe_failed', 'unarchive: no probe result'));
  if (isProbeFailed(s)) return failPlan(s.probeFailed);
  const base = { dest: p.dest, src: p.src };
  if (s.creates) return { steps: [], reason: `skipped, since ${p.creates} exists`, result: { ...base, msg: `skipped, since ${p.creates} exists` } };
  if (p.remoteSrc && s.noSrc) return failPlan(failure('missing_file', `Source '${p.src}' does not exist`, p.src), base);
  if (!s.destDir) return failPlan(failure('not_a_directory', `Destination '${p.dest}' is not a directory`, p.dest), base);
  const format = s.format;
  if (!format) return failPlan(failure('unknown_format', `Failed to find handler for "${p.src}". Make sure the required command to extract the file is installed.`), base);
  const handler = format === 'zip' ? 'ZipArchive' : format === 'zst' ? 'ZstdArchive' : 'TgzArchive';
  const missingTools = (format === 'zip' ? ['unzip'] : format === 'tar' ? ['tar'] : ['tar', TOOL[format]]).filter((t) => !s.tools.has(t));
  if (missingTools.length) {
    return failPlan(failure('missing_tool', `Failed to find handler for "${p.src}". Make sure the required command to extract the file is installed. Unable to find required '${missingTools.join("', '")}' binary in the path.`), { ...base, handler });
  }
  if (s.listError !== undefined || !s.members) return failPlan(failure('list_failed', `Failed to list ${p.src}: ${(s.listError ?? '').trim()}`), { ...base, handler });
  const members = s.members.filter((m) => selected(p, m.name));
  const result: Record<string, unknown> = { ...base, handler };
  if (p.listFiles) result.files = s.members.map((m) => (m.type === 'directory' ? `${m.name}/` : m.name));

  const diffs: string[] = [];
  const hasAttrs = p.attrs.owner !== undefined || p.attrs.group !== undefined || p.attrs.mode !== undefined;
  let attrsDiffer = false;
  for (const m of members) {
    const e = s.entries.get(m.name);
    const d = memberDiff(p, m, e, format, s.root);
    if (d) diffs.push(d);
    // owner/group/mode apply to every member (as Ansible's set_fs_attributes_if_different per file)
    else if (hasAttrs && e && m.type !== 'link') {
      const { changes } = attrChanges(`${p.dest}/${m.name}`, resolveWanted(p.attrs, e), e);
      if (changes.length) {
        attrsDiffer = true;
        diffs.push(`${m.name}: ${changes.join(', ')}`);
      }
    }
  }
  if (!diffs.length) return { steps: [], reason: `${p.dest} already has the ${members.length} member(s) of ${p.src}`, result };

  const steps: Step[] = [];
  const archive = p.remoteSrc ? quote(p.src) : '"$t"';
  const prelude = p.remoteSrc ? ['set -e'] : [
    'set -e',
    `t=$(mktemp "\${TMPDIR:-/tmp}/runbook-unarchive.XXXXXXXXXX")`,
    `trap 'rm -f -- "$t"' EXIT`,
    `cat > "$t"`,
  ];
  const extra = p.extraOpts.map(quote).join(' ');
  let cmd: string;
  if (format === 'zip') {
    const sel = p.include.length ? ` -- ${p.include.map(quote).join(' ')}` : '';
    const ex = p.exclude.length ? ` -x ${p.exclude.map(quote).join(' ')}` : '';
    cmd = `unzip -q -o ${extra ? `${extra} ` : ''}${archive}${sel}${ex} -d ${quote(p.dest)}`;
  } else {
    const ex = p.exclude.map((g) => `--exclude=${quote(g)}`).join(' ');
    const inc = p.include.length ? ` --wildcards -- ${p.include.map(quote).join(' ')}` : '';
    cmd = `tar --extract -C ${quote(p.dest)}${p.keepNewer ? ' --keep-newer-files' : ''}${ex ? ` ${ex}` : ''}${extra ? ` ${extra}` : ''} -f ${archive}${inc}`;
  }
  const step: Step = { kind: 'run', script: [...prelude, cmd].join('\n'), describe: `unpack ${p.src} into ${p.dest}` };
  if (!p.remoteSrc && p.content) step.input = p.content;
  steps.push(step);
  // the attributes after unpacking: every selected member (tar/unzip set their own modes and owners)
  if (hasAttrs && (attrsDiffer || diffs.length)) {
    const all = members.filter((m) => m.type !== 'link').map((m) => `${p.dest.replace(/\/+$/, '')}/${m.name}`);
    steps.push({ kind: 'run', script: attrScriptFor(p.attrs), input: all.join('\0') + '\0', describe: `set owner/group/mode of ${p.src}'s members` });
  }
  return { steps, reason: diffs.length > 3 ? `${diffs.slice(0, 3).join(', ')} and ${diffs.length - 3} more` : diffs.join(', '), doneReason: `unpacked ${p.src} into ${p.dest}`, result };
}

/** chown/chgrp/chmod of the NUL-separated paths on stdin */
function attrScriptFor(a: WantedAttrs): string {
  const cmds = ['set -e', 'l=$(mktemp)', `trap 'rm -f -- "$l"' EXIT`, 'cat > "$l"'];
  if (a.owner !== undefined) cmds.push(`xargs -0 chown -- ${quote(a.owner)} < "$l"`);
  if (a.group !== undefined) cmds.push(`xargs -0 chgrp -- ${quote(a.group)} < "$l"`);
  if (a.mode !== undefined) cmds.push(`xargs -0 chmod -- ${quote(a.mode)} < "$l"`);
  return cmds.join('\n');
}

const unarchive: ModuleDef<UnarchiveParams, UnarchiveProbeState> = {
  name: 'unarchive',
  aliases: namesFor('unarchive'),
  description: 'Unpack a tar (gz/bz2/xz/zst) or zip archive (controller-side or remote_src) into a directory',
  schema: unarchiveSchema,
  prepare: prepareUnarchive,
  probe: (p) => ({ script: unarchiveScript(p), parse: (r) => parseUnarchive(r, p) }),
  plan: planUnarchive,
};

export default unarchive;
