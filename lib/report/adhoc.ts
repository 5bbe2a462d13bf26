/**
 * `runbook run` output in the one-line form of Ansible's `ansible` command (its "minimal" callback):
 *   host | CHANGED | rc=0 >>          (command, shell, raw: then stdout, stderr and msg as they are)
 *   host | SUCCESS => { ...result... } (other modules: the result, indented 4, keys sorted)
 *   host | FAILED! => { ... }          host | FAILED | rc=1 >>   (command)
 *   host | UNREACHABLE! => { ... }     host | SKIPPED
 * The result is the module's registered value: lib/cli/adhoc.ts registers it and a second, hidden task shows it
 * as JSON (ADHOC_RESULT_TASK); this reporter prints one block per host from the two.
 */
import type { ChalkInstance } from 'chalk';
import type { HostResult, RunEvent } from '../executor/events.js';
import { makeChalk } from './style.js';
import { debugDict, interruptedLine, pyJson, type Out } from './plain.js';

export const ADHOC_RESULT_TASK = 'runbook: ad hoc result';
/** Ansible's MODULE_NO_JSON: shown as `rc=N >>` and the output */
const NO_JSON = ['command', 'shell', 'raw'];

export class AdhocReporter {
  private c: ChalkInstance;
  /** the module task's result per host, until its registered value arrives */
  private pending = new Map<string, HostResult>();
  private order: string[] = [];
  /** a host whose module failed (the task ignores errors so its result can be shown; the exit code says it) */
  failed = false;

  constructor(
    private readonly action: string,
    private readonly out: Out = { write: (s) => process.stdout.write(s) },
    c?: ChalkInstance,
  ) {
    this.c = c ?? makeChalk();
  }

  on = (e: RunEvent): void => {
    switch (e.type) {
      case 'task:result': {
        const r = e.result;
        if (e.task === ADHOC_RESULT_TASK) {
          const main = this.pending.get(r.host);
          if (!main) break;
          this.pending.delete(r.host);
          let res: Record<string, unknown> | undefined;
          try {
            const v = JSON.parse(r.output ?? '');
            if (v && typeof v === 'object' && !Array.isArray(v)) res = v as Record<string, unknown>;
          } catch {
            res = undefined;
          }
          this.print(main, res);
          break;
        }
        if (r.status === 'failed') this.failed = true;
        if (r.status === 'unreachable' || r.status === 'skipped') this.print(r, undefined);
        else {
          this.pending.set(r.host, r);
          this.order.push(r.host);
        }
        break;
      }
      case 'warning':
        process.stderr.write(this.c.magenta(`[WARNING]: ${e.message}\n`));
        break;
      case 'run:end':
        // hosts whose registered value never came (the run was interrupted): what the task said
        for (const h of this.order) {
          const r = this.pending.get(h);
          if (r) this.print(r, undefined);
        }
        this.pending.clear();
        // ad hoc output has no recap: the interruption is said on stderr
        if (interruptedLine(e.exitCode)) process.stderr.write(this.c.red(interruptedLine(e.exitCode)!) + '\n');
        break;
      default:
        break;
    }
  };

  private print(r: HostResult, registered: Record<string, unknown> | undefined): void {
    const c = this.c;
    if (r.status === 'skipped') {
      this.out.write(c.cyan(`${r.host} | SKIPPED`) + '\n');
      return;
    }
    if (r.status === 'unreachable') {
      this.out.write(c.red(`${r.host} | UNREACHABLE! => ${pyJson({ changed: false, msg: r.reason, unreachable: true }, 4)}`) + '\n');
      return;
    }
    const res: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(registered ?? {})) if (!k.startsWith('_ansible') && k !== 'failed' && k !== 'skipped') res[k] = v;
    if (res['changed'] === undefined) res['changed'] = r.status === 'changed';
    if (r.status === 'failed' && res['msg'] === undefined) res['msg'] = r.reason;
    if (r.output !== undefined && res['msg'] === undefined) res['msg'] = r.output;
    const color = r.status === 'failed' ? c.red : r.status === 'changed' ? c.yellow : c.green;
    const state = r.status === 'failed' ? 'FAILED' : r.status === 'changed' ? 'CHANGED' : 'SUCCESS';
    if (NO_JSON.includes(this.action)) {
      const text = `${r.host} | ${state} | rc=${res['rc'] ?? -1} >>\n${str(res['stdout'])}${str(res['stderr'])}${str(res['msg'])}`;
      this.out.write(color(text) + '\n');
      return;
    }
    // debug shows only what it was asked to (Ansible's _clean_results)
    const shown = this.action === 'debug' && r.status !== 'failed' ? debugDict({ ...r, result: undefined }) : res;
    this.out.write(color(`${r.host} | ${r.status === 'failed' ? 'FAILED!' : state} => ${pyJson(shown, 4)}`) + '\n');
  }
}

function str(v: unknown): string {
  return v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
}
