/**
 * uri: an HTTP(S) request made ON THE HOST (as Ansible's uri runs on the host), with curl: Debian hosts have curl
 * (the lab's Debian machine has /usr/bin/curl), it speaks every method, body, header, auth, redirect and TLS option
 * uri has, and reports the status and headers without a python on the host.
 *
 * GET and HEAD (and OPTIONS) change nothing on the server: the request is made by the read-only probe, so check mode
 * has the real response, and the task is never changed, as Ansible's (with `dest`, writing the body is the change:
 * changed when the file differs). Any other method changes the server: the request is the plan's step, so check mode
 * sends nothing and says it would; apply reports changed (Ansible says changed: false for every method, which
 * would make a check-mode prediction of "nothing happens" false). The response is parsed the same way either way:
 * status, url, redirected, elapsed, msg, every header as a lowercase key with '_' (content_type, ...), content when
 * return_content, json when the body is JSON; a status not in status_code fails with Ansible's message.
 */
import { createHash } from 'node:crypto';
import type { ExecResult } from '../connection/types.js';
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type Step } from './types.js';
import { EPILOGUE, PRELUDE, badArg, frameProbe, frameState, namesFor, quote, type FrameState } from './common.js';

const READ_ONLY = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface UriParams {
  url: string;
  method: string;
  body?: string;
  headers: Record<string, string>;
  statusCode: number[];
  returnContent: boolean;
  dest?: string;
  user?: string;
  password?: string;
  timeout: number;
  validateCerts: boolean;
  follow: boolean;
}

export function prepareUri(params: Record<string, unknown>): UriParams {
  const url = String(params.url ?? '');
  if (!/^https?:\/\/\S+$/i.test(url)) throw badArg(`uri: '${url}' is not an http(s) URL`);
  const method = String(params.method ?? 'GET').toUpperCase();
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries((params.headers as Record<string, unknown> | undefined) ?? {})) headers[k] = String(v);
  const fmt = String(params.body_format ?? 'raw');
  const p: UriParams = {
    url,
    method,
    headers,
    statusCode: (Array.isArray(params.status_code) ? params.status_code : params.status_code !== undefined ? String(params.status_code).split(',') : [200]).map((x) => Number(x)),
    returnContent: params.return_content === true,
    timeout: params.timeout !== undefined ? Number(params.timeout) : 30,
    validateCerts: params.validate_certs !== false,
    follow: false,
  };
  if (p.statusCode.some((n) => !Number.isInteger(n))) throw badArg('uri: status_code must be a list of integers');
  const fr = String(params.follow_redirects ?? 'safe');
  p.follow = fr === 'all' || fr === 'yes' || fr === 'true' || fr === 'urllib2' || (fr === 'safe' && READ_ONLY.has(method));
  if (params.body !== undefined && params.body !== null) {
    const b = params.body;
    if (fmt === 'json') {
      p.body = typeof b === 'string' ? b : JSON.stringify(b);
      if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
    } else if (fmt === 'form-urlencoded') {
      if (typeof b === 'string') p.body = b;
      else if (b !== null && typeof b === 'object') p.body = new URLSearchParams(Object.entries(b as Record<string, unknown>).map(([k, v]) => [k, String(v)])).toString();
      else throw badArg('uri: body must be a dict or a string with body_format form-urlencoded');
      if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    } else if (fmt === 'raw') {
      p.body = typeof b === 'string' ? b : JSON.stringify(b);
    } else throw badArg(`uri: body_format ${fmt} is not supported by runbook yet (json, form-urlencoded, raw)`);
  }
  if (typeof params.dest === 'string' && params.dest !== '') p.dest = params.dest;
  if (typeof params.url_username === 'string') p.user = params.url_username;
  if (typeof params.url_password === 'string') p.password = params.url_password;
  if (READ_ONLY.has(method) && p.body !== undefined) throw badArg(`uri: a body with ${method} is not supported by runbook (the probe makes read-only requests without one)`);
  return p;
}

/** sh: the curl request; prints the frame records status, url, headers (file) and body (file), or curl_error. */
export function requestScript(p: UriParams, withBody: boolean): string {
  const args = ['curl', '-sS', '-X', quote(p.method), '--max-time', String(p.timeout), '-D', '"$h"', '-o', '"$b"', '-w', quote('%{http_code} %{url_effective}')];
  if (p.method === 'HEAD') args.splice(2, 2, '-I');
  if (!p.validateCerts) args.push('-k');
  if (p.follow) args.push('-L');
  if (p.user !== undefined) args.push('--basic', '-u', quote(`${p.user}:${p.password ?? ''}`));
  for (const [k, v] of Object.entries(p.headers)) args.push('-H', quote(`${k}: ${v}`));
  if (withBody) args.push('--data-binary', '@-');
  args.push('--', quote(p.url));
  return [
    `h=$(mktemp) && b=$(mktemp) || exit 1`,
    `trap 'rm -f -- "$h" "$b"' EXIT`,
    `_s=$(date +%s)`,
    `if _w=$(${args.join(' ')}${withBody ? '' : ' </dev/null'} 2>"$b.err"); then kv status "\${_w%% *}"; kv url "\${_w#* }"; kvfile headers "$h"; kvfile body "$b"; else kv curl_error "$(cat "$b.err")"; fi`,
    `rm -f -- "$b.err"`,
    `kv elapsed $(( $(date +%s) - _s ))`,
  ].join('\n');
}

