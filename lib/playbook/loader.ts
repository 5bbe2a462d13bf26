/**
 * YAML -> validated, source-located model of plays, roles, tasks and handlers. Collects every configuration error
 * it can find (ErrorSink) instead of stopping at the first; nothing here contacts a host or renders a template.
 */
import { ansibleBoolean } from '../vars/python-compat.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunbookError, ErrorSink, ConfigErrors, type SourcePos } from '../errors.js';
import { loadYamlFile } from '../yaml-load.js';
import { resolveAction } from '../modules/registry.js';
import { validateArgs } from './validate.js';
import { TASK_KEYWORDS, BLOCK_KEYWORDS, PLAY_KEYWORDS, ROLE_ENTRY_KEYWORDS, closest } from './keywords.js';
import { allNames } from '../modules/registry.js';
import { unsupportedModule } from '../modules/unsupported.js';
import type { BlockNode, Inheritable, Item, Play, Playbook, RoleScope, TaskNode } from './model.js';
import { loadArgumentSpecs, type ArgumentSpec } from './argument-specs.js';
import { ansibleHasOption, ansibleModule, collectionsPath, findCollection } from './ansible-names.js';

type Path = (string | number)[];

interface Src {
  file: string;
  pos(p: Path): SourcePos;
  keyPos?(p: Path): SourcePos | undefined;
}

export interface LoadOptions {
  /** extra directories to look for roles in (roles_path) */
  rolesPath?: string[];
  /** a play without gather_facts gathers (ansible.cfg gathering = implicit/smart, the default) or not (explicit) */
  gatherFacts?: boolean;
  /** the collection search path (ansible-names.ts collectionsPath()); the playbook's collections/ is added */
  collectionsPath?: string[];
  /** --tags / --skip-tags of the run: a task they leave out is not certain to run (its errors are deferred) */
  tags?: string[];
  skipTags?: string[];
}

export interface RoleDef {
  name: string;
  path: string;
  defaults: Record<string, unknown>;
  vars: Record<string, unknown>;
  tasks: Item[];
  handlers: TaskNode[];
  specs?: ArgumentSpec;
  description?: string;
  dependencies: { name: string; params: Record<string, unknown> }[];
  /** the certainty and collections its files were loaded with (the first use of a role decides) */
  loadedAs?: RoleCtx;
}

/** What a role's files inherit from where the role is used. */
export interface RoleCtx {
  guard?: string;
  tags: string[];
  collections: string[];
}

const HANDLER = 'in a handler (it runs only when notified)';

/** `when: x` as a short reason for messages. */
function whenReason(w: unknown, pos: SourcePos): string {
  const list = Array.isArray(w) ? w : [w];
  let t = list.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' and ').replace(/\s+/g, ' ');
  if (t.length > 60) t = t.slice(0, 57) + '...';
  return `under "when: ${t}" (${path.basename(pos.file)}:${pos.line})`;
}

export class PlaybookLoader {
  readonly sink = new ErrorSink();
  /**
   * Problems that are certain only if a task runs (docs/adr/0012): each one line with file:line, the task carries
   * them as `deferred` and fails with them when it is reached on a host.
   */
  readonly warnings: RunbookError[] = [];
  private warned = new Set<string>();
  private roleCache = new Map<string, RoleDef | null>();
  /** every role instance placed in a play, with its params, for argument_specs validation */
  readonly roleUses: { play: Play; role: RoleScope; specs?: ArgumentSpec; pos: SourcePos }[] = [];

  /** the directory of the playbook being loaded: template/copy sources are looked up there too */
  private playbookDir?: string;

  constructor(private readonly opts: LoadOptions = {}) {}

  warn(e: RunbookError): void {
    const k = e.format();
    if (this.warned.has(k)) return;
    this.warned.add(k);
    this.warnings.push(e);
  }

  /** Why a task with these (accumulated) tags does not run with this run's --tags/--skip-tags, or undefined. */
  private tagReason(tags: string[]): string | undefined {
    const set = new Set(tags);
    const T = this.opts.tags ?? [];
    const S = this.opts.skipTags ?? [];
    if (S.some((t) => set.has(t))) return 'left out by --skip-tags';
    if (set.has('never') && !T.some((t) => set.has(t))) return 'tagged "never"';
    if (T.length === 0 || T.includes('all') || set.has('always')) return undefined;
    if (T.includes('tagged') && set.size > 0) return undefined;
    if (T.includes('untagged') && set.size === 0) return undefined;
    return T.some((t) => set.has(t)) ? undefined : 'not selected by --tags';
  }

  private collectionSearch(): string[] {
    return [...(this.playbookDir ? [path.join(this.playbookDir, 'collections')] : []), ...(this.opts.collectionsPath ?? collectionsPath())];
  }

  /** A module Ansible would find beside the code: a role's or the playbook's library/, or a collection's plugins/modules/. */
  private localModule(name: string, ctx: ItemCtx): string | undefined {
    const dirs = [...(ctx.roleDir ? [path.join(ctx.roleDir, 'library')] : []), ...(this.playbookDir ? [path.join(this.playbookDir, 'library')] : [])];
    for (const d of dirs) for (const ext of ['.py', '', '.sh', '.ps1']) if (fs.existsSync(path.join(d, name + ext))) return `${path.join(d, name + ext)}`;
    const parts = name.split('.');
    if (parts.length === 3) {
      const c = findCollection(`${parts[0]}.${parts[1]}`, this.collectionSearch());
      if (c && fs.existsSync(path.join(c, 'plugins', 'modules', `${parts[2]}.py`))) return name;
    }
    return undefined;
  }

