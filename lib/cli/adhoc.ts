/**
 * Ad-hoc use: `runbook role ROLE PATTERN` (one role applied to matching hosts) and `runbook run PATTERN -m MODULE
 * -a ARGS` / `runbook run PATTERN -- CMD...` (one task). Both synthesise an in-memory Playbook with the loader, so
 * everything a playbook gets (argument_specs, undefined-variable and argument checks before any host is contacted,
 * check mode, reporters, exit codes) applies unchanged.
 */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { ConfigErrors, ErrorSink, RunbookError, type SourcePos } from '../errors.js';
import { PlaybookLoader, isMap } from '../playbook/loader.js';
import type { Play, Playbook, TaskNode } from '../playbook/model.js';
import { validateArgs } from '../playbook/validate.js';
import { closest } from '../playbook/keywords.js';
import { resolveAction, allNames } from '../modules/registry.js';
import { preflight } from '../executor/preflight.js';
import { parseYaml } from '../yaml-load.js';
import type { ArgumentSpec } from '../playbook/argument-specs.js';
import { parseExtraVars } from './extra-vars.js';
import { chooseFormat, execute, openInventory, type CommonFlags } from './apply.js';
import { KvParseError, parseKv } from './parse-kv.js';
import { AdhocReporter, ADHOC_RESULT_TASK } from '../report/adhoc.js';
import { checkTargets } from './host-match.js';

export const CLI_POS: SourcePos = { file: '<command line>', line: 1, col: 1 };

/** roles_path: RUNBOOK_ROLES_PATH or ANSIBLE_ROLES_PATH, colon separated. */
export function rolesPathFromEnv(): string[] {
  const v = process.env['RUNBOOK_ROLES_PATH'] ?? process.env['ANSIBLE_ROLES_PATH'] ?? '';
  return v.split(':').filter(Boolean).map((p) => path.resolve(p));
}

function emptyPlay(name: string, hosts: string, file: string): Play {
  return {
    when: [],
    tags: [],
    vars: {},
    name,
    hosts,
    gatherFacts: false,
    varsFiles: [],
    sections: [],
    handlers: [],
    pos: CLI_POS,
    file,
  };
}

function playbookOf(play: Play): Playbook {
  return { file: play.file, dir: process.cwd(), plays: [play] };
}

// ---------------------------------------------------------------- role

export interface RoleFlags extends CommonFlags {
  describe: boolean;
  help?: boolean;
}

/** Synthesise the one-play playbook of `runbook role`; throws ConfigErrors for a missing/broken role. */
export function rolePlaybook(role: string, pattern: string, params: Record<string, unknown>, loader: PlaybookLoader): Playbook {
  const file = path.join(process.cwd(), `<role ${role}>`);
  const play = emptyPlay(`role ${role} on ${pattern}`, pattern, file);
  const def = loader.loadRole(role, process.cwd(), CLI_POS);
  loader.sink.throwIfAny();
  const src = { file, pos: () => CLI_POS };
  const inst = loader.instantiateRole(def!, params, {}, [], src, play, CLI_POS);
  loader.sink.throwIfAny();
  play.sections = [[inst.block]];
  play.handlers = inst.handlers;
  return playbookOf(play);
}

export function describeSpec(role: string, description: string | undefined, spec: ArgumentSpec | undefined, format?: string): string {
  const opts = Object.entries(spec?.options ?? {});
  if (format === 'json') {
    const lines = [JSON.stringify({ role, description: description ?? null, arguments: opts.length })];
    for (const [name, o] of opts) lines.push(JSON.stringify({ role, argument: name, type: o.type, required: o.required, default: o.default ?? null, choices: o.choices ?? null, description: o.description }));
    return lines.join('\n') + '\n';
  }
  let out = `role ${role}${description ? `: ${description}` : ''}\n`;
  if (!spec) return out + '  (no meta/argument_specs.yml: arguments are not declared)\n';
  if (!opts.length) return out + '  (no arguments)\n';
  out += '\narguments (-e NAME=VALUE):\n';
  for (const [name, o] of opts) {
    const flags = [o.type + (o.elements ? ` of ${o.elements}` : ''), o.required ? 'required' : 'optional'];
    if (o.default !== undefined) flags.push(`default: ${JSON.stringify(o.default)}`);
    if (o.choices) flags.push(`choices: ${o.choices.map((c) => JSON.stringify(c)).join(', ')}`);
    out += `  ${name}  (${flags.join('; ')})\n`;
    if (o.description) out += `      ${o.description}\n`;
  }
  return out;
}

