import { spawnSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const BIN = path.join(ROOT, 'bin', 'runbook.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the real CLI (compiled dist/, as a user runs it). Bounded in time. */
export function cli(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: '1', CI: 'true', ...opts.env },
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function cliAsync(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, NO_COLOR: '1', CI: 'true', ...opts.env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** JSON lines from --format json */
export function events(stdout: string): Record<string, any>[] {
  return stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

export interface TracedRun extends CliResult {
  /** remote commands per task title, one number per host (bench/trace-commands.js) */
  trace: Record<string, number[]>;
}

/**
 * `runbook apply PLAYBOOK ...args` with bench/trace-commands.js preloaded: the run's output and the remote commands
 * each task sent per host. The trace is written under `dir`, which is also the working directory.
 */
export function tracedApply(playbook: string, args: string[], dir: string, env: Record<string, string> = {}): Promise<TracedRun> {
  const traceFile = path.join(dir, `trace-${Math.random().toString(36).slice(2)}.json`);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', path.join(ROOT, 'bench', 'trace-commands.js'), BIN, 'apply', playbook, ...args], {
      env: { ...process.env, RBBENCH_TRACE: traceFile, NO_COLOR: '1', ...env },
      cwd: dir,
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => p.kill('SIGKILL'), 180_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      const trace = fs.existsSync(traceFile) ? JSON.parse(fs.readFileSync(traceFile, 'utf8')) : {};
      resolve({ code: code ?? -1, stdout, stderr, trace });
    });
  });
}

/** a run's output lines with a directory name and timings taken out, for comparing two runs */
export function normRunOutput(s: string, dir: string): string[] {
  return s
    .replaceAll(dir, 'DIR')
    .replace(/\d+(\.\d+)?\s*(ms|s)\b/g, 'T')
    .split('\n')
    .filter((l) => !/^(real|user|sys)\b/.test(l));
}