  loadPlaybook(file: string): Playbook {
    const abs = path.resolve(file);
    this.playbookDir ??= path.dirname(abs);
    const plays: Play[] = [];
    this.loadPlaybookInto(abs, plays, new Set());
    this.sink.throwIfAny();
    return { file: abs, dir: path.dirname(abs), plays };
  }

  private loadPlaybookInto(abs: string, plays: Play[], seen: Set<string>): void {
    if (seen.has(abs)) {
      this.sink.add(new RunbookError('config', `import_playbook recursion: ${abs} imports itself`, { pos: { file: abs, line: 1, col: 1 } }));
      return;
    }
    seen.add(abs);
    const y = this.sink.guard(() => loadYamlFile(abs));
    if (!y) return;
    const src: Src = { file: abs, pos: (p) => y.pos(p), keyPos: (p) => y.keyPos(p) };
    const doc = y.value;
    if (doc === null || doc === undefined) return;
    if (!Array.isArray(doc)) {
      this.sink.add(new RunbookError('schema', 'a playbook must be a list of plays', { pos: src.pos([]) }));
      return;
    }
    doc.forEach((raw, i) => {
      if (!isMap(raw)) {
        this.sink.add(new RunbookError('schema', 'each play must be a mapping', { pos: src.pos([i]) }));
        return;
      }
      // `include:` at play level is the pre-2.4 spelling of import_playbook (Ansible 2.14 still accepts it)
      const imp = raw['import_playbook'] ?? raw['ansible.builtin.import_playbook'] ?? (raw['hosts'] === undefined ? raw['include'] ?? raw['ansible.builtin.include'] : undefined);
      if (imp !== undefined) {
        if (typeof imp !== 'string') {
          this.sink.add(new RunbookError('schema', 'import_playbook takes a file name', { pos: src.pos([i]) }));
          return;
        }
        const target = path.resolve(path.dirname(abs), imp);
        if (!fs.existsSync(target)) {
          this.sink.add(new RunbookError('missing_file', `imported playbook not found: ${imp}`, { pos: src.pos([i, 'import_playbook']) }));
          return;
        }
        const before = plays.length;
        this.loadPlaybookInto(target, plays, new Set(seen));
        const extraVars = isMap(raw['vars']) ? raw['vars'] : {};
        for (const p of plays.slice(before)) p.vars = { ...p.vars, ...extraVars };
        return;
      }
      const play = this.loadPlay(raw, [i], src);
      if (play) plays.push(play);
    });
  }

  private loadPlay(raw: Record<string, unknown>, at: Path, src: Src): Play | undefined {
    for (const k of Object.keys(raw)) {
      if (!PLAY_KEYWORDS.has(k)) {
        const hint = closest(k, PLAY_KEYWORDS);
        this.sink.add(new RunbookError('schema', `unknown play keyword "${k}"${hint ? ` (did you mean "${hint}"?)` : ''}`, { pos: src.pos([...at, k]) }));
      }
    }
    if (raw['hosts'] === undefined) {
      this.sink.add(new RunbookError('schema', 'a play needs "hosts"', { pos: src.pos(at) }));
      return undefined;
    }
    const hosts = Array.isArray(raw['hosts']) ? raw['hosts'].map(String).join(':') : String(raw['hosts']);
    const base = this.inheritable(raw, at, src);
    const dir = path.dirname(src.file);
    const varsFiles = this.stringList(raw['vars_files'], [...at, 'vars_files'], src);
    for (const [j, vf] of varsFiles.entries()) {
      if (!vf.includes('{{') && !fs.existsSync(path.resolve(dir, vf))) {
        this.sink.add(new RunbookError('missing_file', `vars file not found: ${vf}`, { pos: src.pos([...at, 'vars_files', j]) }));
      }
    }
    const play: Play = {
      ...base,
      name: raw['name'] !== undefined ? String(raw['name']) : hosts,
      hosts,
      gatherFacts: raw['gather_facts'] === undefined ? this.opts.gatherFacts ?? true : truthy(raw['gather_facts']),
      connection: raw['connection'] !== undefined ? String(raw['connection']) : undefined,
      varsFiles: varsFiles.map((f) => (f.includes('{{') ? f : path.resolve(dir, f))),
      sections: [],
      handlers: [],
      pos: src.pos(at),
      file: src.file,
      serial: typeof raw['serial'] === 'number' ? raw['serial'] : undefined,
    };
    const collections = toStrList(raw['collections']);
    const ctx: ItemCtx = { file: src.file, dir, src, tags: play.tags, collections };
    const pre = this.items(raw['pre_tasks'], [...at, 'pre_tasks'], ctx);
    const roleItems: Item[] = [];
    const roleHandlers: TaskNode[] = [];
    if (raw['roles'] !== undefined) {
      if (!Array.isArray(raw['roles'])) {
        this.sink.add(new RunbookError('schema', '"roles" must be a list', { pos: src.pos([...at, 'roles']) }));
      } else {
        raw['roles'].forEach((entry, j) => {
          const r = this.roleEntry(entry, [...at, 'roles', j], src, play, ctx);
          if (r) {
            roleItems.push(r.block);
            roleHandlers.push(...r.handlers);
          }
        });
      }
    }
    const tasks = this.items(raw['tasks'], [...at, 'tasks'], ctx);
    const post = this.items(raw['post_tasks'], [...at, 'post_tasks'], ctx);
    const handlers = this.items(raw['handlers'], [...at, 'handlers'], { ...ctx, guard: HANDLER });
    play.sections = [pre, [...roleItems, ...tasks], post];
    play.handlers = [...roleHandlers, ...flattenHandlers(handlers)];
    return play;
  }

