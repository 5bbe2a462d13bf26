/**
 * ini_file (community.general.ini_file): one option (or a section) in an INI file, edited as the collection does
 * (its do_ini, ported line for line): `option = value` (no_extra_spaces: `option=value`) in `[section]` (no section:
 * before the first section), an existing line for the option (commented out or not) rewritten in place, further
 * ones removed (exclusive), several values with `values`, bare `option` lines with allow_no_value; state=absent
 * removes the option's active lines (or, without option, the whole section). Missing files are created (create,
 * the default; parents too); mode/owner/group as the file module. Returns path and msg as Ansible.
 */
import { RunbookError } from '../errors.js';
import type { ModuleDef, Plan } from './types.js';
import { FILE_ATTR_SCHEMA, badArg, wantedAttrs } from './common.js';
import { planEdit, probeEdit, type EditState, type EditTarget } from './edit-state.js';

export interface IniFileParams extends EditTarget {
  section?: string;
  option?: string;
  values: string[];
  state: 'present' | 'absent';
  exclusive: boolean;
  no_extra_spaces: boolean;
  allow_no_value: boolean;
}

export const iniFileSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    path: { type: 'string', minLength: 1 },
    dest: { type: 'string', minLength: 1 },
    section: { type: ['string', 'null'] },
    option: { type: 'string' },
    value: { type: 'string' },
    values: { type: 'array', items: { type: 'string' } },
    state: { enum: ['present', 'absent'] },
    exclusive: { type: 'boolean' },
    no_extra_spaces: { type: 'boolean' },
    allow_no_value: { type: 'boolean' },
    create: { type: 'boolean' },
    ...FILE_ATTR_SCHEMA,
  },
};

