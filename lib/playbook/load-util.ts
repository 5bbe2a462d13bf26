/**
 * What the loader's parts share: the source and context types, the options, and small pure helpers (k=v
 * splitting, truthiness, tag lists). Nothing here reads a file.
 */
import { ansibleBoolean } from '../vars/python-compat.js';
import * as path from 'node:path';
import type { RunbookError, SourcePos } from '../errors.js';
import type { ArgumentSpec } from './argument-specs.js';
import type { Item, RoleScope, TaskNode } from './model.js';

export type Path = (string | number)[];

export interface Src {
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

export const HANDLER = 'in a handler (it runs only when notified)';

/** Blocks nested deeper than this are refused with a plain message (Ansible's Python stops near 1,000 frames). */
export const MAX_NESTING = 200;

/** `when: x` as a short reason for messages. */
export function whenReason(w: unknown, pos: SourcePos): string {
  const list = Array.isArray(w) ? w : [w];
  let t = list.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' and ').replace(/\s+/g, ' ');
  if (t.length > 60) t = t.slice(0, 57) + '...';
  return `under "when: ${t}" (${path.basename(pos.file)}:${pos.line})`;
}

export interface ItemCtx {
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
  /** the tasks files above these items, each with the line that imports or includes the next (cycle messages) */
  chain?: { file: string; pos: SourcePos }[];
  /** blocks and files above these items (MAX_NESTING) */
  depth?: number;
}

/** `a.yml:5 -> b.yml:3 -> a.yml`: a cycle of files, each with the line that leads to the next. */
export function cycleText(chain: { file: string; pos: SourcePos }[], again: string): string {
  const from = chain.findIndex((c) => c.file === again);
  return [...chain.slice(from).map((c) => `${c.file}:${c.pos.line}`), again].join(' -> ');
}

export const OLD_INCLUDE = new Set(['include', 'ansible.builtin.include', 'ansible.legacy.include']);

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

export function parseKv(text: string, freeForm: string | undefined, pos: SourcePos, problem: (code: RunbookError['code'], message: string, at: SourcePos) => void): Record<string, unknown> {
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

export function withRole(item: Item, role: RoleScope): Item {
  if (item.kind === 'task') return { ...item, role: item.role ?? role };
  return { ...item, role: item.role ?? role, block: item.block.map((i) => withRole(i, role)), rescue: item.rescue.map((i) => withRole(i, role)), always: item.always.map((i) => withRole(i, role)) };
}

export function flattenHandlers(items: Item[]): TaskNode[] {
  const out: TaskNode[] = [];
  for (const i of items) {
    if (i.kind === 'task') out.push(i);
    else out.push(...flattenHandlers(i.block));
  }
  return out;
}

export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

export function toStrList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string') return v.includes(',') ? v.split(',').map((s) => s.trim()).filter(Boolean) : [v];
  return [String(v)];
}

export function truthy(v: unknown): boolean {
  if (typeof v === 'string') return ansibleBoolean(v) ?? false;
  return Boolean(v);
}
