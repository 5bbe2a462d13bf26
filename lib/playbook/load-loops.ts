/**
 * A task's loop keywords -> its typed loop (model.ts TaskLoop). `loop:` is a list; `with_<name>:` hands its terms
 * to the lookup <name>, as Ansible does for every lookup plugin. A `with_<name>` runbook has no lookup for is
 * reported (an error where the task is certain to run, a deferred warning where it may not: docs/adr/0012), never
 * silently ignored.
 */
import type { RunbookError, SourcePos } from '../errors.js';
import { lookupExists, lookupNames } from '../vars/loop-lookups.js';
import { closest } from './keywords.js';
import type { TaskLoop } from './model.js';

/** Lookups Ansible (core and community.general) has and runbook may not: "not supported yet" rather than "unknown". */
const ANSIBLE_LOOKUPS = new Set([
  'config', 'csvfile', 'dict', 'env', 'file', 'fileglob', 'first_found', 'indexed_items', 'ini', 'inventory_hostnames',
  'items', 'lines', 'list', 'nested', 'password', 'pipe', 'random_choice', 'sequence', 'subelements', 'template',
  'together', 'unvault', 'url', 'varnames', 'vars', 'cartesian', 'dig', 'dnstxt', 'flattened', 'hashi_vault',
  'passwordstore', 'redis', 'consul_kv', 'keyring', 'lastpass', 'etcd', 'etcd3', 'filetree', 'chef_databag',
  'credstash', 'cyberarkpassword', 'dependent', 'dsv', 'lmdb_kv', 'onepassword', 'onepassword_raw', 'random_string',
  'random_pet', 'random_words', 'shelvefile', 'tss', 'merge_variables', 'collection_version', 'bitwarden',
  'aws_ssm', 'aws_secret', 'k8s', 'mongodb', 'manifold', 'hiera', 'nios', 'avi', 'laps_password', 'cpm_metering',
]);

/** Is `k` a loop keyword (loop, with_<name>)? */
export function isLoopKey(k: string): boolean {
  return k === 'loop' || /^with_[A-Za-z_][\w.]*$/.test(k);
}

export interface LoopParse {
  loop?: TaskLoop;
  /** a problem with the loop: reported by the caller as an error, or deferred when the task may not run */
  problem?: { code: RunbookError['code']; message: string; pos: SourcePos };
  /** certain whatever runs: two loops on one task (Ansible refuses it at load too) */
  error?: { message: string; pos: SourcePos };
}

/** The loop of a task mapping `raw`; `keyPos(k)` is the position of key k. */
export function parseLoop(raw: Record<string, unknown>, keyPos: (k: string) => SourcePos): LoopParse {
  const keys = Object.keys(raw).filter(isLoopKey);
  if (keys.length === 0) return {};
  if (keys.length > 1) return { error: { message: `a task can have one loop, this one has ${keys.join(', ')}`, pos: keyPos(keys[1]!) } };
  const k = keys[0]!;
  const pos = keyPos(k);
  if (k === 'loop') return { loop: { kind: 'loop', terms: raw[k], pos } };
  const name = k.slice('with_'.length);
  if (lookupExists(name)) return { loop: { kind: 'lookup', lookup: name, terms: raw[k], pos } };
  const short = name.split('.').pop()!;
  if (ANSIBLE_LOOKUPS.has(short) || name.split('.').length === 3) return { problem: { code: 'schema', message: `loop "${k}" is not supported by runbook yet`, pos } };
  const hint = closest(name, lookupNames());
  return { problem: { code: 'schema', message: `unknown loop "${k}": there is no lookup "${name}"${hint ? ` (did you mean "with_${hint}"?)` : ''}`, pos } };
}
