/**
 * The one interpreter that mutates hosts: it runs a plan's steps on a connection. Nothing else in runbook writes
 * to a host (probes are read-only by contract).
 */
import type { Connection, ExecResult, RunOptions } from '../connection/types.js';
import { RunbookError } from '../errors.js';
import { atomicWriteScript } from '../connection/scripts.js';
import type { Failure, Step } from '../modules/types.js';
import { encodeText } from '../modules/bytes.js';

/** A step that failed: its structured failure (`code` 'step_failed', the `path` a write was for) and the outputs so far. */
export class StepFailed extends RunbookError {
  readonly path?: string;
  constructor(
    message: string,
    readonly step: Step,
    readonly result: ExecResult,
    readonly outputs: ExecResult[],
  ) {
    super('step_failed', message);
    this.name = 'StepFailed';
    if (step.kind === 'write') this.path = step.path;
  }

  get failure(): Failure {
    return this.path === undefined ? { code: this.code, message: this.message } : { code: this.code, path: this.path, message: this.message };
  }
}

export function describeStep(s: Step): string {
  if (s.describe) return s.describe;
  return s.kind === 'write' ? `write ${s.path}` : s.script.length > 80 ? s.script.slice(0, 77) + '...' : s.script;
}

/** Runs the steps in order; stops at the first failing one. Returns the outputs of all steps run. */
export async function applySteps(conn: Connection, steps: Step[], base: RunOptions): Promise<ExecResult[]> {
  const outputs: ExecResult[] = [];
  for (const step of steps) {
    let r: ExecResult;
    if (step.kind === 'write') {
      // text content may hold escaped non-UTF-8 bytes of a file the probe read (lib/modules/bytes.ts)
      const content = typeof step.content === 'string' ? encodeText(step.content) : step.content;
      const script = atomicWriteScript(step.path, { mode: step.mode, owner: step.owner, group: step.group, size: content.length, backup: step.backup, validate: step.validate });
      r = await conn.run(script, { ...base, input: content });
    } else {
      r = await conn.run(step.script, { ...base, input: step.input });
    }
    outputs.push(r);
    if (r.code !== 0 && !(step.kind === 'run' && step.allowFailure)) {
      const why = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ') || `exit code ${r.code}`;
      throw new StepFailed(`${describeStep(step)} failed: ${why}`, step, r, outputs);
    }
  }
  return outputs;
}
