/**
 * The modules real Ansible codebases use (issue #8): apt, service, blockinfile, replace, slurp, ...
 *
 * 1. Data-driven plan tables: params + framed probe output -> expected steps / reason / failure (pure).
 * 2. Known-but-unsupported modules fail at load time, at the task's line, before any host is contacted.
 * 3. Per module, over real SSH against a lab host: --check on a fresh host predicts exactly what apply changes
 *    and changes nothing; apply does the work (checked on the host itself); a second apply changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planFrom } from '../lib/modules/types.js';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { ExecResult } from '../lib/connection/types.js';
import type { ModuleDef } from '../lib/modules/types.js';
import { formatFrame } from '../lib/modules/common.js';
import { Lab } from '../lib/lab/lab.js';
import apt from '../lib/modules/apt.js';
import blockinfile, { blockEdit, prepareBlockInFile } from '../lib/modules/blockinfile.js';
import replace, { prepareReplace, replaceText } from '../lib/modules/replace.js';
import slurp from '../lib/modules/slurp.js';
import service from '../lib/modules/service.js';
import user from '../lib/modules/user.js';
import debconf, { parseShow } from '../lib/modules/debconf.js';
import getUrl from '../lib/modules/get-url.js';
import { cli, cliAsync, events, ROOT } from './helpers.js';

const FIX = path.join(ROOT, 'test/fixtures/modules-ansible');

// ------------------------------------------------------------------------------------------------------------------
// plan-table harness

function frame(kv: Record<string, string | Buffer>, opts: { end?: boolean; code?: number } = {}): ExecResult {
  return { code: opts.code ?? 0, stdout: formatFrame(kv, opts.end !== false), stderr: '' };
}

interface Case {
  name: string;
  params: Record<string, unknown>;
  probe: ExecResult | null;
  steps?: Array<Record<string, unknown>>;
  reason?: string | RegExp;
  fail?: string | RegExp;
  prepareError?: RegExp;
  diffs?: Array<{ label: string; before: string; after: string }>;
  result?: Record<string, unknown>;
}

const noCtx = {
  host: 'h',
  vars: {},
  findFile: () => undefined,
  renderTemplateFile: () => '',
};

function runTable(mod: ModuleDef<any>, cases: Case[]): void {
  for (const c of cases) {
    it(c.name, async () => {
      if (c.prepareError) {
        await expect(Promise.resolve().then(() => mod.prepare!(c.params, noCtx))).rejects.toThrow(c.prepareError);
        return;
      }
      const p = mod.prepare ? await mod.prepare(c.params, noCtx) : c.params;
      const plan = planFrom(mod, p, c.probe);
      expect(planFrom(mod, p, c.probe), 'plans are pure').toEqual(plan);
      if (c.fail !== undefined) {
        expect(plan.fail?.message).toMatch(c.fail);
        expect(plan.steps).toEqual([]);
      } else {
        expect(plan.fail?.message, plan.reason).toBeUndefined();
      }
      if (c.steps !== undefined) {
        expect(plan.steps.length, JSON.stringify(plan.steps)).toBe(c.steps.length);
        c.steps.forEach((s, i) => expect(plan.steps[i]).toMatchObject(s));
      }
      if (c.reason !== undefined) expect(plan.reason).toMatch(c.reason);
      expect(plan.reason, 'every plan says why').toBeTruthy();
      if (c.diffs !== undefined) expect(plan.diffs).toEqual(c.diffs);
      if (c.result !== undefined) expect(plan.result).toMatchObject(c.result);
    });
  }
}

const contains = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

// ==================================================================================================================
// apt

describe('apt plans', () => {
  const NOW = 1_800_000_000;
  const base = { cache_time: String(NOW - 100), now: String(NOW) };
  runTable(apt, [
    {
      name: 'present: absent package is installed',
      params: { name: 'sl' },
      probe: frame({ ...base, s0: '', c0: '5.02-1+b1' }),
      steps: [{ kind: 'run', script: expect.stringMatching(/^DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=60 .*install -- sl$/) }],
      reason: /install sl/,
      diffs: [{ label: 'apt packages', before: 'sl: absent\n', after: 'sl: 5.02-1+b1\n' }],
    },
    {
      name: 'present: installed package is a no-op that says why',
      params: { name: ['sl'], state: 'present' },
      probe: frame({ ...base, s0: 'ii |5.02-1+b1', c0: '5.02-1+b1' }),
      steps: [],
      reason: 'sl 5.02-1+b1 is installed',
    },
    {
      name: 'present: only the missing packages are installed; install_recommends false',
      params: { pkg: 'sl,hello', install_recommends: false },
      probe: frame({ ...base, s0: 'ii |5.02-1+b1', c0: '5.02-1+b1', s1: 'un |', c1: '2.10-3' }),
      steps: [{ script: expect.stringMatching(/install --no-install-recommends -- hello$/) }],
    },
    {
      name: 'present: config-files only (rc) counts as not installed',
      params: { name: 'sl' },
      probe: frame({ ...base, s0: 'rc |5.02-1+b1', c0: '5.02-1+b1' }),
      steps: [{ script: expect.stringMatching(/install -- sl$/) }],
    },
    {
      name: 'present: unknown package fails before any change',
      params: { name: ['sl', 'no-such-pkg'] },
      probe: frame({ ...base, s0: '', c0: '5.02-1+b1', s1: '', c1: '' }),
      fail: "No package matching 'no-such-pkg' is available",
    },
    {
      name: 'present: unknown package is left to apt-get when the cache is updated first',
      params: { name: 'new-pkg', update_cache: true },
      probe: frame({ ...base, s0: '', c0: '' }),
      steps: [{ script: expect.stringMatching(/ update$/) }, { script: expect.stringMatching(/install -- new-pkg$/) }],
    },
    {
      name: 'present with a version: installed at another version -> install name=version',
      params: { name: 'hello=2.10-3' },
      probe: frame({ ...base, s0: 'ii |2.10-2', c0: '2.10-3', v0: '1' }),
      steps: [{ script: expect.stringMatching(/install -- hello=2\.10-3$/) }],
    },
    {
      name: 'present with a version that apt does not have fails',
      params: { name: 'hello=9.9' },
      probe: frame({ ...base, s0: '', c0: '2.10-3', v0: '0' }),
      fail: "No package matching 'hello=9.9' is available",
    },
    {
      name: 'latest: installed but older than the candidate -> install',
      params: { name: 'bash', state: 'latest' },
      probe: frame({ ...base, s0: 'ii |5.2.15-2+b8', c0: '5.2.15-2+b13' }),
      steps: [{ script: expect.stringMatching(/install -- bash$/) }],
      diffs: [{ label: 'apt packages', before: 'bash: 5.2.15-2+b8\n', after: 'bash: 5.2.15-2+b13\n' }],
    },
    {
      name: 'latest: at the candidate -> no-op',
      params: { name: 'bash', state: 'latest' },
      probe: frame({ ...base, s0: 'ii |5.2.15-2+b13', c0: '5.2.15-2+b13' }),
      steps: [],
      reason: /newest version/,
    },
    {
      name: 'absent: installed -> remove; purge and autoremove',
      params: { name: 'sl', state: 'absent', purge: true, autoremove: true },
      probe: frame({ ...base, s0: 'ii |5.02-1+b1', c0: '5.02-1+b1', autoremove: '0' }),
      steps: [{ script: expect.stringMatching(/remove --purge --auto-remove -- sl$/) }],
      reason: /purge sl/,
    },
    {
      name: 'absent: config files left and purge -> purge them',
      params: { name: 'sl', state: 'absent', purge: true },
      probe: frame({ ...base, s0: 'rc |5.02-1+b1', c0: '5.02-1+b1' }),
      steps: [{ script: expect.stringMatching(/remove --purge -- sl$/) }],
    },
    {
      name: 'absent: config files left without purge -> no-op',
      params: { name: 'sl', state: 'absent' },
      probe: frame({ ...base, s0: 'rc |5.02-1+b1', c0: '5.02-1+b1' }),
      steps: [],
      reason: 'sl is not installed',
    },
    {
      name: 'absent: unknown package is simply not installed',
      params: { name: 'no-such-pkg', state: 'absent' },
      probe: frame({ ...base, s0: '', c0: '' }),
      steps: [],
    },
    {
      name: 'update_cache within cache_valid_time: no update',
      params: { update_cache: true, cache_valid_time: 3600 },
      probe: frame(base),
      steps: [],
      reason: 'apt cache is 100s old, within cache_valid_time 3600s',
      result: { cache_updated: false, cache_update_time: NOW - 100 },
    },
    {
      name: 'cache_valid_time alone implies update_cache (Ansible 2.4+): stale -> update',
      params: { cache_valid_time: 60 },
      probe: frame(base),
      steps: [{ script: expect.stringMatching(/apt-get .* update$/) }],
      reason: /update the apt cache \(100s old, cache_valid_time 60s\)/,
      result: { cache_updated: true },
    },
    {
      name: 'update_cache without cache_valid_time always updates',
      params: { update_cache: true },
      probe: frame(base),
      steps: [{ describe: 'apt-get update' }],
    },
    {
      name: 'latest after a cache update installs every named package (candidates may change)',
      params: { name: 'bash', state: 'latest', update_cache: true },
      probe: frame({ ...base, s0: 'ii |5.2.15-2+b13', c0: '5.2.15-2+b13' }),
      steps: [{ describe: 'apt-get update' }, { script: expect.stringMatching(/install -- bash$/) }],
    },
    {
      name: 'upgrade dist: simulated upgrades -> dist-upgrade; none -> no-op',
      params: { upgrade: 'dist' },
      probe: frame({ ...base, upgrade: '3' }),
      steps: [{ script: expect.stringMatching(/ dist-upgrade$/) }],
      reason: /upgrade 3 package/,
    },
    { name: 'upgrade yes with nothing to upgrade', params: { upgrade: 'yes' }, probe: frame({ ...base, upgrade: '0' }), steps: [], reason: 'no package to upgrade' },
    { name: 'autoremove alone', params: { autoremove: true }, probe: frame({ ...base, autoremove: '2' }), steps: [{ script: expect.stringMatching(/ autoremove$/) }] },
    { name: 'no apt on the host fails clearly', params: { name: 'sl' }, probe: frame({ no_apt: '1' }), fail: /does not use apt/ },
    { name: 'a probe cut short fails instead of guessing', params: { name: 'sl' }, probe: frame({ ...base }, { end: false }), fail: /probe failed/ },
    { name: 'wildcards are refused at prepare', params: { name: 'lib*' }, probe: null, prepareError: /wildcards are not supported/ },
    { name: 'nothing to do at all is refused', params: { state: 'present' }, probe: null, prepareError: /one of name, update_cache, upgrade or autoremove/ },
  ]);
});

// ==================================================================================================================
// blockinfile, replace, slurp, service

/** stat keys of a regular file (mode 0644, root) for the file-edit probes */
function fileStat(size = 0): Record<string, string> {
  return { d_raw: `${(0o100644).toString(16)} 0 0 ${size} 1700000000 1700000000 1700000000 42 2049 1`, d_owner: 'root', d_group: 'root', uid: '0', parent: '1' };
}
const fileProbe = (path: string, content: string) => frame({ path, ...fileStat(content.length), content: Buffer.from(content, 'latin1') });
const absentProbe = (path: string, parent = true) => frame({ path, d_raw: 'absent', uid: '0', parent: parent ? '1' : '0' });

