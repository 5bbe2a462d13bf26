/**
 * What the text of a playbook already decides, checked at load for every task (issue 15, docs/adr/0012): every
 * Jinja expression (when, changed_when, failed_when, until, assert's that, module arguments, loop terms, keywords
 * such as become_user) and every template file a template task uses parses, and names only filters and tests that
 * exist. A fault names the file and line that holds it: the .j2 file's line, or the YAML line of the keyword.
 * A task that may not run (a guard from above, its own when) gets a warning, not an error; a filter Ansible has
 * that runbook lacks is runbook's gap: a warning, never an error. Pure reading: no host, no variables rendered.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunbookError, type SourcePos } from '../errors.js';
import type { BlockNode, Item, Play, Playbook, TaskNode } from './model.js';
import { createTemplar, TemplateError, type Templar } from '../vars/template.js';
import { tagEnd, tokenize } from '../vars/jinja-rewrite.js';
import { closest } from './keywords.js';
import { FILTERS } from '../vars/filters.js';
import { TESTS } from '../vars/jinja-tests.js';
import type { Inventory } from '../inventory/index.js';
import { loadYamlFile } from '../yaml-load.js';

/** Template files whose syntax a load-time check judged already (syntax-check.ts does not report them twice). */
export const judgedTemplates = new Set<string>();

// Ansible 2.14's own filters and tests (ansible.builtin) and Jinja2's: a name here that runbook cannot run is
// runbook's gap (a warning); a name in neither list nor in runbook fails in Ansible too (an error).
const ANSIBLE_FILTERS = `b64decode b64encode basename bool checksum combinations combine comment dict2items difference dirname
expanduser expandvars extract fileglob flatten from_json from_yaml from_yaml_all hash human_readable human_to_bytes intersect
items2dict log mandatory md5 password_hash path_join permutations pow product quote random realpath regex_escape regex_findall
regex_replace regex_search relpath root sha1 shuffle split splitext strftime subelements symmetric_difference ternary
to_datetime to_json to_nice_json to_nice_yaml to_uuid to_yaml type_debug union unique unvault urldecode urlsplit vault
win_basename win_dirname win_splitdrive zip zip_longest abs attr batch capitalize center count d default dictsort e escape
filesizeformat first float forceescape format groupby indent int items join last length list lower map max min pprint reject
rejectattr replace reverse round safe select selectattr slice sort string striptags sum title tojson trim truncate upper
urlencode urlize wordcount wordwrap xmlattr`.split(/\s+/);
const ANSIBLE_TESTS = `all any changed succeeded success failed failure skipped skip finished started unreachable reachable match
search regex version version_compare subset superset contains directory file link exists abs is_abs is_dir is_file is_link
is_mount mount same_file samefile nan truthy falsy vault_encrypted vaulted change successful boolean callable defined divisibleby
eq equalto escaped even false filter float ge gt greaterthan in integer iterable le lessthan lower lt mapping ne none number odd
sameas sequence string test true undefined upper`.split(/\s+/);

