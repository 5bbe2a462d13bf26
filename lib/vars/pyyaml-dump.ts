/**
 * yaml.dump as Ansible's to_yaml / to_nice_yaml call it (PyYAML's SafeDumper / libyaml emitter, allow_unicode=True),
 * byte for byte for JSON-like data: the scalar analysis and styles (plain, single- and double-quoted), line folding at
 * `width`, YAML 1.1 implicit types quoted ('yes', '012', '1.0', '~', ''), indentless block sequences in mappings,
 * empty collections as `{}`/`[]`, sorted keys, and with defaultFlowStyle null (to_yaml) collections of scalars in
 * flow style. Pure functions, no dependencies.
 */

export interface DumpOptions {
  /** best_indent: 2..9 (anything else is 2, as PyYAML) */
  indent?: number;
  /** best_width (80) */
  width?: number;
  /** false: block everywhere (to_nice_yaml); null: flow for collections of scalars only (to_yaml); true: flow */
  defaultFlowStyle?: boolean | null;
  sortKeys?: boolean;
  explicitStart?: boolean;
  explicitEnd?: boolean;
}

const BREAKS = '\n\x85\u2028\u2029';
const WS_Z = '\0 \t\r\n\x85\u2028\u2029';

// PyYAML's implicit resolvers (YAML 1.1): a string that would read back as another type must be quoted
const IMPLICIT = [
  /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
  /^(?:<<)$/,
  /^(?:~|null|Null|NULL|)$/,
  /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/,
  /^(?:=)$/,
];

interface Analysis {
  empty: boolean; multiline: boolean; allowFlowPlain: boolean; allowBlockPlain: boolean; allowSingleQuoted: boolean;
}

function analyze(s: string): Analysis {
  if (!s) return { empty: true, multiline: false, allowFlowPlain: false, allowBlockPlain: true, allowSingleQuoted: true };
  const chars = Array.from(s);
  let blockInd = false, flowInd = false, lineBreaks = false, special = false;
  let leadingSpace = false, leadingBreak = false, trailingSpace = false, trailingBreak = false, breakSpace = false, spaceBreak = false;
  if (s.startsWith('---') || s.startsWith('...')) blockInd = flowInd = true;
  let precededByWs = true;
  let followedByWs = chars.length === 1 || WS_Z.includes(chars[1]!);
  let prevSpace = false, prevBreak = false;
  for (let i = 0; i < chars.length; ) {
    const ch = chars[i]!;
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(ch)) flowInd = blockInd = true;
      if ('?:'.includes(ch)) { flowInd = true; if (followedByWs) blockInd = true; }
      if (ch === '-' && followedByWs) flowInd = blockInd = true;
    } else {
      if (',?[]{}'.includes(ch)) flowInd = true;
      if (ch === ':') { flowInd = true; if (followedByWs) blockInd = true; }
      if (ch === '#' && precededByWs) flowInd = blockInd = true;
    }
    if (BREAKS.includes(ch)) lineBreaks = true;
    const cp = ch.codePointAt(0)!;
    if (!(ch === '\n' || (cp >= 0x20 && cp <= 0x7e))) {
      const printable = (cp === 0x85 || (cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp < 0x10ffff)) && cp !== 0xfeff;
      if (!printable) special = true; // allow_unicode: printable non-ASCII stays as it is
    }
    if (ch === ' ') {
      if (i === 0) leadingSpace = true;
      if (i === chars.length - 1) trailingSpace = true;
      if (prevBreak) breakSpace = true;
      prevSpace = true; prevBreak = false;
    } else if (BREAKS.includes(ch)) {
      if (i === 0) leadingBreak = true;
      if (i === chars.length - 1) trailingBreak = true;
      if (prevSpace) spaceBreak = true;
      prevSpace = false; prevBreak = true;
    } else { prevSpace = false; prevBreak = false; }
    i++;
    precededByWs = WS_Z.includes(ch);
    followedByWs = i + 1 >= chars.length || WS_Z.includes(chars[i + 1]!);
  }
  let flowPlain = true, blockPlain = true, single = true;
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) flowPlain = blockPlain = false;
  if (breakSpace) flowPlain = blockPlain = single = false;
  if (spaceBreak || special) flowPlain = blockPlain = single = false;
  if (lineBreaks) flowPlain = blockPlain = false;
  if (flowInd) flowPlain = false;
  if (blockInd) blockPlain = false;
  return { empty: false, multiline: lineBreaks, allowFlowPlain: flowPlain, allowBlockPlain: blockPlain, allowSingleQuoted: single };
}

