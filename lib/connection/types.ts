/**
 * Transport only: run a shell script on a host (optionally as another user, optionally with stdin), nothing else.
 * Connections know nothing of modules. Every higher-level operation (atomic file write, probes) is a script built
 * by lib/connection/scripts.ts with every interpolated value quoted.
 */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Become {
  method: 'sudo' | 'su';
  user: string;
  /** never logged or echoed; sent on stdin of sudo -S */
  password?: string;
}

export interface RunOptions {
  /** bytes for the script's stdin (file content travels this way, never on a command line) */
  input?: Buffer | string;
  become?: Become;
  /** environment variables exported for the script */
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface Connection {
  /** inventory name of the host */
  readonly host: string;
  /** connect (or check the local machine); throws a RunbookError code 'unreachable' or 'host_key' */
  open(): Promise<void>;
  /** run a POSIX sh script; never throws for a non-zero exit, throws 'unreachable' if the transport dies */
  run(script: string, opts?: RunOptions): Promise<ExecResult>;
  close(): Promise<void>;
  /** number of remote commands sent so far (for the benchmark and the one-round-trip-per-task check) */
  readonly commandCount: number;
}

/** Everything a connection needs from the inventory, resolved from host variables. */
export interface ConnectionSpec {
  host: string;
  type: 'ssh' | 'local' | 'pct';
  address: string;
  port: number;
  user: string;
  privateKeyFile?: string;
  password?: string;
  knownHostsFile?: string;
  /** false only when the user explicitly opts out (ansible_host_key_checking: false / RUNBOOK_HOST_KEY_CHECKING=false) */
  hostKeyChecking: boolean;
  connectTimeoutMs: number;
  /** ssh: keepalive interval (ms) and unanswered keepalives before a silent link is declared dead (default 5000 x 3) */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** pct: the container id on the Proxmox host reached over ssh at address */
  vmid?: string;
  /** jump hosts, outermost first: user@host:port */
  jumpHosts?: string[];
}
