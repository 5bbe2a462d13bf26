/**
 * Builders for POSIX sh scripts. Every interpolated value goes through q() (shlex's quote, the same rules as
 * Python's shlex.quote that Ansible uses). Values containing a NUL byte cannot be passed to a process at all (argv
 * and environment strings are C strings), so they are refused here with a clear error instead of being truncated.
 */
import { quote, split } from 'shlex';
import { RunbookError } from '../errors.js';
import type { ExecResult } from './types.js';

function describe(s: string): string {
  const shown = s.length > 40 ? `${s.slice(0, 40)}...` : s;
  return JSON.stringify(shown);
}

/** Throws a 'bad_argument' RunbookError when s contains a NUL byte. */
export function assertNoNul(s: string, what = 'value'): void {
  if (s.includes('\0')) {
    throw new RunbookError('bad_argument', `${what} contains a NUL byte, which no shell command can carry: ${describe(s)}`);
  }
}

/** Quote one value for sh. */
export function q(s: string): string {
  if (typeof s !== 'string') throw new RunbookError('internal', `q(): expected a string, got ${typeof s}`);
  assertNoNul(s);
  return quote(s);
}

/** An argv array as one sh command line, every word quoted. */
export function argvScript(argv: string[]): string {
  if (argv.length === 0) throw new RunbookError('internal', 'argvScript(): empty argv');
  return argv.map((a) => q(a)).join(' ');
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `export NAME=value` lines (values quoted); names must be valid sh identifiers. */
export function envScript(env: Record<string, string> | undefined): string {
  if (!env) return '';
  let out = '';
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name)) throw new RunbookError('bad_argument', `invalid environment variable name ${describe(name)}`);
    assertNoNul(value, `environment variable ${name}`);
    out += `export ${name}=${q(String(value))}\n`;
  }
  return out;
}

const OCTAL_MODE = /^0?[0-7]{3,4}$/;
const SYMBOLIC_MODE = /^[ugoa]*[-+=][rwxXst]*([-+=][rwxXst]*)*(,[ugoa]*[-+=][rwxXst]*([-+=][rwxXst]*)*)*$/;

export interface AtomicWriteOptions {
  /** octal string such as '0644' (or a chmod symbolic mode). Absent: keep the existing file's mode, else 0644. */
  mode?: string;
  owner?: string;
  group?: string;
  /**
   * the content's length in bytes: when given, a temp file of another size (stdin ended early because the
   * connection dropped or the run was interrupted) is refused, so a truncated file never replaces the target
   */
  size?: number;
  /**
   * Ansible's `backup`: when the target is an existing file, copy it first (cp -p) to Ansible's backup name
   * `TARGET.PID.YYYY-MM-DD@HH:MM:SS~` (host local time) and print `backup_file=NAME` on stdout (see backupFileOf)
   */
  backup?: boolean;
  /**
   * Ansible's `validate`: a command with `%s`, run (split like a command line, no shell) against the temp file once
   * it has its content, owner, group and mode; a non-zero exit leaves the target untouched and fails with
   * Ansible's message `failed to validate: rc:N error:STDERR`
   */
  validate?: string;
  /**
   * the content itself, written by the shell's printf builtin from the script text instead of read from stdin: no
   * `cat` and no size check (`wc`), since the script arrives whole or not at all. Only for text without NUL bytes
   * (inlineContent decides); the caller sends no input then.
   */
  content?: string;
}

/** The `%s` command of `validate` as a sh command line naming the temp file "$tmp" (`%%` is a literal %). */
export function validateCommand(validate: string): string {
  if (!validate.includes('%s')) throw new RunbookError('bad_argument', `validate must contain %s: ${validate}`);
  let words: string[];
  try {
    words = split(validate);
  } catch (e) {
    throw new RunbookError('bad_argument', `validate: cannot split the command line: ${(e as Error).message}`);
  }
  return words.map((w) => w.split('%s').map((part) => (part === '' ? '' : q(part.replace(/%%/g, '%')))).join('"$tmp"')).join(' ');
}

