/**
 * cron (ansible.builtin.cron): one job (or, with env, one variable) in a user's crontab (crontab -l / crontab -) or
 * in a cron_file under /etc/cron.d, as Ansible writes it: the job's line preceded by its marker `#Ansible: NAME`,
 * `MINUTE HOUR DAY MONTH WEEKDAY [USER] JOB` or `@SPECIAL [USER] JOB` (USER only in a cron_file), `#` in front
 * when disabled; variables as `NAME="VALUE"` at the top (or insertafter / insertbefore another variable).
 * A job found by its exact line without a marker gets one. state=absent removes the job (and a cron_file left
 * empty). Returns jobs and envs (the names in the crontab), as Ansible.
 */
import { RunbookError } from '../errors.js';
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type Step } from './types.js';
import { EPILOGUE, PRELUDE, badArg, frameProbe, namesFor, quote, type FrameState } from './common.js';
import { showEscapes } from './bytes.js';

export interface CronParams {
  name: string;
  job?: string;
  minute: string;
  hour: string;
  day: string;
  month: string;
  weekday: string;
  special_time?: string;
  user?: string;
  state: 'present' | 'absent';
  disabled: boolean;
  env: boolean;
  cron_file?: string;
  insertafter?: string;
  insertbefore?: string;
}

const SPECIAL = ['annually', 'daily', 'hourly', 'monthly', 'reboot', 'weekly', 'yearly'];

export const cronSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    job: { type: 'string' },
    value: { type: 'string' },
    minute: { type: 'string' },
    hour: { type: 'string' },
    day: { type: 'string' },
    dom: { type: 'string' },
    month: { type: 'string' },
    weekday: { type: 'string' },
    dow: { type: 'string' },
    special_time: { enum: SPECIAL },
    user: { type: 'string', minLength: 1 },
    state: { enum: ['present', 'absent'] },
    disabled: { type: 'boolean' },
    env: { type: 'boolean' },
    cron_file: { type: 'string', minLength: 1 },
    insertafter: { type: 'string' },
    insertbefore: { type: 'string' },
  },
};

function pick(raw: Record<string, unknown>, a: string, b: string, what: string): unknown {
  if (raw[a] !== undefined && raw[b] !== undefined) throw badArg(`cron: give ${what} or its alias ${b}, not both`);
  return raw[a] ?? raw[b];
}

export function prepareCron(raw: Record<string, unknown>): CronParams {
  if (raw.name === undefined || raw.name === null) throw new RunbookError('missing_argument', 'cron: missing required arguments: name');
  if (raw.insertafter !== undefined && raw.insertbefore !== undefined) throw badArg('cron: parameters are mutually exclusive: insertafter|insertbefore');
  const str = (v: unknown, d: string) => (v === undefined || v === null ? d : String(v));
  const p: CronParams = {
    name: String(raw.name),
    minute: str(raw.minute, '*'),
    hour: str(raw.hour, '*'),
    day: str(pick(raw, 'day', 'dom', 'day'), '*'),
    month: str(raw.month, '*'),
    weekday: str(pick(raw, 'weekday', 'dow', 'weekday'), '*'),
    state: (raw.state as CronParams['state'] | undefined) ?? 'present',
    disabled: raw.disabled === true,
    env: raw.env === true,
  };
  const job = pick(raw, 'job', 'value', 'job');
  if (job !== undefined && job !== null) p.job = String(job);
  if (raw.special_time !== undefined && raw.special_time !== null) p.special_time = String(raw.special_time);
  if (raw.user !== undefined && raw.user !== null) p.user = String(raw.user);
  if (raw.insertafter !== undefined && raw.insertafter !== null) p.insertafter = String(raw.insertafter);
  if (raw.insertbefore !== undefined && raw.insertbefore !== null) p.insertbefore = String(raw.insertbefore);
  if (raw.cron_file !== undefined && raw.cron_file !== null) {
    const f = String(raw.cron_file);
    p.cron_file = f.startsWith('/') ? f : `/etc/cron.d/${f}`;
    if (p.cron_file === '/etc/crontab') throw badArg('cron: Will not manage /etc/crontab via cron_file, see documentation.');
  }
  if (p.special_time && [p.minute, p.hour, p.day, p.month, p.weekday].some((x) => x !== '*')) throw badArg('cron: You must specify time and date fields or special time.');
  if (p.state === 'present') {
    if (p.cron_file && !p.user) throw badArg('cron: To use cron_file=... parameter you must specify user=... as well');
    if (p.job === undefined) throw badArg("cron: You must specify 'job' to install a new cron job or variable");
    if ((p.insertafter || p.insertbefore) && !p.env) throw badArg('cron: Insertafter and insertbefore parameters are valid only with env=yes');
  }
  if (p.env && p.name.includes(' ')) throw badArg('cron: Invalid name for environment variable');
  return p;
}

