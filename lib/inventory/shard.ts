/**
 * `--shard K/N`: the K-th of N disjoint parts of the hosts a run selects, so that N runbook processes (the pods of a
 * Kubernetes Indexed Job, a CI matrix) cover every host exactly once. A host's shard depends only on its inventory
 * name: the first 4 bytes of sha256(name) as an unsigned integer, mod N (docs/adr/0016). It does not depend on
 * inventory order, on the other hosts, on the play, on --limit: every process computes the same partition without
 * talking to the others, a host is in the same shard in every play of a run, and adding or removing a host moves no
 * other host. Applied like a further --limit (lib/executor/variables.ts selectPlayHosts, lib/cli/list.ts).
 */
import { createHash } from 'node:crypto';
import { RunbookError } from '../errors.js';

export interface Shard {
  /** 1-based, as written on the command line: 1..n */
  k: number;
  n: number;
}

/** Parses "K/N" (1 <= K <= N); a RunbookError (usage, exit 1) otherwise. */
export function parseShard(s: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(s);
  const k = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(k) || !Number.isSafeInteger(n) || n < 1 || k < 1 || k > n) {
    throw new RunbookError('usage', `--shard needs K/N with 1 <= K <= N (e.g. --shard 2/3), got "${s}"`);
  }
  return { k, n };
}

/** 0-based index of the shard a host name falls in, out of n. */
export function shardIndex(host: string, n: number): number {
  return createHash('sha256').update(host, 'utf8').digest().readUInt32BE(0) % n;
}

export function inShard(host: string, shard: Shard | undefined): boolean {
  return !shard || shard.n === 1 || shardIndex(host, shard.n) === shard.k - 1;
}

/** The hosts of `hosts` in the shard, in their order; all of them without a shard. */
export function applyShard(hosts: string[], shard: Shard | undefined): string[] {
  return shard ? hosts.filter((h) => inShard(h, shard)) : hosts;
}

export function shardLabel(shard: Shard): string {
  return `${shard.k}/${shard.n}`;
}
