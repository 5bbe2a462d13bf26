/**
 * `runbook report merge A.json B.json ... [-o OUT.json]`: the --report files of the N processes of a sharded run
 * (`--shard K/N`, lib/inventory/shard.ts) as the one report and recap a single run over all the hosts would have
 * written, and its exit code (exitCodeFor in lib/errors.ts: the same rule as a run's). Refuses, exit 1, files of
 * different playbooks or check modes, and a host in two files (the shards overlapped: a sharding error).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigErrors, RunbookError, exitCodeFor } from '../errors.js';
import type { Recap } from '../executor/events.js';
import { PlainReporter } from './plain.js';
import { writeReportBody, type ReportBody } from './report-file.js';

function readReport(file: string): ReportBody {
  let text: string;
  try {
    text = fs.readFileSync(path.resolve(file), 'utf8');
  } catch (e) {
    throw new RunbookError('missing_file', `report not found: ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new RunbookError('usage', `${file} is not JSON: ${(e as Error).message}`);
  }
  const o = j as Partial<ReportBody>;
  if (!o || typeof o !== 'object' || typeof o.playbook !== 'string' || typeof o.check !== 'boolean' || !Array.isArray(o.recap) || !o.hosts || typeof o.hosts !== 'object') {
    throw new RunbookError('usage', `${file} is not a runbook --report file (needs playbook, check, recap, hosts)`);
  }
  return o as ReportBody;
}

/** The merged report; ConfigErrors listing every conflict when the files do not belong to one sharded run. */
export function mergeReports(files: string[]): ReportBody {
  const errors: RunbookError[] = [];
  const reports: { file: string; r: ReportBody }[] = [];
  for (const file of files) {
    try {
      reports.push({ file, r: readReport(file) });
    } catch (e) {
      if (e instanceof RunbookError) errors.push(e);
      else throw e;
    }
  }
  if (errors.length) throw new ConfigErrors(errors);
  if (!reports.length) throw new ConfigErrors([new RunbookError('usage', 'report merge needs at least one --report file')]);
  const first = reports[0]!;
  for (const { file, r } of reports.slice(1)) {
    if (r.playbook !== first.r.playbook) errors.push(new RunbookError('usage', `${file} is a report of ${r.playbook}, ${first.file} of ${first.r.playbook}: not one run`));
    if (r.check !== first.r.check) errors.push(new RunbookError('usage', `${file} ran ${r.check ? 'in check mode' : 'for real'}, ${first.file} ${first.r.check ? 'in check mode' : 'for real'}: not one run`));
  }
  // a host in two files: the shards overlapped (different N, a changed --limit, the same K twice)
  const owner = new Map<string, string>();
  for (const { file, r } of reports) {
    const hosts = new Set([...r.recap.map((x) => x.host), ...Object.keys(r.hosts)]);
    for (const h of hosts) {
      const prev = owner.get(h);
      if (prev !== undefined) errors.push(new RunbookError('usage', `host ${h} is in both ${prev} and ${file}: the shards overlap (same --shard twice, a different N, or a different --limit)`));
      else owner.set(h, file);
    }
  }
  if (errors.length) throw new ConfigErrors(errors);
  const byName = <T>(entries: [string, T][]) => entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const recap: Recap[] = byName(reports.flatMap(({ r }) => r.recap.map((x) => [x.host, x] as [string, Recap]))).map(([, x]) => x);
  const hosts = Object.fromEntries(byName(reports.flatMap(({ r }) => Object.entries(r.hosts))));
  // a shard stopped by SIGINT/SIGTERM (130/143) makes the whole run interrupted, as it would a single run
  const aborted = reports.map(({ r }) => r.exit_code).find((c) => c === 130 || c === 143);
  const exit_code = exitCodeFor({ recap, ...(aborted !== undefined && aborted !== null ? { aborted: { exitCode: aborted } } : {}) });
  const durations = reports.map(({ r }) => r.duration_ms).filter((d): d is number => typeof d === 'number');
  return {
    playbook: first.r.playbook,
    check: first.r.check,
    exit_code,
    // the shards ran side by side: the run took as long as the longest
    duration_ms: durations.length ? Math.max(...durations) : null,
    recap,
    hosts,
  };
}

/** The command: prints the recap as the plain reporter does, writes OUT when asked, returns the run's exit code. */
export function reportMergeCommand(files: string[], opts: { output?: string }): number {
  const merged = mergeReports(files);
  if (opts.output) writeReportBody(opts.output, merged);
  new PlainReporter().on({ type: 'run:end', recap: merged.recap, durationMs: merged.duration_ms ?? 0, exitCode: merged.exit_code ?? 0, check: merged.check });
  return merged.exit_code ?? 0;
}
