/** TemplateError, the conversion of MiniJinja's errors to it, and WASM values -> plain JS (for template.ts). */
import { RunbookError, type SourcePos } from '../errors.js';
import type { Kw } from './python-compat.js';

/** A template that cannot render. `line` is the line in the template text; `pos`, when set, locates it in a file. */
export class TemplateError extends RunbookError {
  declare readonly code: 'undefined_variable' | 'template_syntax' | 'template_error';
  variable?: string;
  line?: number;
  constructor(code: TemplateError['code'], message: string, opts: { variable?: string; line?: number; pos?: SourcePos } = {}) {
    super(code, message, opts.pos ? { pos: opts.pos } : {});
    this.name = 'TemplateError';
    if (opts.variable !== undefined) this.variable = opts.variable;
    if (opts.line !== undefined) this.line = opts.line;
  }
}

export function convertError(e: unknown, templateName?: string): TemplateError {
  const raw = e instanceof Error ? e.message : String(e);
  const firstLine = raw.split('\n')[0];
  const loc = /\s*\(in ([^:)]*):(\d+)\)\s*$/.exec(firstLine);
  const line = loc ? Number(loc[2]) : undefined;
  let msg = loc ? firstLine.slice(0, loc.index) : firstLine;
  const where = line !== undefined ? ` (line ${line}${templateName || (loc && !loc[1].startsWith('__t')) ? ` of ${templateName ?? loc![1]}` : ''})` : '';
  if (/^syntax error/.test(msg)) return new TemplateError('template_syntax', `template syntax error: ${msg.replace(/^syntax error:\s*/, '')}${where}`, { line });
  if (/^undefined value/.test(msg)) return new TemplateError('undefined_variable', `undefined value${where}`, { line });
  msg = msg.replace(/__pyfmt|__py|__cap|__get|__U/g, 'template');
  return new TemplateError('template_error', `${msg}${where}`, { line });
}

/** WASM values → plain JS: Maps become objects, undefined (MiniJinja's None) becomes null. */
export function toJS(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) o[String(k)] = toJS(x);
    return o;
  }
  if (Array.isArray(v)) return v.map(toJS);
  return v;
}

export function splitKwargs(raw: unknown[], names: readonly string[] | undefined, forceLastMap = false): [unknown[], Kw] {
  const last = raw[raw.length - 1];
  if (last instanceof Map && last.size > 0 && (forceLastMap || (names && [...last.keys()].every((k) => names.includes(String(k)))))) {
    return [raw.slice(0, -1).map(toJS), toJS(last) as Kw];
  }
  return [raw.map(toJS), {}];
}
