/**
 * Batch-A modules over real SSH on a lab host (its private copy-on-write root: writing /etc, /var/spool/cron and the
 * locale archive stays in that host): --check predicts exactly what apply changes and writes nothing; apply; a
 * second apply changes nothing (test/fixtures/modules-batch-a/play.yml). Module facts (getent, package_facts,
 * service_facts) reach later tasks. Then, --check only (check-only.yml): hostname (the lab hosts share the
 * machine's UTS namespace, so applying would rename the machine), tempfile (always changed) and check mode's
 * package rule: a copy into /etc/fail2ban after a planned install of fail2ban is a change after an earlier change.
 * modprobe only persists here (state absent, persistent present): the lab cannot load kernel modules.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { cliAsync, events, ROOT } from './helpers.js';

const FIX = path.join(ROOT, 'test/fixtures/modules-batch-a');
const CHANGING = ['ini option', 'limits', 'user cron job', 'cron file job', 'authorized key', 'apt source', 'locale', 'module persisted (not loaded here)'];

describe('batch-A modules over SSH', () => {
  let lab: Lab;
  let inv: string;
  beforeAll(async () => {
    lab = await Lab.create({ name: 'modsa', hosts: 1 });
    inv = path.join(lab.dir, 'modsa-inventory.yml');
    fs.writeFileSync(inv, lab.inventoryYaml());
  }, 300_000);
  afterAll(async () => {
    await lab?.destroy();
  });
  const run = async (book: string, check: boolean) => {
    const r = await cliAsync(['apply', path.join(FIX, book), '-i', inv, '--format', 'json', ...(check ? ['--check'] : [])], { timeoutMs: 400_000 });
    const ev = events(r.stdout).filter((e) => e.event === 'task:result');
    return { r, ev, changed: ev.filter((e) => e.status === 'changed').map((e) => e.task as string) };
  };
  const sh = async (cmd: string) => (await lab.exec(lab.hosts[0]!, ['sh', '-c', cmd])).stdout;
  const observe = () => sh('cat /etc/rbk-batch-a/app.ini /etc/security/limits.d/rbk.conf /etc/cron.d/rbk /etc/rbk-batch-a/keys/authorized_keys /etc/apt/sources.list.d/rbk.list /etc/modules-load.d/dummy.conf /etc/modprobe.d/dummy.conf 2>&1; crontab -l 2>&1; locale -a; grep "^de_DE" /etc/locale.gen; true');

  it('--check predicts apply and writes nothing; apply; again changes nothing', async () => {
    const before = await observe();
    const check = await run('play.yml', true);
    expect(check.r.code, check.r.stderr + check.r.stdout).toBe(0);
    expect(check.changed).toEqual(CHANGING);
    expect(await observe(), '--check changes nothing').toBe(before);

    const apply = await run('play.yml', false);
    expect(apply.r.code, apply.r.stderr + apply.r.stdout).toBe(0);
    expect(apply.changed).toEqual(CHANGING);
    expect(await sh('cat /etc/rbk-batch-a/app.ini; stat -c %a /etc/rbk-batch-a/app.ini')).toBe('\n[server]\nport = 8080\n640\n');
    expect(await sh('cat /etc/security/limits.d/rbk.conf')).toBe('@app\tsoft\tnofile\t65536\n');
    expect(await sh('crontab -l')).toBe('#Ansible: rbk nightly\n15 3 * * * /usr/bin/true\n');
    expect(await sh('cat /etc/cron.d/rbk')).toBe('#Ansible: rbk reboot\n@reboot root /usr/bin/true\n');
    expect(await sh('cat /etc/rbk-batch-a/keys/authorized_keys; stat -c %a /etc/rbk-batch-a/keys /etc/rbk-batch-a/keys/authorized_keys')).toBe(
      'no-port-forwarding ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIrbkBatchAKeyOne one@example\nno-port-forwarding ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIrbkBatchAKeyTwo two@example\n700\n600\n',
    );
    expect(await sh('cat /etc/apt/sources.list.d/rbk.list')).toBe('deb [signed-by=/usr/share/keyrings/rbk.gpg] http://apt.rbk.invalid/debian bookworm main\n');
    expect(await sh('locale -a | grep -i de_DE')).toMatch(/de_DE\.utf8/);
    expect(await sh('cat /etc/modules-load.d/dummy.conf /etc/modprobe.d/dummy.conf')).toBe('dummy\noptions dummy numdummies=2\n');

    const again = await run('play.yml', false);
    expect(again.r.code, again.r.stderr + again.r.stdout).toBe(0);
    expect(again.changed, 'a second apply changes nothing').toEqual([]);
    const recheck = await run('play.yml', true);
    expect(recheck.changed).toEqual([]);
  }, 900_000);

  it('--check only: hostname and tempfile would change; a copy into a package\'s directory after its planned install is a change after an earlier change', async () => {
    const hostBefore = await sh('hostname; cat /etc/hostname; ls /tmp | grep -c "^ansible\\." || true');
    const c = await run('check-only.yml', true);
    expect(c.r.code, c.r.stderr + c.r.stdout).toBe(0);
    expect(c.changed).toEqual(['hostname', 'tempfile', 'install fail2ban', 'configure fail2ban']);
    const cfg = c.ev.find((e) => e.task === 'configure fail2ban')!;
    expect(cfg.reason).toMatch(/after an earlier change .*\/etc\/fail2ban.*after installing fail2ban/);
    expect(await sh('hostname; cat /etc/hostname; ls /tmp | grep -c "^ansible\\." || true'), '--check renamed nothing and created nothing').toBe(hostBefore);
  }, 600_000);
});
