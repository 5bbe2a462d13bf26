/**
 * Python regular expressions for the file modules (lineinfile, replace, blockinfile): the one translation in
 * lib/vars/python-compat.ts (the regex_* filters use it too), with errors as bad_argument naming the parameter.
 * The modules match latin1 text (one char per byte), so no u flag.
 */
import { pyExpand, pyRegex as compilePyRegex, PyRegexError, type PyMatch } from '../vars/python-compat.js';
import { badArg } from './common.js';

/** Compile a Python pattern; `flags` may hold m and s (re.MULTILINE, re.DOTALL) and JS flags (g, y, d). */
export function pyRegex(src: string, what: string, flags = ''): RegExp {
  try {
    return compilePyRegex(src, { multiline: flags.includes('m'), dotall: flags.includes('s'), flags: flags.replace(/[ms]/g, ''), unicode: false });
  } catch (e) {
    if (e instanceof PyRegexError) throw badArg(`${what}: ${e.message}`);
    throw e;
  }
}

/** Python's match.expand(template): \1..\99, \g<n>, \g<name>, and the usual character escapes. */
export function expandTemplate(tpl: string, m: PyMatch): string {
  try {
    return pyExpand(tpl, m);
  } catch (e) {
    if (e instanceof PyRegexError) throw badArg(`backrefs: ${e.message}`);
    throw e;
  }
}
