/**
 * group_vars/ and host_vars/ beside an inventory source, as Ansible's host_group_vars plugin reads them: for an
 * entity NAME the first of `NAME` (a file, or a directory read recursively in sorted order), `NAME.yml`,
 * `NAME.yaml`, `NAME.json`. Unlike Ansible, having more than one of these is an error (Ansible silently reads only
 * the first). Every file is one VarLayer; it must hold a mapping (an empty file is skipped).
 */
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { RunbookError, type ErrorSink } from '../errors.js';
import { isMap } from 'yaml';
import { loadYamlFile, type YamlFile } from '../yaml-load.js';
import { decryptSopsYaml, isSopsFile } from '../vars/sops.js';
import { absorbVarsFile } from '../vars/secret-files.js';
import type { InventoryPrecedence, VarLayer } from './types.js';

export const VARS_EXTS = ['.yml', '.yaml', '.json'];

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Files of a vars directory, recursively, sorted, hidden and `~` backups skipped (Ansible's _get_dir_vars_files). */
function dirVarsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of listDir(dir)) {
    if (name.startsWith('.') || name.endsWith('~')) continue;
    const full = join(dir, name);
    const ext = extname(name);
    if (isDir(full)) {
      if (!ext) out.push(...dirVarsFiles(full));
    } else if (!ext || VARS_EXTS.includes(ext)) {
      out.push(full);
    }
  }
  return out;
}

/** Read one vars file as a layer; undefined for an empty file. Errors go to the sink. */
export function loadVarsFile(file: string, precedence: InventoryPrecedence, sink: ErrorSink, source = file): VarLayer | undefined {
  const f = sink.guard(() => loadYamlFile(file));
  if (!f) return undefined;
  if (isSopsFile(file, f.value)) {
    // SOPS-encrypted (as community.sops' vars plugin loads it): decrypted here; the values are secrets (lib/vars/sops.ts)
    const vars = sink.guard(() => decryptSopsYaml(f));
    return vars ? { source, precedence, vars, pos: (key: string) => f.exactPos([key]) ?? f.keyPos([key]) } : undefined;
  }
  const layer = varsLayerOf(f, [], precedence, sink, source);
  // `!vault` values decrypted; values of a vault-encrypted or secret-named file never printed
  if (layer) layer.vars = sink.guard(() => absorbVarsFile(file, layer.vars, (p) => f.pos(p))) ?? {};
  return layer;
}

/** The mapping at `path` in a loaded YAML file as a VarLayer (undefined when null/empty or not a mapping). */
export function varsLayerOf(
  f: YamlFile,
  path: readonly (string | number)[],
  precedence: InventoryPrecedence,
  sink: ErrorSink,
  source: string,
  what = 'a vars file',
): VarLayer | undefined {
  let v: unknown = f.value;
  for (const k of path) v = (v as Record<string, unknown> | null)?.[k as string];
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || !isMap(f.node(path))) {
    const kind = Array.isArray(v) ? 'a list' : typeof v === 'string' && v.startsWith('$ANSIBLE_VAULT;') ? 'a vault-encrypted file (not supported)' : `a ${typeof v}`;
    sink.add(new RunbookError('schema', `${what} must be a mapping of variables, got ${kind}`, { pos: f.pos(path) }));
    return undefined;
  }
  return {
    source,
    precedence,
    vars: v as Record<string, unknown>,
    pos: (key: string) => f.exactPos([...path, key]) ?? f.keyPos([...path, key]),
  };
}

/**
 * Scan `dir` (a group_vars/ or host_vars/ folder) and return every entity's layers, keyed by entity name.
 * `sources` receives each file read.
 */
export function loadVarsDir(dir: string, precedenceOf: (entity: string) => InventoryPrecedence, sink: ErrorSink, sources: string[]): Map<string, VarLayer[]> {
  const out = new Map<string, VarLayer[]>();
  if (!isDir(dir)) return out;
  const candidates = new Map<string, string[]>();
  for (const name of listDir(dir)) {
    if (name.startsWith('.') || name.endsWith('~')) continue;
    const ext = extname(name);
    const entity = VARS_EXTS.includes(ext) ? name.slice(0, -ext.length) : name;
    if (!entity) continue;
    const list = candidates.get(entity) ?? [];
    list.push(name);
    candidates.set(entity, list);
  }
  for (const [entity, names] of candidates) {
    // Ansible's lookup order: NAME, NAME.yml, NAME.yaml, NAME.json
    const ordered = ['', ...VARS_EXTS].map((e) => entity + e).filter((n) => names.includes(n));
    if (ordered.length > 1) {
      sink.add(
        new RunbookError('config', `vars for "${entity}" are defined by both ${ordered.map((n) => join(dir, n)).join(' and ')}; keep one`, {
          pos: { file: join(dir, ordered[1]), line: 1, col: 1 },
        }),
      );
    }
    if (!ordered.length) continue;
    const first = join(dir, ordered[0]);
    const files = isDir(first) ? dirVarsFiles(first) : [first];
    const layers: VarLayer[] = [];
    for (const file of files) {
      sources.push(file);
      const l = loadVarsFile(file, precedenceOf(entity), sink);
      if (l) layers.push(l);
    }
    out.set(entity, layers);
  }
  return out;
}