describe('blockinfile: Ansible\'s algorithm', () => {
  const edit = (text: string, params: Record<string, unknown>, exists = true) => blockEdit(text, exists, prepareBlockInFile({ path: '/x', ...params }));
  it.each([
    ['appends at EOF with markers', 'a\nb\n', { block: 'x\ny' }, 'a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx\ny\n# END ANSIBLE MANAGED BLOCK\n', 'Block inserted'],
    ['adds the missing final newline before the block', 'a', { block: 'x' }, 'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n', 'Block inserted'],
    ['replaces the block between existing markers in place', 'a\n# BEGIN ANSIBLE MANAGED BLOCK\nold\n# END ANSIBLE MANAGED BLOCK\nz\n', { block: 'new' }, 'a\n# BEGIN ANSIBLE MANAGED BLOCK\nnew\n# END ANSIBLE MANAGED BLOCK\nz\n', 'Block inserted'],
    ['same block: no change', 'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n', { block: 'x\n' }, 'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n', ''],
    ['insertafter: after the LAST match', 'k=1\nk=2\nz\n', { block: 'x', insertafter: '^k=' }, 'k=1\nk=2\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nz\n', 'Block inserted'],
    ['insertbefore BOF', 'a\n', { block: 'x', insertbefore: 'BOF' }, '# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\na\n', 'Block inserted'],
    ['insertbefore regexp that matches nothing: EOF', 'a\n', { block: 'x', insertbefore: '^nomatch' }, 'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n', 'Block inserted'],
    ['custom marker and begin/end words', 'a\n', { block: 'x', marker: '// {mark} m', marker_begin: 'start', marker_end: 'stop' }, 'a\n// start m\nx\n// stop m\n', 'Block inserted'],
    ['state absent removes the block', 'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nz\n', { state: 'absent' }, 'a\nz\n', 'Block removed'],
    ['an empty block removes it too', 'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n', { block: '' }, 'a\n', 'Block removed'],
    ['prepend_newline / append_newline', 'a\nb\n', { block: 'x', insertafter: '^a', prepend_newline: true, append_newline: true }, 'a\n\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n\nb\n', 'Block inserted'],
  ])('%s', (_n, text, params, want, msg) => {
    const r = edit(text as string, params as Record<string, unknown>);
    expect(r.after).toBe(want);
    expect(r.msg).toBe(msg);
  });
  it('a marker without {mark} is refused', () => {
    expect(() => prepareBlockInFile({ path: '/x', marker: '# managed' })).toThrow(/must contain \{mark\}/);
  });
});

