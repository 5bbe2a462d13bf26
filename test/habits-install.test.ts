/**
 * A global install works as the README says: `npm pack` makes a tarball that `npm install -g` turns into a working
 * `runbook` command (dist/ inside the package, no build at install time), in any directory. Installs into a temporary
 * prefix (dependencies come from the npm registry, or npm's cache), then runs the installed command elsewhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rb-habits-install-'));
const prefix = path.join(tmp, 'prefix');
const work = path.join(tmp, 'elsewhere');
let tarball = '';
let install: { status: number | null; stdout: string; stderr: string };

function run(cmd: string, args: string[], cwd: string, timeout = 540_000) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, NO_COLOR: '1', CI: 'true', npm_config_update_notifier: 'false' } });
  return { status: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

describe('npm pack, npm install -g, runbook anywhere', () => {
  beforeAll(() => {
    const pack = run('npm', ['pack', '--pack-destination', tmp, '--json'], ROOT);
    expect(pack.status, pack.stderr).toBe(0);
    const info = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')))[0];
    tarball = path.join(tmp, info.filename);
    const files = info.files.map((f: { path: string }) => f.path);
    expect(files).toContain('dist/lib/cli/main.js');
    expect(files).toContain('bin/runbook.js');
    // no sources, tests or lab tooling in the package
    expect(files.filter((f: string) => /^(lib|test|bench|dist\/lib\/lab)\//.test(f))).toEqual([]);
    // the README's line. npm 11 lists install scripts nobody reviewed: ssh2's optional native parts, and the
    // tarball's own `prepare` (listed for a file source though npm does not run it for a packed tarball)
    install = run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', `--allow-scripts=file:${tarball},ssh2,cpu-features`, tarball], tmp);
    fs.mkdirSync(work);
  }, 1_100_000);
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('installs without warnings', () => {
    expect(install.status, install.stderr).toBe(0);
    expect(install.stderr.split('\n').filter((l) => /^npm warn/i.test(l))).toEqual([]);
  });

  it('the installed runbook answers --version and runs a local playbook in another directory', () => {
    const bin = path.join(prefix, 'bin', 'runbook');
    const v = run(bin, ['--version'], work, 60_000);
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
    const out = path.join(work, 'written.txt');
    fs.writeFileSync(
      path.join(work, 'site.yml'),
      `- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: write a file\n      copy:\n        content: "from the global install\\n"\n        dest: ${out}\n`,
    );
    const r = run(bin, ['apply', 'site.yml', '--format', 'plain'], work, 120_000);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toBe('from the global install\n');
    expect(r.stdout).toMatch(/^changed: \[localhost\]$/m);
  });
});
