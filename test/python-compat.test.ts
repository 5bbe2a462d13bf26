/**
 * lib/vars/python-compat.ts: Python `re` patterns and replacement templates, truthiness and Ansible's boolean
 * coercions. The expected values were produced by CPython 3 (`re.search`, `re.sub`, `bool()`) and Ansible's
 * convert_bool.boolean; the regex_* filters and the file modules (lineinfile, replace) must agree with them and so
 * with each other.
 */
import { describe, expect, it } from 'vitest';
import { ansibleBoolean, pyBool, pyRegex, pySub, pyTruthy, PyRegexError } from '../lib/vars/python-compat.js';
import { createTemplar } from '../lib/vars/template.js';
import { pyRegex as modulePyRegex } from '../lib/modules/py-regex.js';
import { replaceText } from '../lib/modules/replace.js';

// [pattern, text, re flags (i/m/s), what re.search(...).group(0) returns in Python, or null]
const SEARCH: [string, string, string, string | null][] = [
  ['(?P<word>\\w+) (?P=word)', 'hello hello world', '', 'hello hello'],
  ['\\Aabc', 'x\nabc', 'm', null],
  ['abc\\Z', 'abc\n', '', null],
  ['abc$', 'abc\n', '', 'abc'],
  ['(?i)HELLO', 'hello', '', 'hello'],
  ['(?s)a.b', 'a\nb', '', 'a\nb'],
  ['a.b', 'a\nb', '', null],
  ['a.b', 'a\rb', '', 'a\rb'],
  ['(?x) a b  # comment\n c', 'abc', '', 'abc'],
  ['[]a]+', 'x]a]', '', ']a]'],
  ['a\\.b\\-c', 'a.b-c', '', 'a.b-c'],
  ['(?#note)abc', 'xabc', '', 'abc'],
  ['\\U0001F600', 'x\u{1F600}', '', '\u{1F600}'],
  ['^.$', '\u{1F600}', '', '\u{1F600}'],
  ['\\d$', '1\r\n2', 'm', '2'],
  ['^b', 'a\rb', 'm', null],
];

// [pattern, replacement, text, count, what re.sub returns in Python]
const SUB: [string, string, string, number, string][] = [
  ['$', 'X', 'abc\n', 0, 'abcX\nX'],
  ['(?m)^', '> ', 'a\nb', 0, '> a\n> b'],
  ['(\\w+)@(\\w+)', '\\2 at \\g<1>', 'me@host', 0, 'host at me'],
  ['a', '\\g<0>\\g<0>', 'banana', 0, 'baanaanaa'],
  ['x', '$1', 'x', 0, '$1'],
  ['a', 'b', 'aaa', 2, 'bba'],
  ['(a)|b', '[\\1]', 'ab', 0, '[a][]'],
  ['(?P<k>\\w+)=(?P<v>\\w+)', '\\g<v>=\\g<k>', 'a=1, b=2', 0, '1=a, 2=b'],
  ['o', '\\n', 'foo', 0, 'f\n\n'],
];

const opts = (f: string) => ({ ignorecase: f.includes('i'), multiline: f.includes('m'), dotall: f.includes('s') });

