/**
 * Roles: found (roles/ beside the playbook, roles_path, collections), loaded once (defaults, vars, tasks,
 * handlers, meta: dependencies and argument_specs) and placed in a play as a block with the role's scope.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunbookError, type SourcePos } from '../errors.js';
import { ROLE_ENTRY_KEYWORDS } from './keywords.js';
import type { BlockNode, Item, Play, RoleScope, TaskNode } from './model.js';
import { loadArgumentSpecs } from './argument-specs.js';
import { findCollection } from './ansible-names.js';
import { TaskLoader } from './load-tasks.js';
import { HANDLER, flattenHandlers, isMap, toStrList, whenReason, withRole, type ItemCtx, type Path, type RoleCtx, type RoleDef, type Src } from './load-util.js';

export abstract class RoleLoader extends TaskLoader {
  /** A `roles:` entry: a name, or a mapping with role/name plus params and keywords. */
  protected roleEntry(entry: unknown, at: Path, src: Src, play: Play, ctx: ItemCtx): { block: BlockNode; handlers: TaskNode[] } | undefined {
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
      const y = this.readYaml(f);
      if (!y || y.value == null) return {};
      if (!isMap(y.value)) {
        this.sink.add(new RunbookError('schema', `${sub}/main.yml must be a mapping of variables`, { pos: y.pos([]) }));
        return {};
      }
      return y.value;
    };
    const mf = main('meta');
    const meta = mf ? this.readYaml(mf) : undefined;
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
      const y = this.readYaml(sf);
      if (y && isMap(y.value)) def.specs = this.sink.guard(() => loadArgumentSpecs(sf, y.value as Record<string, unknown>, y.pos)) ?? undefined;
    }
    if (!def.description && def.specs?.shortDescription) def.description = def.specs.shortDescription;
    this.roleCache.set(rp, def);
    return def;
  }
}
