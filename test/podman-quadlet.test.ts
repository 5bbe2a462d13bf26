/**
 * `state: quadlet` of podman_container / podman_volume / podman_network, and podman_container's security, runtime
 * and logging arguments (cap_add ... log_opt).
 *
 * 1. The rendered files equal, byte for byte, what containers.podman's own generator writes for the same task
 *    (test/fixtures/podman-quadlet/expected.json, recorded by scripts/record-quadlet.py from the collection's
 *    quadlet.py after Ansible's argument-spec conversion).
 * 2. Plans (pure): a file write; no change when only comments differ; the mode rules; the default directory.
 * 3. The new container arguments: create flags, read back from CreateCommand, drift named.
 * 4. Over real SSH on a podman lab host: --check predicts exactly, apply writes the files and creates the containers
 *    with the arguments in force (checked inside the container), a second apply and --check change nothing, and a
 *    changed argument recreates the container naming it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { ExecResult } from '../lib/connection/types.js';
import { formatFrame } from '../lib/modules/common.js';
import { planFrom } from '../lib/modules/types.js';
import podmanContainer, { createContainerCommand, parseContainerInspect, containerDrift, preparePodmanContainer } from '../lib/modules/podman-container.js';
import podmanVolume from '../lib/modules/podman-volume.js';
import podmanNetwork from '../lib/modules/podman-network.js';
import { pyQuote, quadletProbe, renderContainerQuadlet, renderNetworkQuadlet, renderVolumeQuadlet, withoutComments } from '../lib/modules/podman-quadlet.js';
import { createdExtra } from '../lib/modules/podman-container-extra.js';
import { Lab } from '../lib/lab/lab.js';
import { cli, cliAsync, events, ROOT } from './helpers.js';

const FIX = path.join(ROOT, 'test/fixtures/podman-quadlet');
const cases = JSON.parse(fs.readFileSync(path.join(FIX, 'cases.json'), 'utf8')) as { name: string; kind: 'container' | 'volume' | 'network'; params: Record<string, unknown> }[];
const expected = JSON.parse(fs.readFileSync(path.join(FIX, 'expected.json'), 'utf8')) as Record<string, string>;
const render = { container: renderContainerQuadlet, volume: renderVolumeQuadlet, network: renderNetworkQuadlet };
const noCtx = { host: 'h', vars: {}, findFile: () => undefined, renderTemplateFile: () => '' };

describe('quadlet files as containers.podman writes them', () => {
  for (const c of cases) {
    it(c.name, () => {
      expect(expected[c.name], 'recorded').toBeDefined();
      expect(render[c.kind](c.params)).toBe(expected[c.name]);
    });
  }
  it('the deerlab cases load through the modules (schema and prepare) unchanged', async () => {
    for (const c of cases) {
      const mod = { container: podmanContainer, volume: podmanVolume, network: podmanNetwork }[c.kind] as typeof podmanContainer;
      expect(mod.validate!(c.params), c.name).toEqual([]);
      const p = await mod.prepare!(c.params, noCtx);
      expect(p.quadlet?.content, c.name).toBe(expected[c.name]);
    }
  });
  it("Python's shlex.quote", () => {
    expect(pyQuote('A=b')).toBe('A=b');
    expect(pyQuote('')).toBe("''");
    expect(pyQuote("a b'c")).toBe(`'a b'"'"'c'`);
    expect(pyQuote('é')).toBe("'é'");
  });
});

function editFrame(kv: { path: string; content?: string; mode?: string; parent?: boolean; uid?: string }): ExecResult {
  const f: Record<string, string | Buffer> = { path: kv.path, parent: kv.parent === false ? '0' : '1' };
  if (kv.content !== undefined) {
    // what statShell prints: `%f %u %g %s %Y %X %Z %i %d %h` (hex st_mode first), then owner and group
    const stMode = (0o100000 | parseInt(kv.mode ?? '0640', 8)).toString(16);
    Object.assign(f, { d_raw: `${stMode} 0 0 ${Buffer.byteLength(kv.content)} 1 1 1 2 3 1`, d_owner: 'root', d_group: 'root' });
    f.content = Buffer.from(kv.content);
  } else f.d_raw = 'absent';
  f.uid = kv.uid ?? '0';
  return { code: 0, stdout: formatFrame(f), stderr: '' };
}

describe('quadlet plans', () => {
  const caddy = cases.find((c) => c.name === 'deerlab caddy')!.params;
  const file = '/home/caddy/.config/containers/systemd/caddy.container';
  const want = expected['deerlab caddy']!;
  const plan = async (params: Record<string, unknown>, probe: ExecResult) => planFrom(podmanContainer, await podmanContainer.prepare!(params, noCtx), probe);

  it('stat fields of the fixture frame are the ones the probe prints', () => {
    const script = quadletProbe({ kind: 'container', filename: 'caddy.container', dir: '/q', content: '' }).script;
    expect(script).toContain("p=/q/caddy.container");
    for (const k of ['d_raw', 'd_owner', 'kvfile content', 'kv parent']) expect(script).toContain(k);
  });
  it('missing file: one write, mode 0640 (the collection default), exact content; parent created when missing', async () => {
    const p = await plan(caddy, editFrame({ path: file, parent: false }));
    expect(p.fail).toBeUndefined();
    expect(p.steps.map((s) => s.kind)).toEqual(['run', 'write']);
    expect(p.steps[0]).toMatchObject({ script: "mkdir -p -- /home/caddy/.config/containers/systemd" });
    expect(p.steps[1]).toMatchObject({ kind: 'write', path: file, mode: '0640' });
    expect(Buffer.from((p.steps[1] as { content: string }).content, 'latin1').toString('utf8')).toBe(want);
    expect(p.reason).toBe(`create container quadlet ${file}`);
  });
  it('same file: no-op that says why; comment lines do not count (as the collection)', async () => {
    expect((await plan(caddy, editFrame({ path: file, content: want }))).steps).toEqual([]);
    const commented = `# managed by hand\n${want}`;
    const p = await plan(caddy, editFrame({ path: file, content: commented, mode: '0600' }));
    expect(p.steps).toEqual([]);
    expect(p.reason).toBe(`container quadlet ${file} is as wanted`);
  });
  it('another file: rewritten keeping its mode unless quadlet_file_mode is given', async () => {
    const old = want.replace('UserNS=keep-id', 'UserNS=auto');
    const keep = await plan(caddy, editFrame({ path: file, content: old, mode: '0600' }));
    expect(keep.steps).toMatchObject([{ kind: 'write', mode: '0600' }]);
    expect(keep.diffs?.[0]?.label).toBe(file);
    const mode = await plan({ ...caddy, quadlet_file_mode: '0644' }, editFrame({ path: file, content: want, mode: '0600' }));
    expect(mode.steps).toMatchObject([{ kind: 'run', script: expect.stringContaining('chmod 0644') }]);
  });
  it('quadlet_filename gets its suffix; no quadlet_dir: the remote user\'s default directory', async () => {
    const p = await podmanVolume.prepare!({ name: 'v', state: 'quadlet', quadlet_filename: 'data' }, noCtx);
    expect(p.quadlet).toMatchObject({ filename: 'data.volume' });
    const script = quadletProbe(p.quadlet!).script;
    expect(script).toContain('p=/etc/containers/systemd/data.volume');
    expect(script).toContain('p="$HOME"/.config/containers/systemd/data.volume');
  });
  it('withoutComments is Python splitlines minus # lines', () => {
    expect(withoutComments('a\n#x\nb\n')).toBe('a\nb');
    expect(withoutComments('a\r\nb')).toBe('a\nb');
    // a missing final newline is no difference; a blank last line is (Python's splitlines)
    expect(withoutComments('a\nb')).toBe(withoutComments('a\nb\n'));
    expect(withoutComments('a\n\n')).not.toBe(withoutComments('a\n'));
  });
});

describe('podman_container security, runtime and logging arguments', () => {
  const raw = {
    name: 'rbk-hard', rootfs: '/r', command: 'sleep 3600', cap_drop: ['ALL'], cap_add: ['net_bind_service'], security_opt: ['label=disable'],
    tmpfs: { '/config': 'size=64M', '/scratch': '' }, userns: 'host', read_only: true, user: '1000:1000', workdir: '/tmp', hostname: 'web1',
    device: ['/dev/null:/dev/xnull'], sysctl: { 'net.ipv4.ip_forward': 1 }, ulimit: ['nofile=500:500'], pull: 'never', log_driver: 'k8s-file',
    log_opt: { max_size: '10mb' }, healthcheck: 'true', healthcheck_retries: '3',
  };
  const p = preparePodmanContainer(raw);
  const cmd = createContainerCommand(p);
  it('become podman create flags, before --rootfs', () => {
    expect(cmd).toBe(
      "podman create --name rbk-hard --cap-add net_bind_service --cap-drop ALL --security-opt label=disable --tmpfs /config:size=64M --tmpfs /scratch " +
        "--userns host --read-only=true --health-cmd true --health-retries 3 --user 1000:1000 --workdir /tmp --hostname web1 --device /dev/null:/dev/xnull " +
        "--sysctl net.ipv4.ip_forward=1 --ulimit nofile=500:500 --pull never --log-driver k8s-file --log-opt max-size=10mb --rootfs /r sleep 3600",
    );
  });
  const inspectOf = (argv: string[]) => JSON.stringify([{ Config: { Cmd: ['sleep', '3600'], CreateCommand: argv, StopTimeout: 10 }, HostConfig: {}, Rootfs: '/r', State: { Running: true, Status: 'running' } }]);
  const argv = cmd.split(' ').map((t) => t.replace(/^'|'$/g, ''));
  it('are read back from CreateCommand: the same call is no drift (the command\'s own tokens are not read as flags)', () => {
    const have = parseContainerInspect(inspectOf(argv));
    expect(containerDrift(p, have.spec)).toEqual([]);
    // a command that looks like a flag is the command, not an option
    expect(createdExtra(['podman', 'create', '--rootfs', '/r', 'sh', '--user', 'x'], ['sh', '--user', 'x']).user).toBe('(none)');
    // the collection's spelling: CAP_ prefix, --flag=value, short -u
    expect(createdExtra(['podman', 'run', '--cap-add=CAP_NET_BIND_SERVICE', '-u', '1000:1000', '--read-only', 'img'], []))
      .toMatchObject({ cap_add: 'CAP_NET_BIND_SERVICE', user: '1000:1000', read_only: 'true', read_only_tmpfs: 'true' });
  });
  it('a changed or removed argument is drift that names it', () => {
    const have = parseContainerInspect(inspectOf(argv));
    expect(containerDrift(preparePodmanContainer({ ...raw, hostname: 'web2' }), have.spec)).toEqual(['hostname web1 -> web2']);
    expect(containerDrift(preparePodmanContainer({ ...raw, cap_add: undefined }), have.spec)).toEqual(['cap_add CAP_NET_BIND_SERVICE -> (none)']);
    expect(containerDrift(preparePodmanContainer({ ...raw, read_only: false }), have.spec)).toEqual(['read_only true -> false']);
    // pull is the create call's pull policy, not a property of the container
    expect(containerDrift(preparePodmanContainer({ ...raw, pull: 'always' }), have.spec)).toEqual([]);
  });
  it('old containers (created without these flags) are no drift when the task does not give them', () => {
    const plain = preparePodmanContainer({ name: 'x', rootfs: '/r', command: 'sleep 3600' });
    expect(containerDrift(plain, parseContainerInspect(inspectOf(['podman', 'create', '--name', 'x', '--rootfs', '/r', 'sleep', '3600'])).spec)).toEqual([]);
  });
  it('bad values are refused before any host', () => {
    expect(podmanContainer.validate!({ ...raw, tmpfs: { relative: '' } }).join()).toMatch(/tmpfs "relative" must be an absolute path/);
    expect(podmanContainer.validate!({ ...raw, read_only: 'maybe' }).join()).toMatch(/read_only "maybe" is not a boolean/);
  });
});

describe('containers.podman arguments runbook does not implement yet', () => {
  it('are "not supported by runbook yet" (from the collection\'s documented spec), never "unknown argument"', () => {
    const r = cli(['apply', path.join(FIX, 'unsupported.yml'), '--syntax-check']);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(/argument "privileged" of module podman_container is not supported by runbook yet/);
    expect(out).toMatch(/argument "uid" of module podman_volume is not supported by runbook yet/);
    expect(out).toMatch(/argument "net_config" of module podman_network is not supported by runbook yet/);
    expect(out).not.toMatch(/unknown argument/);
    // a gap of runbook's is a warning at load (the task fails only if it runs), whichever data source knows it
    expect(out).not.toMatch(/^error:/m);
    expect(r.code, out).toBe(0);
  });
});

// ==================================================================================================================
// lab

let lab: Lab;
let inv: string;
let work: string;
const host = () => lab.hosts[0]!;
const sh = (cmd: string) => lab.exec(host(), ['sh', '-c', cmd]);
const changedOf = (stdout: string): string[] => events(stdout).filter((e) => e.event === 'task:result' && e.status === 'changed').map((e) => e.task as string);
const failedOf = (stdout: string): string[] =>
  events(stdout).filter((e) => e.event === 'task:result' && (e.status === 'failed' || e.status === 'unreachable')).map((e) => `${e.task}: ${e.reason}`);
const reasonOf = (stdout: string, task: string): string => String(events(stdout).find((e) => e.event === 'task:result' && e.task === task)?.reason);

async function run(extra: string[] = []) {
  const r = await cliAsync(['apply', path.join(FIX, 'quadlet.yml'), '-i', inv, '--format', 'json', '-e', `work=${work}`, ...extra], { timeoutMs: 300_000 });
  return { ...r, changed: changedOf(r.stdout), failed: failedOf(r.stdout) };
}

beforeAll(async () => {
  lab = await Lab.create({ name: 'pquad', hosts: 1, podman: true, privateEtc: true });
  inv = path.join(lab.dir, 'pquad-inventory.yml');
  fs.writeFileSync(inv, lab.inventoryYaml());
  work = `/tmp/rbk-pquad-${process.pid}`;
  fs.mkdirSync(`${work}/${lab.hosts[0]!.name}`, { recursive: true });
}, 120_000);

afterAll(async () => {
  if (lab) await lab.destroy();
  if (work) fs.rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('quadlet files and the new container arguments over SSH (podman lab host)', () => {
  it('--check predicts exactly, apply writes and creates, again and --check change nothing; a changed argument recreates', async () => {
    const qdir = () => `${work}/${host().name}/quadlets`;
    const observe = async () =>
      (await sh(`ls -l ${qdir()} 2>&1; podman ps -a --format '{{.Names}} {{.Status}}' 2>&1 | sort`)).stdout.replace(/\d+ (seconds?|minutes?) ago/g, '');
    const all = ['Volume quadlet', 'Container quadlet', 'Network quadlet', 'A hardened container', 'A container with a healthcheck'];
    const before = await observe();
    const check = await run(['--check']);
    expect(check.failed, check.stderr).toEqual([]);
    expect(check.changed, check.stdout).toEqual(all);
    expect(await observe(), '--check changes nothing').toBe(before);
    const apply = await run();
    expect(apply.failed, apply.stderr).toEqual([]);
    expect(apply.changed).toEqual(all);

    // the files: byte for byte the collection's, with its modes
    expect(fs.readFileSync(`${qdir()}/caddy.container`, 'utf8')).toBe(expected['deerlab caddy']);
    expect(fs.readFileSync(`${qdir()}/caddy-data.volume`, 'utf8')).toBe('[Volume]\nVolumeName=caddy-data\n');
    expect(fs.readFileSync(`${qdir()}/backend-net.network`, 'utf8')).toBe('[Network]\nNetworkName=backend\nInternal=true\nSubnet=10.89.7.0/24\n');
    const mode = (f: string) => (fs.statSync(`${qdir()}/${f}`).mode & 0o7777).toString(8);
    expect([mode('caddy.container'), mode('caddy-data.volume'), mode('backend-net.network')]).toEqual(['640', '640', '644']);
    // no container, volume or network was made for the quadlets
    expect((await sh('podman volume exists caddy-data; echo $?; podman container exists caddy; echo $?; podman network exists backend; echo $?')).stdout).toBe('1\n1\n1\n');

    // the arguments in force inside the running container
    const inside = (await sh(
      'podman exec rbk-hard sh -c \'id -u; id -g; pwd; hostname; ulimit -n; cat /proc/sys/net/ipv4/ip_forward; test -c /dev/xnull && echo dev; ' +
        'touch /x 2>/dev/null || echo ro; grep -E " /(config|scratch) " /proc/mounts | cut -d" " -f2,3 | sort; grep CapEff /proc/self/status\'',
    )).stdout;
    expect(inside).toBe('1000\n1000\n/tmp\nweb1\n500\n1\ndev\nro\n/config tmpfs\n/scratch tmpfs\nCapEff:\t0000000000000400\n');
    expect((await sh("podman container inspect --format '{{.State.Status}} {{json .Config.Healthcheck.Test}} {{.Config.Healthcheck.Retries}}' rbk-health")).stdout.trim())
      .toBe('created ["CMD-SHELL","test -e /bin/sh || exit 1"] 3');

    const again = await run();
    expect(again.failed).toEqual([]);
    expect(again.changed, 'second apply changes nothing').toEqual([]);
    expect((await run(['--check'])).changed).toEqual([]);

    // a changed argument: --check names it, apply recreates
    const id = (await sh("podman container inspect --format '{{.Id}}' rbk-hard")).stdout.trim();
    const drift = await run(['--check', '-e', 'hostname_arg=web2']);
    expect(drift.changed).toEqual(['A hardened container']);
    expect(reasonOf(drift.stdout, 'A hardened container')).toMatch(/^recreate container rbk-hard: hostname web1 -> web2/);
    expect((await run(['-e', 'hostname_arg=web2'])).changed).toEqual(['A hardened container']);
    expect((await sh("podman container inspect --format '{{.Id}}' rbk-hard")).stdout.trim()).not.toBe(id);
    expect((await sh('podman exec rbk-hard hostname')).stdout.trim()).toBe('web2');
    expect((await run(['-e', 'hostname_arg=web2'])).changed).toEqual([]);

    // a hand edit of a quadlet file is put back; a comment added by hand is not a change (as the collection)
    fs.appendFileSync(`${qdir()}/caddy-data.volume`, 'Driver=other\n');
    expect((await run(['-e', 'hostname_arg=web2'])).changed).toEqual(['Volume quadlet']);
    fs.writeFileSync(`${qdir()}/caddy-data.volume`, '# local note\n[Volume]\nVolumeName=caddy-data\n');
    expect((await run(['-e', 'hostname_arg=web2'])).changed).toEqual([]);
  }, 600_000);
});
