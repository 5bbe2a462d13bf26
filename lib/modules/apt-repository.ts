/**
 * apt_repository (ansible.builtin.apt_repository): a one-line APT source (`deb [opts] URI SUITE COMPONENTS...`) in
 * /etc/apt/sources.list or /etc/apt/sources.list.d/*.list, as Ansible manages it: present -> an existing line with
 * the same source (whitespace-normalised) anywhere is kept (enabled if it was commented out), else the line is
 * added to sources.list.d/FILENAME.list, FILENAME being `filename` or Ansible's name for the source (the URI's host
 * and path without the scheme or credentials, every run of other characters an underscore:
 * `deb http://deb.example.org/debian stable main` -> deb_example_org_debian.list), created with `mode` (default
 * 0644); absent -> every enabled line with that source is removed, and a file left with no line at all is deleted.
 * A file that changes is written as Ansible dumps it (`# ` before disabled lines, ` # ` before comments);
 * unchanged files are not rewritten. update_cache (default yes): `apt-get update` after a change.
 * `ppa:` sources (Launchpad lookups) are not supported by runbook yet.
 */
import { failPlan, failure, isProbeFailed, type FileDiff, type ModuleDef, type Plan, type Step } from './types.js';
import { EPILOGUE, PRELUDE, badArg, frameProbe, namesFor, normaliseMode, quote, type FrameState } from './common.js';
import { showEscapes } from './bytes.js';

export interface AptRepositoryParams {
  repo: string;
  state: 'present' | 'absent';
  filename?: string;
  mode?: string;
  update_cache: boolean;
  codename?: string;
}

export const aptRepositorySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['repo'],
  properties: {
    repo: { type: 'string' },
    state: { enum: ['present', 'absent'] },
    filename: { type: 'string', minLength: 1 },
    mode: { type: ['string', 'integer'] },
    update_cache: { type: 'boolean' },
    'update-cache': { type: 'boolean' },
    update_cache_retries: { type: 'integer' },
    update_cache_retry_max_delay: { type: 'integer' },
    validate_certs: { type: 'boolean' },
    install_python_apt: { type: 'boolean' },
    codename: { type: 'string' },
  },
};

const SOURCE_TYPES = ['deb', 'deb-src'];
const SOURCES_LIST = '/etc/apt/sources.list';
const PARTS = '/etc/apt/sources.list.d';

export function prepareAptRepository(raw: Record<string, unknown>): AptRepositoryParams {
  const repo = String(raw.repo ?? '').trim();
  if (!repo) throw badArg("apt_repository: Please set argument 'repo' to a non-empty value");
  if (repo.startsWith('ppa:')) throw badArg('apt_repository: ppa: sources are not supported by runbook yet (give the deb line)');
  if (raw.update_cache !== undefined && raw['update-cache'] !== undefined) throw badArg('apt_repository: give update_cache or update-cache, not both');
  const p: AptRepositoryParams = { repo, state: (raw.state as AptRepositoryParams['state'] | undefined) ?? 'present', update_cache: (raw.update_cache ?? raw['update-cache']) !== false };
  if (raw.filename !== undefined && raw.filename !== null) p.filename = String(raw.filename);
  if (raw.codename !== undefined && raw.codename !== null) p.codename = String(raw.codename);
  const mode = normaliseMode(raw.mode);
  if (mode !== undefined) p.mode = mode;
  if (!parseSourceLine(repo).valid || !parseSourceLine(repo).enabled) throw badArg(`apt_repository: Invalid repository string: ${repo}`);
  return p;
}

export interface SourceLine {
  valid: boolean;
  enabled: boolean;
  source: string;
  comment: string;
}

/** SourcesList._parse */
export function parseSourceLine(line0: string): SourceLine {
  let line = line0.trim();
  let enabled = true;
  let comment = '';
  if (line.startsWith('#')) {
    enabled = false;
    line = line.slice(1);
  }
  const i = line.indexOf('#');
  if (i > 0) {
    comment = line.slice(i + 1).trim();
    line = line.slice(0, i);
  }
  let source = line.trim();
  let valid = false;
  if (source) {
    const chunks = source.split(/\s+/);
    if (SOURCE_TYPES.includes(chunks[0]!)) {
      valid = true;
      source = chunks.join(' ');
    }
  }
  return { valid, enabled, source, comment };
}

/** SourcesList._suggest_filename + _expand_path */
export function suggestFilename(source: string, filename: string | undefined): string {
  let name: string;
  if (filename !== undefined) name = filename;
  else {
    const line = source.replace(/\[[^\]]+\]/g, '').replace(/\w+:\/\//g, '');
    const parts = line.split(/\s+/).filter((x) => x && !SOURCE_TYPES.includes(x));
    let first = parts[0] ?? '';
    if (first.includes('@')) first = first.slice(first.indexOf('@') + 1);
    name = first.replace(/[^a-zA-Z0-9]/g, ' ').split(/\s+/).filter(Boolean).join('_');
  }
  const file = `${name}.list`;
  return file.includes('/') ? file : `${PARTS}/${file}`;
}

