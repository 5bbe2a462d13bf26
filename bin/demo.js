#!/usr/bin/env node
// The demo: build a lab host (a network namespace with its own sshd, podman + netavark, and a v6-only
// "internet"), converge it with `runbook apply playbooks/web-arm.yml` (live view on a terminal), show the
// verification, and tear the lab down. Needs root and the packages scripts/setup.sh installs.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab } from '../dist/lib/lab/lab.js';
import { webArmLabInventory } from '../dist/lib/lab/webarm.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (process.getuid && process.getuid() !== 0) {
  console.error('the demo builds network namespaces: run it as root');
  process.exit(1);
}

const step = (s) => console.log(`\n\x1b[1m== ${s}\x1b[0m`);
let lab;
let code = 1;
const cleanup = async () => {
  if (lab) {
    step('tearing the lab down');
    await lab.destroy();
    lab = undefined;
  }
};
process.on('SIGINT', () => void cleanup().finally(() => process.exit(130)));

try {
  step('building the lab: host "web-arm-lab" with sshd, podman/netavark, and a v6-only internet');
  lab = await Lab.create({ name: 'demo', hosts: 1, internet: true, podman: true });
  const h = lab.hosts[0];
  console.log(`host ${h.name}: ssh ${h.address}, global IPv6 ${h.globalV6} on ${h.uplinkIf}; v6-only server [${lab.internetV6}]`);
  const inv = path.join(lab.dir, 'web-arm-lab.yml');
  fs.writeFileSync(inv, webArmLabInventory(lab));
  const repo = path.join(lab.dir, 'repo');
  fs.mkdirSync(path.join(repo, 'docs/adr'), { recursive: true });

  const runbook = (args) =>
    spawnSync(process.execPath, [path.join(root, 'bin/runbook.js'), ...args], { stdio: 'inherit', cwd: root }).status;

  step('runbook apply playbooks/web-arm.yml --check   (dry run: what would change)');
  runbook(['apply', 'playbooks/web-arm.yml', '-i', inv, '--check', '-e', `web_adr_repo=${repo}`]);

  step('runbook apply playbooks/web-arm.yml   (converge, then the verify tasks)');
  code = runbook(['apply', 'playbooks/web-arm.yml', '-i', inv, '-e', `web_adr_repo=${repo}`]);

  step('verification, from the host itself');
  const sh = (cmd) => lab.exec(h, ['sh', '-c', cmd]);
  const fwd = (await sh('cat /proc/sys/net/ipv6/conf/all/forwarding')).stdout.trim();
  const nets = (await sh("podman network inspect v6egress --format '{{range .Subnets}}{{.Subnet}} {{end}}'")).stdout.trim();
  const seen = (await sh(`podman run --rm --network v6egress --rootfs ${lab.rootfs} curl -6 -s --max-time 10 http://[${lab.internetV6}]/`)).stdout.trim();
  const adr = fs.readdirSync(path.join(repo, 'docs/adr'));
  console.log(`net.ipv6.conf.all.forwarding = ${fwd}`);
  console.log(`v6egress subnets: ${nets}`);
  console.log(`a container on v6egress reached [${lab.internetV6}], which saw source ${seen} (host global: ${h.globalV6}) -> ${seen === h.globalV6 ? 'NAT66 confirmed' : 'MISMATCH'}`);
  console.log(`ADR written: docs/adr/${adr.join(', ')}`);
  if (seen !== h.globalV6 || fwd !== '1') code = code || 2;

  step('runbook apply playbooks/web-arm.yml again   (idempotent: 0 changed)');
  const again = runbook(['apply', 'playbooks/web-arm.yml', '-i', inv, '-e', `web_adr_repo=${repo}`, '--skip-tags', 'verify']);
  code = code || again;
} catch (e) {
  console.error(`demo failed: ${e?.message ?? e}`);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code ?? 1);
