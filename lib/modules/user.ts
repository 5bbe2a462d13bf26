/**
 * user: local accounts with useradd / usermod / userdel (shadow-utils, as Ansible on Linux).
 *
 * One read-only probe: the passwd entry (getent), the groups that list the user as a member, every group the task
 * names (to check it exists and learn its gid), whether the home directory exists and, only when `password` is
 * given, the current hash (never printed: reasons and diffs say "password hash differs", not the value).
 */
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type Step } from './types.js';
import { EPILOGUE, PRELUDE, badArg, frameProbe, namesFor, type FrameState, quote } from './common.js';

export interface UserParams {
  name: string;
  state: 'present' | 'absent';
  uid?: number;
  group?: string;
  /** undefined: not managed; [] with append false: no supplementary groups */
  groups?: string[];
  append: boolean;
  shell?: string;
  home?: string;
  createHome: boolean;
  moveHome: boolean;
  system: boolean;
  comment?: string;
  password?: string;
  updatePassword: 'always' | 'on_create';
  remove: boolean;
  force: boolean;
  nonUnique: boolean;
  /** password_expire_min / _max / _warn: the shadow aging fields (chage -m / -M / -W) */
  expire: { min?: number; max?: number; warn?: number };
}

/** chage's flag per aging field, in shadow's order (field 4 min, 5 max, 6 warn) */
const EXPIRE = [['min', '-m', 3], ['max', '-M', 4], ['warn', '-W', 5]] as const;

/** The chage command for the aging fields that differ from the shadow entry's (all given ones when it is unknown). */
export function chageArgs(p: UserParams, shadow: string | undefined): { args: string[]; changes: string[] } {
  const cur = shadow !== undefined ? shadow.split(':') : [];
  const args: string[] = [];
  const changes: string[] = [];
  for (const [k, flag, i] of EXPIRE) {
    const want = p.expire[k];
    if (want === undefined) continue;
    const have = cur[i];
    if (have !== undefined && (have === '' ? want === -1 && shadow !== undefined : Number(have) === want)) continue;
    args.push(flag, String(want));
    changes.push(`password_expire_${k} ${have === undefined || have === '' ? '(unset)' : have} -> ${want}`);
  }
  return { args, changes };
}

const NAME_RE = /^[a-z_][a-z0-9_.-]*\$?$/i;

export function prepareUser(params: Record<string, unknown>): UserParams {
  const given = (['name', 'user'] as const).filter((k) => params[k] !== undefined);
  if (given.length !== 1) throw badArg(given.length ? 'name and user are aliases: give one' : 'name is required');
  const name = String(params[given[0]!]);
  if (!NAME_RE.test(name) || name.length > 32) throw badArg(`user: '${name}' is not a valid user name`);
  if (params.create_home !== undefined && params.createhome !== undefined) throw badArg('create_home and createhome are aliases: give one');
  const p: UserParams = {
    name,
    state: (params.state as 'present' | 'absent' | undefined) ?? 'present',
    append: params.append === true,
    createHome: (params.create_home ?? params.createhome) !== false,
    moveHome: params.move_home === true,
    system: params.system === true,
    updatePassword: (params.update_password as 'always' | 'on_create' | undefined) ?? 'always',
    remove: params.remove === true,
    force: params.force === true,
    nonUnique: params.non_unique === true,
    expire: {},
  };
  for (const [k] of EXPIRE) {
    const v = params[`password_expire_${k}`];
    if (v === undefined || v === null) continue;
    const n = Number(v);
    if (!Number.isInteger(n) || n < -1) throw badArg(`user: password_expire_${k} must be an integer, not '${String(v)}'`);
    p.expire[k] = n;
  }
  if (params.uid !== undefined) {
    const uid = Number(params.uid);
    if (!Number.isInteger(uid) || uid < 0) throw badArg(`user: uid must be a non-negative integer, not '${String(params.uid)}'`);
    p.uid = uid;
  }
  if (params.group !== undefined) p.group = String(params.group);
  if (params.groups !== undefined && params.groups !== null) {
    const list = Array.isArray(params.groups) ? params.groups.map(String) : String(params.groups).split(',');
    p.groups = [...new Set(list.map((g) => g.trim()).filter(Boolean))];
  }
  if (typeof params.shell === 'string') p.shell = params.shell;
  if (typeof params.home === 'string') p.home = params.home;
  if (typeof params.comment === 'string') p.comment = params.comment;
  if (typeof params.password === 'string') {
    if (params.password !== '' && !params.password.startsWith('$') && params.password !== '*' && !params.password.startsWith('!')) {
      throw badArg('user: password must be a crypted hash (e.g. "{{ \'secret\' | password_hash(\'sha512\') }}"), not a clear-text password');
    }
    p.password = params.password;
  }
  return p;
}