/** `x | ns.coll.name`, `x is ns.coll.name`: valid Jinja in Ansible that runbook's engine cannot parse (its gap). */
const FQCN_USE = /(?:\||\bis(?:\s+not)?)\s*([A-Za-z_]\w*\.[A-Za-z_]\w*\.[A-Za-z_]\w*)/;
/** `{% set a, b = pair %}`: Jinja2 unpacks, MiniJinja cannot parse it. */
const SET_TUPLE = /\{%[-+]?\s*set\s+\w+\s*,/;
function engineGap(text: string): string | undefined {
  if (SET_TUPLE.test(text)) return `"{% set a, b = ... %}" (assigning several names at once) is not supported by runbook's template engine`;
  const m = FQCN_USE.exec(text);
  return m ? `"${m[1]}" (a filter or test by its collection name) is not supported by runbook's template engine` : undefined;
}

export interface Fault { pos: SourcePos; message: string; certain: boolean }

/** The line and column of `key:` of the mapping at `at` (a task or block), found in the file's text. */
export function keyPos(file: string, at: SourcePos, key: string, text = readText(file)): SourcePos {
  if (text === undefined) return at;
  const lines = text.split(/\r?\n/);
  const re = new RegExp(`^(\\s*(?:-\\s+)?)(${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')})\\s*:`);
  for (let l = at.line - 1; l < lines.length && l < at.line + 400; l++) {
    const m = re.exec(lines[l]!);
    if (m && m[1]!.length === at.col - 1) {
      // at the value when it is on the same line (after an opening quote), else at the key
      const rest = lines[l]!.slice(m[0].length);
      const v = /^\s*(?:['"]|\|[-+]?|>[-+]?)?/.exec(rest)![0];
      const col = rest.trim() === '' || /^\s*[|>]/.test(rest) ? m[1]!.length + 1 : m[0].length + v.length + 1;
      return { file, line: l + 1, col };
    }
    // the next item of the enclosing list at the same or a lower indentation ends this mapping
    if (l > at.line - 1 && /^\s*-\s/.test(lines[l]!) && lines[l]!.search(/\S/) < at.col - 1) break;
  }
  return at;
}

const textCache = new Map<string, string | undefined>();
function readText(file: string): string | undefined {
  if (!textCache.has(file)) {
    let t: string | undefined;
    try {
      t = fs.readFileSync(file, 'utf8');
    } catch {
      t = undefined;
    }
    textCache.set(file, t);
  }
  return textCache.get(file);
}

/** Where the template file of a template task is, when its `src` is written literally and the file exists. */
export function templateFile(t: TaskNode, pbDir: string): string | undefined {
  if (t.action !== 'template') return undefined;
  const src = t.args['src'];
  if (typeof src !== 'string' || src.includes('{{') || src.includes('{%')) return undefined;
  if (path.isAbsolute(src)) return fs.existsSync(src) ? src : undefined;
  const roleDir = t.role?.path ?? (path.basename(path.dirname(t.file)) === 'tasks' ? path.dirname(path.dirname(t.file)) : undefined);
  const cands = [...(roleDir ? [path.join(roleDir, 'templates', src), path.join(roleDir, src)] : []), path.resolve(path.dirname(t.file), 'templates', src), path.resolve(path.dirname(t.file), src), path.resolve(pbDir, 'templates', src), path.resolve(pbDir, src)];
  return cands.find((c) => fs.statSync(c, { throwIfNoEntry: false })?.isFile());
}

/** The `{{ }}` and `{% %}` bodies of a template with the line and column each starts at (comments and raw skipped). */
export function templateTags(src: string): { body: string; kind: '{' | '%'; line: number; col: number }[] {
  const out: { body: string; kind: '{' | '%'; line: number; col: number }[] = [];
  let i = 0;
  let raw = false;
  const lineStarts = [0];
  for (let k = 0; k < src.length; k++) if (src[k] === '\n') lineStarts.push(k + 1);
  const where = (p: number) => {
    let lo = 0, hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= p) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: p - lineStarts[lo]! + 1 };
  };
  for (let n = 0; n < 100_000; n++) {
    let p = src.indexOf('{', i);
    while (p !== -1 && !'{%#'.includes(src[p + 1] ?? 'x')) p = src.indexOf('{', p + 1);
    if (p === -1) break;
    const kind = src[p + 1]!;
    if (kind === '#') {
      const e = src.indexOf('#}', p + 2);
      if (e === -1) break;
      i = e + 2;
      continue;
    }
    const e = tagEnd(src, p, kind === '{' ? '}}' : '%}');
    if (e === -1) break;
    let body = src.slice(p + 2, e);
    body = body.replace(/^[-+]/, '').replace(/[-+]$/, '');
    i = e + 2;
    if (kind === '%' && /^\s*endraw\b/.test(body)) raw = false;
    if (raw) continue;
    if (kind === '%' && /^\s*raw\b/.test(body)) {
      raw = true;
      continue;
    }
    out.push({ body, kind: kind as '{' | '%', ...where(p + 2) });
  }
  return out;
}

/** Filter and test names an expression uses: `x | name`, `x is name`, `x is not name` (FQCN kept whole). */
export function filterAndTestNames(expr: string): { kind: 'filter' | 'test'; name: string; offset: number }[] {
  const toks = tokenize(expr);
  if (!toks) return [];
  const out: { kind: 'filter' | 'test'; name: string; offset: number }[] = [];
  let off = 0;
  const offs: number[] = [];
  for (const t of toks) {
    offs.push(off);
    off += t.v.length;
  }
  const sig = toks.map((t, i) => ({ t, i })).filter((x) => x.t.t !== 'ws');
  for (let k = 0; k < sig.length; k++) {
    const { t } = sig[k]!;
    let kind: 'filter' | 'test' | undefined;
    let j = k + 1;
    if (t.t === 'op' && t.v === '|') kind = 'filter';
    else if (t.t === 'id' && t.v === 'is') {
      kind = 'test';
      if (sig[j]?.t.v === 'not') j++;
    }
    if (!kind || sig[j]?.t.t !== 'id') continue;
    let name = sig[j]!.t.v;
    const offset = offs[sig[j]!.i]!;
    while (sig[j + 1]?.t.v === '.' && sig[j + 2]?.t.t === 'id') {
      name += '.' + sig[j + 2]!.t.v;
      j += 2;
    }
    out.push({ kind, name, offset });
  }
  return out;
}

/**
 * Custom filter or test plugins the playbook can load (filter_plugins/ or test_plugins/ beside the playbook or in a
 * role, or configured): names runbook does not know may come from them, so an unknown name is not judged.
 */
function hasPluginDirs(pb: Playbook, roleDirs: Set<string>): boolean {
  const dirs = [pb.dir, ...roleDirs];
  if (process.env['ANSIBLE_FILTER_PLUGINS'] || process.env['ANSIBLE_TEST_PLUGINS']) return true;
  return dirs.some((d) => fs.existsSync(path.join(d, 'filter_plugins')) || fs.existsSync(path.join(d, 'test_plugins')));
}

export class LoadTimeChecker {
  readonly faults: Fault[] = [];
  private templar: Templar = createTemplar();
  private seen = new Set<string>();
  private pluginsUnknown = false;

  constructor(private pb: Playbook) {
    const roleDirs = new Set<string>();
    const collect = (items: Item[]) => {
      for (const i of items) {
        if (i.role) roleDirs.add(i.role.path);
        if (i.kind === 'block') for (const s of [i.block, i.rescue, i.always]) collect(s);
        else if (i.include) collect(i.include.tasks);
      }
    };
    for (const p of pb.plays) {
      for (const s of p.sections) collect(s);
      collect(p.handlers);
    }
    this.pluginsUnknown = hasPluginDirs(pb, roleDirs);
  }

  private add(pos: SourcePos, message: string, certain: boolean): void {
    const key = `${pos.file}:${pos.line}:${pos.col}:${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.faults.push({ pos, message, certain });
  }

  /** Filters and tests in one expression (`base`: where the expression's text starts). */
  private names(expr: string, base: SourcePos, certain: boolean, where: string): void {
    for (const { kind, name, offset } of filterAndTestNames(expr)) {
      let short = name;
      if (name.startsWith('ansible.builtin.') || name.startsWith('ansible.legacy.')) short = name.split('.').pop()!;
      else if (name.includes('.')) continue; // a collection's plugin: not runbook's to judge
      if (this.templar.knows(kind, short)) continue;
      const ansible = kind === 'filter' ? ANSIBLE_FILTERS : ANSIBLE_TESTS;
      const before = expr.slice(0, offset);
      const nl = before.lastIndexOf('\n');
      const pos = { file: base.file, line: base.line + (before.match(/\n/g)?.length ?? 0), col: nl === -1 ? base.col + offset : offset - nl };
      if (ansible.includes(short)) {
        this.add(pos, `${kind} "${name}" (${where}) is not supported by runbook; the task fails if it runs`, false);
        continue;
      }
      if (this.pluginsUnknown) continue;
      const all = new Set<string>([...ansible, ...Object.keys(kind === 'filter' ? FILTERS : TESTS)].filter((n) => !n.startsWith('__')));
      const hint = closest(short, all);
      this.add(pos, `unknown ${kind} "${name}" (${where})${hint ? ` (did you mean "${hint}"?)` : ''}`, certain);
    }
  }

  /** One Jinja expression or templated string at `pos`. */
  check(value: unknown, pos: SourcePos, certain: boolean, where: string, bare = false, depth = 0): void {
    if (depth > 30) return;
    if (Array.isArray(value)) {
      for (const v of value) this.check(v, pos, certain, where, bare, depth + 1);
      return;
    }
    if (value && typeof value === 'object') {
      if ('__vault__' in value) return;
      for (const v of Object.values(value)) this.check(v, pos, certain, where, false, depth + 1);
      return;
    }
    if (typeof value !== 'string') return;
    const templated = value.includes('{{') || value.includes('{%');
    if (!bare && !templated) return;
    try {
      this.templar.parse(value, bare ? 'expr' : 'template');
    } catch (e) {
      if (e instanceof TemplateError && e.code === 'template_syntax') {
        const gap = engineGap(value);
        this.add(pos, gap ? `${gap} (${where}); the task fails if it runs` : `${e.message.replace(/ \(line \d+[^)]*\)$/, '')} (${where})`, gap ? false : certain);
        return;
      }
    }
    if (bare) this.names(value, pos, certain, where);
    else for (const tag of templateTags(value)) this.names(tag.body, pos, certain, where);
  }

  /** A template file: its syntax (at its own line), and the filters and tests it names. */
  checkTemplateFile(file: string, certain: boolean): void {
    const text = readText(file);
    if (text === undefined) return;
    judgedTemplates.add(file);
    try {
      this.templar.parse(text, 'template');
    } catch (e) {
      if (e instanceof TemplateError && e.code === 'template_syntax') {
        const gap = engineGap(text);
        this.add({ file, line: e.line ?? 1, col: 1 }, gap ? `${gap}; the task fails if it runs` : e.message.replace(/ \(line \d+[^)]*\)$/, ''), gap ? false : certain);
        return;
      }
    }
    for (const tag of templateTags(text)) {
      if (tag.kind === '%') {
        // the expression part of a statement: after `if`, `elif`, `for ... in`, `set x =`
        const m = /^(\s*(?:if|elif|for\s+[\w\s,]+?\s+in|set\s+[\w\s,]+=|with\s+.*?=)\s*)/.exec(tag.body);
        if (!m) continue;
        this.names(tag.body.slice(m[1]!.length), { file, line: tag.line, col: tag.col + m[1]!.length }, certain, 'template');
      } else this.names(tag.body, { file, line: tag.line, col: tag.col }, certain, 'template');
    }
  }

  /** Every task and block of the playbook. */
  run(): Fault[] {
    for (const play of this.pb.plays) {
      this.keywords(play, play.pos, true);
      for (const s of play.sections) this.items(s, true);
      this.items(play.handlers, false);
    }
    return this.faults;
  }

  private keywords(node: Play | BlockNode | TaskNode, at: SourcePos, certain: boolean): void {
    const file = at.file;
    const kw: [string, unknown][] = [
      ['become', node.become], ['become_user', node.becomeUser], ['become_method', node.becomeMethod], ['check_mode', node.checkMode],
      ['environment', node.environment], ['ignore_errors', node.ignoreErrors], ['no_log', node.noLog], ['delegate_to', node.delegateTo], ['run_once', node.runOnce],
    ];
    for (const [k, v] of kw) if (v !== undefined) this.check(v, keyPos(file, at, k), certain, k);
    node.when.forEach((w) => this.check(w, keyPos(file, at, 'when'), certain, 'when', true));
  }

  private items(items: Item[], certain: boolean): void {
    for (const i of items) {
      const sure = certain && !(i.kind === 'task' && (i.guard !== undefined || i.deferred));
      if (i.kind === 'block') {
        this.keywords(i, i.pos, sure);
        const inner = sure && i.when.length === 0;
        this.items(i.block, inner);
        this.items(i.rescue, false);
        this.items(i.always, inner);
        continue;
      }
      if (i.deferred) continue;
      // the task's own when is evaluated whenever the task is reached; the rest only when it holds
      this.keywords(i, i.pos, sure);
      const runs = sure && i.when.length === 0;
      const file = i.pos.file;
      for (const [k, v] of [['changed_when', i.changedWhen], ['failed_when', i.failedWhen], ['until', i.until]] as const) {
        if (v !== undefined) this.check(v, keyPos(file, i.pos, k), runs, k, true);
      }
      if (i.action === 'assert') {
        const that = i.args['that'];
        for (const c of Array.isArray(that) ? that : [that]) this.check(c, keyPos(file, i.pos, 'that'), runs, 'assert that', true);
      }
      if (i.loop) this.check(i.loop.terms, i.loop.pos, runs, i.loop.kind === 'loop' ? 'loop' : `with_${i.loop.lookup}`);
      this.check(i.args, keyPos(file, i.pos, i.actionAs), runs, `arguments of ${i.actionAs}`);
      if (i.loopLabel !== undefined) this.check(i.loopLabel, i.pos, runs, 'loop_control.label');
      const tf = templateFile(i, this.pb.dir);
      if (tf) this.checkTemplateFile(tf, runs);
      if (i.include) this.items(i.include.tasks, runs);
    }
  }
}

/** The faults of a playbook as errors (certain) and warnings (the rest). */
export function checkLoadTime(pb: Playbook, warnings: RunbookError[]): RunbookError[] {
  const errors: RunbookError[] = [];
  for (const f of new LoadTimeChecker(pb).run()) {
    const code = /syntax error/.test(f.message) ? 'template_syntax' : 'template_error';
    if (f.certain) errors.push(new RunbookError(code, f.message, { pos: f.pos }));
    else warnings.push(new RunbookError(code, /the task fails if it runs$/.test(f.message) ? f.message : `${f.message}; the task may not run and fails if it does`, { pos: f.pos }));
  }
  return errors;
}

/**
 * A templated vars_files entry that the variables known at load (the play's vars, earlier vars files, the
 * inventory's variables of each host of the play, -e) already resolve: a file that is not there is an error at the
 * play's vars_files line, before any host is contacted. An entry that needs facts or run-time values is the run's.
 */
export function checkVarsFiles(pb: Playbook, inv: Inventory, extraVars: Record<string, unknown>): RunbookError[] {
  const templar = createTemplar();
  const errors: RunbookError[] = [];
  for (const play of pb.plays) {
    if (!play.varsFiles.some((f) => f.includes('{{'))) continue;
    let hosts: string[] = [];
    try {
      hosts = inv.selectHosts(play.hosts);
    } catch {
      /* reported by preflight */
    }
    const targets: (string | undefined)[] = hosts.length ? hosts.slice(0, 100) : [undefined];
    const vfPos = keyPos(play.file, play.pos, 'vars_files');
    const text = readText(play.file)?.split(/\r?\n/) ?? [];
    const done = new Set<string>();
    for (const h of targets) {
      const ctx: Record<string, unknown> = { ...(h ? inv.hostVars(h) : {}), ...play.vars, ...extraVars, playbook_dir: pb.dir };
      if (h) Object.assign(ctx, { inventory_hostname: h, inventory_hostname_short: h.split('.')[0] });
      for (const [j, f] of play.varsFiles.entries()) {
        let file = f;
        if (f.includes('{{')) {
          let r: unknown;
          try {
            r = templar.render(f, ctx);
          } catch {
            continue; // needs what only the run knows
          }
          if (typeof r !== 'string' || r.includes('{{')) continue;
          file = path.resolve(pb.dir, r);
          if (!fs.existsSync(file)) {
            if (done.has(`${j}:${file}`)) continue;
            done.add(`${j}:${file}`);
            // the entry's own line: the first line after `vars_files:` that holds its text
            let pos = vfPos;
            for (let l = vfPos.line - 1; l < Math.min(text.length, vfPos.line + 200); l++) {
              const c = text[l]!.indexOf(f);
              if (c !== -1) {
                pos = { file: play.file, line: l + 1, col: c + 1 };
                break;
              }
            }
            errors.push(new RunbookError('missing_file', `vars file not found: ${JSON.stringify(f)} is ${file}${h ? ` for host ${h}` : ''}`, { pos }));
            continue;
          }
        }
        try {
          const v = loadYamlFile(file).value;
          if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(ctx, v, extraVars);
        } catch {
          /* reported by the loader or the run */
        }
      }
    }
  }
  return errors;
}
