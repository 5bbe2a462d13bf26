/**
 * ansible.cfg, found where Ansible looks (ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg, /etc/ansible/ansible.cfg;
 * the first that exists), for the settings an existing repository relies on. runbook's own flags win over it; host
 * and play variables win over its connection and become defaults.
 *
 * INI is read like Python's configparser as Ansible configures it: `[section]`, `key = value` or `key: value`,
 * whole-line `#`/`;` comments, inline comments after ` ;`, indented lines continue the previous value. Relative paths
 * are relative to the directory of the file (Ansible's rule for path settings).
 */
import { ansibleBoolean } from '../vars/python-compat.js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunbookError } from '../errors.js';

export interface AnsibleCfg {
  file: string;
  inventory?: string[];
  rolesPath?: string[];
  forks?: number;
  diff?: boolean;
  /** implicit/smart: gather facts unless a play says no; explicit: only when a play says gather_facts: true */
  gathering?: 'implicit' | 'explicit' | 'smart';
  remoteUser?: string;
  privateKeyFile?: string;
  hostKeyChecking?: boolean;
  become?: boolean;
  becomeUser?: string;
  becomeMethod?: string;
  /** [defaults] ansible_managed: the format of the template module's ansible_managed (lib/vars/template-vars.ts) */
  managed?: string;
}

export type Ini = Record<string, Record<string, { value: string; line: number }>>;

export function parseIni(text: string, file: string): Ini {
  const out: Ini = {};
  let section: string | undefined;
  let last: { value: string; line: number } | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (/^\s*([#;]|$)/.test(raw)) {
      if (!raw.trim()) last = undefined;
      return;
    }
    if (/^\s/.test(raw) && last) {
      last.value += '\n' + stripInline(raw.trim());
      return;
    }
    const sec = /^\[([^\]]+)\]\s*$/.exec(raw.trim());
    if (sec) {
      section = sec[1]!.trim();
      out[section] ??= {};
      last = undefined;
      return;
    }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(raw.trim());
    if (!kv) throw new RunbookError('config', `cannot parse this line of ${path.basename(file)}: ${raw.trim()}`, { pos: { file, line, col: 1 } });
    if (section === undefined) throw new RunbookError('config', `setting "${kv[1]}" outside any [section]`, { pos: { file, line, col: 1 } });
    last = { value: stripInline(kv[2]!), line };
    out[section]![kv[1]!.toLowerCase()] = last;
  });
  return out;
}

function stripInline(v: string): string {
  const m = /\s;/.exec(v);
  return (m ? v.slice(0, m.index) : v).trim();
}

/** The ansible.cfg Ansible would read, or undefined. */
export function findAnsibleCfg(cwd = process.cwd()): string | undefined {
  const env = process.env['ANSIBLE_CONFIG'];
  if (env) {
    const p = path.resolve(cwd, env.startsWith('~/') ? path.join(os.homedir(), env.slice(2)) : env);
    const f = fs.existsSync(p) && fs.statSync(p).isDirectory() ? path.join(p, 'ansible.cfg') : p;
    if (!fs.existsSync(f)) throw new RunbookError('missing_file', `ANSIBLE_CONFIG names ${env}, which does not exist`);
    return f;
  }
  return [path.join(cwd, 'ansible.cfg'), path.join(os.homedir(), '.ansible.cfg'), '/etc/ansible/ansible.cfg'].find((f) => fs.existsSync(f));
}

function bool(v: { value: string; line: number }, file: string, key: string): boolean {
  if (v.value.trim() === '') return false;
  const b = ansibleBoolean(v.value);
  if (b !== undefined) return b;
  throw new RunbookError('config', `${key} must be a boolean, got "${v.value}"`, { pos: { file, line: v.line, col: 1 } });
}

