/**
 * OpenSSH client configuration (~/.ssh/config): the settings runbook honours when the inventory does not set them
 * itself: HostName, User, Port, IdentityFile, ProxyJump. Parsing and Host/Match evaluation are done by the
 * maintained `ssh-config` package (first value wins, as in OpenSSH); `Include` (which that package leaves alone) is
 * expanded here, in place, before parsing. See docs/adr (ssh_config) for why not `ssh -G`.
 *
 * Which file: the `runbook_ssh_config` variable, else the RUNBOOK_SSH_CONFIG environment variable, else
 * ~/.ssh/config when it exists. /etc/ssh/ssh_config is not read (the settings above are per-user business).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import SSHConfig from 'ssh-config';
import { RunbookError } from '../errors.js';

export interface SshConfigHost {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles?: string[];
  /** comma-separated ProxyJump chain, as written ("none" removed) */
  proxyJump?: string;
  /** the config file that was read */
  file: string;
}

const cache = new Map<string, { mtimeMs: number; config: SSHConfig }>();

export function defaultSshConfigFile(explicit?: string): string | undefined {
  if (explicit) return expandHome(explicit);
  const env = process.env['RUNBOOK_SSH_CONFIG'];
  if (env) return expandHome(env);
  const def = path.join(os.homedir(), '.ssh', 'config');
  return existsSync(def) ? def : undefined;
}

function expandHome(p: string): string {
  return p === '~' ? os.homedir() : p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p;
}

function globToRe(pat: string): RegExp {
  return new RegExp('^' + pat.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
}

/** Include targets: `~` and relative paths (relative to ~/.ssh, as OpenSSH does for user files), `*`/`?` in the last component. */
function includeTargets(spec: string): string[] {
  let p = expandHome(spec);
  if (!path.isAbsolute(p)) p = path.join(os.homedir(), '.ssh', p);
  const dir = path.dirname(p);
  const base = path.basename(p);
  if (!/[*?]/.test(base)) return existsSync(p) ? [p] : [];
  if (/[*?]/.test(dir)) throw new Error(`Include ${spec}: wildcards are supported in the file name only`);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const re = globToRe(base);
  return names
    .filter((n) => re.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}

/** The file's text with every `Include` line replaced by the included files' text (depth-limited like OpenSSH: 16). */
function expandIncludes(file: string, depth = 0): string {
  if (depth > 16) throw new Error(`${file}: Include nested too deeply (more than 16 levels)`);
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*include(?:\s*=\s*|\s+)(.+?)\s*$/i.exec(lines[i]!);
    if (!m) {
      out.push(lines[i]!);
      continue;
    }
    for (const word of m[1]!.match(/"[^"]*"|\S+/g) ?? []) {
      for (const t of includeTargets(word.replace(/^"|"$/g, ''))) out.push(expandIncludes(t, depth + 1));
    }
  }
  return out.join('\n');
}

function load(file: string): SSHConfig {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw new RunbookError('config', `ssh config ${file}: cannot read it: ${(e as Error).message}`, { cause: e });
  }
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === st.mtimeMs) return hit.config;
  let config: SSHConfig;
  try {
    config = SSHConfig.parse(expandIncludes(file));
  } catch (e) {
    throw new RunbookError('config', `ssh config ${file}: ${(e as Error).message}`, { cause: e });
  }
  cache.set(file, { mtimeMs: st.mtimeMs, config });
  return config;
}

function first(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v[0] : v;
}

/** OpenSSH's %-tokens in HostName / IdentityFile (the ones that make sense here) and a leading ~. */
function tokens(s: string, t: { h: string; n: string; r: string; p: number }): string {
  const out = s.replace(/%([%hnrpud])/g, (_m, c: string) => {
    switch (c) {
      case '%':
        return '%';
      case 'h':
        return t.h;
      case 'n':
        return t.n;
      case 'r':
        return t.r;
      case 'p':
        return String(t.p);
      case 'u':
        return os.userInfo().username;
      case 'd':
        return os.homedir();
    }
    return _m;
  });
  return expandHome(out);
}

/**
 * What the ssh config file says for `host` (the name runbook would connect to: ansible_host or the inventory name).
 * Returns undefined when there is no config file. Throws a 'config' RunbookError naming the file when it is broken.
 */
export function sshConfigFor(host: string, file: string | undefined, remoteUserHint?: string): SshConfigHost | undefined {
  if (!file) return undefined;
  const config = load(file);
  // `Match exec` is not run (it would run arbitrary commands on the controller for every host); it never matches.
  const c = config.compute(host, { ignoreCase: true, matchExec: false });
  const out: SshConfigHost = { file };
  const hostName = first(c['hostname']);
  const user = first(c['user']);
  const portText = first(c['port']);
  let port: number | undefined;
  if (portText !== undefined) {
    port = Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RunbookError('config', `ssh config ${file}: Host ${host}: invalid Port ${JSON.stringify(portText)}`);
    }
    out.port = port;
  }
  if (user !== undefined) out.user = user;
  const t = { h: host, n: host, r: user ?? remoteUserHint ?? os.userInfo().username, p: port ?? 22 };
  if (hostName !== undefined) {
    out.hostName = tokens(hostName, t);
    t.h = out.hostName;
  }
  const ids = c['identityfile'];
  if (ids !== undefined) {
    const list = (Array.isArray(ids) ? ids : [ids]).filter((x) => x.toLowerCase() !== 'none').map((x) => tokens(x, t));
    if (list.length) out.identityFiles = list;
  }
  const pj = first(c['proxyjump']);
  if (pj !== undefined && pj.toLowerCase() !== 'none') out.proxyJump = pj;
  return out;
}

/**
 * ConnectionSpec fields added by the reach work (pct, jump hosts, ssh config), kept out of types.ts's contract:
 * connect.ts sets them, pct.ts and jump.ts read them.
 */
export interface SpecExtras {
  /** the ssh config file in effect for this host (used again to resolve jump host aliases) */
  sshConfigFile?: string;
  /** pct: how to become root on the Proxmox host when the login user is not root (proxmox_become_method) */
  proxmoxBecomeMethod?: 'sudo' | 'none';
  /** pct: sudo password on the Proxmox host (runbook_pct_become_password); never logged */
  proxmoxBecomePassword?: string;
}

/**
 * The ssh config view of one inventory host: the config file in effect (runbook_ssh_config var, RUNBOOK_SSH_CONFIG,
 * ~/.ssh/config) and what it says for the name runbook connects to. Errors name the host and the file.
 */
export function sshConfigForInventory(host: string, target: string, vars: Record<string, unknown>, userHint?: string): SshConfigHost | undefined {
  const explicit = vars['runbook_ssh_config'];
  const file = defaultSshConfigFile(explicit !== undefined && explicit !== null && explicit !== '' ? String(explicit) : undefined);
  if (!file) return undefined;
  try {
    return sshConfigFor(target, file, userHint);
  } catch (e) {
    if (e instanceof RunbookError) throw new RunbookError(e.code, `host ${host}: ${e.message}`, { host, cause: e });
    throw e;
  }
}

/** The first IdentityFile that exists (OpenSSH tries each in turn; runbook uses one key). */
export function firstExisting(files: string[] | undefined): string | undefined {
  return files?.find((f) => existsSync(f));
}
