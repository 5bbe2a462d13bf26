/**
 * Probe framing: the shell prelude every frame probe starts with, the controller-side parse of its NUL-framed
 * `key=value` records into a Frame, and the probe shape ({ script, parse }) of modules whose State is that Frame.
 */
import type { ExecResult } from '../connection/types.js';
import { failure, type Probe, type ProbeFailed } from './types.js';
import { decodeBytes } from './bytes.js';
import { euidShell } from '../connection/scripts.js';
export { inlineProbe } from '../connection/scripts.js';

// ---------------------------------------------------------------------------------------------------------------
// probe framing

/**
 * Shell prelude of every probe (put it first): the framing functions, then the frame's start mark (a NUL byte).
 *
 * The wire format costs no process per value: a record is `KEY=VALUE` + NUL, printed by the `printf` builtin (a
 * shell value can hold any byte but NUL, so the NUL ends it unambiguously, spaces and newlines included), or
 * `KEY:BASE64` + NUL for a file's bytes (`kvfile`: ONE `base64` process per file; binary-safe). Output before the
 * start mark (e.g. a login shell's banner) is ignored. The probe ends with `end=ok`: a probe that died half-way or
 * whose output was cut has no end record, and the plan fails instead of guessing.
 *
 * Helpers that fork nothing: `rb_uid` sets $_uid to the effective uid (from /proc/self/status; `id -u` where there
 * is no /proc), `rb_dirname PATH` sets $_d to dirname(PATH) (POSIX dirname(1) rules, names with newlines intact).
 */
export const PRELUDE = [
  `kv() { printf '%s=%s\\0' "$1" "$2"; }`,
  // kvfile KEY FILE: the file's bytes (read from stdin so odd names never reach another tool's output); a file that
  // cannot be read unsets KEY again instead of leaving a partial value
  `kvfile() { printf '%s:' "$1"; if base64 < "$2"; then printf '\\0'; else printf '\\0'; printf 'rb_unset=%s\\0' "$1"; fi; }`,
  // kvtext KEY FILE SIZE: as kvfile, but a readable file of SIZE <= 4096 bytes of printable ASCII, tabs and line
  // breaks is read by the read builtin and printed as a KEY=VALUE record (no base64 process). The byte count must
  // come out as SIZE (stat's, passed in): a NUL byte, which read drops, or a change while reading falls back to kvfile
  `kvtext() { if [ -r "$2" ] && [ -f "$2" ] && [ "\${3:-4097}" -le 4096 ] 2>/dev/null; then _c=; _l=; _x=; ` +
    `while IFS= read -r _l; do case $_l in *[!"$_tab"\\ -~]*) _x=1; break;; esac; _c="$_c$_l\n"; _l=; done < "$2"; ` +
    `case $_l in *[!"$_tab"\\ -~]*) _x=1;; esac; _c="$_c$_l"; ` +
    `if [ -z "$_x" ] && [ "\${#_c}" = "$3" ]; then printf '%s=%s\\0' "$1" "$_c"; return; fi; fi; kvfile "$1" "$2"; }`,
  `_tab='\t'`,
  `rb_uid() { ${euidShell('_uid')}; }`,
  // the shell's umask from /proc/self/status (Linux 4.7+): no subshell; $(umask) where the line is missing
  `rb_umask() { _um=; while read -r _k _v; do if [ "$_k" = Umask: ]; then _um=$_v; break; fi; done 2>/dev/null </proc/self/status; [ -n "$_um" ] || _um=$(umask); }`,
  `rb_dirname() { _d=$1; case $_d in *[!/]*) ;; '') _d=.; return;; *) _d=/; return;; esac; ` +
    `while :; do case $_d in */) _d=\${_d%/};; *) break;; esac; done; ` +
    `case $_d in */*) _d=\${_d%/*}; while :; do case $_d in */) _d=\${_d%/};; *) break;; esac; done; [ -n "$_d" ] || _d=/;; *) _d=.;; esac; }`,
  `printf '\\0'`,
].join('\n');

export const EPILOGUE = `kv end ok`;

/** The framed output a probe prints for these values (strings as `KEY=VALUE`, buffers as file content). For tests and tools. */
export function formatFrame(values: Record<string, string | Buffer>, end = true): string {
  const recs = Object.entries(values).map(([k, v]) => (typeof v === 'string' ? `${k}=${v}\0` : `${k}:${v.toString('base64')}\0`));
  return `\0${recs.join('')}${end ? 'end=ok\0' : ''}`;
}

interface RawValue {
  /** the record was `KEY:BASE64` (file content) */
  b64: boolean;
  v: string;
}

export class Frame {
  constructor(private readonly raw: Map<string, RawValue>) {}
  has(key: string): boolean {
    return this.raw.has(key);
  }
  /** a value as text; file content is decoded with decodeBytes (bytes that are not UTF-8 survive, see bytes.ts) */
  str(key: string): string | undefined {
    const r = this.raw.get(key);
    if (r === undefined) return undefined;
    return r.b64 ? decodeBytes(Buffer.from(r.v, 'base64')) : r.v;
  }
  /** this frame with some values replaced (text values): the state a plan assumes (check mode, after an earlier change) */
  with(values: Record<string, string>): Frame {
    const raw = new Map(this.raw);
    for (const [k, v] of Object.entries(values)) raw.set(k, { b64: false, v });
    return new Frame(raw);
  }
  buf(key: string): Buffer | undefined {
    const r = this.raw.get(key);
    if (r === undefined) return undefined;
    return r.b64 ? Buffer.from(r.v, 'base64') : Buffer.from(r.v, 'utf8');
  }
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parse framed probe output; returns an error message when the probe failed or its output is incomplete. */
export function parseFrame(r: ExecResult | null): Frame | { error: string } {
  if (!r) return { error: 'internal: the probe did not run' };
  const failed = (): { error: string } => {
    const why = r.stderr.trim() || r.stdout.replace(/\0/g, ' ').trim() || `exit code ${r.code}`;
    return { error: `probe failed (exit ${r.code}): ${why}` };
  };
  const start = r.stdout.indexOf('\0');
  if (r.code !== 0 || start < 0) return failed();
  const raw = new Map<string, RawValue>();
  const recs = r.stdout.slice(start + 1).split('\0');
  const rest = recs.pop(); // text after the last NUL: '' unless the output was cut inside a record
  for (const rec of recs) {
    const m = /[=:]/.exec(rec);
    const key = m ? rec.slice(0, m.index) : '';
    if (!m || !KEY.test(key)) {
      return { error: `probe output is not framed (a probe printed something of its own): ${JSON.stringify(rec.slice(0, 120))}` };
    }
    const v = rec.slice(m.index + 1);
    if (key === 'rb_unset') raw.delete(v);
    else raw.set(key, { b64: m[0] === ':', v });
  }
  const frame = new Frame(raw);
  if (rest !== '' || frame.str('end') !== 'ok') return failed();
  return frame;
}

export function isFrameError(f: Frame | { error: string }): f is { error: string } {
  return !(f instanceof Frame);
}

/** The State of a frame probe: the parsed Frame, or the failure of a probe that failed or was cut short. */
export type FrameState = Frame | ProbeFailed;

/** Pure parse of a frame probe's output into its State. */
export function frameState(r: ExecResult): FrameState {
  const f = parseFrame(r);
  return isFrameError(f) ? { probeFailed: failure('probe_failed', f.error) } : f;
}

/** The probe of a module whose State is the frame its script prints. */
export function frameProbe(script: string): Probe<FrameState> {
  return { script, parse: frameState };
}
