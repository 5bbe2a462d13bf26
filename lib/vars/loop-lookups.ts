/**
 * The lookups behind Ansible's loops (with_nested, with_subelements, with_sequence, with_first_found, ...) and the
 * controller-side lookups real roles call (first_found, fileglob, template, pipe, lines, varnames), with Ansible's
 * semantics (lib/ansible/plugins/lookup/*.py): the same terms give the same items in the same order.
 *
 * `with_<name>: terms` is `query('<name>', terms)` for every lookup (loopItems below), so a lookup added to the
 * registry is a loop keyword too. Files are searched as Ansible's find_file_in_search_path does: the role, then
 * the task's directory, then the playbook's directory, each first in the kind's subdirectory (files/, templates/,
 * vars/).
 *
 * Module-load order: lookups.ts registers these through loopLookups(), a hoisted function that touches nothing
 * of this module's state, so either module may be imported first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { LOOKUPS, type LookupFn } from './lookups.js';
import { pyFormat, pyStr, pyTruthy, type Kw } from './python-compat.js';
import { createTemplar } from './template.js';
import { resolveFor } from './resolve.js';

/** A lookup whose terms must reach it exactly as written (lookup('nested', a, b) is two lists, not four items). */
export type RawLookupFn = LookupFn & { rawTerms?: boolean };

/** Every lookup this file adds, by name (registered in the lookup table by filters.ts). */
export function loopLookups(): Record<string, RawLookupFn> {
  const raw = (fn: LookupFn): RawLookupFn => Object.assign(fn, { rawTerms: true });
  const table: Record<string, RawLookupFn> = {
    nested: raw(nestedLookup),
    together: raw(togetherLookup),
    subelements: raw(subelementsLookup),
    sequence: raw(sequenceLookup),
    indexed_items: raw(indexedItemsLookup),
    dict: raw(dictLookup),
    random_choice: raw(randomChoiceLookup),
    first_found: raw(firstFoundLookup),
    fileglob: raw(fileglobLookup),
    template: raw(templateLookup),
    pipe: raw(pipeLookup),
    lines: raw(linesLookup),
    varnames: raw(varnamesLookup),
  };
  table['community.general.cartesian'] = table['cartesian'] = raw(cartesianLookup);
  return table;
}

/** Is there a lookup of this name (what `with_<name>` needs)? */
export function lookupExists(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(LOOKUPS, name);
}

/** Every lookup name (for did-you-mean). */
export function lookupNames(): string[] {
  return Object.keys(LOOKUPS);
}

/** Where a with_ loop's lookup looks for files: Ansible's search path and the kind's subdirectory. */
export interface LookupPlace {
  /** the role's directory (and its parents'), then the task file's directory */
  searchPath: string[];
  /** files, templates or vars: Ansible picks it from the task's action (template -> templates, include_vars -> vars) */
  subdir: string;
}

/** The subdirectory Ansible's task executor gives a loop's lookup for this action. */
export function subdirFor(action: string): string {
  for (const s of ['template', 'var', 'file']) if (action.includes(s)) return `${s}s`;
  return 'files';
}

/**
 * The items of `with_<lookup>: terms` (terms already rendered), as Ansible's task executor gets them:
 * `lookup(terms, wantlist=True)` with terms made a list when they are not one.
 */
export function loopItems(lookup: string, terms: unknown, vars: Record<string, unknown>, place: LookupPlace): unknown[] {
  const fn = LOOKUPS[lookup];
  if (!fn) throw new Error(`lookup plugin '${lookup}' not found`);
  let list = Array.isArray(terms) ? terms : [terms];
  const v = { ...vars, ansible_search_path: place.searchPath };
  // the file lookup reads a path as given; with_file finds it as Ansible does (the role's files/, ...)
  if (lookup === 'file' || lookup === 'ansible.builtin.file') list = list.map((t) => (typeof t === 'string' ? findInSearchPath(v, place.subdir, t) ?? t : t));
  const out = fn(list, { __subdir: place.subdir }, v);
  if (!Array.isArray(out)) throw new Error(`lookup '${lookup}' did not return a list`);
  return out;
}

