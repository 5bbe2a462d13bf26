/**
 * Controller-side actions the executor implements itself. Their argument schemas live here so the loader can
 * check them before any host is contacted, like every module's.
 */
export interface ActionDef {
  name: string;
  aliases: string[];
  description: string;
  schema: Record<string, unknown>;
  freeForm?: string;
}

const any = {};
const str = { type: 'string' };

function action(name: string, description: string, schema: Record<string, unknown>, freeForm?: string): ActionDef {
  return { name, aliases: [`ansible.builtin.${name}`, `ansible.legacy.${name}`], description, schema, freeForm };
}

export const ACTIONS: ActionDef[] = [
  action('debug', 'print a message or a variable', {
    type: 'object', additionalProperties: false,
    properties: { msg: any, var: str, verbosity: { type: 'integer' } },
  }),
  action('set_fact', 'set host variables for the rest of the run', {
    type: 'object', properties: { cacheable: { type: 'boolean' } },
  }),
  action('assert', 'fail unless every condition holds', {
    type: 'object', additionalProperties: false, required: ['that'],
    properties: {
      that: { anyOf: [{ type: 'string' }, { type: 'boolean' }, { type: 'array' }] },
      msg: any, fail_msg: any, success_msg: any, quiet: { type: 'boolean' },
    },
  }),
  action('fail', 'fail the task with a message', {
    type: 'object', additionalProperties: false, properties: { msg: any },
  }),
  action('meta', 'flush_handlers, end_play, end_host, noop', {
    type: 'object', additionalProperties: false, required: ['_raw_params'],
    properties: { _raw_params: { enum: ['flush_handlers', 'end_play', 'end_host', 'noop', 'clear_facts', 'refresh_inventory', 'clear_host_errors', 'reset_connection', 'end_batch'] } },
  }, '_raw_params'),
  action('include_tasks', 'run the tasks of another file (loaded when reached)', {
    type: 'object', additionalProperties: false,
    properties: { _raw_params: str, file: str, apply: { type: 'object' } },
  }, '_raw_params'),
  action('import_tasks', 'insert the tasks of another file (loaded with the playbook)', {
    type: 'object', additionalProperties: false, properties: { _raw_params: str, file: str },
  }, '_raw_params'),
  action('include_role', 'run a role here', {
    type: 'object', additionalProperties: false, required: ['name'],
    properties: { name: str, tasks_from: str, defaults_from: str, vars_from: str, handlers_from: str, public: { type: 'boolean' }, apply: { type: 'object' } },
  }),
  action('import_role', 'insert a role here (loaded with the playbook)', {
    type: 'object', additionalProperties: false, required: ['name'],
    properties: { name: str, tasks_from: str, defaults_from: str, vars_from: str, handlers_from: str },
  }),
  action('include_vars', 'load variables from a file', {
    type: 'object', properties: { _raw_params: str, file: str, name: str },
  }, '_raw_params'),
  action('ping', 'check the host answers', { type: 'object', additionalProperties: false, properties: { data: str } }),
  action('setup', 'gather facts (one round trip)', {
    type: 'object', properties: { gather_subset: any, filter: any, gather_timeout: { type: 'integer' } },
  }),
  action('wait_for_connection', 'wait until the host answers again', {
    type: 'object', additionalProperties: false,
    properties: { timeout: { type: 'integer' }, delay: { type: 'integer' }, sleep: { type: 'integer' }, connect_timeout: { type: 'integer' } },
  }),
  action('reboot', 'reboot the host, wait until it answers again (always changed)', {
    type: 'object', additionalProperties: false,
    properties: {
      reboot_timeout: { type: 'integer', minimum: 1 }, connect_timeout: { type: 'integer', minimum: 1 },
      pre_reboot_delay: { type: 'integer', minimum: 0 }, post_reboot_delay: { type: 'integer', minimum: 0 },
      test_command: { type: 'string', minLength: 1 }, msg: str, reboot_command: { type: 'string', minLength: 1 },
      boot_time_command: { type: 'string', minLength: 1 }, search_paths: { type: 'array', items: str },
    },
  }),
];

ACTIONS.find((a) => a.name === 'setup')!.aliases.push('gather_facts', 'ansible.builtin.gather_facts');
