/** Ansible-flavoured Jinja tests (`x is version(...)`, `x is match(...)`, ...) for the MiniJinja engine. */
import { ansibleBoolean, deepEqual, isObj, kwOr, pyRegex, pyStr, pyTruthy, toList, type Kw } from './python-compat.js';

export interface TestSpec { fn: (v: unknown, args: unknown[], kw: Kw) => boolean; kwargs?: readonly string[] }

function versionCompare(a: string, b: string): number {
  const parts = (s: string) => s.split(/(\d+|[a-z]+|\.)/i).filter((p) => p && p !== '.' && !/^[\s\-_+~]+$/.test(p)).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const x = parts(a), y = parts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (i >= x.length) return -1;
    if (i >= y.length) return 1;
    const p = x[i], q = y[i];
    if (p === q) continue;
    if (typeof p === 'number' && typeof q === 'number') return p - q;
    if (typeof p === 'number') return 1; // LooseVersion-ish: numbers sort after letters (1.0 > 1.0rc)
    if (typeof q === 'number') return -1;
    return p < q ? -1 : 1;
  }
  return 0;
}

function resultDict(v: unknown, test: string): Record<string, unknown> {
  if (!isObj(v)) throw new Error(`The '${test}' test expects a dictionary`);
  return v;
}

function regexTest(v: unknown, args: unknown[], kw: Kw, matchType: string): boolean {
  const re = pyRegex(String(kwOr(args, kw, 0, 'pattern', '')), { ignorecase: kwOr(args, kw, 1, 'ignorecase'), multiline: kwOr(args, kw, 2, 'multiline'), flags: matchType === 'match' ? 'y' : '' });
  return re.test(pyStr(v));
}

const VERSION_OPS: Record<string, (c: number) => boolean> = {
  lt: (c) => c < 0, '<': (c) => c < 0, lessthan: (c) => c < 0,
  le: (c) => c <= 0, '<=': (c) => c <= 0,
  gt: (c) => c > 0, '>': (c) => c > 0, greaterthan: (c) => c > 0,
  ge: (c) => c >= 0, '>=': (c) => c >= 0,
  eq: (c) => c === 0, '==': (c) => c === 0, '=': (c) => c === 0, equalto: (c) => c === 0,
  ne: (c) => c !== 0, '!=': (c) => c !== 0, '<>': (c) => c !== 0, notequal: (c) => c !== 0,
};

const versionTest: TestSpec = {
  fn: (v, a, kw) => {
    const op = String(kwOr(a, kw, 1, 'operator', 'eq'));
    const f = VERSION_OPS[op];
    if (!f) throw new Error(`version: invalid operator '${op}'`);
    return f(versionCompare(pyStr(v), pyStr(kwOr(a, kw, 0, 'version', ''))));
  },
  kwargs: ['version', 'operator', 'strict', 'version_type'],
};

/** Ansible's truthy test: with convert_bool, what boolean() knows is converted first; anything else by Python truthiness. */
const boolTrue = (v: unknown, convert: boolean) => (convert && typeof v === 'string' ? (ansibleBoolean(v) ?? pyTruthy(v)) : pyTruthy(v));

export const TESTS: Record<string, TestSpec> = {
  truthy: { fn: (v, a, kw) => boolTrue(v, pyTruthy(kwOr(a, kw, 0, 'convert_bool', false))), kwargs: ['convert_bool'] },
  falsy: { fn: (v, a, kw) => !boolTrue(v, pyTruthy(kwOr(a, kw, 0, 'convert_bool', false))), kwargs: ['convert_bool'] },
  match: { fn: (v, a, kw) => regexTest(v, a, kw, 'match'), kwargs: ['pattern', 'ignorecase', 'multiline'] },
  search: { fn: (v, a, kw) => regexTest(v, a, kw, 'search'), kwargs: ['pattern', 'ignorecase', 'multiline'] },
  regex: { fn: (v, a, kw) => regexTest(v, a, kw, String(kwOr(a, kw, 3, 'match_type', 'search'))), kwargs: ['pattern', 'ignorecase', 'multiline', 'match_type'] },
  success: { fn: (v) => !pyTruthy(resultDict(v, 'success').failed) },
  succeeded: { fn: (v) => !pyTruthy(resultDict(v, 'succeeded').failed) },
  failed: { fn: (v) => pyTruthy(resultDict(v, 'failed').failed) },
  failure: { fn: (v) => pyTruthy(resultDict(v, 'failure').failed) },
  changed: { fn: (v) => pyTruthy(resultDict(v, 'changed').changed) },
  change: { fn: (v) => pyTruthy(resultDict(v, 'change').changed) },
  skipped: { fn: (v) => pyTruthy(resultDict(v, 'skipped').skipped) },
  skip: { fn: (v) => pyTruthy(resultDict(v, 'skip').skipped) },
  unreachable: { fn: (v) => pyTruthy(resultDict(v, 'unreachable').unreachable) },
  reachable: { fn: (v) => !pyTruthy(resultDict(v, 'reachable').unreachable) },
  version: versionTest,
  version_compare: versionTest,
  contains: { fn: (v, a) => toList(v).some((x) => deepEqual(x, a[0])) },
  subset: { fn: (v, a) => toList(v).every((x) => toList(a[0]).some((y) => deepEqual(x, y))) },
  superset: { fn: (v, a) => toList(a[0]).every((x) => toList(v).some((y) => deepEqual(x, y))) },
  // Jinja2: anything with len() and [] — str, list and dict.
  sequence: { fn: (v) => typeof v === 'string' || Array.isArray(v) || isObj(v) },
};
