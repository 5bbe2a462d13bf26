/**
 * One error base for all of runbook: every error class in lib/ extends RunbookError (TemplateError, VaultError,
 * StepFailed, ...), so each has a machine-readable `code` and, where it came from a file, the source position.
 * Messages never contain the offending source line: `renderError` adds it (with a caret under the column) when the
 * CLI shows the error. `exitCodeFor` is the one mapping from a run's outcome or an error to the process exit code.
 * ConfigErrors (several errors at once) and EndPlay (control flow, not an error) are not RunbookErrors.
 */
import { readFileSync } from 'node:fs';

export type ErrorCode =
  | 'yaml_syntax'
  | 'schema'
  | 'unknown_module'
  | 'unknown_argument'
  | 'missing_argument'
  | 'bad_argument'
  | 'missing_file'
  | 'missing_role'
  | 'undefined_variable'
  | 'template_syntax'
  | 'template_error'
  | 'bad_pattern'
  | 'usage'
  | 'config'
  | 'unreachable'
  | 'host_key'
  | 'task_failed'
  | 'lock'
  | 'vault'
  | 'host_name'
  | 'kv_parse'
  | 'connect'
  | 'step_failed'
  | 'lab_error'
  | 'internal';

export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

export class RunbookError extends Error {
  readonly code: ErrorCode;
  pos?: SourcePos;
  host?: string;
  task?: string;
  constructor(code: ErrorCode, message: string, opts: { pos?: SourcePos; host?: string; task?: string; cause?: unknown } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'RunbookError';
    this.code = code;
    this.pos = opts.pos;
    this.host = opts.host;
    this.task = opts.task;
  }

  /** `file:line:col: message` (or just the message when there is no position). */
  format(): string {
    const where = this.pos ? `${this.pos.file}:${this.pos.line}:${this.pos.col}: ` : '';
    return `${where}${this.message}`;
  }
}

/** Several configuration errors found in one pass: all are shown at once, before any host is contacted. */
export class ConfigErrors extends Error {
  readonly errors: RunbookError[];
  constructor(errors: RunbookError[]) {
    super(errors.map((e) => e.format()).join('\n'));
    this.name = 'ConfigErrors';
    this.errors = errors;
  }
}

/** Collects configuration errors instead of stopping at the first. */
export class ErrorSink {
  readonly errors: RunbookError[] = [];
  add(e: RunbookError): void {
    this.errors.push(e);
  }
  /** Run fn; a RunbookError (or ConfigErrors) it throws is collected and undefined returned. */
  guard<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ConfigErrors) this.errors.push(...e.errors);
      else if (e instanceof RunbookError) this.errors.push(e);
      else throw e;
      return undefined;
    }
  }
  throwIfAny(): void {
    if (this.errors.length) throw new ConfigErrors(this.errors);
  }
}

// ---------------------------------------------------------------- showing an error

/** The largest file renderError reads to show a line (a position in a bigger file is shown without it). */
const MAX_SNIPPET_FILE = 10 * 1024 * 1024;

/**
 * The source line at `pos` with a caret under its column, as two lines (`  12 | text` / `     |    ^`); undefined
 * when the file cannot be read, is vault-encrypted (positions refer to the decrypted text) or has no such line.
 * Tabs before the column are kept in the caret line so it lines up in a terminal.
 */
export function sourceSnippet(pos: SourcePos, read: (file: string) => string | undefined = readSource): string | undefined {
  if (!pos.file || pos.line < 1) return undefined;
  const text = read(pos.file);
  if (text === undefined || text.startsWith('$ANSIBLE_VAULT;')) return undefined;
  const lines = text.split(/\r?\n/);
  if (pos.line > lines.length) return undefined;
  const line = lines[pos.line - 1]!;
  if (line.length > 500 || line.includes('\0')) return undefined;
  const col = Math.max(1, Math.min(pos.col, line.length + 1));
  const num = String(pos.line);
  const gutter = ' '.repeat(num.length);
  const pad = line.slice(0, col - 1).replace(/[^\t]/g, ' ');
  return `  ${num} | ${line}\n  ${gutter} | ${pad}^`;
}

function readSource(file: string): string | undefined {
  try {
    const b = readFileSync(file);
    return b.length > MAX_SNIPPET_FILE ? undefined : b.toString('utf8');
  } catch {
    return undefined;
  }
}

/**
 * An error as the CLI shows it: `file:line:col: message`, then the offending source line with a caret when the
 * error points into a readable file. Other errors: their message.
 */
export function renderError(e: unknown, read?: (file: string) => string | undefined): string {
  if (e instanceof ConfigErrors) return e.errors.map((x) => renderError(x, read)).join('\n');
  if (!(e instanceof RunbookError)) return e instanceof Error ? e.message : String(e);
  const snippet = e.pos ? sourceSnippet(e.pos, read) : undefined;
  return snippet ? `${e.format()}\n${snippet}` : e.format();
}

// ---------------------------------------------------------------- exit codes

/** The exit codes (the same as ansible-playbook's, README "Exit codes"). */
export const EXIT = { ok: 0, error: 1, failed: 2, internal: 3, unreachable: 4 } as const;

/** What ended a command: a run with its recap (and the signal that stopped it, if any), or an error. */
export type Outcome =
  | { recap: readonly { failed: number; unreachable: number }[]; aborted?: { exitCode: number } }
  | { error: unknown };

/**
 * The one mapping to exit codes: a run exits 2 when a task failed, else 4 when a host was unreachable, else 0
 * (a run stopped by SIGINT/SIGTERM: 130/143); a RunbookError or ConfigErrors (usage, configuration) exits 1, any
 * other error is a bug in runbook and exits 3.
 */
export function exitCodeFor(o: Outcome): number {
  if ('error' in o) {
    const e = o.error;
    if (e instanceof ConfigErrors) return EXIT.error;
    if (e instanceof RunbookError) return EXIT.error;
    return EXIT.internal;
  }
  if (o.aborted) return o.aborted.exitCode;
  if (o.recap.some((r) => r.failed > 0)) return EXIT.failed;
  if (o.recap.some((r) => r.unreachable > 0)) return EXIT.unreachable;
  return EXIT.ok;
}
