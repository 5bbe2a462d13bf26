/**
 * authorized_key (ansible.posix.authorized_key): SSH public keys in a user's authorized_keys (default
 * ~USER/.ssh/authorized_keys, or path), edited as the collection does: keys are matched by their base64 blob; a key
 * whose type, options or comment differ is replaced (moved after the others); new keys are appended in the order
 * given; exclusive drops every other line; state=absent removes the keys. `key` may hold several keys, one a line
 * (blank lines and # comments skipped). Written lines are `[OPTIONS ]TYPE KEY COMMENT` (the collection's format,
 * its trailing space for an empty comment included). manage_dir: ~/.ssh made 0700 and owned by the user; the file
 * is written 0600, owned by the user. A key given as a URL is not supported by runbook (fetch it on the controller).
 */
import { RunbookError } from '../errors.js';
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type Step } from './types.js';
import { EPILOGUE, PRELUDE, badArg, frameProbe, quote, type FrameState } from './common.js';
import { showEscapes } from './bytes.js';

export interface AuthorizedKeyParams {
  user: string;
  key: string;
  path?: string;
  manage_dir: boolean;
  state: 'present' | 'absent';
  key_options?: string;
  exclusive: boolean;
  comment?: string;
  follow: boolean;
  validate_certs: boolean;
}

export const authorizedKeySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['user', 'key'],
  properties: {
    user: { type: 'string', minLength: 1 },
    key: { type: 'string' },
    path: { type: 'string', minLength: 1 },
    manage_dir: { type: 'boolean' },
    state: { enum: ['present', 'absent'] },
    key_options: { type: 'string' },
    exclusive: { type: 'boolean' },
    comment: { type: 'string' },
    follow: { type: 'boolean' },
    validate_certs: { type: 'boolean' },
  },
};

export function prepareAuthorizedKey(raw: Record<string, unknown>): AuthorizedKeyParams {
  const key = String(raw.key ?? '');
  if (key.startsWith('http')) throw badArg('authorized_key: a key given as a URL is not supported by runbook yet (look it up on the controller, e.g. with lookup("url", ...))');
  const p: AuthorizedKeyParams = {
    user: String(raw.user ?? ''),
    key,
    manage_dir: raw.manage_dir !== false,
    state: (raw.state as AuthorizedKeyParams['state'] | undefined) ?? 'present',
    exclusive: raw.exclusive === true,
    follow: raw.follow === true,
    validate_certs: raw.validate_certs !== false,
  };
  if (!p.user) throw new RunbookError('missing_argument', 'authorized_key: missing required arguments: user');
  if (raw.path !== undefined && raw.path !== null) p.path = String(raw.path);
  if (raw.key_options !== undefined && raw.key_options !== null) p.key_options = String(raw.key_options);
  if (raw.comment !== undefined && raw.comment !== null) p.comment = String(raw.comment);
  return p;
}

export function authorizedKeyScript(p: AuthorizedKeyParams): string {
  return [
    PRELUDE,
    `_e=$(getent passwd -- ${quote(p.user)}) && kv passwd "$_e"`,
    p.path !== undefined ? `f=${quote(p.path)}` : `f=$(printf '%s' "$_e" | cut -d: -f6)/.ssh/authorized_keys`,
    p.follow ? `if [ -L "$f" ]; then _r=$(readlink -f -- "$f"; echo x); _r=\${_r%?}; _r=\${_r%?}; [ -n "$_r" ] && f=$_r; fi` : ':',
    `kv file "$f"`,
    `if [ -f "$f" ]; then kvfile content "$f"; elif [ -e "$f" ]; then kv other 1; fi`,
    `rb_dirname "$f"; kv dir "$_d"; [ -d "$_d" ] && kv dir_exists 1`,
    EPILOGUE,
  ].join('\n');
}

