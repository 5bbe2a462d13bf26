/**
 * The run context (lib/executor/run-context.ts): what a command runs with is built by the CLI and passed down; an
 * Executor no longer leaves a SOPS listener behind per construction, and the context's store and keyring are the
 * ones its vars files are read with.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRunContext } from '../lib/executor/run-context.js';
import { Executor } from '../lib/executor/executor.js';
import { EventBus } from '../lib/executor/events.js';
import { loadInventory } from '../lib/inventory/index.js';
import { SecretStore } from '../lib/vars/secret-values.js';
import { sopsListenerCount } from '../lib/vars/sops.js';
import { VaultKeyring, vaultEncrypt } from '../lib/vars/vault.js';

function emptyRun(context?: ReturnType<typeof createRunContext>): Executor {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-ctx-'));
  const invFile = path.join(d, 'inv.yml');
  fs.writeFileSync(invFile, 'all:\n  hosts:\n    h1:\n      ansible_connection: local\n');
  const opts = { check: true, diff: false, tags: [], skipTags: [], extraVars: {}, forks: 1 };
  return new Executor({ file: path.join(d, 'pb.yml'), dir: d, plays: [] }, loadInventory(invFile), opts, new EventBus(), context);
}

describe('run context', () => {
  it('a context listens for SOPS decryptions until disposed, once', () => {
    const before = sopsListenerCount();
    const ctx = createRunContext({ secrets: new SecretStore(), vault: new VaultKeyring() });
    expect(sopsListenerCount()).toBe(before + 1);
    ctx.dispose();
    ctx.dispose();
    expect(sopsListenerCount()).toBe(before);
  });

  it('executors leave no SOPS listener behind: their own context is disposed when the run ends', async () => {
    const before = sopsListenerCount();
    for (let i = 0; i < 5; i++) {
      const ex = emptyRun();
      const r = await ex.run();
      expect(r.exitCode).toBe(0);
    }
    expect(sopsListenerCount()).toBe(before);
  });

  it('an executor given a context uses it and leaves disposing to its owner', async () => {
    const before = sopsListenerCount();
    const ctx = createRunContext({ secrets: new SecretStore(), vault: new VaultKeyring() });
    const ex = emptyRun(ctx);
    await ex.run();
    expect(ex.context).toBe(ctx);
    expect(sopsListenerCount()).toBe(before + 1);
    ctx.dispose();
    expect(sopsListenerCount()).toBe(before);
  });

  it("vars files are decrypted with the context's keyring and their values land in the context's store", () => {
    const secrets = new SecretStore();
    const ctx = createRunContext({ secrets, vault: new VaultKeyring(['ctx-password']) });
    try {
      const ex = emptyRun(ctx);
      const vars = { db_password: { __vault__: vaultEncrypt('s3cret-value', 'ctx-password') } };
      const out = ex.secrets.absorb('/nowhere/vars.yml', vars);
      expect(out.db_password).toBe('s3cret-value');
      expect(secrets.has('s3cret-value')).toBe(true);
      expect(secrets.mask('the password is s3cret-value')).toBe('the password is ********');
      // a keyring without that password cannot read it
      const other = createRunContext({ secrets: new SecretStore(), vault: new VaultKeyring(['wrong']) });
      try {
        expect(() => emptyRun(other).secrets.absorb('/nowhere/vars.yml', vars)).toThrow(/cannot decrypt vault data/);
      } finally {
        other.dispose();
      }
    } finally {
      ctx.dispose();
    }
  });

  it('the -K password given to a context is a secret of its store', () => {
    const secrets = new SecretStore();
    const ctx = createRunContext({ secrets, vault: new VaultKeyring(), becomePassword: 'sudo-pass-123' });
    ctx.dispose();
    expect(ctx.becomePassword).toBe('sudo-pass-123');
    expect(secrets.mask('pw sudo-pass-123')).toBe('pw ********');
  });
});
