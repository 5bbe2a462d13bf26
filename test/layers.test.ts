/**
 * The layer rules of lib/ (.dependency-cruiser.cjs) hold for the code as it is, and an upward import is caught:
 * the same check on a copy of lib/ with one file in vars/ importing cli/ fails naming that import. Also: every
 * registered module and action has its file, and every file in lib/actions/ is registered.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './helpers.js';
import { allActions, allModules } from '../lib/modules/registry.js';

const DEPCRUISE = path.join(ROOT, 'node_modules', '.bin', 'depcruise');

function cruise(cwd: string) {
  return spawnSync(DEPCRUISE, ['lib', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd, encoding: 'utf8', timeout: 300_000 });
}

describe('layers', () => {
  it('lib/ keeps the layer rules', () => {
    const r = cruise(ROOT);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('an upward import fails the check, naming it', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-layers-'));
    try {
      fs.cpSync(path.join(ROOT, 'lib'), path.join(tmp, 'lib'), { recursive: true });
      for (const f of ['tsconfig.json', '.dependency-cruiser.cjs']) fs.copyFileSync(path.join(ROOT, f), path.join(tmp, f));
      fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(tmp, 'node_modules'));
      fs.writeFileSync(path.join(tmp, 'lib', 'vars', 'upward.ts'), "import { main } from '../cli/main.js';\nexport const m = main;\n");
      const r = cruise(tmp);
      expect(r.status).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/no-upward-from-vars.*\n?.*lib\/vars\/upward\.ts.*lib\/cli\/main\.ts/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('registered modules and actions match their files', () => {
  const stem = (f: string) => f.replace(/\.ts$/, '').replace(/-/g, '_');
  it('every file in lib/actions/ (but the shared ones) is a registered action, and every action has its file', () => {
    const files = fs.readdirSync(path.join(ROOT, 'lib', 'actions')).filter((f) => f.endsWith('.ts') && !['index.ts', 'types.ts', 'facts.ts', 'reboot-run.ts'].includes(f)).map(stem).sort();
    expect(allActions().map((a) => a.name).sort()).toEqual(files);
    for (const a of allActions()) if (!['import_tasks', 'import_role'].includes(a.name)) expect(typeof a.run, a.name).toBe('function');
  });

  it('every registered module is defined in a file of lib/modules/ named after it', () => {
    const files = new Set(fs.readdirSync(path.join(ROOT, 'lib', 'modules')).filter((f) => f.endsWith('.ts')).map(stem));
    for (const m of allModules()) {
      const base = m.name.split('.').pop()!;
      expect(files.has(base) || files.has(base.replace(/^(ansible_posix_|containers_podman_)/, '')), `lib/modules/${base.replace(/_/g, '-')}.ts for module ${m.name}`).toBe(true);
    }
  });
});
