/**
 * command: run a program (argv, no shell features) unless `creates` exists / `removes` does not.
 * The free-form text is split like Python's shlex.split, as Ansible's command module does.
 * Also the engine of shell.ts (the text is then run by /bin/sh -c, or by `executable`).
 */
import { split } from 'shlex';
import type { ExecResult } from '../connection/types.js';
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type Probe } from './types.js';
import { EPILOGUE, PRELUDE, badArg, inlineProbe, frameProbe, namesFor, quote, splitLines, type FrameState } from './common.js';

export interface CommandParams {
  shell: boolean;
  /** command: the argv to run */
  argv?: string[];
  /** shell: the script text */
  text?: string;
  executable?: string;
  creates?: string;
  removes?: string;
  chdir?: string;
  stdin?: string;
  stripEmptyEnds: boolean;
}

/**
 * A sh word for a glob pattern (creates/removes accept globs, like Ansible's glob.glob): `*`, `?` and simple
 * `[...]` classes stay active, every other character is quoted.
 */
export function globWord(pattern: string): string {
  let out = '';
  let lit = '';
  const flush = (): void => {
    if (lit) out += quote(lit);
    lit = '';
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' || c === '?') {
      flush();
      out += c;
      continue;
    }
    if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      const body = end > 0 ? pattern.slice(i + 1, end) : '';
      if (end > 0 && /^[!^]?[A-Za-z0-9._-]+$/.test(body)) {
        flush();
        out += `[${body.replace(/^\^/, '!')}]`;
        i = end;
        continue;
      }
    }
    lit += c;
  }
  flush();
  return out || "''";
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function prepareCommand(params: Record<string, unknown>, shell: boolean): CommandParams {
  const raw = str(params._raw_params) ?? str(params.cmd);
  if (params._raw_params !== undefined && params.cmd !== undefined) throw badArg('give the command as free-form text or as cmd, not both');
  const argvIn = params.argv as unknown[] | undefined;
  if (raw !== undefined && argvIn !== undefined) throw badArg('only command or argv can be given, not both');
  if ((raw === undefined || raw.trim() === '') && (!argvIn || argvIn.length === 0)) throw badArg('no command given');
  const p: CommandParams = { shell, stripEmptyEnds: params.strip_empty_ends !== false };
  if (shell) {
    p.text = raw!;
    if (typeof params.executable === 'string' && params.executable !== '') p.executable = params.executable;
  } else if (argvIn) {
    p.argv = argvIn.map((a) => String(a));
  } else {
    try {
      p.argv = split(raw!);
    } catch (e) {
      throw badArg(`cannot split the command line: ${(e as Error).message}`);
    }
    if (p.argv.length === 0) throw badArg('no command given');
  }
  for (const k of ['creates', 'removes', 'chdir'] as const) {
    const v = str(params[k]);
    if (v !== undefined && v !== '') p[k] = v;
  }
  if (typeof params.stdin === 'string') {
    p.stdin = params.stdin + (params.stdin_add_newline === false ? '' : '\n');
  }
  return p;
}

/** The probe (only with creates/removes): State is the frame of creates/removes/chdir_missing records, or null without one. */
export function probeCommand(p: CommandParams): Probe<FrameState> | null {
  if (p.creates === undefined && p.removes === undefined) return null;
  return frameProbe(probeCommandScript(p));
}

export function probeCommandScript(p: CommandParams): string {
  const lines = [
    PRELUDE,
    `rb_any() { for _f in "$@"; do if [ -e "$_f" ] || [ -L "$_f" ]; then return 0; fi; done; return 1; }`,
  ];
  let indent = '';
  if (p.chdir !== undefined) {
    lines.push(`if cd -- ${quote(p.chdir)} 2>/dev/null; then`);
    indent = '  ';
  }
  for (const k of ['creates', 'removes'] as const) {
    const v = p[k];
    if (v !== undefined) lines.push(`${indent}if rb_any ${globWord(v)}; then kv ${k} 1; else kv ${k} 0; fi`);
  }
  if (p.chdir !== undefined) lines.push(`else`, `  kv chdir_missing 1`, `fi`);
  lines.push(EPILOGUE);
  // with chdir the probe changes directory: a subshell of its own
  return p.chdir === undefined ? inlineProbe(lines.join('\n')) : lines.join('\n');
}

