/**
 * file's access_time / modification_time (+ _format): Ansible's 'now', 'preserve', or a time in Python strptime
 * format (default '%Y%m%d%H%M.%S'), read as the HOST's local time (Ansible calls time.mktime on the host). The
 * controller parses the format; the probe turns the broken-down time into seconds with the host's `date`, so the
 * host's time zone decides, as in Ansible.
 */
import { badArg } from './common.js';

export type TimeSpec = { kind: 'now' } | { kind: 'at'; local: string };

export const DEFAULT_TIME_FORMAT = '%Y%m%d%H%M.%S';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** Python's time.strptime for the common directives -> 'YYYY-MM-DD HH:MM:SS' (local, as `date -d` reads it). */
export function strptimeLocal(value: string, format: string): string {
  let y = 1900, mo = 1, d = 1, h = 0, mi = 0, s = 0;
  let pm: boolean | undefined;
  let i = 0;
  const num = (max: number): number => {
    const m = new RegExp(`^\\d{1,${max}}`).exec(value.slice(i));
    if (!m) throw new Error(`expected a number at '${value.slice(i)}'`);
    i += m[0].length;
    return Number(m[0]);
  };
  for (let f = 0; f < format.length; f++) {
    const c = format[f]!;
    if (c !== '%') {
      if (/\s/.test(c)) {
        while (i < value.length && /\s/.test(value[i]!)) i++;
        continue;
      }
      if (value[i] !== c) throw new Error(`'${value}' does not match format '${format}'`);
      i++;
      continue;
    }
    const dir = format[++f];
    switch (dir) {
      case 'Y': y = num(4); break;
      case 'y': { const v = num(2); y = v < 69 ? 2000 + v : 1900 + v; break; }
      case 'm': mo = num(2); break;
      case 'd': d = num(2); break;
      case 'H': h = num(2); break;
      case 'I': h = num(2); break;
      case 'M': mi = num(2); break;
      case 'S': s = num(2); break;
      case 'p': { const m = /^(am|pm)/i.exec(value.slice(i)); if (!m) throw new Error('expected AM or PM'); pm = m[1]!.toLowerCase() === 'pm'; i += 2; break; }
      case 'b': case 'B': {
        const m = /^[A-Za-z]+/.exec(value.slice(i));
        const k = m ? MONTHS.indexOf(m[0].slice(0, 3).toLowerCase()) : -1;
        if (k < 0) throw new Error(`expected a month name at '${value.slice(i)}'`);
        mo = k + 1; i += m![0].length; break;
      }
      case '%': if (value[i] !== '%') throw new Error(`expected '%'`); i++; break;
      default: throw new Error(`the directive %${dir} is not supported by runbook`);
    }
  }
  if (i !== value.length) throw new Error(`unconverted data remains: ${value.slice(i)}`);
  if (pm !== undefined) h = (h % 12) + (pm ? 12 : 0);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 61) throw new Error(`'${value}' is not a valid time`);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${String(y).padStart(4, '0')}-${p2(mo)}-${p2(d)} ${p2(h)}:${p2(mi)}:${p2(s)}`;
}

/** The TimeSpec of access_time / modification_time (undefined: preserve), with Ansible's per-state default. */
export function timeSpec(value: unknown, format: unknown, state: string | undefined): TimeSpec | undefined {
  const v = value === undefined || value === null ? (state === 'touch' ? 'now' : 'preserve') : String(value);
  if (v === 'preserve') return undefined;
  if (v === 'now') return { kind: 'now' };
  const fmt = typeof format === 'string' && format !== '' ? format : DEFAULT_TIME_FORMAT;
  try {
    return { kind: 'at', local: strptimeLocal(v, fmt) };
  } catch (e) {
    throw badArg(`Error while obtaining timestamp for time ${v} using format ${fmt}: ${(e as Error).message}`);
  }
}