describe('Python regular expressions', () => {
  for (const [pattern, text, flags, want] of SEARCH) {
    it(`re.search(${JSON.stringify(pattern)}, ${JSON.stringify(text)}${flags ? `, ${flags}` : ''}) = ${JSON.stringify(want)}`, () => {
      const m = pyRegex(pattern, opts(flags)).exec(text);
      expect(m ? m[0] : null).toBe(want);
    });
  }

  for (const [pattern, repl, text, count, want] of SUB) {
    it(`re.sub(${JSON.stringify(pattern)}, ${JSON.stringify(repl)}, ${JSON.stringify(text)}${count ? `, count=${count}` : ''})`, () => {
      expect(pySub(pyRegex(pattern, { flags: 'g' }), repl, text, count)).toBe(want);
    });
  }

  it('errors as Python raises them: bad escape, invalid group reference, a pattern that does not compile', () => {
    expect(() => pySub(pyRegex('a'), '\\q', 'a')).toThrow(/bad escape \\q/);
    expect(() => pySub(pyRegex('(a)'), '\\2', 'a')).toThrow(/invalid group reference 2/);
    expect(() => pyRegex('(')).toThrow(PyRegexError);
  });

  it('the regex filters read a pattern as re does', () => {
    const t = createTemplar();
    expect(t.render('{{ "abc\n" | regex_replace("$", "X") }}', {})).toBe('abcX\nX');
    expect(t.render('{{ "me@host" | regex_replace("(\\\\w+)@(\\\\w+)", "\\\\2 at \\\\g<1>") }}', {})).toBe('host at me');
    expect(t.render('{{ "x\nabc" | regex_search("\\\\Aabc", multiline=true) }}', {})).toBe(null);
    expect(t.render('{{ "a\rb" is match("a.b") }}', {})).toBe(true);
    expect(t.render('{{ "banana" | regex_replace("a", "o", count=2) }}', {})).toBe('bonona');
  });

  it('the file modules read the same pattern the same way as the filters', () => {
    for (const [pattern, text, flags, want] of SEARCH) {
      if (/[^\x00-\xff]/.test(text)) continue; // the modules match latin1 bytes
      const m = modulePyRegex(pattern, 'regexp', flags).exec(text);
      expect(m ? m[0] : null, pattern).toBe(want);
    }
    expect(() => modulePyRegex('(', 'regexp')).toThrow(/^regexp: invalid regular expression '\('/);
    // replace: MULTILINE like Ansible's; \Z is still the very end of the file
    const base = { path: '/f', create: false, attrs: {} } as const;
    // re.sub('^', '# ', 'a\nb\n', flags=re.M) == '# a\n# b\n# ' (a MULTILINE ^ matches after the final newline too)
    expect(replaceText('a\nb\n', { ...base, regexp: '^', replace: '# ' }).after).toBe('# a\n# b\n# ');
    expect(replaceText('a\nb\n', { ...base, regexp: 'b\\n\\Z', replace: 'c\n' }).after).toBe('a\nc\n');
    expect(replaceText('x\nx\n', { ...base, regexp: 'x$\\Z', replace: 'y' }).after).toBe('x\nx\n');
  });
});

describe('Python truthiness and Ansible booleans', () => {
  it('pyTruthy is bool()', () => {
    const values: [unknown, boolean][] = [
      [0, false], [0.0, false], ['', false], [[], false], [{}, false], [null, false], [undefined, false],
      ['False', true], ['0', true], [[0], true], [{ a: 0 }, true], [1, true], [-1, true],
    ];
    for (const [v, want] of values) expect(pyTruthy(v), JSON.stringify(v)).toBe(want);
  });

  it("ansibleBoolean is convert_bool.boolean: the two word lists, any case, stripped; other values undefined", () => {
    for (const v of ['y', 'yes', 'on', '1', 'true', 't', 'YES', ' True ', 1, true]) expect(ansibleBoolean(v), String(v)).toBe(true);
    for (const v of ['n', 'no', 'off', '0', 'false', 'f', 'Off', 0, false]) expect(ansibleBoolean(v), String(v)).toBe(false);
    for (const v of ['', 'maybe', '2', 2, null, undefined, [], {}]) expect(ansibleBoolean(v), String(v)).toBeUndefined();
  });

  it('the bool filter never fails: unknown words are false, t is false as in Ansible', () => {
    expect(pyBool('yes')).toBe(true);
    expect(pyBool('On')).toBe(true);
    expect(pyBool(1)).toBe(true);
    expect(pyBool('t')).toBe(false);
    expect(pyBool('maybe')).toBe(false);
    expect(pyBool(null)).toBe(false);
  });

  it('is truthy(convert_bool=true) converts what boolean() knows, Python truthiness otherwise', () => {
    const t = createTemplar();
    expect(t.render('{{ "no" is truthy(convert_bool=true) }}', {})).toBe(false);
    expect(t.render('{{ "f" is truthy(convert_bool=true) }}', {})).toBe(false);
    expect(t.render('{{ "no" is truthy }}', {})).toBe(true);
    expect(t.render('{{ "maybe" is truthy(convert_bool=true) }}', {})).toBe(true);
  });
});