export function cronScript(p: CronParams): string {
  if (p.cron_file) {
    const f = quote(p.cron_file);
    return [PRELUDE, `if [ -f ${f} ]; then kvfile content ${f}; fi`, `rb_dirname ${f}; [ -d "$_d" ] && kv parent 1`, EPILOGUE].join('\n');
  }
  return [
    PRELUDE,
    `command -v crontab >/dev/null 2>&1 || { kv no_crontab 1; kv end ok; exit 0; }`,
    // "x$?" after the output keeps its final newlines (command substitution drops them)
    `_o=$(crontab ${p.user ? `-u ${quote(p.user)} ` : ''}-l 2>/dev/null; echo "x$?")`,
    `_rc=\${_o##*x}; _o=\${_o%x*}; kv rc "$_rc"; kv content "$_o"`,
    EPILOGUE,
  ].join('\n');
}

const MARK = '#Ansible: ';

/** CronTab.read for a user crontab: the three header lines crontab -l may print are not the crontab's. */
function userLines(out: string): { lines: string[]; existing: string } {
  const lines: string[] = [];
  let existing = out;
  out.split(/\r?\n|\r/).forEach((l, i, all) => {
    if (i === all.length - 1 && l === '') return;
    if (i > 2 || (!/^# DO NOT EDIT THIS FILE - edit the master and reinstall\./.test(l) && !/^# \(\/tmp\/.*installed on.*\)/.test(l) && !/^# \(.*version.*\)/.test(l))) lines.push(l);
    else existing = existing.replace(new RegExp(l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '[\\r\\n]?'), '');
  });
  return { lines, existing };
}

export function cronJobLine(p: CronParams): string {
  const job = (p.job ?? '').replace(/^[\r\n]+|[\r\n]+$/g, '');
  const pre = p.disabled ? '#' : '';
  const user = p.cron_file ? ` ${p.user}` : '';
  return p.special_time ? `${pre}@${p.special_time}${user} ${job}` : `${pre}${p.minute} ${p.hour} ${p.day} ${p.month} ${p.weekday}${user} ${job}`;
}

/** Ansible's CronTab edits on the crontab's lines; returns the new lines and whether they changed. */
export function editCron(lines0: string[], p: CronParams): { lines: string[]; changed: boolean; removeFile?: boolean } | { error: string } {
  let lines = [...lines0];
  let changed = false;
  const comment = MARK + p.name;
  if (p.env) {
    const decl = `${p.name}="${p.job ?? ''}"`;
    const isDecl = (l: string, n: string) => l.startsWith(`${n}=`);
    const idx = lines.findIndex((l) => isDecl(l, p.name));
    if (p.state === 'present') {
      if (idx < 0) {
        const other = p.insertafter ?? p.insertbefore;
        if (other === undefined) lines.unshift(decl);
        else {
          const o = lines.findIndex((l) => isDecl(l, other));
          if (o < 0) return { error: `Variable named '${other}' not found.` };
          lines.splice(p.insertafter !== undefined ? o + 1 : o, 0, decl);
        }
        changed = true;
      } else if (lines[idx] !== decl) {
        lines = lines.map((l) => (isDecl(l, p.name) ? decl : l));
        changed = true;
      }
    } else if (idx >= 0) {
      lines = lines.filter((l) => !isDecl(l, p.name));
      changed = true;
    }
    return { lines, changed };
  }
  // find_job: by marker, else (present) by the exact job line
  const findJob = (job?: string): string[] => {
    let cur: string | undefined;
    for (const l of lines) {
      if (cur !== undefined) {
        if (cur === p.name) return [cur, l];
        cur = undefined;
      } else if (l.startsWith(MARK)) cur = l.slice(MARK.length);
    }
    if (job) {
      for (let i = 0; i < lines.length; i++) {
        if (lines[i] !== job) continue;
        const prev = i > 0 ? lines[i - 1]! : lines[lines.length - 1] ?? '';
        if (!prev.startsWith(MARK)) {
          lines.splice(i, 0, comment);
          return [comment, job, 'inserted'];
        }
        if (p.name && prev === MARK + 'None') {
          lines[i - 1] = comment;
          return [comment, job, 'renamed'];
        }
      }
    }
    return [];
  };
  const updateJob = (job: string | undefined) => {
    const out: string[] = [];
    let pending = false;
    for (const l of lines) {
      if (pending) {
        if (job !== undefined) out.push(comment, job);
        pending = false;
      } else if (l === comment) pending = true;
      else out.push(l);
    }
    lines = out;
  };
  if (p.state === 'present') {
    const job = cronJobLine(p);
    const old = findJob(job);
    if (old.length === 0) {
      lines.push(comment, job);
      changed = true;
    }
    if (old.length > 0 && old[1] !== job) {
      updateJob(job);
      changed = true;
    }
    if (old.length > 2) {
      updateJob(job);
      changed = true;
    }
    return { lines, changed };
  }
  if (findJob().length > 0) {
    updateJob(undefined);
    changed = true;
    if (p.cron_file && lines.every((l) => !l.trim())) return { lines, changed, removeFile: true };
  }
  return { lines, changed };
}

const render = (lines: string[]) => {
  const r = lines.join('\n');
  return r ? r.replace(/[\r\n]+$/, '') + '\n' : '';
};

export function planCron(p: CronParams, f: FrameState | null): Plan {
  if (!f) return failPlan(failure('probe_failed', 'cron: no probe result'));
  if (isProbeFailed(f)) return failPlan(f.probeFailed);
  let lines: string[];
  let existing: string;
  const label = p.cron_file ?? (p.user ? `crontab for user "${p.user}"` : 'crontab');
  if (p.cron_file) {
    existing = f.str('content') ?? '';
    lines = existing === '' ? [] : existing.split(/\r?\n|\r/);
    if (existing.endsWith('\n')) lines.pop();
  } else {
    if (f.str('no_crontab') === '1') return failPlan(failure('no_crontab', 'cron: the crontab command is not installed on the host (package cron)'));
    const rc = Number(f.str('rc'));
    if (rc !== 0 && rc !== 1) return failPlan(failure('crontab', `Unable to read crontab (crontab -l exit ${rc})`));
    ({ lines, existing } = rc === 0 ? userLines(f.str('content') ?? '') : { lines: [], existing: '' });
  }
  const r = editCron(lines, p);
  if ('error' in r) return failPlan(failure('cron', r.error));
  const names = (ls: string[]) => ({ jobs: ls.filter((l) => l.startsWith(MARK)).map((l) => l.slice(MARK.length)), envs: ls.filter((l) => /^\S+=/.test(l)).map((l) => l.split('=')[0]!) });
  const result: Record<string, unknown> = { ...names(r.lines), ...(p.cron_file ? { cron_file: p.cron_file } : {}), state: p.state };
  if (r.removeFile) {
    return { steps: [{ kind: 'run', script: `rm -f -- ${quote(p.cron_file!)}`, describe: `remove ${p.cron_file}` }], reason: `remove job ${p.name} (and the now empty ${p.cron_file})`, diffs: [{ label, before: showEscapes(existing), after: '' }], result: { cron_file: p.cron_file, state: p.state } };
  }
  let changed = r.changed;
  if (!changed && existing !== '' && !/[\r\n]$/.test(existing)) changed = true;
  const what = p.env ? `variable ${p.name}` : `job ${p.name}`;
  if (!changed) return { steps: [], reason: `${what} is ${p.state === 'present' ? 'in' : 'not in'} the ${label}`, result };
  const after = render(r.lines);
  if (p.cron_file && f.str('parent') !== '1') {
    const dir = p.cron_file.replace(/\/[^/]*$/, '') || '/';
    return failPlan(failure('missing_parent', `cron: directory ${dir} does not exist`, dir), result);
  }
  const steps: Step[] = p.cron_file
    ? [{ kind: 'write', path: p.cron_file, content: after, describe: `write ${p.cron_file}` }]
    : [{ kind: 'run', script: `crontab ${p.user ? `-u ${quote(p.user)} ` : ''}-`, input: after, describe: `crontab ${p.user ? `-u ${p.user} ` : ''}-` }];
  return { steps, reason: `${p.state === 'present' ? 'set' : 'remove'} ${what} in the ${label}`, diffs: [{ label, before: showEscapes(existing), after: showEscapes(after) }], result };
}

const cron: ModuleDef<CronParams, FrameState> = {
  name: 'cron',
  aliases: namesFor('cron'),
  description: "a cron job or variable in a user's crontab or a cron_file (#Ansible: NAME markers)",
  schema: cronSchema,
  prepare: prepareCron,
  probe: (p) => frameProbe(cronScript(p)),
  plan: planCron,
};

export default cron;