  /** A `roles:` entry: a name, or a mapping with role/name plus params and keywords. */
  private roleEntry(entry: unknown, at: Path, src: Src, play: Play, ctx: ItemCtx): { block: BlockNode; handlers: TaskNode[] } | undefined {
    let name: string;
    let params: Record<string, unknown> = {};
    let kw: Record<string, unknown> = {};
    if (typeof entry === 'string') name = entry;
    else if (isMap(entry) && (typeof entry['role'] === 'string' || typeof entry['name'] === 'string')) {
      name = String(entry['role'] ?? entry['name']);
      for (const [k, v] of Object.entries(entry)) {
        if (k === 'role' || (k === 'name' && entry['role'] === undefined)) continue;
        if (ROLE_ENTRY_KEYWORDS.has(k) && k !== 'vars') kw[k] = v;
        else if (k === 'vars' && isMap(v)) params = { ...params, ...v };
        else params[k] = v;
      }
    } else {
      this.sink.add(new RunbookError('schema', 'a role entry is a name or a mapping with "role:"', { pos: src.pos(at) }));
      return undefined;
    }
    const pos = src.pos(at);
    const tags = [...ctx.tags, ...toStrList(kw['tags'])];
    const guard = ctx.guard ?? (kw['when'] !== undefined ? whenReason(kw['when'], pos) : undefined) ?? this.tagReason(tags);
    const def = this.loadRole(name, path.dirname(src.file), pos, { guard, tags, collections: ctx.collections });
    if (!def) return undefined;
    return this.instantiateRole(def, params, kw, at, src, play, pos);
  }

  instantiateRole(def: RoleDef, params: Record<string, unknown>, kw: Record<string, unknown>, at: Path, src: Src, play: Play | undefined, pos: SourcePos, depth = 0): { block: BlockNode; handlers: TaskNode[] } {
    const scope: RoleScope = { name: def.name, path: def.path, defaults: def.defaults, vars: def.vars, params };
    if (play) this.roleUses.push({ play, role: scope, specs: def.specs, pos });
    const base = this.inheritable(kw, at, src);
    const deps: Item[] = [];
    const handlers: TaskNode[] = [];
    if (depth < 20) {
      for (const dep of def.dependencies) {
        const d = this.loadRole(dep.name, def.path, pos, def.loadedAs);
        if (d) {
          const inst = this.instantiateRole(d, dep.params, {}, at, src, play, pos, depth + 1);
          deps.push(inst.block);
          handlers.push(...inst.handlers);
        }
      }
    } else {
      this.sink.add(new RunbookError('config', `role dependency recursion at ${def.name}`, { pos }));
    }
    const tasks = def.tasks.map((t) => withRole(t, scope));
    handlers.push(...def.handlers.map((h) => withRole(h, scope) as TaskNode));
    const block: BlockNode = {
      ...base,
      kind: 'block',
      name: `role ${def.name}`,
      block: [...deps, ...tasks],
      rescue: [],
      always: [],
      pos,
      role: scope,
      file: src.file,
    };
    return { block, handlers };
  }

  findRole(name: string, fromDir: string, collections: string[] = []): string | undefined {
    if (name.includes('/') && fs.existsSync(path.resolve(fromDir, name))) return path.resolve(fromDir, name);
    // a role in a collection: ns.coll.role on the collection search path, or a short name in a `collections:` entry
    // or in the collection the including role belongs to
    const isDir = (p: string) => fs.existsSync(p) && fs.statSync(p).isDirectory();
    const parts = name.split('.');
    if (parts.length === 3) {
      const c = findCollection(`${parts[0]}.${parts[1]}`, this.collectionSearch());
      if (c && isDir(path.join(c, 'roles', parts[2]!))) return path.join(c, 'roles', parts[2]!);
    }
    if (!name.includes('.')) {
      for (const coll of collections) {
        const c = findCollection(coll, this.collectionSearch());
        if (c && isDir(path.join(c, 'roles', name))) return path.join(c, 'roles', name);
      }
      if (path.basename(path.dirname(fromDir)) === 'roles' && isDir(path.join(path.dirname(fromDir), name))) return path.join(path.dirname(fromDir), name);
    }
    const short = name.includes('.') && !fs.existsSync(path.join(fromDir, 'roles', name)) ? name.split('.').pop()! : name;
    const dirs = [
      path.join(fromDir, 'roles'),
      path.join(fromDir, '..', 'roles'),
      ...(this.opts.rolesPath ?? []),
      path.join(process.cwd(), 'roles'),
    ];
    for (const d of dirs) {
      for (const n of [name, short]) {
        const p = path.resolve(d, n);
        if (fs.existsSync(path.join(p)) && fs.statSync(p).isDirectory()) return p;
      }
    }
    return undefined;
  }