/** The backup file name a write step printed (atomicWriteScript with backup), if it made one. */
export function backupFileOf(stdout: string): string | undefined {
  const m = /^backup_file=(.*)$/m.exec(stdout);
  return m ? m[1] : undefined;
}

/**
 * A script that reads the file content from stdin and puts it at `path` atomically: the content goes to a temp
 * file made by mktemp in the same directory (so the final mv is a rename(2) on one filesystem), owner/group and then
 * the mode (chown clears setuid/setgid, so the mode comes last) are applied to the temp file, then `mv -f` replaces
 * the target. A trap removes the temp file on any failure, so the target is either the old file or the complete new
 * one. Exits non-zero with a `runbook:` reason on stderr.
 *
 * Without owner/group, an existing target's owner and group are kept when the remote user may set them (root).
 * Without a mode, an existing target's whole mode (setuid, setgid and sticky bits included) is kept.
 * A symlink at the target is replaced by a regular file (it is not followed).
 */
export function atomicWriteScript(path: string, opts: AtomicWriteOptions = {}): string {
  assertNoNul(path, 'path');
  if (path === '' || path.endsWith('/')) throw new RunbookError('bad_argument', `atomicWriteScript: not a file path: ${describe(path)}`);
  if (opts.mode !== undefined && !(OCTAL_MODE.test(opts.mode) || SYMBOLIC_MODE.test(opts.mode))) {
    throw new RunbookError('bad_argument', `invalid file mode ${describe(opts.mode)} (expected an octal string such as '0644')`);
  }
  const slash = path.lastIndexOf('/');
  const dir = slash < 0 ? '.' : slash === 0 ? '/' : path.slice(0, slash);
  const lines = [
    `target=${q(path)}`,
    `dir=${q(dir)}`,
    `fail() { printf 'runbook: %s\\n' "$*" >&2; exit 1; }`,
    `[ -d "$dir" ] || fail "cannot write $target: directory $dir does not exist"`,
    `[ -d "$target" ] && fail "cannot write $target: it is a directory"`,
    `tmp=$(mktemp "$dir/.runbook-tmp.XXXXXXXXXX") || fail "cannot create a temp file in $dir"`,
    `trap 'rm -f -- "$tmp"' EXIT`,
    `trap 'exit 129' HUP`,
    `trap 'exit 130' INT`,
    `trap 'exit 143' TERM`,
    // sshd gone: a message to the dead stderr raises SIGPIPE, which must still run the EXIT trap (rm the temp file)
    `trap 'exit 141' PIPE`,
    opts.content !== undefined
      ? `printf '%s' ${q(opts.content)} > "$tmp" || fail "cannot write $target: write to temp file failed (disk full?)"`
      : `cat > "$tmp" || fail "cannot write $target: write to temp file failed (disk full?)"`,
  ];
  if (opts.size !== undefined && opts.content === undefined) {
    if (!Number.isSafeInteger(opts.size) || opts.size < 0) throw new RunbookError('bad_argument', `atomicWriteScript: invalid size ${opts.size}`);
    lines.push(
      `n=$(wc -c < "$tmp") || fail "cannot read back the temp file of $target"`,
      `[ "$n" -eq ${opts.size} ] || fail "cannot write $target: received $n of ${opts.size} bytes (input ended early); the target was not changed"`,
    );
  }
  // nothing given of owner, group and mode: one stat of an existing target reads all three
  const keepAll = opts.owner === undefined && opts.group === undefined && opts.mode === undefined;
  // owner and group first, then the mode: chown(2) clears the setuid and setgid bits (even for root), so a chmod
  // before it would lose them
  if (opts.owner !== undefined || opts.group !== undefined) {
    if (opts.owner !== undefined) {
      assertNoNul(opts.owner, 'owner');
      if (opts.owner === '') throw new RunbookError('bad_argument', 'atomicWriteScript: empty owner');
      lines.push(`chown -- ${q(opts.owner)} "$tmp" || fail "cannot set owner of $target"`);
    }
    if (opts.group !== undefined) {
      assertNoNul(opts.group, 'group');
      if (opts.group === '') throw new RunbookError('bad_argument', 'atomicWriteScript: empty group');
      lines.push(`chgrp -- ${q(opts.group)} "$tmp" || fail "cannot set group of $target"`);
    }
  } else {
    // keep the existing owner/group when we are allowed to (root); a plain user keeps its own. The effective uid
    // comes from /proc/self/status (no process), else from id -u. Without a mode either, one stat reads both.
    lines.push(
      `if [ -e "$target" ]; then`,
      `  ${euidShell('_u')}`,
      keepAll
        ? `  om=$(stat -c '%u:%g %a' -- "$target" 2>/dev/null || stat -f '%u:%g %Lp' -- "$target" 2>/dev/null) || fail "cannot read the mode of $target"`
        : '',
      keepAll
        ? `  [ "$_u" != 0 ] || chown -- "\${om% *}" "$tmp" 2>/dev/null`
        : `  if [ "$_u" = 0 ]; then og=$(stat -c %u:%g -- "$target" 2>/dev/null || stat -f %u:%g -- "$target" 2>/dev/null) && chown -- "$og" "$tmp" 2>/dev/null; fi`,
      `fi`,
    );
  }
  if (opts.mode !== undefined) {
    // the mode passed the regexes above: digits and [ugoarwxXst,+=-] only, safe inside double quotes
    lines.push(`chmod ${q(opts.mode)} "$tmp" || fail "cannot set mode ${opts.mode} on $target"`);
  } else {
    // the existing file's whole mode, setuid/setgid/sticky included (stat %a prints e.g. 4755)
    lines.push(
      `if [ -e "$target" ]; then`,
      keepAll // om was read above
        ? `  m=\${om#* }`
        : `  m=$(stat -c %a -- "$target" 2>/dev/null || stat -f %Lp -- "$target" 2>/dev/null) || fail "cannot read the mode of $target"`,
      `  chmod "$m" "$tmp" || fail "cannot set mode $m on $target"`,
      `else`,
      `  chmod 0644 "$tmp" || fail "cannot set mode 0644 on $target"`,
      `fi`,
    );
  }
  if (opts.backup) {
    lines.push(
      `if [ -f "$target" ]; then`,
      `  bk="$target.$$.$(date '+%Y-%m-%d@%H:%M:%S~')" && cp -p -- "$target" "$bk" || fail "cannot back up $target"`,
      `  printf 'backup_file=%s\n' "$bk"`,
      `fi`,
    );
  }
  if (opts.validate !== undefined) {
    lines.push(
      `verr=$(${validateCommand(opts.validate)} 2>&1 >/dev/null </dev/null); vrc=$?`,
      `[ "$vrc" -eq 0 ] || { printf 'failed to validate: rc:%s error:%s\n' "$vrc" "$verr" >&2; exit 1; }`,
    );
  }
  lines.push(`mv -f -- "$tmp" "$target" || fail "cannot rename the temp file over $target"`, `trap - EXIT`, `exit 0`);
  return lines.filter((l) => l !== '').join('\n') + '\n';
}

