/**
 * The one place strings are rendered: Ansible-style Jinja templating on top of minijinja-js (WASM MiniJinja).
 *
 * MiniJinja is close to Jinja2, but not close enough for Ansible on its own. Before a template is compiled
 * this module rewrites it (text in, text out, same line numbers) so that:
 *  - every variable path (`foo`, `foo.bar`, `foo['x'][0]`) is guarded; a missing one calls the `__U` global
 *    with the name of the first missing prefix → TemplateError('undefined_variable', variable: 'foo.bar').
 *    Paths tested with `is ...` or piped into `default`/`d` get a chain-safe guard instead, so
 *    `foo.bar is defined` / `foo.bar | default(1)` work when `foo` itself is undefined (as in Ansible).
 *  - `{{ expr }}` prints like Ansible: True/False, lists/dicts as Python repr, a top-level None as ''.
 *  - `'fmt' % args` does Python %-formatting; `d.get(k, default)` works; `default(x, boolean=true)` works.
 * Filters/tests/lookups written in JS never throw into the engine (that corrupts the WASM instance); errors
 * are recorded and raised after the render returns.
 */
import { Environment } from 'minijinja-js';
import { FILTERS } from './filters.js';
import { TESTS } from './jinja-tests.js';
import { LOOKUPS, LookupUndefined } from './lookups.js';
import { pyStr, pyTruthy, type Kw } from './python-compat.js';
import { TemplateError, convertError, splitKwargs, toJS } from './template-error.js';
import { rewriteExpr, singleExpression, tokenize } from './jinja-rewrite.js';
import { scanTemplate, type Scanned } from './jinja-scan.js';
import { finalNames, isFinalObject, setFinalNames } from './final.js';
import { hostvarsKeys, pruneHostvars, type HostvarsKeys } from './hostvars-keys.js';
export { TemplateError } from './template-error.js';
import { addSecret, containsSecret, hasSecrets, markSecret, MIN_DERIVED } from './secret-values.js';

/** Placeholder returned for `omit`; callers drop module args whose rendered value is exactly this string. */
export const OMIT = '__omit_place_holder__' + '9f3c2b7e1d4a6058c1e2f3a4b5c6d7e8f9a0b1c2';

export interface RenderOptions { trimBlocks?: boolean; lstripBlocks?: boolean; keepTrailingNewline?: boolean }

export interface Templar {
  /** Render an Ansible value: strings containing {{ }} / {% %} are rendered; a string that is exactly one "{{ expr }}" returns the NATIVE value (list, dict, number, bool), like Ansible; lists/objects are rendered recursively; other values pass through. */
  render(value: unknown, vars: Record<string, unknown>): unknown;
  /** Always a string (template module files). Defaults match Ansible's template module: trimBlocks on, lstripBlocks off, trailing newline kept. */
  renderString(tpl: string, vars: Record<string, unknown>, opts?: RenderOptions): string;
  /** Evaluate a bare Jinja expression (`when:`, `changed_when:`, `failed_when:`, `that:`); tolerates `{{ }}` around it; returns the native value. */
  evaluate(expr: string, vars: Record<string, unknown>): unknown;
  /** Python truthiness of evaluate(expr); a bare boolean passes through. */
  evaluateBool(expr: string | boolean, vars: Record<string, unknown>): boolean;
  /** Contains {{ or {%. */
  isTemplated(s: unknown): boolean;
  /**
   * Compile without rendering (load-time checks): throws a TemplateError `template_syntax` for text that cannot
   * parse. `expr`: a bare expression (`when:`); its error speaks of what the user wrote, never of the wrapping.
   */
  parse(text: string, kind: 'expr' | 'template'): void;
  /** Can the templar run a filter (kind 'filter') or test of this name? */
  knows(kind: 'filter' | 'test', name: string): boolean;
}

// ============================================================== the templar

