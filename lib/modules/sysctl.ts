/**
 * sysctl: one kernel parameter, set live (/proc/sys) and persisted as a `name = value` line in a sysctl file.
 * Answers to ansible.posix.sysctl with its common arguments.
 *
 * Differences from ansible.posix.sysctl, on purpose:
 *  - only THIS key is ever written live (Ansible's `reload` runs `sysctl -p FILE`, which re-applies every key of the
 *    file); the live value is set when it differs and `sysctl_set` or `reload` is true (both default true here);
 *  - values compare normalised (yes/true/on -> 1, no/false/off -> 0, whitespace runs collapsed), so `1` vs `yes` or
 *    `32768 60999` vs `32768\t60999` is no change, and a line spelled `k=v` that already holds the value is kept;
 *  - state=absent removes the line(s) from the file and leaves the live value alone.
 */
import { ansibleBoolean } from '../vars/python-compat.js';
import { quote } from 'shlex';
import { RunbookError } from '../errors.js';
import type { ExecResult } from '../connection/types.js';
import { failPlan, failure, isProbeFailed, type FileDiff, type ModuleDef, type Plan, type ProbeFailed, type Step } from './types.js';
import { EPILOGUE, PRELUDE, inlineProbe, isFrameError, parseFrame, parseStat, statShell } from './common.js';
import { showEscapes } from './bytes.js';

export interface SysctlParams {
  /** the key as given */
  name: string;
  /** canonical dotted key (`net.ipv4.conf.eth0/100.forwarding` style names resolved by sysctl.d(5) rules) */
  key: string;
  /** /proc/sys/... */
  procPath: string;
  /** normalised value; undefined only for state=absent */
  value?: string;
  state: 'present' | 'absent';
  sysctl_file: string;
  /** write the live value when it differs (sysctl_set || reload) */
  setLive: boolean;
  ignoreerrors: boolean;
}

function toBool(v: unknown, what: string, dflt: boolean): boolean {
  if (v === undefined || v === null || v === '') return dflt;
  if (typeof v === 'boolean') return v;
  const b = ansibleBoolean(String(v));
  if (b !== undefined) return b;
  throw new RunbookError('bad_argument', `${what}: ${JSON.stringify(v)} is not a boolean`);
}

/** yes/true/on -> 1, no/false/off -> 0, runs of whitespace -> one space, trimmed. */
export function normaliseSysctlValue(v: unknown): string {
  if (typeof v === 'boolean') return v ? '1' : '0';
  const s = String(v).trim().replace(/\s+/g, ' ');
  const l = s.toLowerCase();
  if (l === 'yes' || l === 'true' || l === 'on') return '1';
  if (l === 'no' || l === 'false' || l === 'off') return '0';
  return s;
}

/**
 * sysctl.d(5): if the first separator is a slash, the name is a path as is; otherwise dots and slashes swap
 * (so `net.ipv4.conf.eth0/100.rp_filter` is /proc/sys/net/ipv4/conf/eth0.100/rp_filter).
 * Returns the path relative to /proc/sys.
 */
export function sysctlRelPath(name: string): string {
  const firstDot = name.indexOf('.');
  const firstSlash = name.indexOf('/');
  if (firstSlash !== -1 && (firstDot === -1 || firstSlash < firstDot)) return name;
  return name.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'));
}

/** The canonical dotted spelling of a key (the one `sysctl -a` prints). */
export function canonicalKey(name: string): string {
  return sysctlRelPath(name.trim()).replace(/[./]/g, (c) => (c === '/' ? '.' : '/'));
}

function checkName(name: string): void {
  const rel = sysctlRelPath(name);
  const parts = rel.split('/');
  if (!/^[A-Za-z0-9_.\-/:@+]+$/.test(name) || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new RunbookError('bad_argument', `sysctl: ${JSON.stringify(name)} is not a valid sysctl key`);
  }
}

export interface SysctlProbe {
  /** live value (raw, trailing newline removed); 'unknown' when /proc/sys has no such entry */
  live: { kind: 'value'; value: string } | { kind: 'unknown' } | { kind: 'unreadable' };
  file: { kind: 'absent' } | { kind: 'file'; content: string; mode?: string } | { kind: 'other' };
}

/** Reads the framed probe output (lib/modules/common.ts); throws when it is incomplete. */
export function parseSysctlProbe(out: string): SysctlProbe {
  const f = parseFrame({ code: 0, stdout: out, stderr: '' });
  if (isFrameError(f)) throw new Error(`unexpected sysctl probe output: ${f.error}`);
  const liveState = f.str('live_state');
  const fileState = f.str('file_state');
  if (liveState === undefined || fileState === undefined) throw new Error(`unexpected sysctl probe output: ${JSON.stringify(out)}`);
  const mode = f.has('f_raw') && f.str('f_raw') !== 'absent' ? parseStat(f, 'f').mode : (f.str('file_mode') ?? '');
  const live: SysctlProbe['live'] =
    liveState === 'value' ? { kind: 'value', value: (f.str('live') ?? '').replace(/\n+$/, '') } : liveState === 'unknown' ? { kind: 'unknown' } : { kind: 'unreadable' };
  const file: SysctlProbe['file'] =
    fileState === 'file' ? { kind: 'file', content: f.str('file') ?? '', mode: /^[0-7]{3,4}$/.test(mode) ? mode.padStart(4, '0') : undefined } : fileState === 'absent' ? { kind: 'absent' } : { kind: 'other' };
  return { live, file };
}

