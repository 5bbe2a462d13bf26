/**
 * The variables Ansible's template module adds while it renders a file (ansible.template.generate_ansible_template_vars):
 * ansible_managed, template_host, template_path, template_fullpath, template_uid, template_mtime, template_run_date,
 * template_destpath. ansible_managed is ansible.cfg's `[defaults] ansible_managed` (default "Ansible managed") with
 * `{host}`, `{uid}`, `{file}` filled in (str.format) and then strftime'd with the template file's mtime, local time.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';

export const DEFAULT_MANAGED = 'Ansible managed';

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** made once per TZ (a formatter keeps the zone it was made in) */
let tzFormat: { tz: string | undefined; f: Intl.DateTimeFormat } | undefined;

/** C strftime for the common conversions, local time (the controller's TZ). Unknown conversions stay as written. */
export function strftime(fmt: string, d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  // only for %Z: an Intl formatter costs ~1.5 ms to make (the template module renders ansible_managed per host-task)
  const tzName = () => {
    const tz = process.env['TZ'];
    const f = tzFormat !== undefined && tzFormat.tz === tz ? tzFormat.f : (tzFormat = { tz, f: new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }) }).f;
    return f.formatToParts(d).find((x) => x.type === 'timeZoneName')?.value ?? '';
  };
  const start = new Date(d.getFullYear(), 0, 1);
  const yday = Math.floor((Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) - Date.UTC(start.getFullYear(), 0, 1)) / 86400000) + 1;
  const h12 = d.getHours() % 12 || 12;
  const conv: Record<string, () => string> = {
    Y: () => String(d.getFullYear()), y: () => p(d.getFullYear() % 100), m: () => p(d.getMonth() + 1), d: () => p(d.getDate()),
    e: () => String(d.getDate()).padStart(2, ' '), H: () => p(d.getHours()), I: () => p(h12), M: () => p(d.getMinutes()),
    S: () => p(d.getSeconds()), p: () => (d.getHours() < 12 ? 'AM' : 'PM'), A: () => DAYS[d.getDay()]!, a: () => DAYS[d.getDay()]!.slice(0, 3),
    B: () => MONTHS[d.getMonth()]!, b: () => MONTHS[d.getMonth()]!.slice(0, 3), h: () => MONTHS[d.getMonth()]!.slice(0, 3),
    j: () => p(yday, 3), w: () => String(d.getDay()), u: () => String(d.getDay() || 7), s: () => String(Math.floor(d.getTime() / 1000)),
    z: () => (off >= 0 ? '+' : '-') + p(Math.floor(Math.abs(off) / 60)) + p(Math.abs(off) % 60), Z: () => ((z) => (z === 'GMT' || z === 'UTC' ? 'UTC' : z))(tzName()),
    F: () => `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`, T: () => `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`,
    D: () => `${p(d.getMonth() + 1)}/${p(d.getDate())}/${p(d.getFullYear() % 100)}`, R: () => `${p(d.getHours())}:${p(d.getMinutes())}`,
    c: () => `${DAYS[d.getDay()]!.slice(0, 3)} ${MONTHS[d.getMonth()]!.slice(0, 3)} ${String(d.getDate()).padStart(2, ' ')} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${d.getFullYear()}`,
    n: () => '\n', t: () => '\t', '%': () => '%',
  };
  return fmt.replace(/%(.)/gs, (m, c: string) => conv[c]?.() ?? m);
}

/** Python str.format with the named fields {host}, {uid}, {file} ({{ and }} are literal braces). */
function pyFormatNamed(fmt: string, fields: Record<string, string>): string {
  return fmt.replace(/\{\{|\}\}|\{(\w*)\}/g, (m, name: string | undefined) => {
    if (m === '{{') return '{';
    if (m === '}}') return '}';
    if (name !== undefined && name in fields) return fields[name]!;
    throw new Error(`ansible_managed: unknown field ${m} (use {host}, {uid} or {file})`);
  });
}

/** Python's str(datetime): 2026-12-02 08:40:03.123456 (no fraction when it is zero). */
function pyDatetime(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const base = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return d.getMilliseconds() ? `${base}.${p(d.getMilliseconds() * 1000, 6)}` : base;
}

const owners = new Map<number, string>();
/**
 * The user name of a uid (pwd.getpwuid), looked up once per run: /etc/passwd first (no process to start), then
 * `getent passwd` for users only NSS knows (LDAP, sssd).
 */
function ownerName(uid: number): string {
  let name = owners.get(uid);
  if (name === undefined) {
    try {
      for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
        const f = line.split(':');
        if (f.length >= 3 && f[2] === String(uid) && f[0]) {
          name = f[0];
          break;
        }
      }
    } catch {
      // no /etc/passwd: getent below
    }
    if (name === undefined) {
      const r = spawnSync('getent', ['passwd', String(uid)], { encoding: 'utf8', timeout: 5000 });
      name = (r.status === 0 ? r.stdout.split(':')[0] : '') || String(uid);
    }
    owners.set(uid, name);
  }
  return name;
}

/**
 * The template module's variables for rendering `fullpath` (found from the task's `src`) to `dest`. `managed` is the
 * ansible_managed format from ansible.cfg (undefined: Ansible's default).
 */
export function templateVars(src: string, fullpath: string, dest: string | undefined, managed: unknown): Record<string, unknown> {
  const st = fs.statSync(fullpath);
  const host = os.hostname();
  const uid = ownerName(st.uid);
  const fmt = typeof managed === 'string' ? managed : DEFAULT_MANAGED;
  const mtime = st.mtime;
  return {
    template_host: host,
    template_path: src,
    template_fullpath: path.resolve(fullpath),
    template_uid: uid,
    template_mtime: pyDatetime(mtime),
    template_run_date: pyDatetime(new Date()),
    template_destpath: dest ?? null,
    ansible_managed: strftime(pyFormatNamed(fmt, { host, uid, file: src }), mtime),
  };
}

/**
 * Ansible's template module renders with Jinja2's keep_trailing_newline=False (one trailing newline of the source is
 * dropped) and then pads the result with newlines up to as many as the source ends with (preserve_trailing_newlines).
 */
export function preserveTrailingNewlines(source: string, rendered: string): string {
  const count = (s: string) => s.length - s.replace(/\n+$/, '').length;
  const want = count(source), have = count(rendered);
  return want > have ? rendered + '\n'.repeat(want - have) : rendered;
}
