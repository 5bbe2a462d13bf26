/**
 * The become password given with --ask-become-pass / -K: read once, before any host is contacted, kept in this
 * process only, never logged (it reaches a host only on sudo's stdin, after sudo's own prompt; see exec-core.ts).
 * `ansible_become_password` (or `ansible_become_pass`) in the host's variables takes precedence, as in Ansible.
 */
import { RunbookError } from '../errors.js';

let cliPassword: string | undefined;

export function setCliBecomePassword(pw: string | undefined): void {
  cliPassword = pw;
}

export function cliBecomePassword(): string | undefined {
  return cliPassword;
}

/** One line from stdin, without echo on a terminal (the prompt goes to stderr); from a pipe, its first line. */
export function promptBecomePassword(prompt = 'BECOME password: '): Promise<string> {
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  if (tty) process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let buf = '';
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      if (tty) {
        stdin.setRawMode(false);
        process.stderr.write('\n');
      }
      stdin.pause();
      if (err) reject(err);
      else resolve(buf);
    };
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\n' || ch === '\r') return finish();
        if (ch === '\u0003') return finish(new RunbookError('usage', 'become password prompt interrupted'));
        if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    const onEnd = () => finish(buf ? undefined : new RunbookError('usage', '--ask-become-pass: no password on standard input'));
    if (tty) stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
  });
}

/** CLI flag -> the process's become password. */
export async function setupBecomePassword(flags: { askBecomePass?: boolean }): Promise<void> {
  if (flags.askBecomePass) setCliBecomePassword(await promptBecomePassword());
}
