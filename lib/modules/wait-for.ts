/**
 * wait_for: wait, ON THE HOST, until a TCP port accepts connections (started/present) or refuses them (stopped),
 * until a port has no established connections (drained), until a file exists (present/started, optionally
 * containing `search_regex`) or is gone (absent/stopped), or, with neither port nor path, for `timeout` seconds.
 *
 * Waiting changes nothing, so the wait IS the probe: one read-only sh loop, bounded by delay + timeout (checks every
 * `sleep` seconds, each connection attempt bounded by connect_timeout). The plan (pure) turns what the loop saw into
 * ok (never changed, as Ansible) or Ansible's timeout message (or `msg`). Like Ansible's, it runs in check mode too.
 * TCP checks use bash's /dev/tcp (Debian hosts have bash; no python needed); drained reads `ss`; search_regex is an
 * extended regular expression (grep -E), close to Python's for common patterns.
 */
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan } from './types.js';
import { EPILOGUE, PRELUDE, badArg, frameProbe, namesFor, quote, type FrameState } from './common.js';

export interface WaitForParams {
  host: string;
  port?: number;
  path?: string;
  state: 'started' | 'stopped' | 'present' | 'absent' | 'drained';
  searchRegex?: string;
  delay: number;
  timeout: number;
  sleep: number;
  connectTimeout: number;
  msg?: string;
}

export function prepareWaitFor(params: Record<string, unknown>): WaitForParams {
  const num = (k: string, d: number): number => {
    const v = params[k];
    if (v === undefined || v === null) return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw badArg(`wait_for: ${k} must be a non-negative number`);
    return n;
  };
  const p: WaitForParams = {
    host: typeof params.host === 'string' && params.host !== '' ? params.host : '127.0.0.1',
    state: (params.state as WaitForParams['state'] | undefined) ?? 'started',
    delay: num('delay', 0),
    timeout: num('timeout', 300),
    sleep: num('sleep', 1),
    connectTimeout: num('connect_timeout', 5),
  };
  if (params.port !== undefined && params.port !== null) p.port = num('port', 0);
  if (typeof params.path === 'string' && params.path !== '') p.path = params.path;
  if (typeof params.search_regex === 'string') p.searchRegex = params.search_regex;
  if (typeof params.msg === 'string') p.msg = params.msg;
  // Ansible's own argument errors, word for word
  if (p.port !== undefined && p.path !== undefined) throw badArg('port and path parameter can not both be passed to wait_for');
  if (p.path !== undefined && p.state === 'stopped') throw badArg('state=stopped should only be used for checking a port in the wait_for module');
  if (p.path !== undefined && p.state === 'drained') throw badArg('state=drained should only be used for checking a port in the wait_for module');
  if (p.sleep <= 0) p.sleep = 1;
  return p;
}

export function waitForScript(p: WaitForParams): string {
  const L = [PRELUDE, `_start=$(date +%s)`, `_end=$((_start + ${Math.ceil(p.delay)} + ${Math.ceil(p.timeout)}))`];
  if (p.delay > 0) L.push(`sleep ${p.delay}`);
  const tcp = `timeout ${p.connectTimeout} bash -c 'exec 3<>/dev/tcp/'${quote(p.host)}'/${p.port}' 2>/dev/null`;
  let cond: string;
  if (p.port !== undefined) {
    if (p.state === 'stopped' || p.state === 'absent') cond = `! ${tcp}`;
    else if (p.state === 'drained') cond = `[ -z "$(ss -Htn state established '( sport = :${p.port} )' 2>/dev/null)" ]`;
    else if (p.searchRegex !== undefined) cond = `timeout ${p.connectTimeout} bash -c 'exec 3<>/dev/tcp/'${quote(p.host)}'/${p.port}; cat <&3' 2>/dev/null | grep -Eq -- ${quote(p.searchRegex)}`;
    else cond = tcp;
  } else if (p.path !== undefined) {
    const q = quote(p.path);
    if (p.state === 'absent' || p.state === 'stopped') cond = `[ ! -e ${q} ]`;
    else if (p.searchRegex !== undefined) cond = `[ -r ${q} ] && grep -Eq -- ${quote(p.searchRegex)} ${q}`;
    else cond = `[ -e ${q} ]`;
  } else {
    // neither port nor path: Ansible sleeps for timeout seconds
    L.push(`sleep ${p.timeout}`, `kv ok 1`, `kv elapsed $(( $(date +%s) - _start ))`, EPILOGUE);
    return L.join('\n');
  }
  L.push(
    `_ok=0; _n=0`,
    // bounded by time (the deadline) and by count (one check per sleep interval, plus a margin)
    `while [ "$_n" -le ${Math.ceil((p.timeout + p.delay) / p.sleep) + 2} ]; do`,
    `  _n=$((_n + 1))`,
    `  if ${cond}; then _ok=1; break; fi`,
    `  [ "$(date +%s)" -ge "$_end" ] && break`,
    `  sleep ${p.sleep}`,
    `done`,
    `kv ok $_ok`,
    `kv elapsed $(( $(date +%s) - _start ))`,
    EPILOGUE,
  );
  return L.join('\n');
}

