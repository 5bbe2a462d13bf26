/**
 * Run events, named noun:verb. The executor only emits; reporters subscribe. Listeners may be async (the live
 * view waits for its renderer), and the executor awaits them so output order is the run order.
 */
import type { FileDiff } from '../modules/types.js';
import type { SourcePos } from '../errors.js';
import { maskDeep } from '../vars/secret-values.js';

import type { Status } from '../actions/types.js';

export type { Status };

export interface HostResult {
  host: string;
  status: Status;
  /** why: the plan's reason, the failure message, the skip condition */
  reason: string;
  diffs?: FileDiff[];
  /** loop item label when the task loops */
  item?: string;
  durationMs: number;
  /** ignore_errors turned a failure into ok-to-continue */
  ignored?: boolean;
  /** set for debug tasks: what to show */
  output?: string;
  /** delegated to another host */
  delegatedTo?: string;
  /** in check mode: the plan is based on a state an earlier planned change would alter */
  afterEarlierChange?: boolean;
}

export interface Recap {
  host: string;
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
  rescued: number;
  ignored: number;
  /** remote commands sent to the host in this run (the benchmark reads it from --report / --format json) */
  commands?: number;
}

export type RunEvent =
  | { type: 'run:start'; playbook: string; check: boolean; hosts: string[] }
  | { type: 'play:start'; name: string; hosts: string[]; pos: SourcePos }
  | { type: 'task:start'; name: string; action: string; hosts: string[]; pos: SourcePos; handler?: boolean; role?: string }
  | { type: 'task:result'; task: string; pos: SourcePos; result: HostResult }
  | { type: 'task:end'; name: string }
  | { type: 'host:unreachable'; host: string; message: string }
  | { type: 'run:end'; recap: Recap[]; durationMs: number; exitCode: number; check: boolean }
  | { type: 'warning'; message: string; host?: string; pos?: SourcePos };

export type Listener = (e: RunEvent) => void | Promise<void>;

export class EventBus {
  private listeners: Listener[] = [];
  on(l: Listener): void {
    this.listeners.push(l);
  }
  /** Every string of every event is masked of secrets (secret-values.ts) before any reporter sees it. */
  async emit(e: RunEvent): Promise<void> {
    const masked = maskDeep(e);
    for (const l of this.listeners) await l(masked);
  }
}
