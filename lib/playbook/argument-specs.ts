/**
 * Roles' meta/argument_specs.yml (Ansible's format), checked before any host is contacted.
 */
import { ansibleBoolean } from '../vars/python-compat.js';
import { RunbookError, type SourcePos } from '../errors.js';

export interface OptionSpec {
  type: string;
  required: boolean;
  default?: unknown;
  choices?: unknown[];
  elements?: string;
  description: string;
  options?: Record<string, OptionSpec>;
}

export interface ArgumentSpec {
  file: string;
  shortDescription?: string;
  options: Record<string, OptionSpec>;
  pos(key: string): SourcePos;
}

const TYPES = new Set(['str', 'int', 'float', 'bool', 'list', 'dict', 'path', 'raw', 'bits', 'bytes', 'json', 'jsonarg']);

export function loadArgumentSpecs(file: string, doc: Record<string, unknown>, pos: (p: (string | number)[]) => SourcePos): ArgumentSpec | undefined {
  const specs = doc['argument_specs'];
  if (!specs || typeof specs !== 'object') return undefined;
  const main = (specs as Record<string, unknown>)['main'];
  if (!main || typeof main !== 'object') return undefined;
  const m = main as Record<string, unknown>;
  const errors: RunbookError[] = [];
  const parseOptions = (opts: unknown, at: (string | number)[]): Record<string, OptionSpec> => {
    const out: Record<string, OptionSpec> = {};
    if (!opts || typeof opts !== 'object') return out;
    for (const [name, raw] of Object.entries(opts as Record<string, unknown>)) {
      const o = (raw ?? {}) as Record<string, unknown>;
      const type = String(o['type'] ?? 'str');
      if (!TYPES.has(type)) errors.push(new RunbookError('schema', `argument_specs: option "${name}" has unknown type "${type}"`, { pos: pos([...at, name, 'type']) }));
      const d = o['description'];
      out[name] = {
        type,
        required: o['required'] === true,
        default: o['default'],
        choices: Array.isArray(o['choices']) ? o['choices'] : undefined,
        elements: typeof o['elements'] === 'string' ? o['elements'] : undefined,
        description: Array.isArray(d) ? d.join(' ') : d !== undefined ? String(d) : '',
        options: o['options'] ? parseOptions(o['options'], [...at, name, 'options']) : undefined,
      };
    }
    return out;
  };
  const options = parseOptions(m['options'], ['argument_specs', 'main', 'options']);
  if (errors.length) throw errors[0];
  return {
    file,
    shortDescription: typeof m['short_description'] === 'string' ? m['short_description'] : undefined,
    options,
    pos: (key) => pos(['argument_specs', 'main', 'options', key]),
  };
}

/** Whether Ansible's argument spec validation accepts v for type (it converts: scalars to str, "a,b" to a list...). */
function typeOk(type: string, v: unknown): boolean {
  switch (type) {
    case 'str':
    case 'path':
    case 'raw':
      // check_type_str(allow_conversion=True): any scalar becomes its text
      return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
    case 'int':
      return Number.isInteger(v) || typeof v === 'boolean' || (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v));
    case 'float':
      return typeof v === 'number' || (typeof v === 'string' && !Number.isNaN(Number(v)));
    case 'bool':
      return ansibleBoolean(v) !== undefined || (typeof v === 'string' && ['1.0', '0.0'].includes(v.toLowerCase()));
    case 'list':
      // check_type_list: a string is split on commas, a number becomes a one-item list
      return Array.isArray(v) || typeof v === 'string' || typeof v === 'number';
    case 'dict':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    default:
      return true;
  }
}

const templated = (v: unknown) => typeof v === 'string' && (v.includes('{{') || v.includes('{%'));

/**
 * Check the variables a role will see against its spec. Returns messages (without position); templated values are
 * not judged (they are rendered per host at run time).
 * @param provided names that are set by something other than the role's own defaults
 */
export function checkRoleArgs(spec: ArgumentSpec, vars: Record<string, unknown>, role: string): { key: string; message: string }[] {
  const out: { key: string; message: string }[] = [];
  const walk = (options: Record<string, OptionSpec>, values: Record<string, unknown>, prefix: string) => {
    for (const [name, o] of Object.entries(options)) {
      const v = values[name];
      const label = prefix + name;
      const desc = o.description ? ` (${o.description})` : '';
      if (v === undefined || v === null) {
        if (o.required && o.default === undefined) out.push({ key: name, message: `role ${role}: required argument "${label}" is missing${desc}` });
        continue;
      }
      // a templated value is judged per host at run time; an encrypted one (--syntax-check) is unknown
      if (templated(v) || (typeof v === 'object' && v !== null && '__vault__' in v)) continue;
      if (!typeOk(o.type, v)) {
        out.push({ key: name, message: `role ${role}: argument "${label}" must be of type ${o.type}, got ${JSON.stringify(v)}${desc}` });
        continue;
      }
      if (o.choices && !o.choices.some((c) => c === v || String(c) === String(v))) {
        out.push({ key: name, message: `role ${role}: argument "${label}" must be one of ${o.choices.map((c) => JSON.stringify(c)).join(', ')}, got ${JSON.stringify(v)}` });
      }
      if (o.type === 'list' && o.elements && Array.isArray(v)) {
        v.forEach((e, i) => {
          if (!templated(e) && o.elements !== 'dict' && !typeOk(o.elements!, e)) out.push({ key: name, message: `role ${role}: argument "${label}[${i}]" must be of type ${o.elements}, got ${JSON.stringify(e)}` });
          if (o.elements === 'dict' && o.options && typeof e === 'object' && e) walk(o.options, e as Record<string, unknown>, `${label}[${i}].`);
        });
      }
      if (o.type === 'dict' && o.options && typeof v === 'object') walk(o.options, v as Record<string, unknown>, `${label}.`);
    }
  };
  walk(spec.options, vars, '');
  return out;
}