export function loadAnsibleCfg(file: string): AnsibleCfg {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new RunbookError('missing_file', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const ini = parseIni(text, file);
  const dir = path.dirname(path.resolve(file));
  const d = ini['defaults'] ?? {};
  const pe = ini['privilege_escalation'] ?? {};
  const conn = ini['ssh_connection'] ?? {};
  const expand = (p: string) => {
    const x = p.replace(/^~(?=\/|$)/, os.homedir()).replace(/\$\{?(\w+)\}?/g, (_, n: string) => process.env[n] ?? '');
    return path.resolve(dir, x);
  };
  const list = (v: string) => v.split(/[,:\n]/).map((s) => s.trim()).filter(Boolean).map(expand);
  const cfg: AnsibleCfg = { file };
  if (d['inventory']) cfg.inventory = d['inventory'].value.split(/[,\n]/).map((s) => s.trim()).filter(Boolean).map(expand);
  const rp = d['roles_path'] ?? d['role_path'];
  if (rp) cfg.rolesPath = list(rp.value);
  if (d['forks']) {
    const n = Number(d['forks'].value);
    if (!Number.isInteger(n) || n < 1) throw new RunbookError('config', `forks must be a positive integer, got "${d['forks'].value}"`, { pos: { file, line: d['forks'].line, col: 1 } });
    cfg.forks = n;
  }
  const diff = ini['diff']?.['always'] ?? d['diff'];
  if (diff) cfg.diff = bool(diff, file, 'diff');
  if (d['gathering']) {
    const g = d['gathering'].value.toLowerCase();
    if (g !== 'implicit' && g !== 'explicit' && g !== 'smart') throw new RunbookError('config', `gathering must be implicit, explicit or smart, got "${d['gathering'].value}"`, { pos: { file, line: d['gathering'].line, col: 1 } });
    cfg.gathering = g;
  }
  const ru = d['remote_user'];
  if (ru?.value) cfg.remoteUser = ru.value;
  const pk = d['private_key_file'];
  if (pk?.value) cfg.privateKeyFile = expand(pk.value);
  const hkc = d['host_key_checking'] ?? conn['host_key_checking'];
  if (hkc) cfg.hostKeyChecking = bool(hkc, file, 'host_key_checking');
  if (d['ansible_managed']) cfg.managed = d['ansible_managed'].value;
  if (pe['become']) cfg.become = bool(pe['become'], file, 'become');
  if (pe['become_user']?.value) cfg.becomeUser = pe['become_user'].value;
  if (pe['become_method']?.value) cfg.becomeMethod = pe['become_method'].value;
  return cfg;
}

/** ansible.cfg for this run (cwd or ANSIBLE_CONFIG), or undefined when there is none. */
export function currentAnsibleCfg(cwd = process.cwd()): AnsibleCfg | undefined {
  const f = findAnsibleCfg(cwd);
  return f ? loadAnsibleCfg(f) : undefined;
}

/** The host variables ansible.cfg provides as the lowest-precedence defaults of every connection. */
export function cfgConnectionDefaults(cfg: AnsibleCfg | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!cfg) return out;
  if (cfg.remoteUser !== undefined) out['ansible_user'] = cfg.remoteUser;
  if (cfg.privateKeyFile !== undefined) out['ansible_ssh_private_key_file'] = cfg.privateKeyFile;
  if (cfg.hostKeyChecking !== undefined) out['ansible_host_key_checking'] = cfg.hostKeyChecking;
  if (cfg.managed !== undefined) out['ansible_managed'] = cfg.managed;
  return out;
}

/** The become defaults ansible.cfg's [privilege_escalation] gives (lowest precedence). */
export function cfgBecomeDefaults(cfg: AnsibleCfg | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!cfg) return out;
  if (cfg.become !== undefined) out['ansible_become'] = cfg.become;
  if (cfg.becomeUser !== undefined) out['ansible_become_user'] = cfg.becomeUser;
  if (cfg.becomeMethod !== undefined) out['ansible_become_method'] = cfg.becomeMethod;
  return out;
}