describe('blockinfile plans', () => {
  runTable(blockinfile, [
    {
      name: 'write keeps the current mode and owner',
      params: { path: '/etc/x.conf', block: 'k=v' },
      probe: fileProbe('/etc/x.conf', 'a\n'),
      steps: [{ kind: 'write', path: '/etc/x.conf', mode: '0644', owner: '0', group: '0', content: Buffer.from('a\n# BEGIN ANSIBLE MANAGED BLOCK\nk=v\n# END ANSIBLE MANAGED BLOCK\n') }],
      reason: 'Block inserted',
      diffs: [{ label: '/etc/x.conf', before: 'a\n', after: 'a\n# BEGIN ANSIBLE MANAGED BLOCK\nk=v\n# END ANSIBLE MANAGED BLOCK\n' }],
    },
    { name: 'missing file without create fails like Ansible', params: { path: '/etc/x.conf', block: 'k' }, probe: absentProbe('/etc/x.conf'), fail: 'Path /etc/x.conf does not exist !' },
    {
      name: 'missing file with create: parent made, file written with the given mode',
      params: { path: '/new/dir/x.conf', block: 'k', create: true, mode: '0600' },
      probe: absentProbe('/new/dir/x.conf', false),
      steps: [{ kind: 'run', script: "mkdir -p -- /new/dir" }, { kind: 'write', path: '/new/dir/x.conf', mode: '0600' }],
      reason: /File created/,
    },
    { name: 'absent on a missing file: nothing to remove', params: { path: '/x', state: 'absent' }, probe: absentProbe('/x'), steps: [], reason: /does not exist: no block to remove/ },
    { name: 'a directory fails', params: { path: '/x', block: 'k' }, probe: frame({ path: '/x', d_raw: `${(0o40755).toString(16)} 0 0 0 1 1 1 1 1 1`, d_owner: 'root', d_group: 'root', uid: '0', parent: '1' }), fail: /is a directory/ },
    { name: 'the block is there: no-op with attribute fix only', params: { path: '/x', block: 'k', mode: '0600' }, probe: fileProbe('/x', '# BEGIN ANSIBLE MANAGED BLOCK\nk\n# END ANSIBLE MANAGED BLOCK\n'), steps: [{ kind: 'run', script: 'chmod 0600 -- /x' }], reason: 'mode 0644 -> 0600' },
  ]);
});

