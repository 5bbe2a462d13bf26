/**
 * One error base for all of runbook. Each error has a machine-readable code, and where it came from a YAML node
 * it carries the source position so the CLI can print `file:line:col`.
 */
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
