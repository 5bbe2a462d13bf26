/**
 * What ssh and local share: turning (script, RunOptions) into an argv (env exports, become wrapping), and driving a
 * process's stdio: the sudo password protocol, binary-safe input, output decoded once at the end (never trimmed).
 *
 * sudo with a password: sudo runs with `-S -p <random prompt>`, and the become'd shell first prints a random
 * success marker on stderr. The password is written only when the prompt appears on stderr (so with NOPASSWD or
 * cached credentials it never reaches the script's stdin), and the caller's input only after the success marker.
 * A second prompt (wrong password) closes stdin so sudo fails instead of waiting. Prompt and marker are removed
 * from stderr; the password never appears in any output or error.
 */
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { RunbookError } from '../errors.js';
import { argvScript, envScript, q } from './scripts.js';
import type { RunOptions } from './types.js';

/** Linux MAX_ARG_STRLEN: one argv string (the command sshd hands to the login shell) may not be longer. */
export const MAX_COMMAND_BYTES = 131072 - 1;

export interface Prepared {
  argv: string[];
  /** set when the sudo password protocol is used */
  sudo?: { password: string; prompt: string; success: string };
}

/**
 * Build the argv for a run. `currentUser` is the user the transport runs as: becoming that same user is a no-op.
 */
export function prepare(host: string, script: string, opts: RunOptions, currentUser: string): Prepared {
  if (script.includes('\0')) throw new RunbookError('bad_argument', `host ${host}: script contains a NUL byte`, { host });
  const inner = envScript(opts.env) + script;
  const b = opts.become;
  if (!b || b.user === currentUser) return { argv: ['/bin/sh', '-c', inner] };
  q(b.user); // NUL check
  if (b.user === '' || b.user.startsWith('-')) throw new RunbookError('bad_argument', `host ${host}: invalid become user ${JSON.stringify(b.user)}`, { host });
  if (b.method === 'su') {
    if (b.password !== undefined) {
      throw new RunbookError(
        'config',
        `host ${host}: become_method su with a password needs a terminal, which runbook does not allocate; connect as root, or use become_method sudo`,
        { host },
      );
    }
    return { argv: ['su', '-s', '/bin/sh', '-c', inner, '--', b.user] };
  }
  if (b.method !== 'sudo') throw new RunbookError('config', `host ${host}: unsupported become method ${JSON.stringify(b.method)}`, { host });
  if (b.password === undefined) return { argv: ['sudo', '-H', '-n', '-u', b.user, '--', '/bin/sh', '-c', inner] };
  if (/[\0\n\r]/.test(b.password)) throw new RunbookError('bad_argument', `host ${host}: become password contains a newline or NUL byte`, { host });
  const nonce = randomBytes(12).toString('hex');
  const prompt = `[runbook-sudo-prompt-${nonce}]`;
  const success = `RUNBOOK-BECOME-SUCCESS-${nonce}`;
  return {
    argv: ['sudo', '-H', '-S', '-p', prompt, '-u', b.user, '--', '/bin/sh', '-c', `printf '%s\\n' ${success} >&2\n${inner}`],
    sudo: { password: b.password, prompt, success },
  };
}

/**
 * The command line for a remote login shell: `exec` + quoted argv. With `pidMarker`, the login shell first prints
 * `<marker> <its pid>` on stderr: sshd makes each session a process group leader, so that pid is the process group
 * to kill on a timeout (StdioDriver strips the line and reports the pid).
 */
export function commandLine(host: string, p: Prepared, pidMarker?: string): string {
  const pre = pidMarker ? `printf '%s %s\\n' ${pidMarker} "$$" >&2; ` : '';
  const cmd = pre + 'exec ' + argvScript(p.argv);
  const n = Buffer.byteLength(cmd);
  if (n > MAX_COMMAND_BYTES) {
    throw new RunbookError(
      'internal',
      `host ${host}: script too long for one command line (${n} bytes, the limit is ${MAX_COMMAND_BYTES}); send data on stdin`,
      { host },
    );
  }
  return cmd;
}

export function toBuffer(input: Buffer | string | undefined): Buffer | undefined {
  if (input === undefined) return undefined;
  return Buffer.isBuffer(input) ? input : Buffer.from(input, 'utf8');
}