describe('replace', () => {
  const rep = (text: string, params: Record<string, unknown>) => replaceText(text, prepareReplace({ path: '/x', ...params }));
  it.each([
    ['every match, multiline ^ and $', 'a=1\nb=2\na=3\n', { regexp: '^a=(\\d)$', replace: 'a=\\1\\1' }, 'a=11\nb=2\na=33\n', 2],
    ['named groups with \\g<name>', 'port 80\n', { regexp: 'port (?P<p>\\d+)', replace: 'listen \\g<p>' }, 'listen 80\n', 1],
    ['no replace: matches are deleted', 'x # c\ny\n', { regexp: ' #.*$' }, 'x\ny\n', 1],
    ['after: only the part after the first match of after', 'k=1\n[s]\nk=1\n', { regexp: 'k=1', replace: 'k=2', after: '\\[s\\]' }, 'k=1\n[s]\nk=2\n', 1],
    ['before: only the part before', 'k=1\n[s]\nk=1\n', { regexp: 'k=1', replace: 'k=2', before: '\\[s\\]' }, 'k=2\n[s]\nk=1\n', 1],
    ['after and before: the section between them (non-greedy)', 'k\n<a>\nk\n</a>\nk\n</a>\n', { regexp: 'k', replace: 'K', after: '<a>', before: '</a>' }, 'k\n<a>\nK\n</a>\nk\n</a>\n', 1],
    ['after that matches nothing: nothing replaced', 'k\n', { regexp: 'k', replace: 'K', after: 'zzz' }, 'k\n', 0],
  ])('%s', (_n, text, params, want, count) => {
    const r = rep(text as string, params as Record<string, unknown>);
    expect(r.after).toBe(want);
    expect(r.count).toBe(count);
  });
  runTable(replace, [
    { name: 'changes: write with Ansible\'s msg', params: { path: '/x', regexp: 'a', replace: 'b' }, probe: fileProbe('/x', 'aa\n'), steps: [{ kind: 'write', content: Buffer.from('bb\n') }], reason: '2 replacements made', result: { msg: '2 replacements made' } },
    { name: 'no match: no-op that says so', params: { path: '/x', regexp: 'zzz', replace: 'b' }, probe: fileProbe('/x', 'aa\n'), steps: [], reason: 'regexp matches nothing in /x' },
    { name: 'missing file fails', params: { path: '/x', regexp: 'a' }, probe: absentProbe('/x'), fail: 'Path /x does not exist !' },
    { name: 'a bad regexp is refused at prepare', params: { path: '/x', regexp: '(' }, probe: null, prepareError: /invalid regular expression/ },
  ]);
});

describe('slurp and service plans', () => {
  runTable(slurp, [
    { name: 'content is base64, never a change', params: { src: '/etc/motd' }, probe: frame({ content: Buffer.from([0, 1, 2, 255]) }), steps: [], reason: /read-only: read 4 bytes/, result: { content: 'AAEC/w==', encoding: 'base64', source: '/etc/motd' } },
    { name: 'path alias; empty file', params: { path: '/e' }, probe: frame({ content: '' }), steps: [], result: { content: '', source: '/e' } },
    { name: 'missing file fails', params: { src: '/nope' }, probe: frame({ err: 'absent' }), fail: 'file not found: /nope' },
    { name: 'directory fails', params: { src: '/etc' }, probe: frame({ err: 'dir' }), fail: /is a directory/ },
  ]);
  runTable(service, [
    {
      name: 'no systemd running: enabled managed offline, state not managed and the plan says so',
      params: { name: 'ssh', state: 'started', enabled: true },
      probe: frame({ running: '0', enabled: 'disabled' }),
      steps: [{ kind: 'run', script: 'systemctl enable -- ssh.service' }],
      reason: /enable ssh\.service; systemd is not running on this host: state not managed/,
      result: { state_managed: false },
    },
    { name: 'systemd running: start a stopped unit', params: { name: 'nginx', state: 'started' }, probe: frame({ running: '1', enabled: 'enabled', active: 'inactive', load_state: 'loaded' }), steps: [{ script: 'systemctl start -- nginx.service' }] },
    { name: 'no systemctl at all fails clearly', params: { name: 'ssh', state: 'started' }, probe: frame({ running: '0', no_systemctl: '1' }), fail: /systemctl is not installed/ },
    { name: 'use: sysvinit is refused at prepare', params: { name: 'ssh', state: 'started', use: 'sysvinit' }, probe: null, prepareError: /not supported/ },
  ]);
});

// ==================================================================================================================
// user, debconf

