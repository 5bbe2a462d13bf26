/**
 * raw: run a command line over the connection as it is (free form; no probe, no python on the host needed).
 * Always changed, as Ansible's raw; a non-zero exit fails the task with 'non-zero return code'. `executable`
 * runs the text with that shell (`EXECUTABLE -c TEXT`), else the connection's sh runs it.
 * Ansible skips raw in check mode (reports "skipped"); runbook's check mode says it would run (changed), which is
 * what apply then does.
 */
import type { ExecResult } from '../connection/types.js';
import type { ModuleDef, Plan } from './types.js';
import { badArg, namesFor, quote, splitLines } from './common.js';

export interface RawParams {
  text: string;
  executable?: string;
}

export function prepareRaw(params: Record<string, unknown>): RawParams {
  const text = typeof params._raw_params === 'string' ? params._raw_params : undefined;
  if (text === undefined || text.trim() === '') throw badArg('raw: no command given (raw takes the command as free-form text)');
  const p: RawParams = { text };
  if (typeof params.executable === 'string' && params.executable !== '') p.executable = params.executable;
  return p;
}

export function planRaw(p: RawParams): Plan {
  const script = p.executable !== undefined ? `exec ${quote(p.executable)} -c ${quote(p.text)}` : p.text;
  return {
    steps: [{ kind: 'run', script, capture: true, allowFailure: true, describe: p.text }],
    reason: 'raw command would run (raw is always changed)',
    doneReason: 'raw command ran',
  };
}

export function finishRaw(_p: RawParams, outputs: ExecResult[]): Record<string, unknown> {
  const out = outputs[outputs.length - 1];
  if (!out) return {};
  const r: Record<string, unknown> = {
    rc: out.code,
    stdout: out.stdout,
    stderr: out.stderr,
    stdout_lines: splitLines(out.stdout),
    stderr_lines: splitLines(out.stderr),
  };
  if (out.code !== 0) Object.assign(r, { failed: true, msg: 'non-zero return code' });
  return r;
}

const raw: ModuleDef<RawParams> = {
  name: 'raw',
  aliases: namesFor('raw'),
  description: 'Run a command line as it is over the connection (no python needed); always changed',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: { _raw_params: { type: 'string' }, executable: { type: 'string' } },
  },
  freeForm: '_raw_params',
  prepare: prepareRaw,
  probe: () => null,
  plan: (p) => planRaw(p),
  finish: finishRaw,
};

export default raw;
