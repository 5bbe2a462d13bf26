/**
 * adr_doc: an Architecture Decision Record as docs/adr/NNNN-slug.md in a repository (on whatever host the task
 * runs on; the adr-doc role delegates it to localhost).
 *
 * The ADR is found by its slug, whatever its number: a second run changes nothing unless the content changed.
 * A new ADR takes the next free number (highest NNNN in docs/adr + 1), or `number` when given.
 * `date` may be left out: prepare fills in the controller's date for a NEW record, and the plan keeps the date of an
 * existing record (so re-running on another day changes nothing). The plan stays pure: the date is a param.
 */
import path from 'node:path';
import { quote } from 'shlex';
import { RunbookError } from '../errors.js';
import type { ExecResult } from '../connection/types.js';
import { failPlan, failure, isProbeFailed, type ModuleContext, type ModuleDef, type Plan, type Step, type ProbeFailed } from './types.js';

export interface AdrParams {
  /** absolute path of the repository */
  repo: string;
  title: string;
  slug: string;
  status: string;
  date: string;
  /** the date was not given: an existing record keeps its own */
  dateDefaulted: boolean;
  context: string;
  decision: string;
  consequences: string;
  /** fixed number, or undefined for the next free one */
  number?: number;
}

/** `NAT66/ULA over a routed prefix` -> `nat66-ula-over-a-routed-prefix` */
export function slugify(title: string): string {
  return title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80)
    .replace(/-+$/g, '');
}

function text(v: unknown): string {
  if (v === undefined || v === null) return '';
  // a YAML 1.1 timestamp (date: 2026-06-03 unquoted) may arrive as a Date
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? '' : v.toISOString().slice(0, 10);
  return String(v).replace(/\r\n/g, '\n').replace(/[ \t]+$/gm, '').trim();
}

const pad = (n: number): string => String(n).padStart(4, '0');

export function renderAdr(p: Pick<AdrParams, 'title' | 'status' | 'date' | 'context' | 'decision' | 'consequences'>, number: number): string {
  const section = (h: string, body: string): string => `## ${h}\n\n${body || '(none)'}\n`;
  return [
    `# ${pad(number)}. ${p.title}\n`,
    `Status: ${p.status}\n`,
    `Date: ${p.date}\n`,
    section('Context', p.context),
    section('Decision', p.decision),
    section('Consequences', p.consequences),
  ].join('\n');
}

function today(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export function prepareAdr(raw: Record<string, unknown>, ctx?: Pick<ModuleContext, 'vars'>): AdrParams {
  const problems: string[] = [];
  let repo = text(raw.repo);
  if (!repo) problems.push('repo is required');
  else if (!repo.startsWith('/')) {
    const base = ctx?.vars?.playbook_dir;
    if (typeof base === 'string' && base.startsWith('/')) repo = path.posix.resolve(base, repo);
    else problems.push(`repo must be an absolute path, got ${repo}`);
  }
  repo = repo ? path.posix.normalize(repo).replace(/(.)\/+$/, '$1') : repo;
  const title = text(raw.title).replace(/\s+/g, ' ');
  if (!title) problems.push('title is required');
  const slug = text(raw.slug) || slugify(title);
  if (!/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(slug)) problems.push(`slug ${JSON.stringify(slug)} must be lower-case words joined by -`);
  const status = text(raw.status) || 'Accepted';
  if (status.includes('\n')) problems.push('status must be one line');
  let date = text(raw.date);
  const dateDefaulted = date === '';
  if (dateDefaulted) date = today();
  else if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) problems.push(`date ${JSON.stringify(date)} is not YYYY-MM-DD`);
  let number: number | undefined;
  const rawNum = raw.number;
  if (rawNum !== undefined && rawNum !== null && String(rawNum).trim() !== '' && String(rawNum).trim() !== '0') {
    const s = String(rawNum).trim();
    if (!/^\d{1,6}$/.test(s)) problems.push(`number ${JSON.stringify(rawNum)} is not a positive integer`);
    else number = Number(s);
  }
  if (problems.length) throw new RunbookError('bad_argument', `adr_doc: ${problems.join('; ')}`);
  return {
    repo,
    title,
    slug,
    status,
    date,
    dateDefaulted,
    context: text(raw.context),
    decision: text(raw.decision),
    consequences: text(raw.consequences),
    number,
  };
}

export interface AdrProbe {
  repo: boolean;
  dir: boolean;
  /** every *.md name in docs/adr */
  names: string[];
  /** content of files named NNNN-<slug>.md */
  matches: { name: string; content: string }[];
}

const dec = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

export function parseAdrProbe(out: string): AdrProbe {
  const probe: AdrProbe = { repo: false, dir: false, names: [], matches: [] };
  let seen = false;
  for (const line of out.split('\n')) {
    const t = line.trim();
    const i = t.indexOf('=');
    if (i < 1) continue;
    const k = t.slice(0, i);
    const [a = '', b = ''] = t.slice(i + 1).split(' ');
    if (k === 'repo') {
      seen = true;
      probe.repo = a === 'yes';
    } else if (k === 'dir') probe.dir = a === 'yes';
    else if (k === 'f') probe.names.push(dec(a));
    else if (k === 'c') probe.matches.push({ name: dec(a), content: dec(b) });
  }
  if (!seen) throw new Error(`unexpected adr_doc probe output: ${JSON.stringify(out.slice(0, 200))}`);
  return probe;
}