// ------------------------------------------------------------------------------------------------ search path

function searchBases(vars: Record<string, unknown>): string[] {
  const sp = vars['ansible_search_path'];
  const list = Array.isArray(sp) ? sp.map(String) : [vars['role_path']].filter((x): x is string => typeof x === 'string' && x !== '');
  const pb = vars['playbook_dir'];
  if (typeof pb === 'string' && pb && !list.includes(pb)) list.push(pb);
  return list.length ? list : [process.cwd()];
}

/** Ansible's path_dwim_relative_stack: base/subdir/needle, base/needle for each base; a role's tasks/ looks in the role. */
export function findInSearchPath(vars: Record<string, unknown>, subdir: string, needle: string): string | undefined {
  if (path.isAbsolute(needle)) return fs.existsSync(needle) ? needle : undefined;
  const cands: string[] = [];
  for (const base of searchBases(vars)) {
    if (path.basename(base) === 'tasks') cands.push(path.join(path.dirname(base), subdir, needle), path.join(base, needle));
    else {
      if (needle.split('/')[0] !== subdir) cands.push(path.join(base, subdir, needle));
      cands.push(path.join(base, needle));
    }
  }
  return cands.find((c) => fs.existsSync(c));
}

function cwdFor(vars: Record<string, unknown>): string {
  for (const k of ['role_path', 'playbook_dir']) if (typeof vars[k] === 'string' && vars[k] && fs.existsSync(vars[k] as string)) return vars[k] as string;
  return process.cwd();
}

// ------------------------------------------------------------------------------------------------ the lookups

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** LookupBase._flatten (one level); listify_lookup_plugin_terms (a non-list becomes a one-item list). */
const flat1 = (v: unknown[]): unknown[] => v.flatMap((x) => (Array.isArray(x) ? x : [x]));
const listify = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

function nestedLookup(terms: unknown[]): unknown[] {
  if (terms.length === 0) throw new Error('with_nested requires at least one element in the nested list');
  const lists = terms.map(listify);
  let result: unknown[] = lists[0]!;
  for (const next of lists.slice(1)) result = result.flatMap((x) => next.map((y) => flat1([x, y])));
  return result.map((x) => (Array.isArray(x) ? flat1(x) : [x]));
}

function cartesianLookup(terms: unknown[]): unknown[] {
  let result: unknown[][] = [[]];
  for (const l of terms.map(listify)) result = result.flatMap((acc) => l.map((y) => [...acc, y]));
  return terms.length ? result.map(flat1) : [];
}

function togetherLookup(terms: unknown[]): unknown[] {
  const lists = terms.map(listify);
  if (lists.length === 0) throw new Error('with_together requires at least one element in each list');
  const n = Math.max(...lists.map((l) => l.length));
  return Array.from({ length: n }, (_, i) => flat1(lists.map((l) => (i < l.length ? l[i] : null))));
}

