/**
 * Plain line reporter (stdout not a terminal, or --format plain): the lines of ansible-playbook's default callback
 * (`PLAY [..] ***`, `TASK [..] ***`, `ok: [host]`, `fatal: [host]: FAILED! => {...}`, `...ignoring`, `(item=...)`,
 * `PLAY RECAP` with its columns), so eyes and greps used to Ansible read it at once. test/habits-plain.test.ts
 * compares it line by line with a recorded ansible-playbook run (test/fixtures/golden/plain/).
 * -v .. -vvvv add what the events carry: the result (reason, module return values when the executor supplies them),
 * task paths, durations. Also provides the shared formatting used by the live view.
 */
import { createTwoFilesPatch } from 'diff';
import type { ChalkInstance } from 'chalk';
import type { HostResult, Recap, RunEvent } from '../executor/events.js';
import { makeChalk, statusColor } from './style.js';

export interface Out {
  write(s: string): void;
}

/**
 * What the plain reporter reads from a task result beyond HostResult's declared fields, when the executor supplies
 * them: `result`, the module's return values (what `register` gets), and `items`, one entry per loop item.
 */
export interface RichResult extends HostResult {
  result?: Record<string, unknown>;
  items?: RichResult[];
}

/** Ansible's Display.banner: the title, a space, and stars up to 79 columns (at least 3). */
export function banner(title: string, columns = 79): string {
  const t = title.trim();
  return `${t} ${'*'.repeat(Math.max(3, columns - [...t].length))}`;
}

/** Python's json.dumps(v, sort_keys=True, ensure_ascii=False[, indent]): what Ansible prints results with. */
export function pyJson(v: unknown, indent?: number, level = 0): string {
  if (v === undefined || v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : v !== v ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v !== 'object') return JSON.stringify(String(v));
  const inner = indent === undefined ? '' : '\n' + ' '.repeat(indent * (level + 1));
  const outer = indent === undefined ? '' : '\n' + ' '.repeat(indent * level);
  const sep = indent === undefined ? ', ' : ',';
  if (Array.isArray(v)) {
    if (!v.length) return '[]';
    return `[${v.map((x) => inner + pyJson(x, indent, level + 1)).join(sep)}${outer}]`;
  }
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  const keys = Object.keys(v as object).sort();
  if (!keys.length) return '{}';
  return `{${keys.map((k) => `${inner}${JSON.stringify(k)}: ${pyJson((v as Record<string, unknown>)[k], indent, level + 1)}`).join(sep)}${outer}}`;
}

const SKIP_REASON = 'Conditional result was False';

/** The result dict Ansible would print for r (internal keys, failed/skipped flags dropped, diff below -vvv). */
export function resultDict(r: RichResult, verbosity: number): Record<string, unknown> {
  let d: Record<string, unknown>;
  if (r.result) {
    d = {};
    for (const [k, v] of Object.entries(r.result)) if (!k.startsWith('_ansible') && k !== 'failed' && k !== 'skipped') d[k] = v;
    if (d['changed'] === undefined) d['changed'] = r.status === 'changed';
    if (r.status === 'failed' && d['msg'] === undefined) d['msg'] = r.reason;
    if (r.status === 'unreachable') d['unreachable'] = true;
    if (r.status === 'skipped' && d['skip_reason'] === undefined) d['skip_reason'] = r.reason.startsWith('condition false') ? SKIP_REASON : r.reason;
  } else if (r.status === 'failed') d = { changed: false, msg: r.reason };
  else if (r.status === 'unreachable') d = { changed: false, msg: r.reason, unreachable: true };
  else if (r.status === 'skipped') d = { changed: false, skip_reason: r.reason.startsWith('condition false') ? SKIP_REASON : r.reason };
  // runbook's own account of what it found or did (Ansible's modules put theirs in their return values)
  else d = { changed: r.status === 'changed', ...(r.reason ? { reason: r.reason } : {}) };
  if (verbosity < 3) delete d['diff'];
  delete d['exception'];
  return d;
}

/**
 * What a debug task shows, as Ansible prints it: {"msg": ...} or {"VAR": value}. From the result when the executor
 * supplies it, else from HostResult.output ("VAR: <json>" for var=, the message otherwise).
 */
