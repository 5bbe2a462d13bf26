/** -e / --extra-vars: `k=v k2=v2`, inline YAML/JSON, or @file (YAML or JSON). Later ones win. */
import * as fs from 'node:fs';
import { split } from 'shlex';
import { RunbookError } from '../errors.js';
import { loadYamlFile, parseYaml } from '../yaml-load.js';

export function parseExtraVars(args: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of args) {
    if (a.startsWith('@')) {
      const f = a.slice(1);
      if (!fs.existsSync(f)) throw new RunbookError('usage', `-e ${a}: file not found`);
      const y = loadYamlFile(f);
      if (y.value === null || y.value === undefined) continue;
      if (typeof y.value !== 'object' || Array.isArray(y.value)) throw new RunbookError('usage', `-e ${a}: the file must hold a mapping of variables`, { pos: y.pos([]) });
      Object.assign(out, y.value);
      continue;
    }
    const t = a.trim();
    if (t.startsWith('{')) {
      const y = parseYaml(t, '<-e>');
      if (typeof y.value !== 'object' || y.value === null || Array.isArray(y.value)) throw new RunbookError('usage', `-e ${a}: expected a mapping`);
      Object.assign(out, y.value);
      continue;
    }
    let words: string[];
    try {
      words = split(t);
    } catch (e) {
      throw new RunbookError('usage', `-e ${a}: ${(e as Error).message}`);
    }
    if (words.length === 0) throw new RunbookError('usage', '-e needs key=value, YAML/JSON or @file');
    for (const w of words) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(w);
      if (!m) throw new RunbookError('usage', `-e "${w}": expected key=value (a variable name, "=", a value), YAML/JSON or @file`);
      out[m[1]!] = m[2];
    }
  }
  return out;
}
