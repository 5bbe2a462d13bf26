/**
 * Host variables -> ConnectionSpec -> an open Connection. Understands Ansible's connection variables so an
 * existing inventory works unchanged.
 */
import { ansibleBoolean } from '../vars/python-compat.js';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunbookError } from '../errors.js';
import type { Connection, ConnectionSpec } from '../connection/types.js';
import { createConnection } from '../connection/index.js';
import { firstExisting, sshConfigForInventory, type SpecExtras } from '../connection/ssh-config.js';

function bool(v: unknown): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  return ansibleBoolean(String(v)) ?? false;
}

function num(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** `-o Key=Value` options out of ansible_ssh_common_args / ansible_ssh_extra_args */
function sshOptions(...args: unknown[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of args) {
    if (typeof a !== 'string') continue;
    const re = /-o\s*([A-Za-z]+)[= ]\s*("[^"]*"|'[^']*'|\S+)/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(a))) out.set(m[1]!.toLowerCase(), m[2]!.replace(/^["']|["']$/g, ''));
    const j = /(?:^|\s)-J\s*(\S+)/.exec(a);
    if (j) out.set('proxyjump', j[1]!);
  }
  return out;
}

/** The connection a host gets when its variables name none: the play's `connection:`, local for localhost, else ssh. */
export function defaultConnection(host: string, playConnection?: string): string {
  return playConnection ?? (host === 'localhost' ? 'local' : 'ssh');
}

export function connectionSpecFor(host: string, v: Record<string, unknown>, hostKeyChecking?: boolean, playConnection?: string): ConnectionSpec & SpecExtras {
  const o = sshOptions(v['ansible_ssh_common_args'], v['ansible_ssh_extra_args']);
  let type = String(v['ansible_connection'] ?? defaultConnection(host, playConnection));
  if (type === 'community.proxmox.proxmox_pct_remote' || type === 'community.general.proxmox_pct_remote' || type === 'proxmox_pct_remote') type = 'pct';
  if (type === 'paramiko' || type === 'smart' || type === 'ansible.builtin.ssh') type = 'ssh';
  if (type === 'ansible.builtin.local') type = 'local';
  if (type !== 'ssh' && type !== 'local' && type !== 'pct') {
    throw new RunbookError('config', `host ${host}: connection type "${type}" is not supported (ssh, local, pct)`, { host });
  }
  let hkc = hostKeyChecking ?? bool(v['ansible_host_key_checking']) ?? bool(v['runbook_host_key_checking']);
  const strict = o.get('stricthostkeychecking');
  if (hkc === undefined && strict !== undefined) hkc = !['no', 'off', 'false'].includes(strict.toLowerCase());
  if (hkc === undefined && process.env['RUNBOOK_HOST_KEY_CHECKING'] !== undefined) hkc = bool(process.env['RUNBOOK_HOST_KEY_CHECKING']);
  if (hkc === undefined && process.env['ANSIBLE_HOST_KEY_CHECKING'] !== undefined) hkc = bool(process.env['ANSIBLE_HOST_KEY_CHECKING']);
  const knownHosts = v['runbook_known_hosts'] ?? v['ansible_ssh_known_hosts_file'] ?? o.get('userknownhostsfile');
  const key = v['ansible_ssh_private_key_file'] ?? v['ansible_private_key_file'];
  const timeout = Number(v['ansible_ssh_timeout'] ?? v['ansible_timeout'] ?? 10);
  // dead-link detection: runbook_keepalive_interval (s) / runbook_keepalive_count, or ssh's ServerAliveInterval /
  // ServerAliveCountMax from ansible_ssh_common_args; a silent host is declared dead after about interval x count
  const kaInterval = num(v['runbook_keepalive_interval'] ?? o.get('serveraliveinterval'));
  const kaCount = num(v['runbook_keepalive_count'] ?? o.get('serveralivecountmax'));
  const userVar = v['ansible_user'] ?? v['ansible_ssh_user'] ?? v['remote_user'];
  const target = String(v['ansible_host'] ?? v['ansible_ssh_host'] ?? host);
  // ~/.ssh/config (or runbook_ssh_config / RUNBOOK_SSH_CONFIG): HostName, User, Port, IdentityFile, ProxyJump,
  // each only where the inventory says nothing
  const sc = type === 'local' ? undefined : sshConfigForInventory(host, target, v, userVar !== undefined ? String(userVar) : undefined);
  const jump = v['runbook_jump_hosts'] ?? v['ansible_ssh_jump_hosts'] ?? o.get('proxyjump') ?? sc?.proxyJump;
  const pbm = String(v['proxmox_become_method'] ?? 'sudo');
  if (pbm !== 'sudo' && pbm !== 'none') {
    throw new RunbookError('config', `host ${host}: proxmox_become_method ${JSON.stringify(pbm)} is not supported (sudo, none)`, { host });
  }
  const expand = (p: string) => (p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p);
  return {
    host,
    type: type as ConnectionSpec['type'],
    address: sc?.hostName ?? target,
    port: Number(v['ansible_port'] ?? v['ansible_ssh_port'] ?? sc?.port ?? 22),
    user: String(userVar ?? sc?.user ?? os.userInfo().username),
    privateKeyFile: key !== undefined ? expand(String(key)) : firstExisting(sc?.identityFiles),
    password: v['ansible_password'] !== undefined ? String(v['ansible_password']) : v['ansible_ssh_pass'] !== undefined ? String(v['ansible_ssh_pass']) : undefined,
    knownHostsFile: knownHosts !== undefined ? expand(String(knownHosts)) : undefined,
    hostKeyChecking: hkc ?? true,
    connectTimeoutMs: Math.max(1, timeout) * 1000,
    ...(kaInterval !== undefined && kaInterval > 0 ? { keepaliveIntervalMs: Math.max(0.2, kaInterval) * 1000 } : {}),
    ...(kaCount !== undefined && kaCount >= 1 ? { keepaliveCountMax: Math.floor(kaCount) } : {}),
    vmid: v['proxmox_vmid'] !== undefined ? String(v['proxmox_vmid']) : v['runbook_pct_vmid'] !== undefined ? String(v['runbook_pct_vmid']) : undefined,
    jumpHosts: jump === undefined || jump === 'none' ? undefined : Array.isArray(jump) ? jump.map(String) : String(jump).split(','),
    ...(sc ? { sshConfigFile: sc.file } : {}),
    proxmoxBecomeMethod: pbm,
    ...(v['runbook_pct_become_password'] !== undefined ? { proxmoxBecomePassword: String(v['runbook_pct_become_password']) } : {}),
  };
}

export async function openConnection(spec: ConnectionSpec): Promise<Connection> {
  const c = createConnection(spec);
  await c.open();
  return c;
}
