/**
 * pam_limits (community.general.pam_limits): one `domain type item value` line in limits.conf (dest), as the
 * collection edits it: the line whose first three fields match is rewritten as `domain\ttype\titem\tvalue` (with
 * `\t#comment`) when its value differs (use_max / use_min keep the larger / smaller, unlimited counting as largest),
 * every other line stays byte-identical; no such line: appended. A missing dest is created (its directory must
 * exist). Values are checked as the collection does (an integer, or unlimited / infinity / -1; nice and priority
 * -20..19).
 * Two differences from the collection, on purpose (its bugs): a kept old comment does not bring its newline along (the
 * collection writes an extra empty line after the rewritten line), and a line appended to a file whose last line has
 * no newline starts a line of its own (the collection glues it onto that last line).
 */
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type Step } from './types.js';
import { EPILOGUE, PRELUDE, badArg, frameProbe, quote, type FrameState } from './common.js';
import { showEscapes } from './bytes.js';

const ITEMS = ['core', 'data', 'fsize', 'memlock', 'nofile', 'rss', 'stack', 'cpu', 'nproc', 'as', 'maxlogins', 'maxsyslogins', 'priority', 'locks', 'sigpending', 'msgqueue', 'nice', 'rtprio', 'chroot'];

export interface PamLimitsParams {
  domain: string;
  limit_type: 'soft' | 'hard' | '-';
  limit_item: string;
  value: string;
  use_max: boolean;
  use_min: boolean;
  dest: string;
  comment: string;
}

export const pamLimitsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['domain', 'limit_type', 'limit_item', 'value'],
  properties: {
    domain: { type: 'string', minLength: 1 },
    limit_type: { enum: ['hard', 'soft', '-'] },
    limit_item: { enum: ITEMS },
    value: { type: 'string' },
    use_max: { type: 'boolean' },
    use_min: { type: 'boolean' },
    dest: { type: 'string', minLength: 1 },
    comment: { type: 'string' },
  },
};

/** the collection's _assert_is_valid_value; returns the problem or undefined */
function invalidValue(item: string, value: string): string | undefined {
  if (['unlimited', 'infinity', '-1'].includes(value)) return undefined;
  if (!/^[+-]?\d+$/.test(value.trim())) return `Argument 'value' can be one of 'unlimited', 'infinity', '-1' or positive number. Refer to manual pages for more details.`;
  const n = Number(value);
  if ((item === 'nice' || item === 'priority') && (n < -20 || n > 19)) return `Argument 'value' must be in range -20..19 for limit_item '${item}'`;
  return undefined;
}

export function preparePamLimits(raw: Record<string, unknown>): PamLimitsParams {
  const p: PamLimitsParams = {
    domain: String(raw.domain ?? ''),
    limit_type: raw.limit_type as PamLimitsParams['limit_type'],
    limit_item: String(raw.limit_item ?? ''),
    value: String(raw.value ?? ''),
    use_max: raw.use_max === true,
    use_min: raw.use_min === true,
    dest: raw.dest === undefined || raw.dest === null ? '/etc/security/limits.conf' : String(raw.dest),
    comment: raw.comment === undefined || raw.comment === null ? '' : String(raw.comment),
  };
  if (/\s/.test(p.domain)) throw badArg(`pam_limits: domain '${p.domain}' cannot contain whitespace`);
  if (p.use_max && p.use_min) throw badArg('pam_limits: Cannot use use_min and use_max at the same time.');
  const bad = invalidValue(p.limit_item, p.value);
  if (bad) throw badArg(`pam_limits: ${bad}`);
  return p;
}

export function pamLimitsScript(p: PamLimitsParams): string {
  const d = quote(p.dest);
  return [PRELUDE, `if [ -f ${d} ]; then kvfile content ${d}; elif [ -e ${d} ]; then kv other 1; fi`, `rb_dirname ${d}; [ -d "$_d" ] && kv parent 1`, EPILOGUE].join('\n');
}

const UNLIMITED = ['unlimited', 'infinity', '-1'];

