/**
 * The JSON Schema (draft 2020-12) of `--format json` run events and of the `--report` file. docs/json.md documents
 * the same fields; test/json-output.test.ts validates real output against these with ajv. Field names are stable:
 * new fields may be added, existing ones are not renamed or removed.
 */
const pos = { file: { type: 'string' }, line: { type: 'integer', minimum: 1 } };
const base = { event: { type: 'string' }, time: { type: 'string', format: 'date-time' } };
const recap = {
  type: 'object',
  required: ['host', 'ok', 'changed', 'unreachable', 'failed', 'skipped', 'rescued', 'ignored'],
  properties: {
    host: { type: 'string' },
    ok: { type: 'integer' }, changed: { type: 'integer' }, unreachable: { type: 'integer' }, failed: { type: 'integer' },
    skipped: { type: 'integer' }, rescued: { type: 'integer' }, ignored: { type: 'integer' },
  },
};
const diff = {
  anyOf: [
    { type: 'null' },
    { type: 'array', items: { type: 'object', required: ['label', 'before', 'after'], properties: { label: { type: 'string' }, before: { type: 'string' }, after: { type: 'string' } } } },
  ],
};
const status = { enum: ['ok', 'changed', 'skipped', 'failed', 'unreachable'] };

export const RUN_EVENT_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://runbook.invalid/schema/run-event.json',
  type: 'object',
  required: ['event', 'time'],
  oneOf: [
    { properties: { ...base, event: { const: 'run:start' }, playbook: { type: 'string' }, check: { type: 'boolean' }, hosts: { type: 'array', items: { type: 'string' } } }, required: ['playbook', 'check', 'hosts'] },
    { properties: { ...base, event: { const: 'play:start' }, play: { type: 'string' }, hosts: { type: 'array', items: { type: 'string' } }, ...pos }, required: ['play', 'hosts', 'file', 'line'] },
    { properties: { ...base, event: { const: 'task:start' }, task: { type: 'string' }, action: { type: 'string' }, hosts: { type: 'array', items: { type: 'string' } }, handler: { type: 'boolean' }, role: { type: ['string', 'null'] }, ...pos }, required: ['task', 'action', 'hosts', 'file', 'line', 'handler', 'role'] },
    {
      properties: {
        ...base, event: { const: 'task:result' }, task: { type: 'string' }, ...pos, host: { type: 'string' }, status, changed: { type: 'boolean' },
        reason: { type: 'string' }, item: { type: ['string', 'null'] }, duration_ms: { type: 'number', minimum: 0 }, ignored: { type: 'boolean' },
        delegated_to: { type: ['string', 'null'] }, output: { type: ['string', 'null'] }, diff,
      },
      required: ['task', 'file', 'line', 'host', 'status', 'changed', 'reason', 'item', 'duration_ms', 'ignored', 'delegated_to', 'output', 'diff'],
    },
    { properties: { ...base, event: { const: 'task:end' }, name: { type: 'string' } }, required: ['name'] },
    { properties: { ...base, event: { const: 'host:unreachable' }, host: { type: 'string' }, message: { type: 'string' } }, required: ['host', 'message'] },
    { properties: { ...base, event: { const: 'warning' }, message: { type: 'string' } }, required: ['message'] },
    { properties: { ...base, event: { const: 'run:end' }, exit_code: { type: 'integer' }, check: { type: 'boolean' }, duration_ms: { type: 'number' }, recap: { type: 'array', items: recap } }, required: ['exit_code', 'check', 'duration_ms', 'recap'] },
  ],
} as const;

export const REPORT_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://runbook.invalid/schema/report.json',
  type: 'object',
  required: ['playbook', 'check', 'exit_code', 'duration_ms', 'recap', 'hosts'],
  properties: {
    playbook: { type: 'string' },
    check: { type: 'boolean' },
    exit_code: { type: ['integer', 'null'] },
    duration_ms: { type: ['number', 'null'] },
    recap: { type: 'array', items: recap },
    hosts: {
      type: 'object',
      additionalProperties: {
        type: 'array',
        items: {
          type: 'object',
          required: ['task', 'file', 'line', 'status', 'changed', 'reason', 'duration_ms', 'diff'],
          properties: { task: { type: 'string' }, ...pos, status, changed: { type: 'boolean' }, reason: { type: 'string' }, duration_ms: { type: 'number' }, diff, output: { type: ['string', 'null'] } },
        },
      },
    },
  },
} as const;
