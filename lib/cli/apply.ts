import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigErrors, RunbookError, ErrorSink } from '../errors.js';
import { loadInventory } from '../inventory/index.js';
import { InventoryBuilder } from '../inventory/builder.js';
import type { Inventory } from '../inventory/index.js';
import { PlaybookLoader } from '../playbook/loader.js';
import type { Playbook } from '../playbook/model.js';
import { Executor } from '../executor/executor.js';
import { EventBus, type Listener, type RunEvent } from '../executor/events.js';
import { preflight } from '../executor/preflight.js';
import { parseExtraVars } from './extra-vars.js';
import { commandContext } from './secrets-setup.js';
import { syntaxCheckFiles, setSecretsShapeOnly } from './syntax-check.js';
import { collectionsPath } from '../playbook/ansible-names.js';
import { cfgBecomeDefaults, cfgConnectionDefaults, currentAnsibleCfg, type AnsibleCfg } from './ansible-cfg.js';
import { PlainReporter } from '../report/plain.js';
import { JsonReporter } from '../report/json.js';
import { ReportFile } from '../report/report-file.js';
import { checkTargets } from './host-match.js';
import { checkStartAt, listPlaybook } from './list.js';
import { applyShard, shardLabel, type Shard } from '../inventory/shard.js';

export interface CommonFlags {
  inventory: string;
  check: boolean;
  diff: boolean;
  limit?: string;
  /** --shard K/N (lib/inventory/shard.ts) */
  shard?: Shard;
  extraVars: string[];
  forks: number;
  format?: 'tty' | 'plain' | 'json';
  report?: string;
  hostKeyChecking: boolean;
  /** ansible.cfg of this run: its connection and become settings are the lowest-precedence defaults */
  cfg?: AnsibleCfg;
  /** seconds to wait for another run's host lock */
  lockTimeout?: number;
  /** -v count (plain output): 1 results, 2 task paths, 3+ indented results */
  verbose?: number;
  /** -u, --private-key, -T, -b, --become-user, --become-method */
  user?: string;
  /** --private-key or --key-file (commander names it after the last long flag) */
  keyFile?: string;
  timeout?: number;
  become?: boolean;
  becomeUser?: string;
  becomeMethod?: string;
}

/**
 * The variables ansible-playbook's connection and become flags set, as the lowest-precedence defaults of a run (over
 * ansible.cfg's; any inventory, play or task value wins, as it does over Ansible's flags).
 */
export function cliConnectionVars(flags: CommonFlags): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (flags.user !== undefined) out['ansible_user'] = flags.user;
  if (flags.keyFile !== undefined) out['ansible_ssh_private_key_file'] = path.resolve(flags.keyFile);
  if (flags.timeout !== undefined) {
    if (!Number.isFinite(flags.timeout) || flags.timeout <= 0) throw new ConfigErrors([new RunbookError('usage', `-T/--timeout needs a number of seconds above 0, got ${flags.timeout}`)]);
    out['ansible_timeout'] = flags.timeout;
  }
  if (flags.become) out['ansible_become'] = true;
  if (flags.becomeUser !== undefined) out['ansible_become_user'] = flags.becomeUser;
  if (flags.becomeMethod !== undefined) out['ansible_become_method'] = flags.becomeMethod;
  return out;
}

export interface ApplyFlags extends CommonFlags {
  tags: string[];
  skipTags: string[];
  syntaxCheck: boolean;
  /** ansible-playbook's --list-tasks, --list-hosts, --list-tags (lib/cli/list.ts): print, contact no host */
  listTasks?: boolean;
  listHosts?: boolean;
  listTags?: boolean;
  /** --start-at-task NAME: tasks before the first one of that name are not run */
  startAtTask?: string;
}

export function openInventory(p: string, explicit: boolean): Inventory {
  if (!fs.existsSync(p)) {
    if (explicit) throw new ConfigErrors([new RunbookError('missing_file', `inventory not found: ${p}`)]);
    return new InventoryBuilder().finish();
  }
  return loadInventory(p);
}

export function chooseFormat(f?: string): 'tty' | 'plain' | 'json' {
  if (f === 'tty' || f === 'plain' || f === 'json') return f;
  const cols = process.stdout.columns ?? 0;
  return process.stdout.isTTY && cols > 0 && !process.env['CI'] ? 'tty' : 'plain';
}