export function adrProbeScript(p: AdrParams): string {
  const R = quote(p.repo);
  const D = quote(`${p.repo}/docs/adr`);
  return [
    "b64() { base64 | tr -d '\\n'; }",
    `[ -d ${R} ] || { echo repo=no; exit 0; }`,
    'echo repo=yes',
    `[ -d ${D} ] || { echo dir=no; exit 0; }`,
    'echo dir=yes',
    `for f in ${D}/*.md; do`,
    '  [ -f "$f" ] || continue',
    '  b=${f##*/}',
    '  n=$(printf \'%s\' "$b" | b64)',
    '  echo "f=$n"',
    `  case "$b" in [0-9]*-${quote(p.slug)}.md) echo "c=$n $(b64 < "$f")";; esac`,
    'done',
  ].join('\n');
}

/** Pure: the probe's output -> State (or the probe's failure). */
export function parseAdrState(res: ExecResult): AdrProbe | ProbeFailed {
  try {
    return parseAdrProbe(res.stdout);
  } catch (e) {
    return { probeFailed: failure('probe_failed', `adr_doc: probe failed (rc ${res.code}): ${res.stderr.trim() || (e as Error).message}`) };
  }
}

export function planAdr(p: AdrParams, probe: AdrProbe | ProbeFailed | null): Plan {
  const fail = (msg: string, code = 'adr_doc', path?: string): Plan => failPlan(failure(code, `adr_doc: ${msg}`, path), undefined, 'failed');
  if (!probe) return fail('no probe result', 'probe_failed');
  if (isProbeFailed(probe)) return failPlan(probe.probeFailed, undefined, 'failed');
  if (!probe.repo) return fail(`repository ${p.repo} does not exist`, 'missing_path', p.repo);
  const dir = `${p.repo}/docs/adr`;
  const numbered = probe.names
    .map((n) => /^(\d{4,})-(.+)\.md$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[0], number: Number(m[1]), slug: m[2]! }));
  const mine = probe.matches
    .map((c) => ({ ...c, m: /^(\d{4,})-(.+)\.md$/.exec(c.name) }))
    .filter((c) => c.m && c.m[2] === p.slug)
    .map((c) => ({ name: c.name, content: c.content, number: Number(c.m![1]) }));
  if (mine.length > 1) return fail(`more than one ADR with slug ${p.slug}: ${mine.map((m) => m.name).join(', ')}`);

  let number: number;
  let before = '';
  let existingName: string | undefined;
  let date = p.date;
  if (mine.length === 1) {
    const found = mine[0]!;
    if (p.number !== undefined && p.number !== found.number) {
      return fail(`ADR ${p.slug} already exists as ${found.name}, not number ${pad(p.number)}`);
    }
    number = found.number;
    before = found.content;
    existingName = found.name;
    if (p.dateDefaulted) {
      const m = /^Date: (.+)$/m.exec(found.content);
      if (m) date = m[1]!.trim();
    }
  } else if (p.number !== undefined) {
    const taken = numbered.find((n) => n.number === p.number);
    if (taken) return fail(`ADR number ${pad(p.number)} is taken by ${taken.name}`);
    number = p.number;
  } else {
    number = numbered.reduce((mx, n) => Math.max(mx, n.number), 0) + 1;
  }
  const fileName = `${pad(number)}-${p.slug}.md`;
  const filePath = `${dir}/${fileName}`;
  const content = renderAdr({ ...p, date }, number);
  const result = { path: filePath, number, slug: p.slug, date };
  if (existingName !== undefined && before === content) {
    return { steps: [], reason: `ADR ${fileName} is up to date`, result };
  }
  const steps: Step[] = [];
  if (!probe.dir) steps.push({ kind: 'run', script: `mkdir -p -- ${quote(dir)}`, describe: `mkdir -p ${dir}` });
  steps.push({ kind: 'write', path: filePath, content, mode: '0644', describe: `write ${fileName}` });
  return {
    steps,
    reason: existingName !== undefined ? `update ADR ${fileName}` : `create ADR ${fileName}`,
    diffs: [{ label: filePath, before, after: content }],
    result,
  };
}

const str = { type: 'string' };

const adrDoc: ModuleDef<AdrParams, AdrProbe | ProbeFailed> = {
  name: 'adr_doc',
  aliases: ['adr-doc'],
  description: 'write an Architecture Decision Record docs/adr/NNNN-slug.md (found again by slug; next free number)',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['repo', 'title'],
    properties: {
      repo: str,
      title: str,
      slug: str,
      status: str,
      date: { type: ['string', 'object'] },
      context: str,
      decision: str,
      consequences: str,
      number: { type: ['integer', 'string', 'null'] },
    },
  },
  prepare: (raw, ctx) => prepareAdr(raw, ctx),
  probe: (p) => ({ script: adrProbeScript(p), parse: parseAdrState }),
  plan: planAdr,
};

export default adrDoc;