interface Compiled {
  name: string;
  roots: string[] | null;
  source: string;
  isExpr: boolean;
  /** the same template with every printed expression reporting its value (compiled when a render reads a secret) */
  tracked?: { name: string; exprRoots: string[][]; locals: Map<string, string[]> };
  /** the hosts of hostvars the text reads (hostvars-keys.ts); null: any; undefined: not looked at yet */
  hostvars?: HostvarsKeys | null;
}

const CACHE_LIMIT = 4000;

class MiniJinjaTemplar implements Templar {
  private env = new Environment();
  private cache = new Map<string, Compiled>();
  private registeredIncludes = new Set<string>();
  private counter = 0;
  private envOpts = '';
  // per-render state (renders are synchronous and never nested)
  private pendingUndef: string | undefined;
  private pendingError: unknown;
  private captured: unknown;
  private curVars: Record<string, unknown> = {};
  /** did the last render read a secret (secret-values.ts)? Then what it produced is a secret too */
  private lastSecret = false;
  /** during a tracked render: which printed expressions come from secrets, and what they printed */
  private track: { exprRoots: string[][]; locals: Map<string, string[]>; vars: Record<string, unknown>; pieces: string[] } | undefined;

  constructor(private templateSearch?: (name: string) => string | undefined) {
    const env = this.env;
    env.undefinedBehavior = 'strict';
    env.enablePyCompat();
    env.debug = false;
    this.applyOpts({});
    const guard = <T>(f: () => T, fallback: T, what?: string): T => {
      try {
        return f();
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        if (this.pendingError === undefined && this.pendingUndef === undefined) this.pendingError = new Error(what ? `${what}: ${msg}` : msg);
        return fallback;
      }
    };
    for (const [name, spec] of Object.entries(FILTERS)) {
      env.addFilter(name, (value: unknown, ...raw: unknown[]) =>
        guard(() => {
          const [args, kw] = splitKwargs(raw, spec.kwargs);
          return spec.fn(toJS(value), args, kw) ?? null;
        }, null, `filter '${name}'`),
      );
    }
    for (const [name, spec] of Object.entries(TESTS)) {
      env.addTest(name, (value: unknown, ...raw: unknown[]) =>
        guard(() => {
          const [args, kw] = splitKwargs(raw, spec.kwargs);
          return spec.fn(toJS(value), args, kw) === true;
        }, false, `test '${name}'`),
      );
    }
    env.addFilter('__py', (v: unknown) => guard(() => (v === undefined || v === null ? '' : pyStr(toJS(v))), ''));
    env.addFilter('__cap', (v: unknown) => guard(() => ((this.captured = toJS(v)), ''), ''));
    env.addFilter('__o', (v: unknown, n: unknown) =>
      guard(() => {
        const t = this.track;
        // a printed string computed from a secret (a number or a boolean computed from one is not the secret)
        const x = t ? toJS(v) : undefined;
        if (t && typeof x === 'string' && this.pieceFromSecret(t, Number(n))) t.pieces.push(x);
        return '';
      }, ''),
    );
    env.addGlobal('__U', (name: unknown) => {
      if (this.pendingUndef === undefined) this.pendingUndef = String(name);
      return null;
    });
    env.addGlobal('__get', (obj: unknown, key: unknown, dflt: unknown) =>
      guard(() => {
        const o = toJS(obj);
        const k = toJS(key);
        if (o && typeof o === 'object' && !Array.isArray(o) && Object.prototype.hasOwnProperty.call(o, String(k))) return (o as Kw)[String(k)] ?? null;
        if (Array.isArray(o) && typeof k === 'number' && k < o.length) return o[k] ?? null;
        return dflt === undefined ? null : toJS(dflt);
      }, null),
    );
    env.addGlobal('omit', OMIT);
    const lookup = (wantlist: boolean) => (plugin: unknown, ...raw: unknown[]) =>
      guard(() => {
        const [terms, kw] = splitKwargs(raw, undefined, true);
        const fn = LOOKUPS[String(plugin)];
        if (!fn) throw new Error(`lookup plugin '${String(plugin)}' not found`);
        let res: unknown[];
        try {
          res = fn(terms.flatMap((t) => (Array.isArray(t) && String(plugin) !== 'items' && !(fn as { rawTerms?: boolean }).rawTerms ? t : [t])), kw, this.curVars);
        } catch (e) {
          if (e instanceof LookupUndefined) {
            if (this.pendingUndef === undefined) this.pendingUndef = e.variable;
            return null;
          }
          if (String(kw.errors) === 'ignore') return wantlist || pyTruthy(kw.wantlist) ? [] : null;
          throw new Error(`lookup('${String(plugin)}'): ${e instanceof Error ? e.message : String(e)}`);
        }
        if (wantlist || pyTruthy(kw.wantlist)) return res;
        return res.length === 1 ? res[0] : res.map(pyStr).join(',');
      }, null);
    env.addGlobal('lookup', lookup(false));
    env.addGlobal('query', lookup(true));
    env.addGlobal('q', lookup(true));
  }