export async function attachReporter(bus: EventBus, format: 'tty' | 'plain' | 'json', diff: boolean, verbosity = 0): Promise<void> {
  if (format === 'json') bus.on(new JsonReporter().on);
  // the live view (listr2 and its dependencies, ~25 ms to load) only when it is used
  else if (format === 'tty') bus.on(new (await import('../report/live.js')).LiveReporter(diff).on);
  else bus.on(new PlainReporter(undefined, { showDiff: diff, verbosity }).on);
}

/** Runs a loaded playbook with signal handling; shared by apply, role and run. */
export async function execute(pb: Playbook, inv: Inventory, flags: CommonFlags & { tags?: string[]; skipTags?: string[]; startAtTask?: string }, loader: PlaybookLoader, extraVars: Record<string, unknown>, humanReporter?: Listener): Promise<number> {
  const bus = new EventBus();
  const format = chooseFormat(flags.format);
  // runbook run prints Ansible's ad hoc lines instead of the playbook view (JSON stays JSON)
  if (humanReporter && format !== 'json') bus.on(humanReporter);
  else await attachReporter(bus, format, flags.diff, flags.verbose ?? 0);
  const reportFile = flags.report ? new ReportFile(flags.report) : undefined;
  if (reportFile) bus.on(reportFile.on);
  const tags = (flags.tags ?? []).flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
  const skipTags = (flags.skipTags ?? []).flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
  const context = commandContext();
  const ex = new Executor(pb, inv, {
    check: flags.check,
    diff: flags.diff,
    limit: flags.limit,
    ...(flags.shard ? { shard: flags.shard } : {}),
    tags,
    skipTags,
    extraVars,
    forks: Math.max(1, flags.forks || 10),
    verbosity: flags.verbose ?? 0,
    hostKeyChecking: flags.hostKeyChecking === false ? false : undefined,
    loader,
    cfgVars: { ...cfgConnectionDefaults(flags.cfg), ...cfgBecomeDefaults(flags.cfg), ...cliConnectionVars(flags) },
    ...(flags.lockTimeout !== undefined && Number.isFinite(flags.lockTimeout) && flags.lockTimeout >= 0 ? { lockTimeoutMs: flags.lockTimeout * 1000 } : {}),
  }, bus, context);
  if (flags.startAtTask !== undefined) ex.startAt = flags.startAtTask;
  if (flags.shard) noteShard(pb, ex, flags.shard);
  // First signal: start no new task, let the tasks in flight finish for up to RUNBOOK_ABORT_GRACE seconds (default
  // 5), then close the connections (a write in flight then fails its length check and leaves the old file), print
  // the recap and exit 130/143. A second signal closes the connections at once.
  let signalled: number | undefined;
  let grace: NodeJS.Timeout | undefined;
  const graceMs = Math.max(0, Number(process.env['RUNBOOK_ABORT_GRACE'] ?? 5)) * 1000;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled !== undefined) {
      process.stderr.write(`\nrunbook: ${sig} again: closing the connections now\n`);
      void ex.closeAll();
      return;
    }
    signalled = sig === 'SIGINT' ? 130 : 143;
    process.stderr.write(`\nrunbook: ${sig} received: no new tasks; the tasks in flight get ${graceMs / 1000} s, then the connections close (no partial files)\n`);
    ex.abort(sig, signalled);
    grace = setTimeout(() => void ex.closeAll(), graceMs);
    grace.unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const { exitCode } = await ex.run();
    reportFile?.write();
    return signalled ?? exitCode;
  } finally {
    if (grace) clearTimeout(grace);
    context.dispose();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * --shard: a line on stderr saying how many of the selected hosts this shard runs. A shard that gets no host is not
 * an error (exit 0, an empty recap and --report): with N processes over few hosts some shards are empty.
 */
function noteShard(pb: Playbook, ex: Executor, shard: Shard): void {
  const selected = new Set<string>();
  for (const p of pb.plays) for (const h of ex.selectPlayHosts(p.hosts, true)) selected.add(h);
  const mine = applyShard([...selected], shard);
  if (!mine.length) process.stderr.write(`note: shard ${shardLabel(shard)} has none of the ${selected.size} selected host${selected.size === 1 ? '' : 's'}: nothing to do\n`);
  else process.stderr.write(`shard ${shardLabel(shard)}: ${mine.length} of ${selected.size} selected host${selected.size === 1 ? '' : 's'}\n`);
}

export async function applyCommand(playbook: string, flags: ApplyFlags): Promise<number> {
  const sink = new ErrorSink();
  const extraVars = sink.guard(() => parseExtraVars(flags.extraVars)) ?? {};
  // ansible.cfg (./ansible.cfg or ANSIBLE_CONFIG): its settings are defaults, runbook's own flags win
  const cfg = sink.guard(() => currentAnsibleCfg());
  const explicitInv = flags.inventory !== 'inventory';
  if (cfg) {
    flags.cfg = cfg;
    if (!explicitInv && cfg.inventory?.length) flags.inventory = cfg.inventory[0]!;
    if (flags.forks === 10 && cfg.forks !== undefined) flags.forks = cfg.forks;
    if (!flags.diff && cfg.diff) flags.diff = true;
  }
  // --syntax-check needs no secrets: SOPS/vault-encrypted values are checked for shape and stay unknown
  if (flags.syntaxCheck) setSecretsShapeOnly(true);
  const inv = sink.guard(() => openInventory(flags.inventory, explicitInv || !!cfg?.inventory?.length));
  // ANSIBLE_ROLES_PATH wins over ansible.cfg's roles_path, as in Ansible
  const envRoles = (process.env['RUNBOOK_ROLES_PATH'] ?? process.env['ANSIBLE_ROLES_PATH'] ?? '').split(':').filter(Boolean).map((p) => path.resolve(p));
  const splitTags = (l: string[]) => l.flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
  const loader = new PlaybookLoader({
    rolesPath: envRoles.length ? envRoles : cfg?.rolesPath,
    gatherFacts: cfg?.gathering !== 'explicit',
    collectionsPath: collectionsPath(cfg?.file),
    tags: splitTags(flags.tags ?? []),
    skipTags: splitTags(flags.skipTags ?? []),
  });
  let pb: Playbook | undefined;
  if (!fs.existsSync(playbook)) sink.add(new RunbookError('missing_file', `playbook not found: ${playbook}`));
  else pb = sink.guard(() => loader.loadPlaybook(path.resolve(playbook)));
  if (pb && inv) for (const w of sink.guard(() => preflight(pb!, inv, loader, extraVars, flags.limit)) ?? []) loader.warn(w);
  // --limit that leaves no host is an error, as ansible-playbook's (a play's own hosts: only warns, at run time)
  if (inv) sink.guard(() => checkTargets(inv, flags.limit));
  // even when loading found errors, the templates and vars files reached so far are checked too: all listed at once
  if (flags.syntaxCheck) for (const e of syntaxCheckFiles(pb, loader)) sink.add(e);
  // what is certain only if a task runs (docs/adr/0012): one line each, the task fails with it if it is reached
  for (const w of loader.warnings) process.stderr.write(`warning: ${w.format()}\n`);
  sink.throwIfAny();
  if (flags.syntaxCheck) {
    process.stdout.write(`playbook: ${playbook}: syntax OK (${pb!.plays.length} plays)\n`);
    return 0;
  }
  if (flags.listTasks || flags.listHosts || flags.listTags) return listCommand(pb!, inv!, playbook, flags, splitTags);
  if (flags.startAtTask !== undefined) checkStartAt(pb!, flags.startAtTask, splitTags(flags.tags ?? []), splitTags(flags.skipTags ?? []));
  return execute(pb!, inv!, flags, loader, extraVars);
}

export type { RunEvent };

/** --list-tasks / --list-hosts / --list-tags: Ansible's listing on stdout, its warnings on stderr; no host contacted. */
function listCommand(pb: Playbook, inv: Inventory, playbook: string, flags: ApplyFlags, splitTags: (l: string[]) => string[]): number {
  const { stdout, warnings } = listPlaybook(pb, inv, playbook, { ...flags, tags: splitTags(flags.tags ?? []), skipTags: splitTags(flags.skipTags ?? []) });
  for (const w of warnings) process.stderr.write(`[WARNING]: ${w}\n`);
  process.stdout.write(stdout);
  return 0;
}