/** The collection's edit of limits.conf: returns the new content and the message (the line written or kept). */
export function editLimits(content: string, p: PamLimitsParams): { after: string; msg: string } {
  const lines = content.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  let found = false;
  let msg = '';
  let newValue = p.value;
  let comment = p.comment;
  const out: string[] = [];
  for (const line of lines) {
    if (line.startsWith('#')) {
      out.push(line);
      continue;
    }
    let nl = line.replace(/\s+/g, ' ').trim();
    if (!nl) {
      out.push(line);
      continue;
    }
    nl = nl.split('#')[0]!.trimEnd();
    const hash = line.indexOf('#');
    const oldComment = hash >= 0 ? line.slice(hash + 1).replace(/\n$/, '') : '';
    if (!comment) comment = oldComment;
    const f = nl.split(' ');
    if (f.length !== 4) {
      out.push(line);
      continue;
    }
    if (f[0] === p.domain && f[1] === p.limit_type && f[2] === p.limit_item) {
      found = true;
      const actual = f[3]!;
      if (p.value === actual) {
        msg = line;
        out.push(line);
        continue;
      }
      const actualUnl = UNLIMITED.includes(actual);
      const valueUnl = UNLIMITED.includes(p.value);
      if (p.use_max) newValue = actualUnl ? actual : valueUnl ? p.value : String(Math.max(Number(p.value), Number(actual)));
      if (p.use_min) newValue = actualUnl && valueUnl ? actual : actualUnl ? p.value : valueUnl ? actual : String(Math.min(Number(p.value), Number(actual)));
      if (newValue !== actual) {
        const l = `${p.domain}\t${p.limit_type}\t${p.limit_item}\t${newValue}${comment ? `\t#${comment}` : ''}\n`;
        msg = l;
        out.push(l);
      } else {
        msg = line;
        out.push(line);
      }
    } else out.push(line);
  }
  if (!found) {
    const l = `${p.domain}\t${p.limit_type}\t${p.limit_item}\t${newValue}${p.comment ? `\t#${p.comment}` : ''}\n`;
    msg = l;
    if (out.length && !out[out.length - 1]!.endsWith('\n')) out[out.length - 1] += '\n';
    out.push(l);
  }
  return { after: out.join(''), msg };
}

export function planPamLimits(p: PamLimitsParams, f: FrameState | null): Plan {
  if (!f) return failPlan(failure('probe_failed', 'pam_limits: no probe result'));
  if (isProbeFailed(f)) return failPlan(f.probeFailed);
  if (f.str('other') === '1') return failPlan(failure('not_a_file', `${p.dest} is not a regular file`, p.dest));
  const exists = f.has('content');
  if (!exists && f.str('parent') !== '1') {
    const dir = p.dest.replace(/\/[^/]*$/, '') || '/';
    return failPlan(failure('missing_parent', `directory ${dir} is not writable (check presence, access rights, use sudo)`, dir));
  }
  const before = f.str('content') ?? '';
  const { after, msg } = editLimits(before, p);
  const result = { dest: p.dest, msg: msg.replace(/\n$/, '') };
  if (after === before && exists) return { steps: [], reason: `${p.domain} ${p.limit_type} ${p.limit_item} is ${p.value} in ${p.dest}`, result };
  const steps: Step[] = [{ kind: 'write', path: p.dest, content: after, describe: `set ${p.domain} ${p.limit_type} ${p.limit_item} in ${p.dest}` }];
  return { steps, reason: `${p.dest}: ${msg.trim()}`, diffs: [{ label: p.dest, before: showEscapes(before), after: showEscapes(after) }], result };
}

const pamLimits: ModuleDef<PamLimitsParams, FrameState> = {
  name: 'pam_limits',
  aliases: ['community.general.pam_limits', 'community.general.system.pam_limits'],
  description: 'one limit in /etc/security/limits.conf (or dest)',
  schema: pamLimitsSchema,
  prepare: preparePamLimits,
  probe: (p) => frameProbe(pamLimitsScript(p)),
  plan: planPamLimits,
};

export default pamLimits;