describe('user plans', () => {
  const pw = (e: string) => ({ passwd: e, member: '', home_exists: '1' });
  const G = { g0: 'users:x:100:', g1: 'audio:x:29:', g2: 'video:x:44:' };
  runTable(user, [
    {
      name: 'absent user -> useradd with every given attribute',
      params: { name: 'svc', uid: 990, group: 'users', groups: ['audio', 'video'], shell: '/bin/sh', home: '/srv/svc', system: true, comment: 'a b' },
      probe: frame({ passwd: '', member: '', ...G, new_home_exists: '0' }),
      steps: [{ kind: 'run', script: "useradd -u 990 -g users -G audio,video -c 'a b' -d /srv/svc -s /bin/sh -r -m -- svc" }],
      reason: 'create system user svc',
    },
    { name: 'create_home false -> -M', params: { name: 'svc', create_home: false }, probe: frame({ passwd: '', member: '' }), steps: [{ script: 'useradd -M -- svc' }] },
    {
      name: 'existing user as wanted: no-op',
      params: { name: 'svc', uid: 990, group: 'users', groups: 'audio,video', shell: '/bin/sh' },
      probe: frame({ ...pw('svc:x:990:100::/home/svc:/bin/sh'), member: 'audio video ', ...G }),
      steps: [],
      reason: 'user svc exists as wanted',
    },
    {
      name: 'existing user: only what differs goes to usermod',
      params: { name: 'svc', uid: 991, shell: '/bin/bash', groups: ['audio'] },
      probe: frame({ ...pw('svc:x:990:100::/home/svc:/bin/sh'), member: 'audio video', g0: 'audio:x:29:' }),
      steps: [{ script: 'usermod -u 991 -G audio -s /bin/bash -- svc' }],
      reason: 'uid 990 -> 991, groups audio,video -> audio, shell /bin/sh -> /bin/bash',
    },
    {
      name: 'append adds only the missing groups',
      params: { name: 'svc', groups: ['audio', 'video'], append: true },
      probe: frame({ ...pw('svc:x:990:100::/home/svc:/bin/sh'), member: 'audio', g0: 'audio:x:29:', g1: 'video:x:44:' }),
      steps: [{ script: 'usermod -a -G video -- svc' }],
    },
    { name: 'a group that does not exist fails before any change', params: { name: 'svc', groups: ['nope'] }, probe: frame({ passwd: '', member: '', g0: '' }), fail: 'Group nope does not exist' },
    {
      name: 'password hash: compared, never shown',
      params: { name: 'svc', password: '$6$new' },
      probe: frame({ ...pw('svc:x:990:100::/home/svc:/bin/sh'), shadow: '$6$old' }),
      steps: [{ script: "usermod -p '$6$new' -- svc" }],
      reason: 'password hash differs',
    },
    { name: 'update_password on_create leaves an existing hash', params: { name: 'svc', password: '$6$new', update_password: 'on_create' }, probe: frame({ ...pw('svc:x:990:100::/home/svc:/bin/sh'), shadow: '$6$old' }), steps: [] },
    { name: 'clear-text password refused', params: { name: 'svc', password: 'hunter2' }, probe: null, prepareError: /crypted hash/ },
    { name: 'absent: userdel -r', params: { name: 'svc', state: 'absent', remove: true }, probe: frame(pw('svc:x:990:100::/home/svc:/bin/sh')), steps: [{ script: 'userdel -r -- svc' }] },
    { name: 'absent and already gone', params: { name: 'svc', state: 'absent' }, probe: frame({ passwd: '', member: '' }), steps: [], reason: 'user svc does not exist' },
    { name: 'missing home of an existing user is created (create_home)', params: { name: 'svc' }, probe: frame({ passwd: 'svc:x:990:100::/home/svc:/bin/sh', member: '', home_exists: '0' }), steps: [{ describe: 'create home /home/svc' }] },
  ]);
  it('a password never reaches a reason or a diff', async () => {
    const p = await user.prepare!({ name: 'svc', password: '$6$secrethash' }, noCtx);
    const plan = planFrom(user, p, frame({ passwd: 'svc:x:990:100::/home/svc:/bin/sh', member: '', home_exists: '1', shadow: '$6$old' }));
    expect(JSON.stringify({ r: plan.reason, d: plan.diffs, res: plan.result })).not.toMatch(/secrethash|\$6\$old/);
  });
});

describe('debconf plans', () => {
  it('parses debconf-show', () => {
    expect([...parseShow('* p/a: x y\n  p/b: true\n  p/c:\n')]).toEqual([['p/a', 'x y'], ['p/b', 'true'], ['p/c', '']]);
  });
  runTable(debconf, [
    { name: 'unset -> debconf-set-selections with the line on stdin', params: { name: 'pkg', question: 'pkg/q', vtype: 'string', value: 'a b' }, probe: frame({ show: '' }), steps: [{ kind: 'run', script: 'debconf-set-selections', input: 'pkg pkg/q string a b\n' }], reason: "pkg pkg/q: not set -> 'a b'" },
    { name: 'same value: no-op', params: { name: 'pkg', question: 'pkg/q', vtype: 'string', value: 'a b' }, probe: frame({ show: '* pkg/q: a b\n' }), steps: [], reason: "pkg pkg/q is already 'a b'" },
    { name: 'boolean yes == true', params: { name: 'pkg', question: 'pkg/b', vtype: 'boolean', value: 'yes' }, probe: frame({ show: '  pkg/b: true\n' }), steps: [] },
    { name: 'YAML boolean false vs true', params: { name: 'pkg', question: 'pkg/b', vtype: 'boolean', value: false }, probe: frame({ show: '  pkg/b: true\n' }), steps: [{ input: 'pkg pkg/b boolean false\n' }] },
    { name: 'multiselect compares as a set', params: { name: 'pkg', question: 'pkg/m', vtype: 'multiselect', value: ['b', 'a'] }, probe: frame({ show: '  pkg/m: a, b\n' }), steps: [] },
    { name: 'password: always set, value never in the reason', params: { name: 'pkg', question: 'pkg/p', vtype: 'password', value: 's3cret' }, probe: frame({ show: '' }), steps: [{ input: 'pkg pkg/p password s3cret\n' }], reason: /always set/ },
    { name: 'unseen: -u', params: { name: 'pkg', question: 'pkg/q', vtype: 'string', value: 'v', unseen: true }, probe: frame({ show: '' }), steps: [{ script: 'debconf-set-selections -u' }] },
    { name: 'question is required', params: { name: 'pkg' }, probe: null, prepareError: /question is required/ },
  ]);
});

// ==================================================================================================================
// get_url