interface ParsedLine {
  key?: string;
  value?: string;
}

function parseLine(line: string): ParsedLine {
  const t = line.trim();
  if (t === '' || t.startsWith('#') || t.startsWith(';')) return {};
  const i = t.indexOf('=');
  if (i === -1) return {};
  let k = t.slice(0, i).trim();
  if (k.startsWith('-')) k = k.slice(1).trim();
  return { key: canonicalKey(k), value: t.slice(i + 1).trim() };
}

/**
 * The file content after setting (value given) or removing (value undefined) the key. Every other line stays
 * byte-identical. For `present`: an existing single line holding the same normalised value is kept as written;
 * otherwise the first line for the key is replaced by `name = value` and later duplicates dropped; no line: appended.
 */
export function editSysctlFile(content: string, name: string, value: string | undefined): string {
  const key = canonicalKey(name);
  const lines = content.split('\n');
  // a trailing newline leaves one empty last element: not a line of its own
  const hadFinalNewline = content.endsWith('\n');
  if (hadFinalNewline) lines.pop();
  const idx = lines.map((l, i) => (parseLine(l).key === key ? i : -1)).filter((i) => i !== -1);
  if (value === undefined) {
    if (idx.length === 0) return content;
    const kept = lines.filter((_, i) => !idx.includes(i));
    return kept.length === 0 ? '' : kept.join('\n') + (hadFinalNewline ? '\n' : '');
  }
  if (idx.length === 1 && normaliseSysctlValue(parseLine(lines[idx[0]!]!).value ?? '') === value) return content;
  const newLine = `${name} = ${value}`;
  if (idx.length === 0) {
    if (content === '') return newLine + '\n';
    return content + (hadFinalNewline ? '' : '\n') + newLine + '\n';
  }
  const out: string[] = [];
  lines.forEach((l, i) => {
    if (i === idx[0]) out.push(newLine);
    else if (!idx.includes(i)) out.push(l);
  });
  return out.join('\n') + (hadFinalNewline ? '\n' : '');
}

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1 },
    key: { type: 'string', minLength: 1 },
    value: { type: ['string', 'number', 'boolean'] },
    val: { type: ['string', 'number', 'boolean'] },
    state: { type: 'string', enum: ['present', 'absent'] },
    sysctl_file: { type: 'string', minLength: 1 },
    sysctl_set: { type: ['boolean', 'string'] },
    reload: { type: ['boolean', 'string'] },
    ignoreerrors: { type: ['boolean', 'string'] },
  },
};

const sysctl: ModuleDef<SysctlParams, SysctlProbe | ProbeFailed> = {
  name: 'sysctl',
  aliases: ['ansible.posix.sysctl'],
  description: 'set a kernel parameter live and persist it in a sysctl file (only this key is touched)',
  schema,
  prepare(raw) {
    const name = String(raw.name ?? raw.key ?? '').trim();
    if (!name) throw new RunbookError('missing_argument', 'sysctl: name is required');
    if (raw.name !== undefined && raw.key !== undefined) throw new RunbookError('bad_argument', 'sysctl: give name or key, not both');
    checkName(name);
    const state = (raw.state ?? 'present') as 'present' | 'absent';
    const rawValue = raw.value ?? raw.val;
    if (raw.value !== undefined && raw.val !== undefined) throw new RunbookError('bad_argument', 'sysctl: give value or val, not both');
    let value: string | undefined;
    if (state === 'present') {
      if (rawValue === undefined || rawValue === null) throw new RunbookError('missing_argument', `sysctl: value is required for ${name} when state is present`);
      value = normaliseSysctlValue(rawValue);
      if (value === '') throw new RunbookError('bad_argument', `sysctl: empty value for ${name}`);
      if (value.includes('\n')) throw new RunbookError('bad_argument', `sysctl: value for ${name} must be one line`);
    }
    const file = String(raw.sysctl_file ?? '/etc/sysctl.conf');
    if (!file.startsWith('/')) throw new RunbookError('bad_argument', `sysctl: sysctl_file must be an absolute path, got ${file}`);
    const sysctlSet = toBool(raw.sysctl_set, 'sysctl: sysctl_set', true);
    const reload = toBool(raw.reload, 'sysctl: reload', true);
    return {
      name,
      key: canonicalKey(name),
      procPath: `/proc/sys/${sysctlRelPath(name)}`,
      value,
      state,
      sysctl_file: file,
      setLive: sysctlSet || reload,
      ignoreerrors: toBool(raw.ignoreerrors, 'sysctl: ignoreerrors', false),
    };
  },
  probe(p) {
    return { script: sysctlProbeScript(p), parse: parseSysctlState };
  },
  plan(p, probe) {
    return planSysctl(p, probe);
  },
};

