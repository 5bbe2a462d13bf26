/**
 * Reading a `podman X inspect` probe (podman_container, podman_volume): the framed `rc`/`out` of the inspect, or
 * the object is absent ("no such X"), or the plan fails with a message that names the object. It is the typed
 * State of those modules' probes.
 */
import type { ExecResult } from '../connection/types.js';
import { isFrameError, parseFrame, type Frame } from './common.js';

export type InspectRead<T> = { ok: true; frame: Frame; found: T | undefined } | { ok: false; error: string };

export function readInspect<T>(res: ExecResult, kind: 'container' | 'volume', name: string, executable: string, parse: (out: string) => T): InspectRead<T> {
  const who = `podman_${kind} ${name}`;
  const f = parseFrame(res);
  if (isFrameError(f)) return { ok: false, error: `${who}: ${f.error}` };
  if (f.str('no_podman') === '1') return { ok: false, error: `${who}: ${executable} is not installed on the host` };
  const rc = f.str('rc');
  const out = f.str('out') ?? '';
  if (rc === '0') {
    try {
      return { ok: true, frame: f, found: parse(out) };
    } catch (e) {
      return { ok: false, error: `${who}: cannot read podman ${kind} inspect output: ${(e as Error).message}` };
    }
  }
  if (new RegExp(`no such ${kind}`, 'i').test(out)) return { ok: true, frame: f, found: undefined };
  return { ok: false, error: `${who}: podman ${kind} inspect failed (exit ${rc}): ${out.trim()}` };
}
