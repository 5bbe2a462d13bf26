/**
 * Undefined variables found before any host is contacted: every name a task's templates use must be defined
 * somewhere the run can see (inventory, play, role, register, set_fact, loop variables, facts, magic variables,
 * extra vars). Names guarded by `is defined` or `| default` are never flagged. Anything this check cannot see
 * statically (a templated include_vars) turns it off for that play rather than risk a false error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunbookError } from '../errors.js';
import type { Inventory } from '../inventory/index.js';
import type { Item, Play, Playbook, TaskNode } from './model.js';
import { loadYamlFile } from '../yaml-load.js';
import type { SourcePos } from '../errors.js';
import { keyPos, templateFile, templateTags } from './loadtime-check.js';
import { createTemplar } from '../vars/template.js';

const parser = createTemplar();

/** What the template module adds to a template file's variables (Ansible's template_* and Jinja's macro names). */
const TEMPLATE_NAMES = new Set(['template_host', 'template_path', 'template_fullpath', 'template_run_date', 'template_destpath', 'template_uid', 'self', 'caller', 'varargs', 'kwargs']);

/** Keywords whose value is templated when a task runs (after its when). */
const KEYWORDS: [string, (t: Item | Play) => unknown][] = [
  ['become_user', (t) => t.becomeUser], ['become', (t) => t.become], ['become_method', (t) => t.becomeMethod], ['delegate_to', (t) => t.delegateTo],
  ['environment', (t) => t.environment], ['check_mode', (t) => t.checkMode], ['ignore_errors', (t) => t.ignoreErrors], ['no_log', (t) => t.noLog], ['run_once', (t) => t.runOnce],
];

const MAGIC = new Set([
  'inventory_hostname', 'inventory_hostname_short', 'group_names', 'groups', 'hostvars', 'playbook_dir',
  'inventory_dir', 'inventory_file', 'role_path', 'role_name', 'ansible_role_name', 'ansible_check_mode', 'ansible_diff_mode', 'ansible_verbosity', 'ansible_play_hosts',
  'ansible_play_hosts_all', 'ansible_play_batch', 'ansible_play_name', 'ansible_run_tags', 'ansible_skip_tags',
  'ansible_version', 'omit', 'ansible_facts', 'ansible_loop', 'ansible_loop_var', 'item', 'ansible_index_var',
  'lookup', 'query', 'q', 'range', 'dict', 'namespace', 'true', 'false', 'none', 'True', 'False', 'None', 'loop',
  'ansible_parent_role_names', 'ansible_role_names', 'play_hosts', 'environment', 'vars', 'undef', 'now',
]);

