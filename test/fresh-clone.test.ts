/**
 * From a fresh clone, the README's install step (npm ci, which compiles the CLI) and then `npx runbook --help`
 * work. Clones the committed HEAD, so it checks what a user gets, not this working tree.
 */
import { describe, expect, it, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-clone-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('fresh clone', () => {
  it('npm ci then npx runbook --help', () => {
    const clone = spawnSync('git', ['clone', '-q', ROOT, path.join(dir, 'runbook')], { encoding: 'utf8', timeout: 60_000 });
    expect(clone.status, clone.stderr).toBe(0);
    const cwd = path.join(dir, 'runbook');
    const ci = spawnSync('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd, encoding: 'utf8', timeout: 240_000 });
    expect(ci.status, ci.stderr).toBe(0);
    expect(fs.existsSync(path.join(cwd, 'dist/lib/cli/main.js'))).toBe(true);
    const help = spawnSync('npx', ['runbook', '--help'], { cwd, encoding: 'utf8', timeout: 60_000 });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/Usage: runbook/);
    expect(help.stdout).toMatch(/apply \[options\] <playbook>/);
  }, 300_000);
});
