/**
 * community.general.ufw: state (enabled/disabled/reloaded/reset), default policy, logging, and rules (allow, deny,
 * reject, limit; port, proto, from/to, direction, interface, delete, route, insert, log, comment, app).
 *
 * The probe is read-only and decides as Ansible's own check mode does: `ufw status verbose` (enabled? defaults?
 * logging?), the `### tuple` lines of the user rules files, and for a rule `ufw --dry-run RULE`, which prints the
 * rules the command would leave without writing them ("Skipping ..." when the rule is there already). The pure plan
 * compares those exactly as the module does in check mode and emits only the commands that change something, so
 * check mode predicts apply and a second run is a no-op. Commands run with LANG=C as the module's.
 */
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type Step } from './types.js';
import { EPILOGUE, PRELUDE, badArg, frameProbe, quote, type FrameState } from './common.js';

export interface UfwParams {
  state?: 'enabled' | 'disabled' | 'reloaded' | 'reset';
  default?: 'allow' | 'deny' | 'reject';
  logging?: string;
  direction?: string;
  /** the rule command words after `ufw` (without --dry-run), when a rule is given */
  rule?: string[];
  fromIp: string;
  toIp: string;
}

const RULE_KEYS: Array<[string, string[]]> = [
  ['interface', ['if']], ['interface_in', ['if_in']], ['interface_out', ['if_out']], ['from_ip', ['from', 'src']],
  ['to_ip', ['dest', 'to']], ['to_port', ['port']], ['proto', ['protocol']], ['name', ['app']], ['default', ['policy']],
];

function canon(params: Record<string, unknown>): Record<string, unknown> {
  const out = { ...params };
  for (const [k, aliases] of RULE_KEYS) {
    for (const a of aliases) {
      if (out[a] !== undefined) {
        if (out[k] !== undefined) throw badArg(`ufw: ${k} and ${a} are aliases: give one`);
        out[k] = out[a];
        delete out[a];
      }
    }
  }
  return out;
}

export function prepareUfw(raw: Record<string, unknown>): UfwParams {
  const params = canon(raw);
  const s = (k: string): string | undefined => (params[k] === undefined || params[k] === null ? undefined : String(params[k]));
  if (!['state', 'default', 'rule', 'logging'].some((k) => s(k) !== undefined)) throw badArg('one of the following is required: state, default, rule, logging');
  const p: UfwParams = { fromIp: s('from_ip') ?? 'any', toIp: s('to_ip') ?? 'any' };
  if (s('state')) p.state = s('state') as UfwParams['state'];
  if (s('default')) p.default = s('default') as UfwParams['default'];
  if (s('logging')) p.logging = s('logging');
  if (s('direction')) p.direction = s('direction');
  if (s('interface') !== undefined && s('direction') === undefined) throw badArg('missing parameter(s) required by \'interface\': direction');
  if (p.default !== undefined && p.direction !== undefined && !['outgoing', 'incoming', 'routed'].includes(p.direction)) {
    throw badArg('For default, direction must be one of "outgoing", "incoming" and "routed", or direction must not be specified.');
  }
  if (s('insert_relative_to') !== undefined && s('insert_relative_to') !== 'zero') throw badArg('ufw: insert_relative_to other than zero is not supported by runbook yet');
  const rule = s('rule');
  if (rule !== undefined) {
    if (p.direction !== undefined && !['in', 'out'].includes(p.direction)) throw badArg('For rules, direction must be one of "in" and "out", or direction must not be specified.');
    const route = params.route === true;
    if (!route && s('interface_in') && s('interface_out')) throw badArg('Only route rules can combine interface_in and interface_out');
    const w: string[] = [];
    const del = params.delete === true;
    if (route) w.push('route');
    if (del) w.push('delete');
    if (params.insert !== undefined && params.insert !== null && !del) w.push('insert', String(Number(params.insert)));
    w.push(rule);
    if (p.direction) w.push(p.direction);
    if (s('interface')) w.push('on', s('interface')!);
    if (s('interface_in')) w.push('in', 'on', s('interface_in')!);
    if (s('interface_out')) w.push('out', 'on', s('interface_out')!);
    if (params.log === true) w.push('log');
    w.push('from', p.fromIp);
    if (s('from_port')) w.push('port', s('from_port')!);
    w.push('to', p.toIp);
    if (s('to_port')) w.push('port', s('to_port')!);
    if (s('proto')) w.push('proto', s('proto')!);
    if (s('name')) w.push('app', s('name')!);
    if (s('comment') !== undefined) w.push('comment', s('comment')!);
    p.rule = w;
  }
  return p;
}