export async function roleCommand(role: string | undefined, pattern: string | undefined, flags: RoleFlags, cmd: Command): Promise<number> {
  if (!role) {
    cmd.outputHelp();
    return flags.help ? 0 : 1;
  }
  const loader = new PlaybookLoader({ rolesPath: rolesPathFromEnv() });
  if (flags.help || flags.describe || !pattern) {
    const def = loader.loadRole(role, process.cwd(), CLI_POS);
    loader.sink.throwIfAny();
    process.stdout.write(describeSpec(def!.name, def!.description, def!.specs, flags.format));
    if (!pattern && !flags.help && !flags.describe) {
      process.stderr.write(`\nusage: runbook role ${role} PATTERN [-e NAME=VALUE ...] [--check] [--diff] [-i INVENTORY]\n`);
      return 1;
    }
    return 0;
  }
  const sink = new ErrorSink();
  const extraVars = sink.guard(() => parseExtraVars(flags.extraVars)) ?? {};
  const inv = sink.guard(() => openInventory(flags.inventory, flags.inventory !== 'inventory'));
  const pb = sink.guard(() => rolePlaybook(role, pattern, extraVars, loader));
  if (pb && inv) sink.guard(() => preflight(pb, inv, loader, extraVars, flags.limit));
  // a pattern (with --limit) that leaves no host is an error, exit 1, naming it
  if (inv) sink.guard(() => checkTargets(inv, flags.limit, pattern));
  sink.throwIfAny();
  return execute(pb!, inv!, flags, loader, extraVars);
}

// ---------------------------------------------------------------- run

export interface RunFlags extends CommonFlags {
  moduleName?: string;
  args?: string;
}

/**
 * `-a` text, as Ansible's ad hoc command reads it: a JSON (or YAML flow) mapping when it is one `{...}`, else k=v by
 * Ansible's parse_kv (lib/cli/parse-kv.ts: quotes, backslash escapes, {{ }} kept whole); for the free-form modules
 * (command, shell) only their options are keys and the rest is the command line.
 */
export function parseModuleArgs(text: string | undefined, freeForm: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  const t = text.trim();
  if (t === '') return {};
  if (t.startsWith('{') && t.endsWith('}')) {
    const y = parseYaml(t, '<-a>');
    if (isMap(y.value)) return { ...y.value };
    throw new RunbookError('usage', `-a ${text}: expected a mapping`, { pos: CLI_POS });
  }
  let kv: Record<string, string>;
  try {
    kv = parseKv(t, freeForm === '_raw_params');
  } catch (e) {
    if (e instanceof KvParseError) throw new RunbookError('usage', `-a: ${e.message}`, { pos: CLI_POS });
    throw e;
  }
  const { _raw_params: raw, ...out } = kv;
  if (raw !== undefined) {
    if (!freeForm) throw new RunbookError('usage', `-a: expected key=value arguments or a JSON mapping, got "${raw}"`, { pos: CLI_POS });
    return { ...out, [freeForm]: raw };
  }
  return out;
}

/** Synthesise the one-task playbook of `runbook run`; throws ConfigErrors for an unknown module or bad arguments. */
export function taskPlaybook(pattern: string, module: string, args: Record<string, unknown>, label: string, showResult = false): Playbook {
  const resolved = resolveAction(module);
  if (!resolved) {
    const hint = closest(module, allNames());
    throw new ConfigErrors([new RunbookError('unknown_module', `unknown module "${module}"${hint ? ` (did you mean "${hint}"?)` : ''}`, { pos: CLI_POS })]);
  }
  const def = resolved.def;
  if (['include_tasks', 'import_tasks', 'import_role', 'include_role', 'meta'].includes(def.name)) {
    throw new ConfigErrors([new RunbookError('usage', `${def.name} cannot be run ad hoc; use runbook role or apply`, { pos: CLI_POS })]);
  }
  const errs = validateArgs(def.schema, args, def.name).map((e) => new RunbookError(e.code, e.message, { pos: CLI_POS }));
  if (errs.length) throw new ConfigErrors(errs);
  const file = path.join(process.cwd(), `<run ${def.name}>`);
  const play = emptyPlay(`${def.name} on ${pattern}`, pattern, file);
  const task: TaskNode = {
    when: [],
    tags: [],
    vars: {},
    kind: 'task',
    name: label,
    action: def.name,
    actionAs: module,
    args,
    loopVar: 'item',
    notify: [],
    listen: [],
    pos: CLI_POS,
    file,
  };
  play.sections = [[task]];
  if (showResult) {
    // Ansible's ad hoc lines show each host's module result: register it, keep going past a failure (the exit code
    // still says it: runCommand), and a hidden debug task hands it to the reporter as JSON
    task.register = ADHOC_VAR;
    task.ignoreErrors = true;
    const show: TaskNode = {
      ...task,
      name: ADHOC_RESULT_TASK,
      action: 'debug',
      actionAs: 'debug',
      args: { msg: `{{ ${ADHOC_VAR} | to_json }}` },
      register: undefined,
      ignoreErrors: undefined,
      when: [`${ADHOC_VAR} is defined`],
    };
    play.sections = [[task, show]];
  } else if (def.name === 'command' || def.name === 'shell') {
    // show each host's output: a debug task on the registered result
    task.register = ADHOC_VAR;
    const show: TaskNode = {
      ...task,
      name: 'output',
      action: 'debug',
      actionAs: 'debug',
      args: { msg: `{{ ${ADHOC_VAR}.stdout }}{{ ('\n' ~ ${ADHOC_VAR}.stderr) if ${ADHOC_VAR}.stderr else '' }}` },
      register: undefined,
      when: [`${ADHOC_VAR}.stdout is defined`],
    };
    play.sections = [[task, show]];
  }
  return playbookOf(play);
}