export function uriProbeScript(p: UriParams): string {
  const lines = [PRELUDE, `command -v curl >/dev/null 2>&1 || kv no_curl 1`];
  if (READ_ONLY.has(p.method)) lines.push(`if command -v curl >/dev/null 2>&1; then`, requestScript(p, false), `fi`);
  if (p.dest !== undefined) lines.push(`if [ -f ${quote(p.dest)} ]; then _x=$(sha1sum < ${quote(p.dest)}) && kv dest_sha1 "\${_x%% *}"; fi`, `if [ -d ${quote(p.dest)} ]; then kv dest_dir 1; fi`);
  lines.push(EPILOGUE);
  return lines.join('\n');
}

/** PURE: a response frame -> Ansible's result fields and whether the status is one of status_code. */
export function responseResult(p: UriParams, f: FrameState): { result: Record<string, unknown>; ok: boolean; body?: Buffer } {
  if (isProbeFailed(f)) return { result: { status: -1, msg: f.probeFailed.message }, ok: false };
  const err = f.str('curl_error');
  const result: Record<string, unknown> = { url: p.url, elapsed: Number(f.str('elapsed') ?? 0) };
  if (err !== undefined) {
    result.status = -1;
    result.msg = `Status code was -1 and not ${JSON.stringify(p.statusCode)}: Request failed: ${err.trim()}`;
    return { result, ok: false };
  }
  const status = Number(f.str('status') ?? -1);
  const body = f.buf('body') ?? Buffer.alloc(0);
  result.status = status;
  result.url = f.str('url') ?? p.url;
  result.redirected = result.url !== p.url;
  // the last response's headers (curl -D writes one block per redirect hop)
  const blocks = (f.str('headers') ?? '').split(/\r?\n\r?\n/).filter((b) => b.trim() !== '');
  const last = blocks[blocks.length - 1] ?? '';
  for (const line of last.split(/\r?\n/).slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) result[line.slice(0, i).trim().toLowerCase().replace(/-/g, '_')] = line.slice(i + 1).trim();
  }
  result.msg = `OK (${body.length === 0 ? 'unknown' : body.length} bytes)`;
  const ctype = String(result.content_type ?? '');
  if (p.returnContent) result.content = body.toString('utf8');
  if (/json/i.test(ctype)) {
    try {
      result.json = JSON.parse(body.toString('utf8'));
    } catch {
      /* not JSON after all */
    }
  }
  const ok = p.statusCode.includes(status);
  if (!ok) result.msg = `Status code was ${status} and not ${JSON.stringify(p.statusCode)}: HTTP Error ${status}`;
  return { result, ok, body };
}

export function planUri(p: UriParams, f: FrameState): Plan {
  if (isProbeFailed(f)) return failPlan(f.probeFailed);
  if (f.str('no_curl') === '1') return failPlan(failure('no_curl', 'uri: curl is not installed on this host (runbook makes the request with curl on the host)'));
  if (!READ_ONLY.has(p.method)) {
    const step: Step = { kind: 'run', script: [PRELUDE, requestScript(p, p.body !== undefined), EPILOGUE].join('\n'), capture: true, describe: `${p.method} ${p.url}` };
    if (p.body !== undefined) step.input = p.body;
    return { steps: [step], reason: `${p.method} ${p.url} would be sent`, doneReason: `${p.method} ${p.url} sent`, result: { url: p.url } };
  }
  const { result, ok, body } = responseResult(p, f);
  if (!ok) return failPlan(failure('http_status', String(result.msg)), result);
  if (p.dest !== undefined && body !== undefined && p.method === 'GET') {
    if (f.str('dest_dir') === '1') return failPlan(failure('is_directory', `uri: dest ${p.dest} is a directory`, p.dest), result);
    const want = createHash('sha1').update(body).digest('hex');
    result.path = p.dest;
    if (f.str('dest_sha1') !== want) {
      return { steps: [{ kind: 'write', path: p.dest, content: body, describe: `write the response body to ${p.dest}` }], reason: `${p.dest} differs from the body of ${p.url}`, result };
    }
    return { steps: [], reason: `${p.dest} has the body of ${p.url} (status ${result.status})`, result };
  }
  return { steps: [], reason: `${p.method} ${p.url}: status ${result.status} (read-only, not changed)`, result };
}

/** After a non-read-only request ran: its response, and a failure when the status is not one of status_code. */
export function finishUri(p: UriParams, outputs: ExecResult[], plan: Plan): Record<string, unknown> {
  const out = outputs[outputs.length - 1];
  if (!out || READ_ONLY.has(p.method)) return { ...(plan.result ?? {}) };
  const { result, ok } = responseResult(p, frameState(out));
  return ok ? result : { ...result, failed: true };
}

const uri: ModuleDef<UriParams, FrameState> = {
  name: 'uri',
  aliases: namesFor('uri'),
  description: 'An HTTP(S) request made on the host with curl (GET/HEAD read-only; other methods are the change)',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['url'],
    properties: {
      url: { type: 'string', minLength: 1 },
      method: { type: 'string' },
      body: {},
      body_format: { enum: ['json', 'form-urlencoded', 'raw'] },
      headers: { type: 'object' },
      status_code: { type: ['array', 'integer', 'string'] },
      return_content: { type: 'boolean' },
      dest: { type: 'string' },
      force_basic_auth: { type: 'boolean' },
      url_username: { type: 'string' },
      url_password: { type: 'string' },
      timeout: { type: 'integer', minimum: 1 },
      validate_certs: { type: 'boolean' },
      follow_redirects: { type: ['string', 'boolean'] },
    },
  },
  prepare: prepareUri,
  probe: (p) => frameProbe(uriProbeScript(p)),
  plan: planUri,
  finish: finishUri,
};

export default uri;
