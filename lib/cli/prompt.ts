/**
 * One secret line from stdin: without echo on a terminal (the prompt goes to stderr), or the first line of a pipe.
 * Shared by --ask-become-pass and --ask-vault-pass.
 */
import { RunbookError } from '../errors.js';

export function promptSecret(prompt: string, flag: string): Promise<string> {
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
        if (ch === '\u0003') return finish(new RunbookError('usage', `${flag}: prompt interrupted`));
        if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    const onEnd = () => finish(buf ? undefined : new RunbookError('usage', `${flag}: no password on standard input`));
    if (tty) stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
  });
}