export function planWaitFor(p: WaitForParams, f: FrameState | null): Plan {
  if (f === null) return failPlan(failure('probe_failed', 'internal: the probe did not run'));
  if (isProbeFailed(f)) return failPlan(f.probeFailed);
  const elapsed = Number(f.str('elapsed') ?? 0);
  const result: Record<string, unknown> = { elapsed, state: p.state };
  if (p.port !== undefined) result.port = p.port;
  if (p.path !== undefined) result.path = p.path;
  if (p.searchRegex !== undefined) result.search_regex = p.searchRegex;
  if (f.str('ok') === '1') {
    const what = p.port !== undefined ? `${p.host}:${p.port} is ${p.state}` : p.path !== undefined ? `${p.path} is ${p.state}` : `waited ${p.timeout}s`;
    return { steps: [], reason: `${what} (after ${elapsed}s)`, result };
  }
  let msg: string;
  if (p.port !== undefined) {
    if (p.state === 'stopped' || p.state === 'absent') msg = `Timeout when waiting for ${p.host}:${p.port} to stop.`;
    else if (p.state === 'drained') msg = `Timeout when waiting for ${p.host}:${p.port} to drain`;
    else if (p.searchRegex !== undefined) msg = `Timeout when waiting for search string ${p.searchRegex} in ${p.host}:${p.port}`;
    else msg = `Timeout when waiting for ${p.host}:${p.port}`;
  } else if (p.state === 'absent' || p.state === 'stopped') msg = `Timeout when waiting for ${p.path} to be absent.`;
  else if (p.searchRegex !== undefined) msg = `Timeout when waiting for search string ${p.searchRegex} in ${p.path}`;
  else msg = `Timeout when waiting for file ${p.path}`;
  // a custom msg replaces Ansible's; the failure is not about a planned path (waiting is never "after an earlier change")
  return failPlan(failure('timeout', p.msg ?? msg), result);
}

const waitFor: ModuleDef<WaitForParams, FrameState> = {
  name: 'wait_for',
  aliases: namesFor('wait_for'),
  description: 'Wait on the host for a port, a file (or a string in it), a drained port, or a number of seconds',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      host: { type: 'string' },
      port: { type: 'integer', minimum: 0, maximum: 65535 },
      path: { type: 'string' },
      state: { enum: ['started', 'stopped', 'present', 'absent', 'drained'] },
      search_regex: { type: 'string' },
      delay: { type: 'number', minimum: 0 },
      timeout: { type: 'number', minimum: 0 },
      sleep: { type: 'number', minimum: 0 },
      connect_timeout: { type: 'number', minimum: 0 },
      msg: { type: 'string' },
    },
  },
  prepare: prepareWaitFor,
  probe: (p) => frameProbe(waitForScript(p)),
  plan: planWaitFor,
};

export default waitFor;