function dump(lines: SourceLine[]): string {
  return lines.map((l) => `${l.enabled ? '' : '# '}${l.source}${l.comment ? ` # ${l.comment}` : ''}\n`).join('');
}

export function aptRepositoryScript(): string {
  return [
    PRELUDE,
    `[ -f ${SOURCES_LIST} ] && kvfile f_main ${SOURCES_LIST}`,
    `_i=0; for _f in ${PARTS}/*.list; do [ -f "$_f" ] || continue; kv "n_$_i" "$_f"; kvfile "f_$_i" "$_f"; _i=$((_i+1)); done`,
    `[ -d ${PARTS} ] && kv parts 1`,
    `command -v apt-get >/dev/null 2>&1 && kv apt 1`,
    EPILOGUE,
  ].join('\n');
}

export function planAptRepository(p: AptRepositoryParams, f: FrameState | null): Plan {
  if (!f) return failPlan(failure('probe_failed', 'apt_repository: no probe result'));
  if (isProbeFailed(f)) return failPlan(f.probeFailed);
  const result = { repo: p.repo, state: p.state };
  if (f.str('apt') !== '1') return failPlan(failure('no_apt', 'Module apt_repository is not supported on target.'), result);
  // the files as Ansible reads them (sources.list first, then sources.list.d/*.list in name order)
  const files = new Map<string, { raw: string; lines: SourceLine[] }>();
  const add = (name: string, raw: string) => files.set(name, { raw, lines: (raw.match(/[^\n]*\n|[^\n]+$/g) ?? []).map(parseSourceLine) });
  if (f.has('f_main')) add(SOURCES_LIST, f.str('f_main') ?? '');
  for (let i = 0; f.has(`n_${i}`); i++) add(f.str(`n_${i}`)!, f.str(`f_${i}`) ?? '');
  const before = new Map([...files].map(([k, v]) => [k, dump(v.lines)]));
  const src = parseSourceLine(p.repo).source;
  const created = new Set<string>();
  if (p.state === 'present') {
    let found = false;
    for (const v of files.values()) {
      for (const l of v.lines) {
        if (l.valid && l.source === src) {
          l.enabled = true;
          found = true;
        }
      }
    }
    if (!found) {
      const file = suggestFilename(src, p.filename);
      if (!files.has(file)) {
        files.set(file, { raw: '', lines: [] });
        created.add(file);
      }
      files.get(file)!.lines.push({ valid: true, enabled: true, source: src, comment: '' });
    }
  } else {
    for (const v of files.values()) v.lines = v.lines.filter((l) => !(l.valid && l.enabled && l.source === src));
  }
  const steps: Step[] = [];
  const diffs: FileDiff[] = [];
  const added: string[] = [];
  const removed: string[] = [];
  for (const [name, v] of files) {
    const after = dump(v.lines);
    const was = before.get(name) ?? '';
    if (after === was && !created.has(name)) continue;
    if (v.lines.length === 0) {
      if (!created.has(name)) steps.push({ kind: 'run', script: `rm -f -- ${quote(name)}`, describe: `remove ${name}` });
    } else {
      if (created.has(name) && f.str('parts') !== '1' && name.startsWith(`${PARTS}/`)) steps.push({ kind: 'run', script: `mkdir -p -- ${PARTS}`, describe: `create ${PARTS}` });
      steps.push({ kind: 'write', path: name, content: after, ...(created.has(name) ? { mode: p.mode ?? '0644' } : {}), describe: `write ${name}` });
    }
    diffs.push({ label: name, before: showEscapes(v.raw), after: v.lines.length === 0 ? '' : showEscapes(after) });
    const wasLines = new Set(was.split('\n'));
    const nowLines = new Set(after.split('\n'));
    added.push(...[...nowLines].filter((l) => l && !wasLines.has(l)));
    removed.push(...[...wasLines].filter((l) => l && !nowLines.has(l)));
  }
  if (!steps.length) return { steps, reason: p.state === 'present' ? `${src} is an enabled source` : `${src} is not an enabled source`, result };
  if (p.update_cache) steps.push({ kind: 'run', script: 'DEBIAN_FRONTEND=noninteractive apt-get update -q', capture: true, describe: 'apt-get update' });
  return { steps, reason: `${p.state === 'present' ? 'add' : 'remove'} ${src} (${diffs.map((d) => d.label).join(', ')})${p.update_cache ? ', then apt-get update' : ''}`, diffs, result: { ...result, sources_added: added, sources_removed: removed } };
}

const aptRepository: ModuleDef<AptRepositoryParams, FrameState> = {
  name: 'apt_repository',
  aliases: namesFor('apt_repository'),
  description: 'an APT source line in sources.list(.d)',
  schema: aptRepositorySchema,
  prepare: prepareAptRepository,
  probe: () => frameProbe(aptRepositoryScript()),
  plan: planAptRepository,
};

export default aptRepository;