  loadRole(name: string, fromDir: string, pos: SourcePos, use: RoleCtx = { tags: [], collections: [] }): RoleDef | undefined {
    const rp = this.findRole(name, fromDir, use.collections);
    if (!rp) {
      const where = name.split('.').length === 3 ? ` (looked for collection ${name.split('.').slice(0, 2).join('.')} in ${this.collectionSearch().join(', ')}, and for the role in roles/ beside the playbook, ../roles, roles_path and ./roles)` : ' (looked in roles/ beside the playbook, ../roles, roles_path and ./roles)';
      this.sink.add(new RunbookError('missing_role', `role "${name}" not found${where}`, { pos }));
      return undefined;
    }
    if (this.roleCache.has(rp)) return this.roleCache.get(rp) ?? undefined;
    this.roleCache.set(rp, null);
    const main = (sub: string) => ['main.yml', 'main.yaml', 'main'].map((m) => path.join(rp, sub, m)).find((f) => fs.existsSync(f));
    const varsOf = (sub: string): Record<string, unknown> => {
      const f = main(sub);
      if (!f) return {};
      const y = this.sink.guard(() => loadYamlFile(f));
      if (!y || y.value == null) return {};
      if (!isMap(y.value)) {
        this.sink.add(new RunbookError('schema', `${sub}/main.yml must be a mapping of variables`, { pos: y.pos([]) }));
        return {};
      }
      return y.value;
    };
    const mf = main('meta');
    const meta = mf ? this.sink.guard(() => loadYamlFile(mf)) : undefined;
    // a role's own `collections:` (meta/main.yml) adds to its users'; a role inside a collection sees its collection
    const inColl = /[\\/]ansible_collections[\\/]([^\\/]+)[\\/]([^\\/]+)[\\/]roles[\\/][^\\/]+$/.exec(rp);
    const collections = [...(meta && isMap(meta.value) ? toStrList(meta.value['collections']) : []), ...(inColl ? [`${inColl[1]}.${inColl[2]}`] : []), ...use.collections];
    const loadedAs: RoleCtx = { guard: use.guard, tags: use.tags, collections };
    const def: RoleDef = {
      name: path.basename(rp),
      path: rp,
      defaults: varsOf('defaults'),
      vars: varsOf('vars'),
      tasks: [],
      handlers: [],
      dependencies: [],
      loadedAs,
    };
    const tf = main('tasks');
    if (tf) def.tasks = this.itemsFromFile(tf, { ...loadedAs, roleDir: rp });
    const hf = main('handlers');
    if (hf) def.handlers = flattenHandlers(this.itemsFromFile(hf, { ...loadedAs, guard: HANDLER, roleDir: rp }));
    if (mf) {
      const y = meta;
      if (y && isMap(y.value)) {
        const deps = y.value['dependencies'];
        if (Array.isArray(deps)) {
          for (const d of deps) {
            if (typeof d === 'string') def.dependencies.push({ name: d, params: {} });
            else if (isMap(d) && typeof (d['role'] ?? d['name']) === 'string') {
              const { role, name: n, ...params } = d;
              def.dependencies.push({ name: String(role ?? n), params });
            }
          }
        }
        const gi = y.value['galaxy_info'];
        if (isMap(gi) && typeof gi['description'] === 'string') def.description = gi['description'];
        if (isMap(y.value['argument_specs'])) {
          def.specs = this.sink.guard(() => loadArgumentSpecs(mf, y.value as Record<string, unknown>, y.pos)) ?? undefined;
        }
      }
    }
    const sf = ['argument_specs.yml', 'argument_specs.yaml'].map((m) => path.join(rp, 'meta', m)).find((f) => fs.existsSync(f));
    if (sf) {
      const y = this.sink.guard(() => loadYamlFile(sf));
      if (y && isMap(y.value)) def.specs = this.sink.guard(() => loadArgumentSpecs(sf, y.value as Record<string, unknown>, y.pos)) ?? undefined;
    }
    if (!def.description && def.specs?.shortDescription) def.description = def.specs.shortDescription;
    this.roleCache.set(rp, def);
    return def;
  }

  /**
   * The tasks of a file. `inherit`: how certain it is that they run (a guard), accumulated tags and collections,
   * whether the file is a dynamic include's (Ansible loads those only when reached), the role it belongs to.
   * Without it (a dynamic include loaded when reached, at run time) the tasks are as certain as their own keywords.
   */
  itemsFromFile(file: string, inherit: Partial<Omit<ItemCtx, 'file' | 'dir' | 'src'>> = {}): Item[] {
    const y = this.sink.guard(() => loadYamlFile(file));
    if (!y) return [];
    const src: Src = { file, pos: (p) => y.pos(p), keyPos: (p) => y.keyPos(p) };
    const roleDir = inherit.roleDir ?? /^(.*[\\/]roles[\\/][^\\/]+)[\\/](tasks|handlers)[\\/]/.exec(file)?.[1];
    return this.items(y.value, [], { tags: [], collections: [], ...inherit, roleDir, file, dir: path.dirname(file), src });
  }

  private items(raw: unknown, at: Path, ctx: ItemCtx): Item[] {
    if (raw === undefined || raw === null) return [];
    if (!Array.isArray(raw)) {
      this.sink.add(new RunbookError('schema', 'expected a list of tasks', { pos: ctx.src.pos(at) }));
      return [];
    }
    const out: Item[] = [];
    raw.forEach((t, i) => {
      const item = this.item(t, [...at, i], ctx);
      if (Array.isArray(item)) out.push(...item);
      else if (item) out.push(item);
    });
    return out;
  }

