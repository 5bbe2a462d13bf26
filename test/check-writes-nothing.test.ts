/**
 * Check mode writes nothing anywhere. Every area any module of the example playbooks touches is hashed on every
 * lab host before and after `--check` of test/fixtures/sample/site.yml and playbooks/web-arm.yml: the host's
 * private /etc views (sysctl.d, systemd, containers), the /tmp trees the playbooks write, podman's state (networks,
 * graphroot/runroot metadata), the live kernel values the sysctl tasks set, and the ADR repository on the controller.
 * Once on fresh hosts (where check predicts many changes), once after an apply and a deliberate drift.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab, type LabHost } from '../lib/lab/lab.js';
import { webArmLabInventory } from '../lib/lab/webarm.js';
import { cliAsync, events, ROOT } from './helpers.js';

const SAMPLE = path.join(ROOT, 'test/fixtures/sample/site.yml');
const WEBARM = path.join(ROOT, 'playbooks/web-arm.yml');
const base = `/tmp/rbk-chkw-${process.pid}`;
let lab: Lab;
let sampleInv: string;
let webInv: string;
let repo: string;

beforeAll(async () => {
  lab = await Lab.create({ name: 'chkw', hosts: 2, internet: true, podman: true });
  sampleInv = path.join(lab.dir, 'sample.yml');
  fs.writeFileSync(sampleInv, lab.inventoryYaml());
  webInv = path.join(lab.dir, 'web.yml');
  fs.writeFileSync(webInv, webArmLabInventory(lab));
  repo = path.join(lab.dir, 'repo');
  fs.mkdirSync(path.join(repo, 'docs/adr'), { recursive: true });
  fs.writeFileSync(path.join(repo, 'docs/adr/0010-host-ipv6.md'), '# 0010. Host IPv6\n');
}, 300_000);

afterAll(async () => {
  await lab?.destroy();
  fs.rmSync(base, { recursive: true, force: true });
});

/** One host's state: paths, modes, owners, sizes and content hashes; podman's view; live sysctl values. */
async function hostState(h: LabHost): Promise<string> {
  const script = [
    'set -u',
    // podman first: any podman command (even a read-only one, as a probe runs) creates its empty lock file
    // /etc/containers/networks/netavark.lock on first use; this snapshot must not be what creates it
    "podman network ls --format '{{.Name}} {{.ID}}' | sort",
    "podman ps -a --format '{{.Names}} {{.Status}}' | sort",
    // the private /etc views (bound over /etc inside the host) and this host's /tmp tree
    `for d in /etc/sysctl.d /etc/systemd /etc/containers ${base}/${h.name}; do`,
    '  [ -e "$d" ] || { echo "absent $d"; continue; }',
    "  find \"$d\" -xdev -printf '%p %m %u %g %y %s %l\\n' | sort",
    '  find "$d" -xdev -type f -print0 | sort -z | xargs -0 -r sha256sum',
    'done',
    // podman: the metadata of its state directories
    'G=$(podman info --format "{{.Store.GraphRoot}}"); R=$(podman info --format "{{.Store.RunRoot}}")',
    "for d in \"$G\" \"$R\"; do find \"$d\" -xdev -maxdepth 3 -printf '%p %m %y %s\\n' 2>/dev/null | sort; done",
    // live kernel values the sysctl tasks manage
    'for k in /proc/sys/net/ipv6/conf/all/forwarding /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/accept_ra; do echo "$k $(cat $k)"; done',
  ].join('\n');
  const r = await lab.exec(h, ['sh', '-c', script]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

function controllerState(): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      const st = fs.lstatSync(p);
      out.push(`${p} ${st.mode} ${st.size} ${e.isFile() ? crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex') : ''}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(repo);
  return out.join('\n');
}

async function snapshot(): Promise<string[]> {
  return [...(await Promise.all(lab.hosts.map(hostState))), controllerState()];
}

async function checkBoth(): Promise<number> {
  let changed = 0;
  for (const [pb, inv, extra] of [
    [SAMPLE, sampleInv, ['-e', `app_base=${base}`]],
    [WEBARM, webInv, ['-e', `web_adr_repo=${repo}`]],
  ] as [string, string, string[]][]) {
    const r = await cliAsync(['apply', pb, '-i', inv, '--check', '--diff', '--format', 'json', ...extra], { timeoutMs: 240_000 });
    const failed = events(r.stdout).filter((e) => e.event === 'task:result' && e.status === 'failed');
    expect(r.code, `${path.basename(pb)}: ${r.stderr}${JSON.stringify(failed).slice(0, 3000)}`).toBe(0);
    changed += events(r.stdout).filter((e) => e.event === 'task:result' && e.status === 'changed').length;
  }
  return changed;
}

describe('--check writes nothing on any host', () => {
  it('fresh hosts: check predicts changes, and every touched area is byte-identical afterwards', async () => {
    const before = await snapshot();
    const predicted = await checkBoth();
    expect(predicted).toBeGreaterThan(5);
    const after = await snapshot();
    for (let i = 0; i < before.length; i++) expect(after[i], `area set ${i}`).toBe(before[i]);
  });

  it('after an apply and a drift: check predicts the repair, and still writes nothing', async () => {
    const s = await cliAsync(['apply', SAMPLE, '-i', sampleInv, '--format', 'json', '-e', `app_base=${base}`], { timeoutMs: 240_000 });
    expect(s.code, s.stderr).toBe(0);
    const w = await cliAsync(['apply', WEBARM, '-i', webInv, '--format', 'json', '--skip-tags', 'verify', '-e', `web_adr_repo=${repo}`], { timeoutMs: 240_000 });
    expect(w.code, w.stderr + w.stdout.slice(-2000)).toBe(0);
    // drift: forwarding off on one host, a config edited on the other
    const [h1, h2] = lab.hosts as [LabHost, LabHost];
    await lab.exec(h1, ['sh', '-c', 'echo 0 > /proc/sys/net/ipv6/conf/all/forwarding']);
    await lab.exec(h2, ['sh', '-c', `echo '# edited by hand' >> ${base}/${h2.name}/app.conf`]);
    const before = await snapshot();
    expect(before[0]).toContain('/proc/sys/net/ipv6/conf/all/forwarding 0');
    const predicted = await checkBoth();
    expect(predicted).toBeGreaterThanOrEqual(2);
    const after = await snapshot();
    for (let i = 0; i < before.length; i++) expect(after[i], `area set ${i}`).toBe(before[i]);
  });
});
