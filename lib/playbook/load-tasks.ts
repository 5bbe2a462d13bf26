/**
 * Tasks files -> task and block nodes: keywords, the module and its arguments (validated against its schema),
 * loops (load-loops.ts), import_tasks inlined and include_tasks with a literal name pre-loaded, each problem an
 * error where the task is certain to run and a deferred warning where it may not (docs/adr/0012). Cycles of
 * imports or includes and absurd nesting are plain errors naming the files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunbookError, type SourcePos } from '../errors.js';
import { resolveAction, allNames } from '../modules/registry.js';
import { validateArgs } from './validate.js';
import { TASK_KEYWORDS, BLOCK_KEYWORDS, closest } from './keywords.js';
import type { BlockNode, Item, Play, TaskNode } from './model.js';
import { ansibleHasOption, ansibleModule } from './ansible-names.js';
import { LoaderBase } from './load-base.js';
import { parseLoop, isLoopKey } from './load-loops.js';
import {
  HANDLER, MAX_NESTING, OLD_INCLUDE, cycleText, isMap, parseKv, splitArgs, toStrList, truthy, whenReason,
  type ItemCtx, type Path, type RoleCtx, type RoleDef, type Src,
} from './load-util.js';

export abstract class TaskLoader extends LoaderBase {
  /** handlers of roles imported by import_role in the play being loaded: Ansible adds them to the play */
  protected importedHandlers: TaskNode[] = [];
  abstract loadRole(name: string, fromDir: string, pos: SourcePos, use?: RoleCtx): RoleDef | undefined;
  abstract instantiateRole(def: RoleDef, params: Record<string, unknown>, kw: Record<string, unknown>, at: Path, src: Src, play: Play | undefined, pos: SourcePos, depth?: number): { block: BlockNode; handlers: TaskNode[] };

  /**
   * The tasks of a file. `inherit`: how certain it is that they run (a guard), accumulated tags and collections,
   * whether the file is a dynamic include's (Ansible loads those only when reached), the role it belongs to.
   * Without it (a dynamic include loaded when reached, at run time) the tasks are as certain as their own keywords.
   */
  itemsFromFile(file: string, inherit: Partial<Omit<ItemCtx, 'file' | 'dir' | 'src'>> = {}): Item[] {
    const y = this.readYaml(file, inherit.chain?.at(-1)?.pos);
    if (!y) return [];
    const src: Src = { file, pos: (p) => y.pos(p), keyPos: (p) => y.keyPos(p) };
    const roleDir = inherit.roleDir ?? /^(.*[\\/]roles[\\/][^\\/]+)[\\/](tasks|handlers)[\\/]/.exec(file)?.[1];
    return this.items(y.value, [], { tags: [], collections: [], ...inherit, roleDir, file, dir: path.dirname(file), src });
  }

  protected items(raw: unknown, at: Path, ctx: ItemCtx): Item[] {
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

  protected item(raw: unknown, at: Path, ctx: ItemCtx): Item | Item[] | undefined {
    const src = ctx.src;
    if (!isMap(raw)) {
      this.sink.add(new RunbookError('schema', 'a task must be a mapping', { pos: src.pos(at) }));
      return undefined;
    }
    if ('block' in raw) {
      const depth = (ctx.depth ?? 0) + 1;
      if (depth > MAX_NESTING) {
        this.sink.add(new RunbookError('schema', `blocks nested more than ${MAX_NESTING} levels deep in ${ctx.file}: runbook stops here rather than recurse without end`, { pos: src.pos(at) }));
        return undefined;
      }
      for (const k of Object.keys(raw)) {
        if (!BLOCK_KEYWORDS.has(k)) {
          const hint = closest(k, BLOCK_KEYWORDS);
          this.sink.add(new RunbookError('schema', `unknown block keyword "${k}"${hint ? ` (did you mean "${hint}"?)` : ''}`, { pos: src.pos([...at, k]) }));
        }
      }
      const inner: ItemCtx = {
        ...ctx,
        depth,
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

  protected task(raw: Record<string, unknown>, at: Path, ctx: ItemCtx): Item | Item[] | undefined {
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
    const candidates = Object.keys(raw).filter((k) => !TASK_KEYWORDS.has(k) && !isLoopKey(k));
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
      const names = candidates;
      const known = names.filter((k) => resolveAction(k) || OLD_INCLUDE.has(k));
      if (known.length > 1) {
        this.sink.add(new RunbookError('schema', `task has more than one module: ${known.join(', ')}`, { pos }));
        return undefined;
      }
      actionKey = known[0] ?? names.find((k) => ansibleModule(k, ctx.collections)) ?? names[0] ?? candidates[0]!;
      for (const k of candidates) {
        if (k === actionKey) continue;
        const kpos = src.keyPos?.([...at, k]) ?? src.pos([...at, k]);
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
      const looped = Object.keys(raw).some(isLoopKey);
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
      args = def ? parseKv(argsRaw, def.freeForm, src.pos([...at, actionKey]), problem) : { _raw_params: argsRaw };
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
    // loop / with_<lookup>: a lookup runbook lacks is an error where the task is certain to run, else deferred
    const lp = parseLoop(raw, (k) => src.keyPos?.([...at, k]) ?? src.pos([...at, k]));
    if (lp.error) this.sink.add(new RunbookError('schema', lp.error.message, { pos: lp.error.pos }));
    if (lp.problem) {
      if (guard) defer(lp.problem.code, lp.problem.message, lp.problem.pos);
      else this.sink.add(new RunbookError(lp.problem.code, lp.problem.message, { pos: lp.problem.pos }));
    }
    const loop = lp.loop;
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
      loopPause: loopCtl['pause'],
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
        const chain = [...(ctx.chain ?? []), { file: ctx.file, pos }];
        if (!target) problem('missing_file', `tasks file not found: ${f}`, src.pos([...at, actionKey]));
        else if (chain.some((c) => c.file === target)) {
          // a recursive include ends by a condition at run time (Ansible allows it); with none it never ends
          if (!guard && !task.when.length && !loop) this.sink.add(new RunbookError('config', `include cycle: ${cycleText(chain, target)} (nothing stops it: no when on the way)`, { pos }));
        } else {
          // loaded now so its errors are found before any host is contacted; run when reached
          task.include = { file: target, tasks: this.itemsFromFile(target, { guard, dynamic: true, tags: ownTags, collections: ctx.collections, roleDir: ctx.roleDir, chain, depth: (ctx.depth ?? 0) + 1 }) };
        }
      }
    }
    if (deferred) task.deferred = deferred;
    return task;
  }

  protected importStatic(kind: string, args: Record<string, unknown>, raw: Record<string, unknown>, at: Path, ctx: ItemCtx, pos: SourcePos, guard: string | undefined): Item | undefined {
    const base = this.inheritable(raw, at, ctx.src);
    const tags = [...ctx.tags, ...toStrList(raw['tags'])];
    if (kind === 'import_tasks') {
      const f = String(args['file'] ?? args['_raw_params'] ?? '');
      const target = this.resolveTaskFile(f, ctx);
      if (!target) {
        this.sink.add(new RunbookError('missing_file', `tasks file not found: ${f}`, { pos }));
        return undefined;
      }
      // an import is inlined at load: a cycle of imports would never end, whatever its conditions
      const chain = [...(ctx.chain ?? []), { file: ctx.file, pos }];
      if (chain.some((c) => c.file === target)) {
        this.sink.add(new RunbookError('config', `import cycle: ${cycleText(chain, target)}`, { pos }));
        return undefined;
      }
      const block = this.itemsFromFile(target, { guard, tags, collections: ctx.collections, dynamic: ctx.dynamic, roleDir: ctx.roleDir, chain, depth: (ctx.depth ?? 0) + 1 });
      return { ...base, kind: 'block', name: `import ${f}`, block, rescue: [], always: [], pos, file: ctx.file };
    }
    const name = String(args['name']);
    const def = this.loadRole(name, ctx.dir, pos, { guard, tags, collections: ctx.collections });
    if (!def) return undefined;
    const inst = this.instantiateRole(def, isMap(raw['vars']) ? raw['vars'] : {}, {}, at, ctx.src, undefined, pos);
    this.importedHandlers.push(...inst.handlers);
    return { ...inst.block, ...base, kind: 'block', block: inst.block.block, rescue: [], always: [], pos, file: ctx.file, role: inst.block.role };
  }

  /**
   * A template/copy `src` that is not templated must exist on the controller: in the role's templates/ or files/
   * (or the role itself), beside the tasks file, or in the playbook's directory (and its templates/ or files/).
   * Generous on purpose: an error only when no place the executor could look has it (deferred when the task may
   * not run).
   */
  protected checkSrc(module: 'template' | 'copy', args: Record<string, unknown>, pos: SourcePos, ctx: ItemCtx, problem: (code: RunbookError['code'], message: string, at: SourcePos) => void): void {
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
  protected resolveTaskFile(f: string, ctx: ItemCtx): string | undefined {
    const cands = [path.resolve(ctx.dir, f), path.resolve(ctx.dir, '..', 'tasks', f), path.resolve(ctx.dir, 'tasks', f)];
    if (ctx.roleDir) cands.push(path.resolve(ctx.roleDir, 'tasks', f));
    if (this.playbookDir) cands.push(path.resolve(this.playbookDir, f), path.resolve(this.playbookDir, 'tasks', f));
    return cands.find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
  }
}