function displayCmd(p: CommandParams): string | string[] {
  return p.shell ? p.text! : p.argv!;
}

export function runScript(p: CommandParams): string {
  const cd = p.chdir !== undefined ? `cd -- ${quote(p.chdir)} || exit 1\n` : '';
  if (p.shell) return `${cd}exec ${quote(p.executable ?? '/bin/sh')} -c ${quote(p.text!)}`;
  return `${cd}exec ${p.argv!.map((a) => quote(a)).join(' ')}`;
}

export function planCommand(p: CommandParams, f: FrameState | null): Plan {
  const cmd = displayCmd(p);
  if (p.creates !== undefined || p.removes !== undefined) {
    if (f === null) return failPlan(failure('probe_failed', 'internal: the probe did not run'));
    if (isProbeFailed(f)) return failPlan(f.probeFailed);
    if (f.str('chdir_missing') === '1') {
      return failPlan(failure('missing_path', `Unable to change directory before execution: ${p.chdir} does not exist`, p.chdir), { cmd });
    }
    const skipped = (msg: string): Plan => ({
      steps: [],
      reason: msg,
      result: { cmd, rc: 0, stdout: '', stderr: '', stdout_lines: [], stderr_lines: [], msg: `Did not run command since ${msg}` },
    });
    if (p.creates !== undefined && f.str('creates') === '1') return skipped(`creates: ${p.creates} exists`);
    if (p.removes !== undefined && f.str('removes') !== '1') return skipped(`removes: ${p.removes} does not exist`);
  }
  const describe = p.shell ? p.text! : p.argv!.join(' ');
  const step = {
    kind: 'run' as const,
    script: runScript(p),
    capture: true,
    allowFailure: true,
    describe,
    ...(p.stdin !== undefined ? { input: p.stdin } : {}),
  };
  const what = p.shell ? 'shell command' : 'command';
  return { steps: [step], reason: `${what} would run`, doneReason: `${what} ran`, result: { cmd } };
}

export function finishCommand(p: CommandParams, outputs: ExecResult[], plan: Plan): Record<string, unknown> {
  const out = outputs[outputs.length - 1];
  if (!out) return { ...(plan.result ?? {}) };
  // Ansible (strip_empty_ends, default true): stdout.rstrip("\r\n") -- every trailing CR/LF, not just one
  const strip = (s: string): string => (p.stripEmptyEnds ? s.replace(/[\r\n]+$/, '') : s);
  const stdout = strip(out.stdout);
  const stderr = strip(out.stderr);
  const r: Record<string, unknown> = {
    cmd: displayCmd(p),
    stdout,
    stderr,
    rc: out.code,
    stdout_lines: splitLines(stdout),
    stderr_lines: splitLines(stderr),
    failed: out.code !== 0,
  };
  if (out.code !== 0) r.msg = 'non-zero return code';
  return r;
}

const common = {
  _raw_params: { type: 'string' },
  cmd: { type: 'string' },
  creates: { type: 'string' },
  removes: { type: 'string' },
  chdir: { type: 'string' },
  stdin: { type: 'string' },
  stdin_add_newline: { type: 'boolean' },
  strip_empty_ends: { type: 'boolean' },
};

export const commandSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { ...common, argv: { type: 'array', items: { type: ['string', 'number'] }, minItems: 1 } },
};

export const shellSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { ...common, executable: { type: 'string' } },
};

const command: ModuleDef<CommandParams, FrameState> = {
  name: 'command',
  aliases: namesFor('command'),
  description: 'Run a program with arguments (no shell), unless creates exists / removes does not',
  schema: commandSchema,
  freeForm: '_raw_params',
  prepare: (params) => prepareCommand(params, false),
  probe: probeCommand,
  plan: planCommand,
  finish: finishCommand,
};

export default command;
