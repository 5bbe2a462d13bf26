/**
 * mount (ansible.posix.mount): an fstab entry and the mount itself.
 *
 * Probe (read-only): the fstab file (default /etc/fstab, `fstab:` like Ansible's), /proc/self/mountinfo (is the path
 * a mount point in the mount namespace the task runs in), and whether the mount point directory exists.
 * The fstab edit is Ansible's: lines whose mount point is `path` are the entry (replaced in place when a field
 * differs, all removed for absent), a new entry is appended as `src path fstype opts dump passno`, fields escaped
 * like Ansible's (space \040, tab \011, newline \012, backslash \134). Mounting uses the given fstab:
 * `mount -T FSTAB PATH`, like Ansible on Linux.
 *  - mounted: entry present, mount point made, mounted; mounted already and the entry changed: remounted
 *    (`mount -o remount`, falling back to umount + mount as Ansible does);
 *  - present: entry only; unmounted: umount if mounted (fstab untouched);
 *  - absent: entry removed, unmounted if mounted, the (then empty) mount point directory removed;
 *  - remounted: `mount -o remount` of a mounted path, always changed; not mounted: the task fails.
 */
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type Step } from './types.js';
import { EPILOGUE, PRELUDE, badArg, dirnameOf, frameProbe, quote, type FrameState } from './common.js';

export type MountState = 'mounted' | 'unmounted' | 'present' | 'absent' | 'remounted';

export interface MountParams {
  path: string;
  src?: string;
  fstype?: string;
  opts: string;
  dump: string;
  passno: string;
  state: MountState;
  fstab: string;
}

function one(raw: Record<string, unknown>, names: string[]): unknown {
  const given = names.filter((n) => raw[n] !== undefined && raw[n] !== null);
  if (given.length > 1) throw badArg(`mount: ${given.join(' and ')} are aliases: give one`);
  return given.length ? raw[given[0]!] : undefined;
}

export function prepareMount(raw: Record<string, unknown>): MountParams {
  const path = String(one(raw, ['path', 'name']) ?? '');
  const state = raw.state as MountState;
  // a swap entry has no mount point: `name: none` (or any word) with fstype swap is the fstab idiom Ansible accepts
  // for the fstab-only states
  const fstabOnly = (state === 'present' || state === 'absent') && (path === 'none' || String(raw.fstype ?? '') === 'swap');
  if (!path.startsWith('/') && !(fstabOnly && path !== '')) throw badArg(`mount: path ${JSON.stringify(path)} must be an absolute path`);
  let opts = raw.opts === undefined || raw.opts === null ? 'defaults' : String(raw.opts);
  if (raw.boot === false && !opts.split(',').includes('noauto')) opts = opts === 'defaults' ? 'noauto' : `${opts},noauto`;
  const p: MountParams = {
    path: path.length > 1 ? path.replace(/\/+$/, '') : path,
    opts,
    dump: raw.dump === undefined || raw.dump === null ? '0' : String(raw.dump),
    passno: raw.passno === undefined || raw.passno === null ? '0' : String(raw.passno),
    state,
    fstab: raw.fstab === undefined || raw.fstab === null ? '/etc/fstab' : String(raw.fstab),
  };
  if (raw.src !== undefined && raw.src !== null) p.src = String(raw.src);
  if (raw.fstype !== undefined && raw.fstype !== null) p.fstype = String(raw.fstype);
  if ((state === 'present' || state === 'mounted') && (p.src === undefined || p.fstype === undefined)) {
    throw badArg(`mount ${p.path}: src and fstype are required for state ${state}`);
  }
  if (!p.fstab.startsWith('/')) throw badArg(`mount: fstab ${JSON.stringify(p.fstab)} must be an absolute path`);
  for (const [k, v] of [['opts', p.opts], ['dump', p.dump], ['passno', p.passno], ['fstype', p.fstype ?? 'x']] as const) {
    if (v === '' || /\s/.test(v)) throw badArg(`mount ${p.path}: ${k} ${JSON.stringify(v)} must be a non-empty word`);
  }
  return p;
}