  private item(raw: unknown, at: Path, ctx: ItemCtx): Item | Item[] | undefined {
    const src = ctx.src;
    if (!isMap(raw)) {
      this.sink.add(new RunbookError('schema', 'a task must be a mapping', { pos: src.pos(at) }));
      return undefined;
    }
    if ('block' in raw) {
      for (const k of Object.keys(raw)) {
        if (!BLOCK_KEYWORDS.has(k)) {
          const hint = closest(k, BLOCK_KEYWORDS);
          this.sink.add(new RunbookError('schema', `unknown block keyword "${k}"${hint ? ` (did you mean "${hint}"?)` : ''}`, { pos: src.pos([...at, k]) }));
        }
      }
      const inner: ItemCtx = {
        ...ctx,
        tags: [...ctx.tags, ...toStrList(raw['tags'])],
        guard: ctx.guard ?? (raw['when'] !== undefined ? whenReason(raw['when'], src.pos(at)) : undefined),
      };
      const b: BlockNode = {
        ...this.inheritable(raw, at, src),
        kind: 'block',
        name: raw['name'] !== undefined ? String(raw['name']) : undefined,
        block: this.items(raw['block'], [...at, 'block'], inner),
        rescue: this.items(raw['rescue'], [...at, 'rescue'], { ...inner, guard: inner.guard ?? 'in a rescue section (it runs only when the block fails)' }),
        always: this.items(raw['always'], [...at, 'always'], inner),
        pos: src.pos(at),
        file: ctx.file,
      };
      return b;
    }
    return this.task(raw, at, ctx);
  }

