/**
 * modprobe (community.general.modprobe): a kernel module loaded (present) or not (absent), and optionally persisted
 * (persistent: present -> /etc/modules-load.d/NAME.conf with its name and /etc/modprobe.d/NAME.conf with
 * `options NAME PARAM` lines; absent -> those lines commented out wherever they are; disabled -> files untouched).
 * Loaded = listed in /proc/modules (dashes as underscores) or built into the kernel (modules.builtin), as the
 * collection checks (a host without /proc/modules, such as a sandboxed kernel, has none loaded). A missing
 * modules-load.d / modprobe.d is created (the collection fails listing it). The plan is exact in check mode: it says which of modprobe, modprobe -r and the file edits
 * would run (Ansible's check mode asks `modprobe -n`; runbook's probe reads the same files instead).
 */
import { failPlan, failure, isProbeFailed, type FileDiff, type ModuleDef, type Plan, type Step } from './types.js';
import { EPILOGUE, PRELUDE, badArg, frameProbe, quote, type FrameState } from './common.js';
import { showEscapes } from './bytes.js';

export interface ModprobeParams {
  name: string;
  state: 'present' | 'absent';
  params: string;
  persistent: 'disabled' | 'present' | 'absent';
}

export const modprobeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1 },
    state: { enum: ['present', 'absent'] },
    params: { type: 'string' },
    persistent: { enum: ['disabled', 'present', 'absent'] },
  },
};

export function prepareModprobe(raw: Record<string, unknown>): ModprobeParams {
  const name = String(raw.name ?? '');
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw badArg(`modprobe: '${name}' is not a kernel module name`);
  const params = raw.params === undefined || raw.params === null ? '' : String(raw.params);
  if (params.includes('\n')) throw badArg('modprobe: params must be one line');
  return { name, state: (raw.state as ModprobeParams['state'] | undefined) ?? 'present', params, persistent: (raw.persistent as ModprobeParams['persistent'] | undefined) ?? 'disabled' };
}

const LOAD_DIR = '/etc/modules-load.d';
const OPTS_DIR = '/etc/modprobe.d';