const ESCAPES: Record<string, string> = {
  '\0': '0', '\x07': 'a', '\x08': 'b', '\x09': 't', '\x0A': 'n', '\x0B': 'v', '\x0C': 'f', '\x0D': 'r', '\x1B': 'e',
  '"': '"', '\\': '\\', '\x85': 'N', '\xA0': '_', '\u2028': 'L', '\u2029': 'P',
};

/** Python repr of a float as PyYAML's represent_float writes it. */
function floatText(n: number): string {
  if (Number.isNaN(n)) return '.nan';
  if (n === Infinity) return '.inf';
  if (n === -Infinity) return '-.inf';
  let s = String(n).toLowerCase();
  if (/e/.test(s)) {
    // Python: 1e+20, 1e-07 (two-digit exponent at least)
    s = s.replace(/e([+-])(\d)$/, 'e$10$2');
  }
  if (!s.includes('.') && s.includes('e')) s = s.replace('e', '.0e');
  return s;
}

class Emitter {
  out = '';
  column = 0;
  whitespace = true;
  indention = true;
  openEnded = false;
  indent: number | null = null;
  indents: (number | null)[] = [];
  flowLevel = 0;
  rootContext = false;
  mappingContext = false;
  simpleKeyContext = false;
  constructor(readonly bestIndent: number, readonly bestWidth: number, readonly flowStyle: boolean | null, readonly sortKeys: boolean) {}