  private applyOpts(o: RenderOptions): string {
    const t = o.trimBlocks ?? true, l = o.lstripBlocks ?? false, k = o.keepTrailingNewline ?? true;
    const key = `${+t}${+l}${+k}`;
    if (key !== this.envOpts) {
      this.env.trimBlocks = t;
      this.env.lstripBlocks = l;
      this.env.keepTrailingNewline = k;
      this.envOpts = key;
    }
    return key;
  }

  private compile(cacheKey: string, source: string, isExpr: boolean): Compiled {
    const hit = this.cache.get(cacheKey);
    if (hit) {
      // refresh LRU position cheaply only on occasional hits is not needed; Map order = insertion
      return hit;
    }
    if (this.cache.size >= CACHE_LIMIT) {
      this.env.clearTemplates();
      this.cache.clear();
      this.registeredIncludes.clear();
    }
    let scanned: Scanned;
    if (isExpr) {
      const roots = new Set<string>();
      const ex = rewriteExpr(source, roots);
      scanned = { out: `{{ (${ex ?? source}) | __cap }}`, roots, includes: [] };
      // the raw identifiers too (for ctx pruning), in case rewriting failed
      for (const t of tokenize(source) ?? []) if (t.t === 'id') roots.add(t.v);
    } else {
      scanned = scanTemplate(source);
      this.registerIncludes(scanned.includes);
    }
    const name = `__t${++this.counter}`;
    try {
      this.env.addTemplate(name, scanned.out);
    } catch (e) {
      // Our rewrite must never turn a valid template into an invalid one: fall back to the original text.
      const original = isExpr ? `{{ (${source}) | __cap }}` : source;
      try {
        this.env.addTemplate(name, original);
        scanned = { ...scanned, roots: null };
      } catch (e2) {
        throw isExpr ? this.exprSyntaxError(source) : convertError(e2);
      }
      void e;
    }
    const compiled: Compiled = { name, roots: scanned.roots ? [...scanned.roots] : null, source, isExpr };
    this.cache.set(cacheKey, compiled);
    return compiled;
  }

