/**
 * --format json: one JSON object per event, one per line. Field names are stable and documented in docs/json.md.
 * Every object has `event` (the noun:verb name) and `time` (ISO 8601).
 */
import type { RunEvent } from '../executor/events.js';
import type { Out } from './plain.js';

export function toJson(e: RunEvent): Record<string, unknown> {
  const base = { event: e.type, time: new Date().toISOString() };
  switch (e.type) {
    case 'task:result': {
      const r = e.result;
      return {
        ...base,
        task: e.task,
        file: e.pos.file,
        line: e.pos.line,
        host: r.host,
        status: r.status,
        changed: r.status === 'changed',
        reason: r.reason,
        item: r.item ?? null,
        duration_ms: r.durationMs,
        ignored: r.ignored ?? false,
        delegated_to: r.delegatedTo ?? null,
        output: r.output ?? null,
        diff: r.diffs ?? null,
      };
    }
    case 'play:start':
      return { ...base, play: e.name, hosts: e.hosts, file: e.pos.file, line: e.pos.line };
    case 'task:start':
      return { ...base, task: e.name, action: e.action, hosts: e.hosts, file: e.pos.file, line: e.pos.line, handler: e.handler ?? false, role: e.role ?? null };
    case 'run:end':
      return { ...base, exit_code: e.exitCode, check: e.check, duration_ms: e.durationMs, recap: e.recap };
    default: {
      const { type, ...rest } = e as RunEvent & Record<string, unknown>;
      void type;
      return { ...base, ...rest };
    }
  }
}

export class JsonReporter {
  constructor(private readonly out: Out = { write: (s) => process.stdout.write(s) }) {}
  on = (e: RunEvent): void => {
    this.out.write(JSON.stringify(toJson(e)) + '\n');
  };
}
