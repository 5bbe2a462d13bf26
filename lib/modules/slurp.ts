/** slurp: read a file from the host, base64-encoded (`content`, `encoding: base64`, `source`). Probe only: never a change. */
import type { ExecResult } from '../connection/types.js';
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type Probe, type ProbeFailed } from './types.js';
import { EPILOGUE, PRELUDE, badArg, frameState, namesFor, quote } from './common.js';

export interface SlurpParams {
  src: string;
}

export function prepareSlurp(params: Record<string, unknown>): SlurpParams {
  const given = (['src', 'path'] as const).filter((k) => params[k] !== undefined);
  if (given.length !== 1) throw badArg(given.length ? 'src and path are aliases: give one' : 'src is required');
  return { src: String(params[given[0]!]) };
}

/** What the probe read: the file's bytes, or why it could not (a directory, absent, unreadable). */
export type SlurpRead = { content: Buffer } | { err: 'dir' | 'absent' | 'unreadable' | string };

export type SlurpState = SlurpRead | ProbeFailed;

/** Pure: the probe's output -> SlurpState. */
export function parseSlurpState(out: ExecResult): SlurpState {
  const f = frameState(out);
  if (isProbeFailed(f)) return f;
  const err = f.str('err');
  return err !== undefined ? { err } : { content: f.buf('content') ?? Buffer.alloc(0) };
}

export function probeSlurp(p: SlurpParams): Probe<SlurpState> {
  return { script: probeSlurpScript(p), parse: parseSlurpState };
}

export function probeSlurpScript(p: SlurpParams): string {
  return [
    PRELUDE,
    `p=${quote(p.src)}`,
    `if [ -d "$p" ]; then kv err dir; elif [ ! -e "$p" ]; then kv err absent; elif [ ! -r "$p" ]; then kv err unreadable; else kvfile content "$p"; fi`,
    EPILOGUE,
  ].join('\n');
}

export function planSlurp(p: SlurpParams, s: SlurpState): Plan {
  if (isProbeFailed(s)) return failPlan(s.probeFailed);
  const err = 'err' in s ? s.err : undefined;
  const msgs: Record<string, string> = {
    dir: `source is a directory and must be a file: ${p.src}`,
    absent: `file not found: ${p.src}`,
    unreadable: `file is not readable: ${p.src}`,
  };
  if (err !== undefined) {
    return failPlan(failure(err === 'absent' ? 'missing_path' : err === 'dir' ? 'is_directory' : 'unreadable', msgs[err] ?? `cannot read ${p.src}`, p.src));
  }
  const data = 'content' in s ? s.content : Buffer.alloc(0);
  return {
    steps: [],
    reason: `slurp is read-only: read ${data.length} bytes of ${p.src}`,
    result: { content: data.toString('base64'), encoding: 'base64', source: p.src },
  };
}

const slurp: ModuleDef<SlurpParams, SlurpState> = {
  name: 'slurp',
  aliases: namesFor('slurp'),
  description: 'Read a file from the host as base64 (content, encoding, source); never changes anything',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: { src: { type: 'string', minLength: 1 }, path: { type: 'string', minLength: 1 } },
  },
  prepare: prepareSlurp,
  probe: probeSlurp,
  plan: planSlurp,
};

export default slurp;