export function probeUser(p: UserParams): string {
  const lines = [
    PRELUDE,
    `if ! command -v useradd >/dev/null 2>&1; then kv no_useradd 1; fi`,
    `u=${quote(p.name)}`,
    `_e=$(getent passwd -- "$u")`,
    `kv passwd "$_e"`,
    // supplementary groups: every group whose member list names the user
    `kv member "$(getent group | awk -F: -v u="$u" '{ n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) { print $1; break } }' | tr '\\n' ' ')"`,
    `if [ -n "$_e" ]; then _h=$(printf '%s' "$_e" | cut -d: -f6); if [ -d "$_h" ]; then kv home_exists 1; else kv home_exists 0; fi; fi`,
  ];
  const named = [...new Set([...(p.group !== undefined ? [p.group] : []), ...(p.groups ?? [])])];
  named.forEach((g, i) => lines.push(`kv g${i} "$(getent group -- ${quote(g)})"`));
  if (p.home !== undefined) lines.push(`if [ -e ${quote(p.home)} ]; then kv new_home_exists 1; else kv new_home_exists 0; fi`);
  if (p.password !== undefined) lines.push(`kv shadow "$(getent shadow -- "$u" | cut -d: -f2)"`);
  if (Object.keys(p.expire).length) lines.push(`if [ -n "$_e" ]; then kv aging "$(getent shadow -- "$u")"; fi`);
  lines.push(EPILOGUE);
  return lines.join('\n');
}

