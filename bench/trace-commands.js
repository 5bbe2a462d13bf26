// Preloaded (node --import) into an untimed runbook run: counts remote commands per task and host by wrapping the
// executor's per-host task runner, and writes { "task title": [commands per host...] } to $RBBENCH_TRACE at exit.
// It reads Connection.commandCount, the counter every connection keeps (lib/connection/types.ts).
import { writeFileSync } from 'node:fs';
import { Executor } from '../dist/lib/executor/executor.js';

const out = new Map();
const orig = Executor.prototype.runTaskOnHost;
if (typeof orig !== 'function') throw new Error('trace-commands: Executor.runTaskOnHost not found (renamed?)');
const count = async (ex, host) => {
  const st = ex.hosts.get(host);
  return st?.conn ? st.conn.then((c) => c.commandCount, () => 0) : 0;
};
Executor.prototype.runTaskOnHost = async function (task, scope, host, title) {
  const before = await count(this, host);
  try {
    return await orig.call(this, task, scope, host, title);
  } finally {
    const n = (await count(this, host)) - before;
    if (!out.has(title)) out.set(title, []);
    out.get(title).push(n);
  }
};
process.on('exit', () => writeFileSync(process.env.RBBENCH_TRACE, JSON.stringify(Object.fromEntries(out))));
