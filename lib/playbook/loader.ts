/**
 * YAML -> validated, source-located model of plays, roles, tasks and handlers. Collects every configuration error
 * it can find (ErrorSink) instead of stopping at the first; nothing here contacts a host or renders a template.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { split as shlexSplit } from 'shlex';
import { RunbookError, ErrorSink, ConfigErrors, type SourcePos } from '../errors.js';
import { loadYamlFile } from '../yaml-load.js';
import { resolveAction } from '../modules/registry.js';
import { validateArgs } from './validate.js';
import { TASK_KEYWORDS, BLOCK_KEYWORDS, PLAY_KEYWORDS, ROLE_ENTRY_KEYWORDS, closest } from './keywords.js';
import { allNames } from '../modules/registry.js';
import { unsupportedModule } from '../modules/unsupported.js';
import type { BlockNode, Inheritable, Item, Play, Playbook, RoleScope, TaskNode } from './model.js';
import { loadArgumentSpecs, type ArgumentSpec } from './argument-specs.js';

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
}

export class PlaybookLoader {
  readonly sink = new ErrorSink();
  private roleCache = new Map<string, RoleDef | null>();
  /** every role instance placed in a play, with its params, for argument_specs validation */
  readonly roleUses: { play: Play; role: RoleScope; specs?: ArgumentSpec; pos: SourcePos }[] = [];

  /** the directory of the playbook being loaded: template/copy sources are looked up there too */
  private playbookDir?: string;

  constructor(private readonly opts: LoadOptions = {}) {}

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
      const imp = raw['import_playbook'] ?? raw['ansible.builtin.import_playbook'];
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
    const ctx: ItemCtx = { file: src.file, dir, src };
    const pre = this.items(raw['pre_tasks'], [...at, 'pre_tasks'], ctx);
    const roleItems: Item[] = [];
    const roleHandlers: TaskNode[] = [];
    if (raw['roles'] !== undefined) {
      if (!Array.isArray(raw['roles'])) {
        this.sink.add(new RunbookError('schema', '"roles" must be a list', { pos: src.pos([...at, 'roles']) }));
      } else {
        raw['roles'].forEach((entry, j) => {
          const r = this.roleEntry(entry, [...at, 'roles', j], src, play);
          if (r) {
            roleItems.push(r.block);
            roleHandlers.push(...r.handlers);
          }
        });
      }
    }
    const tasks = this.items(raw['tasks'], [...at, 'tasks'], ctx);
    const post = this.items(raw['post_tasks'], [...at, 'post_tasks'], ctx);
    const handlers = this.items(raw['handlers'], [...at, 'handlers'], ctx);
    play.sections = [pre, [...roleItems, ...tasks], post];
    play.handlers = [...roleHandlers, ...flattenHandlers(handlers)];
    return play;
  }

  /** A `roles:` entry: a name, or a mapping with role/name plus params and keywords. */
  private roleEntry(entry: unknown, at: Path, src: Src, play: Play): { block: BlockNode; handlers: TaskNode[] } | undefined {
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
    const def = this.loadRole(name, path.dirname(src.file), pos);
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
        const d = this.loadRole(dep.name, def.path, pos);
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

  findRole(name: string, fromDir: string): string | undefined {
    if (name.includes('/') && fs.existsSync(path.resolve(fromDir, name))) return path.resolve(fromDir, name);
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

  loadRole(name: string, fromDir: string, pos: SourcePos): RoleDef | undefined {
    const rp = this.findRole(name, fromDir);
    if (!rp) {
      this.sink.add(new RunbookError('missing_role', `role "${name}" not found (looked in roles/ beside the playbook, ../roles, roles_path and ./roles)`, { pos }));
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
    const def: RoleDef = {
      name: path.basename(rp),
      path: rp,
      defaults: varsOf('defaults'),
      vars: varsOf('vars'),
      tasks: [],
      handlers: [],
      dependencies: [],
    };
    const tf = main('tasks');
    if (tf) def.tasks = this.itemsFromFile(tf);
    const hf = main('handlers');
    if (hf) def.handlers = flattenHandlers(this.itemsFromFile(hf));
    const mf = main('meta');
    if (mf) {
      const y = this.sink.guard(() => loadYamlFile(mf));
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

  itemsFromFile(file: string): Item[] {
    const y = this.sink.guard(() => loadYamlFile(file));
    if (!y) return [];
    const src: Src = { file, pos: (p) => y.pos(p), keyPos: (p) => y.keyPos(p) };
    return this.items(y.value, [], { file, dir: path.dirname(file), src });
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
      const b: BlockNode = {
        ...this.inheritable(raw, at, src),
        kind: 'block',
        name: raw['name'] !== undefined ? String(raw['name']) : undefined,
        block: this.items(raw['block'], [...at, 'block'], ctx),
        rescue: this.items(raw['rescue'], [...at, 'rescue'], ctx),
        always: this.items(raw['always'], [...at, 'always'], ctx),
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
      const known = candidates.filter((k) => resolveAction(k));
      if (known.length > 1) {
        this.sink.add(new RunbookError('schema', `task has more than one module: ${known.join(', ')}`, { pos }));
        return undefined;
      }
      actionKey = known[0] ?? candidates[0]!;
      for (const k of candidates) {
        if (k === actionKey) continue;
        const hint = closest(k, TASK_KEYWORDS);
        this.sink.add(new RunbookError('schema', `unknown task keyword "${k}"${hint ? ` (did you mean "${hint}"?)` : ''}`, { pos: src.keyPos?.([...at, k]) ?? src.pos([...at, k]) }));
      }
      argsRaw = raw[actionKey];
    }
    const resolved = resolveAction(actionKey);
    if (!resolved) {
      const unsupported = unsupportedModule(actionKey);
      if (unsupported) {
        this.sink.add(new RunbookError('unknown_module', `module "${actionKey}" is not supported (yet) by runbook${unsupported !== actionKey ? ` (${unsupported})` : ''}`, { pos: src.keyPos?.([...at, actionKey]) ?? src.pos([...at, actionKey]) }));
        return undefined;
      }
      const hint = closest(actionKey, allNames());
      this.sink.add(new RunbookError('unknown_module', `unknown module "${actionKey}"${hint ? ` (did you mean "${hint}"?)` : ''}`, { pos: src.keyPos?.([...at, actionKey]) ?? src.pos([...at, actionKey]) }));
      return undefined;
    }
    const def = resolved.def;
    // arguments: a mapping, a k=v string, or free-form text
    let args: Record<string, unknown> = {};
    if (typeof argsRaw === 'string') {
      args = this.parseKv(argsRaw, def.freeForm, src.pos([...at, actionKey]));
    } else if (isMap(argsRaw)) {
      args = { ...argsRaw };
    } else if (argsRaw !== null && argsRaw !== undefined) {
      this.sink.add(new RunbookError('bad_argument', `arguments of ${actionKey} must be a mapping or k=v text`, { pos: src.pos([...at, actionKey]) }));
      return undefined;
    }
    if (isMap(raw['args'])) args = { ...raw['args'], ...args };
    if (args['cmd'] !== undefined && def.freeForm === '_raw_params' && (def.name === 'command' || def.name === 'shell')) {
      // both spellings are accepted by the modules themselves
    }
    const canonical = def.name;

    // import_tasks: inline at load time (static, like Ansible)
    if (canonical === 'import_tasks' || canonical === 'import_role') {
      return this.importStatic(canonical, args, raw, at, ctx, pos);
    }

    // validate arguments against the schema, skipping templated values
    const argErrors = validateArgs(def.schema, args, canonical);
    for (const e of argErrors) {
      const p = e.path.length ? src.pos([...at, actionKey, ...e.path]) : src.pos([...at, actionKey]);
      this.sink.add(new RunbookError(e.code, e.message, { pos: p }));
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
    if (raw['local_action'] !== undefined) task.delegateTo = 'localhost';
    if (task.register !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(task.register)) {
      this.sink.add(new RunbookError('schema', `register name "${task.register}" is not a valid variable name`, { pos: src.pos([...at, 'register']) }));
    }
    if ((canonical === 'template' || canonical === 'copy') && typeof args['src'] === 'string') this.checkSrc(canonical, args, src.pos([...at, actionKey, 'src']), ctx);
    if (canonical === 'include_tasks') {
      const f = String(args['file'] ?? args['_raw_params'] ?? '');
      if (!f.includes('{{')) {
        const target = this.resolveTaskFile(f, ctx);
        if (!target) this.sink.add(new RunbookError('missing_file', `tasks file not found: ${f}`, { pos: src.pos([...at, actionKey]) }));
        else {
          // loaded now so its errors are found before any host is contacted; run when reached
          task.args = { ...args, __items__: this.itemsFromFile(target), __file__: target };
        }
      }
    }
    return task;
  }

  private importStatic(kind: string, args: Record<string, unknown>, raw: Record<string, unknown>, at: Path, ctx: ItemCtx, pos: SourcePos): Item | undefined {
    const base = this.inheritable(raw, at, ctx.src);
    if (kind === 'import_tasks') {
      const f = String(args['file'] ?? args['_raw_params'] ?? '');
      const target = this.resolveTaskFile(f, ctx);
      if (!target) {
        this.sink.add(new RunbookError('missing_file', `tasks file not found: ${f}`, { pos }));
        return undefined;
      }
      return { ...base, kind: 'block', name: `import ${f}`, block: this.itemsFromFile(target), rescue: [], always: [], pos, file: ctx.file };
    }
    const name = String(args['name']);
    const def = this.loadRole(name, ctx.dir, pos);
    if (!def) return undefined;
    const inst = this.instantiateRole(def, isMap(raw['vars']) ? raw['vars'] : {}, {}, at, ctx.src, undefined, pos);
    return { ...inst.block, ...base, kind: 'block', block: inst.block.block, rescue: [], always: [], pos, file: ctx.file, role: inst.block.role };
  }

  /**
   * A template/copy `src` that is not templated must exist on the controller: in the role's templates/ or files/
   * (or the role itself), beside the tasks file, or in the playbook's directory (and its templates/ or files/).
   * Generous on purpose: an error only when no place the executor could look has it.
   */
  private checkSrc(module: 'template' | 'copy', args: Record<string, unknown>, pos: SourcePos, ctx: ItemCtx): void {
    const s = String(args['src']);
    if (s.includes('{{') || s.includes('{%') || s === '') return;
    const remote = args['remote_src'];
    if (remote !== undefined && remote !== false && !(typeof remote === 'string' && !truthy(remote))) return;
    const kind = module === 'template' ? 'templates' : 'files';
    const bases = [path.resolve(ctx.dir, '..'), ctx.dir, ...(this.playbookDir ? [this.playbookDir] : [])];
    const cands = path.isAbsolute(s) ? [s] : bases.flatMap((b) => [path.join(b, kind, s), path.join(b, s)]);
    if (cands.some((c) => fs.existsSync(c))) return;
    this.sink.add(new RunbookError('missing_file', `${module} source not found: ${s} (looked in ${[...new Set(bases.map((b) => path.join(b, kind)))].join(', ')} and beside them)`, { pos }));
  }

  private resolveTaskFile(f: string, ctx: ItemCtx): string | undefined {
    const cands = [path.resolve(ctx.dir, f), path.resolve(ctx.dir, '..', 'tasks', f), path.resolve(ctx.dir, 'tasks', f)];
    return cands.find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
  }

  private parseKv(text: string, freeForm: string | undefined, pos: SourcePos): Record<string, unknown> {
    let words: string[];
    try {
      words = shlexSplit(text);
    } catch (e) {
      this.sink.add(new RunbookError('bad_argument', `cannot parse arguments: ${(e as Error).message}`, { pos }));
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
      this.sink.add(new RunbookError('bad_argument', `expected k=v arguments, got "${free.join(' ')}"`, { pos }));
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
  if (typeof v === 'string') return ['yes', 'true', 'on', '1', 'y'].includes(v.toLowerCase());
  return Boolean(v);
}

export function loadPlaybookFile(file: string, opts: LoadOptions = {}): { playbook: Playbook; loader: PlaybookLoader } {
  const loader = new PlaybookLoader(opts);
  if (!fs.existsSync(file)) throw new ConfigErrors([new RunbookError('missing_file', `playbook not found: ${file}`)]);
  const playbook = loader.loadPlaybook(file);
  return { playbook, loader };
}
