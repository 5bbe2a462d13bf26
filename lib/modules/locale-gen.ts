/**
 * locale_gen (community.general.locale_gen): a locale generated (present) or not (absent), Debian style: the
 * locale's line in /etc/locale.gen is uncommented (or commented out) and `locale-gen` regenerates the archive.
 * A locale is present when `locale -a` lists it (encodings compared as Ansible normalises them: .utf8 = .UTF-8);
 * it must be listed in /etc/locale.gen (commented or not), else "The locale you've entered is not available on your
 * system." Ubuntu's /var/lib/locales/supported.d layout: `locale-gen NAME`, as the collection does.
 */
import type { ExecResult } from '../connection/types.js';
import { failPlan, failure, isProbeFailed, type ModuleDef, type Plan, type Step } from './types.js';
import { EPILOGUE, PRELUDE, badArg, frameProbe, quote, type FrameState } from './common.js';
import { showEscapes } from './bytes.js';

export interface LocaleGenParams {
  name: string;
  state: 'present' | 'absent';
}

export const localeGenSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1 }, state: { enum: ['present', 'absent'] } },
};

export function prepareLocaleGen(raw: Record<string, unknown>): LocaleGenParams {
  const name = String(raw.name ?? '');
  if (!/^[A-Za-z0-9_.@-]+$/.test(name)) throw badArg(`locale_gen: '${name}' is not a locale name such as en_US.UTF-8`);
  return { name, state: (raw.state as LocaleGenParams['state'] | undefined) ?? 'present' };
}

const NORMALISE: [string, string][] = [
  ['.utf8', '.UTF-8'], ['.eucjp', '.EUC-JP'], ['.iso885915', '.ISO-8859-15'], ['.cp1251', '.CP1251'], ['.koi8r', '.KOI8-R'],
  ['.armscii8', '.ARMSCII-8'], ['.euckr', '.EUC-KR'], ['.gbk', '.GBK'], ['.gb18030', '.GB18030'], ['.euctw', '.EUC-TW'],
];
/** Ansible's fix_case: `locale -a` prints encodings in either case. */
export function fixCase(name: string): string {
  let n = name;
  for (const [s, r] of NORMALISE) n = n.split(s).join(r);
  return n;
}

export function localeGenScript(): string {
  return [
    PRELUDE,
    `if [ -d /var/lib/locales/supported.d ]; then kv ubuntu 1; if [ -f /usr/share/i18n/SUPPORTED ]; then kvfile supported /usr/share/i18n/SUPPORTED; fi; fi`,
    `if [ -f /etc/locale.gen ]; then kvfile locale_gen /etc/locale.gen; fi`,
    `kv installed "$(locale -a 2>/dev/null)"`,
    `command -v locale-gen >/dev/null 2>&1 && kv has_locale_gen 1`,
    EPILOGUE,
  ].join('\n');
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** set_locale: every line `#? *NAME CHARSET` becomes `NAME CHARSET` (enabled) or `# NAME CHARSET` (disabled). */
export function editLocaleGen(content: string, name: string, enabled: boolean): string {
  // Python's re.sub without anchors, per line (the line's newline is not part of `.+`)
  const re = new RegExp(`#?\\s*${escapeRe(name)} (.+)`);
  return content
    .split('\n')
    .map((line) => line.replace(re, (_m, cs: string) => `${enabled ? '' : '# '}${name} ${cs}`))
    .join('\n');
}

export function planLocaleGen(p: LocaleGenParams, f: FrameState | null): Plan {
  if (!f) return failPlan(failure('probe_failed', 'locale_gen: no probe result'));
  if (isProbeFailed(f)) return failPlan(f.probeFailed);
  const ubuntu = f.str('ubuntu') === '1';
  const gen = f.str('locale_gen');
  if (!ubuntu && gen === undefined) return failPlan(failure('missing_path', '/etc/locale.gen and /var/lib/locales/supported.d/local are missing. Is the package "locales" installed?', '/etc/locale.gen'));
  const avail = ubuntu ? f.str('supported') ?? '' : gen!;
  const lineRe = ubuntu ? /^(\S+_\S+) (\S+)\s*$/ : /^#?\s*(\S+_\S+) (\S+)\s*$/;
  if (!avail.split('\n').some((l) => lineRe.exec(l)?.[1] === p.name)) return failPlan(failure('not_available', "The locale you've entered is not available on your system."));
  const present = (f.str('installed') ?? '').split('\n').some((l) => fixCase(l) === fixCase(p.name));
  const result = { name: p.name, msg: 'OK' };
  if (present === (p.state === 'present')) return { steps: [], reason: `locale ${p.name} is ${p.state === 'present' ? 'generated' : 'not generated'}`, result };
  if (f.str('has_locale_gen') !== '1') return failPlan(failure('no_locale_gen', 'locale-gen not found on the host'));
  const steps: Step[] = [];
  let diffs;
  if (ubuntu) {
    steps.push(p.state === 'present' ? { kind: 'run', script: `locale-gen ${quote(p.name)}`, describe: `locale-gen ${p.name}` } : { kind: 'run', script: `f=/var/lib/locales/supported.d/local; if [ -f "$f" ]; then grep -v -F -x -e ${quote(p.name)} "$f" > "$f.rb-tmp" || true; mv -f "$f.rb-tmp" "$f"; fi; locale-gen --purge`, describe: 'locale-gen --purge' });
  } else {
    const after = editLocaleGen(gen!, p.name, p.state === 'present');
    if (after !== gen) {
      steps.push({ kind: 'write', path: '/etc/locale.gen', content: after, describe: `${p.state === 'present' ? 'enable' : 'disable'} ${p.name} in /etc/locale.gen` });
      diffs = [{ label: '/etc/locale.gen', before: showEscapes(gen!), after: showEscapes(after) }];
    }
    steps.push({ kind: 'run', script: 'locale-gen', describe: 'locale-gen' });
  }
  return { steps, reason: p.state === 'present' ? `generate locale ${p.name}` : `remove locale ${p.name}`, ...(diffs ? { diffs } : {}), result };
}

const localeGen: ModuleDef<LocaleGenParams, FrameState> = {
  name: 'locale_gen',
  aliases: ['community.general.locale_gen', 'community.general.system.locale_gen'],
  description: 'generate or remove a locale (/etc/locale.gen + locale-gen)',
  schema: localeGenSchema,
  prepare: prepareLocaleGen,
  probe: () => frameProbe(localeGenScript()),
  plan: planLocaleGen,
};

export default localeGen;