const TYPES = new Set([
  'sk-ecdsa-sha2-nistp256@openssh.com', 'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com', 'webauthn-sk-ecdsa-sha2-nistp256@openssh.com',
  'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp256-cert-v01@openssh.com', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp384-cert-v01@openssh.com',
  'ecdsa-sha2-nistp521', 'ecdsa-sha2-nistp521-cert-v01@openssh.com', 'sk-ssh-ed25519@openssh.com', 'sk-ssh-ed25519-cert-v01@openssh.com',
  'ssh-ed25519', 'ssh-ed25519-cert-v01@openssh.com', 'ssh-dss', 'ssh-rsa', 'ssh-xmss@openssh.com', 'ssh-xmss-cert-v01@openssh.com',
  'rsa-sha2-256', 'rsa-sha2-512', 'ssh-rsa-cert-v01@openssh.com', 'rsa-sha2-256-cert-v01@openssh.com', 'rsa-sha2-512-cert-v01@openssh.com',
  'ssh-dss-cert-v01@openssh.com',
]);

type Options = [string, string | null][];
/** (blob or the raw line, type or 'skipped', options, comment, rank) */
export type ParsedKey = { blob: string; type: string; options: Options; comment: string; rank: number };

/** the collection's parseoptions: `a,b="x,y",c=1` -> ordered [name, value|null] pairs */
export function parseOptions(s: string | undefined): Options {
  const out: Options = [];
  if (!s) return out;
  const parts = s.split(/((?:[^,"']|"[^"]*"|'[^']*')+)/).slice(1, -1);
  for (const part of parts) {
    const i = part.indexOf('=');
    if (i >= 0) {
      const k = part.slice(0, i);
      const existing = out.findIndex(([n]) => n === k);
      if (existing >= 0) out[existing] = [k, part.slice(i + 1)];
      else out.push([k, part.slice(i + 1)]);
    } else if (part !== ',') out.push([part, null]);
  }
  return out;
}

/** the collection's parsekey; undefined when the line holds no key of a known type */
export function parseKey(raw0: string, rank: number): ParsedKey | undefined {
  const raw = raw0.replace(/\\#/g, '#');
  const parts = raw.split(/\s+/).filter((x) => x !== '');
  if (parts[0] === '#') return { blob: raw, type: 'skipped', options: [], comment: '', rank };
  const ti = parts.findIndex((x) => TYPES.has(x));
  if (ti < 0 || parts[ti + 1] === undefined) return undefined;
  return { blob: parts[ti + 1]!, type: parts[ti]!, options: parseOptions(ti > 0 ? parts.slice(0, ti).join(' ') : undefined), comment: parts.slice(ti + 2).join(' '), rank };
}

const sameOptions = (a: Options, b: Options) => a.length === b.length && a.every(([k, v]) => b.some(([k2, v2]) => k2 === k && v2 === v));
const sameKey = (a: ParsedKey, b: ParsedKey) => a.blob === b.blob && a.type === b.type && sameOptions(a.options, b.options) && a.comment === b.comment;

function serialize(keys: Map<string, ParsedKey>): string {
  return [...keys.values()]
    .sort((a, b) => a.rank - b.rank)
    .map((k) => {
      if (k.type === 'skipped') return k.blob;
      const opts = k.options.length ? k.options.map(([n, v]) => (v === null ? n : `${n}=${v}`)).join(',') + ' ' : '';
      return `${opts}${k.type} ${k.blob} ${k.comment}\n`;
    })
    .join('');
}

/** enforce_state's edit of the file's content; returns the new content, or undefined when nothing changes */
export function editAuthorizedKeys(existing: string, p: AuthorizedKeyParams): { after?: string } | { error: string } {
  const keys = new Map<string, ParsedKey>();
  (existing.match(/[^\n]*\n|[^\n]+$/g) ?? []).forEach((line, i) => {
    const k = parseKey(line, i);
    keys.set(k ? k.blob : line, k ?? { blob: line, type: 'skipped', options: [], comment: '', rank: i });
  });
  const newKeys = p.key.split(/\r\n|\n|\r/).filter((s) => s && !s.startsWith('#'));
  const maxRank = keys.size;
  const toExist: string[] = [];
  let write = false;
  for (const [rank, line] of newKeys.entries()) {
    let k = parseKey(line, rank);
    if (!k) return { error: `invalid key specified: ${line}` };
    if (p.key_options !== undefined) k = { ...k, options: parseOptions(p.key_options) };
    if (p.comment !== undefined) k = { ...k, comment: p.comment };
    const old = keys.get(k.blob);
    let matched = false;
    if (old) {
      if (!sameKey(k, old) && p.state === 'present') {
        keys.delete(k.blob);
        write = true;
      } else matched = true;
    }
    if (p.state === 'present') {
      toExist.push(k.blob);
      if (!matched) {
        keys.set(k.blob, { ...k, rank: maxRank + k.rank });
        write = true;
      }
    } else if (matched) {
      keys.delete(k.blob);
      write = true;
    }
  }
  if (p.state === 'present' && p.exclusive) {
    for (const b of [...keys.keys()]) {
      if (!toExist.includes(b)) {
        keys.delete(b);
        write = true;
      }
    }
  }
  return write ? { after: serialize(keys) } : {};
}

export function planAuthorizedKey(p: AuthorizedKeyParams, f: FrameState | null): Plan {
  if (!f) return failPlan(failure('probe_failed', 'authorized_key: no probe result'));
  if (isProbeFailed(f)) return failPlan(f.probeFailed);
  const pw = f.str('passwd')?.split(':');
  if (!pw && p.path === undefined) return failPlan(failure('no_user', `Failed to lookup user ${p.user}: getpwnam(): name not found: '${p.user}'`));
  const file = f.str('file') ?? p.path!;
  const result: Record<string, unknown> = { user: p.user, key: p.key, path: p.path ?? null, manage_dir: p.manage_dir, state: p.state, key_options: p.key_options ?? null, exclusive: p.exclusive, comment: p.comment ?? null, follow: p.follow, validate_certs: p.validate_certs, keyfile: file };
  if (f.str('other') === '1') return failPlan(failure('not_a_file', `${file} is not a regular file`, file), result);
  const before = f.str('content') ?? '';
  const r = editAuthorizedKeys(before, p);
  if ('error' in r) return failPlan(failure('invalid_key', r.error), result);
  if (r.after === undefined) return { steps: [], reason: `${file}: ${p.state === 'present' ? 'the keys are there' : 'the keys are not there'}`, result };
  if (!pw) return failPlan(failure('no_user', `Failed to lookup user ${p.user}: getpwnam(): name not found: '${p.user}'`), result);
  const [uid, gid] = [pw[2]!, pw[3]!];
  const dir = f.str('dir') ?? '/';
  const steps: Step[] = [];
  if (p.manage_dir) {
    steps.push({ kind: 'run', script: `{ [ -d ${quote(dir)} ] || mkdir -p -m 0700 -- ${quote(dir)}; } && chown ${uid}:${gid} -- ${quote(dir)} && chmod 0700 -- ${quote(dir)}`, describe: `${dir} 0700, owned by ${p.user}` });
  } else if (f.str('dir_exists') !== '1') {
    steps.push({ kind: 'run', script: `mkdir -p -- ${quote(dir)}`, describe: `create ${dir}` });
  }
  steps.push({ kind: 'write', path: file, content: r.after, mode: '0600', owner: uid, group: gid, describe: `write ${file}` });
  return { steps, reason: `${file}: ${p.state === 'present' ? 'add or update' : 'remove'} ${p.key.split('\n').filter((s) => s && !s.startsWith('#')).length} key(s)${p.exclusive ? ' (exclusive)' : ''}`, diffs: [{ label: file, before: showEscapes(before), after: showEscapes(r.after) }], result };
}

const authorizedKey: ModuleDef<AuthorizedKeyParams, FrameState> = {
  name: 'authorized_key',
  aliases: ['ansible.posix.authorized_key'],
  description: "SSH public keys in a user's authorized_keys",
  schema: authorizedKeySchema,
  prepare: prepareAuthorizedKey,
  probe: (p) => frameProbe(authorizedKeyScript(p)),
  plan: planAuthorizedKey,
};

export default authorizedKey;
