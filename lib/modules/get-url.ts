/**
 * get_url: download a URL to a file on the host (with curl, else wget, on the host), Ansible's rules:
 * - dest exists, force false, no checksum: nothing to download (only attributes are managed);
 * - checksum given ('ALG:HEX' or 'ALG:URL' is not supported): dest with that checksum is kept, else downloaded
 *   and the download must match it;
 * - force true: the probe fetches the URL and hashes it (a GET, read-only on the host), so the plan knows
 *   whether the content differs: check mode stays exact, and an unchanged file is not rewritten.
 * The download goes to a temp file beside dest, is verified, gets its attributes, then is renamed over dest.
 */
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type Step } from './types.js';
import {
  EPILOGUE,
  FILE_ATTR_SCHEMA,
  PRELUDE,
  attrChanges,
  badArg,
  frameProbe,
  namesFor,
  type FrameState,
  parseStat,
  quote,
  statShell,
  wantedAttrs,
  type WantedAttrs,
} from './common.js';

const ALGS = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'] as const;
type Alg = (typeof ALGS)[number];

export interface GetUrlParams {
  url: string;
  dest: string;
  force: boolean;
  checksum?: { alg: Alg; hex: string };
  timeout: number;
  validateCerts: boolean;
  attrs: WantedAttrs;
}

export function prepareGetUrl(params: Record<string, unknown>): GetUrlParams {
  const url = String(params.url);
  if (!/^(https?|ftp):\/\/[^\s]+$/i.test(url)) throw badArg(`get_url: '${url}' is not an http(s) or ftp URL`);
  const p: GetUrlParams = {
    url,
    dest: String(params.dest),
    force: params.force === true,
    timeout: (params.timeout as number | undefined) ?? 10,
    validateCerts: params.validate_certs !== false,
    attrs: wantedAttrs(params),
  };
  if (typeof params.checksum === 'string' && params.checksum !== '') {
    const m = /^([a-z0-9]+):(.+)$/i.exec(params.checksum.trim());
    if (!m) throw badArg(`get_url: checksum must be 'algorithm:hexdigest', e.g. sha256:...`);
    const alg = m[1]!.toLowerCase() as Alg;
    if (!ALGS.includes(alg)) throw badArg(`get_url: unsupported checksum algorithm '${m[1]}' (${ALGS.join(', ')})`);
    if (!/^[0-9a-f]+$/i.test(m[2]!)) throw badArg(`get_url: checksum '${m[2]}' is not a hex digest (a checksum URL is not supported yet)`);
    p.checksum = { alg, hex: m[2]!.toLowerCase() };
  }
  return p;
}

/** sh: fetch $URL to stdout (curl, else wget) */
function fetchCmd(p: GetUrlParams): string {
  const k = p.validateCerts ? '' : ' -k';
  const nc = p.validateCerts ? '' : ' --no-check-certificate';
  return `if command -v curl >/dev/null 2>&1; then curl -fsSL${k} --max-time ${p.timeout} -- ${quote(p.url)}; else wget -q${nc} -T ${p.timeout} -O - -- ${quote(p.url)}; fi`;
}

export function probeGetUrl(p: GetUrlParams): string {
  const alg = p.checksum?.alg ?? 'sha256';
  const lines = [
    PRELUDE,
    `if ! command -v curl >/dev/null 2>&1 && ! command -v wget >/dev/null 2>&1; then kv no_fetch 1; fi`,
    `p=${quote(p.dest)}`,
    `if [ -d "$p" ]; then _u=${quote(p.url.replace(/[?#].*$/, ''))}; p="\${p%/}/\${_u##*/}"; fi`,
    `kv path "$p"`,
    statShell('d', 'p', true),
    `if [ -f "$p" ] && [ -r "$p" ]; then _s=$(${alg}sum < "$p") && kv sum "\${_s%% *}"; fi`,
    `_d=$(dirname -- "$p"); if [ -d "$_d" ]; then kv parent 1; else kv parent 0; fi`,
  ];
  if (p.force) {
    // fetch and hash in one pass; the fetch's exit status comes back on fd 3 (POSIX sh has no PIPESTATUS)
    lines.push(
      `_all=$( { { { ${fetchCmd(p)}; } 2>/dev/null; echo "rc=$?" >&3; } | ${alg}sum; } 3>&1 )`,
      `case "$_all" in *rc=0*) _r=$(printf '%s\\n' "$_all" | grep -v '^rc=' | head -n 1); kv remote_sum "\${_r%% *}";; *) kv fetch_error "could not fetch the URL (curl/wget $(printf '%s\\n' "$_all" | grep '^rc='))";; esac`,
    );
  }
  lines.push(EPILOGUE);
  return lines.join('\n');
}

