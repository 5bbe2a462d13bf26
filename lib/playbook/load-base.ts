/**
 * The loader's shared state: where errors and warnings go, the options of the run, and what every part needs
 * (inherited keywords, tag certainty, local modules, YAML reading with a plain message for absurd nesting).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigErrors, RunbookError, ErrorSink, type SourcePos } from '../errors.js';
import { loadYamlFile, type YamlFile } from '../yaml-load.js';
import type { Inheritable, Play, RoleScope } from './model.js';
import type { ArgumentSpec } from './argument-specs.js';
import { collectionsPath, findCollection } from './ansible-names.js';
import { isMap, toStrList, type ItemCtx, type LoadOptions, type Path, type RoleDef, type Src } from './load-util.js';

export abstract class LoaderBase {
  readonly sink = new ErrorSink();
  /**
   * Problems that are certain only if a task runs (docs/adr/0012): each one line with file:line, the task carries
   * them as `deferred` and fails with them when it is reached on a host.
   */
  readonly warnings: RunbookError[] = [];
  protected warned = new Set<string>();
  protected roleCache = new Map<string, RoleDef | null>();
  /** every role instance placed in a play, with its params, for argument_specs validation */
  readonly roleUses: { play: Play; role: RoleScope; specs?: ArgumentSpec; pos: SourcePos }[] = [];

  /** the directory of the playbook being loaded: template/copy sources are looked up there too */
  protected playbookDir?: string;

  constructor(protected readonly opts: LoadOptions = {}) {}
  warn(e: RunbookError): void {
    const k = e.format();
    if (this.warned.has(k)) return;
    this.warned.add(k);
    this.warnings.push(e);
  }

  /** Why a task with these (accumulated) tags does not run with this run's --tags/--skip-tags, or undefined. */
  protected tagReason(tags: string[]): string | undefined {
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

  protected collectionSearch(): string[] {
    return [...(this.playbookDir ? [path.join(this.playbookDir, 'collections')] : []), ...(this.opts.collectionsPath ?? collectionsPath())];
  }

  /** A module Ansible would find beside the code: a role's or the playbook's library/, or a collection's plugins/modules/. */
  protected localModule(name: string, ctx: ItemCtx): string | undefined {
    const dirs = [...(ctx.roleDir ? [path.join(ctx.roleDir, 'library')] : []), ...(this.playbookDir ? [path.join(this.playbookDir, 'library')] : [])];
    for (const d of dirs) for (const ext of ['.py', '', '.sh', '.ps1']) if (fs.existsSync(path.join(d, name + ext))) return `${path.join(d, name + ext)}`;
    const parts = name.split('.');
    if (parts.length === 3) {
      const c = findCollection(`${parts[0]}.${parts[1]}`, this.collectionSearch());
      if (c && fs.existsSync(path.join(c, 'plugins', 'modules', `${parts[2]}.py`))) return name;
    }
    return undefined;
  }

  /**
   * A YAML file, or undefined with its errors in the sink. Nesting deep enough to exhaust the parser's stack
   * (thousands of levels) is one plain error naming the file, never "Maximum call stack size exceeded".
   */
  protected readYaml(file: string, from?: SourcePos): YamlFile | undefined {
    const plain = `${file} is nested too deeply to read (thousands of levels of lists, mappings or blocks); no playbook, tasks or vars file needs that`;
    try {
      return loadYamlFile(file);
    } catch (e) {
      if (e instanceof RangeError) {
        this.sink.add(new RunbookError('schema', plain, { pos: from ?? { file, line: 1, col: 1 } }));
        return undefined;
      }
      const errs = e instanceof ConfigErrors ? e.errors : e instanceof RunbookError ? [e] : undefined;
      if (!errs) throw e;
      // the YAML parser reports its own stack overflow as an error at the deepest point: said plainly here
      for (const x of errs) this.sink.add(/call stack/i.test(x.message) ? new RunbookError('schema', plain, { pos: x.pos ?? from }) : x);
      return undefined;
    }
  }

  protected inheritable(raw: Record<string, unknown>, at: Path, src: Src): Inheritable {
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

  protected stringList(v: unknown, at: Path, src: Src): string[] {
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
