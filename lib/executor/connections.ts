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

  /**
   * Opens the connections of every host that will run this task and has none yet, all before any of them runs it
   * (bounded by forks, and by the handshake limit in lib/connection/ssh.ts). Under the linear strategy no host goes
   * past the task before the last one is done anyway; this way the first hosts' task scripts do not compete for the
   * hosts' CPU with the later hosts' SSH handshakes (on a small lab machine they timed out at 50+ hosts). Only hosts
   * whose `when` holds now (one that errors or depends on a loop item connects in its turn, as before).
   */
  protected async preconnect(hosts: string[], willRun: (host: string) => Promise<boolean>, parallel: (hosts: string[], fn: (h: string) => Promise<void>) => Promise<void[]>): Promise<void> {
    const fresh = hosts.filter((h) => !this.host(h).conn && !this.host(h).unreachable);
    if (fresh.length < 2) return;
    await parallel(fresh, async (h) => {
      let run = false;
      try {
        run = await willRun(h);
      } catch {
        run = false;
      }
      if (run) await this.connect(h).then(
        () => undefined,
        () => undefined,
      );
    });
  }

  async connect(host: string): Promise<Connection> {
    const st = this.host(host);
    if (st.unreachable) throw st.connectError ?? new RunbookError('unreachable', `host ${host} is unreachable`, { host });
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
      st.conn.catch((e: unknown) => {
        st.connectError = e instanceof Error ? e : new RunbookError('unreachable', String(e), { host });
        st.unreachable = true;
      });
    }
    return st.conn;
  }
}
