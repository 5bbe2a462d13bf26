/**
 * The one YAML loader of runbook. It reads YAML 1.1 as Ansible (PyYAML) does, keeps the source position of every
 * value, and turns every parser error and warning into a located RunbookError, all thrown together.
 *
 * Differences from the `yaml` package's own 1.1 schema, to match PyYAML:
 *  - only yes/no, true/false, on/off (in their three casings) are booleans; `y`, `n`, `Y`, `N` stay strings;
 *  - `1e3` is a string (PyYAML's float needs a dot: `1.0e+3`);
 *  - timestamps (`2001-12-14`) stay strings (PyYAML gives a date object; its text form is the same string).
 * Ansible tags: `!vault` yields `{ __vault__: ciphertext }`; `!unsafe` yields a template that renders to the text
 * itself (see unsafeTag), and the tag stays on the node (`isUnsafe(file, path)`).
 */
import { readFileSync, statSync } from 'node:fs';
import {
  Document,
  LineCounter,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseDocument,
  visit,
  YAMLParseError,
  type Node,
  type ScalarTag,
  type Tags,
  type YAMLError,
} from 'yaml';
import { ConfigErrors, RunbookError, type SourcePos } from './errors.js';
import { decryptText, isVaultText } from './vars/vault.js';

export type YamlPath = readonly (string | number)[];

export interface YamlFile {
  file: string;
  src: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** the plain JS value (objects, arrays, scalars; null for an empty file) */
  value: unknown;
  /**
   * Source position of the value at `path` (`[]` = the document). For a key whose value is empty (`host1:`) the
   * key's position. When the path does not exist, the position of the nearest existing ancestor, so an error about a
   * missing key can still point at the mapping that lacks it.
   */
  pos(path?: YamlPath): SourcePos;
  /** Position of the KEY at `path` (its last element names a mapping key); undefined when absent. */
  keyPos(path: YamlPath): SourcePos | undefined;
  /** Exact position of the value at `path`, undefined when the path does not exist. */
  exactPos(path: YamlPath): SourcePos | undefined;
  /** The node at `path`, aliases resolved and `<<` merge keys followed; undefined when absent. */
  node(path: YamlPath): Node | undefined;
  /** Position of a node (its first character) or of a character offset in the source. */
  posOf(nodeOrOffset: Node | number | null | undefined): SourcePos;
}

/** Files this large are refused rather than parsed. */
export const MAX_YAML_BYTES = 10 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------------------------
// Schema

const vaultTag: ScalarTag = {
  tag: '!vault',
  identify: (v) => typeof v === 'object' && v !== null && '__vault__' in v,
  resolve: (str: string) => ({ __vault__: str }),
  stringify: (item) => String((item.value as { __vault__: string }).__vault__),
};

/**
 * `!unsafe`: the text is never a template. It becomes a one-expression template whose value is the text itself
 * (`{{ "..." }}`), so the one render it gets yields it verbatim, and the rendered value is final (vars/final.ts).
 * Text without `{{`/`{%` needs no wrapping.
 */