export function planUser(p: UserParams, f: FrameState): Plan {
  if (isProbeFailed(f)) return failPlan(f.probeFailed);
  const fail = (msg: string): Plan => failPlan(failure('user', msg), { name: p.name, state: p.state });
  const pw = (f.str('passwd') ?? '').split(':');
  const exists = pw.length >= 7 && pw[0] === p.name;
  const result: Record<string, unknown> = { name: p.name, state: p.state };

  if (p.state === 'absent') {
    if (!exists) return { steps: [], reason: `user ${p.name} does not exist`, result };
    const cmd = ['userdel', ...(p.remove ? ['-r'] : []), ...(p.force ? ['-f'] : []), '--', quote(p.name)].join(' ');
    return {
      steps: [{ kind: 'run', script: cmd, describe: `userdel ${p.name}` }],
      reason: `remove user ${p.name}${p.remove ? ' and its home directory' : ''}`,
      diffs: [{ label: `user ${p.name}`, before: `${describeEntry(pw)}\n`, after: 'absent\n' }],
      result,
    };
  }
  if (f.str('no_useradd') === '1') return fail('useradd not found on this host');

  // the groups the task names: they must exist (Ansible fails the same way)
  const named = [...new Set([...(p.group !== undefined ? [p.group] : []), ...(p.groups ?? [])])];
  const gids = new Map<string, { name: string; gid: number }>();
  for (let i = 0; i < named.length; i++) {
    const e = (f.str(`g${i}`) ?? '').split(':');
    if (e.length < 3 || e[0] === '') return fail(`Group ${named[i]} does not exist`);
    gids.set(named[i]!, { name: e[0]!, gid: Number(e[2]) });
  }
  const groupName = (g: string) => gids.get(g)?.name ?? g;

  if (!exists) {
    const args = ['useradd'];
    if (p.uid !== undefined) args.push('-u', String(p.uid), ...(p.nonUnique ? ['-o'] : []));
    if (p.group !== undefined) args.push('-g', quote(p.group));
    if (p.groups !== undefined && p.groups.length) args.push('-G', quote(p.groups.map(groupName).join(',')));
    if (p.comment !== undefined) args.push('-c', quote(p.comment));
    if (p.home !== undefined) args.push('-d', quote(p.home));
    if (p.shell !== undefined) args.push('-s', quote(p.shell));
    if (p.password !== undefined) args.push('-p', quote(p.password));
    if (p.system) args.push('-r');
    args.push(p.createHome ? '-m' : '-M', '--', quote(p.name));
    const chage = chageArgs(p, undefined);
    if (chage.args.length) args.push('&&', 'chage', ...chage.args, '--', quote(p.name));
    const after = [`uid=${p.uid ?? '(next free)'}`, `group=${p.group ?? '(default)'}`, `groups=${(p.groups ?? []).join(',')}`, `home=${p.home ?? '(default)'}`, `shell=${p.shell ?? '(default)'}`];
    return {
      steps: [{ kind: 'run', script: args.join(' '), describe: `useradd ${p.name}` }],
      reason: `create ${p.system ? 'system ' : ''}user ${p.name}`,
      diffs: [{ label: `user ${p.name}`, before: 'absent\n', after: after.join('\n') + '\n' }],
      result: { ...result, system: p.system, create_home: p.createHome },
      accounts: [p.name],
    };
  }

  // an existing user: usermod for what differs
  const [, , uidS, gidS, gecos, home, shell] = pw as [string, string, string, string, string, string, string];
  const changes: string[] = [];
  const args: string[] = [];
  const before: string[] = [];
  const after: string[] = [];
  const note = (what: string, b: string, a: string) => {
    changes.push(`${what} ${b} -> ${a}`);
    before.push(`${what}=${b}`);
    after.push(`${what}=${a}`);
  };
  if (p.uid !== undefined && Number(uidS) !== p.uid) {
    args.push('-u', String(p.uid), ...(p.nonUnique ? ['-o'] : []));
    note('uid', uidS, String(p.uid));
  }
  if (p.group !== undefined && gids.get(p.group)!.gid !== Number(gidS)) {
    args.push('-g', quote(p.group));
    note('group', gidS, `${p.group} (${gids.get(p.group)!.gid})`);
  }
  const current = new Set((f.str('member') ?? '').split(/\s+/).filter(Boolean));
  if (p.groups !== undefined) {
    const want = p.groups.map(groupName);
    const primary = p.group !== undefined ? groupName(p.group) : undefined;
    const wantSet = new Set(want.filter((g) => g !== primary));
    if (p.append) {
      const missing = [...wantSet].filter((g) => !current.has(g));
      if (missing.length) {
        args.push('-a', '-G', quote(missing.join(',')));
        note('groups', [...current].sort().join(',') || '(none)', [...new Set([...current, ...missing])].sort().join(','));
      }
    } else {
      const same = wantSet.size === current.size && [...wantSet].every((g) => current.has(g));
      if (!same) {
        args.push('-G', quote([...wantSet].join(',')));
        note('groups', [...current].sort().join(',') || '(none)', [...wantSet].sort().join(',') || '(none)');
      }
    }
  }
  if (p.comment !== undefined && gecos !== p.comment) {
    args.push('-c', quote(p.comment));
    note('comment', JSON.stringify(gecos), JSON.stringify(p.comment));
  }
  if (p.home !== undefined && home !== p.home) {
    args.push('-d', quote(p.home), ...(p.moveHome && f.str('new_home_exists') !== '1' ? ['-m'] : []));
    note('home', home, p.home);
  }
  if (p.shell !== undefined && shell !== p.shell) {
    args.push('-s', quote(p.shell));
    note('shell', shell, p.shell);
  }
  let pwChanged = false;
  if (p.password !== undefined && p.updatePassword === 'always' && (f.str('shadow') ?? '') !== p.password) {
    args.push('-p', quote(p.password));
    changes.push('password hash differs');
    pwChanged = true;
  }
  const steps: Step[] = [];
  if (args.length) steps.push({ kind: 'run', script: ['usermod', ...args, '--', quote(p.name)].join(' '), describe: `usermod ${p.name}` });
  const chage = chageArgs(p, f.str('aging'));
  if (chage.args.length) {
    steps.push({ kind: 'run', script: ['chage', ...chage.args, '--', quote(p.name)].join(' '), describe: `chage ${p.name}` });
    changes.push(...chage.changes);
  }
  // Ansible creates a missing home directory of an existing user when create_home is true
  const finalHome = p.home ?? home;
  const homeMissing = p.home !== undefined && p.home !== home ? f.str('new_home_exists') !== '1' && !p.moveHome : f.str('home_exists') === '0';
  if (p.createHome && homeMissing && finalHome && finalHome !== '/nonexistent') {
    steps.push({
      kind: 'run',
      script: `mkdir -p -- ${quote(finalHome)} && cp -a /etc/skel/. ${quote(finalHome)}/ 2>/dev/null; chown -R ${quote(p.name)}: -- ${quote(finalHome)} && chmod 0755 -- ${quote(finalHome)}`,
      describe: `create home ${finalHome}`,
    });
    changes.push(`create home directory ${finalHome}`);
  }
  const res = { ...result, uid: p.uid ?? Number(uidS), home: finalHome, shell: p.shell ?? shell };
  if (!steps.length) return { steps, reason: `user ${p.name} exists as wanted`, result: res };
  const plan: Plan = { steps, reason: changes.join(', '), result: res };
  if (before.length || pwChanged) plan.diffs = [{ label: `user ${p.name}`, before: before.join('\n') + (before.length ? '\n' : ''), after: after.join('\n') + (after.length ? '\n' : '') }];
  return plan;
}