  private task(raw: Record<string, unknown>, at: Path, ctx: ItemCtx): Item | Item[] | undefined {
    const src = ctx.src;
    const pos = src.pos(at);
    const ownTags = [...ctx.tags, ...toStrList(raw['tags'])];
    // why this task might not run: an enclosing guard, its own when, or the run's --tags/--skip-tags
    const guard = ctx.guard ?? (raw['when'] !== undefined ? whenReason(raw['when'], pos) : undefined) ?? this.tagReason(ownTags);
    // a problem that is certain only if the task runs: a warning now, the task fails with it when reached
    let deferred: TaskNode['deferred'];
    const defer = (code: RunbookError['code'], message: string, at2: SourcePos = pos) => {
      deferred ??= { code, message, pos: at2 };
      this.warn(new RunbookError(code, `${message}; this task fails if it runs`, { pos: at2 }));
    };
    // an error when the task is certain to run, deferred when it is not
    const problem = (code: RunbookError['code'], message: string, at2: SourcePos = pos) => {
      if (guard) defer(code, `${message} (the task may not run: ${guard})`, at2);
      else this.sink.add(new RunbookError(code, message, { pos: at2 }));
    };
    let actionKey: string | undefined;
    let argsRaw: unknown;
    const candidates = Object.keys(raw).filter((k) => !TASK_KEYWORDS.has(k));
    if (raw['action'] !== undefined || raw['local_action'] !== undefined) {
      const a = raw['action'] ?? raw['local_action'];
      if (typeof a === 'string') {
        const [m, ...rest] = a.trim().split(/\s+/);
        actionKey = m;
        argsRaw = rest.join(' ');
      } else if (isMap(a) && typeof a['module'] === 'string') {
        const { module, ...rest } = a;
        actionKey = String(module);
        argsRaw = rest;
      }
    }
    if (!actionKey) {
      if (candidates.length === 0) {
        this.sink.add(new RunbookError('schema', 'task has no module (expected one key that names a module, e.g. "copy:")', { pos }));
        return undefined;
      }
      // more than one unknown key: the first that names a module is the action, the rest are unknown keywords
      const names = candidates.filter((k) => !/^with_/.test(k));
      const known = names.filter((k) => resolveAction(k) || OLD_INCLUDE.has(k));
      if (known.length > 1) {
        this.sink.add(new RunbookError('schema', `task has more than one module: ${known.join(', ')}`, { pos }));
        return undefined;
      }
      actionKey = known[0] ?? names.find((k) => ansibleModule(k, ctx.collections)) ?? names[0] ?? candidates[0]!;
      for (const k of candidates) {
        if (k === actionKey) continue;
        const kpos = src.keyPos?.([...at, k]) ?? src.pos([...at, k]);
        // with_<lookup> loops Ansible has (with_first_found, with_fileglob, with_<fqcn>...): the run cannot do them yet
        if (/^with_[A-Za-z_][\w.]*$/.test(k)) {
          defer('schema', `loop "${k}" is not supported by runbook yet`, kpos);
          continue;
        }
        const hint = closest(k, TASK_KEYWORDS);
        this.sink.add(new RunbookError('schema', `unknown task keyword "${k}"${hint ? ` (did you mean "${hint}"?)` : ''}`, { pos: kpos }));
      }
      argsRaw = raw[actionKey];
    }
    // `include:` (deprecated, removed in Ansible 2.16): a static file name is an import_tasks, else an include_tasks
    if (OLD_INCLUDE.has(actionKey)) {
      let file: unknown;
      const params: Record<string, unknown> = {};
      if (typeof argsRaw === 'string') {
        const words = splitArgs(argsRaw);
        file = words.shift();
        for (const w of words) {
          const m = /^([A-Za-z_]\w*)=(.*)$/s.exec(w);
          if (m) params[m[1]!] = m[2];
        }
      } else if (isMap(argsRaw)) file = argsRaw['file'] ?? argsRaw['_raw_params'];
      const apos = src.keyPos?.([...at, actionKey]) ?? pos;
      if (typeof file !== 'string' || !file) {
        this.sink.add(new RunbookError('bad_argument', `"${actionKey}" needs a tasks file name`, { pos: apos }));
        return undefined;
      }
      const looped = raw['loop'] !== undefined || Object.keys(raw).some((k) => k.startsWith('with_'));
      const withVars = { ...raw, vars: { ...params, ...(isMap(raw['vars']) ? raw['vars'] : {}) } };
      this.warn(new RunbookError('schema', `"${actionKey}" is deprecated (Ansible 2.16 removed it): read as ${file.includes('{{') || looped ? 'include_tasks' : 'import_tasks'}`, { pos: apos }));
      if (!file.includes('{{') && !looped) return this.importStatic('import_tasks', { _raw_params: file }, withVars, at, ctx, pos, guard);
      raw = { ...withVars, include_tasks: file };
      delete raw[actionKey];
      actionKey = 'include_tasks';
      argsRaw = file;
    }
    const resolved = resolveAction(actionKey);
    if (!resolved) {
      const apos = src.keyPos?.([...at, actionKey]) ?? src.pos([...at, actionKey]);
      const fq = ansibleModule(actionKey, ctx.collections) ?? this.localModule(actionKey, ctx);
      if (fq) defer('unknown_module', `module "${actionKey}" is not supported (yet) by runbook${fq !== actionKey ? ` (${fq})` : ''}`, apos);
      else if (guard && ctx.dynamic) defer('unknown_module', `unknown module "${actionKey}" (in a file Ansible loads only when an include reaches it; the task may not run: ${guard})`, apos);
      else {
        const hint = closest(actionKey, allNames());
        this.sink.add(new RunbookError('unknown_module', `unknown module "${actionKey}"${hint ? ` (did you mean "${hint}"?)` : ''}`, { pos: apos }));
        return undefined;
      }
    }
    const def = resolved?.def;
    // arguments: a mapping, a k=v string, or free-form text
    let args: Record<string, unknown> = {};
    if (typeof argsRaw === 'string') {
      args = def ? this.parseKv(argsRaw, def.freeForm, src.pos([...at, actionKey]), problem) : { _raw_params: argsRaw };
    } else if (isMap(argsRaw)) {
      args = { ...argsRaw };
    } else if (argsRaw !== null && argsRaw !== undefined) {
      this.sink.add(new RunbookError('bad_argument', `arguments of ${actionKey} must be a mapping or k=v text`, { pos: src.pos([...at, actionKey]) }));
      return undefined;
    }
    if (isMap(raw['args'])) args = { ...raw['args'], ...args };
    const canonical = def?.name ?? actionKey;

    // import_tasks: inline at load time (static, like Ansible)
    if (canonical === 'import_tasks' || canonical === 'import_role') {
      return this.importStatic(canonical, args, raw, at, ctx, pos, guard);
    }

    // validate arguments against the schema, skipping templated values
    if (def && !deferred) {
      for (const e of validateArgs(def.schema, args, canonical)) {
        const p = e.path.length ? src.pos([...at, actionKey, ...e.path]) : src.pos([...at, actionKey]);
        const opt = e.path.length === 1 ? String(e.path[0]) : undefined;
        // an option Ansible's module has and runbook's lacks is runbook's gap, not the playbook's error
        if (e.code === 'unknown_argument' && opt && ansibleHasOption(canonical, opt)) defer('unknown_argument', `argument "${opt}" of module ${canonical} is not supported by runbook yet`, p);
        else problem(e.code, e.message, p);
      }
    }

    const loopCtl = isMap(raw['loop_control']) ? raw['loop_control'] : {};
    let loop = raw['loop'];
    for (const w of ['with_items', 'with_list', 'with_dict']) {
      if (raw[w] !== undefined) {
        loop = w === 'with_dict' ? { __with_dict__: raw[w] } : raw[w];
        if (w === 'with_items') loop = { __with_items__: raw[w] };
      }
    }
    const task: TaskNode = {
      ...this.inheritable(raw, at, src),
      kind: 'task',
      name: raw['name'] !== undefined ? String(raw['name']) : undefined,
      action: canonical,
      actionAs: actionKey,
      args,
      loop,
      loopVar: typeof loopCtl['loop_var'] === 'string' ? loopCtl['loop_var'] : 'item',
      indexVar: typeof loopCtl['index_var'] === 'string' ? loopCtl['index_var'] : undefined,
      loopLabel: loopCtl['label'],
      register: raw['register'] !== undefined ? String(raw['register']) : undefined,
      notify: toStrList(raw['notify']),
      listen: toStrList(raw['listen']),
      changedWhen: raw['changed_when'],
      failedWhen: raw['failed_when'],
      until: raw['until'],
      retries: raw['retries'],
      delay: raw['delay'],
      pos,
      file: ctx.file,
    };
    if (ctx.guard) task.guard = ctx.guard;
    else if (!task.when.length && guard) task.guard = guard;
    if (raw['local_action'] !== undefined) task.delegateTo = 'localhost';
    if (task.register !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(task.register)) {
      this.sink.add(new RunbookError('schema', `register name "${task.register}" is not a valid variable name`, { pos: src.pos([...at, 'register']) }));
    }
    if (!deferred && (canonical === 'template' || canonical === 'copy') && typeof args['src'] === 'string') this.checkSrc(canonical, args, src.pos([...at, actionKey, 'src']), ctx, problem);
    if (canonical === 'include_tasks' && !deferred) {
      const f = String(args['file'] ?? args['_raw_params'] ?? '');
      // a templated name ("setup-{{ ansible_os_family }}.yml") is loaded and checked when the run reaches it
      if (!f.includes('{{')) {
        const target = this.resolveTaskFile(f, ctx);
        if (!target) problem('missing_file', `tasks file not found: ${f}`, src.pos([...at, actionKey]));
        else {
          // loaded now so its errors are found before any host is contacted; run when reached
          task.args = { ...args, __items__: this.itemsFromFile(target, { guard, dynamic: true, tags: ownTags, collections: ctx.collections, roleDir: ctx.roleDir }), __file__: target };
        }
      }
    }
    if (deferred) task.deferred = deferred;
    return task;
  }