const unsafeTag: ScalarTag = {
  tag: '!unsafe',
  identify: () => false,
  resolve: (str: string) => (/\{[{%#]/.test(str) ? `{{ ${JSON.stringify(str)} }}` : str),
};

const PY_TRUE = /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const PY_FALSE = /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/;
const PY_FLOAT_EXP = /^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*[eE][-+][0-9]+$/;

function ansibleTags(tags: Tags): Tags {
  const out: Tags = [];
  for (const t of tags) {
    if (typeof t !== 'object' || !('tag' in t)) {
      out.push(t);
      continue;
    }
    if (t.tag === 'tag:yaml.org,2002:timestamp') continue;
    if (t.tag === 'tag:yaml.org,2002:bool' && 'test' in t && t.test) {
      const isTrue = t.test.test('true');
      out.push({ ...t, test: isTrue ? PY_TRUE : PY_FALSE } as ScalarTag);
      continue;
    }
    if (t.tag === 'tag:yaml.org,2002:float' && 'format' in t && t.format === 'EXP') {
      out.push({ ...t, test: PY_FLOAT_EXP } as ScalarTag);
      continue;
    }
    out.push(t);
  }
  out.push(vaultTag, unsafeTag);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Loading

/** Read and parse a YAML file. Throws RunbookError (missing file, too large, binary) or ConfigErrors (syntax). */
export function loadYamlFile(path: string): YamlFile {
  const text = readTextFile(path);
  // a whole-file Ansible Vault envelope: decrypted with the keyring, positions then refer to the plaintext
  return parseYaml(isVaultText(text) ? decryptText(text, { file: path, line: 1, col: 1 }) : text, path);
}

/**
 * Read a configuration text file: RunbookError for a missing file, a directory, a file of 10 MB or more, binary
 * content (NUL bytes) or invalid UTF-8. A UTF-8 byte-order mark is dropped.
 */
export function readTextFile(path: string): string {
  const at1 = { file: path, line: 1, col: 1 };
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new RunbookError('missing_file', `expected a file, found a directory: ${path}`, { pos: at1 });
    size = st.size;
  } catch (e) {
    if (e instanceof RunbookError) throw e;
    throw new RunbookError('missing_file', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  }
  if (size >= MAX_YAML_BYTES) {
    throw new RunbookError('config', `file too large to be YAML configuration (${(size / 1048576).toFixed(1)} MB; limit 10 MB)`, { pos: at1 });
  }
  return decodeText(readFileSync(path), path);
}

/** Decode a file's bytes as UTF-8 text, refusing binary content (NUL bytes) and invalid UTF-8. */
export function decodeText(buf: Uint8Array, file: string): string {
  const nul = buf.indexOf(0);
  if (nul !== -1) {
    const before = new TextDecoder('utf-8').decode(buf.subarray(0, nul));
    const lc = new LineCounter();
    let start = 0;
    for (;;) {
      lc.addNewLine(start);
      const nl = before.indexOf('\n', start);
      if (nl === -1) break;
      start = nl + 1;
    }
    const { line, col } = lc.linePos(before.length);
    throw new RunbookError('yaml_syntax', 'binary file (contains a NUL byte), not text', { pos: { file, line, col } });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    throw new RunbookError('yaml_syntax', 'not valid UTF-8 text', { pos: { file, line: 1, col: 1 } });
  }
}

/** Parse YAML source text. `file` is only used in positions. Throws ConfigErrors with every problem found. */
export function parseYaml(src: string, file: string): YamlFile {
  if (src.length >= MAX_YAML_BYTES) {
    throw new RunbookError('config', 'text too large to be YAML configuration (limit 10 MB)', { pos: { file, line: 1, col: 1 } });
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(src, {
    lineCounter,
    version: '1.1',
    merge: true,
    // duplicate keys are found below, in linear time (the library's own check compares each key with every earlier
    // one: quadratic in a mapping of 30,000 inventory hosts)
    uniqueKeys: false,
    prettyErrors: false,
    logLevel: 'error',
    customTags: ansibleTags,
  });
  const posOf = (n: Node | number | null | undefined): SourcePos => {
    const off = typeof n === 'number' ? n : (n?.range?.[0] ?? 0);
    const { line, col } = lineCounter.linePos(off);
    return { file, line, col };
  };

  visit(doc, {
    Map(_key, node) {
      const seen = new Set<unknown>();
      for (const it of node.items) {
        const k = it.key;
        if (!isScalar(k) || !k.range) continue;
        if (seen.has(k.value)) doc.errors.push(new YAMLParseError([k.range[0], k.range[1]], 'DUPLICATE_KEY', 'Map keys must be unique'));
        else seen.add(k.value);
      }
    },
  });
  const errors: RunbookError[] = [];
  // The Ansible trap: `key: {{ x }}` is a flow mapping in a flow mapping.
  const curlyLines = new Set<number>();
  visit(doc, {
    Map(_key, node) {
      if (!node.flow || !node.range) return;
      const s = node.range[0];
      if (src[s] === '{' && src[s + 1] === '{') {
        const lineEnd = src.indexOf('\n', s);
        const text = src.slice(s, lineEnd === -1 ? undefined : lineEnd).replace(/\s+#.*$/, '').trimEnd();
        const p = posOf(s);
        curlyLines.add(p.line);
        errors.push(new RunbookError('yaml_syntax', `found unquoted "{{": quote the whole value ("${text}")`, { pos: p }));
        return visit.SKIP;
      }
      return undefined;
    },
  });
  // a tab in a line's indentation confuses the parser into several errors: report the tab, once, instead
  const tabLines = new Set<number>();
  for (const e of [...doc.errors, ...doc.warnings]) {
    const p = posOf(e.pos[0]);
    if (curlyLines.has(p.line) || tabLines.has(p.line)) continue;
    const lineText = src.split('\n')[p.line - 1] ?? '';
    const indent = /^[ \t]*/.exec(lineText)![0];
    if (e.code !== 'TAB_AS_INDENT' && indent.includes('\t')) {
      tabLines.add(p.line);
      errors.push(new RunbookError('yaml_syntax', 'tabs are not allowed for indentation', { pos: { file, line: p.line, col: indent.indexOf('\t') + 1 } }));
      continue;
    }
    errors.push(new RunbookError('yaml_syntax', shortMessage(e, doc, src), { pos: p }));
  }
  if (errors.length) {
    errors.sort((a, b) => a.pos!.line - b.pos!.line || a.pos!.col - b.pos!.col);
    throw new ConfigErrors(errors);
  }

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  } catch (e) {
    // an alias to an anchor defined nowhere (or later), or an alias bomb
    let at: SourcePos = { file, line: 1, col: 1 };
    const name = /: (\S+)$/.exec((e as Error).message)?.[1];
    visit(doc, {
      Alias(_k, node) {
        if (name === undefined || node.source === name) {
          at = posOf(node);
          return visit.BREAK;
        }
        return undefined;
      },
    });
    const msg = /Unresolved alias/.test((e as Error).message) ? `alias *${name ?? ''} refers to no anchor defined before it` : (e as Error).message.split('\n')[0]!;
    throw new ConfigErrors([new RunbookError('yaml_syntax', msg, { pos: at })]);
  }

  const node = (path: YamlPath): Node | undefined => walk(doc, path).node;
  const exactPos = (path: YamlPath): SourcePos | undefined => {
    const w = walk(doc, path);
    if (!w.found) return undefined;
    const empty = !w.node || !w.node.range || w.node.range[0] === w.node.range[1];
    if (empty && w.keyNode) return posOf(w.keyNode);
    return w.node?.range ? posOf(w.node) : undefined;
  };
  return {
    file,
    src,
    doc,
    lineCounter,
    value,
    node,
    exactPos,
    posOf,
    pos(path: YamlPath = []): SourcePos {
      for (let n = path.length; n >= 0; n--) {
        const p = exactPos(path.slice(0, n));
        if (p) return p;
      }
      return { file, line: 1, col: 1 };
    },
    keyPos(path: YamlPath): SourcePos | undefined {
      const w = walk(doc, path);
      return w.found && w.keyNode ? posOf(w.keyNode) : undefined;
    },
  };
}

/** True when the value at `path` was tagged `!unsafe` (must not be templated). */
export function isUnsafe(f: YamlFile, path: YamlPath): boolean {
  const n = f.node(path);
  return !!n && isScalar(n) && n.tag === '!unsafe';
}

interface WalkResult {
  found: boolean;
  node?: Node;
  keyNode?: Node;
}

function walk(doc: Document.Parsed, path: YamlPath): WalkResult {
  let cur: unknown = doc.contents;
  let keyNode: Node | undefined;
  for (const seg of path) {
    cur = deref(doc, cur);
    keyNode = undefined;
    if (isMap(cur)) {
      const pair = findPair(doc, cur.items, seg, 0);
      if (!pair) return { found: false };
      keyNode = pair.key as Node;
      cur = pair.value;
    } else if (isSeq(cur)) {
      const i = typeof seg === 'number' ? seg : /^\d+$/.test(seg) ? Number(seg) : NaN;
      if (!(i >= 0 && i < cur.items.length)) return { found: false };
      cur = cur.items[i];
    } else {
      return { found: false };
    }
  }
  const n = deref(doc, cur);
  return { found: true, node: (n ?? undefined) as Node | undefined, keyNode };
}

function deref(doc: Document.Parsed, n: unknown): unknown {
  let guard = 0;
  while (isAlias(n) && guard++ < 100) n = n.resolve(doc);
  return n;
}

/** A mapping's pairs by key text (the first of equal keys), built once per mapping: lookups by path stay O(1). */
const pairIndexes = new WeakMap<unknown[], Map<string, { key: unknown; value: unknown }>>();

function pairIndex(items: unknown[]): Map<string, { key: unknown; value: unknown }> {
  let idx = pairIndexes.get(items);
  if (!idx) {
    idx = new Map();
    for (const it of items) {
      if (!isPair(it)) continue;
      const k = it.key;
      if (isScalar(k) && typeof k.value !== 'symbol') {
        const s = String(k.value);
        if (!idx.has(s)) idx.set(s, it);
      }
    }
    pairIndexes.set(items, idx);
  }
  return idx;
}

function findPair(doc: Document.Parsed, items: unknown[], seg: string | number, depth: number): { key: unknown; value: unknown } | undefined {
  const direct = pairIndex(items).get(String(seg));
  if (direct) return direct;
  if (depth > 20) return undefined;
  // Follow `<<` merge keys (last-defined key wins within the map itself, merged maps in order).
  for (const it of items) {
    if (!isPair(it)) continue;
    const k = it.key;
    if (!(isScalar(k) && (typeof k.value === 'symbol' || k.source === '<<'))) continue;
    const v = deref(doc, it.value);
    const sources = isSeq(v) ? v.items.map((x) => deref(doc, x)) : [v];
    for (const m of sources) {
      if (isMap(m)) {
        const p = findPair(doc, m.items, seg, depth + 1);
        if (p) return p;
      }
    }
  }
  return undefined;
}

function shortMessage(e: YAMLError, doc: Document.Parsed, src: string): string {
  switch (e.code) {
    case 'TAB_AS_INDENT':
      return 'tabs are not allowed for indentation';
    case 'DUPLICATE_KEY': {
      let key = src.slice(e.pos[0], e.pos[1]);
      visit(doc, {
        Pair(_k, pair) {
          const kn = pair.key as Node | null;
          if (kn && kn.range && kn.range[0] === e.pos[0]) {
            key = isScalar(kn) ? String(kn.value) : src.slice(kn.range[0], kn.range[1]);
            return visit.BREAK;
          }
          return undefined;
        },
      });
      return `duplicate key "${key}"`;
    }
    case 'MULTIPLE_DOCS':
      return 'more than one YAML document in the file (only one is allowed)';
    case 'TAG_RESOLVE_FAILED': {
      const m = /tag: (.*)$/.exec(e.message);
      return `unknown tag ${m ? m[1] : ''}`.trim();
    }
    default: {
      const msg = e.message.split('\n')[0].replace(/\s+at line \d+, column \d+.*$/, '');
      return msg.charAt(0).toLowerCase() + msg.slice(1);
    }
  }
}