/**
 * Shell text that sets VAR to the effective uid without a process: the Uid: line of /proc/self/status (its second
 * field), else `id -u` where there is no /proc. Used by write scripts and by the probe prelude's rb_uid.
 */
export function euidShell(v: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) throw new RunbookError('bad_argument', `euidShell: bad variable name ${v}`);
  return `${v}=; while read -r _k _a _b _c; do if [ "$_k" = Uid: ]; then ${v}=$_b; break; fi; done 2>/dev/null </proc/self/status; [ -n "$${v}" ] || ${v}=$(id -u)`;
}

/** Content up to this size goes inside the write script (AtomicWriteOptions.content) when it is NUL-free UTF-8. */
export const INLINE_CONTENT_MAX = 4096;

/** The content as script text when a write can carry it inline (small, valid UTF-8, no NUL byte), else undefined. */
export function inlineContent(content: Buffer): string | undefined {
  if (content.length > INLINE_CONTENT_MAX || content.includes(0)) return undefined;
  const text = content.toString('utf8');
  return Buffer.from(text, 'utf8').equals(content) ? text : undefined;
}

/** The format of a probe's `stat` of a path (file-attrs.ts statShell): mode, ids, size, times, inode, device, links, names. */
export const STAT_FORMAT = '%f %u %g %s %Y %X %Z %i %d %h:%U:%G';
/**
 * A probe script line `: rb-lstat 'PATH'` (a no-op command) declares that the probe lstats PATH with STAT_FORMAT
 * (statShell). A batch of probes stats every declared path in ONE `stat` process before them (prefetchScript), and
 * each probe uses that record instead of starting its own `stat` when its variable still names that path.
 */
