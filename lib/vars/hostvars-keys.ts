/**
 * Which hosts of `hostvars` a template can read, when that is plain from its text. A render hands the engine
 * (WASM MiniJinja) a copy of every variable the template names; `hostvars` holds every inventory host, so a
 * template that reads one host's variable (`hostvars['db1'].ansible_host`, `hostvars[inventory_hostname].x`)
 * used to cost a copy of all of them: O(hosts) per render, O(hosts²) per task when every host renders it.
 *
 * hostvarsKeys(text) answers with the keys when every use of `hostvars` is a subscript by a string literal or by a
 * plain variable name (`hostvars['x']`, `hostvars["x"]`, `hostvars.x`, `hostvars[name]`), and null when any use is
 * anything else (`hostvars | dict2items`, `map('extract', hostvars)`, `hostvars[a ~ b]`, `'x' in hostvars`, a
 * method call, ...): then the render gets all of hostvars, as before. A name subscript is accepted only in a text
 * without statements (`{% %}`), where no `for`/`set`/`macro` can rebind the name; its value is looked up in the
 * render's variables and must be a string.
 */
import { tokenize } from './jinja-rewrite.js';

export interface HostvarsKeys {
  /** string-literal keys */
  literals: string[];
  /** variable names whose (string) values are keys */
  names: string[];
}

/** the `{{ }}` / `{% %}` bodies of a template, or the whole text of a bare expression */
function bodies(text: string, isExpr: boolean): string[] | null {
  if (isExpr) return [text];
  const out: string[] = [];
  const re = /\{\{([\s\S]*?)\}\}|\{%([\s\S]*?)%\}/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) out.push(m[1] ?? m[2] ?? '');
  return out;
}

export function hostvarsKeys(text: string, isExpr: boolean): HostvarsKeys | null {
  const statements = !isExpr && text.includes('{%');
  // an included or imported template reads the same hostvars in ways this text does not show
  if (statements && /\b(include|import|extends|from)\b/.test(text)) return null;
  const parts = bodies(text, isExpr);
  if (!parts) return null;
  const literals = new Set<string>();
  const names = new Set<string>();
  for (const body of parts) {
    const toks = tokenize(body);
    if (!toks) return null;
    const sig = toks.filter((t) => t.t !== 'ws');
    for (let i = 0; i < sig.length; i++) {
      const t = sig[i]!;
      if (t.t !== 'id' || t.v !== 'hostvars') continue;
      // an attribute named hostvars (x.hostvars) is not the variable
      if (i > 0 && sig[i - 1]!.t === 'op' && sig[i - 1]!.v === '.') continue;
      const a = sig[i + 1];
      const b = sig[i + 2];
      const c = sig[i + 3];
      if (a?.t === 'op' && a.v === '[' && c?.t === 'op' && c.v === ']') {
        if (b?.t === 'str' && !b.v.includes('\\')) literals.add(b.v.slice(1, -1));
        else if (b?.t === 'id' && !statements && !['True', 'False', 'None', 'true', 'false', 'none', 'loop', 'omit'].includes(b.v)) names.add(b.v);
        else return null;
        // a call right after the subscript (hostvars['x'](...)) is not a read of a host
        continue;
      }
      if (a?.t === 'op' && a.v === '.' && b?.t === 'id' && !(c?.t === 'op' && c.v === '(')) {
        literals.add(b.v);
        continue;
      }
      return null;
    }
  }
  return { literals: [...literals], names: [...names] };
}

/**
 * The part of `hostvars` a render needs: the hosts named by `keys`, or undefined when that cannot be told (a name's
 * value is not a string): then all of it.
 */
export function pruneHostvars(hostvars: Record<string, unknown>, keys: HostvarsKeys, vars: Record<string, unknown>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  const take = (k: string) => {
    if (Object.prototype.hasOwnProperty.call(hostvars, k)) out[k] = hostvars[k];
  };
  for (const k of keys.literals) take(k);
  for (const n of keys.names) {
    const v = vars[n];
    if (typeof v !== 'string') return undefined;
    take(v);
  }
  return out;
}