/** The read-only probe script: the live value under /proc/sys and the sysctl file. */
export function sysctlProbeScript(p: SysctlParams): string {
  const P = quote(p.procPath);
  const F = quote(p.sysctl_file);
  return inlineProbe([
    PRELUDE,
    `if [ -e ${P} ]; then`,
    `  if v=$(cat -- ${P} 2>/dev/null); then kv live_state value; kv live "$v"; else kv live_state unreadable; fi`,
    `else kv live_state unknown; fi`,
    // the file's mode (of a link, the link's own: as stat -c %a) and size from one stat, which a batch of probes
    // shares (STAT_DECL); its text without a base64 process when it is small plain text (kvtext)
    `p=${F}`,
    statShell('f', 'p', false, p.sysctl_file),
    `if [ -f "$p" ]; then kv file_state file; kvtext file "$p" "$f_sz";`,
    `elif [ -e "$p" ]; then kv file_state other; else kv file_state absent; fi`,
    EPILOGUE,
  ].join('\n'));
}

/** Pure: the probe's output -> State (or the probe's failure). */
export function parseSysctlState(res: ExecResult): SysctlProbe | ProbeFailed {
  try {
    return parseSysctlProbe(res.stdout);
  } catch (e) {
    return { probeFailed: failure('probe_failed', `sysctl: probe failed (rc ${res.code}): ${res.stderr.trim() || (e as Error).message}`) };
  }
}

/** PURE: params + State -> plan. */
export function planSysctl(p: SysctlParams, probe: SysctlProbe | ProbeFailed | null): Plan {
  if (!probe) return failPlan(failure('probe_failed', 'sysctl: no probe result'), undefined, 'no probe result');
  if (isProbeFailed(probe)) return failPlan(probe.probeFailed, undefined, 'probe failed');
  const steps: Step[] = [];
  const diffs: FileDiff[] = [];
  const why: string[] = [];
  const result: Record<string, unknown> = { name: p.name, sysctl_file: p.sysctl_file, state: p.state };
  if (probe.file.kind === 'other') {
    return failPlan(failure('not_a_file', `sysctl: ${p.sysctl_file} exists and is not a regular file`, p.sysctl_file), undefined, 'sysctl_file is not a regular file');
  }
  const liveBefore = probe.live.kind === 'value' ? normaliseSysctlValue(probe.live.value) : undefined;
  if (liveBefore !== undefined) result.live_before = liveBefore;

  if (p.state === 'present') {
    if (probe.live.kind === 'unknown' && !p.ignoreerrors) {
      return failPlan(failure('unknown_key', `unknown sysctl key ${p.name} (no ${p.procPath})`, p.procPath), result, 'unknown key');
    }
    if (probe.live.kind === 'unreadable' && !p.ignoreerrors) {
      return failPlan(failure('unreadable', `sysctl key ${p.name} cannot be read (${p.procPath})`, p.procPath), result, 'unreadable key');
    }
  }

  const before = probe.file.kind === 'file' ? probe.file.content : '';
  const after = editSysctlFile(before, p.name, p.value);
  const fileExists = probe.file.kind === 'file';
  if (after !== before && !(p.state === 'absent' && !fileExists)) {
    steps.push({ kind: 'write', path: p.sysctl_file, content: after, mode: probe.file.kind === 'file' ? (probe.file.mode ?? '0644') : '0644', describe: `${p.state === 'present' ? 'set' : 'remove'} ${p.name} in ${p.sysctl_file}` });
    diffs.push({ label: p.sysctl_file, before: showEscapes(before), after: showEscapes(after) });
    why.push(p.state === 'present' ? `${p.sysctl_file}: ${p.name} = ${p.value}` : `${p.sysctl_file}: remove ${p.name}`);
  }

  if (p.state === 'present' && p.value !== undefined) {
    result.value = p.value;
    if (probe.live.kind === 'value' && p.setLive && liveBefore !== p.value) {
      steps.push({ kind: 'run', script: `printf '%s\\n' ${quote(p.value)} > ${quote(p.procPath)}`, describe: `sysctl -w ${p.name}=${p.value}` });
      diffs.push({ label: `sysctl ${p.name} (live)`, before: `${liveBefore}\n`, after: `${p.value}\n` });
      why.push(`live ${p.name}: ${liveBefore} -> ${p.value}`);
    }
    if (probe.live.kind !== 'value') why.push(`live value not set (${probe.live.kind} key, ignoreerrors)`);
  }

  if (steps.length === 0) {
    const reason =
      p.state === 'present'
        ? `${p.name} is ${p.value}${p.setLive && probe.live.kind === 'value' ? ' live and' : ''} in ${p.sysctl_file}`
        : `${p.name} is not in ${p.sysctl_file}`;
    return { steps, reason, result };
  }
  return { steps, reason: why.join('; '), diffs, result };
}

export default sysctl;