export function probeMount(p: MountParams): string {
  return [
    PRELUDE,
    `_f=${quote(p.fstab)}; _p=${quote(p.path)}`,
    `if [ -e "$_f" ]; then kvfile fstab "$_f"; else kv fstab_absent 1; fi`,
    `kvfile mountinfo /proc/self/mountinfo`,
    `if [ -d "$_p" ]; then kv dir 1; fi`,
    EPILOGUE,
  ].join('\n');
}

/** fstab field escaping (Ansible's _escape_fstab, plus tab and newline) */
export function escapeFstab(v: string): string {
  return v.replace(/\\/g, '\\134').replace(/ /g, '\\040').replace(/\t/g, '\\011').replace(/\n/g, '\\012');
}

/** octal escapes of mountinfo / fstab fields back to text */
export function unescapeOctal(v: string): string {
  return v.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** mount points listed in a /proc/self/mountinfo text (field 5, unescaped) */
export function mountPointsOf(mountinfo: string): Set<string> {
  const out = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    if (f.length > 5) out.add(unescapeOctal(f[4]!));
  }
  return out;
}

export interface FstabEdit {
  content: string;
  changed: boolean;
  /** the entry was there (some line had the mount point) */
  existed: boolean;
}

/** Ansible's set_mount (present) / unset_mount (absent) over the fstab text. */
export function editFstab(text: string, p: MountParams, remove: boolean): FstabEdit {
  const want = {
    src: escapeFstab(p.src ?? ''),
    name: escapeFstab(p.path),
    fstype: escapeFstab(p.fstype ?? ''),
    opts: escapeFstab(p.opts),
    dump: p.dump,
    passno: p.passno,
  };
  const newLine = `${want.src} ${want.name} ${want.fstype} ${want.opts} ${want.dump} ${want.passno}\n`;
  const lines = text === '' ? [] : text.split(/(?<=\n)/);
  const out: string[] = [];
  let existed = false;
  let changed = false;
  for (const line of lines) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) {
      out.push(line);
      continue;
    }
    const fields = t.split(/\s+/);
    if (fields.length < 4 || fields.length > 6 || fields[1] !== want.name) {
      out.push(line);
      continue;
    }
    existed = true;
    if (remove) {
      changed = true;
      continue;
    }
    const [src, , fstype, opts, dump = '0', passno = '0'] = fields;
    if (src !== want.src || fstype !== want.fstype || opts !== want.opts || dump !== want.dump || passno !== want.passno) {
      changed = true;
      out.push(newLine);
    } else out.push(line);
  }
  if (!remove && !existed) {
    if (out.length && !out[out.length - 1]!.endsWith('\n')) out[out.length - 1] += '\n';
    out.push(newLine);
    changed = true;
  }
  return { content: out.join(''), changed, existed };
}

