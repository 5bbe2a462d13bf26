/**
 * script: copy a controller-side script (the role's files/, then the playbook directory) to a temp file on the
 * host and run it there with its arguments (the rest of the free-form text, read by the host's sh as Ansible's
 * does), unless `creates` exists / `removes` does not (the same read-only probe as command). `chdir` first;
 * `executable` runs the script with that interpreter. Always changed when it runs; a non-zero exit fails with
 * 'non-zero return code' and the rc/stdout/stderr, as Ansible's script. The temp file is removed afterwards.
 */
import { readFileSync } from 'node:fs';
import { split } from 'shlex';
import { RunbookError } from '../errors.js';
import type { ExecResult } from '../connection/types.js';
import type { ModuleContext, ModuleDef, Plan } from './types.js';
import { badArg, namesFor, quote, splitLines, type FrameState } from './common.js';
import { planCommand, probeCommand, type CommandParams } from './command.js';

export interface ScriptParams {
  /** the script as given, and its arguments (sh text) */
  name: string;
  args: string;
  content: Buffer;
  executable?: string;
  creates?: string;
  removes?: string;
  chdir?: string;
}

export function prepareScript(params: Record<string, unknown>, ctx: ModuleContext): ScriptParams {
  const raw = typeof params._raw_params === 'string' ? params._raw_params : typeof params.cmd === 'string' ? params.cmd : undefined;
  if (params._raw_params !== undefined && params.cmd !== undefined) throw badArg('script: give the script as free-form text or as cmd, not both');
  if (raw === undefined || raw.trim() === '') throw badArg('script: no script given');
  let words: string[];
  try {
    words = split(raw);
  } catch (e) {
    throw badArg(`script: cannot split the command line: ${(e as Error).message}`);
  }
  const name = words[0]!;
  // the arguments are the rest of the text as written (the host's sh reads them, as with Ansible)
  const args = raw.trim().replace(/^(?:'[^']*'|"(?:[^"\\]|\\.)*"|[^\s'"])+/, '').trim();
  const found = ctx.findFile('files', name);
  if (!found) throw new RunbookError('missing_file', `script: could not find or access '${name}' (looked in the role's files/ and the playbook directory)`);
  const p: ScriptParams = { name, args, content: readFileSync(found) };
  for (const k of ['executable', 'creates', 'removes', 'chdir'] as const) {
    const v = params[k];
    if (typeof v === 'string' && v !== '') p[k] = v;
  }
  return p;
}

/** The command-module view of the script (for the creates/removes/chdir probe and its skip results). */
function asCommand(p: ScriptParams): CommandParams {
  const c: CommandParams = { shell: true, text: `${p.name}${p.args ? ` ${p.args}` : ''}`, stripEmptyEnds: false };
  if (p.creates !== undefined) c.creates = p.creates;
  if (p.removes !== undefined) c.removes = p.removes;
  if (p.chdir !== undefined) c.chdir = p.chdir;
  return c;
}

export function runScriptText(p: ScriptParams): string {
  const run = p.executable !== undefined ? `${quote(p.executable)} "$t"` : `"$t"`;
  return [
    `t=$(mktemp "\${TMPDIR:-/tmp}/runbook-script.XXXXXXXXXX") || exit 1`,
    `trap 'rm -f -- "$t"' EXIT`,
    `cat > "$t" || exit 1`,
    `chmod 0700 "$t" || exit 1`,
    p.chdir !== undefined ? `cd -- ${quote(p.chdir)} || exit 1` : '',
    `${run}${p.args ? ` ${p.args}` : ''} </dev/null`,
  ].filter(Boolean).join('\n');
}

export function planScript(p: ScriptParams, f: FrameState | null): Plan {
  const skip = planCommand(asCommand(p), f);
  if (skip.fail || skip.steps.length === 0) return skip;
  return {
    steps: [{ kind: 'run', script: runScriptText(p), input: p.content, capture: true, allowFailure: true, describe: `script ${p.name}` }],
    reason: `script ${p.name} would run`,
    doneReason: `script ${p.name} ran`,
  };
}

export function finishScript(_p: ScriptParams, outputs: ExecResult[]): Record<string, unknown> {
  const out = outputs[outputs.length - 1];
  if (!out) return {};
  const r: Record<string, unknown> = { rc: out.code, stdout: out.stdout, stderr: out.stderr, stdout_lines: splitLines(out.stdout), stderr_lines: splitLines(out.stderr) };
  if (out.code !== 0) Object.assign(r, { failed: true, msg: 'non-zero return code' });
  return r;
}

const script: ModuleDef<ScriptParams, FrameState> = {
  name: 'script',
  aliases: namesFor('script'),
  description: 'Copy a controller-side script to the host and run it (creates/removes, chdir, executable)',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      _raw_params: { type: 'string' },
      cmd: { type: 'string' },
      creates: { type: 'string' },
      removes: { type: 'string' },
      chdir: { type: 'string' },
      executable: { type: 'string' },
    },
  },
  freeForm: '_raw_params',
  prepare: prepareScript,
  probe: (p) => probeCommand(asCommand(p)),
  plan: planScript,
  finish: finishScript,
};

export default script;
