/**
 * flags -> options; errors -> exit codes. The only place that calls process.exit.
 * Exit codes as ansible-playbook: 0 all ok, 1 usage or configuration error, 2 a task failed, 4 a host was
 * unreachable; 130/143 when interrupted by SIGINT/SIGTERM.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option, CommanderError } from 'commander';
import { ConfigErrors, RunbookError, exitCodeFor, renderError } from '../errors.js';
import { makeChalk } from '../report/style.js';
import type { ApplyFlags } from './apply.js';
import { VERSION } from './version.js';
import { setupBecomePassword, setupVault } from './secrets-setup.js';
import { scrubSecrets } from '../executor/secrets.js';
import { registerCompletion } from './completion.js';
import { parseShard } from '../inventory/shard.js';

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** The engine (apply, adhoc, inspect and all they import) loads here, not at startup: `runbook --version` stays fast. */
export async function buildProgram(): Promise<Command> {
  const [{ registerAdhoc }, { registerInspect }] = await Promise.all([import('./adhoc.js'), import('./inspect.js')]);
  const program = new Command();
  program
    .name('runbook')
    .description('Agentless, Ansible-style playbook runner: inventories, roles and idempotent tasks over SSH, with an exact check mode.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    // -K: the become password is read before any host is contacted
    .hook('preAction', async (_p, cmd) => setupBecomePassword(cmd.opts()))
    // the vault keyring is set before any command reads a file
    .hook('preAction', async (_p, cmd) => setupVault(cmd.opts()));

  const common = (c: Command) =>
    c
      .option('-i, --inventory <path>', 'inventory file or directory', 'inventory')
      .option('-C, --check', 'dry run: probe and plan, report exactly what would change, change nothing', false)
      .option('-D, --diff', 'show unified diffs of files and before/after of other state', false)
      .option('-l, --limit <pattern>', 'further limit the hosts (Ansible host pattern)')
      .option('--shard <K/N>', 'only the K-th of N disjoint parts of the selected hosts (by a hash of the host name): N processes cover every host once; combine their --report files with `runbook report merge`', parseShard)
      .option('-e, --extra-vars <kv>', 'set variables: key=value ..., YAML/JSON, or @file (repeatable)', collect, [])
      .option('-f, --forks <n>', 'hosts to run at once', (v) => parseInt(v, 10), 10)
      .addOption(new Option('--format <format>', 'output: tty (live view), plain lines, or json (one object per event)').choices(['tty', 'plain', 'json']))
      .option('--report <file>', 'write a JSON run summary (per host, per task) to this file')
      .option('--no-host-key-checking', 'accept unknown or changed host keys (explicit opt-out)')
      .option('-K, --ask-become-pass', 'prompt for the sudo password (ansible_become_password in the inventory wins)', false)
      .option('--lock-timeout <seconds>', 'wait at most this long for another run holding a host lock (0: do not wait)', (v) => Number(v), 60)
      .option('--vault-password-file <file>', 'decrypt Ansible Vault files and !vault values with the password in FILE (repeatable; default $ANSIBLE_VAULT_PASSWORD_FILE)', collect, [])
      .option('--ask-vault-pass', 'prompt for the vault password', false)
      // Ansible's connection and become flags: the lowest-precedence values of the variables they name (inventory,
      // play and task values win, as they do over ansible-playbook's flags); they override ansible.cfg
      .option('-u, --user <user>', 'connect as this user (ansible_user)')
      .option('--private-key, --key-file <file>', 'SSH private key file (ansible_ssh_private_key_file)')
      .option('-T, --timeout <seconds>', 'connection timeout in seconds (ansible_timeout)', (v) => Number(v))
      .option('-b, --become', 'run tasks with become (ansible_become)')
      .option('--become-user <user>', 'become this user (ansible_become_user)')
      .option('--become-method <method>', 'sudo or su (ansible_become_method)')
      .option('-v, --verbose', 'more output (plain format): -v results, -vv task paths, -vvv indented results; repeatable', (_v: string, n: number) => n + 1, 0);

  common(
    program
      .command('apply')
      .description('converge the hosts of a playbook')
      .argument('<playbook>', 'playbook file')
      .option('-t, --tags <tags>', 'only run tasks with these tags (comma separated)', collect, [])
      .option('--skip-tags <tags>', 'skip tasks with these tags (comma separated)', collect, [])
      .option('--syntax-check', 'load and validate everything the playbook reaches, contact no host', false)
      .option('--list-tasks', 'list the tasks a run would reach (as ansible-playbook), contact no host')
      .option('--list-hosts', 'list the hosts each play would target, contact no host')
      .option('--list-tags', 'list the tags of the tasks a run would reach, contact no host')
      .option('--start-at-task <name>', 'start at the first task of this name (or "role : name", or a glob); earlier tasks are not run'),
  ).action(async (playbook: string, flags: ApplyFlags) => {
    const { applyCommand } = await import('./apply.js');
    process.exitCode = await applyCommand(playbook, flags);
  });

  registerAdhoc(program, common);
  registerInspect(program);
  registerCompletion(program);
  program
    .command('report')
    .description('work with --report files')
    .command('merge')
    .description('combine the --report files of a sharded run (--shard K/N) into one recap and report; exits as the single run would')
    .argument('<reports...>', '--report files, one per shard')
    .option('-o, --output <file>', 'write the merged report here')
    .action(async (files: string[], opts: { output?: string }) => {
      const { reportMergeCommand } = await import('../report/merge.js');
      process.exitCode = reportMergeCommand(files, opts);
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 3 && (argv[2] === '--version' || argv[2] === '-V')) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const program = await buildProgram();
  const err = makeChalk(process.stderr);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 1;
    }
    if (e instanceof ConfigErrors) {
      for (const x of e.errors) process.stderr.write(`${err.red('error')}: ${scrubSecrets(renderError(x))}\n`);
      process.stderr.write(`${e.errors.length} configuration error${e.errors.length === 1 ? '' : 's'}; no host was contacted\n`);
    } else if (e instanceof RunbookError) {
      process.stderr.write(`${err.red('error')}: ${scrubSecrets(renderError(e))}\n`);
    } else {
      process.stderr.write(`${err.red('internal error')}: ${(e as Error)?.stack ?? String(e)}\n`);
    }
    return exitCodeFor({ error: e });
  }
}

export function readFileArg(p: string): string {
  return fs.readFileSync(path.resolve(p), 'utf8');
}