function subelementsLookup(terms: unknown[], kw: Kw): unknown[] {
  const bad = (msg = '') => new Error(`subelements lookup expects a list of two or three items, ${msg}`);
  if (terms.length < 2 || terms.length > 3) throw bad();
  const first = terms[0];
  if (!(Array.isArray(first) || isMapping(first)) || typeof terms[1] !== 'string') throw bad('first a dict or a list, second a string pointing to the subkey');
  const keys = terms[1].split('.');
  let elements: unknown[];
  if (isMapping(first)) {
    // a registered result that was skipped as a whole
    if (first['skipped'] !== undefined && first['skipped'] !== false) return [];
    elements = Object.values(first);
  } else elements = first;
  // the flags as a third term (with_subelements), or as keywords (a trailing mapping in a lookup() call)
  const flags = terms[2] ?? Object.fromEntries(Object.entries(kw).filter(([k]) => !k.startsWith('__')));
  if (!isMapping(flags) || Object.keys(flags).some((k) => k !== 'skip_missing')) throw bad("the optional third item must be a dict with flags ['skip_missing']");
  const skipMissing = pyTruthy(flags['skip_missing']) && !['no', 'false', 'off', '0', 'n'].includes(String(flags['skip_missing']).toLowerCase());
  const out: unknown[] = [];
  for (const item0 of elements) {
    if (!isMapping(item0)) throw new Error(`subelements lookup expects a dictionary, got '${pyStr(item0)}'`);
    if (item0['skipped'] !== undefined && item0['skipped'] !== false) continue;
    // Ansible pops the sublist out of the element: item.0 is the element without it (copied here, not mutated)
    const copy = structuredClone(item0);
    let node: Record<string, unknown> = copy;
    let sublist: unknown[] = [];
    for (const [i, k] of keys.entries()) {
      const last = i === keys.length - 1;
      if (!(k in node)) {
        if (skipMissing) break;
        throw new Error(`could not find '${k}' key in iterated item '${pyStr(node)}'`);
      }
      const v = node[k];
      if (!last) {
        if (!isMapping(v)) {
          if (skipMissing) break;
          throw new Error(`the key ${k} should point to a dictionary, got '${pyStr(v)}'`);
        }
        node = v;
      } else {
        if (!Array.isArray(v)) throw new Error(`the key ${k} should point to a list, got '${pyStr(v)}'`);
        sublist = v;
        delete node[k];
      }
    }
    for (const item1 of sublist) out.push([copy, item1]);
  }
  return out;
}

/** Python's int(x, 0): decimal, 0x.., 0o.., 0b..; a leading zero is an error as in Python 3. */
function pyInt(s: string, what: string): number {
  const t = s.trim().toLowerCase();
  const m = /^([-+]?)(0x[0-9a-f]+|0o[0-7]+|0b[01]+|0|[1-9][0-9]*)$/.exec(t);
  if (!m) throw new Error(`can't parse ${what}=${s} as integer`);
  const body = m[2]!;
  const n = body.startsWith('0x') ? parseInt(body.slice(2), 16) : body.startsWith('0o') ? parseInt(body.slice(2), 8) : body.startsWith('0b') ? parseInt(body.slice(2), 2) : parseInt(body, 10);
  return m[1] === '-' ? -n : n;
}

