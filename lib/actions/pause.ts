/**
 * pause: wait on the controller. `seconds` / `minutes` (mutually exclusive, integers as Ansible reads them): a
 * bounded sleep, in check mode too (Ansible pauses in check mode). `prompt` with a TTY on stdin: show it and wait
 * for Enter (or the seconds, whichever comes first); without a TTY, as Ansible: no waiting for an answer ("Not
 * waiting for response to prompt as stdin is not interactive"), a given duration is still slept. Never changed.
 * Ansible runs pause once for all hosts (BYPASS_HOST_LOOP); runbook pauses once per host, hosts in parallel.
 */
import { createInterface } from 'node:readline';
import { action } from './types.js';

function int(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Math.trunc(Number(v));
  if (!Number.isFinite(n) || n < 0) throw new Error(`pause: ${what} must be a non-negative integer, not '${String(v)}'`);
  return n;
}

function readLine(prompt: string, echo: boolean, ms: number | undefined): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: echo ? process.stderr : undefined, terminal: echo });
    const timer = ms !== undefined ? setTimeout(() => done(''), ms) : undefined;
    let finished = false;
    const done = (s: string): void => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      rl.close();
      resolve(s);
    };
    process.stderr.write(`${prompt} `);
    rl.once('line', (l) => done(l));
    rl.once('close', () => done(''));
  });
}

export default action('pause', 'wait for some seconds or minutes, or for Enter at a prompt (controller side)', {
  type: 'object', additionalProperties: false,
  properties: {
    seconds: { type: ['integer', 'number', 'string'] },
    minutes: { type: ['integer', 'number', 'string'] },
    prompt: { type: 'string' },
    echo: { type: 'boolean' },
  },
}, async ({ args, task }) => {
  const secs = int(args['seconds'], 'seconds');
  const mins = int(args['minutes'], 'minutes');
  if (secs !== undefined && mins !== undefined) return { status: 'failed', reason: 'parameters are mutually exclusive: minutes|seconds', result: { msg: 'parameters are mutually exclusive: minutes|seconds' } };
  const echo = args['echo'] !== false;
  const unit = mins !== undefined ? 'minutes' : 'seconds';
  const seconds = mins !== undefined ? mins * 60 : secs;
  const start = new Date();
  let userInput = '';
  let warning: string | undefined;
  const interactive = process.stdin.isTTY === true;
  if (seconds === undefined || (typeof args['prompt'] === 'string' && interactive)) {
    if (interactive) {
      const text = `[${task.name ?? 'pause'}]\n${typeof args['prompt'] === 'string' && args['prompt'] ? args['prompt'] : 'Press enter to continue, Ctrl+C to interrupt'}${echo ? '' : ' (output is hidden)'}:`;
      userInput = await readLine(text, echo, seconds !== undefined ? seconds * 1000 : undefined);
    } else if (seconds === undefined) {
      warning = 'Not waiting for response to prompt as stdin is not interactive';
    }
  }
  if (seconds !== undefined && !(typeof args['prompt'] === 'string' && interactive)) await new Promise((r) => setTimeout(r, seconds * 1000));
  const stop = new Date();
  const delta = Math.floor((stop.getTime() - start.getTime()) / 1000);
  const dur = unit === 'minutes' ? Math.round(((stop.getTime() - start.getTime()) / 60000) * 100) / 100 : Math.round(((stop.getTime() - start.getTime()) / 1000) * 100) / 100;
  const result: Record<string, unknown> = { changed: false, rc: 0, stderr: '', stdout: seconds !== undefined ? `Paused for ${dur} ${unit}` : '', start: start.toISOString(), stop: stop.toISOString(), delta, echo, user_input: userInput };
  if (warning) result['warnings'] = [warning];
  return { status: 'ok', reason: warning ?? (seconds !== undefined ? `paused for ${seconds} seconds` : 'paused until Enter'), result };
});