export function planGetUrl(p: GetUrlParams, f: FrameState): Plan {
  if (isProbeFailed(f)) return failPlan(f.probeFailed);
  const path = f.str('path') ?? p.dest;
  const st = parseStat(f, 'd');
  const result: Record<string, unknown> = { dest: path, url: p.url, state: 'file' };
  const fail = (msg: string, code = 'get_url', at: string | undefined = path): Plan => failPlan(failure(code, msg, at), result);
  if (f.str('no_fetch') === '1') return fail('neither curl nor wget is installed on this host', 'no_fetch', undefined);
  if (st.type !== 'absent' && st.type !== 'file') return fail(`dest ${path} exists and is a ${st.type}, not a regular file`);
  if (f.str('parent') !== '1') return fail(`Destination ${path.replace(/\/[^/]*$/, '') || '/'} does not exist`, 'missing_parent', path.replace(/\/[^/]*$/, '') || '/');
  const cur = f.str('sum');
  let why: string | undefined;
  if (st.type === 'absent') why = `${path} does not exist`;
  else if (p.checksum && cur !== p.checksum.hex) why = `${path} ${p.checksum.alg} is ${cur ?? 'unreadable'}, want ${p.checksum.hex}`;
  else if (p.force && !p.checksum) {
    const remote = f.str('remote_sum');
    if (remote === undefined) return fail(f.str('fetch_error') ?? `could not fetch ${p.url}`, 'fetch_failed', undefined);
    if (remote !== cur) why = `the content at ${p.url} differs from ${path}`;
  }
  if (!why) {
    const { changes, script } = attrChanges(path, p.attrs, st);
    const reason = p.checksum ? `${path} has ${p.checksum.alg} ${p.checksum.hex}` : p.force ? `${path} has the content at ${p.url}` : `${path} exists and force is false`;
    if (script) return { steps: [{ kind: 'run', script, describe: changes.join(', ') }], reason: changes.join(', '), result };
    return { steps: [], reason, result };
  }
  const alg = p.checksum?.alg ?? 'sha256';
  const q = quote(path);
  const mode = p.attrs.mode ?? (st.type === 'file' ? st.mode : undefined);
  const script = [
    `t=$(mktemp -- ${quote(path)}.rb-get-XXXXXX) || exit 1`,
    `trap 'rm -f -- "$t"' EXIT`,
    `{ ${fetchCmd(p)}; } > "$t" || { echo "get_url: could not fetch ${p.url.replace(/["`$\\]/g, '')}" >&2; exit 1; }`,
    p.checksum ? `_s=$(${alg}sum < "$t"); [ "\${_s%% *}" = ${p.checksum.hex} ] || { echo "get_url: the ${alg} checksum of the download is \${_s%% *}, not ${p.checksum.hex}" >&2; exit 1; }` : '',
    mode !== undefined ? `chmod ${mode} -- "$t"` : `chmod $(printf '%04o' $((0666 & ~$(umask)))) -- "$t"`,
    p.attrs.owner !== undefined ? `chown ${quote(p.attrs.owner)} -- "$t"` : st.type === 'file' ? `chown ${st.uid} -- "$t" 2>/dev/null || true` : '',
    p.attrs.group !== undefined ? `chgrp ${quote(p.attrs.group)} -- "$t"` : st.type === 'file' ? `chgrp ${st.gid} -- "$t" 2>/dev/null || true` : '',
    `mv -f -- "$t" ${q}`,
  ].filter(Boolean).join('\n');
  const steps: Step[] = [{ kind: 'run', script, describe: `download ${p.url} to ${path}` }];
  return { steps, reason: why, result, diffs: [{ label: path, before: st.type === 'absent' ? 'absent\n' : `${alg}: ${cur}\n`, after: `${p.url}${p.checksum ? ` (${alg}: ${p.checksum.hex})` : ''}\n` }] };
}

const getUrl: ModuleDef<GetUrlParams, FrameState> = {
  name: 'get_url',
  aliases: namesFor('get_url'),
  description: 'Download a URL to a file on the host (force, checksum, mode/owner/group)',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['url', 'dest'],
    properties: {
      url: { type: 'string', minLength: 1 },
      dest: { type: 'string', minLength: 1 },
      force: { type: 'boolean' },
      checksum: { type: 'string' },
      timeout: { type: 'integer', minimum: 1 },
      validate_certs: { type: 'boolean' },
      ...FILE_ATTR_SCHEMA,
    },
  },
  prepare: prepareGetUrl,
  probe: (p) => frameProbe(probeGetUrl(p)),
  plan: planGetUrl,
};

export default getUrl;