describe('get_url plans', () => {
  const f = (kv: Record<string, string>) => frame({ path: '/d/f', parent: '1', ...kv });
  const file = { d_raw: `${(0o100644).toString(16)} 0 0 5 1 1 1 1 1 1`, d_owner: 'root', d_group: 'root' };
  runTable(getUrl, [
    { name: 'absent dest: download', params: { url: 'http://h/f', dest: '/d/f' }, probe: f({ d_raw: 'absent' }), steps: [{ kind: 'run', describe: 'download http://h/f to /d/f' }], reason: '/d/f does not exist' },
    { name: 'present, no force, no checksum: kept', params: { url: 'http://h/f', dest: '/d/f' }, probe: f({ ...file, sum: 'aa' }), steps: [], reason: '/d/f exists and force is false' },
    { name: 'checksum matches: kept', params: { url: 'http://h/f', dest: '/d/f', checksum: 'sha256:AA' }, probe: f({ ...file, sum: 'aa' }), steps: [], reason: '/d/f has sha256 aa' },
    { name: 'checksum differs: download and verify', params: { url: 'http://h/f', dest: '/d/f', checksum: 'sha256:bb' }, probe: f({ ...file, sum: 'aa' }), steps: [{ script: expect.stringContaining('= bb ]') }] },
    { name: 'force: same remote content -> kept', params: { url: 'http://h/f', dest: '/d/f', force: true }, probe: f({ ...file, sum: 'aa', remote_sum: 'aa' }), steps: [], reason: '/d/f has the content at http://h/f' },
    { name: 'force: different remote content -> download', params: { url: 'http://h/f', dest: '/d/f', force: true }, probe: f({ ...file, sum: 'aa', remote_sum: 'bb' }), steps: [{ kind: 'run' }] },
    { name: 'force: unreachable URL fails at plan time', params: { url: 'http://h/f', dest: '/d/f', force: true }, probe: f({ ...file, sum: 'aa', fetch_error: 'could not fetch the URL (curl/wget rc=7)' }), fail: /could not fetch/ },
    { name: 'missing parent dir fails', params: { url: 'http://h/f', dest: '/d/f' }, probe: frame({ path: '/d/f', parent: '0', d_raw: 'absent' }), fail: 'Destination /d does not exist' },
    { name: 'bad checksum spec refused', params: { url: 'http://h/f', dest: '/d/f', checksum: 'crc32:zz' }, probe: null, prepareError: /unsupported checksum algorithm/ },
    { name: 'not a URL refused', params: { url: 'file:///etc/passwd', dest: '/d/f' }, probe: null, prepareError: /not an http/ },
  ]);
});

// ==================================================================================================================
// unsupported modules: load time, not run time

describe('known-but-unsupported modules', () => {
  let inv: string;
  beforeAll(() => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-unsup-'));
    inv = path.join(d, 'inv.yml');
    // nothing listens at 127.0.0.9:1: a run that tried to connect would report it unreachable (exit 4)
    fs.writeFileSync(inv, 'all:\n  hosts:\n    target:\n      ansible_host: 127.0.0.9\n      ansible_port: 1\n');
  });
  it('names the module and the task line, exit 1, before any host is contacted, and keeps "unknown" for typos', () => {
    const r = cli(['apply', path.join(FIX, 'unsupported.yml'), '-i', inv]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unsupported\.yml:6:7: module "ansible\.posix\.synchronize" is not supported \(yet\)/);
    expect(r.stderr).toMatch(/unsupported\.yml:10:7: module "nmcli" is not supported \(yet\) by runbook \(community\.general\.nmcli\)/);
    expect(r.stderr).toMatch(/unsupported\.yml:13:7: unknown module "aptt" \(did you mean "apt"\?\)/);
    expect(r.stdout + r.stderr).not.toMatch(/unreachable/i);
  });
});

// ==================================================================================================================
// lab: each module over real SSH

let lab: Lab;
let inv: string;
let work: string;
const changedOf = (stdout: string): string[] =>
  events(stdout).filter((e) => e.event === 'task:result' && e.status === 'changed').map((e) => e.task as string);
const failedOf = (stdout: string): string[] =>
  events(stdout).filter((e) => e.event === 'task:result' && (e.status === 'failed' || e.status === 'unreachable')).map((e) => `${e.task}: ${e.reason}`);

async function run(playbook: string, extra: string[] = []) {
  const r = await cliAsync(['apply', path.join(FIX, playbook), '-i', inv, '--format', 'json', '-e', `work=${work}`, ...extra], { timeoutMs: 300_000 });
  return { ...r, changed: changedOf(r.stdout), failed: failedOf(r.stdout) };
}

/**
 * The law over SSH: --check on a fresh host predicts exactly what apply changes and changes nothing observable;
 * apply changes exactly that; a second apply and a second --check change nothing.
 */
async function law(playbook: string, expected: string[], observe: () => Promise<string>, extra: string[] = []): Promise<void> {
  const before = await observe();
  const check = await run(playbook, ['--check', ...extra]);
  expect(check.failed, check.stderr).toEqual([]);
  expect(check.code, check.stderr + check.stdout).toBe(0);
  expect(check.changed, check.stdout).toEqual(expected);
  expect(await observe(), '--check changes nothing').toBe(before);
  const apply = await run(playbook, extra);
  expect(apply.failed, apply.stderr).toEqual([]);
  expect(apply.code, apply.stderr).toBe(0);
  expect(apply.changed, apply.stdout).toEqual(expected);
  const again = await run(playbook, extra);
  expect(again.code, again.stderr).toBe(0);
  expect(again.changed, 'second apply changes nothing').toEqual([]);
  const check2 = await run(playbook, ['--check', ...extra]);
  expect(check2.changed).toEqual([]);
}

const host = () => lab.hosts[0]!;
const sh = (cmd: string) => lab.exec(host(), ['sh', '-c', cmd]);

beforeAll(async () => {
  lab = await Lab.create({ name: 'modans', hosts: 1 });
  inv = path.join(lab.dir, 'modans-inventory.yml');
  fs.writeFileSync(inv, lab.inventoryYaml());
  work = `/tmp/rbk-modans-${process.pid}`;
  fs.mkdirSync(work, { recursive: true });
});

