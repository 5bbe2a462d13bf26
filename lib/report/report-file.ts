/** --report FILE.json: a run summary per host and per task (status, changed, duration, diff, debug output), written at the end. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Recap, RunEvent } from '../executor/events.js';

export interface TaskEntry {
  task: string;
  file: string;
  line: number;
  status: string;
  changed: boolean;
  reason: string;
  duration_ms: number;
  diff: unknown;
  /** what a debug task showed */
  output: string | null;
}

/** The file's shape (what `runbook report merge` reads and writes). */
export interface ReportBody {
  playbook: string;
  check: boolean;
  exit_code: number | null;
  duration_ms: number | null;
  recap: Recap[];
  hosts: Record<string, TaskEntry[]>;
}

/** Written to a temporary file in the same directory and renamed: a reader never sees half a report. */
export function writeReportBody(file: string, body: ReportBody): void {
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(body, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

export class ReportFile {
  private hosts = new Map<string, TaskEntry[]>();
  private end?: Extract<RunEvent, { type: 'run:end' }>;
  private playbook = '';
  constructor(private readonly file: string) {}
  on = (e: RunEvent): void => {
    if (e.type === 'run:start') this.playbook = e.playbook;
    if (e.type === 'task:result') {
      const list = this.hosts.get(e.result.host) ?? [];
      list.push({ task: e.task, file: e.pos.file, line: e.pos.line, status: e.result.status, changed: e.result.status === 'changed', reason: e.result.reason, duration_ms: e.result.durationMs, diff: e.result.diffs ?? null, output: e.result.output ?? null });
      this.hosts.set(e.result.host, list);
    }
    if (e.type === 'run:end') this.end = e;
  };
  write(): void {
    const body: ReportBody = {
      playbook: this.playbook,
      check: this.end?.check ?? false,
      exit_code: this.end?.exitCode ?? null,
      duration_ms: this.end?.durationMs ?? null,
      recap: this.end?.recap ?? [],
      hosts: Object.fromEntries(this.hosts),
    };
    writeReportBody(this.file, body);
  }
}
