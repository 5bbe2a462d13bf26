/**
 * Plain line reporter (stdout not a terminal, or --format plain), shaped like ansible-playbook's output so people
 * and scripts used to it read it at once. Also provides the shared formatting used by the live view.
 */
import { createTwoFilesPatch } from 'diff';
import type { ChalkInstance } from 'chalk';
import type { HostResult, Recap, RunEvent } from '../executor/events.js';
import { makeChalk, statusColor } from './style.js';

export interface Out {
  write(s: string): void;
}

export function banner(title: string, width = 78): string {
  const pad = Math.max(3, width - title.length - 1);
  return `${title} ${'*'.repeat(pad)}`;
}

export function resultLine(c: ChalkInstance, r: HostResult, check: boolean): string {
  const color = statusColor(c, r.status);
  const host = r.delegatedTo ? `${r.host} -> ${r.delegatedTo}` : r.host;
  const item = r.item !== undefined ? ` => (item=${r.item})` : '';
  const label = r.status === 'failed' && r.ignored ? 'failed (ignored)' : r.status === 'changed' && check ? 'changed (would change)' : r.status;
  let line = color(`${label}: [${host}]${item}`);
  if (r.reason && r.status !== 'ok') line += ` ${r.status === 'failed' || r.status === 'unreachable' ? color(r.reason) : c.dim(r.reason)}`;
  else if (r.reason && r.status === 'ok' && r.output === undefined) line += ` ${c.dim(r.reason)}`;
  if (r.output !== undefined) line += `\n${indent(r.output)}`;
  return line;
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

export function diffText(c: ChalkInstance, r: HostResult): string {
  if (!r.diffs?.length) return '';
  const parts: string[] = [];
  for (const d of r.diffs) {
    const patch = createTwoFilesPatch(`before: ${d.label}`, `after: ${d.label}`, d.before, d.after, undefined, undefined, { context: 3 });
    const lines = patch.split('\n').slice(1); // drop the "====" header line
    parts.push(
      lines
        .map((l) => (l.startsWith('+') && !l.startsWith('+++') ? c.green(l) : l.startsWith('-') && !l.startsWith('---') ? c.red(l) : l.startsWith('@@') ? c.cyan(l) : l))
        .join('\n')
        .trimEnd(),
    );
  }
  return parts.join('\n') + '\n';
}

export function recapText(c: ChalkInstance, recap: Recap[], durationMs: number, check: boolean): string {
  const lines = [banner('PLAY RECAP')];
  const w = Math.max(0, ...recap.map((r) => r.host.length));
  for (const r of recap) {
    const bad = r.failed > 0 || r.unreachable > 0;
    const hostColor = r.failed || r.unreachable ? c.red : r.changed ? c.yellow : c.green;
    const f = (label: string, n: number, col: (s: string) => string) => (n > 0 ? col(`${label}=${n}`) : `${label}=${n}`);
    lines.push(
      `${hostColor(r.host.padEnd(w))} : ${f('ok', r.ok, c.green)}  ${f('changed', r.changed, c.yellow)}  ${f('unreachable', r.unreachable, c.red)}  ${f('failed', r.failed, c.red)}  ${f('skipped', r.skipped, c.cyan)}  ${f('rescued', r.rescued, c.green)}  ${f('ignored', r.ignored, c.yellow)}`,
    );
    void bad;
  }
  lines.push('', c.dim(`${check ? 'check mode: nothing was changed. ' : ''}finished in ${(durationMs / 1000).toFixed(2)}s`));
  return lines.join('\n') + '\n';
}

export class PlainReporter {
  private c: ChalkInstance;
  private check = false;
  constructor(
    private readonly out: Out = { write: (s) => process.stdout.write(s) },
    private readonly showDiff = false,
    c?: ChalkInstance,
  ) {
    this.c = c ?? makeChalk();
  }

  on = (e: RunEvent): void => {
    const c = this.c;
    switch (e.type) {
      case 'run:start':
        this.check = e.check;
        if (e.check) this.out.write(c.dim('check mode: probing and planning only, nothing will be changed\n'));
        break;
      case 'play:start':
        this.out.write(`\n${c.bold(banner(`PLAY [${e.name}]`))}\n`);
        if (e.hosts.length === 0) this.out.write(c.dim('skipping: no hosts matched\n'));
        break;
      case 'task:start':
        this.out.write(`\n${c.bold(banner(`${e.handler ? 'RUNNING HANDLER' : 'TASK'} [${e.role ? `${e.role} : ` : ''}${e.name}]`))}\n`);
        break;
      case 'task:result':
        this.out.write(resultLine(c, e.result, this.check) + '\n');
        if (this.showDiff) this.out.write(diffText(c, e.result));
        break;
      case 'warning':
        this.out.write(c.magenta(`[WARNING]: ${e.message}\n`));
        break;
      case 'run:end':
        this.out.write('\n' + recapText(c, e.recap, e.durationMs, e.check));
        break;
      default:
        break;
    }
  };
}