  private importStatic(kind: string, args: Record<string, unknown>, raw: Record<string, unknown>, at: Path, ctx: ItemCtx, pos: SourcePos, guard: string | undefined): Item | undefined {
    const base = this.inheritable(raw, at, ctx.src);
    const tags = [...ctx.tags, ...toStrList(raw['tags'])];
    if (kind === 'import_tasks') {
      const f = String(args['file'] ?? args['_raw_params'] ?? '');
      const target = this.resolveTaskFile(f, ctx);
      if (!target) {
        this.sink.add(new RunbookError('missing_file', `tasks file not found: ${f}`, { pos }));
        return undefined;
      }
      const block = this.itemsFromFile(target, { guard, tags, collections: ctx.collections, dynamic: ctx.dynamic, roleDir: ctx.roleDir });
      return { ...base, kind: 'block', name: `import ${f}`, block, rescue: [], always: [], pos, file: ctx.file };
    }
    const name = String(args['name']);
    const def = this.loadRole(name, ctx.dir, pos, { guard, tags, collections: ctx.collections });
    if (!def) return undefined;
    const inst = this.instantiateRole(def, isMap(raw['vars']) ? raw['vars'] : {}, {}, at, ctx.src, undefined, pos);
    return { ...inst.block, ...base, kind: 'block', block: inst.block.block, rescue: [], always: [], pos, file: ctx.file, role: inst.block.role };
  }

  /**
   * A template/copy `src` that is not templated must exist on the controller: in the role's templates/ or files/
   * (or the role itself), beside the tasks file, or in the playbook's directory (and its templates/ or files/).
   * Generous on purpose: an error only when no place the executor could look has it (deferred when the task may
   * not run).
   */
  private checkSrc(module: 'template' | 'copy', args: Record<string, unknown>, pos: SourcePos, ctx: ItemCtx, problem: (code: RunbookError['code'], message: string, at: SourcePos) => void): void {
    const s = String(args['src']);
    if (s.includes('{{') || s.includes('{%') || s === '') return;
    const remote = args['remote_src'];
    if (remote !== undefined && remote !== false && !(typeof remote === 'string' && !truthy(remote))) return;
    const kind = module === 'template' ? 'templates' : 'files';
    const bases = [path.resolve(ctx.dir, '..'), ctx.dir, ...(this.playbookDir ? [this.playbookDir] : [])];
    const cands = path.isAbsolute(s) ? [s] : bases.flatMap((b) => [path.join(b, kind, s), path.join(b, s)]);
    if (cands.some((c) => fs.existsSync(c))) return;
    problem('missing_file', `${module} source not found: ${s} (looked in ${[...new Set(bases.map((b) => path.join(b, kind)))].join(', ')} and beside them)`, pos);
  }

  /** Beside the including file, the role's tasks/, and (as Ansible searches) the playbook's directory. */
  private resolveTaskFile(f: string, ctx: ItemCtx): string | undefined {
    const cands = [path.resolve(ctx.dir, f), path.resolve(ctx.dir, '..', 'tasks', f), path.resolve(ctx.dir, 'tasks', f)];
    if (ctx.roleDir) cands.push(path.resolve(ctx.roleDir, 'tasks', f));
    if (this.playbookDir) cands.push(path.resolve(this.playbookDir, f), path.resolve(this.playbookDir, 'tasks', f));
    return cands.find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
  }

  private parseKv(text: string, freeForm: string | undefined, pos: SourcePos, problem: (code: RunbookError['code'], message: string, at: SourcePos) => void): Record<string, unknown> {
    let words: string[];
    try {
      words = splitArgs(text);
    } catch (e) {
      problem('bad_argument', `cannot parse arguments: ${(e as Error).message}`, pos);
      return {};
    }
    const out: Record<string, unknown> = {};
    const free: string[] = [];
    // free-form modules keep the text as written (minus k=v words for their known options)
    for (const w of words) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(w);
      if (m && (!freeForm || ['creates', 'removes', 'chdir', 'executable', 'warn', 'stdin', 'file', 'apply'].includes(m[1]!))) out[m[1]!] = m[2];
      else free.push(w);
    }
    if (freeForm) {
      if (free.length) {
        // keep original spacing/quoting of the free text: strip the k=v words from the raw text
        let raw = text;
        for (const [k, v] of Object.entries(out)) raw = raw.replace(new RegExp(`(^|\\s)${k}=\\S*`), ' ').replace(`${k}=${String(v)}`, '');
        out[freeForm] = raw.trim();
      }
    } else if (free.length) {
      problem('bad_argument', `expected k=v arguments, got "${free.join(' ')}"`, pos);
    }
    return out;
  }

  private inheritable(raw: Record<string, unknown>, at: Path, src: Src): Inheritable {
    const when = raw['when'] === undefined ? [] : Array.isArray(raw['when']) ? raw['when'] : [raw['when']];
    const vars = raw['vars'];
    if (vars !== undefined && vars !== null && !isMap(vars)) {
      this.sink.add(new RunbookError('schema', '"vars" must be a mapping', { pos: src.pos([...at, 'vars']) }));
    }
    for (const [i, w] of when.entries()) {
      if (isMap(w)) this.sink.add(new RunbookError('schema', 'a "when" condition must be an expression (did an unquoted {{ }} become a mapping?)', { pos: src.pos([...at, 'when', ...(Array.isArray(raw['when']) ? [i] : [])]) }));
    }
    return {
      become: raw['become'],
      becomeUser: raw['become_user'],
      becomeMethod: raw['become_method'],
      checkMode: raw['check_mode'],
      environment: raw['environment'],
      ignoreErrors: raw['ignore_errors'],
      noLog: raw['no_log'],
      delegateTo: raw['delegate_to'],
      runOnce: raw['run_once'],
      when,
      tags: toStrList(raw['tags']),
      vars: isMap(vars) ? vars : {},
    };
  }

  private stringList(v: unknown, at: Path, src: Src): string[] {
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    const out: string[] = [];
    list.forEach((x, i) => {
      if (typeof x === 'string') out.push(x);
      else this.sink.add(new RunbookError('schema', 'expected a file name', { pos: src.pos([...at, i]) }));
    });
    return out;
  }
}