  /**
   * The syntax error of a bare expression as the user wrote it: compiled alone with its closing `}}` on a line of
   * its own, an error on that line is at the end of what the user wrote ("unexpected end of expression"), never
   * a `}` or `)` the wrapping added.
   */
  private exprSyntaxError(source: string): TemplateError {
    const lines = source.split('\n').length;
    const probe = `__p${++this.counter}`;
    try {
      this.env.addTemplate(probe, `{{ ${source}\n}}`);
    } catch (e) {
      const c = convertError(e);
      const detail = c.message.replace(/^template syntax error: /, '').replace(/ \(line \d+[^)]*\)$/, '');
      const atEnd = c.line !== undefined && c.line > lines;
      const msg = atEnd ? detail.replace(/^unexpected (`[^`]*`|end of variable block)/, 'unexpected end of expression') : detail;
      return new TemplateError('template_syntax', `template syntax error: ${msg} in expression "${source.trim()}"`, { line: Math.min(c.line ?? 1, lines) });
    }
    return new TemplateError('template_syntax', `template syntax error in expression "${source.trim()}"`, { line: 1 });
  }

  parse(text: string, kind: 'expr' | 'template'): void {
    if (kind === 'expr') {
      const single = singleExpression(text.trim());
      // a `when: "{{ x }}"` the run unwraps the same way (variables.ts)
      const src = single ?? text.replace(/^\s*\{\{|\}\}\s*$/g, '');
      this.compile('E\0' + src, src, true);
      return;
    }
    const key = this.applyOpts({});
    this.compile(key + '\0' + text, text, false);
  }

  private known = new Map<string, boolean>();
  knows(kind: 'filter' | 'test', name: string): boolean {
    if (kind === 'filter' ? name in FILTERS : name in TESTS) return true;
    const k = `${kind}:${name}`;
    let r = this.known.get(k);
    if (r === undefined) {
      if (!/^[A-Za-z_]\w*$/.test(name)) r = false;
      else {
        const probe = `__k${++this.counter}`;
        try {
          this.env.addTemplate(probe, kind === 'filter' ? `{{ 1 | ${name} }}` : `{{ 1 is ${name} }}`);
          this.env.renderTemplate(probe, {});
          r = true;
        } catch (e) {
          r = !/unknown (filter|test)/.test(e instanceof Error ? e.message : String(e));
        }
      }
      this.known.set(k, r);
    }
    return r;
  }

  private registerIncludes(names: string[]): void {
    if (!this.templateSearch) return;
    for (const n of names) {
      if (this.registeredIncludes.has(n)) continue;
      this.registeredIncludes.add(n);
      const src = this.templateSearch(n);
      if (src === undefined) continue;
      const s = scanTemplate(src);
      try {
        this.env.addTemplate(n, s.out);
      } catch {
        try { this.env.addTemplate(n, src); } catch (e) { throw convertError(e, n); }
      }
      this.registerIncludes(s.includes);
    }
  }

  /** Does printed expression n of a tracked render read a secret (directly, or through a {% set %}/{% for %} name)? */
  private pieceFromSecret(t: NonNullable<MiniJinjaTemplar['track']>, n: number): boolean {
    const seen = new Set<string>();
    const fromSecret = (name: string): boolean => {
      if (seen.has(name)) return false;
      seen.add(name);
      if (Object.prototype.hasOwnProperty.call(t.vars, name)) return containsSecret(t.vars[name]);
      return (t.locals.get(name) ?? []).some(fromSecret);
    };
    return (t.exprRoots[n] ?? []).some(fromSecret);
  }

  /** The tracked twin of a compiled template (see scanTemplate's `track`). */
  private trackedOf(c: Compiled): NonNullable<Compiled['tracked']> {
    if (c.tracked) return c.tracked;
    const scanned = scanTemplate(c.source, true);
    const name = `__t${++this.counter}`;
    this.env.addTemplate(name, scanned.out);
    c.tracked = { name, exprRoots: scanned.exprRoots ?? [], locals: scanned.locals ?? new Map() };
    return c.tracked;
  }

  private run(c: Compiled, vars: Record<string, unknown>): string {
    // a render that reads a secret makes secrets: the whole value of an expression, or each printed piece of a
    // template that came from one (never by searching the output for the secret's text)
    this.lastSecret = hasSecrets() && (c.roots ? c.roots.some((r) => Object.prototype.hasOwnProperty.call(vars, r) && containsSecret(vars[r])) : Object.values(vars).some((v) => containsSecret(v)));
    let name = c.name;
    if (this.lastSecret && !c.isExpr && c.roots) {
      try {
        const t = this.trackedOf(c);
        name = t.name;
        this.track = { exprRoots: t.exprRoots, locals: t.locals, vars, pieces: [] };
      } catch {
        this.track = undefined; // the plain template still renders; its whole output is marked below
      }
    }
    try {
      const out = this.renderCompiled(c, name, vars);
      if (this.lastSecret && !c.isExpr) {
        if (this.track) for (const p of this.track.pieces) addSecret(p, MIN_DERIVED);
        else addSecret(out, MIN_DERIVED);
      }
      return out;
    } finally {
      this.track = undefined;
    }
  }

  private renderCompiled(c: Compiled, templateName: string, vars: Record<string, unknown>): string {
    let ctx: Record<string, unknown> = vars;
    if (c.roots) {
      ctx = {};
      for (const r of c.roots) if (Object.prototype.hasOwnProperty.call(vars, r)) ctx[r] = vars[r];
      // only the hosts of hostvars the text reads: a copy of every host per render was O(hosts)
      const hv = ctx['hostvars'];
      if (hv !== null && typeof hv === 'object' && !Array.isArray(hv)) {
        if (c.hostvars === undefined) c.hostvars = hostvarsKeys(c.source, c.isExpr);
        const pruned = c.hostvars ? pruneHostvars(hv as Record<string, unknown>, c.hostvars, vars) : undefined;
        if (pruned) ctx['hostvars'] = pruned;
      }
    }
    this.pendingUndef = undefined;
    this.pendingError = undefined;
    this.curVars = vars;
    let out = '';
    let err: unknown;
    try {
      out = this.env.renderTemplate(templateName, ctx);
    } catch (e) {
      err = e;
    } finally {
      this.curVars = {};
    }
    if (this.pendingUndef !== undefined) {
      const v = this.pendingUndef;
      this.pendingUndef = undefined;
      throw new TemplateError('undefined_variable', `'${v}' is undefined`, { variable: v });
    }
    if (this.pendingError !== undefined) {
      const e = this.pendingError;
      this.pendingError = undefined;
      throw new TemplateError('template_error', e instanceof Error ? e.message : String(e));
    }
    if (err !== undefined) throw convertError(err);
    return out;
  }

  renderString(tpl: string, vars: Record<string, unknown>, opts: RenderOptions = {}): string {
    const key = this.applyOpts(opts);
    if (!this.isTemplated(tpl) && !tpl.includes('{#')) {
      if (!(opts.keepTrailingNewline ?? true) && tpl.endsWith('\n')) return tpl.slice(0, tpl.endsWith('\r\n') ? -2 : -1);
      return tpl;
    }
    return this.run(this.compile(key + '\0' + tpl, tpl, false), vars);
  }

  evaluate(expr: string, vars: Record<string, unknown>): unknown {
    const single = singleExpression(expr.trim());
    const src = single ?? expr;
    const c = this.compile('E\0' + src, src, true);
    this.captured = null;
    this.run(c, vars);
    const v = this.captured;
    this.captured = null;
    // a value computed from a secret is one (a container's own leaves that are secrets are known already)
    if (this.lastSecret && typeof v === 'string') markSecret(v, MIN_DERIVED);
    return v;
  }

  evaluateBool(expr: string | boolean, vars: Record<string, unknown>): boolean {
    if (typeof expr === 'boolean') return expr;
    if (typeof expr !== 'string') return pyTruthy(expr);
    return pyTruthy(this.evaluate(expr, vars));
  }

  render(value: unknown, vars: Record<string, unknown>): unknown {
    if (typeof value === 'string') {
      if (!this.isTemplated(value)) return value;
      const single = singleExpression(value);
      if (single !== null) return this.evaluate(single, vars);
      return this.renderString(value, vars);
    }
    // host data and rendered output are final: never rendered again (final.ts)
    if (isFinalObject(value)) return value;
    if (Array.isArray(value)) return value.map((x) => this.render(x, vars));
    if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      const out: Record<string, unknown> = {};
      const fin = finalNames(value);
      for (const [k, x] of Object.entries(value)) {
        if (fin?.has(k)) out[k] = x;
        else out[this.isTemplated(k) ? pyStr(this.render(k, vars)) : k] = this.render(x, vars);
      }
      return fin ? setFinalNames(out, fin) : out;
    }
    return value;
  }

  isTemplated(s: unknown): boolean {
    return typeof s === 'string' && (s.includes('{{') || s.includes('{%'));
  }
}

export function createTemplar(opts: { templateSearch?: (name: string) => string | undefined } = {}): Templar {
  return new MiniJinjaTemplar(opts.templateSearch);
}
