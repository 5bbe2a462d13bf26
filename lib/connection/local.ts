/**
 * ansible_connection: local. Runs scripts with /bin/sh -c on this machine with the same RunOptions semantics as
 * SshConnection (become via sudo/su only when the user differs from the current one, input on stdin, untrimmed
 * output). Each run gets its own process group so a timeout kills the whole tree.
 */
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { constants as osConstants, userInfo } from 'node:os';
import { RunbookError } from '../errors.js';
import { StdioDriver, prepare, timeoutError, toBuffer } from './exec-core.js';
import type { Connection, ExecResult, RunOptions } from './types.js';

export class LocalConnection implements Connection {
  private _commandCount = 0;
  private readonly currentUser: string;

  constructor(readonly host: string = 'localhost') {
    this.currentUser = userInfo().username;
  }

  get commandCount(): number {
    return this._commandCount;
  }

  async open(): Promise<void> {
    try {
      await access('/bin/sh', constants.X_OK);
    } catch (e) {
      throw new RunbookError('unreachable', `host ${this.host}: /bin/sh is not executable on this machine`, { host: this.host, cause: e });
    }
  }

  run(script: string, opts: RunOptions = {}): Promise<ExecResult> {
    const prep = prepare(this.host, script, opts, this.currentUser);
    const input = toBuffer(opts.input);
    this._commandCount++;
    return new Promise<ExecResult>((resolve, reject) => {
      const child = spawn(prep.argv[0]!, prep.argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (f: () => void) => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        f();
      };
      const driver = new StdioDriver(prep, input, child.stdin);
      driver.start(child.stdout, child.stderr);
      child.on('error', (e) =>
        finish(() => reject(new RunbookError('unreachable', `host ${this.host}: cannot start ${prep.argv[0]}: ${e.message}`, { host: this.host, cause: e }))),
      );
      if (opts.timeoutMs !== undefined && opts.timeoutMs > 0) {
        const ms = opts.timeoutMs;
        timer = setTimeout(() => {
          try {
            if (child.pid) process.kill(-child.pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
          finish(() => reject(timeoutError(this.host, ms)));
        }, ms);
      }
      child.on('close', (code, signal) => {
        finish(() => {
          const o = driver.output();
          if (code !== null) return resolve({ code, stdout: o.stdout, stderr: o.stderr });
          const n = signal ? (osSignal(signal) ?? 0) : 0;
          resolve({ code: 128 + n, stdout: o.stdout, stderr: o.stderr + `runbook: process killed by ${signal ?? 'a signal'}\n` });
        });
      });
    });
  }

  async close(): Promise<void> {}
}

function osSignal(name: NodeJS.Signals): number | undefined {
  return (osConstants.signals as Record<string, number>)[name];
}