interface ItemCtx {
  file: string;
  dir: string;
  src: Src;
  /** why these items might not run (an enclosing when, a rescue, a handler, tags); undefined when certain */
  guard?: string;
  /** a dynamic include's file: Ansible loads it only when the include is reached */
  dynamic?: boolean;
  /** tags accumulated from the play, blocks, role entries and imports above */
  tags: string[];
  /** the play's/role's `collections:` (short module and role names are looked up in them) */
  collections: string[];
  /** the role these items belong to (its library/ may hold modules) */
  roleDir?: string;
}

const OLD_INCLUDE = new Set(['include', 'ansible.builtin.include', 'ansible.legacy.include']);

/**
 * Split k=v / free-form text into words as Ansible's split_args does: on whitespace outside quotes and outside
 * Jinja2 blocks ({{ }}, {% %}, {# #}), so `name={{ a | default('x y') }} state=started` is two words. Quotes
 * around a whole value are removed (k="a b" -> k=a b); an unclosed quote or block is an error.
 */
export function splitArgs(text: string): string[] {
  const words: string[] = [];
  let cur = '';
  let has = false;
  let quote: string | undefined;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const two = text.slice(i, i + 2);
    if (!quote && (two === '{{' || two === '{%' || two === '{#')) {
      depth++;
      cur += two;
      has = true;
      i++;
      continue;
    }
    if (!quote && depth > 0 && (two === '}}' || two === '%}' || two === '#}')) {
      depth--;
      cur += two;
      i++;
      continue;
    }
    if (quote) {
      if (c === '\\' && quote === '"' && i + 1 < text.length) {
        cur += text[++i];
        continue;
      }
      if (c === quote) {
        quote = undefined;
        if (depth > 0) cur += c;
        continue;
      }
      cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      has = true;
      if (depth > 0) cur += c;
      continue;
    }
    if (/\s/.test(c) && depth === 0) {
      if (has) words.push(cur);
      cur = '';
      has = false;
      continue;
    }
    cur += c;
    has = true;
  }
  if (quote) throw new Error(`no closing quotation (${quote})`);
  if (depth > 0) throw new Error('unclosed Jinja2 block ({{, {% or {# without its end)');
  if (has) words.push(cur);
  return words;
}

function withRole(item: Item, role: RoleScope): Item {
  if (item.kind === 'task') return { ...item, role: item.role ?? role };
  return { ...item, role: item.role ?? role, block: item.block.map((i) => withRole(i, role)), rescue: item.rescue.map((i) => withRole(i, role)), always: item.always.map((i) => withRole(i, role)) };
}

function flattenHandlers(items: Item[]): TaskNode[] {
  const out: TaskNode[] = [];
  for (const i of items) {
    if (i.kind === 'task') out.push(i);
    else out.push(...flattenHandlers(i.block));
  }
  return out;
}

/** A task's loop as written: `loop:` as is, `with_items:` (flattened one level) and `with_dict:` unwrapped. */
export function loopSource(loop: unknown): { raw: unknown; mode: 'loop' | 'items' | 'dict' } {
  if (isMap(loop) && '__with_items__' in loop) return { raw: loop['__with_items__'], mode: 'items' };
  if (isMap(loop) && '__with_dict__' in loop) return { raw: loop['__with_dict__'], mode: 'dict' };
  return { raw: loop, mode: 'loop' };
}

export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

function toStrList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string') return v.includes(',') ? v.split(',').map((s) => s.trim()).filter(Boolean) : [v];
  return [String(v)];
}

export function truthy(v: unknown): boolean {
  if (typeof v === 'string') return ansibleBoolean(v) ?? false;
  return Boolean(v);
}

export function loadPlaybookFile(file: string, opts: LoadOptions = {}): { playbook: Playbook; loader: PlaybookLoader } {
  const loader = new PlaybookLoader(opts);
  if (!fs.existsSync(file)) throw new ConfigErrors([new RunbookError('missing_file', `playbook not found: ${file}`)]);
  const playbook = loader.loadPlaybook(file);
  return { playbook, loader };
}
