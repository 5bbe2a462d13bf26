/**
 * group (ansible.builtin.group): local groups with groupadd / groupmod / groupdel (shadow-utils, as Ansible on
 * Linux). name, state, gid, system, non_unique; `local` (lgroupadd) is not supported yet.
 *
 * One read-only probe: the group's entry (getent group NAME) and, when a gid is given, the group that has that gid
 * (getent group GID). The plan is pure: present and missing -> groupadd; present with another gid -> groupmod -g
 * (system is only used when creating, as Ansible); absent and there -> groupdel. A gid another group already has
 * fails before any change unless non_unique (groupadd/groupmod -o), as the tools themselves would.
 */
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan } from './types.js';
import { coerceArgs } from './coerce.js';
import { EPILOGUE, PRELUDE, badArg, frameProbe, namesFor, type FrameState, quote } from './common.js';

export interface GroupParams {
  name: string;
  state: 'present' | 'absent';
  gid?: number;
  system: boolean;
  nonUnique: boolean;
}

export const groupSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1 },
    state: { enum: ['present', 'absent'] },
    gid: { type: 'integer', minimum: 0 },
    system: { type: 'boolean' },
    non_unique: { type: 'boolean' },
  },
};

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/;

export function prepareGroup(given: Record<string, unknown>): GroupParams {
  // the arguments as Ansible's module would see them (system=yes -> true, gid="990" -> 990), whatever the caller did
  const params = coerceArgs(groupSchema, given);
  const name = String(params.name ?? '');
  if (!NAME_RE.test(name) || name.length > 32) throw badArg(`group: '${name}' is not a valid group name`);
  const p: GroupParams = {
    name,
    state: (params.state as GroupParams['state'] | undefined) ?? 'present',
    system: params.system === true,
    nonUnique: params.non_unique === true,
  };
  if (params.gid !== undefined && params.gid !== null) {
    const gid = Number(params.gid);
    if (!Number.isInteger(gid) || gid < 0) throw badArg(`group: gid must be a non-negative integer, not '${String(params.gid)}'`);
    p.gid = gid;
  }
  return p;
}

export function probeGroup(p: GroupParams): string {
  const lines = [
    PRELUDE,
    `if ! command -v groupadd >/dev/null 2>&1; then kv no_groupadd 1; fi`,
    `kv entry "$(getent group -- ${quote(p.name)})"`,
  ];
  if (p.gid !== undefined) lines.push(`kv by_gid "$(getent group -- ${p.gid} | head -n 1)"`);
  lines.push(EPILOGUE);
  return lines.join('\n');
}

export function planGroup(p: GroupParams, f: FrameState): Plan {
  if (isProbeFailed(f)) return failPlan(f.probeFailed);
  const entry = (f.str('entry') ?? '').split(':');
  const exists = entry.length >= 3 && entry[0] === p.name;
  const curGid = exists ? Number(entry[2]) : undefined;
  const result: Record<string, unknown> = { name: p.name, state: p.state, system: p.system };
  const fail = (msg: string): Plan => failPlan(failure('group', msg), result);

  if (p.state === 'absent') {
    if (!exists) return { steps: [], reason: `group ${p.name} does not exist`, result };
    return {
      steps: [{ kind: 'run', script: `groupdel -- ${quote(p.name)}`, describe: `groupdel ${p.name}` }],
      reason: `remove group ${p.name}`,
      diffs: [{ label: `group ${p.name}`, before: `gid=${curGid}\n`, after: 'absent\n' }],
      result,
    };
  }
  if (f.str('no_groupadd') === '1') return fail('groupadd not found on this host');
  if (p.gid !== undefined && !p.nonUnique && curGid !== p.gid) {
    const other = (f.str('by_gid') ?? '').split(':')[0];
    if (other && other !== p.name) return fail(`GID '${p.gid}' already exists (group ${other}); set non_unique to share it`);
  }
  if (!exists) {
    const args = ['groupadd'];
    if (p.gid !== undefined) args.push('-g', String(p.gid), ...(p.nonUnique ? ['-o'] : []));
    if (p.system) args.push('-r');
    args.push('--', quote(p.name));
    return {
      steps: [{ kind: 'run', script: args.join(' '), describe: `groupadd ${p.name}` }],
      reason: `create ${p.system ? 'system ' : ''}group ${p.name}${p.gid !== undefined ? ` with gid ${p.gid}` : ''}`,
      diffs: [{ label: `group ${p.name}`, before: 'absent\n', after: `gid=${p.gid ?? '(next free)'}\n` }],
      result: p.gid !== undefined ? { ...result, gid: p.gid } : result,
      accounts: [p.name],
    };
  }
  if (p.gid !== undefined && curGid !== p.gid) {
    return {
      steps: [{ kind: 'run', script: ['groupmod', '-g', String(p.gid), ...(p.nonUnique ? ['-o'] : []), '--', quote(p.name)].join(' '), describe: `groupmod ${p.name}` }],
      reason: `gid ${curGid} -> ${p.gid}`,
      diffs: [{ label: `group ${p.name}`, before: `gid=${curGid}\n`, after: `gid=${p.gid}\n` }],
      result: { ...result, gid: p.gid },
    };
  }
  return { steps: [], reason: `group ${p.name} exists${curGid !== undefined ? ` with gid ${curGid}` : ''}`, result: { ...result, gid: curGid } };
}

const group: ModuleDef<GroupParams, FrameState> = {
  name: 'group',
  aliases: namesFor('group'),
  description: 'Local groups (groupadd/groupmod/groupdel): gid, system, non_unique',
  schema: groupSchema,
  prepare: prepareGroup,
  probe: (p) => frameProbe(probeGroup(p)),
  plan: planGroup,
};

export default group;