/** Names a template uses as variables, minus filters, tests, functions, attributes, locals and guarded names. */
export function usedNames(tpl: string): { used: Set<string>; guarded: Set<string> } {
  const used = new Set<string>();
  const guarded = new Set<string>();
  const locals = new Set<string>();
  const re = /\{\{([\s\S]*?)\}\}|\{%-?([\s\S]*?)-?%\}/g;
  // a macro receives an undefined argument as Undefined and may test it (`is defined`), as Jinja does: a bare name
  // passed to a macro of this template is not a certain error (willshersystems.sshd: body_option("Include", sshd_Include))
  const macros = [...tpl.matchAll(/\{%-?\s*macro\s+([A-Za-z_]\w*)\s*\(/g)].map((x) => x[1]!);
  const macroCall = macros.length ? new RegExp(`\\b(?:${macros.join('|')})\\s*\\(([^()]*)\\)`, 'g') : undefined;
  let m: RegExpExecArray | null;
  while ((m = re.exec(tpl))) {
    let body = (m[1] ?? m[2] ?? '').replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, ' "" ');
    if (m[2] !== undefined) {
      const f = /^\s*for\s+([\w\s,]+?)\s+in\b/.exec(body);
      if (f) for (const n of f[1]!.split(',')) locals.add(n.trim());
      // {% set x = %}, {% set a, b = %}, {% set x %}...{% endset %}
      const s = /^\s*set\s+([\w\s,]+?)\s*(?:=|$)/.exec(body);
      if (s) for (const n of s[1]!.split(',')) locals.add(n.trim());
      const mac = /^\s*macro\s+\w+\s*\(([^)]*)\)/.exec(body);
      if (mac) for (const n of mac[1]!.split(',')) locals.add(n.split('=')[0]!.trim());
      const imp = /^\s*import\s+\S+\s+as\s+(\w+)/.exec(body);
      if (imp) locals.add(imp[1]!);
      const from = /^\s*from\s+\S+\s+import\s+([\w\s,]+?)(?:\s+with(?:out)?\s+context)?\s*$/.exec(body);
      if (from) for (const n of from[1]!.split(',')) locals.add(n.trim().split(/\s+as\s+/).pop()!.trim());
      const w = /^\s*with\s+(.*)$/.exec(body);
      if (w) for (const a of w[1]!.matchAll(/\b([A-Za-z_]\w*)\s*=(?!=)/g)) locals.add(a[1]!);
    }
    for (const g of body.matchAll(/([A-Za-z_]\w*)(?:\.[\w.]+|\[[^\]]*\])*\s*(?:is\s+(?:not\s+)?(?:defined|undefined|none)|\|\s*(?:default|d)\b)/g)) guarded.add(g[1]!);
    for (const g of body.matchAll(/\b(?:if|and|or|not)\s+([A-Za-z_]\w*)\s+is\s+(?:not\s+)?defined/g)) guarded.add(g[1]!);
    if (macroCall) for (const c of body.matchAll(macroCall)) for (const a of c[1]!.split(',')) if (/^\s*[A-Za-z_]\w*\s*$/.test(a)) guarded.add(a.trim());
    // Ansible's default() takes an undefined argument too (x | default(undefined_var) is x when x is defined)
    for (const g of body.matchAll(/\|\s*(?:default|d)\s*\(\s*([A-Za-z_]\w*)/g)) guarded.add(g[1]!);
    body = body
      .replace(/\|\s*[A-Za-z_][\w.]*/g, ' ') // filters
      .replace(/\bis\s+(?:not\s+)?[A-Za-z_]\w*/g, ' ') // tests
      .replace(/\.\s*[A-Za-z_]\w*/g, ' ') // attributes
      .replace(/\b[A-Za-z_]\w*\s*=(?!=)/g, ' ') // keyword arguments
      .replace(/\b[A-Za-z_]\w*\s*\(/g, ' ('); // calls
    for (const t of body.matchAll(/\b([A-Za-z_]\w*)\b/g)) {
      const n = t[1]!;
      if (['and', 'or', 'not', 'in', 'is', 'if', 'else', 'elif', 'endif', 'for', 'endfor', 'set', 'endset', 'with', 'endwith', 'recursive', 'macro', 'endmacro', 'block', 'endblock', 'raw', 'endraw', 'filter', 'endfilter', 'call', 'endcall', 'import', 'from', 'as', 'include', 'extends'].includes(n)) continue;
      used.add(n);
    }
  }
  for (const l of locals) used.delete(l);
  return { used, guarded };
}

function strings(v: unknown, out: string[], depth = 0): void {
  if (typeof v === 'string') {
    if (v.includes('{{') || v.includes('{%')) out.push(v);
  } else if (v && typeof v === 'object' && depth < 30) {
    for (const x of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) strings(x, out, depth + 1);
  }
}

function keysOf(v: unknown, out: Set<string>): void {
  if (v && typeof v === 'object' && !Array.isArray(v)) for (const k of Object.keys(v)) out.add(k);
}

/**
 * @param warnings receives what only a task that may not run needs (under a guard from above, or in the task's
 *   arguments behind its own `when`): certain only if that task runs (docs/adr/0012), so not an error
 */
export function checkUndefined(pb: Playbook, inv: Inventory, extraVars: Record<string, unknown>, warnings: RunbookError[] = []): RunbookError[] {
  const known = new Set<string>(MAGIC);
  keysOf(extraVars, known);
  for (const h of inv.hosts.keys()) keysOf(inv.hostVars(h), known);
  // the implicit localhost (not listed, so not iterated) sees the `all` vars and host_vars/localhost
  if (inv.hosts.has('localhost')) keysOf(inv.hostVars('localhost'), known);
  for (const g of inv.groups.keys()) known.add(g);
  let dynamic = false;
  const tasks: { t: TaskNode; ctxNames: Set<string> }[] = [];
  const walk = (items: Item[], play: Play, locals: Set<string>) => {
    for (const i of items) {
      keysOf(i.vars, known);
      if (i.role) {
        keysOf(i.role.defaults, known);
        keysOf(i.role.vars, known);
        keysOf(i.role.params, known);
      }
      if (i.kind === 'block') {
        walk(i.block, play, locals);
        walk(i.rescue, play, locals);
        walk(i.always, play, locals);
        continue;
      }
      if (i.register) known.add(i.register);
      known.add(i.loopVar);
      if (i.indexVar) known.add(i.indexVar);
      if (i.action === 'set_fact') keysOf(i.args, known);
      // facts a module returns (ansible_facts in its result) are variables from then on
      if (i.action === 'getent') {
        const db = i.args['database'];
        if (typeof db === 'string' && !db.includes('{{')) known.add(`getent_${db}`);
        else dynamic = true;
      }
      if (i.action === 'package_facts') known.add('packages');
      if (i.action === 'service_facts') known.add('services');
      if (i.action === 'hostname') for (const n of ['ansible_hostname', 'ansible_nodename', 'ansible_fqdn', 'ansible_domain']) known.add(n);
      if (i.action === 'include_vars') {
        const f = String(i.args['file'] ?? i.args['_raw_params'] ?? '');
        const name = i.args['name'];
        if (typeof name === 'string') known.add(name);
        const cands = [path.resolve(path.dirname(i.file), f), ...(i.role ? [path.join(i.role.path, 'vars', f)] : [])];
        const file = f.includes('{{') ? undefined : cands.find((c) => fs.existsSync(c));
        if (!file) dynamic = true;
        else {
          try {
            keysOf(loadYamlFile(file).value, known);
          } catch {
            dynamic = true;
          }
        }
      }
      if (i.include) walk(i.include.tasks, play, locals);
      else if (i.action === 'include_tasks') dynamic = true;
      if (i.action === 'include_role' || i.action === 'setup') dynamic = i.action === 'include_role' ? true : dynamic;
      tasks.push({ t: i, ctxNames: locals });
    }
  };
  for (const play of pb.plays) {
    keysOf(play.vars, known);
    for (const f of play.varsFiles) {
      if (f.includes('{{')) {
        dynamic = true;
        continue;
      }
      try {
        keysOf(loadYamlFile(f).value, known);
      } catch {
        /* reported elsewhere */
      }
    }
    for (const s of play.sections) walk(s, play, new Set());
    walk(play.handlers, play, new Set());
  }
  if (dynamic) return [];
  const errors: RunbookError[] = [];
  for (const { t } of tasks) {
    const texts: string[] = [];
    strings(t.args, texts);
    // with_first_found skips a candidate whose variables are undefined (Ansible's rule): never an error here
    if (!(t.loop?.kind === 'lookup' && t.loop.lookup.endsWith('first_found'))) strings(t.loop?.terms, texts);
    strings(t.notify, texts);
    for (const w of [t.changedWhen, t.failedWhen, t.until].flat()) {
      if (typeof w === 'string') texts.push(w.includes('{{') ? w : `{{ ${w} }}`);
    }
    // names the task's own when uses are evaluated whenever the task is reached; the rest only when it holds
    const whenTexts: string[] = [];
    for (const w of t.when.flat()) if (typeof w === 'string') whenTexts.push(w.includes('{{') ? w : `{{ ${w} }}`);
    const inWhen = new Set<string>();
    for (const s of whenTexts) {
      const { used, guarded } = usedNames(s);
      for (const n of used) if (!guarded.has(n)) inWhen.add(n);
    }
    texts.push(...whenTexts);
    if (t.action === 'assert') {
      const that = Array.isArray(t.args['that']) ? t.args['that'] : [t.args['that']];
      for (const c of that) if (typeof c === 'string' && !c.includes('{{')) texts.push(`{{ ${c} }}`);
    }
    if (t.action === 'debug' && typeof t.args['var'] === 'string') texts.push(`{{ ${t.args['var']} }}`);
    // where a name is used, when that is not the task's own line: a keyword's line, a template file's line
    const located: { texts: string[]; pos: (n: string) => SourcePos; what: string; extra?: Set<string> }[] = [{ texts, pos: () => t.pos, what: '' }];
    for (const [k, get] of KEYWORDS) {
      const kt: string[] = [];
      strings(get(t), kt);
      if (kt.length) located.push({ texts: kt, pos: () => keyPos(t.file, t.pos, k), what: ` (in ${k})` });
    }
    const tf = templateFile(t, pb.dir);
    if (tf) {
      let text: string | undefined;
      try {
        text = fs.readFileSync(tf, 'utf8');
      } catch {
        text = undefined;
      }
      // a template that does not parse is that error (loadtime-check.ts), not a list of names
      try {
        if (text !== undefined) parser.parse(text, 'template');
      } catch {
        text = undefined;
      }
      if (text !== undefined) {
        const tags = templateTags(text);
        const where = (n: string): SourcePos => {
          const re = new RegExp(`\\b${n}\\b`);
          const tag = tags.find((x) => re.test(x.body.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, '""')));
          const col = tag ? tag.col + Math.max(0, tag.body.search(re)) : 1;
          return { file: tf, line: tag?.line ?? 1, col };
        };
        located.push({ texts: [text], pos: where, what: ` (in template ${path.basename(tf)})`, extra: TEMPLATE_NAMES });
      }
    }
    const reported = new Set<string>();
    for (const loc of located) {
      const missing = new Set<string>();
      for (const s of loc.texts) {
        const { used, guarded } = usedNames(s);
        for (const n of used) if (!known.has(n) && !guarded.has(n) && !n.startsWith('ansible_') && !loc.extra?.has(n) && !reported.has(n)) missing.add(n);
      }
      for (const n of missing) {
        reported.add(n);
        const msg = `undefined variable "${n}"${loc.what} in task "${t.name ?? t.actionAs}" (defined nowhere: not in the inventory, play, roles, registered results, set_fact or -e)`;
        const why = t.guard ?? (t.when.length && !inWhen.has(n) ? 'its when may be false' : undefined);
        if (why) warnings.push(new RunbookError('undefined_variable', `${msg}; the task may not run (${why}) and fails if it does`, { pos: loc.pos(n) }));
        else errors.push(new RunbookError('undefined_variable', msg, { pos: loc.pos(n) }));
      }
    }
  }
  // the play's own keywords (become_user: "{{ x }}" on the play) are templated for every task of it
  for (const play of pb.plays) {
    for (const [k, get] of KEYWORDS) {
      const kt: string[] = [];
      strings(get(play), kt);
      for (const s of kt) {
        const { used, guarded } = usedNames(s);
        for (const n of used) {
          if (known.has(n) || guarded.has(n) || n.startsWith('ansible_')) continue;
          errors.push(new RunbookError('undefined_variable', `undefined variable "${n}" (in ${k}) of play "${play.name}" (defined nowhere: not in the inventory, play, roles, registered results, set_fact or -e)`, { pos: keyPos(play.file, play.pos, k) }));
        }
      }
    }
  }
  return errors;
}
