/**
 * The one interpreter that mutates hosts: it runs a plan's steps on a connection. Nothing else in runbook writes
 * to a host (probes are read-only by contract).
 */
import type { Connection, ExecResult, RunOptions } from '../connection/types.js';
import { RunbookError } from '../errors.js';
import { randomBytes } from 'node:crypto';
import { atomicWriteScript, batchScript, inlineContent, sharedAt, splitBatch, type BatchUnit } from '../connection/scripts.js';
import type { Failure, Step } from '../modules/types.js';
import { PRELUDE } from '../modules/probe-frame.js';
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
    const { script, input } = stepCommand(step);
    const r = await conn.run(script, { ...base, input });
    outputs.push(r);
    if (r.code !== 0 && !(step.kind === 'run' && step.allowFailure)) {
      const why = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ') || `exit code ${r.code}`;
      throw new StepFailed(`${describeStep(step)} failed: ${why}`, step, r, outputs);
    }
  }
  return outputs;
}

/** The command (script and stdin) a step runs as, exactly as applySteps sends it. */
function stepCommand(step: Step): { script: string; input?: Buffer } {
  if (step.kind === 'write') {
    // text content may hold escaped non-UTF-8 bytes of a file the probe read (lib/modules/bytes.ts)
    const content = typeof step.content === 'string' ? encodeText(step.content) : step.content;
    // small text goes inside the script (no cat, no size check on the host); the rest streams on stdin
    const inline = inlineContent(content);
    const opts = { mode: step.mode, owner: step.owner, group: step.group, backup: step.backup, validate: step.validate };
    if (inline !== undefined) return { script: atomicWriteScript(step.path, { ...opts, content: inline }) };
    return { script: atomicWriteScript(step.path, { ...opts, size: content.length }), input: content };
  }
  return { script: step.script, input: step.input === undefined ? undefined : Buffer.isBuffer(step.input) ? step.input : Buffer.from(step.input) };
}

/**
 * The steps of several plans (loop items) in ONE remote command (batchScript): each plan's steps run in order and
 * stop at its first failing step, as applySteps does, and the other plans' steps still run. Per plan: the outputs of
 * its steps, or the StepFailed applySteps would have thrown, or the error that ended the batch (a dropped
 * connection fails every plan whose steps had not all run).
 */
/**
 * A batch's command line must fit the host's limit (MAX_COMMAND_BYTES, and a pct or jump wrapper quotes it once
 * more): groups of consecutive units whose scripts add up to at most BATCH_SCRIPT_BUDGET bytes go in one command
 * each (a single larger unit goes alone, as it would without batching).
 */
export const BATCH_SCRIPT_BUDGET = 32 * 1024;

/**
 * What a probe script adds to a batch's command: the probes' prelude travels once per batch (batchScript's shared
 * text), so it is not counted per probe; its one copy (~2 KB) is well inside the margin to MAX_COMMAND_BYTES.
 */
export function probeSize(script: string): number {
  return script.length + 200 - (sharedAt(script, PRELUDE) >= 0 ? PRELUDE.length : 0);
}

function chunks(sizes: number[]): number[][] {
  const out: number[][] = [];
  let cur: number[] = [];
  let total = 0;
  sizes.forEach((n, i) => {
    if (cur.length && total + n > BATCH_SCRIPT_BUDGET) {
      out.push(cur);
      cur = [];
      total = 0;
    }
    cur.push(i);
    total += n;
  });
  if (cur.length) out.push(cur);
  return out;
}

export async function applyBatch(conn: Connection, plans: Step[][], base: RunOptions): Promise<Array<ExecResult[] | Error>> {
  const sizes = plans.map(planSize);
  const out: Array<ExecResult[] | Error> = new Array(plans.length);
  for (const group of chunks(sizes)) {
    const res = await applyBatchOne(conn, group.map((i) => plans[i]!), base);
    group.forEach((i, k) => (out[i] = res[k]!));
  }
  return out;
}

async function applyBatchOne(conn: Connection, plans: Step[][], base: RunOptions): Promise<Array<ExecResult[] | Error>> {
  return (await applyAndProbeOne(conn, plans, [], base)).plans;
}

/**
 * One plan's steps in ONE remote command (applySteps sends one per step): the same outputs, and the same StepFailed
 * at the first failing step. Item by item (RUNBOOK_BATCH=0), or when the scripts would not fit one command line, one
 * command per step as before.
 */
export async function applyPlan(conn: Connection, steps: Step[], base: RunOptions): Promise<ExecResult[]> {
  if (steps.length < 2 || process.env['RUNBOOK_BATCH'] === '0' || planSize(steps) > BATCH_SCRIPT_BUDGET) return applySteps(conn, steps, base);
  const r = (await applyAndProbeOne(conn, [steps], [], base)).plans[0]!;
  if (r instanceof Error) throw r;
  return r;
}

export function planSize(steps: Step[]): number {
  return steps.reduce((n, st) => n + stepCommand(st).script.length + 200, 0);
}