export const STAT_DECL = ': rb-lstat';
/** a declaration line whose path is one shell word on one line (quoted pieces and escaped quotes), as quote() makes it */
const DECL_LINE = /^: rb-lstat ((?:'[^'\n]*'|"'"|[A-Za-z0-9_@%+=:,./-]+)+)$/gm;

/** The paths (as shell words) the scripts declare, once each. */
function declaredPaths(scripts: string[]): string[] {
  const out = new Set<string>();
  for (const sc of scripts) for (const m of sc.matchAll(DECL_LINE)) out.add(m[1]!);
  return [...out];
}

/**
 * The batch's one `stat` of the declared paths: _rbppK the path, _rbpsK its record ('' when absent or not read),
 * _rbpf=1 when every existing path got exactly one record (else the probes stat on their own). rb_pf PATH sets
 * _st to PATH's record. Read-only, like the probes after it.
 */
function prefetchScript(words: string[]): string[] {
  const lines = [`_rbpf=`, `_rbpn=${words.length}`];
  words.forEach((w, k) => lines.push(`_rbpp${k}=${w}`, `_rbps${k}=`));
  lines.push(
    `set --; _rbpk=0`,
    `while [ $_rbpk -lt $_rbpn ]; do eval "_rbpc=\\$_rbpp$_rbpk"; if [ -e "$_rbpc" ] || [ -L "$_rbpc" ]; then set -- "$@" "$_rbpc"; eval "_rbpx$_rbpk=1"; else eval "_rbpx$_rbpk="; fi; _rbpk=$((_rbpk+1)); done`,
    `if [ $# -gt 0 ] && _rbpo=$(stat -c '${STAT_FORMAT}' -- "$@" 2>/dev/null); then`,
    `  _rbpk=0; _rbpm=0`,
    `  while IFS= read -r _rbpl; do`,
    `    while [ $_rbpk -lt $_rbpn ] && eval "[ -z \\"\\$_rbpx$_rbpk\\" ]"; do _rbpk=$((_rbpk+1)); done`,
    `    [ $_rbpk -lt $_rbpn ] || { _rbpm=-1; break; }`,
    `    eval "_rbps$_rbpk=\\$_rbpl"; _rbpk=$((_rbpk+1)); _rbpm=$((_rbpm+1))`,
    `  done <<_RB_PREFETCH_`,
    `$_rbpo`,
    `_RB_PREFETCH_`,
    `  [ "$_rbpm" = $# ] && _rbpf=1`,
    `fi`,
    `set --`,
  );
  return lines;
}

/** rb_pf PATH: _st = the prefetched record of PATH; false when PATH was not prefetched or had no record. */
const RB_PF = `rb_pf() { _rbpk=0; while [ $_rbpk -lt $_rbpn ]; do eval "_rbpc=\\$_rbpp$_rbpk"; if [ "$_rbpc" = "$1" ]; then eval "_st=\\$_rbps$_rbpk"; [ -n "$_st" ]; return; fi; _rbpk=$((_rbpk+1)); done; return 1; }`;

/**
 * First line of a probe script that may run in the batch's own shell instead of a subshell (saves a fork per
 * probe), followed by the names the script assigns (variables), `--` and the functions it defines. Such a probe
 * never exits, returns, sets traps or options, changes directory or umask, execs, reads stdin or assigns a `_rb*`
 * name. The batch runs it inline only when none of its variables is set yet, and unsets them and its functions
 * after it, so the shell is as before for the next unit; otherwise in a subshell as any unit. Alone, the line is a
 * no-op. Made by inlineProbe; test/probe-inline.test.ts checks every marked probe against a real shell.
 */
export const INLINE_MARK = ': rb-inline';

/** The names one line of a probe assigns and defines (memoised: probes of one module share most of their lines). */
const lineNames = new Map<string, { vars: string[]; fns: string[] }>();
function namesOfLine(line: string): { vars: string[]; fns: string[] } {
  let n = lineNames.get(line);
  if (n) return n;
  const vars: string[] = [];
  const fns: string[] = [];
  // NAME= (not a prefix of a command: those are IFS= and other upper-case names), read's and for's variables
  for (const m of line.matchAll(/(?:^|[\s;&|({`])([a-z_][a-z0-9_]*)=/g)) vars.push(m[1]!);
  for (const m of line.matchAll(/\bread(?: -r)?((?: [a-z_][a-z0-9_]*)+)/g)) vars.push(...m[1]!.trim().split(' '));
  for (const m of line.matchAll(/\bfor ([a-z_][a-z0-9_]*) in\b/g)) vars.push(m[1]!);
  for (const m of line.matchAll(/(?:^|[\s;])([a-z_][a-z0-9_]*)\(\) \{/g)) fns.push(m[1]!);
  n = { vars, fns };
  if (lineNames.size > 20_000) lineNames.clear();
  lineNames.set(line, n);
  return n;
}

/** The script as an inline probe: INLINE_MARK with the variables it assigns and the functions it defines. */
export function inlineProbe(script: string): string {
  const vars = new Set<string>();
  const fns = new Set<string>();
  for (const line of script.split('\n')) {
    const n = namesOfLine(line);
    for (const v of n.vars) vars.add(v);
    for (const f of n.fns) fns.add(f);
  }
  // the batch's own names (its _rb* variables and functions, rb_pf) stay the batch's
  for (const n of [...vars, ...fns]) if (n.startsWith('_rb') || n === 'rb_pf') throw new RunbookError('internal', `inlineProbe: the probe assigns or defines ${n}`);
  return `${INLINE_MARK} ${[...vars].sort().join(' ')} -- ${[...fns].sort().join(' ')}\n${script}`;
}

/** Where `text` starts in a unit's script when the script starts with it (after an inline probe's first line), else -1. */
export function sharedAt(script: string, text: string): number {
  const start = script.startsWith(INLINE_MARK + ' ') ? script.indexOf('\n') + 1 : 0;
  return script.startsWith(text, start) ? start : -1;
}

/** The variables and functions an inline probe's first line names, or undefined when the script is not one. */
export function inlineNames(script: string): { vars: string[]; fns: string[] } | undefined {
  if (!script.startsWith(INLINE_MARK + ' ')) return undefined;
  const line = script.slice(INLINE_MARK.length + 1, script.indexOf('\n') < 0 ? undefined : script.indexOf('\n'));
  const [v = '', f = ''] = line.split(' -- ');
  const names = (t: string) => t.split(' ').filter(Boolean);
  const vars = names(v);
  const fns = names(f);
  if (![...vars, ...fns].every((n) => /^[a-z_][a-z0-9_]*$/.test(n))) return undefined;
  return { vars, fns };
}

/**
 * One unit of a batch script (batchScript): a script run as if it were its own remote command, with its own stdin
 * (its input, else /dev/null). Units of the same `group` run in order and stop at the first one that exits
 * non-zero (unless it is `allowFailure`); the units of other groups still run.
 */
export interface BatchUnit {
  script: string;
  input?: Buffer;
  group: number;
  allowFailure?: boolean;
  /** a read-only probe: a run of consecutive probes shares one `stat` of the paths they declare (STAT_DECL) */
  probe?: boolean;
}

/**
 * Several scripts in ONE remote command: each unit runs in a subshell (`eval` of its quoted text, so its own
 * `exit`, traps and syntax stay its own; a probe marked INLINE_MARK runs in the batch's shell) and is followed by a
 * marker on stdout (`NUL RB<nonce>:<i>:<rc> NUL`) and on stderr (`NUL RB<nonce>:<i> NUL`) that splitBatch cuts the
 * outputs at. The nonce is fresh per batch, so no output
 * of a unit can fake a marker. The inputs travel concatenated on stdin and are split into files of their exact
 * sizes (`head -c`) in a private temp directory first, so a unit that stops reading early cannot shift the next
 * unit's bytes; the directory is removed when the script ends. When only one unit has input, it reads the stream
 * itself (a unit skipped after a failure in its group drains it).
 */
export function batchScript(units: BatchUnit[], nonce: string, shared: string[] = []): { script: string; input?: Buffer } {
  if (!/^[A-Za-z0-9]+$/.test(nonce)) throw new RunbookError('internal', `batchScript: bad nonce ${describe(nonce)}`);
  const hasInput = (u: BatchUnit) => u.input !== undefined && u.input.length > 0;
  // one unit with input (a file's steps, maybe with probes after them): it reads the command's own stdin as it streams
  // (no copy in a temp file first: a large file goes once, into its own temp file next to the target)
  const direct = units.filter(hasInput).length === 1 ? units.findIndex(hasInput) : -1;
  const withInput = direct < 0 && units.some(hasInput);
  const lines: string[] = [
    `_rbd=`,
    `trap '[ -z "$_rbd" ] || rm -rf -- "$_rbd"' EXIT`,
    `trap 'exit 129' HUP`,
    `trap 'exit 130' INT`,
    `trap 'exit 143' TERM`,
    `trap 'exit 141' PIPE`,
  ];
  const inputs: Buffer[] = [];
  if (withInput) {
    lines.push(`_rbd=$(mktemp -d "\${TMPDIR:-/tmp}/.runbook-batch.XXXXXXXXXX") || { printf 'runbook: cannot create a temp directory\\n' >&2; exit 1; }`);
    units.forEach((u, i) => {
      if (u.input === undefined || u.input.length === 0) return;
      inputs.push(u.input);
      lines.push(`head -c ${u.input.length} > "$_rbd/${i}" || { printf 'runbook: cannot store the input of batch unit ${i}\\n' >&2; exit 1; }`);
    });
  }
  // a text that several units start with (after an inline probe's first line), e.g. the probes' prelude, travels
  // once: a variable of the batch holds it, and those units eval it in its place (the same text, the same effect)
  const unitText = units.map((u) => u.script);
  shared.forEach((text, k) => {
    if (text === '') return;
    const users = unitText.map((sc) => sharedAt(sc, text));
    if (users.filter((x) => x >= 0).length < 2) return;
    lines.push(`_rbsh${k}=${q(text)}`);
    users.forEach((start, i) => {
      if (start >= 0) unitText[i] = unitText[i]!.slice(0, start) + `eval "$_rbsh${k}"` + unitText[i]!.slice(start + text.length);
    });
  });
  const groups = [...new Set(units.map((u) => u.group))];
  for (const g of groups) {
    if (!Number.isSafeInteger(g) || g < 0) throw new RunbookError('internal', `batchScript: bad group ${g}`);
    lines.push(`_rbg${g}=0`);
  }
  // the inline probes' name tests and unsets (unitRun) go here, before the first unit
  const defsAt = lines.length;
  const inlineDefs = new Map<string, { k: number; lines: string[] }>();
  // runs of consecutive probes: one stat of all the paths they declare, before the first of them; a unit that is
  // not a probe (steps) ends the run, and the records with it
  let prefetching = false;
  let definedPf = false;
  let scanned = 0; // units before this were looked at for a run already
  units.forEach((u, i) => {
    if (u.probe && !prefetching && i >= scanned) {
      let end = i;
      while (end < units.length && units[end]!.probe) end++;
      scanned = end;
      const words = declaredPaths(units.slice(i, end).map((x) => x.script));
      if (words.length >= 2) {
        if (!definedPf) lines.push(RB_PF);
        definedPf = true;
        lines.push(...prefetchScript(words));
        prefetching = true;
      }
    } else if (!u.probe && prefetching) {
      lines.push(`_rbpf=`);
      prefetching = false;
    }
    const stdin = i === direct ? '' : hasInput(u) ? ` < "$_rbd/${i}"` : ' < /dev/null';
    lines.push(
      `if [ "$_rbg${u.group}" = 0 ]; then`,
      `_rbs=${q(unitText[i]!)}`,
      ...unitRun(u, stdin, inlineDefs),
      `printf '\\0RB${nonce}:${i}:%s\\0' "$_rbc"`,
      `printf '\\0RB${nonce}:${i}\\0' >&2`,
      u.allowFailure ? '' : `[ "$_rbc" = 0 ] || _rbg${u.group}=1`,
      // a unit that does not run still takes its input off the stream (the controller is sending it)
      i === direct ? `else cat > /dev/null` : '',
      `fi`,
    );
  });
  lines.splice(defsAt, 0, ...[...inlineDefs.values()].flatMap((d) => d.lines));
  lines.push(`exit 0`);
  return { script: lines.filter((l) => l !== '').join('\n') + '\n', input: direct >= 0 ? units[direct]!.input : inputs.length ? Buffer.concat(inputs) : undefined };
}

/**
 * The lines that run one unit and set _rbc: in a subshell, or an inline probe in the batch's shell (INLINE_MARK).
 * The test of an inline probe's names and their unsetting are shell functions of the batch, one pair per set of
 * names (`defs`, filled here, goes at the top of the batch): a batch of 20 file probes states them once.
 */
function unitRun(u: BatchUnit, stdin: string, defs: Map<string, { k: number; lines: string[] }>): string[] {
  const inline = u.probe ? inlineNames(u.script) : undefined;
  if (!inline) return [`( eval "$_rbs" )${stdin}`, `_rbc=$?`];
  const id = `${inline.vars.join(' ')} -- ${inline.fns.join(' ')}`;
  let d = defs.get(id);
  if (!d) {
    const k = defs.size;
    const unset = [inline.vars.length ? `unset ${inline.vars.join(' ')}` : '', inline.fns.length ? `unset -f ${inline.fns.join(' ')}` : ''].filter(Boolean).join('; ');
    const fresh = inline.vars.map((v) => `\${${v}+x}`).join('');
    d = { k, lines: [`_rbi${k}() { ${fresh ? `[ -z "${fresh}" ]` : ':'}; }`, `_rbu${k}() { ${unset || ':'}; }`] };
    defs.set(id, d);
  }
  return [`if _rbi${d.k}; then`, `{ eval "$_rbs"; }${stdin}`, `_rbc=$?; _rbu${d.k}`, `else`, `( eval "$_rbs" )${stdin}`, `_rbc=$?`, `fi`];
}

/**
 * The per-unit results of a batchScript run: `undefined` for a unit that did not run (skipped after a failure in
 * its group, or the batch ended early). Output after the last marker (the batch's own error) is in `rest`.
 */
export function splitBatch(r: ExecResult, n: number, nonce: string): { units: Array<ExecResult | undefined>; rest: ExecResult } {
  const units: Array<ExecResult | undefined> = new Array(n).fill(undefined);
  const outRe = new RegExp(`\\0RB${nonce}:(\\d+):(\\d+)\\0`, 'g');
  const errRe = new RegExp(`\\0RB${nonce}:(\\d+)\\0`, 'g');
  const errs = new Map<number, string>();
  let at = 0;
  for (const m of r.stderr.matchAll(errRe)) {
    errs.set(Number(m[1]), r.stderr.slice(at, m.index));
    at = m.index! + m[0].length;
  }
  const errRest = r.stderr.slice(at);
  at = 0;
  for (const m of r.stdout.matchAll(outRe)) {
    const i = Number(m[1]);
    if (i < n) units[i] = { code: Number(m[2]), stdout: r.stdout.slice(at, m.index), stderr: errs.get(i) ?? '' };
    at = m.index! + m[0].length;
  }
  return { units, rest: { code: r.code, stdout: r.stdout.slice(at), stderr: errRest } };
}
