/**
 * What `--syntax-check` adds to loading: every file a playbook reaches beyond its tasks, checked without any host.
 * Templates (each template task's src, and every file under the templates/ of the roles in use) are parsed by the
 * templar; vars files (vars_files, include_vars with a literal name) are loaded (and SOPS-decrypted). Every problem
 * is returned, so all are listed at once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigErrors, RunbookError } from '../errors.js';
import type { PlaybookLoader } from '../playbook/loader.js';
import type { Item, Playbook, TaskNode } from '../playbook/model.js';
import { createTemplar, TemplateError } from '../vars/template.js';
import { loadVarsYaml, setSopsShapeOnly } from '../vars/sops.js';
import { setVaultShapeOnly } from '../vars/vault.js';
import { judgedTemplates } from '../playbook/loadtime-check.js';

/**
 * --syntax-check needs no secrets: from here on SOPS files and `!vault` values are checked for shape and never
 * decrypted; their values are defined but unknown (opaque `{ __vault__ }` values the checks leave alone).
 */
export function setSecretsShapeOnly(on: boolean): void {
  setSopsShapeOnly(on);
  setVaultShapeOnly(on);
}

function walkFiles(dir: string, out: string[], depth = 0): void {
  if (depth > 10 || out.length > 5000) return;
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch {
    return;
  }
  for (const n of names) {
    const p = path.join(dir, n);
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) walkFiles(p, out, depth + 1);
    else if (st?.isFile()) out.push(p);
  }
}

export function syntaxCheckFiles(pb: Playbook | undefined, loader: PlaybookLoader): RunbookError[] {
  const errors: RunbookError[] = [];
  const templar = createTemplar();
  const templates = new Map<string, TaskNode | undefined>();
  const varsFiles = new Map<string, TaskNode | undefined>();
  const literal = (v: unknown): string | undefined => (typeof v === 'string' && !v.includes('{{') && !v.includes('{%') ? v : undefined);
  const visit = (items: Item[], depth = 0): void => {
    if (depth > 50) return;
    for (const i of items) {
      if (i.kind === 'block') {
        visit(i.block, depth + 1);
        visit(i.rescue, depth + 1);
        visit(i.always, depth + 1);
        continue;
      }
      if (i.include) visit(i.include.tasks, depth + 1);
      if (i.deferred) continue;
      // a task that may not run: what is missing for it is a warning (docs/adr/0012)
      const why = i.guard ?? (i.when.length ? 'its when may be false' : undefined);
      const problem = (e: RunbookError) => (why ? loader.warn(new RunbookError(e.code, `${e.message}; the task may not run (${why}) and fails if it does`, { pos: e.pos })) : errors.push(e));
      // a task of a role, also one an include_tasks of the role loaded (those carry no role): the role is the
      // directory above the tasks file
      const roleDir = i.role?.path ?? (path.basename(path.dirname(i.file)) === 'tasks' ? path.dirname(path.dirname(i.file)) : undefined);
      const src = literal(i.args['src']);
      if (i.action === 'template' && src) {
        const cands = [...(roleDir ? [path.join(roleDir, 'templates', src), path.join(roleDir, src)] : []), path.resolve(path.dirname(i.file), 'templates', src), path.resolve(path.dirname(i.file), src), path.resolve(pb!.dir, 'templates', src), path.resolve(pb!.dir, src)];
        const f = path.isAbsolute(src) ? src : cands.find((c) => fs.existsSync(c));
        // a source the loader could not find either is its error (or its warning) already
        if (f && fs.existsSync(f)) templates.set(f, i);
      }
      const vf = literal(i.args['file'] ?? i.args['_raw_params']);
      if (i.action === 'include_vars' && vf) {
        const cands = [path.resolve(path.dirname(i.file), vf), ...(roleDir ? [path.join(roleDir, 'vars', vf)] : []), path.resolve(pb!.dir, vf)];
        const f = cands.find((c) => fs.existsSync(c));
        if (!f) problem(new RunbookError('missing_file', `vars file not found: ${vf}`, { pos: i.pos }));
        else varsFiles.set(f, i);
      }
    }
  };
  // a playbook that failed to load still has its roles (loader.roleUses): their templates are checked below
  for (const play of pb?.plays ?? []) {
    for (const s of play.sections) visit(s);
    visit(play.handlers);
    for (const f of play.varsFiles) if (literal(f)) varsFiles.set(f, undefined);
  }
  for (const use of loader.roleUses) {
    const files: string[] = [];
    walkFiles(path.join(use.role.path, 'templates'), files);
    for (const f of files) if (!templates.has(f)) templates.set(f, undefined);
  }
  for (const [f, task] of templates) {
    // judged (an error or a warning) by the load-time checks already
    if (judgedTemplates.has(f)) continue;
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch (e) {
      errors.push(new RunbookError('missing_file', `cannot read template ${f}: ${(e as Error).message}`, { pos: task?.pos }));
      continue;
    }
    try {
      templar.renderString(text, {}, { trimBlocks: true, keepTrailingNewline: true });
    } catch (e) {
      // without variables only the syntax is judged: undefined names are expected here
      if (e instanceof TemplateError && e.code === 'template_syntax') {
        errors.push(new RunbookError('template_syntax', e.message, { pos: { file: f, line: e.line ?? 1, col: 1 } }));
      }
    }
  }
  for (const [f, task] of varsFiles) {
    try {
      const y = loadVarsYaml(f);
      if (y.value !== null && (typeof y.value !== 'object' || Array.isArray(y.value))) errors.push(new RunbookError('schema', `vars file ${f} must be a mapping`, { pos: y.pos([]) }));
    } catch (e) {
      if (e instanceof ConfigErrors) errors.push(...e.errors);
      else if (e instanceof RunbookError) errors.push(e.pos || !task ? e : new RunbookError(e.code, e.message, { pos: task.pos }));
      else errors.push(new RunbookError('config', `${f}: ${(e as Error).message}`, { pos: task?.pos }));
    }
  }
  return errors;
}
