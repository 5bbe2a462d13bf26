/**
 * Which host runs which task when (Ansible's linear strategy: every host finishes task N before any starts N+1,
 * up to `forks` hosts at once), failures, block/rescue/always, handlers. The only caller of applySteps.
 *
 * Per host and task: render args -> validate -> prepare -> probe (one read-only round trip) -> pure plan ->
 * report -> unless --check, apply. Check and apply share every line up to the last.
 */
import { RunbookError } from '../errors.js';
import type { Connection } from '../connection/types.js';
import { resolveFor } from '../vars/resolve.js';
import { applySteps } from './apply.js';
import { connectionSpecFor, openConnection } from './connect.js';
import { acquireHostLock, DEFAULT_LOCK_TIMEOUT_MS } from './lock.js';

import { RunVariables } from './variables.js';

/** One connection per host, opened when first needed, with the host lock (lock.ts); all closed at the end. */
export abstract class RunConnections extends RunVariables {
  async closeAll(): Promise<void> {
    await Promise.all(
      [...this.hosts.values()].map(async (h) => {
        if (!h.conn) return;
        try {
          await (await h.conn).close();
        } catch {
          /* already gone */
        }
      }),
    );
  }

  async connect(host: string): Promise<Connection> {
    const st = this.host(host);
    if (st.unreachable) throw new RunbookError('unreachable', `host ${host} is unreachable`, { host });
    if (!st.conn) {
      const ctx = this.varsFor(host, undefined, { when: [], tags: [], blockVars: [], environment: [] });
      const resolved = resolveFor(Object.fromEntries(Object.entries(ctx).filter(([k]) => k.startsWith('ansible_') || k.startsWith('runbook_') || k.startsWith('proxmox_'))), ctx, this.templar);
      const spec = connectionSpecFor(host, resolved, this.opts.hostKeyChecking, this.play?.connection);
      // the host lock (lock.ts) serialises runs against one host; --check writes nothing, so it takes none
      const lock = !this.opts.check && spec.type !== 'local' && resolved['runbook_lock'] !== false && !/^(false|no|off|0)$/i.test(String(resolved['runbook_lock'] ?? ''));
      st.conn = openConnection(spec).then((c) =>
        lock
          ? acquireHostLock(c, {
              file: resolved['runbook_lock_file'] !== undefined ? String(resolved['runbook_lock_file']) : undefined,
              timeoutMs: this.opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
              onWait: (message) => void this.bus.emit({ type: 'warning', message, host }),
            })
          : c,
      );
      // unreachable hosts stay unreachable for the run
      st.conn.catch(() => {
        st.unreachable = true;
      });
    }
    return st.conn;
  }
}
