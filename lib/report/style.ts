/** Colour that honours NO_COLOR (chalk 5 does not: see docs/adr) and FORCE_COLOR. */
import { Chalk, type ChalkInstance } from 'chalk';

export function makeChalk(stream: NodeJS.WriteStream = process.stdout): ChalkInstance {
  const noColor = process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '';
  if (noColor) return new Chalk({ level: 0 });
  if (process.env['FORCE_COLOR'] !== undefined) return new Chalk();
  return new Chalk({ level: stream.isTTY ? 2 : 0 });
}

export type StatusName = 'ok' | 'changed' | 'skipped' | 'failed' | 'unreachable';

export function statusColor(c: ChalkInstance, s: StatusName): (t: string) => string {
  switch (s) {
    case 'ok':
      return c.green;
    case 'changed':
      return c.yellow;
    case 'skipped':
      return c.cyan;
    case 'failed':
    case 'unreachable':
      return c.red;
  }
}
