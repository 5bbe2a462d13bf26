/**
 * The last modules of issue #8: podman_volume, podman_container, mount, timezone, reboot.
 *
 * 1. Data-driven plan tables: params + framed probe output (real `podman ... inspect` output in the fixtures) ->
 *    expected steps / reason / failure (pure).
 * 2. Over real SSH against a lab host (podman, copy-on-write /etc): --check on a fresh host predicts exactly what
 *    apply changes and changes nothing; apply does the work (checked on the host itself); a second apply and a
 *    second --check change nothing. reboot restarts the host's sshd, waits, reconnects, and the play goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planFrom } from '../lib/modules/types.js';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { ExecResult } from '../lib/connection/types.js';
import type { ModuleDef } from '../lib/modules/types.js';
import { formatFrame } from '../lib/modules/common.js';
import { Lab } from '../lib/lab/lab.js';
import podmanVolume from '../lib/modules/podman-volume.js';
import podmanContainer, { parsePort, sameImage } from '../lib/modules/podman-container.js';
import mount, { editFstab, prepareMount } from '../lib/modules/mount.js';
import timezone from '../lib/modules/timezone.js';
import { rebootCommand } from '../lib/actions/reboot-run.js';
import { resolveAction } from '../lib/modules/registry.js';
import { unsupportedModule } from '../lib/modules/unsupported.js';
import { cliAsync, events, ROOT } from './helpers.js';

const FIX = path.join(ROOT, 'test/fixtures/modules-ansible2');
const fixture = (f: string) => fs.readFileSync(path.join(FIX, f), 'utf8').trim();

// ------------------------------------------------------------------------------------------------------------------
// plan-table harness (as in modules-ansible.test.ts)

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

const noCtx = { host: 'h', vars: {}, findFile: () => undefined, renderTemplateFile: () => '' };

function runTable(mod: ModuleDef<any>, cases: Case[]): void {
  for (const c of cases) {
    it(c.name, async () => {
      if (c.prepareError) {
        await expect(Promise.resolve().then(() => mod.prepare!(c.params, noCtx))).rejects.toThrow(c.prepareError);
        expect(mod.validate?.(c.params).join('\n')).toMatch(c.prepareError);
        return;
      }
      const p = mod.prepare ? await mod.prepare(c.params, noCtx) : c.params;
      const plan = planFrom(mod, p, c.probe);
      expect(planFrom(mod, p, c.probe), 'plans are pure').toEqual(plan);
      if (c.fail !== undefined) {
        expect(plan.fail?.message).toMatch(c.fail);
        expect(plan.steps).toEqual([]);
      } else expect(plan.fail?.message, plan.reason).toBeUndefined();
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

describe('registration', () => {
  it('the five modules resolve by short name and FQCN and are no longer "not supported"', () => {
    for (const n of ['podman_volume', 'containers.podman.podman_volume', 'podman_container', 'containers.podman.podman_container', 'mount', 'ansible.posix.mount', 'timezone', 'community.general.timezone']) {
      expect(resolveAction(n)?.kind, n).toBe('module');
      expect(unsupportedModule(n), n).toBeUndefined();
    }
    for (const n of ['reboot', 'ansible.builtin.reboot', 'ansible.legacy.reboot']) {
      expect(resolveAction(n)?.kind, n).toBe('action');
      expect(unsupportedModule(n), n).toBeUndefined();
    }
  });
});

// ==================================================================================================================
// podman_volume

describe('podman_volume plans', () => {
  const inspect = fixture('volume-inspect.json');
  const NOVOL = 'Error: inspecting object: no such volume rbk-data';
  const want = { name: 'rbk-data', label: { app: 'runbook' }, options: ['type=tmpfs', 'device=tmpfs', 'o=nodev,noexec'] };
  runTable(podmanVolume, [
    {
      name: 'missing: created with labels and options',
      params: want,
      probe: frame({ rc: '125', out: `[]\n${NOVOL}` }),
      steps: [{ kind: 'run', script: "podman volume create --label app=runbook --opt type=tmpfs --opt device=tmpfs --opt o=nodev,noexec rbk-data" }],
      reason: 'create volume rbk-data',
    },
    { name: 'as wanted (real inspect output): no-op that says why', params: want, probe: frame({ rc: '0', out: inspect, users: '', users_rc: '0' }), steps: [], reason: 'volume rbk-data exists as wanted' },
    {
      name: 'a label differs: recreated, the reason names it',
      params: { ...want, label: { app: 'other' } },
      probe: frame({ rc: '0', out: inspect, users: '', users_rc: '0' }),
      steps: [{ script: "podman volume rm rbk-data" }, { script: expect.stringMatching(/^podman volume create --label app=other /) }],
      reason: 'recreate volume rbk-data: labels app=runbook -> app=other',
    },
    {
      name: 'options differ but a container uses it: fails naming the container, nothing removed',
      params: { ...want, options: ['type=tmpfs', 'device=tmpfs'] },
      probe: frame({ rc: '0', out: inspect, users: 'web\n', users_rc: '0' }),
      fail: /must be recreated \(options device=tmpfs, o=nodev,noexec, type=tmpfs -> device=tmpfs, type=tmpfs\) but is used by container\(s\) web/,
    },
    { name: 'absent: removed', params: { name: 'rbk-data', state: 'absent' }, probe: frame({ rc: '0', out: inspect, users: '', users_rc: '0' }), steps: [{ script: 'podman volume rm rbk-data' }] },
    { name: 'absent and missing: no-op', params: { name: 'rbk-data', state: 'absent' }, probe: frame({ rc: '125', out: NOVOL }), steps: [], reason: 'volume rbk-data does not exist' },
    { name: 'inspect fails otherwise: the task fails with podman\'s message', params: want, probe: frame({ rc: '125', out: 'Error: database is locked' }), fail: /inspect failed \(exit 125\): Error: database is locked/ },
    { name: 'no podman on the host', params: want, probe: frame({ no_podman: '1' }), fail: /podman is not installed/ },
    { name: 'a cut probe output fails instead of guessing', params: want, probe: frame({ rc: '0' }, { end: false }), fail: /probe failed/ },
    { name: 'bad name is refused before any host is contacted', params: { name: '-x' }, probe: null, prepareError: /not a valid volume name/ },
  ]);
});

// ==================================================================================================================
// podman_container

describe('podman_container plans', () => {
  const inspect = fixture('container-inspect.json');
  const NOCTR = '[]\nError: inspecting object: no such container rbk-sleep';
  const want = {
    name: 'rbk-sleep',
    rootfs: '/var/lib/runbook-lab/rootfs',
    command: 'sleep 3600',
    network: 'podman',
    env: { GREETING: 'hello' },
    labels: { app: 'runbook' },
    volumes: ['rbk-data:/data', '/srv/work/host1:/host:ro'],
    ports: ['127.0.0.1:18081:80'],
    restart_policy: 'on-failure:2',
    stop_timeout: 1,
  };
  const running = frame({ rc: '0', out: inspect });
  const stopped = frame({ rc: '0', out: inspect.replace('"Running": true', '"Running": false').replace('"Status": "running"', '"Status": "exited"') });
  runTable(podmanContainer, [
    {
      name: 'missing: created (options before --rootfs DIR, the command after) and started',
      params: want,
      probe: frame({ rc: '125', out: NOCTR }),
      steps: [
        {
          script:
            "podman create --name rbk-sleep --network podman --env GREETING=hello --label app=runbook --volume rbk-data:/data --volume /srv/work/host1:/host:ro " +
            "--publish 127.0.0.1:18081:80 --restart on-failure:2 --stop-timeout 1 --rootfs /var/lib/runbook-lab/rootfs sleep 3600",
        },
        { script: 'podman start rbk-sleep' },
      ],
      reason: 'create and start container rbk-sleep',
    },
    { name: 'as wanted and running (real inspect output): no-op', params: want, probe: running, steps: [], reason: 'container rbk-sleep is running as wanted' },
    { name: 'state present means started (as the collection)', params: { ...want, state: 'present' }, probe: stopped, steps: [{ script: 'podman start rbk-sleep' }], reason: /start container rbk-sleep \(exited\)/ },
    { name: 'stopped: a running container is stopped', params: { ...want, state: 'stopped' }, probe: running, steps: [{ script: 'podman stop rbk-sleep' }] },
    { name: 'stopped and stopped: no-op', params: { ...want, state: 'stopped' }, probe: stopped, steps: [] },
    { name: 'created: run state left alone', params: { ...want, state: 'created' }, probe: running, steps: [] },
    {
      name: 'command drift: recreated, the reason names it',
      params: { ...want, command: ['sleep', '7200'] },
      probe: running,
      steps: [{ script: 'podman rm -f --time 1 rbk-sleep' }, { script: expect.stringMatching(/--rootfs \/var\/lib\/runbook-lab\/rootfs sleep 7200$/) }, { script: 'podman start rbk-sleep' }],
      reason: 'recreate container rbk-sleep: command [sleep 3600] -> [sleep 7200]',
    },
    {
      name: 'env, label, volume, port, network and restart drift are all named',
      params: { ...want, env: { GREETING: 'bye', EXTRA: '1' }, labels: { app: 'runbook', tier: 'x' }, volumes: ['rbk-data:/data'], ports: ['8080:80'], network: ['web'], restart_policy: 'always' },
      probe: running,
      reason: new RegExp(
        [
          'network podman -> web',
          'env GREETING differs',
          'env EXTRA missing',
          'label tier missing',
          'volumes /srv/work/host1:/host:ro, rbk-data:/data -> rbk-data:/data',
          'ports 127.0.0.1:18081:80/tcp -> 8080:80/tcp',
          'restart_policy on-failure:2 -> always',
        ].map((s) => contains(s).source).join('; '),
      ),
    },
    { name: 'env and labels are compared as subsets (the image and podman add more)', params: { ...want, env: {}, labels: {} }, probe: running, steps: [] },
    { name: 'rootfs -> image drift', params: { ...want, rootfs: undefined, image: 'docker.io/library/alpine:3.19' }, probe: running, reason: 'recreate container rbk-sleep: image (rootfs /var/lib/runbook-lab/rootfs) -> docker.io/library/alpine:3.19' },
    { name: 'stop_timeout drift', params: { ...want, stop_timeout: 5 }, probe: running, reason: /stop_timeout 1 -> 5/ },
    { name: 'recreate: true always recreates', params: { ...want, recreate: true }, probe: running, steps: [{}, {}, {}], reason: /recreate: true/ },
    { name: 'absent: rm -f', params: { name: 'rbk-sleep', state: 'absent' }, probe: running, steps: [{ script: 'podman rm -f --time 1 rbk-sleep' }] },
    { name: 'absent and missing: no-op', params: { name: 'rbk-sleep', state: 'absent' }, probe: frame({ rc: '125', out: NOCTR }), steps: [], reason: 'container rbk-sleep does not exist' },
    {
      name: 'detach false: started attached, output captured',
      params: { ...want, detach: false },
      probe: frame({ rc: '125', out: NOCTR }),
      steps: [{}, { script: 'podman start --attach rbk-sleep', capture: true }],
    },
    { name: 'image and rootfs together are refused', params: { name: 'x', image: 'a', rootfs: '/r' }, probe: null, prepareError: /give image or rootfs, not both/ },
    { name: 'no image for started is refused', params: { name: 'x' }, probe: null, prepareError: /image \(or rootfs\) is required for state present/ },
    { name: 'a bad port is refused', params: { name: 'x', image: 'a', ports: ['80:http'] }, probe: null, prepareError: /is not a port or port range/ },
    { name: 'an anonymous volume is refused', params: { name: 'x', image: 'a', volumes: ['/data'] }, probe: null, prepareError: /anonymous volumes are not supported/ },
    { name: 'a bad restart policy is refused', params: { name: 'x', image: 'a', restart_policy: 'sometimes' }, probe: null, prepareError: /restart_policy "sometimes"/ },
  ]);

  it('ports: ranges expand, a port without host port matches the one podman picked', () => {
    expect(parsePort('8000-8001:80-81/udp').map((p) => `${p.hostPort}:${p.containerPort}/${p.proto}`)).toEqual(['8000:80/udp', '8001:81/udp']);
    expect(parsePort('[::1]:53:53')).toEqual([{ hostIp: '::1', hostPort: '53', containerPort: '53', proto: 'tcp' }]);
    const p = podmanContainer.prepare!({ ...want, ports: ['127.0.0.1::80'] }, noCtx) as any;
    expect(planFrom(podmanContainer, p, running).steps).toEqual([]);
  });

  it('image names: short names and implied :latest match the fully qualified name podman records', () => {
    expect(sameImage('alpine', 'docker.io/library/alpine:latest')).toBe(true);
    expect(sameImage('nginx:1.25', 'quay.io/org/nginx:1.25')).toBe(false);
    expect(sameImage('org/nginx:1.25', 'quay.io/org/nginx:1.25')).toBe(true);
    expect(sameImage('quay.io/org/nginx', 'docker.io/org/nginx:latest')).toBe(false);
    expect(sameImage('alpine:3.19', 'docker.io/library/alpine:3.20')).toBe(false);
  });
});

// ==================================================================================================================
// mount

describe('mount plans', () => {
  const MI = [
    '22 27 0:21 / /proc rw,relatime - proc proc rw',
    '99 27 0:50 / /srv/m\\040x rw,relatime - tmpfs rbk rw,size=1024k',
    '100 27 0:51 / /srv/data rw,relatime - tmpfs rbk rw,size=1024k',
    '',
  ].join('\n');
  const FSTAB = '# /etc/fstab\nUUID=1 / ext4 defaults 0 1\nrbk /srv/data tmpfs size=1m 0 0\n';
  const base = { fstab: '/srv/fstab' };
  const probe = (fstab: string | null, extra: Record<string, string> = {}) =>
    frame({ ...(fstab === null ? { fstab_absent: '1' } : { fstab: Buffer.from(fstab) }), mountinfo: Buffer.from(MI), ...extra });
  runTable(mount, [
    {
      name: 'mounted, new entry: appended, mount point made, mounted with the given fstab',
      params: { ...base, path: '/srv/new', src: 'rbk', fstype: 'tmpfs', opts: 'size=1m', state: 'mounted' },
      probe: probe(FSTAB),
      steps: [
        { kind: 'write', path: '/srv/fstab', content: `${FSTAB}rbk /srv/new tmpfs size=1m 0 0\n` },
        { kind: 'run', script: 'mkdir -p -- /srv/new' },
        { kind: 'run', script: 'mount -T /srv/fstab /srv/new' },
      ],
      reason: 'add /srv/new to /srv/fstab; mount /srv/new',
    },
    { name: 'mounted, entry and mount as wanted: no-op', params: { ...base, path: '/srv/data', src: 'rbk', fstype: 'tmpfs', opts: 'size=1m', state: 'mounted' }, probe: probe(FSTAB, { dir: '1' }), steps: [], reason: '/srv/fstab has the entry for /srv/data; /srv/data is mounted' },
    {
      name: 'mounted, options changed while mounted: entry replaced in place, remounted',
      params: { ...base, path: '/srv/data', src: 'rbk', fstype: 'tmpfs', opts: 'size=2m', state: 'mounted' },
      probe: probe(FSTAB, { dir: '1' }),
      steps: [{ kind: 'write', content: FSTAB.replace('size=1m', 'size=2m') }, { script: 'mount -o remount -T /srv/fstab /srv/data || { umount /srv/data && mount -T /srv/fstab /srv/data; }' }],
      diffs: [{ label: '/srv/fstab', before: FSTAB, after: FSTAB.replace('size=1m', 'size=2m') }],
    },
    {
      name: 'spaces are escaped as \\040 and the mount point is found in mountinfo',
      params: { ...base, path: '/srv/m x', src: 'rbk', fstype: 'tmpfs', state: 'mounted' },
      probe: probe(FSTAB, { dir: '1' }),
      steps: [{ kind: 'write', content: `${FSTAB}rbk /srv/m\\040x tmpfs defaults 0 0\n` }, { script: "mount -o remount -T /srv/fstab '/srv/m x' || { umount '/srv/m x' && mount -T /srv/fstab '/srv/m x'; }" }],
      reason: 'add /srv/m x to /srv/fstab; remount /srv/m x',
    },
    { name: 'present: entry only, never mounted', params: { ...base, path: '/srv/later', src: 'rbk', fstype: 'tmpfs', state: 'present' }, probe: probe(FSTAB), steps: [{ kind: 'write' }] },
    {
      name: 'present with a missing fstab: directory and file made',
      params: { fstab: '/srv/new/fstab', path: '/srv/x', src: 'rbk', fstype: 'tmpfs', state: 'present' },
      probe: probe(null),
      steps: [{ script: 'mkdir -p -- /srv/new' }, { kind: 'write', path: '/srv/new/fstab', content: 'rbk /srv/x tmpfs defaults 0 0\n', mode: '0644' }],
    },
    { name: 'unmounted: umount, fstab untouched', params: { ...base, path: '/srv/data', state: 'unmounted' }, probe: probe(FSTAB), steps: [{ script: 'umount /srv/data' }] },
    { name: 'unmounted and not mounted: no-op', params: { ...base, path: '/srv/other', state: 'unmounted' }, probe: probe(FSTAB), steps: [], reason: '/srv/other is not mounted' },
    {
      name: 'absent: entry removed, unmounted, empty mount point removed',
      params: { ...base, path: '/srv/data', state: 'absent' },
      probe: probe(FSTAB, { dir: '1' }),
      steps: [{ kind: 'write', content: '# /etc/fstab\nUUID=1 / ext4 defaults 0 1\n' }, { script: 'umount /srv/data' }, { script: 'rmdir -- /srv/data 2>/dev/null || :' }],
    },
    { name: 'absent and gone: no-op', params: { ...base, path: '/srv/gone', state: 'absent' }, probe: probe(FSTAB), steps: [], reason: '/srv/fstab has no entry for /srv/gone; /srv/gone is not mounted' },
    { name: 'remounted: always remounts', params: { ...base, path: '/srv/data', state: 'remounted' }, probe: probe(FSTAB), steps: [{ script: expect.stringMatching(/^mount -o remount/) }] },
    { name: 'remounted but not mounted: fails', params: { ...base, path: '/srv/other', state: 'remounted' }, probe: probe(FSTAB), fail: 'mount /srv/other: cannot remount, it is not mounted' },
    { name: 'mounted without src/fstype is refused', params: { path: '/srv/x', state: 'mounted' }, probe: null, prepareError: /src and fstype are required for state mounted/ },
    { name: 'a relative path is refused', params: { path: 'srv', state: 'unmounted' }, probe: null, prepareError: /must be an absolute path/ },
    {
      name: 'a swap entry (`name: none`, fstype swap) is an fstab entry with no mount point, as Ansible accepts',
      params: { ...base, path: 'none', src: '/swapfile', fstype: 'swap', opts: 'sw', state: 'present' },
      probe: probe(FSTAB),
      steps: [{ kind: 'write', content: '# /etc/fstab\nUUID=1 / ext4 defaults 0 1\nrbk /srv/data tmpfs size=1m 0 0\n/swapfile none swap sw 0 0\n' }],
    },
    { name: 'removing it never touches a directory called none', params: { ...base, path: 'none', src: '/swapfile', fstype: 'swap', state: 'absent' }, probe: probe(FSTAB, { dir: '1' }), steps: [] },
    { name: '`none` is still refused where a mount point is needed', params: { path: 'none', src: '/swapfile', fstype: 'swap', state: 'mounted' }, probe: null, prepareError: /must be an absolute path/ },
  ]);

  it('the fstab edit: every line of the mount point is replaced (Ansible\'s set_mount), boot: false adds noauto', () => {
    const p = prepareMount({ path: '/a', src: 's', fstype: 't', state: 'present', boot: false });
    expect(p.opts).toBe('noauto');
    const e = editFstab('s /a t defaults 0 0\nx /b t defaults\ns2 /a t defaults 0 0', p, false);
    expect(e.content).toBe('s /a t noauto 0 0\nx /b t defaults\ns /a t noauto 0 0\n');
    expect(e.changed && e.existed).toBe(true);
  });
});

// ==================================================================================================================
// timezone

describe('timezone plans', () => {
  runTable(timezone, [
    {
      name: 'link to another zone: relinked atomically, /etc/timezone rewritten',
      params: { name: 'Europe/Berlin' },
      probe: frame({ etc_timezone: Buffer.from('Etc/UTC\n'), localtime_link: '/usr/share/zoneinfo/Etc/UTC', zone_exists: '1' }),
      steps: [
        { kind: 'run', script: 'ln -sfn -- /usr/share/zoneinfo/Europe/Berlin /etc/.localtime.runbook && mv -fT -- /etc/.localtime.runbook /etc/localtime' },
        { kind: 'write', path: '/etc/timezone', content: 'Europe/Berlin\n' },
      ],
      reason: 'set time zone Etc/UTC -> Europe/Berlin: /etc/localtime -> Europe/Berlin, /etc/timezone Etc/UTC -> Europe/Berlin',
      diffs: [{ label: 'timezone', before: 'Etc/UTC\n', after: 'Europe/Berlin\n' }],
    },
    { name: 'right zone (relative link): no-op, hwclock noted', params: { name: 'Europe/Berlin', hwclock: 'UTC' }, probe: frame({ etc_timezone: Buffer.from('Europe/Berlin\n'), localtime_link: '../usr/share/zoneinfo/Europe/Berlin', zone_exists: '1', same_bytes: '1' }), steps: [], reason: 'time zone is Europe/Berlin; hwclock UTC is not managed by runbook' },
    { name: 'only /etc/timezone is stale', params: { name: 'Europe/Berlin' }, probe: frame({ etc_timezone: Buffer.from('UTC\n'), localtime_link: '/usr/share/zoneinfo/Europe/Berlin', zone_exists: '1' }), steps: [{ kind: 'write', path: '/etc/timezone' }] },
    { name: 'no /etc/timezone (not Debian): only the link', params: { name: 'UTC' }, probe: frame({ localtime_link: '/usr/share/zoneinfo/Etc/UTC', zone_exists: '1' }), steps: [{ kind: 'run' }] },
    { name: '/etc/localtime a copy with the same bytes: no-op', params: { name: 'UTC' }, probe: frame({ localtime_file: '1', zone_exists: '1', same_bytes: '1' }), steps: [] },
    { name: '/etc/localtime a copy of another zone: copied', params: { name: 'UTC' }, probe: frame({ localtime_file: '1', zone_exists: '1' }), steps: [{ script: expect.stringMatching(/^cp -- \/usr\/share\/zoneinfo\/UTC /) }] },
    { name: 'with systemd: timedatectl', params: { name: 'Asia/Tokyo' }, probe: frame({ localtime_link: '/usr/share/zoneinfo/Etc/UTC', zone_exists: '1', systemd: '1' }), steps: [{ script: 'timedatectl set-timezone Asia/Tokyo' }] },
    { name: 'unknown zone: fails naming it', params: { name: 'Mars/Olympus' }, probe: frame({ localtime_link: '/usr/share/zoneinfo/Etc/UTC' }), fail: 'timezone: Mars/Olympus is not a known time zone (no /usr/share/zoneinfo/Mars/Olympus on the host)' },
    { name: 'a name that could escape the zoneinfo dir is refused', params: { name: '../../etc/passwd' }, probe: null, prepareError: /is not a time zone name/ },
  ]);
});

describe('reboot command', () => {
  it('is shutdown -r with the delay in minutes and the message, or reboot_command as given', () => {
    expect(rebootCommand({})).toBe("shutdown -r +0 'Reboot initiated by runbook'");
    expect(rebootCommand({ pre_reboot_delay: 130, msg: 'bye' })).toBe('shutdown -r +2 bye');
    expect(rebootCommand({ reboot_command: 'systemctl reboot', pre_reboot_delay: 130 })).toBe('systemctl reboot');
  });
});

// ==================================================================================================================
// lab: each module over real SSH

let lab: Lab;
let inv: string;
let work: string;
const changedOf = (stdout: string): string[] => events(stdout).filter((e) => e.event === 'task:result' && e.status === 'changed').map((e) => e.task as string);
const failedOf = (stdout: string): string[] =>
  events(stdout).filter((e) => e.event === 'task:result' && (e.status === 'failed' || e.status === 'unreachable')).map((e) => `${e.task}: ${e.reason}`);
const reasonOf = (stdout: string, task: string): string => String(events(stdout).find((e) => e.event === 'task:result' && e.task === task)?.reason);

async function run(playbook: string, extra: string[] = []) {
  const r = await cliAsync(['apply', path.join(FIX, playbook), '-i', inv, '--format', 'json', '-e', `work=${work}`, ...extra], { timeoutMs: 300_000 });
  return { ...r, changed: changedOf(r.stdout), failed: failedOf(r.stdout) };
}

/** --check predicts exactly what apply changes and changes nothing; apply changes it; again: nothing changes. */
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
const dir = () => `${work}/${host().name}`;