const RULE_FILES = ['/lib/ufw/user.rules', '/lib/ufw/user6.rules', '/etc/ufw/user.rules', '/etc/ufw/user6.rules', '/var/lib/ufw/user.rules', '/var/lib/ufw/user6.rules'];

export function ufwProbeScript(p: UfwParams): string {
  const lines = [
    PRELUDE,
    `export LANG=C`,
    `if ! command -v ufw >/dev/null 2>&1; then kv no_ufw 1; else`,
    `  if _o=$(ufw status verbose 2>&1); then kv status "$_o"; else kv error "$_o"; fi`,
    `  kv rules "$(grep -h '^### tuple' ${RULE_FILES.join(' ')} 2>/dev/null)"`,
    // an inactive ufw's status shows no policies or logging: they are read from its configuration then
    `  kv policies "$(grep -h '^DEFAULT_[A-Z]*_POLICY=' /etc/default/ufw 2>/dev/null)"`,
    `  kv loglevel "$(grep -h '^LOGLEVEL=' /etc/ufw/ufw.conf 2>/dev/null)"`,
  ];
  if (p.rule) lines.push(`  if _o=$(ufw --dry-run ${p.rule.map((w) => quote(w)).join(' ')} 2>&1); then kv dry "$_o"; else kv error "$_o"; fi`);
  lines.push(`fi`, EPILOGUE);
  return lines.join('\n');
}

const IPV4 = /(?:\d{1,3}\.){3}\d{1,3}/;
const IPV6 = /[0-9a-fA-F]{0,4}:[0-9a-fA-F:]*:/;
const lines = (s: string): string[] => s.split(/(?<=\n)/).filter((l) => l !== '');
/** $(...) strips trailing newlines; the module's strings keep them: compare line sets with the newline restored */
const norm = (s: string): string => (s === '' ? '' : s.replace(/\n*$/, '\n'));

/**
 * `ufw status verbose` of an inactive firewall is only "Status: inactive": add the Default and Logging lines the
 * active one would print, from /etc/default/ufw and ufw.conf, so policies and logging are compared, not guessed.
 */
export function withConfig(status: string, policies: string, loglevel: string): string {
  if (/^Default: /m.test(status)) return status;
  const pol = (name: string, fallback: string): string => {
    const v = new RegExp(`^DEFAULT_${name}_POLICY="?([A-Z]+)"?`, 'm').exec(policies)?.[1];
    return v === 'DROP' ? 'deny' : v === 'ACCEPT' ? 'allow' : v === 'REJECT' ? 'reject' : fallback;
  };
  const lvl = /^LOGLEVEL=(\w+)/m.exec(loglevel)?.[1] ?? 'low';
  const logging = lvl === 'off' ? 'Logging: off' : `Logging: on (${lvl})`;
  return `${status}\n${logging}\nDefault: ${pol('INPUT', 'deny')} (incoming), ${pol('OUTPUT', 'allow')} (outgoing), ${pol('FORWARD', 'deny')} (routed)\n`;
}

