/**
 * community.sops.sops_encrypt: put a SOPS-encrypted file (age recipients) at `path` on the host, encrypted on the
 * controller with the same format and age library runbook reads SOPS files with (lib/vars/sops.ts).
 *
 * Idempotent as the collection's module: when the file exists (and force is false) it is decrypted (age identities:
 * age_key / age_keyfile, else SOPS_AGE_KEY / SOPS_AGE_KEY_FILE / ~/.config/sops/age/keys.txt) and its tree compared
 * with content_yaml / content_json; only a different tree (or force, or a missing file) writes. Encryption is
 * random, so it happens once in prepare; the plan (pure: the probe's bytes + the key files) decides whether to write
 * them. runbook writes SOPS YAML trees: path must end in .yaml/.yml, content_yaml or content_json; content_text and
 * content_binary (SOPS's binary format) are not supported by runbook yet.
 */
import { isDeepStrictEqual } from 'node:util';
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type Probe, type ProbeFailed } from './types.js';
import { EPILOGUE, FILE_ATTR_SCHEMA, PRELUDE, attrChanges, badArg, frameState, parseStat, quote, statShell, wantedAttrs, type FileStat, type WantedAttrs } from './common.js';
import { decryptSopsYaml, encryptSops } from '../vars/sops.js';
import { parseYaml } from '../yaml-load.js';
import type { ExecResult } from '../connection/types.js';

export interface SopsEncryptParams {
  path: string;
  force: boolean;
  tree: Record<string, unknown>;
  /** the encrypted document, made once in prepare */
  encrypted: string;
  ageKey?: string;
  ageKeyfile?: string;
  attrs: WantedAttrs;
}

export interface SopsFileState {
  stat: FileStat;
  content?: Buffer;
}

export function prepareSopsEncrypt(params: Record<string, unknown>): SopsEncryptParams {
  const path = String(params.path ?? '');
  if (!path) throw badArg('sops_encrypt: path is required');
  const given = (['content_text', 'content_binary', 'content_json', 'content_yaml'] as const).filter((k) => params[k] !== undefined && params[k] !== null);
  if (given.length !== 1) throw badArg(given.length ? `parameters are mutually exclusive: ${given.join('|')}` : 'one of the following is required: content_text, content_binary, content_json, content_yaml');
  if (given[0] === 'content_text' || given[0] === 'content_binary') throw badArg(`sops_encrypt: ${given[0]} (SOPS's binary format) is not supported by runbook yet; use content_yaml or content_json`);
  if (!/\.ya?ml$/.test(path)) throw badArg('sops_encrypt: runbook writes SOPS YAML files: path must end in .yaml or .yml');
  const tree = params[given[0]!];
  if (tree === null || typeof tree !== 'object' || Array.isArray(tree)) throw badArg(`sops_encrypt: ${given[0]} must be a dictionary`);
  const age = params.age === undefined ? [] : Array.isArray(params.age) ? params.age.map(String) : String(params.age).split(',').map((s) => s.trim());
  if (!age.length) throw badArg('sops_encrypt: runbook needs the age recipients (age: [age1...]); .sops.yaml creation rules are not read');
  const p: SopsEncryptParams = {
    path,
    force: params.force === true,
    tree: tree as Record<string, unknown>,
    encrypted: encryptSops(tree as Record<string, unknown>, age),
    attrs: wantedAttrs(params),
  };
  if (typeof params.age_key === 'string') p.ageKey = params.age_key;
  if (typeof params.age_keyfile === 'string') p.ageKeyfile = params.age_keyfile;
  return p;
}

export function probeSopsEncrypt(p: SopsEncryptParams): Probe<SopsFileState | ProbeFailed> {
  return {
    script: [PRELUDE, `p=${quote(p.path)}`, statShell('d', 'p', true), `if [ -f "$p" ] && [ -r "$p" ]; then kvfile content "$p"; fi`, EPILOGUE].join('\n'),
    parse: (out: ExecResult) => {
      const f = frameState(out);
      if (isProbeFailed(f)) return f;
      const s: SopsFileState = { stat: parseStat(f, 'd') };
      const c = f.buf('content');
      if (c !== undefined) s.content = c;
      return s;
    },
  };
}

/** The plain tree of a SOPS YAML document, or why it cannot be read. */
function decrypt(p: SopsEncryptParams, text: string): { tree: unknown } | { error: string } {
  const saved = { key: process.env['SOPS_AGE_KEY'], file: process.env['SOPS_AGE_KEY_FILE'] };
  try {
    if (p.ageKey !== undefined) process.env['SOPS_AGE_KEY'] = p.ageKey;
    if (p.ageKeyfile !== undefined) process.env['SOPS_AGE_KEY_FILE'] = p.ageKeyfile;
    return { tree: decryptSopsYaml(parseYaml(text, p.path)) };
  } catch (e) {
    return { error: (e as Error).message };
  } finally {
    for (const [k, v] of [['SOPS_AGE_KEY', saved.key], ['SOPS_AGE_KEY_FILE', saved.file]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

export function planSopsEncrypt(p: SopsEncryptParams, s: SopsFileState | ProbeFailed): Plan {
  if (isProbeFailed(s)) return failPlan(s.probeFailed);
  const result = { path: p.path };
  if (s.stat.type !== 'absent' && s.stat.type !== 'file') return failPlan(failure('not_a_file', `${p.path} exists and is a ${s.stat.type}`, p.path), result);
  let why: string | undefined;
  if (s.stat.type === 'absent') why = `${p.path} does not exist`;
  else if (p.force) why = 'force is true';
  else {
    if (s.content === undefined) return failPlan(failure('unreadable', `cannot read ${p.path}`, p.path), result);
    const d = decrypt(p, s.content.toString('utf8'));
    if ('error' in d) return failPlan(failure('sops_decrypt', d.error, p.path), result);
    if (!isDeepStrictEqual(d.tree, p.tree)) why = `the decrypted content of ${p.path} differs`;
  }
  if (why) {
    const mode = p.attrs.mode ?? (s.stat.type === 'file' ? s.stat.mode : '0600');
    // the diff never shows secrets: only that the encrypted content changes
    return {
      steps: [{ kind: 'write', path: p.path, content: p.encrypted, mode, ...(p.attrs.owner ? { owner: p.attrs.owner } : {}), ...(p.attrs.group ? { group: p.attrs.group } : {}), describe: `write SOPS file ${p.path}` }],
      reason: why,
      result,
    };
  }
  const { changes, script } = attrChanges(p.path, p.attrs, s.stat);
  if (script) return { steps: [{ kind: 'run', script, describe: changes.join(', ') }], reason: changes.join(', '), result };
  return { steps: [], reason: `${p.path} decrypts to the wanted content`, result };
}

const sopsEncrypt: ModuleDef<SopsEncryptParams, SopsFileState | ProbeFailed> = {
  name: 'sops_encrypt',
  aliases: ['community.sops.sops_encrypt'],
  description: 'Write a SOPS-encrypted YAML file (age recipients), idempotent by decrypting and comparing',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { type: 'string', minLength: 1 },
      force: { type: 'boolean' },
      content_text: { type: 'string' },
      content_binary: { type: 'string' },
      content_json: { type: 'object' },
      content_yaml: { type: 'object' },
      age: { type: ['array', 'string'], items: { type: 'string' } },
      age_key: { type: 'string' },
      age_keyfile: { type: 'string' },
      ...FILE_ATTR_SCHEMA,
    },
  },
  prepare: prepareSopsEncrypt,
  probe: probeSopsEncrypt,
  plan: planSopsEncrypt,
};

export default sopsEncrypt;