  write(s: string): void { this.out += s; }
  lineBreak(): void { this.whitespace = true; this.indention = true; this.column = 0; this.write('\n'); }
  writeIndent(): void {
    const indent = this.indent ?? 0;
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace)) this.lineBreak();
    if (this.column < indent) {
      this.whitespace = true;
      this.write(' '.repeat(indent - this.column));
      this.column = indent;
    }
  }
  indicator(ind: string, needWs: boolean, whitespace = false, indention = false): void {
    const data = this.whitespace || !needWs ? ind : ' ' + ind;
    this.whitespace = whitespace;
    this.indention = this.indention && indention;
    this.column += data.length;
    this.openEnded = false;
    this.write(data);
  }
  increaseIndent(flow = false, indentless = false): void {
    this.indents.push(this.indent);
    if (this.indent === null) this.indent = flow ? this.bestIndent : 0;
    else if (!indentless) this.indent += this.bestIndent;
  }
  popIndent(): void { this.indent = this.indents.pop() ?? null; }
  data(s: string): void { this.column += Array.from(s).length; this.write(s); }

  // ---------------------------------------------------------------- scalars

  writePlain(text: string, split: boolean): void {
    if (this.rootContext) this.openEnded = true;
    if (!text) return;
    if (!this.whitespace) this.data(' ');
    this.whitespace = false;
    this.indention = false;
    const t = Array.from(text);
    let spaces = false, start = 0;
    for (let end = 0; end <= t.length; end++) {
      const ch = end < t.length ? t[end] : undefined;
      if (spaces) {
        if (ch !== ' ') {
          if (start + 1 === end && this.column > this.bestWidth && split) {
            this.writeIndent();
            this.whitespace = false;
            this.indention = false;
          } else this.data(t.slice(start, end).join(''));
          start = end;
        }
      } else if (ch === undefined || ch === ' ') {
        this.data(t.slice(start, end).join(''));
        start = end;
      }
      if (ch !== undefined) spaces = ch === ' ';
    }
  }

  writeSingleQuoted(text: string, split: boolean): void {
    this.indicator("'", true);
    const t = Array.from(text);
    let spaces = false, breaks = false, start = 0;
    for (let end = 0; end <= t.length; end++) {
      const ch = end < t.length ? t[end] : undefined;
      if (spaces) {
        if (ch === undefined || ch !== ' ') {
          if (start + 1 === end && this.column > this.bestWidth && split && start !== 0 && end !== t.length) this.writeIndent();
          else this.data(t.slice(start, end).join(''));
          start = end;
        }
      } else if (breaks) {
        if (ch === undefined || !BREAKS.includes(ch)) {
          if (t[start] === '\n') this.lineBreak();
          for (const br of t.slice(start, end)) {
            if (br === '\n') this.lineBreak();
            else { this.write(br); this.whitespace = true; this.indention = true; this.column = 0; }
          }
          this.writeIndent();
          start = end;
        }
      } else if (ch === undefined || ' '.includes(ch) || BREAKS.includes(ch) || ch === "'") {
        if (start < end) {
          this.data(t.slice(start, end).join(''));
          start = end;
        }
      }
      if (ch === "'") {
        this.data("''");
        start = end + 1;
      }
      if (ch !== undefined) {
        spaces = ch === ' ';
        breaks = BREAKS.includes(ch);
      }
    }
    this.indicator("'", false);
  }

  writeDoubleQuoted(text: string, split: boolean): void {
    this.indicator('"', true);
    const t = Array.from(text);
    let start = 0;
    for (let end = 0; end <= t.length; end++) {
      const ch = end < t.length ? t[end] : undefined;
      const cp = ch?.codePointAt(0) ?? 0;
      if (ch === undefined || '"\\\x85\u2028\u2029\uFEFF'.includes(ch) || !((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || cp >= 0x10000)) {
        if (start < end) {
          this.data(t.slice(start, end).join(''));
          start = end;
        }
        if (ch !== undefined) {
          const esc = ESCAPES[ch];
          const data = esc !== undefined ? '\\' + esc : cp <= 0xff ? '\\x' + cp.toString(16).toUpperCase().padStart(2, '0') : cp <= 0xffff ? '\\u' + cp.toString(16).toUpperCase().padStart(4, '0') : '\\U' + cp.toString(16).toUpperCase().padStart(8, '0');
          this.data(data);
          start = end + 1;
        }
      }
      if (end > 0 && end < t.length - 1 && (ch === ' ' || start >= end) && this.column + (end - start) > this.bestWidth && split) {
        const data = t.slice(start, end).join('') + '\\';
        if (start < end) start = end;
        this.data(data);
        this.writeIndent();
        this.whitespace = false;
        this.indention = false;
        if (t[start] === ' ') this.data('\\');
      }
    }
    this.indicator('"', false);
  }

  scalar(v: unknown): void {
    this.increaseIndent(true);
    const split = !this.simpleKeyContext;
    if (typeof v === 'string') {
      const a = analyze(v);
      const implicit = !IMPLICIT.some((re) => re.test(v));
      let style: 'plain' | 'single' | 'double' = 'double';
      if (implicit && !(this.simpleKeyContext && (a.empty || a.multiline)) && ((this.flowLevel && a.allowFlowPlain) || (!this.flowLevel && a.allowBlockPlain))) style = 'plain';
      else if (a.allowSingleQuoted && !(this.simpleKeyContext && a.multiline)) style = 'single';
      if (style === 'plain') this.writePlain(v, split);
      else if (style === 'single') this.writeSingleQuoted(v, split);
      else this.writeDoubleQuoted(v, split);
    } else {
      const text = v === null || v === undefined ? 'null' : typeof v === 'boolean' ? (v ? 'true' : 'false') : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : floatText(v)) : String(v);
      this.writePlain(text, split);
    }
    this.popIndent();
  }

  // ---------------------------------------------------------------- collections

  entries(m: Record<string, unknown>): [string, unknown][] {
    const e = Object.entries(m);
    return this.sortKeys ? e.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : e;
  }

  isFlow(v: unknown[] | Record<string, unknown>): boolean {
    const items = Array.isArray(v) ? v : Object.values(v);
    if (this.flowLevel || this.flowStyle === true || items.length === 0) return true;
    if (this.flowStyle === false) return false;
    return items.every((x) => x === null || typeof x !== 'object');
  }

  node(v: unknown, ctx: { root?: boolean; sequence?: boolean; mapping?: boolean; simpleKey?: boolean }): void {
    this.rootContext = !!ctx.root;
    this.mappingContext = !!ctx.mapping;
    this.simpleKeyContext = !!ctx.simpleKey;
    if (v !== null && typeof v === 'object') {
      const coll = v as unknown[] | Record<string, unknown>;
      if (Array.isArray(coll)) {
        if (this.isFlow(coll)) this.flowSequence(coll);
        else this.blockSequence(coll);
      } else if (this.isFlow(coll)) this.flowMapping(coll);
      else this.blockMapping(coll);
    } else this.scalar(v);
  }

  flowSequence(l: unknown[]): void {
    this.indicator('[', true, true);
    this.flowLevel++;
    this.increaseIndent(true);
    l.forEach((x, i) => {
      if (i > 0) this.indicator(',', false);
      if (this.column > this.bestWidth) this.writeIndent();
      this.node(x, { sequence: true });
    });
    this.popIndent();
    this.flowLevel--;
    this.indicator(']', false);
  }

  flowMapping(m: Record<string, unknown>): void {
    this.indicator('{', true, true);
    this.flowLevel++;
    this.increaseIndent(true);
    this.entries(m).forEach(([k, x], i) => {
      if (i > 0) this.indicator(',', false);
      if (this.column > this.bestWidth) this.writeIndent();
      if (this.simpleKey(k)) {
        this.node(k, { mapping: true, simpleKey: true });
        this.indicator(':', false);
      } else {
        this.indicator('?', true);
        this.node(k, { mapping: true });
        if (this.column > this.bestWidth) this.writeIndent();
        this.indicator(':', true);
      }
      this.node(x, { mapping: true });
    });
    this.popIndent();
    this.flowLevel--;
    this.indicator('}', false);
  }

  blockSequence(l: unknown[]): void {
    const indentless = this.mappingContext && !this.indention;
    this.increaseIndent(false, indentless);
    for (const x of l) {
      this.writeIndent();
      this.indicator('-', true, false, true);
      this.node(x, { sequence: true });
    }
    this.popIndent();
  }

  blockMapping(m: Record<string, unknown>): void {
    this.increaseIndent(false);
    for (const [k, x] of this.entries(m)) {
      this.writeIndent();
      if (this.simpleKey(k)) {
        this.node(k, { mapping: true, simpleKey: true });
        this.indicator(':', false);
      } else {
        this.indicator('?', true, false, true);
        this.node(k, { mapping: true });
        this.writeIndent();
        this.indicator(':', true, false, true);
      }
      this.node(x, { mapping: true });
    }
    this.popIndent();
  }

  simpleKey(k: string): boolean {
    const a = analyze(k);
    return Array.from(k).length < 128 && !a.empty && !a.multiline;
  }
}

export function pyYamlDump(v: unknown, opts: DumpOptions = {}): string {
  const ind = opts.indent ?? 2;
  const e = new Emitter(ind > 1 && ind < 10 ? ind : 2, opts.width !== undefined && opts.width > ind * 2 ? opts.width : 80, opts.defaultFlowStyle === undefined ? false : opts.defaultFlowStyle, opts.sortKeys ?? true);
  if (opts.explicitStart) {
    e.indicator('---', true);
  }
  e.node(v, { root: true });
  e.writeIndent();
  // libyaml (Ansible's CSafeDumper) ends an open-ended root plain scalar without PyYAML's '...' line
  if (opts.explicitEnd) {
    e.indicator('...', true);
    e.writeIndent();
  }
  return e.out;
}