/** Drives one process's stdio; call output() after the process has finished. */
export class StdioDriver {
  private out: Buffer[] = [];
  private err: Buffer[] = [];
  private pending: Buffer = Buffer.alloc(0); // stderr held back until the sudo protocol is done
  private phase: 'plain' | 'await' | 'done';
  private passwordSent = false;
  private stdinEnded = false;

  private pidBuf: Buffer | undefined;
  /** the remote process group, once the pid line (see commandLine) has arrived */
  pid: number | undefined;

  constructor(
    private readonly prep: Prepared,
    private readonly input: Buffer | undefined,
    private readonly stdin: Writable,
    private readonly pidMarker?: string,
  ) {
    this.phase = prep.sudo ? 'await' : 'plain';
    if (pidMarker) this.pidBuf = Buffer.alloc(0);
    stdin.on('error', () => {}); // EPIPE when the script does not read its stdin
  }

  start(stdout: Readable, stderr: Readable): void {
    stdout.on('data', (c: Buffer) => this.out.push(c));
    stderr.on('data', (c: Buffer) => this.onStderrRaw(c));
    if (this.phase === 'plain') this.sendInput();
  }

  private onStderrRaw(c: Buffer): void {
    if (!this.pidBuf) return this.onStderr(c);
    // the pid line is normally first, but sshd may print before the shell runs ("Could not chdir to home ...")
    this.pidBuf = Buffer.concat([this.pidBuf, c]);
    const at = this.pidBuf.indexOf(this.pidMarker + ' ');
    const nl = at < 0 ? -1 : this.pidBuf.indexOf('\n', at);
    if (nl < 0) {
      if (this.pidBuf.length < 65536) return;
      const all = this.pidBuf;
      this.pidBuf = undefined; // no pid line: pass everything through
      return this.onStderr(all);
    }
    const m = /^(\d+)$/.exec(this.pidBuf.subarray(at + this.pidMarker!.length + 1, nl).toString('latin1'));
    if (m) this.pid = Number(m[1]);
    const rest = Buffer.concat([this.pidBuf.subarray(0, at), this.pidBuf.subarray(nl + 1)]);
    this.pidBuf = undefined;
    if (rest.length) this.onStderr(rest);
  }

  private sendInput(): void {
    if (this.stdinEnded) return;
    this.stdinEnded = true;
    if (this.input && this.input.length) this.stdin.end(this.input);
    else this.stdin.end();
  }

  private onStderr(c: Buffer): void {
    if (this.phase !== 'await') {
      this.err.push(c);
      return;
    }
    const s = this.prep.sudo!;
    this.pending = Buffer.concat([this.pending, c]);
    for (;;) {
      const pi = this.pending.indexOf(s.prompt);
      const si = this.pending.indexOf(s.success + '\n');
      if (si >= 0 && (pi < 0 || si < pi)) {
        this.err.push(this.pending.subarray(0, si));
        const rest = this.pending.subarray(si + s.success.length + 1);
        this.pending = Buffer.alloc(0);
        this.phase = 'done';
        this.sendInput();
        if (rest.length) this.err.push(rest);
        return;
      }
      if (pi < 0) return;
      // a prompt: answer the first, give up on later ones (wrong password)
      this.pending = Buffer.concat([this.pending.subarray(0, pi), this.pending.subarray(pi + s.prompt.length)]);
      if (!this.passwordSent) {
        this.passwordSent = true;
        this.stdin.write(s.password + '\n');
      } else if (!this.stdinEnded) {
        this.stdinEnded = true;
        this.stdin.end();
      }
    }
  }

  output(): { stdout: string; stderr: string } {
    const errParts = this.phase === 'await' ? [...this.err, this.pending] : [...this.err];
    if (this.pidBuf) errParts.unshift(this.pidBuf);
    return { stdout: Buffer.concat(this.out).toString('utf8'), stderr: Buffer.concat(errParts).toString('utf8') };
  }
}

/** Counts concurrent channels; acquire() waits when all are in use. */
export class Semaphore {
  private waiting: Array<() => void> = [];
  private used = 0;
  constructor(private readonly max: number) {}
  async acquire(): Promise<void> {
    if (this.used < this.max) {
      this.used++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.used--;
  }
  get inUse(): number {
    return this.used;
  }
}

export function timeoutError(host: string, ms: number): RunbookError {
  return new RunbookError('task_failed', `host ${host}: command timed out after ${ms} ms (channel closed, process signalled)`, { host });
}
