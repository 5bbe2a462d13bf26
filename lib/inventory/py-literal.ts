/**
 * Ansible's INI inventory types every `key=value` with Python's `ast.literal_eval`, keeping the raw text when that
 * fails. This is a small evaluator of the same literal language: ints (`0x1f`, `1_000`), floats, strings (with
 * prefixes and escapes, adjacent ones concatenated), True/False/None, lists, tuples and sets (as arrays), dicts and
 * unary +/-. Anything else (names like `yes` or `true`, expressions, complex numbers) leaves the text unchanged.
 */

class Fail extends Error {}
/** thrown for every value that is not a literal (most host names and words): one object, no stack trace each time */
const FAIL = new Fail();

export function pyLiteral(text: string): unknown {
  try {
    const p = new Parser(text.replace(/^[ \t]+/, ''));
    const v = p.value();
    p.ws();
    if (p.i < p.s.length) throw FAIL;
    return v;
  } catch (e) {
    if (e instanceof Fail) return text;
    throw e;
  }
}

const NUM = /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*)?\.?(?:\d(?:_?\d)*)?(?:[eE][-+]?\d(?:_?\d)*)?)/;

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  ws(): void {
    for (;;) {
      const c = this.s[this.i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') this.i++;
      else if (c === '\\' && this.s[this.i + 1] === '\n') this.i += 2;
      else if (c === '#') {
        const nl = this.s.indexOf('\n', this.i);
        this.i = nl === -1 ? this.s.length : nl;
      } else return;
    }
  }

  eat(ch: string): boolean {
    this.ws();
    if (this.s[this.i] === ch) {
      this.i++;
      return true;
    }
    return false;
  }

  value(): unknown {
    this.ws();
    const c = this.s[this.i];
    if (c === undefined) throw FAIL;
    if (c === '-' || c === '+') {
      this.i++;
      const v = this.value();
      if (typeof v !== 'number' || typeof (v as unknown) === 'boolean') throw FAIL;
      return c === '-' ? -v : v;
    }
    if (c === '[') return this.seq(']');
    if (c === '(') return this.seq(')');
    if (c === '{') return this.dictOrSet();
    if (/[0-9.]/.test(c)) return this.number();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i));
    if (m) {
      const word = m[0];
      const q = this.s[this.i + word.length];
      if ((q === '"' || q === "'") && /^(?:[rRuUbB]|[rR][bB]|[bB][rR])$/.test(word)) return this.strings();
      this.i += word.length;
      if (word === 'True') return true;
      if (word === 'False') return false;
      if (word === 'None') return null;
      throw FAIL;
    }
    if (c === '"' || c === "'") return this.strings();
    throw FAIL;
  }

  seq(close: string): unknown[] {
    this.i++;
    const out: unknown[] = [];
    let tupleComma = false;
    for (;;) {
      if (this.eat(close)) break;
      out.push(this.value());
      if (this.eat(',')) {
        tupleComma = true;
        continue;
      }
      if (this.eat(close)) break;
      throw FAIL;
    }
    // `(1)` is just 1, `(1,)` and `()` are tuples.
    if (close === ')' && out.length === 1 && !tupleComma) return out[0] as unknown[];
    return out;
  }

  dictOrSet(): unknown {
    this.i++;
    if (this.eat('}')) return {};
    const first = this.value();
    if (this.eat(':')) {
      const obj: Record<string, unknown> = {};
      let k: unknown = first;
      for (;;) {
        const v = this.value();
        if (typeof k === 'object' && k !== null) throw FAIL;
        obj[String(k)] = v;
        if (this.eat(',')) {
          if (this.eat('}')) break;
          k = this.value();
          if (!this.eat(':')) throw FAIL;
          continue;
        }
        if (this.eat('}')) break;
        throw FAIL;
      }
      return obj;
    }
    const out = [first];
    for (;;) {
      if (this.eat('}')) break;
      if (!this.eat(',')) throw FAIL;
      if (this.eat('}')) break;
      out.push(this.value());
    }
    return out;
  }

  number(): number {
    const rest = this.s.slice(this.i);
    const m = NUM.exec(rest);
    const t = m ? m[0] : '';
    if (!t || t === '.' || /^\.[eE]/.test(t)) throw FAIL;
    const after = rest[t.length];
    if (after !== undefined && /[A-Za-z0-9_.]/.test(after)) throw FAIL; // 1j, 1abc, 1..2
    this.i += t.length;
    const clean = t.replace(/_/g, '');
    if (/^0[xX]/.test(clean)) return parseInt(clean.slice(2), 16);
    if (/^0[oO]/.test(clean)) return parseInt(clean.slice(2), 8);
    if (/^0[bB]/.test(clean)) return parseInt(clean.slice(2), 2);
    if (/^\d+$/.test(clean)) {
      if (clean.length > 1 && clean[0] === '0' && /[1-9]/.test(clean)) throw FAIL; // 0644 is a SyntaxError in Python 3
      return parseInt(clean, 10);
    }
    return parseFloat(clean);
  }

  /** One or more adjacent string literals, concatenated. */
  strings(): string {
    let out = '';
    let any = false;
    for (;;) {
      this.ws();
      const m = /^([rRuUbB]{0,2})("""|'''|"|')/.exec(this.s.slice(this.i));
      if (!m || (any === false && m === null)) break;
      const prefix = m[1].toLowerCase();
      if (prefix && !/^(?:r|u|b|rb|br)$/.test(prefix)) throw FAIL;
      this.i += m[0].length;
      out += this.stringBody(m[2], prefix.includes('r'));
      any = true;
    }
    if (!any) throw FAIL;
    return out;
  }

  stringBody(quote: string, raw: boolean): string {
    const triple = quote.length === 3;
    let out = '';
    for (;;) {
      if (this.i >= this.s.length) throw FAIL;
      if (this.s.startsWith(quote, this.i)) {
        this.i += quote.length;
        return out;
      }
      const c = this.s[this.i];
      if (c === '\n' && !triple) throw FAIL;
      if (c !== '\\') {
        out += c;
        this.i++;
        continue;
      }
      const n = this.s[this.i + 1];
      if (n === undefined) throw FAIL;
      if (raw) {
        out += c + n;
        this.i += 2;
        continue;
      }
      this.i += 2;
      switch (n) {
        case '\n':
          break;
        case '\\':
        case "'":
        case '"':
          out += n;
          break;
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'a':
          out += '\x07';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'v':
          out += '\v';
          break;
        case 'x':
        case 'u':
        case 'U': {
          const len = n === 'x' ? 2 : n === 'u' ? 4 : 8;
          const hex = this.s.slice(this.i, this.i + len);
          if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) throw FAIL;
          out += String.fromCodePoint(parseInt(hex, 16));
          this.i += len;
          break;
        }
        default:
          if (/[0-7]/.test(n)) {
            const m = /^[0-7]{1,2}/.exec(this.s.slice(this.i)) ?? [''];
            out += String.fromCharCode(parseInt(n + m[0], 8));
            this.i += m[0].length;
          } else {
            out += '\\' + n;
          }
      }
    }
  }
}