export function modprobeScript(): string {
  return [
    PRELUDE,
    `kv modules "$(cut -d ' ' -f 1 /proc/modules 2>/dev/null)"`,
    `_b=/lib/modules/$(uname -r)/modules.builtin; [ -f "$_b" ] && kv builtin "$(cat "$_b")"`,
    `command -v modprobe >/dev/null 2>&1 && kv has_modprobe 1`,
    `[ -d ${LOAD_DIR} ] && kv load_dir 1; [ -d ${OPTS_DIR} ] && kv opts_dir 1`,
    `_i=0; for _f in ${LOAD_DIR}/* ; do [ -f "$_f" ] || continue; kv "load_name_$_i" "$_f"; kvfile "load_$_i" "$_f"; _i=$((_i+1)); done`,
    `_i=0; for _f in ${OPTS_DIR}/* ; do [ -f "$_f" ] || continue; kv "opts_name_$_i" "$_f"; kvfile "opts_$_i" "$_f"; _i=$((_i+1)); done`,
    EPILOGUE,
  ].join('\n');
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function files(f: Exclude<FrameState, { probeFailed: unknown }>, kind: 'load' | 'opts'): { path: string; content: string }[] {
  const out: { path: string; content: string }[] = [];
  for (let i = 0; f.has(`${kind}_name_${i}`); i++) out.push({ path: f.str(`${kind}_name_${i}`)!, content: f.str(`${kind}_${i}`) ?? '' });
  return out;
}

/** Python's readlines(): lines with their newline (the last may have none). */
function readlines(s: string): string[] {
  return s.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

export function planModprobe(p: ModprobeParams, f: FrameState | null): Plan {
  if (!f) return failPlan(failure('probe_failed', 'modprobe: no probe result'));
  if (isProbeFailed(f)) return failPlan(f.probeFailed);
  const result = { name: p.name, params: p.params, state: p.state };
  const loadedNames = new Set((f.str('modules') ?? '').split('\n'));
  const loaded = loadedNames.has(p.name.replace(/-/g, '_')) || (f.str('builtin') ?? '').split('\n').some((l) => l.trimEnd().endsWith(`/${p.name}.ko`));
  const steps: Step[] = [];
  const diffs: FileDiff[] = [];
  const why: string[] = [];
  const needModprobe = (p.state === 'present' && !loaded) || (p.state === 'absent' && loaded);
  if (needModprobe && f.str('has_modprobe') !== '1') return failPlan(failure('no_modprobe', 'modprobe: the modprobe command is not installed on the host (package kmod)'), result);
  if (p.state === 'present' && !loaded) {
    steps.push({ kind: 'run', script: ['modprobe', quote(p.name), ...splitParams(p.params).map(quote)].join(' '), describe: `modprobe ${p.name}` });
    why.push(`load ${p.name}`);
  } else if (p.state === 'absent' && loaded) {
    steps.push({ kind: 'run', script: `modprobe -r ${quote(p.name)}`, describe: `modprobe -r ${p.name}` });
    why.push(`unload ${p.name}`);
  }
  const reModule = new RegExp(`^ *${esc(p.name)} *(?:[#;].*)?\\n?$`);
  const reParams = new RegExp(`^options ${esc(p.name)} \\w+=\\S+ *(?:[#;].*)?\\n?$`);
  const reGet = new RegExp(`^options ${esc(p.name)} (\\w+=\\S+) *(?:[#;].*)?\\n?$`);
  const loadFiles = files(f, 'load');
  const optFiles = files(f, 'opts');
  const persisted = loadFiles.some((x) => readlines(x.content).some((l) => reModule.test(l)));
  const permanent = new Set(optFiles.flatMap((x) => readlines(x.content).map((l) => reGet.exec(l)?.[1]).filter((v): v is string => v !== undefined)));
  const desired = new Set(p.params.split(/\s+/).filter(Boolean));
  const paramsSet = desired.size === permanent.size && [...desired].every((x) => permanent.has(x));
  // the collection rewrites a file it comments lines in as '\n'.join(readlines()): each kept newline doubles
  const commentOut = (list: { path: string; content: string }[], re: RegExp) => {
    for (const x of list) {
      const lines = readlines(x.content);
      if (!lines.some((l) => re.test(l))) continue;
      const after = lines.map((l) => (re.test(l) ? '#' + l : l)).join('\n');
      steps.push({ kind: 'write', path: x.path, content: after, describe: `comment out ${p.name} in ${x.path}` });
      diffs.push({ label: x.path, before: showEscapes(x.content), after: showEscapes(after) });
    }
  };
  if (p.persistent === 'present' && !(persisted && paramsSet)) {
    if (!persisted) {
      const path = `${LOAD_DIR}/${p.name}.conf`;
      if (f.str('load_dir') !== '1') steps.push({ kind: 'run', script: `mkdir -p -- ${LOAD_DIR}`, describe: `create ${LOAD_DIR}` });
      steps.push({ kind: 'write', path, content: `${p.name}\n`, describe: `write ${path}` });
      diffs.push({ label: path, before: '', after: `${p.name}\n` });
      why.push(`load ${p.name} at boot`);
    }
    if (!paramsSet) {
      commentOut(optFiles, reParams);
      const path = `${OPTS_DIR}/${p.name}.conf`;
      if (f.str('opts_dir') !== '1') steps.push({ kind: 'run', script: `mkdir -p -- ${OPTS_DIR}`, describe: `create ${OPTS_DIR}` });
      const content = [...p.params.split(/\s+/).filter(Boolean).map((x) => `options ${p.name} ${x}`)].join('\n') + '\n';
      steps.push({ kind: 'write', path, content, describe: `write ${path}` });
      diffs.push({ label: path, before: optFiles.find((x) => x.path === path)?.content ?? '', after: content });
      why.push(`options ${p.params || '(none)'} at boot`);
    }
  } else if (p.persistent === 'absent' && (persisted || permanent.size > 0)) {
    if (persisted) commentOut(loadFiles, reModule);
    if (permanent.size > 0) commentOut(optFiles, reParams);
    why.push(`do not load ${p.name} at boot`);
  }
  if (steps.length === 0) return { steps, reason: `${p.name} is ${p.state === 'present' ? 'loaded' : 'not loaded'}${p.persistent !== 'disabled' ? ` and ${p.persistent === 'present' ? '' : 'not '}persisted` : ''}`, result };
  return { steps, reason: why.join('; '), diffs, result };
}

/** shlex.split of the params (simple words; quotes kept out) */
function splitParams(s: string): string[] {
  return (s.match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map((w) => w.replace(/^(["'])(.*)\1$/, '$2'));
}

const modprobe: ModuleDef<ModprobeParams, FrameState> = {
  name: 'modprobe',
  aliases: ['community.general.modprobe', 'community.general.system.modprobe'],
  description: 'load or unload a kernel module; persist it in modules-load.d / modprobe.d',
  schema: modprobeSchema,
  prepare: prepareModprobe,
  probe: () => frameProbe(modprobeScript()),
  plan: planModprobe,
};

export default modprobe;