export function debugDict(r: RichResult): Record<string, unknown> {
  const res = r.result;
  if (res && Object.keys(res).some((k) => !k.startsWith('_') && !['changed', 'failed', 'skipped'].includes(k))) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(res)) if (!k.startsWith('_') && !['changed', 'failed', 'skipped', 'ansible_loop_var', 'item', 'ansible_index_var', 'ansible_loop'].includes(k)) out[k] = v;
    if ('msg' in out) return { msg: out['msg'] };
    return out;
  }
  const text = r.output ?? '';
  const m = /^([A-Za-z_][\w.]*(?:\[[^\]\n]*\])*): ([{["][\s\S]*|null)$/.exec(text);
  if (m) {
    try {
      return { [m[1]!]: JSON.parse(m[2]!) };
    } catch {
      /* a message that looks like one */
    }
  }
  if (/^[{[]/.test(text)) {
    try {
      return { msg: JSON.parse(text) };
    } catch {
      /* text */
    }
  }
  return { msg: text };
}

function hostLabel(r: HostResult): string {
  return r.delegatedTo ? `${r.host} -> ${r.delegatedTo}` : r.host;
}

/** The line(s) Ansible's default callback prints for one result (a loop item when `item` is set). */
export function resultLines(c: ChalkInstance, r: RichResult, verbosity: number, isItem = false): string[] {
  const color = statusColor(c, r.status);
  const host = hostLabel(r);
  const isDebug = r.output !== undefined;
  const dump = (indent?: number) => pyJson(isDebug ? debugDict(r) : resultDict(r, verbosity), indent ?? (verbosity > 2 ? 4 : undefined));
  const item = isItem ? ` => (item=${r.item ?? ''})` : '';
  switch (r.status) {
    case 'ok':
    case 'changed': {
      let line = `${r.status}: [${host}]${item}`;
      if (isDebug) line += ` => ${dump(4)}`;
      else if (verbosity > 0) line += ` => ${dump()}`;
      return [color(line)];
    }
    case 'skipped': {
      let line = isItem ? `skipping: [${r.host}] => (item=${r.item ?? ''}) ` : `skipping: [${r.host}]`;
      if (verbosity > 0) line += ` => ${dump()}`;
      return [color(line)];
    }
    case 'failed': {
      const line = isItem ? `failed: [${host}] (item=${r.item ?? ''}) => ${dump()}` : `fatal: [${host}]: FAILED! => ${dump()}`;
      return [color(line)];
    }
    case 'unreachable':
      return [color(isItem ? `failed: [${host}] (item=${r.item ?? ''}) => ${dump()}` : `fatal: [${host}]: UNREACHABLE! => ${dump()}`)];
  }
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

/** runbook's recap (the live view): aligned host names, two spaces between columns, and the run's duration. */
export function recapText(c: ChalkInstance, recap: Recap[], durationMs: number, check: boolean): string {
  const lines = [banner('PLAY RECAP')];
  const w = Math.max(0, ...recap.map((r) => r.host.length));
  for (const r of recap) {
    const hostColor = r.failed || r.unreachable ? c.red : r.changed ? c.yellow : c.green;
    const f = (label: string, n: number, col: (s: string) => string) => (n > 0 ? col(`${label}=${n}`) : `${label}=${n}`);
    lines.push(
      `${hostColor(r.host.padEnd(w))} : ${f('ok', r.ok, c.green)}  ${f('changed', r.changed, c.yellow)}  ${f('unreachable', r.unreachable, c.red)}  ${f('failed', r.failed, c.red)}  ${f('skipped', r.skipped, c.cyan)}  ${f('rescued', r.rescued, c.green)}  ${f('ignored', r.ignored, c.yellow)}`,
    );
  }
  lines.push('', c.dim(`${check ? 'check mode: nothing was changed. ' : ''}finished in ${(durationMs / 1000).toFixed(2)}s`));
  return lines.join('\n') + '\n';
}

/** ansible-playbook's PLAY RECAP lines: hosts sorted, `%-26s : ok=%-4s changed=%-4s ...` (colour as Ansible's). */
export function ansibleRecapLines(c: ChalkInstance, recap: Recap[]): string[] {
  const col = (label: string, n: number, color: (s: string) => string) => {
    const s = `${label}=${String(n).padEnd(4)}`;
    return n !== 0 ? color(s) : s;
  };
  return [...recap]
    .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0))
    .map((r) => {
      const hc = r.failed || r.unreachable ? c.red : r.changed ? c.yellow : c.green;
      const colored = c.level > 0;
      const host = colored ? hc(r.host).padEnd(37) : r.host.padEnd(26);
      return `${host} : ${col('ok', r.ok, c.green)} ${col('changed', r.changed, c.yellow)} ${col('unreachable', r.unreachable, c.red)} ${col('failed', r.failed, c.red)} ${col('skipped', r.skipped, c.cyan)} ${col('rescued', r.rescued, c.green)} ${col('ignored', r.ignored, c.magenta)}`;
    });
}

/**
 * The recap's last word when SIGINT/SIGTERM ended the run (exit 130/143, set by the executor's abort): the run is
 * not complete, whatever the counts above say.
 */
export function interruptedLine(exitCode: number): string | undefined {
  const sig = exitCode === 130 ? 'SIGINT' : exitCode === 143 ? 'SIGTERM' : undefined;
  return sig ? `interrupted by ${sig}: the run stopped early; tasks after the interrupted ones did not run (exit ${exitCode})` : undefined;
}

export interface PlainOptions {
  showDiff?: boolean;
  /** -v count: 1 results, 2 task paths and the playbook banner, 3+ results indented, diff fields kept */
  verbosity?: number;
  c?: ChalkInstance;
}

export class PlainReporter {
  private c: ChalkInstance;
  private check = false;
  private readonly showDiff: boolean;
  private readonly verbosity: number;
  constructor(
    private readonly out: Out = { write: (s) => process.stdout.write(s) },
    opts: PlainOptions = {},
  ) {
    this.c = opts.c ?? makeChalk();
    this.showDiff = opts.showDiff ?? false;
    this.verbosity = opts.verbosity ?? 0;
  }

  private line(s: string): void {
    this.out.write(s + '\n');
  }

  on = (e: RunEvent): void => {
    const c = this.c;
    switch (e.type) {
      case 'run:start':
        this.check = e.check;
        if (this.verbosity > 1) this.line(`\n${banner(`PLAYBOOK: ${e.playbook.split('/').pop()}`)}`);
        if (e.check) this.line(c.dim('check mode: probing and planning only, nothing will be changed'));
        break;
      case 'play:start':
        this.line(`\n${banner(e.name.trim() ? `PLAY [${e.name.trim()}]` : 'PLAY')}`);
        if (e.hosts.length === 0) this.line(c.cyan('skipping: no hosts matched'));
        break;
      case 'task:start':
        this.line(`\n${banner(`${e.handler ? 'RUNNING HANDLER' : 'TASK'} [${e.role ? `${e.role} : ` : ''}${e.name.trim()}]`)}`);
        if (this.verbosity > 1) this.line(c.dim(`task path: ${e.pos.file}:${e.pos.line}`));
        break;
      case 'task:result': {
        const r = e.result as RichResult;
        if (r.items?.length) {
          for (const it of r.items) {
            for (const l of resultLines(c, { ...it, host: it.host ?? r.host, delegatedTo: it.delegatedTo ?? r.delegatedTo }, this.verbosity, true)) this.line(l);
            if (this.showDiff) this.out.write(diffText(c, it));
          }
          // a loop whose every item was skipped ends with the task's own skipping line, as Ansible's does
          if (r.status === 'skipped') for (const l of resultLines(c, { ...r, items: undefined }, this.verbosity)) this.line(l);
        } else {
          for (const l of resultLines(c, r, this.verbosity)) this.line(l);
          if (this.showDiff) this.out.write(diffText(c, r));
        }
        if (r.ignored) this.line(c.cyan('...ignoring'));
        break;
      }
      case 'warning':
        this.line(c.magenta(`[WARNING]: ${e.message}`));
        break;
      case 'run:end':
        this.line(`\n${banner('PLAY RECAP')}`);
        for (const l of ansibleRecapLines(c, e.recap)) this.line(l);
        this.line('');
        if (interruptedLine(e.exitCode)) this.line(c.red(interruptedLine(e.exitCode)!));
        if (e.check) this.line(c.dim('check mode: nothing was changed'));
        break;
      default:
        break;
    }
  };
}