const ADHOC_VAR = 'runbook_adhoc';

export async function runCommand(pattern: string, argv: string[], flags: RunFlags): Promise<number> {
  const sink = new ErrorSink();
  const extraVars = sink.guard(() => parseExtraVars(flags.extraVars)) ?? {};
  const inv = sink.guard(() => openInventory(flags.inventory, flags.inventory !== 'inventory'));
  let module = flags.moduleName ?? 'command';
  let args: Record<string, unknown> | undefined;
  let label: string;
  if (argv.length) {
    if (flags.args !== undefined) sink.add(new RunbookError('usage', 'give either -a ARGS or -- COMMAND..., not both', { pos: CLI_POS }));
    if (flags.moduleName && !['command', 'ansible.builtin.command'].includes(flags.moduleName)) {
      sink.add(new RunbookError('usage', `-- COMMAND... runs the command module; -m ${flags.moduleName} takes -a`, { pos: CLI_POS }));
    }
    module = 'command';
    args = { argv };
    label = `command ${argv.join(' ')}`;
  } else {
    const resolved = resolveAction(module);
    args = sink.guard(() => parseModuleArgs(flags.args, resolved?.def.freeForm));
    label = `${module}${flags.args ? ` ${flags.args.trim()}` : ''}`;
    if (resolved && resolved.def.freeForm === '_raw_params' && args && Object.keys(args).length === 0 && ['command', 'shell'].includes(resolved.def.name)) {
      sink.add(new RunbookError('usage', `the ${resolved.def.name} module needs a command: -a 'CMD ...' or -- CMD ...`, { pos: CLI_POS }));
    }
  }
  // JSON keeps the playbook events; the human formats get Ansible's ad hoc lines
  const human = chooseFormat(flags.format) !== 'json';
  const pb = args ? sink.guard(() => taskPlaybook(pattern, module, args!, label, human)) : undefined;
  const loader = new PlaybookLoader();
  if (pb && inv) sink.guard(() => preflight(pb, inv, loader, extraVars, flags.limit));
  // a pattern (with --limit) that leaves no host is an error, exit 1, naming it
  if (inv) sink.guard(() => checkTargets(inv, flags.limit, pattern));
  sink.throwIfAny();
  const reporter = human ? new AdhocReporter(resolveAction(module)?.def.name ?? module) : undefined;
  const code = await execute(pb!, inv!, flags, loader, extraVars, reporter?.on);
  // the module task ignores errors so its result can be shown: a failed host still makes the run fail, as ansible's
  return reporter?.failed && code === 0 ? 2 : code;
}

// ---------------------------------------------------------------- registration

export function registerAdhoc(program: Command, common: (c: Command) => Command): void {
  const role = program
    .command('role')
    .description('apply one role to the hosts matching PATTERN (the -e vars are the role\'s arguments); without PATTERN, or with --help, describe its arguments')
    .argument('[role]', 'role name (roles/ and roles_path) or path')
    .argument('[pattern]', 'host pattern')
    .option('--describe', 'print the role\'s arguments from meta/argument_specs.yml and exit', false)
    .helpOption(false)
    .addOption(new Option('-h, --help', 'with a role: describe its arguments; else this help'));
  common(role).action(async (r: string | undefined, p: string | undefined, flags: RoleFlags, cmd: Command) => {
    process.exitCode = await roleCommand(r, p, flags, cmd);
  });

  const run = program
    .command('run')
    .description('run one module on the hosts matching PATTERN: -m MODULE -a ARGS, or -- COMMAND... (the command module)')
    .argument('<pattern>', 'host pattern')
    .argument('[command...]', 'after --: a command and its arguments, run without a shell')
    .option('-m, --module-name <module>', 'module or action to run', undefined)
    .option('-a, --args <args>', 'module arguments: k=v ..., YAML/JSON mapping, or a command line for command/shell');
  common(run).action(async (p: string, argv: string[], flags: RunFlags) => {
    process.exitCode = await runCommand(p, argv, flags);
  });
}
