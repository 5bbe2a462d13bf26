/**
 * YAML -> validated, source-located model of plays, roles, tasks and handlers. Collects every configuration error
 * it can find (ErrorSink) instead of stopping at the first; nothing here contacts a host or renders a template.
 *
 * The loader by job: load-util.ts (types, k=v splitting), load-base.ts (errors, warnings, keywords every level
 * inherits), load-tasks.ts (tasks, blocks, imports, includes), load-loops.ts (loop and with_<lookup>),
 * load-roles.ts (roles), and here the playbook and its plays.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunbookError, ConfigErrors, type SourcePos } from '../errors.js';
import { PLAY_KEYWORDS, closest } from './keywords.js';
import type { Item, Play, Playbook, TaskNode } from './model.js';
import { RoleLoader } from './load-roles.js';
import { HANDLER, cycleText, flattenHandlers, isMap, toStrList, truthy, type ItemCtx, type LoadOptions, type Path, type Src } from './load-util.js';

export { isMap, truthy, splitArgs } from './load-util.js';
export type { LoadOptions, RoleDef, RoleCtx } from './load-util.js';

export class PlaybookLoader extends RoleLoader {
  loadPlaybook(file: string): Playbook {
    const abs = path.resolve(file);
    this.playbookDir ??= path.dirname(abs);
    const plays: Play[] = [];
    this.loadPlaybookInto(abs, plays, []);
    this.sink.throwIfAny();
    return { file: abs, dir: path.dirname(abs), plays };
  }

  /** `chain`: the playbooks above this one, each with the line that imports the next (cycle messages). */
  protected loadPlaybookInto(abs: string, plays: Play[], chain: { file: string; pos: SourcePos }[]): void {
    if (chain.some((c) => c.file === abs)) {
      const at = chain[chain.length - 1]!.pos;
      const what = chain[chain.length - 1]!.file === abs ? `${abs} imports itself (${cycleText(chain, abs)})` : cycleText(chain, abs);
      this.sink.add(new RunbookError('config', `import_playbook recursion: ${what}`, { pos: at }));
      return;
    }
    const y = this.readYaml(abs, chain.at(-1)?.pos);
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
        this.loadPlaybookInto(target, plays, [...chain, { file: abs, pos: src.pos([i]) }]);
        const extraVars = isMap(raw['vars']) ? raw['vars'] : {};
        for (const p of plays.slice(before)) p.vars = { ...p.vars, ...extraVars };
        return;
      }
      const play = this.loadPlay(raw, [i], src);
      if (play) plays.push(play);
    });
  }

  protected loadPlay(raw: Record<string, unknown>, at: Path, src: Src): Play | undefined {
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
    this.importedHandlers = [];
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
    play.handlers = [...roleHandlers, ...this.importedHandlers, ...flattenHandlers(handlers)];
    this.importedHandlers = [];
    return play;
  }
}

export function loadPlaybookFile(file: string, opts: LoadOptions = {}): { playbook: Playbook; loader: PlaybookLoader } {
  const loader = new PlaybookLoader(opts);
  if (!fs.existsSync(file)) throw new ConfigErrors([new RunbookError('missing_file', `playbook not found: ${file}`)]);
  const playbook = loader.loadPlaybook(file);
  return { playbook, loader };
}