export function planMount(p: MountParams, f: FrameState): Plan {
  if (isProbeFailed(f)) return failPlan({ ...f.probeFailed, message: `mount ${p.path}: ${f.probeFailed.message}` }, undefined, f.probeFailed.message);
  const fstabAbsent = f.str('fstab_absent') === '1';
  const fstab = f.str('fstab') ?? '';
  const mountinfo = f.str('mountinfo');
  if (mountinfo === undefined) {
    return failPlan(failure('unreadable', `mount ${p.path}: cannot read /proc/self/mountinfo`, '/proc/self/mountinfo'));
  }
  if (!fstabAbsent && !f.has('fstab')) {
    return failPlan(failure('unreadable', `mount ${p.path}: cannot read ${p.fstab}`, p.fstab));
  }
  const mounted = mountPointsOf(mountinfo).has(p.path);
  const dirExists = f.str('dir') === '1';
  const P = quote(p.path);
  const T = quote(p.fstab);
  const steps: Step[] = [];
  const changes: string[] = [];
  const notes: string[] = [];
  const diffs: Plan['diffs'] = [];
  const result = { name: p.path, src: p.src, fstype: p.fstype, opts: p.opts, dump: p.dump, passno: p.passno, fstab: p.fstab };
  const remountScript = `mount -o remount -T ${T} ${P} || { umount ${P} && mount -T ${T} ${P}; }`;

  const writeFstab = (edit: FstabEdit) => {
    if (fstabAbsent) {
      const dir = dirnameOf(p.fstab);
      steps.push({ kind: 'run', script: `mkdir -p -- ${quote(dir)}`, describe: `mkdir -p ${dir}` });
    }
    steps.push({ kind: 'write', path: p.fstab, content: edit.content, ...(fstabAbsent ? { mode: '0644' } : {}), describe: `update ${p.fstab}` });
    diffs.push({ label: p.fstab, before: fstab, after: edit.content });
  };

  switch (p.state) {
    case 'present':
    case 'mounted': {
      const edit = editFstab(fstab, p, false);
      if (edit.changed) {
        writeFstab(edit);
        changes.push(edit.existed ? `update the ${p.path} entry in ${p.fstab}` : `add ${p.path} to ${p.fstab}`);
      } else notes.push(`${p.fstab} has the entry for ${p.path}`);
      if (p.state === 'mounted') {
        if (!mounted) {
          if (!dirExists) steps.push({ kind: 'run', script: `mkdir -p -- ${P}`, describe: `mkdir -p ${p.path}` });
          steps.push({ kind: 'run', script: `mount -T ${T} ${P}`, describe: `mount ${p.path}` });
          changes.push(`mount ${p.path}`);
        } else if (edit.changed) {
          steps.push({ kind: 'run', script: remountScript, describe: `remount ${p.path}` });
          changes.push(`remount ${p.path}`);
        } else notes.push(`${p.path} is mounted`);
      }
      break;
    }
    case 'unmounted':
      if (mounted) {
        steps.push({ kind: 'run', script: `umount ${P}`, describe: `umount ${p.path}` });
        changes.push(`unmount ${p.path}`);
      } else notes.push(`${p.path} is not mounted`);
      break;
    case 'absent': {
      const edit = editFstab(fstab, p, true);
      if (edit.changed) {
        writeFstab(edit);
        changes.push(`remove ${p.path} from ${p.fstab}`);
      } else notes.push(`${p.fstab} has no entry for ${p.path}`);
      if (mounted) {
        steps.push({ kind: 'run', script: `umount ${P}`, describe: `umount ${p.path}` });
        changes.push(`unmount ${p.path}`);
      } else notes.push(`${p.path} is not mounted`);
      // Ansible removes the mount point; only an empty directory, and only along a change
      if (steps.length && dirExists && p.path.startsWith('/')) steps.push({ kind: 'run', script: `rmdir -- ${P} 2>/dev/null || :`, describe: `rmdir ${p.path}` });
      break;
    }
    case 'remounted':
      if (!mounted) {
        return failPlan(failure('not_mounted', `mount ${p.path}: cannot remount, it is not mounted`, p.path), result);
      }
      steps.push({ kind: 'run', script: remountScript, describe: `remount ${p.path}` });
      changes.push(`remount ${p.path}`);
      break;
  }
  const plan: Plan = { steps, reason: steps.length ? [...changes, ...notes].join('; ') : notes.join('; '), result };
  if (diffs.length) plan.diffs = diffs;
  return plan;
}

const scalar = { type: ['string', 'integer'] };

const mount: ModuleDef<MountParams, FrameState> = {
  name: 'mount',
  aliases: ['ansible.posix.mount'],
  description: 'an fstab entry and the mount (mounted/unmounted/present/absent/remounted; fstab: another file)',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['state'],
    properties: {
      path: { type: 'string', minLength: 1 },
      name: { type: 'string', minLength: 1 },
      src: { type: 'string', minLength: 1 },
      fstype: { type: 'string', minLength: 1 },
      opts: { type: 'string', minLength: 1 },
      dump: scalar,
      passno: scalar,
      state: { enum: ['mounted', 'unmounted', 'present', 'absent', 'remounted'] },
      fstab: { type: 'string', minLength: 1 },
      boot: { type: 'boolean' },
    },
  },
  validate: (raw) => {
    if (raw.path === undefined && raw.name === undefined) return ['mount: path is required'];
    try {
      prepareMount(raw);
      return [];
    } catch (e) {
      return [(e as Error).message];
    }
  },
  prepare: prepareMount,
  probe: (p) => frameProbe(probeMount(p)),
  plan: planMount,
};

export default mount;
