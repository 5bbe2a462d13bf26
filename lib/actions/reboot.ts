/** reboot: drops and re-opens the connection (reboot-run.ts); always changed; check mode runs nothing. */
import { runReboot, type RebootArgs } from './reboot-run.js';
import { action, str } from './types.js';

export default action('reboot', 'reboot the host, wait until it answers again (always changed)', {
  type: 'object', additionalProperties: false,
  properties: {
    reboot_timeout: { type: 'integer', minimum: 1 }, connect_timeout: { type: 'integer', minimum: 1 },
    pre_reboot_delay: { type: 'integer', minimum: 0 }, post_reboot_delay: { type: 'integer', minimum: 0 },
    test_command: { type: 'string', minLength: 1 }, msg: str, reboot_command: { type: 'string', minLength: 1 },
    boot_time_command: { type: 'string', minLength: 1 }, search_paths: { type: 'array', items: str },
  },
}, async ({ args, engine }) => {
  if (engine.check) return { status: 'changed', reason: 'would reboot (check mode: nothing run)', result: { rebooted: true, elapsed: 0 } };
  const become = engine.become();
  const r = await runReboot(args as RebootArgs, { connect: () => engine.connect(), reset: () => engine.resetConnection(), runOpts: become ? { become } : {} });
  return { status: r.ok ? 'changed' : 'failed', reason: r.reason, result: r.result };
});