beforeAll(async () => {
  lab = await Lab.create({ name: 'modans2', hosts: 1, podman: true, privateEtc: true });
  inv = path.join(lab.dir, 'modans2-inventory.yml');
  fs.writeFileSync(inv, lab.inventoryYaml());
  work = `/tmp/rbk-modans2-${process.pid}`;
  fs.mkdirSync(`${work}/${lab.hosts[0]!.name}`, { recursive: true });
}, 120_000);

afterAll(async () => {
  if (lab) {
    // a mount left by a failed test: only in the lab host's mount namespace, which goes with the lab anyway
    await lab.exec(lab.hosts[0]!, ['sh', '-c', `umount ${work}/${lab.hosts[0]!.name}/mnt 2>/dev/null; true`]).catch(() => undefined);
    await lab.destroy();
  }
  if (work) fs.rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('podman_volume and podman_container over SSH (the lab\'s rootfs, no registry)', () => {
  const observe = async () =>
    (await sh(
      "podman volume inspect --format '{{.Name}} {{.Driver}} {{json .Labels}} {{json .Options}}' rbk-data 2>&1; " +
        "podman container inspect --format '{{.Name}} {{.Id}} {{.State.Status}} {{json .Config.Cmd}}' rbk-sleep 2>&1; true",
    )).stdout;

  it('--check predicts, apply creates and starts, again is a no-op; drift recreates; stopped stops; absent removes', async () => {
    await law('podman.yml', ['A volume with a label and tmpfs options', 'A container running sleep'], observe);
    const info = (await sh("podman container inspect --format '{{.State.Status}} {{.Id}} {{json .Config.Cmd}} {{.Rootfs}}' rbk-sleep")).stdout.trim().split(' ');
    expect(info[0]).toBe('running');
    expect(info[2]).toBe('["sleep","3600"]');
    expect(info[3]).toBe(lab.rootfs);
    // inside the container: the env, the named volume (tmpfs), the host dir read-only
    expect((await sh('podman exec rbk-sleep sh -c \'echo $GREETING; grep " /data " /proc/mounts | cut -d" " -f3; touch /host/x 2>/dev/null || echo ro\'')).stdout).toBe('hello\ntmpfs\nro\n');
    expect((await sh("podman volume inspect --format '{{json .Labels}} {{json .Options}}' rbk-data")).stdout.trim()).toBe('{"app":"runbook"} {"device":"tmpfs","o":"nodev,noexec","type":"tmpfs"}');

    // drift: another command -> --check names it and changes nothing; apply recreates (a new container id)
    const check = await run('podman.yml', ['--check', '-e', 'sleep_secs=7200']);
    expect(check.changed).toEqual(['A container running sleep']);
    expect(reasonOf(check.stdout, 'A container running sleep')).toMatch(/^recreate container rbk-sleep: command \[sleep 3600\] -> \[sleep 7200\]/);
    expect((await sh("podman container inspect --format '{{.Id}}' rbk-sleep")).stdout.trim()).toBe(info[1]);
    const apply = await run('podman.yml', ['-e', 'sleep_secs=7200']);
    expect(apply.changed).toEqual(['A container running sleep']);
    const after = (await sh("podman container inspect --format '{{.State.Status}} {{.Id}} {{json .Config.Cmd}}' rbk-sleep")).stdout.trim().split(' ');
    expect(after[0]).toBe('running');
    expect(after[1]).not.toBe(info[1]);
    expect(after[2]).toBe('["sleep","7200"]');

    // stopped: stops once
    const stop = ['-e', 'sleep_secs=7200', '-e', 'ctr_state=stopped'];
    expect((await run('podman.yml', stop)).changed).toEqual(['A container running sleep']);
    expect((await sh("podman container inspect --format '{{.State.Status}}' rbk-sleep")).stdout.trim()).toBe('exited');
    expect((await run('podman.yml', stop)).changed).toEqual([]);

    // a volume in use is not removed (the collection's rm -f would remove the container too)
    const inUse = await run('podman-absent-volume.yml');
    expect(inUse.failed).toEqual(['No volume: volume rbk-data is used by container(s) rbk-sleep: not removing it']);
    // absent: the container, then its volume (two runs: --check cannot see that the container would be gone)
    const gone = async () => (await sh('podman container exists rbk-sleep; echo $?; podman volume exists rbk-data; echo $?')).stdout;
    await law('podman-absent-container.yml', ['No container'], gone);
    await law('podman-absent-volume.yml', ['No volume'], gone);
    expect(await gone()).toBe('1\n1\n');
  }, 600_000);
});

describe('mount over SSH (a tmpfs in the lab host\'s own mount namespace, a temp fstab)', () => {
  const SEED = '# runbook test fstab\nproc /proc proc defaults 0 0';
  beforeAll(() => fs.writeFileSync(`${dir()}/fstab`, SEED));
  const observe = async () => (await sh(`cat ${dir()}/fstab; echo; findmnt -no SOURCE,FSTYPE,OPTIONS ${dir()}/mnt; ls ${dir()}`)).stdout;

  it('--check predicts, apply mounts and writes the entries, again is a no-op; the mount is the host\'s only', async () => {
    await law('mount.yml', ['Mount a tmpfs', 'An fstab entry only'], observe);
    expect(fs.readFileSync(`${dir()}/fstab`, 'utf8')).toBe(`${SEED}\nrbk-tmpfs ${dir()}/mnt tmpfs size=1m,mode=0755 0 0\nrbk-later ${dir()}/later\\040dir tmpfs defaults 0 0\n`);
    expect((await sh(`findmnt -no SOURCE,FSTYPE ${dir()}/mnt`)).stdout.trim()).toBe('rbk-tmpfs tmpfs');
    // the lab host's sessions share one private mount namespace: the machine does not see the mount
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(`${dir()}/mnt`);
    expect((await sh(`findmnt -no SOURCE ${dir()}/later\\ dir; true`)).stdout.trim()).toBe('');

    // new options: the entry changes in place and the mount is remounted with them
    const check = await run('mount.yml', ['--check', '-e', 'size=2m']);
    expect(check.changed).toEqual(['Mount a tmpfs']);
    expect(reasonOf(check.stdout, 'Mount a tmpfs')).toBe(`update the ${dir()}/mnt entry in ${dir()}/fstab; remount ${dir()}/mnt (check mode: not applied)`);
    expect((await run('mount.yml', ['-e', 'size=2m'])).changed).toEqual(['Mount a tmpfs']);
    expect((await sh(`findmnt -no OPTIONS ${dir()}/mnt`)).stdout).toContain('size=2048k');

    // absent: unmounted, entries gone, the mount point removed; again a no-op
    const state = async () => (await sh(`cat ${dir()}/fstab; echo; findmnt ${dir()}/mnt; ls ${dir()}`)).stdout;
    await law('mount-absent.yml', ['Mount gone', 'Entry gone'], state);
    expect(fs.readFileSync(`${dir()}/fstab`, 'utf8')).toBe(`${SEED}\n`);
    expect((await sh(`findmnt ${dir()}/mnt; echo $?`)).stdout.trim()).toBe('1');
    expect(fs.existsSync(`${dir()}/mnt`)).toBe(false);
  }, 600_000);
});

describe('timezone over SSH (the lab host has a copy-on-write /etc; the machine\'s is never touched)', () => {
  const machine = () => `${fs.readlinkSync('/etc/localtime')} ${fs.existsSync('/etc/timezone') ? fs.readFileSync('/etc/timezone', 'utf8') : '-'}`;
  it('--check predicts, apply relinks /etc/localtime and writes /etc/timezone, again is a no-op', async () => {
    const mine = machine();
    const zone = (await sh('readlink /etc/localtime')).stdout.trim().endsWith('Europe/Berlin') ? 'Asia/Tokyo' : 'Europe/Berlin';
    const observe = async () => (await sh('readlink /etc/localtime; cat /etc/timezone; date +%Z')).stdout;
    await law('timezone.yml', ['Set the time zone'], observe, ['-e', `tz=${zone}`]);
    expect((await sh('readlink /etc/localtime; cat /etc/timezone')).stdout).toBe(`/usr/share/zoneinfo/${zone}\n${zone}\n`);
    expect((await sh('date +%Z')).stdout.trim()).toMatch(zone === 'Asia/Tokyo' ? /^JST$/ : /^CES?T$/);
    expect(machine(), 'the machine\'s /etc/localtime and /etc/timezone are unchanged').toBe(mine);
    const r = await run('timezone.yml', ['-e', 'tz=Europe/Berlin']);
    expect(reasonOf(r.stdout, 'Set the time zone')).toMatch(/hwclock UTC is not managed by runbook/);
    // an unknown zone fails naming it, nothing changes
    const bad = await run('timezone.yml', ['-e', 'tz=Mars/Olympus']);
    expect(bad.failed.join('\n')).toMatch(/Mars\/Olympus is not a known time zone/);
    expect(machine()).toBe(mine);
  }, 300_000);
});

describe('reboot over SSH (the lab host\'s "reboot" restarts its sshd: listener and sessions)', () => {
  const sshdPid = () => fs.readFileSync(path.join(lab.dir, 'hosts', host().name, 'sshd.pid'), 'utf8').trim();
  it('--check reports a reboot and runs nothing; apply drops the connection, waits, reconnects, and the next tasks run', async () => {
    const vars = ['-e', JSON.stringify({ restart_cmd: lab.restartSshdCommand(host(), 2) })];
    const pid0 = sshdPid();
    const check = await run('reboot.yml', ['--check', ...vars]);
    expect(check.code, check.stderr).toBe(0);
    expect(check.changed).toEqual(['Reboot', 'After the reboot']);
    expect(reasonOf(check.stdout, 'Reboot')).toMatch(/^would reboot \(check mode: nothing run\)/);
    await new Promise((r) => setTimeout(r, 3000));
    expect(sshdPid(), '--check restarted nothing').toBe(pid0);

    const t0 = Date.now();
    const apply = await run('reboot.yml', vars);
    expect(apply.failed, apply.stdout).toEqual([]);
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.changed).toEqual(['Reboot', 'After the reboot']);
    expect(reasonOf(apply.stdout, 'Reboot')).toMatch(/^rebooted \(the connection dropped and the host answers again\); back after \d+s/);
    // it waited for the restart (2 s delay) and the sshd that answers now is a new one
    expect(Date.now() - t0).toBeGreaterThan(2000);
    expect(sshdPid()).not.toBe(pid0);
    expect(events(apply.stdout).some((e) => e.event === 'task:result' && e.task === 'The next task sees the host' && e.status === 'ok')).toBe(true);
  }, 300_000);
});
