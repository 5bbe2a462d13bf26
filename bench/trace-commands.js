// Preloaded (node --import) into a runbook run: counts remote commands per task and host by wrapping the
// executor's per-host task runner, and writes { "task title": [commands per host...] } to $RBBENCH_TRACE at exit.
// It reads Connection.commandCount, the counter every connection keeps (lib/connection/types.ts).
// With $RBBENCH_BUSY set, it also writes there, per host, the time spent inside its tasks (busy) and the span from
// the first task start to the last task end of the whole run: span - busy is the host's idle time (waiting for
// other hosts at the linear strategy's task barrier, or for a fork slot).
import { writeFileSync } from 'node:fs';
import { Executor } from '../dist/lib/executor/executor.js';

// the counters wrap dist/lib's Executor: bin/runbook.js must run that code, not the bundle (ADR 0017)
process.env.RUNBOOK_NO_BUNDLE = '1';

const out = new Map();
const busy = new Map();
let first;
let last;
const orig = Executor.prototype.runTaskOnHost;
if (typeof orig !== 'function') throw new Error('trace-commands: Executor.runTaskOnHost not found (renamed?)');
const count = async (ex, host) => {
  const st = ex.hosts.get(host);
  return st?.conn ? st.conn.then((c) => c.commandCount, () => 0) : 0;
};
Executor.prototype.runTaskOnHost = async function (task, scope, host, title) {
  const t0 = performance.now();
  first ??= t0;
  const before = await count(this, host);
  try {
    return await orig.call(this, task, scope, host, title);
  } finally {
    const n = (await count(this, host)) - before;
    if (!out.has(title)) out.set(title, []);
    out.get(title).push(n);
    last = performance.now();
    busy.set(host, (busy.get(host) ?? 0) + (last - t0));
  }
};
process.on('exit', () => {
  if (process.env.RBBENCH_TRACE) writeFileSync(process.env.RBBENCH_TRACE, JSON.stringify(Object.fromEntries(out)));
  if (process.env.RBBENCH_BUSY) writeFileSync(process.env.RBBENCH_BUSY, JSON.stringify({ span: (last ?? 0) - (first ?? 0), busy: Object.fromEntries(busy) }));
});
