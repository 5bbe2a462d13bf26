/**
 * Text filters whose exact bytes matter in rendered config files: Ansible's `comment` (plugins/filter/core.py) and
 * Jinja2 3.x's `indent` (which keeps a trailing newline, unlike MiniJinja's). Pure functions.
 */
import { pyStr, type Kw } from './python-compat.js';

const STYLES: Record<string, Record<string, string>> = {
  plain: { decoration: '# ' },
  erlang: { decoration: '% ' },
  c: { decoration: '// ' },
  cblock: { beginning: '/*', decoration: ' * ', end: ' */' },
  xml: { beginning: '<!--', decoration: ' - ', end: '-->' },
};

const replaceAll = (s: string, a: string, b: string) => (a === '' ? s : s.split(a).join(b));
const rstrip = (s: string) => s.replace(/\s+$/, '');

/** Ansible's comment filter, parameter for parameter. */
export function commentFilter(text: string, style: string, kw: Kw): string {
  const styleParams = STYLES[style];
  if (!styleParams) throw new Error(`comment: unknown style '${style}' (plain, erlang, c, cblock, xml)`);
  const given: Record<string, unknown> = { ...kw };
  delete given['style'];
  const prepostfix = 'decoration' in given ? pyStr(given['decoration']) : styleParams['decoration']!;
  const p: Record<string, unknown> = {
    newline: '\n', beginning: '', prefix: rstrip(prepostfix), prefix_count: 1, decoration: '', postfix: rstrip(prepostfix), postfix_count: 1, end: '',
    ...styleParams, ...given,
  };
  const s = (k: string) => pyStr(p[k] ?? '');
  const n = (k: string) => Math.max(0, Math.trunc(Number(p[k])));
  const nl = s('newline'), deco = s('decoration');
  const beginning = s('beginning') ? s('beginning') + nl : '';
  const prefix = s('prefix') ? (s('prefix') !== nl ? s('prefix') + nl : nl).repeat(n('prefix_count')) : '';
  const body = replaceAll(deco + replaceAll(text, nl, nl + deco), deco + nl, rstrip(deco) + nl);
  const postfix = ['', ...Array.from({ length: n('postfix_count') }, () => s('postfix'))].join(nl);
  const end = s('end') ? nl + s('end') : '';
  return beginning + prefix + body + postfix + end;
}

/** Python's str.splitlines(). */
function splitlines(s: string): string[] {
  const parts = s.split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);
  if (parts.length && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** Jinja2 3.x do_indent: the appended newline makes a trailing newline survive. */
export function jinjaIndent(s: string, width: unknown, first: boolean, blank: boolean): string {
  const ind = typeof width === 'string' ? width : ' '.repeat(Math.max(0, Math.trunc(Number(width))));
  s += '\n';
  let rv: string;
  if (blank) rv = splitlines(s).join('\n' + ind);
  else {
    const lines = splitlines(s);
    rv = lines.shift() ?? '';
    if (lines.length) rv += '\n' + lines.map((l) => (l ? ind + l : l)).join('\n');
  }
  return first ? ind + rv : rv;
}