export function planUfw(p: UfwParams, f: FrameState): Plan {
  if (isProbeFailed(f)) return failPlan(f.probeFailed);
  if (f.str('no_ufw') === '1') return failPlan(failure('no_ufw', 'Failed to find required executable "ufw" in paths'));
  if (f.str('error') !== undefined) return failPlan(failure('ufw', f.str('error')!.trim()));
  const pre = withConfig(f.str('status') ?? '', f.str('policies') ?? '', f.str('loglevel') ?? '');
  const preRules = norm(f.str('rules') ?? '');
  const steps: Step[] = [];
  const why: string[] = [];
  const run = (args: string[], reason: string): void => {
    steps.push({ kind: 'run', script: `LANG=C ufw ${args.map((a) => quote(a)).join(' ')}`, describe: `ufw ${args.join(' ')}` });
    why.push(reason);
  };
  if (p.state) {
    const enabled = pre.includes(' active');
    if (p.state === 'enabled' && !enabled) run(['-f', 'enable'], 'enable ufw');
    else if (p.state === 'disabled' && enabled) run(['-f', 'disable'], 'disable ufw');
    else if (p.state === 'reloaded') run(['-f', 'reload'], 'reload ufw (always changed)');
    else if (p.state === 'reset') run(['-f', 'reset'], 'reset ufw (always changed)');
  }
  if (p.default) {
    const m = /Default: (deny|allow|reject) \(incoming\), (deny|allow|reject) \(outgoing\), (deny|allow|reject|disabled) \(routed\)/.exec(pre);
    const cur = m ? ({ incoming: m[1], outgoing: m[2], routed: m[3] } as Record<string, string>)[p.direction ?? 'incoming'] : undefined;
    if (cur === undefined || (cur !== p.default && cur !== 'disabled')) run(['default', p.default, ...(p.direction ? [p.direction] : [])], `default ${p.direction ?? 'incoming'} policy ${cur ?? 'unknown'} -> ${p.default}`);
  }
  if (p.rule) {
    const dry = f.str('dry') ?? '';
    const dl = lines(norm(dry));
    const skipping = dl.filter((l) => l.includes('Skipping')).length;
    let changed = false;
    if (!(skipping > 0 && skipping === dl.length)) {
      const tuples = dl.filter((l) => l.startsWith('### tuple')).join('');
      const only = (re: RegExp, s: string) => lines(s).filter((l) => re.test(l)).join('');
      if (new RegExp(`^${IPV4.source}`).test(p.fromIp) || new RegExp(`^${IPV4.source}`).test(p.toIp)) changed = only(IPV4, preRules) !== only(IPV4, tuples);
      else if (new RegExp(`^${IPV6.source}`).test(p.fromIp) || new RegExp(`^${IPV6.source}`).test(p.toIp)) changed = only(IPV6, preRules) !== only(IPV6, tuples);
      else changed = preRules !== tuples;
    }
    if (changed) run(p.rule, `rule: ${p.rule.join(' ')}`);
  }
  if (p.logging) {
    const m = /Logging: (on|off)(?: \(([a-z]+)\))?/.exec(pre);
    let changed = !m;
    if (m) {
      if (p.logging !== 'off') changed = m[1] === 'off' || (p.logging !== 'on' && p.logging !== m[2]);
      else changed = m[1] !== 'off';
    }
    if (changed) run(['logging', p.logging], `logging ${m ? m[0].slice(9) : 'unknown'} -> ${p.logging}`);
  }
  const commands = steps.map((s) => (s.kind === 'run' ? s.describe : ''));
  if (!steps.length) return { steps, reason: 'ufw already as wanted', result: { commands } };
  return { steps, reason: why.join(', '), result: { commands } };
}

const str = { type: 'string' };
const ufw: ModuleDef<UfwParams, FrameState> = {
  name: 'ufw',
  aliases: ['community.general.ufw'],
  description: 'Uncomplicated Firewall: state, default policy, logging and rules, decided with ufw --dry-run',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      state: { enum: ['enabled', 'disabled', 'reloaded', 'reset'] },
      default: { enum: ['allow', 'deny', 'reject'] },
      policy: { enum: ['allow', 'deny', 'reject'] },
      logging: { enum: ['full', 'high', 'low', 'medium', 'off', 'on'] },
      direction: { enum: ['in', 'incoming', 'out', 'outgoing', 'routed'] },
      delete: { type: 'boolean' },
      route: { type: 'boolean' },
      insert: { type: 'integer' },
      insert_relative_to: { enum: ['zero', 'first-ipv4', 'last-ipv4', 'first-ipv6', 'last-ipv6'] },
      rule: { enum: ['allow', 'deny', 'limit', 'reject'] },
      interface: str, if: str, interface_in: str, if_in: str, interface_out: str, if_out: str,
      log: { type: 'boolean' },
      from_ip: str, from: str, src: str, from_port: { type: ['string', 'integer'] },
      to_ip: str, dest: str, to: str, to_port: { type: ['string', 'integer'] }, port: { type: ['string', 'integer'] },
      proto: { enum: ['ah', 'any', 'esp', 'ipv6', 'tcp', 'udp', 'gre', 'igmp'] },
      protocol: { enum: ['ah', 'any', 'esp', 'ipv6', 'tcp', 'udp', 'gre', 'igmp'] },
      name: str, app: str, comment: str,
    },
  },
  prepare: prepareUfw,
  probe: (p) => frameProbe(ufwProbeScript(p)),
  plan: planUfw,
};

export default ufw;