/**
 * The steps of several plans (in order; each stops at its first failing step, the others still run) and then some
 * probe scripts (each runs whatever the steps did), in ONE remote command when they fit (BATCH_SCRIPT_BUDGET), else
 * the steps in as few commands as fit and then the probes: the same order on the host either way. A probe's result
 * is undefined when the command ended before it ran.
 */
export async function applyAndProbe(conn: Connection, plans: Step[][], probes: string[], base: RunOptions): Promise<{ plans: Array<ExecResult[] | Error>; probes: Array<ExecResult | undefined> }> {
  const size = plans.reduce((n, steps) => n + planSize(steps), 0) + probes.reduce((n, p) => n + probeSize(p), 0);
  if (size <= BATCH_SCRIPT_BUDGET) return applyAndProbeOne(conn, plans, probes, base);
  const res = plans.length ? await applyBatch(conn, plans, base) : [];
  const outs = probes.length ? await probeBatch(conn, probes, base) : [];
  return { plans: res, probes: outs };
}

/**
 * A plan's steps and then another task's probe script in ONE remote command (pipelined probe, ADR 0006): the steps
 * run as applySteps runs them (in order, stopping at the first failing one), then the probe runs whatever they did,
 * so it reads the host as it is after every step that ran. `probe` is the probe's result as if it had run alone, or
 * undefined when the command ended before it ran. Returns null, having run nothing, when the two do not fit one
 * command line (BATCH_SCRIPT_BUDGET): the caller applies the steps alone.
 */
export async function applyThenProbe(conn: Connection, steps: Step[], probe: string, base: RunOptions): Promise<{ steps: ExecResult[] | Error; probe?: ExecResult } | null> {
  if (planSize(steps) + probe.length + 200 > BATCH_SCRIPT_BUDGET) return null; // one probe: the prelude is in it
  const r = await applyAndProbeOne(conn, [steps], [probe], base);
  return { steps: r.plans[0]!, probe: r.probes[0] };
}

async function applyAndProbeOne(conn: Connection, plans: Step[][], probes: string[], base: RunOptions): Promise<{ plans: Array<ExecResult[] | Error>; probes: Array<ExecResult | undefined> }> {
  const units: BatchUnit[] = [];
  const owner: Array<{ plan: number; step: Step }> = [];
  plans.forEach((steps, p) => {
    for (const step of steps) {
      const c = stepCommand(step);
      units.push({ script: c.script, input: c.input, group: p, allowFailure: step.kind === 'run' && step.allowFailure === true });
      owner.push({ plan: p, step });
    }
  });
  // probes after every step, each in a group of its own: it runs whatever the steps did
  const first = units.length;
  probes.forEach((script, k) => units.push({ script, group: plans.length + k, probe: true }));
  const nonce = randomBytes(12).toString('hex');
  const b = batchScript(units, nonce, [PRELUDE]);
  const r = await conn.run(b.script, b.input !== undefined ? { ...base, input: b.input } : base);
  const { units: res, rest } = splitBatch(r, units.length, nonce);
  const out: Array<ExecResult[] | Error> = plans.map(() => []);
  const done = new Set<number>();
  owner.forEach(({ plan, step }, i) => {
    if (done.has(plan)) return;
    const outputs = out[plan] as ExecResult[];
    const u = res[i];
    if (u === undefined) {
      const why = (rest.stderr || rest.stdout).trim().split('\n').slice(-3).join(' / ') || `exit code ${rest.code}`;
      out[plan] = new StepFailed(`${describeStep(step)} did not run: the batch of steps ended early: ${why}`, step, rest, outputs);
      done.add(plan);
      return;
    }
    outputs.push(u);
    if (u.code !== 0 && !(step.kind === 'run' && step.allowFailure)) {
      const why = (u.stderr || u.stdout).trim().split('\n').slice(-3).join(' / ') || `exit code ${u.code}`;
      out[plan] = new StepFailed(`${describeStep(step)} failed: ${why}`, step, u, outputs);
      done.add(plan);
    }
  });
  return { plans: out, probes: probes.map((_, k) => res[first + k]) };
}

/** Several probe scripts in ONE remote command; per script, its result as if it had run alone. */
export async function probeBatch(conn: Connection, scripts: string[], base: RunOptions): Promise<ExecResult[]> {
  const out: ExecResult[] = new Array(scripts.length);
  for (const group of chunks(scripts.map(probeSize))) {
    const res = await probeBatchOne(conn, group.map((i) => scripts[i]!), base);
    group.forEach((i, k) => (out[i] = res[k]!));
  }
  return out;
}

async function probeBatchOne(conn: Connection, scripts: string[], base: RunOptions): Promise<ExecResult[]> {
  if (scripts.length === 1) return [await conn.run(scripts[0]!, base)];
  const nonce = randomBytes(12).toString('hex');
  const b = batchScript(scripts.map((script, i) => ({ script, group: i, probe: true })), nonce, [PRELUDE]);
  const r = await conn.run(b.script, base);
  const { units, rest } = splitBatch(r, scripts.length, nonce);
  // a probe that never ran (the batch died): its parse sees a failed command with the batch's error
  return units.map((u) => u ?? { code: rest.code || 1, stdout: '', stderr: rest.stderr || rest.stdout || 'the batch of probes ended early' });
}