export function prepareIniFile(raw: Record<string, unknown>): IniFileParams {
  if (raw.path !== undefined && raw.dest !== undefined) throw badArg('ini_file: give path or dest (its alias), not both');
  const path = String(raw.path ?? raw.dest ?? '');
  if (!path) throw new RunbookError('missing_argument', 'ini_file: missing required arguments: path');
  if (raw.value !== undefined && raw.values !== undefined) throw badArg('ini_file: parameters are mutually exclusive: value|values');
  const state = (raw.state as IniFileParams['state'] | undefined) ?? 'present';
  const allow = raw.allow_no_value === true;
  const values = raw.value !== undefined && raw.value !== null ? [String(raw.value)] : Array.isArray(raw.values) ? raw.values.map(String) : [];
  if (state === 'present' && !allow && (raw.value === undefined || raw.value === null) && values.length === 0) {
    throw badArg("ini_file: Parameter 'value(s)' must be defined if state=present and allow_no_value=False.");
  }
  const p: IniFileParams = {
    path,
    create: raw.create !== false,
    attrs: wantedAttrs(raw),
    values,
    state,
    exclusive: raw.exclusive !== false,
    no_extra_spaces: raw.no_extra_spaces === true,
    allow_no_value: allow,
  };
  if (raw.section !== undefined && raw.section !== null) p.section = String(raw.section);
  if (raw.option !== undefined && raw.option !== null) p.option = String(raw.option);
  return p;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** match_opt / match_active_opt: group 6 is the value (the line's newline is not part of it) */
function matchOpt(option: string, line: string, active = false): RegExpExecArray | null {
  return new RegExp(`^${active ? '' : '[#;]?'}( |\\t)*(${esc(option)})( |\\t)*(=|$)( |\\t)*(.*)`).exec(line.replace(/\n$/, ''));
}

const FAKE = 'ad01e11446efb704fcdbdb21f2c43757423d91c5';

/** The collection's do_ini on the file's text (lines keep their newlines, as Python's readlines). */
export function doIni(content: string, p: IniFileParams): { after: string; changed: boolean; msg: string } {
  const option = p.option;
  const values = [...new Set(p.values)];
  let lines: string[] = [...((content.startsWith('\ufeff') ? content.slice(1) : content).match(/[^\n]*\n|[^\n]+$/g) ?? [])];
  let changed = false;
  if (lines.length === 0) lines.push('\n');
  if (lines[lines.length - 1] === '' || !lines[lines.length - 1]!.endsWith('\n')) {
    lines[lines.length - 1] += '\n';
    changed = true;
  }
  lines.unshift(`[${FAKE}]`);
  lines.push('[');
  const section = p.section ? p.section : FAKE;
  let within = !section;
  let start = 0;
  let end = 0;
  let msg = 'OK';
  const fmt = (o: string, v: string) => (p.no_extra_spaces ? `${o}=${v}\n` : `${o} = ${v}\n`);
  let noValuePresent = false;
  const blankOrComment = /^[ \t]*([#;].*)?$/;
  for (const [i, line] of lines.entries()) {
    if (line.startsWith(`[${section}]`)) {
      within = true;
      start = i;
    } else if (line.startsWith('[') && within) {
      end = i;
      break;
    }
  }
  const before = lines.slice(0, start);
  let sec = lines.slice(start, end);
  const after = lines.slice(end);
  let changedLines = sec.map(() => 0);
  const update = (i: number, nl: string) => {
    if (sec[i] !== nl) {
      changed = true;
      msg = 'option changed';
    }
    sec[i] = nl;
    changedLines[i] = 1;
  };
  if (p.state === 'present' && option) {
    for (let i = 0; i < sec.length; i++) {
      const m = matchOpt(option, sec[i]!);
      if (!m) continue;
      if (values.length && values.includes(m[6]!)) {
        const mv = m[6]!;
        if (!mv && p.allow_no_value) {
          update(i, `${option}\n`);
          noValuePresent = true;
        } else update(i, fmt(option, mv));
        values.splice(values.indexOf(mv), 1);
      } else if (!values.length && p.allow_no_value) {
        update(i, `${option}\n`);
        noValuePresent = true;
        break;
      }
    }
  }
  if (p.state === 'present' && p.exclusive && !p.allow_no_value) {
    if (values.length > 0) {
      for (let i = 0; i < sec.length; i++) {
        if (!changedLines[i] && option !== undefined && matchOpt(option, sec[i]!)) {
          update(i, fmt(option, values.shift()!));
          if (values.length === 0) break;
        }
      }
    }
    for (let i = sec.length - 1; i > 0; i--) {
      if (!changedLines[i] && option !== undefined && matchOpt(option, sec[i]!)) {
        sec.splice(i, 1);
        changedLines.splice(i, 1);
        changed = true;
        msg = 'option changed';
      }
    }
  }
  if (p.state === 'present') {
    for (let i = sec.length; i > 0; i--) {
      if (!blankOrComment.test(sec[i - 1]!.replace(/\n$/, ''))) {
        if (option && values.length) {
          sec.splice(i, 0, ...values.map((v) => fmt(option, v)));
          msg = 'option added';
          changed = true;
        } else if (option && !values.length && p.allow_no_value && !noValuePresent) {
          sec.splice(i, 0, `${option}\n`);
          msg = 'option added';
          changed = true;
        }
        break;
      }
    }
  }
  if (p.state === 'absent') {
    if (option) {
      const keep = sec.filter((l) => {
        const m = matchOpt(option, l, true);
        return !(m && (p.exclusive || values.includes(m[6]!)));
      });
      if ((p.exclusive || values.length > 0) && keep.length !== sec.length) {
        changed = true;
        msg = 'option changed';
        sec = keep;
      }
    } else if (sec.length) {
      sec = [];
      msg = 'section removed';
      changed = true;
    }
  }
  lines = [...before, ...sec, ...after] as string[];
  lines.shift();
  lines.pop();
  if (!within && p.state === 'present') {
    lines.push(`[${section}]\n`);
    msg = 'section and option added';
    if (option && values.length) for (const v of values) lines.push(fmt(option, v));
    else if (option && !values.length && p.allow_no_value) lines.push(`${option}\n`);
    else msg = 'only section added';
    changed = true;
  }
  void changedLines;
  return { after: lines.join(''), changed, msg };
}

export function planIniFile(p: IniFileParams, s: EditState | null): Plan {
  if (!s) return { steps: [], reason: 'no probe result', fail: { code: 'probe_failed', message: 'ini_file: no probe result' } };
  const plan = planEdit(p, s, (before, exists) => {
    const r = doIni(before, p);
    // an untouched file that only lacked its final newline counts as changed, as in Ansible (it gets one)
    return { after: r.changed || !exists ? r.after : before, msg: r.msg, noop: `${p.path}: ${p.option ?? `[${p.section ?? ''}]`} already as wanted` };
  });
  return { ...plan, result: { ...(plan.result ?? {}), path: p.path } };
}

const iniFile: ModuleDef<IniFileParams, EditState> = {
  name: 'ini_file',
  aliases: ['community.general.ini_file', 'community.general.files.ini_file'],
  description: 'an option or section of an INI file',
  schema: iniFileSchema,
  prepare: prepareIniFile,
  probe: probeEdit,
  plan: planIniFile,
};

export default iniFile;
