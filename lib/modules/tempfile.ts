/**
 * tempfile (ansible.builtin.tempfile): a new temporary file or directory (mktemp), always changed, as Ansible.
 * path: the directory (default: the host's TMPDIR, else /tmp), prefix (default 'ansible.'), suffix. The result's
 * `path` is the created name; in check mode nothing is created and the result has no path (its name is random).
 */
import type { ExecResult } from '../connection/types.js';
import type { ModuleDef, Plan } from './types.js';
import { badArg, namesFor, quote } from './common.js';

export interface TempfileParams {
  state: 'file' | 'directory';
  path?: string;
  prefix: string;
  suffix: string;
}

export const tempfileSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    state: { enum: ['file', 'directory'] },
    path: { type: 'string' },
    prefix: { type: 'string' },
    suffix: { type: 'string' },
  },
};

export function prepareTempfile(raw: Record<string, unknown>): TempfileParams {
  const p: TempfileParams = { state: (raw.state as TempfileParams['state'] | undefined) ?? 'file', prefix: raw.prefix === undefined || raw.prefix === null ? 'ansible.' : String(raw.prefix), suffix: raw.suffix === undefined || raw.suffix === null ? '' : String(raw.suffix) };
  if (p.prefix.includes('/') || p.suffix.includes('/')) throw badArg('tempfile: prefix and suffix cannot contain "/"');
  if (raw.path !== undefined && raw.path !== null && raw.path !== '') p.path = String(raw.path);
  return p;
}

export function tempfileCommand(p: TempfileParams): string {
  // mktemp's template: the X run must be last, so the suffix goes through --suffix (GNU coreutils)
  const dir = p.path !== undefined ? quote(p.path) : '"${TMPDIR:-/tmp}"';
  return `mktemp ${p.state === 'directory' ? '-d ' : ''}-p ${dir}${p.suffix ? ` --suffix=${quote(p.suffix)}` : ''} ${quote(`${p.prefix}XXXXXXXX`)}`;
}

export function planTempfile(p: TempfileParams): Plan {
  return {
    steps: [{ kind: 'run', script: tempfileCommand(p), capture: true, describe: `mktemp (${p.state})` }],
    reason: `a new temporary ${p.state} would be created in ${p.path ?? '$TMPDIR'}`,
    doneReason: `created a temporary ${p.state}`,
    result: { state: p.state },
  };
}


const tempfile: ModuleDef<TempfileParams, null> = {
  name: 'tempfile',
  aliases: namesFor('tempfile'),
  description: 'a new temporary file or directory (mktemp); always changed',
  schema: tempfileSchema,
  prepare: prepareTempfile,
  probe: () => null,
  plan: (p) => planTempfile(p),
  finish: (p, outputs) => ({ path: (outputs[0]?.stdout ?? '').replace(/\n$/, ''), state: p.state }),
};

export default tempfile;