function sequenceLookup(terms: unknown[], kw: Kw): unknown[] {
  const out: string[] = [];
  const list = terms.length ? terms : [''];
  for (const term of list) {
    let start = 1, end: number | undefined, count: number | undefined, stride = 1, format = '%d';
    const text = typeof term === 'string' ? term.trim() : '';
    // the shortcut form [start-]end[/stride][:format]
    const sc = /^(?:(0?x?[0-9a-f]+)-)?(0?x?[0-9a-f]+)(?:\/(0?x?[0-9a-f]+))?(?::(.+))?$/i.exec(text);
    if (text && sc) {
      if (sc[1] !== undefined) start = pyInt(sc[1], 'start');
      end = pyInt(sc[2]!, 'end');
      if (sc[3] !== undefined) stride = pyInt(sc[3], 'stride');
      if (sc[4] !== undefined) format = sc[4];
    } else {
      // key=value form (a mapping term, or keyword arguments of lookup('sequence', start=1, end=3))
      const args: Record<string, unknown> = isMapping(term) ? { ...term } : {};
      if (typeof term === 'string') for (const w of term.split(/\s+/).filter(Boolean)) {
        const m = /^(\w+)=(.*)$/.exec(w);
        if (!m) throw new Error(`unknown error parsing with_sequence arguments: '${term}'`);
        args[m[1]!] = m[2]!.replace(/^(['"])(.*)\1$/, '$2');
      }
      for (const [k, v] of Object.entries(kw)) if (!k.startsWith('__')) args[k] = v;
      for (const k of ['start', 'end', 'count', 'stride'] as const) {
        if (args[k] === undefined || args[k] === null) continue;
        const n = typeof args[k] === 'number' ? (args[k] as number) : pyInt(String(args[k]), k);
        if (k === 'start') start = n;
        else if (k === 'end') end = n;
        else if (k === 'count') count = n;
        else stride = n;
        delete args[k];
      }
      if (args['format'] !== undefined) format = String(args['format']);
      delete args['format'];
      const extra = Object.keys(args);
      if (extra.length) throw new Error(`unrecognized arguments to with_sequence: ${extra.join(', ')}`);
    }
    if (count === undefined && end === undefined) throw new Error('must specify count or end in with_sequence');
    if (count !== undefined && end !== undefined) throw new Error("can't specify both count and end in with_sequence");
    if (count !== undefined) {
      if (count !== 0) end = start + count * stride - 1;
      else (start = 0), (end = 0), (stride = 0);
    }
    if (stride > 0 && end! < start) throw new Error('to count backwards make stride negative');
    if (stride < 0 && end! > start) throw new Error("to count forward don't make stride negative");
    if ((format.match(/%/g) ?? []).length !== 1) throw new Error(`bad formatting string: ${format}`);
    if (stride === 0) continue;
    const stop = end! + (stride > 0 ? 1 : -1);
    for (let i = start, n = 0; stride > 0 ? i < stop : i > stop; i += stride, n++) {
      if (n >= 1_000_000) throw new Error('with_sequence: more than 1,000,000 items');
      out.push(pyFormat(format, i, false));
    }
  }
  return out;
}

function indexedItemsLookup(terms: unknown[]): unknown[] { return flat1(terms).map((x, i) => [i, x]); }

function dictLookup(terms: unknown[], kw: Kw): unknown[] {
  const out: unknown[] = [];
  // lookup('dict', mapping): the templar hands a trailing mapping over as keyword arguments
  const kwDict = Object.fromEntries(Object.entries(kw).filter(([k]) => !k.startsWith('__')));
  for (const t of terms.length ? terms : Object.keys(kwDict).length ? [kwDict] : []) {
    if (!isMapping(t)) throw new Error(`with_dict expects a dict, got ${Array.isArray(t) ? 'a list' : t === null ? 'nothing' : `a ${typeof t}`}`);
    for (const [key, value] of Object.entries(t)) out.push({ key, value });
  }
  return out;
}

function randomChoiceLookup(terms: unknown[]): unknown[] {
  return terms.length ? [terms[Math.floor(Math.random() * terms.length)]] : terms;
}

/** first_found's `files`/`paths` given as text: split on , and ; (and : for paths). */
function splitOn(v: unknown, seps: string): string[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.flatMap((x) => pyStr(x).split(new RegExp(`[${seps}]`)).map((s) => s.trim()).filter(Boolean));
}

function firstFoundLookup(terms: unknown[], kw: Kw, vars: Record<string, unknown>): unknown[] {
  const subdir = typeof kw['__subdir'] === 'string' ? kw['__subdir'] : 'files';
  let skip = pyTruthy(kw['skip']);
  const search: string[] = [];
  const add = (files: unknown, paths: unknown) => {
    const fl = splitOn(files, ',;');
    const pl = splitOn(paths, ',:;');
    if (pl.length) for (const p of pl) for (const f of fl) search.push(path.join(p, f));
    else search.push(...fl);
  };
  const walk = (list: unknown[]) => {
    for (const t of list) {
      if (isMapping(t)) {
        add(t['files'] ?? kw['files'], t['paths'] ?? kw['paths']);
        if (t['skip'] !== undefined) skip = pyTruthy(t['skip']) && !['no', 'false', 'off', '0', 'n'].includes(String(t['skip']).toLowerCase());
      } else if (typeof t === 'string') add([t], kw['paths']);
      else if (Array.isArray(t)) walk(t);
      else if (t !== null && t !== undefined) throw new Error(`Invalid term supplied, can handle string, mapping or list of strings but got: ${typeof t} for ${pyStr(t)}`);
    }
  };
  walk(terms.length ? terms : [{ files: kw['files'] }]);
  for (const fn of search) {
    const found = findInSearchPath(vars, subdir, fn);
    if (found) return [found];
  }
  if (skip) return [];
  throw new Error(`No file was found when using first_found (looked for ${search.join(', ') || 'nothing'}). Use errors='ignore' to allow this task to be skipped if no files are found`);
}

/** Python's glob (*, ?, [..]; a leading dot only matched explicitly), over one directory level. */
function globFiles(dir: string, pattern: string): string[] {
  const re = new RegExp(
    '^' +
      pattern.replace(/\[!?[^\]]*\]|[*?]|[^*?[]+/g, (t) => {
        if (t === '*') return '[^/]*';
        if (t === '?') return '[^/]';
        if (t.startsWith('[')) return t.startsWith('[!') ? `[^${t.slice(2, -1)}]` : t;
        return t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      }) +
      '$',
  );
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => re.test(n) && (!n.startsWith('.') || pattern.startsWith('.')))
    .map((n) => path.join(dir, n))
    .filter((p) => fs.statSync(p, { throwIfNoEntry: false })?.isFile())
    .sort();
}

function fileglobLookup(terms: unknown[], _kw: Kw, vars: Record<string, unknown>): unknown[] {
  const out: string[] = [];
  for (const t of terms) {
    const term = pyStr(t);
    const file = path.basename(term);
    const dirs: string[] = [];
    if (file !== term) {
      const d = path.dirname(term);
      const found = findInSearchPath(vars, 'files', d);
      if (found) dirs.push(found);
    } else for (const b of searchBases(vars)) dirs.push(path.join(b, 'files'), b);
    for (const d of dirs) {
      const hits = globFiles(d, file);
      if (hits.length) {
        out.push(...hits);
        break;
      }
    }
  }
  return out;
}

function templateLookup(terms: unknown[], kw: Kw, vars: Record<string, unknown>): unknown[] {
  const templar = createTemplar();
  return terms.map((t) => {
    const name = pyStr(t);
    const file = findInSearchPath(vars, 'templates', name);
    if (!file) throw new Error(`the template file ${name} could not be found for the lookup`);
    const text = fs.readFileSync(file, 'utf8');
    const tv = isMapping(kw['template_vars']) ? kw['template_vars'] : {};
    const ctx = { ...vars, ...tv, template_path: file, template_fullpath: file, template_host: process.env['HOSTNAME'] ?? '', template_uid: String(process.getuid?.() ?? '') };
    return templar.renderString(text, resolveFor(text, ctx, templar), { trimBlocks: kw['trim_blocks'] === undefined ? true : pyTruthy(kw['trim_blocks']), keepTrailingNewline: true });
  });
}

function shell(cmd: string, vars: Record<string, unknown>, what: string): string {
  const r = spawnSync('/bin/sh', ['-c', cmd], { cwd: cwdFor(vars), encoding: 'utf8', timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`lookup_plugin.${what}(${cmd}): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`lookup_plugin.${what}(${cmd}) returned ${r.status ?? r.signal}`);
  return r.stdout;
}

function pipeLookup(terms: unknown[], _kw: Kw, vars: Record<string, unknown>): unknown[] {
  return terms.map((t) => shell(pyStr(t), vars, 'pipe').replace(/\s+$/, ''));
}

function linesLookup(terms: unknown[], _kw: Kw, vars: Record<string, unknown>): unknown[] {
  return terms.flatMap((t) => shell(pyStr(t), vars, 'lines').split(/\r?\n/).filter((l, i, a) => i < a.length - 1 || l !== ''));
}

function varnamesLookup(terms: unknown[], _kw: Kw, vars: Record<string, unknown>): unknown[] {
  const names = Object.keys(vars).filter((n) => !n.startsWith('__'));
  const out: string[] = [];
  for (const t of terms) {
    if (typeof t !== 'string') throw new Error(`Invalid setting identifier, "${pyStr(t)}" is not a string, it is a ${Array.isArray(t) ? 'list' : typeof t}`);
    let re: RegExp;
    try {
      re = new RegExp(t);
    } catch (e) {
      throw new Error(`Unable to use "${t}" as a search parameter: ${(e as Error).message}`);
    }
    for (const n of names) if (re.test(n)) out.push(n);
  }
  return out;
}