function describeEntry(pw: string[]): string {
  return `uid=${pw[2]} gid=${pw[3]} home=${pw[5]} shell=${pw[6]}`;
}

export const userSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1 },
    user: { type: 'string', minLength: 1 },
    state: { enum: ['present', 'absent'] },
    uid: { type: ['integer', 'string'] },
    group: { type: 'string', minLength: 1 },
    groups: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }, { type: 'null' }] },
    append: { type: 'boolean' },
    shell: { type: 'string', minLength: 1 },
    home: { type: 'string', minLength: 1 },
    create_home: { type: 'boolean' },
    createhome: { type: 'boolean' },
    move_home: { type: 'boolean' },
    system: { type: 'boolean' },
    comment: { type: 'string' },
    password: { type: 'string' },
    update_password: { enum: ['always', 'on_create'] },
    password_expire_max: { type: 'integer' },
    password_expire_min: { type: 'integer' },
    password_expire_warn: { type: 'integer' },
    remove: { type: 'boolean' },
    force: { type: 'boolean' },
    non_unique: { type: 'boolean' },
  },
};

const user: ModuleDef<UserParams, FrameState> = {
  name: 'user',
  aliases: namesFor('user'),
  description: 'Local user accounts (useradd/usermod/userdel): uid, group, groups, shell, home, system, password hash',
  schema: userSchema,
  prepare: prepareUser,
  probe: (p) => frameProbe(probeUser(p)),
  plan: planUser,
};

export default user;
