/**
 * fetch: copy a file from the host to the controller (Ansible's fetch action). ONE read-only probe on the host (what
 * src is, its sha1 and its bytes), then a PURE plan (planFetch) against the controller's copy: write when the sha1s
 * differ, atomically (temp file in the same directory, then rename), and report changed; equal: ok. Check mode
 * plans the same and writes nothing (Ansible skips fetch in check mode; runbook predicts exactly).
 * dest: flat -> dest (dest/ -> dest/basename(src)); else dest/INVENTORY_HOSTNAME/SRC. A relative dest is relative to
 * the playbook (the task's file) directory. fail_on_missing (default true): a missing src fails with Ansible's
 * message; false: ok with "..., not transferring, ignored". validate_checksum: the bytes written are hashed again
 * and must match the host's sha1.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { action, type ActionOutcome } from './types.js';
import { EPILOGUE, PRELUDE, frameState, quote } from '../modules/common.js';
import { isProbeFailed } from '../modules/types.js';
import type { ExecResult } from '../connection/types.js';

export interface FetchParams {
  src: string;
  dest: string;
  flat: boolean;
  failOnMissing: boolean;
  validateChecksum: boolean;
}

/** What the host has at src. */
export type FetchRemote = { kind: 'missing' } | { kind: 'directory' } | { kind: 'unreadable'; why: string } | { kind: 'file'; content: Buffer };

export function fetchProbeScript(src: string): string {
  return [
    PRELUDE,
    `p=${quote(src)}`,
    `if [ -d "$p" ]; then kv kind directory`,
    `elif [ ! -e "$p" ]; then kv kind missing`,
    `elif [ ! -r "$p" ]; then kv kind unreadable`,
    `else kv kind file; kvfile content "$p"; fi`,
    EPILOGUE,
  ].join('\n');
}

export function parseFetchProbe(out: ExecResult): FetchRemote {
  const f = frameState(out);
  if (isProbeFailed(f)) return { kind: 'unreadable', why: f.probeFailed.message };
  const k = f.str('kind');
  if (k === 'file') {
    const c = f.buf('content');
    return c === undefined ? { kind: 'unreadable', why: 'the file could not be read' } : { kind: 'file', content: c };
  }
  if (k === 'directory' || k === 'missing') return { kind: k };
  return { kind: 'unreadable', why: 'permission denied' };
}

/** The controller path the file goes to. */
export function fetchDest(p: FetchParams, host: string, baseDir: string): string {
  let dest = p.dest;
  if (p.flat) {
    if (dest.endsWith('/')) dest = path.join(dest, path.posix.basename(p.src));
    if (!path.isAbsolute(dest)) dest = path.join(baseDir, dest);
  } else {
    dest = `${path.isAbsolute(dest) ? dest : path.join(baseDir, dest)}/${host}/${p.src}`;
  }
  return path.normalize(dest);
}

const sha1 = (b: Buffer): string => createHash('sha1').update(b).digest('hex');
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

export interface FetchPlan {
  /** the bytes to write at dest, when they differ from what the controller has */
  write?: { dest: string; content: Buffer };
  outcome: ActionOutcome;
}

/** PURE: host state + the controller's current bytes at dest (undefined: none) -> what to do and the result. */
export function planFetch(p: FetchParams, remote: FetchRemote, dest: string, local: Buffer | undefined | 'directory'): FetchPlan {
  if (remote.kind === 'missing' || remote.kind === 'directory' || remote.kind === 'unreadable') {
    const base = remote.kind === 'missing' ? 'the remote file does not exist' : remote.kind === 'directory' ? 'remote file is a directory, fetch cannot work on directories' : `the remote file cannot be read (${remote.why})`;
    if (!p.failOnMissing) {
      const msg = `${base}, not transferring, ignored`;
      return { outcome: { status: 'ok', reason: msg, result: { changed: false, file: p.src, msg } } };
    }
    const msg = remote.kind === 'missing' ? `file not found: ${p.src}` : base;
    return { outcome: { status: 'failed', reason: msg, result: { failed: true, changed: false, file: p.src, msg } } };
  }
  if (local === 'directory') {
    const msg = 'dest is an existing directory, use a trailing slash if you want to fetch src into that directory';
    return { outcome: { status: 'failed', reason: msg, result: { failed: true, msg } } };
  }
  const remoteSum = sha1(remote.content);
  if (local !== undefined && sha1(local) === remoteSum) {
    return { outcome: { status: 'ok', reason: `${dest} has the content of ${p.src}`, result: { changed: false, md5sum: md5(local), file: p.src, dest, checksum: remoteSum } } };
  }
  return {
    write: { dest, content: remote.content },
    outcome: {
      status: 'changed',
      reason: local === undefined ? `${dest} does not exist on the controller` : `${dest} differs from ${p.src}`,
      result: { changed: true, md5sum: md5(remote.content), dest, remote_md5sum: null, checksum: remoteSum, remote_checksum: remoteSum },
    },
  };
}

/** Write on the controller atomically: a temp file beside dest, then rename. Returns the sha1 of what was written. */
export function writeAtomically(dest: string, content: Buffer): string {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.runbook-${randomBytes(6).toString('hex')}`);
  try {
    fs.writeFileSync(tmp, content, { mode: 0o644 });
    fs.renameSync(tmp, dest);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return sha1(fs.readFileSync(dest));
}

function readLocal(dest: string): Buffer | undefined | 'directory' {
  try {
    if (fs.statSync(dest).isDirectory()) return 'directory';
    return fs.readFileSync(dest);
  } catch {
    return undefined;
  }
}

export default action('fetch', 'copy a file from the host to the controller', {
  type: 'object', additionalProperties: false, required: ['src', 'dest'],
  properties: {
    src: { type: 'string', minLength: 1 },
    dest: { type: 'string', minLength: 1 },
    flat: { type: 'boolean' },
    fail_on_missing: { type: 'boolean' },
    validate_checksum: { type: 'boolean' },
  },
}, async ({ args, engine, host, task, vars }) => {
  const p: FetchParams = {
    src: String(args['src']),
    dest: String(args['dest']),
    flat: args['flat'] === true,
    failOnMissing: args['fail_on_missing'] !== false,
    validateChecksum: args['validate_checksum'] !== false,
  };
  const conn = await engine.connect();
  const out = await conn.run(fetchProbeScript(p.src), { become: engine.become() });
  const remote = parseFetchProbe(out);
  const inventoryHostname = typeof vars['inventory_hostname'] === 'string' ? (vars['inventory_hostname'] as string) : host;
  const dest = fetchDest(p, inventoryHostname, path.dirname(task.pos.file));
  const plan = planFetch(p, remote, dest, readLocal(dest));
  if (plan.write && !engine.check) {
    const written = writeAtomically(plan.write.dest, plan.write.content);
    if (p.validateChecksum && written !== plan.outcome.result['remote_checksum']) {
      return { status: 'failed', reason: 'checksum mismatch', result: { ...plan.outcome.result, failed: true, changed: false, msg: 'checksum mismatch', checksum: written } };
    }
  } else if (plan.write) {
    return { ...plan.outcome, reason: `${plan.outcome.reason} (check mode: not written)` };
  }
  return plan.outcome;
});
