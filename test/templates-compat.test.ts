/**
 * Byte for byte with Ansible: runbook's template module renders the real-style role templates of
 * test/fixtures/templates-compat (ansible_managed | comment headers, loops, whitespace control, indent, to_nice_yaml,
 * to_nice_json, default chains, a non-UTF-8 file through lookup('file')) onto a lab host over SSH, and every file must
 * equal, byte for byte, what Ansible 2.14 wrote for the same playbook.
 *
 * How expected/ was recorded: on the development machine (Debian 12, Debian's ansible 2.14 package, Jinja2 3.1,
 * PyYAML 6 with libyaml), `node bench/compat/template-diff.js --record`, which runs
 *   ansible-playbook -i localhost, -c local site.yml -e out_dir=TMP -e fixture_dir=<this fixture dir>
 * with the fixture's ansible.cfg (its ansible_managed) and copies TMP/* to expected/. The test itself needs no Ansible.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { cliAsync, events, ROOT } from './helpers.js';

const FIX = path.join(ROOT, 'test/fixtures/templates-compat');
const EXPECTED = path.join(FIX, 'expected');
const out = `/tmp/rbk-tplcompat-${process.pid}`;
let lab: Lab;
let inv: string;

const apply = () =>
  cliAsync(['apply', 'site.yml', '-i', inv, '--format', 'json', '-e', `out_dir=${out}`, '-e', `fixture_dir=${FIX}`], {
    cwd: FIX, env: { ANSIBLE_CONFIG: path.join(FIX, 'ansible.cfg') }, timeoutMs: 180_000,
  });

beforeAll(async () => {
  lab = await Lab.create({ name: 'tplcompat', hosts: 1 });
  inv = path.join(lab.dir, 'tplcompat-inventory.yml');
  fs.writeFileSync(inv, lab.inventoryYaml());
  fs.mkdirSync(out, { recursive: true });
}, 120_000);

afterAll(async () => {
  await lab?.destroy();
  fs.rmSync(out, { recursive: true, force: true });
});

describe('templates rendered by runbook on a lab host equal Ansible 2.14 output byte for byte', () => {
  const files = fs.readdirSync(EXPECTED).sort();

  it('has the recorded outputs', () => {
    expect(files).toEqual(['app.yml', 'comments', 'defaults.conf', 'indent', 'latin1.conf', 'nginx.conf', 'settings.json']);
  });

  it('apply renders every template as Ansible did', async () => {
    const r = await apply();
    expect(r.code, r.stderr + r.stdout).toBe(0);
    for (const f of files) {
      const want = fs.readFileSync(path.join(EXPECTED, f));
      const got = fs.readFileSync(path.join(out, f));
      // compare as latin1 text for a readable diff; any byte difference shows
      expect(got.toString('latin1'), f).toBe(want.toString('latin1'));
      expect(got.equals(want), f).toBe(true);
    }
    // the non-UTF-8 bytes of files/latin1.txt came through lookup('file') unchanged
    expect(fs.readFileSync(path.join(out, 'latin1.conf')).includes(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20]))).toBe(true);
  });

  it('a second apply changes nothing', async () => {
    const r = await apply();
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const changed = events(r.stdout).filter((e) => e.event === 'task:result' && e.status === 'changed');
    expect(changed).toEqual([]);
  });
});