afterAll(async () => {
  await lab?.destroy();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

// ------------------------------------------------------------------------------------------------------------------

describe('apt over SSH (Debian\'s real apt; the host shares the machine\'s dpkg database)', () => {
  const PKGS = ['sl', 'hello'];
  const status = (p: string) => spawnSync('dpkg-query', ['-W', '-f=${db:Status-Abbrev}', p], { encoding: 'utf8' }).stdout.trim();
  const preinstalled: string[] = [];

  beforeAll(() => {
    for (const p of PKGS) if (status(p).startsWith('ii')) preinstalled.push(p);
    // root namespace: fetch the .debs from the machine's configured Debian mirrors into the shared apt cache, so
    // the lab host (no network) installs them from /var/cache/apt/archives
    const dl = spawnSync('apt-get', ['install', '--download-only', '-y', '-q', '-o', 'DPkg::Lock::Timeout=120', ...PKGS], { encoding: 'utf8', timeout: 180_000 });
    expect(dl.status, dl.stderr).toBe(0);
  }, 200_000);

  afterAll(() => {
    const extra = PKGS.filter((p) => !preinstalled.includes(p) && status(p) !== '' && !status(p).startsWith('un'));
    if (extra.length) spawnSync('apt-get', ['purge', '-y', '-q', '-o', 'DPkg::Lock::Timeout=120', ...extra], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }, 200_000);

  it('install: --check predicts, apply installs on the host, again is a no-op; cache_valid_time keeps the cache', async (ctx) => {
    if (preinstalled.length) ctx.skip();
    const observe = async () => (await sh(`dpkg-query -W -f='\${db:Status-Abbrev}\\n' ${PKGS.join(' ')} 2>&1; true`)).stdout;
    await law('apt.yml', ['Install sl and hello'], observe, ['-e', 'pkg_state=present']);
    const r = await sh(`dpkg-query -W -f='\${Package} \${db:Status-Abbrev}\\n' ${PKGS.join(' ')}`);
    expect(r.stdout).toMatch(/^sl ii/m);
    expect(r.stdout).toMatch(/^hello ii/m);
    expect((await sh('/usr/games/sl -h >/dev/null 2>&1; hello')).stdout.trim()).toBe('Hello, world!');
  }, 600_000);

  it('a stale cache is predicted as an update in --check (the lab host has no mirror to update from)', async () => {
    const r = await run('apt.yml', ['--check', '-e', 'pkg_state=present', '-e', 'cache_secs=1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.changed).toEqual(['Apt cache fresh enough']);
    const ev = events(r.stdout).find((e) => e.event === 'task:result' && e.task === 'Apt cache fresh enough')!;
    expect(ev.reason).toMatch(/update the apt cache \(\d+s old, cache_valid_time 1s\)/);
  });

  it('remove with purge: --check predicts, apply removes, again is a no-op', async (ctx) => {
    if (preinstalled.length) ctx.skip();
    const observe = async () => (await sh(`dpkg-query -W -f='\${db:Status-Abbrev}\\n' ${PKGS.join(' ')} 2>&1; true`)).stdout;
    await law('apt.yml', ['Install sl and hello'], observe, ['-e', 'pkg_state=absent']);
    for (const p of PKGS) expect(status(p)).not.toMatch(/^ii|^rc/);
  }, 600_000);
});

describe('blockinfile, replace, slurp, service over SSH', () => {
  const SEED = '# demo\nlisten 80\n# names\nname web\n# BEGIN OLD\nold stuff\n# END OLD\n';
  const dir = () => `${work}/${host().name}`;
  beforeAll(() => {
    fs.mkdirSync(dir(), { recursive: true });
    fs.writeFileSync(`${dir()}/app.conf`, SEED);
  });
  it('--check predicts, apply edits, again is a no-op; the files are what Ansible would write', async () => {
    const observe = async () => (await sh(`cd ${dir()} && for f in *; do echo "== $f $(stat -c %a "$f")"; cat "$f"; done; systemctl is-enabled ssh.service 2>&1; true`)).stdout;
    await law('files.yml', ['Managed block after the listen line', 'Rename the server', 'Block in a file it creates', 'Remove the old block', 'Save what slurp read', 'Enable ssh (systemd is not PID 1 here; enabled works offline)'], observe);
    const conf = (await sh(`cat ${dir()}/app.conf`)).stdout;
    expect(conf).toBe('# demo\nlisten 80\n# BEGIN ANSIBLE MANAGED BLOCK\nworker_processes 2;\nkeepalive 65;\n# END ANSIBLE MANAGED BLOCK\n# names\nname new-web\n');
    expect((await sh(`cat ${dir()}/created.conf; stat -c %a ${dir()}/created.conf`)).stdout).toBe('## BEGIN runbook\nx = 1\n## END runbook\n640\n');
    // slurp's content went through a register into a file: it decodes to the file as it was when read
    expect(Buffer.from((await sh(`cat ${dir()}/app.conf.b64`)).stdout, 'base64').toString()).toBe(conf);
    expect((await sh('systemctl is-enabled ssh.service')).stdout.trim()).toBe('enabled');
    // the machine's own /etc/systemd is untouched: the lab host's is private
    expect(fs.existsSync('/etc/systemd/system/multi-user.target.wants/ssh.service') && fs.readlinkSync('/etc/systemd/system/multi-user.target.wants/ssh.service')).toBe(machineSshLink);
    const r = await run('files.yml');
    const svc = events(r.stdout).find((e) => e.event === 'task:result' && String(e.task).startsWith('Enable ssh'))!;
    expect(svc.reason).toMatch(/systemd is not running on this host: state not managed/);
  }, 600_000);
});

const machineSshLink = fs.existsSync('/etc/systemd/system/multi-user.target.wants/ssh.service') && fs.readlinkSync('/etc/systemd/system/multi-user.target.wants/ssh.service');

describe('user and debconf over SSH (the machine\'s /etc/passwd and debconf db: a unique name, removed afterwards)', () => {
  const name = `rbkt${process.pid % 100000}`;
  let uid = 0;
  beforeAll(() => {
    for (let u = 980; u < 1000; u++) {
      if (spawnSync('getent', ['passwd', String(u)]).status === 2) {
        uid = u;
        break;
      }
    }
    expect(uid, 'a free system uid').toBeGreaterThan(0);
    expect(spawnSync('getent', ['passwd', name]).status, `${name} must not exist yet`).toBe(2);
  });
  afterAll(() => {
    spawnSync('userdel', ['-r', name], { encoding: 'utf8' });
    spawnSync('sh', ['-c', `echo PURGE | debconf-communicate ${name}-pkg`], { encoding: 'utf8' });
  });
  it('--check predicts, apply creates the user and pre-seeds debconf, again is a no-op', async () => {
    const observe = async () => (await sh(`getent passwd ${name}; id ${name} 2>&1; debconf-show ${name}-pkg; true`)).stdout;
    const vars = ['-e', `test_user=${name}`, '-e', `test_uid=${uid}`];
    await law('accounts.yml', ['A system user with a home under the work dir', 'Append a group', 'Pre-seed an answer', 'Pre-seed a boolean'], observe, vars);
    expect((await sh(`getent passwd ${name}`)).stdout.trim()).toBe(`${name}:x:${uid}:100:runbook test:${work}/home-${name}:/bin/sh`);
    expect((await sh(`id -Gn ${name}`)).stdout.trim().split(' ').sort()).toEqual(['audio', 'plugdev', 'users', 'video']);
    expect((await sh(`getent shadow ${name} | cut -d: -f2`)).stdout.trim()).toMatch(/^\$6\$rbk\$/);
    expect((await sh(`stat -c '%U %a' ${work}/home-${name}`)).stdout.trim()).toMatch(new RegExp(`^${name} `));
    expect(parseShow((await sh(`debconf-show ${name}-pkg`)).stdout)).toEqual(new Map([[`${name}-pkg/mode`, 'fast'], [`${name}-pkg/enable`, 'true']]));
    // removal: predicted, applied, idempotent
    const rm = await run('accounts-absent.yml', ['-e', `test_user=${name}`]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.changed).toEqual(['Remove the user']);
    expect((await sh(`getent passwd ${name}`)).code).toBe(2);
    expect((await run('accounts-absent.yml', ['-e', `test_user=${name}`])).changed).toEqual([]);
  }, 600_000);
});

describe('get_url over SSH from an HTTP server inside the lab host', () => {
  const port = 18080;
  const dir = () => `${work}/${host().name}`;
  let pid = 0;
  const payload = 'hello from the lab\n';
  const sha = require_sha256(payload);
  beforeAll(async () => {
    fs.mkdirSync(`${dir()}/www`, { recursive: true });
    fs.mkdirSync(`${dir()}/dl/forced`, { recursive: true });
    fs.writeFileSync(`${dir()}/www/payload.txt`, payload);
    // the server listens on the lab host's own loopback, inside its network namespace: no other address is involved
    const r = await sh(`cd ${dir()}/www && nohup python3 -m http.server ${port} --bind 127.0.0.1 >/dev/null 2>&1 & echo $!`);
    pid = Number(r.stdout.trim());
    expect(pid).toBeGreaterThan(0);
    for (let i = 0; i < 50; i++) {
      if ((await sh(`curl -fsS -o /dev/null http://127.0.0.1:${port}/payload.txt`)).code === 0) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error('the lab HTTP server did not come up in 5 s');
  });
  afterAll(async () => {
    if (pid > 0) await sh(`kill ${pid}`);
  });
  it('--check predicts, apply downloads, again is a no-op; force re-downloads only changed content', async () => {
    const vars = ['-e', `http_port=${port}`, '-e', `payload_sha256=${sha}`];
    const observe = async () => (await sh(`ls -la ${dir()}/dl | tail -n +4 | awk '{print $1, $NF}'; cat ${dir()}/dl/* ${dir()}/dl/forced/* 2>/dev/null; true`)).stdout;
    await law('get-url.yml', ['Download once', 'Download with a checksum', 'Download into a directory, forced'], observe, vars);
    expect((await sh(`stat -c %a ${dir()}/dl/payload.txt; cat ${dir()}/dl/payload.txt ${dir()}/dl/checked.txt`)).stdout).toBe(`640\n${payload}${payload}`);
    // the content changes on the server: only the forced task downloads again
    fs.writeFileSync(`${dir()}/www/payload.txt`, 'changed\n');
    const check = await run('get-url.yml', ['--check', ...vars]);
    expect(check.changed).toEqual(['Download into a directory, forced']);
    const apply = await run('get-url.yml', vars);
    expect(apply.changed).toEqual(['Download into a directory, forced']);
    expect((await sh(`cat ${dir()}/dl/forced/payload.txt ${dir()}/dl/payload.txt`)).stdout).toBe(`changed\n${payload}`);
    // a wrong checksum fails and leaves nothing behind
    const bad = await run('get-url.yml', ['-e', `http_port=${port}`, '-e', `payload_sha256=${'0'.repeat(64)}`]);
    expect(bad.failed.join('\n')).toMatch(/Download with a checksum: .*checksum of the download is/);
    expect((await sh(`ls -a ${dir()}/dl | grep -c rb-get; true`)).stdout.trim()).toBe('0');
  }, 600_000);
});

function require_sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
