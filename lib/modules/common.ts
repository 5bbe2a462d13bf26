/**
 * Helpers shared by the core file/command modules: schema fragments, names, content
 * (sha1, diffs, whole-file writes) and paths. Probe framing lives in probe-frame.ts, modes/stat/attributes in
 * file-attrs.ts (both re-exported here).
 *
 * Probe framing (PRELUDE): NUL-terminated `key=value` records printed by the printf builtin, file content as one
 * base64 section, an `end` record last; a missing end record means the probe died half-way: the plan fails instead
 * of guessing. Values are decoded on the controller, never interpreted by a shell.
 */
import { createHash } from 'node:crypto';
import { quote } from 'shlex';
import { RunbookError } from '../errors.js';
import type { FileDiff, Step } from './types.js';
import { decodeBytes, hasEscapedBytes, showEscapes } from './bytes.js';
import { attrChanges, type FileStat, type WantedAttrs } from './file-attrs.js';

export { quote };
export * from './probe-frame.js';
export * from './file-attrs.js';

/** Largest file whose content a probe sends back (for diffs and line edits). */
export const CONTENT_LIMIT = 1024 * 1024;

// ---------------------------------------------------------------------------------------------------------------
// schema fragments

export const MODE_SCHEMA = { type: ['string', 'integer'] } as const;
export const FILE_ATTR_SCHEMA = {
  mode: MODE_SCHEMA,
  owner: { type: 'string', minLength: 1 },
  group: { type: 'string', minLength: 1 },
} as const;

/** The three names every core module answers to. */
export function namesFor(short: string): string[] {
  return [`ansible.builtin.${short}`, `ansible.legacy.${short}`];
}

// ---------------------------------------------------------------------------------------------------------------
// content

export function sha1(data: Buffer | string): string {
  return createHash('sha1').update(data).digest('hex');
}

/**
 * Text for a diff side, or a placeholder for binary content. Text that is mostly UTF-8 with a few other bytes (a
 * Latin-1 file) is shown with those bytes as `\xNN`; content with NUL bytes or mostly non-UTF-8 bytes is binary.
 */
export function diffText(data: Buffer | undefined, sha: string | undefined): string {
  if (data === undefined) return sha ? `(content not fetched: larger than ${CONTENT_LIMIT} bytes, sha1 ${sha})\n` : '';
  if (data.includes(0)) return `(binary content, sha1 ${sha1(data)})\n`;
  const text = decodeBytes(data);
  if (!hasEscapedBytes(text)) return text;
  const shown = showEscapes(text);
  // an escaped byte is 2 UTF-16 units in text and 4 characters shown: more than 1 byte in 10 escaped is binary
  const escaped = (shown.length - text.length) / 2;
  if (escaped * 10 > data.length) return `(binary content, sha1 ${sha1(data)})\n`;
  return shown;
}

export function contentDiff(label: string, before: Buffer | undefined, beforeSha: string | undefined, after: Buffer): FileDiff {
  return { label, before: diffText(before, beforeSha), after: diffText(after, sha1(after)) };
}

/**
 * The steps that write an edited file whole (lineinfile, blockinfile, replace): `mkdir -p` of a missing parent, then
 * an atomic write that keeps the existing file's mode (and, as root, its owner and group) unless `want` says
 * otherwise. `changes` lists the attribute changes for the plan's reason.
 */
export function wholeFileWrite(path: string, after: Buffer, want: WantedAttrs, cur: FileStat, host: { parentExists: boolean; root: boolean }): { steps: Step[]; changes: string[] } {
  const steps: Step[] = [];
  const exists = cur.type === 'file';
  if (!exists && !host.parentExists) {
    const parent = dirnameOf(path);
    steps.push({ kind: 'run', script: `mkdir -p -- ${quote(parent)}`, describe: `create directory ${parent}` });
  }
  const write: Step = { kind: 'write', path, content: after, describe: `write ${path}` };
  let changes: string[] = [];
  if (exists) {
    const root = host.root;
    write.mode = want.mode ?? cur.mode;
    const owner = want.owner ?? (root ? String(cur.uid) : undefined);
    const group = want.group ?? (root ? String(cur.gid) : undefined);
    if (owner !== undefined) write.owner = owner;
    if (group !== undefined) write.group = group;
    changes = attrChanges(path, want, cur).changes;
  } else {
    Object.assign(write, want);
  }
  steps.push(write);
  return { steps, changes };
}

export function dirnameOf(path: string): string {
  const p = path.replace(/\/+$/, '');
  const i = p.lastIndexOf('/');
  if (i < 0) return '.';
  if (i === 0) return '/';
  return p.slice(0, i);
}

export function basenameOf(path: string): string {
  const p = path.replace(/\/+$/, '');
  return p.slice(p.lastIndexOf('/') + 1);
}

/** Split output into lines like Python's splitlines() for *_lines results. */
export function splitLines(s: string): string[] {
  if (s === '') return [];
  const lines = s.split(/\r\n|\n|\r/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export function badArg(msg: string): RunbookError {
  return new RunbookError('bad_argument', msg);
}
