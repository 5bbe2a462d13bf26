/**
 * The live view on a terminal (listr2): one line per task with a spinner per host while it runs, then each host's
 * outcome. Driven by run events: a Listr per task whose host subtasks wait for that host's task:result.
 */
import { Listr } from 'listr2';
import type { ChalkInstance } from 'chalk';
import type { HostResult, RunEvent } from '../executor/events.js';
import { diffText, recapText, banner, interruptedLine } from './plain.js';
import { makeChalk, statusColor } from './style.js';

interface Deferred {
  resolve(r: HostResult): void;
  promise: Promise<HostResult>;
}

function deferred(): Deferred {
  let resolve!: (r: HostResult) => void;
  const promise = new Promise<HostResult>((r) => (resolve = r));
  return { resolve, promise };
}

export class LiveReporter {
  private c: ChalkInstance = makeChalk();
  private pending = new Map<string, Deferred>();
  private running?: Promise<unknown>;
  private results: HostResult[] = [];
  private check = false;
  /** tasks started inside a running task (include_tasks): shown as plain lines */
  private depth = 0;

  constructor(private readonly showDiff = false) {}

  on = async (e: RunEvent): Promise<void> => {
    const c = this.c;
    switch (e.type) {
      case 'run:start':
        this.check = e.check;
        if (e.check) process.stdout.write(c.dim('check mode: probing and planning only, nothing will be changed\n'));
        break;
      case 'play:start':
        process.stdout.write(`\n${c.bold(banner(`PLAY [${e.name}]`))}\n`);
        break;
      case 'task:start': {
        this.depth++;
        if (this.depth > 1) {
          process.stdout.write(c.bold(`  ${e.role ? `${e.role} : ` : ''}${e.name}\n`));
          break;
        }
        this.pending.clear();
        this.results = [];
        for (const h of e.hosts) this.pending.set(h, deferred());
        const title = `${e.handler ? 'handler ' : ''}${e.role ? c.dim(`${e.role} : `) : ''}${e.name}`;
        const list = new Listr(
          [
            {
              title,
              task: (_ctx, t) =>
                t.newListr(
                  e.hosts.map((h) => ({
                    title: h,
                    task: async (_c: unknown, st: { title: string; skip(msg?: string): void }) => {
                      const r = await this.pending.get(h)!.promise;
                      st.title = this.line(r);
                      // the renderer's own marks tell the outcome at a glance: a cross for failed or unreachable
                      if ((r.status === 'failed' && !r.ignored) || r.status === 'unreachable') throw new Error(this.line(r));
                      if (r.status === 'skipped') st.skip(this.line(r));
                    },
                  })),
                  { concurrent: true, exitOnError: false, rendererOptions: { collapseSubtasks: false } },
                ),
            },
          ],
          { exitOnError: false, rendererOptions: { collapseSubtasks: false, collapseErrors: false } },
        );
        this.running = list.run().catch(() => undefined);
        break;
      }
      case 'task:result':
        if (this.depth > 1) {
          process.stdout.write(`    ${this.line(e.result)}\n`);
          if (this.showDiff) process.stdout.write(diffText(c, e.result));
          break;
        }
        this.results.push(e.result);
        this.pending.get(e.result.host)?.resolve(e.result);
        break;
      case 'task:end':
        this.depth--;
        if (this.depth > 0) break;
        // a host that produced no result must not leave a spinner behind
        for (const [h, d] of this.pending) if (!this.results.some((r) => r.host === h)) d.resolve({ host: h, status: 'skipped', reason: 'no result', durationMs: 0 });
        await this.running;
        for (const r of this.results) {
          if (r.output !== undefined) process.stdout.write(`  ${c.dim(r.host)}: ${r.output.split('\n').join('\n    ')}\n`);
          if (this.showDiff) process.stdout.write(diffText(c, r));
        }
        break;
      case 'warning':
        process.stdout.write(c.magenta(`[WARNING]: ${e.message}\n`));
        break;
      case 'run:end':
        process.stdout.write('\n' + recapText(c, e.recap, e.durationMs, e.check));
        if (interruptedLine(e.exitCode)) process.stdout.write(c.red(interruptedLine(e.exitCode)!) + '\n');
        break;
      default:
        break;
    }
  };

  private line(r: HostResult): string {
    const color = statusColor(this.c, r.status);
    const label = r.status === 'changed' && this.check ? 'would change' : r.status === 'failed' && r.ignored ? 'failed (ignored)' : r.status;
    const item = r.item ? ` (${r.item})` : '';
    return `${color(label.padEnd(9))} ${r.host}${item}${r.reason ? this.c.dim(` ${r.reason}`) : ''}`;
  }
}
