/**
 * --format json and --report output from a real run over SSH, validated with ajv against the documented schemas.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { Lab } from '../lib/lab/lab.js';
import { RUN_EVENT_SCHEMA, REPORT_SCHEMA } from '../lib/report/json-schema.js';
import { cliAsync, ROOT } from './helpers.js';

const ajv = new Ajv2020({ allErrors: true, strict: false });
(addFormats as unknown as { default: (a: Ajv2020) => void }).default(ajv);
const validEvent = ajv.compile(RUN_EVENT_SCHEMA);
const validReport = ajv.compile(REPORT_SCHEMA);

let lab: Lab;
let inv: string;
const base = `/tmp/rbk-json-${process.pid}`;

beforeAll(async () => {
  lab = await Lab.create({ name: 'json', hosts: 2 });
  inv = path.join(lab.dir, 'inv.yml');
  fs.writeFileSync(inv, lab.inventoryYaml());
});
afterAll(async () => {
  await lab?.destroy();
  fs.rmSync(base, { recursive: true, force: true });
});

describe('machine output', () => {
  it('every event of a real run (with diffs) matches the schema, and so does the report file', async () => {
    const report = path.join(lab.dir, 'report.json');
    const r = await cliAsync(['apply', path.join(ROOT, 'test/fixtures/sample/site.yml'), '-i', inv, '--format', 'json', '--diff', '--report', report, '-e', `app_base=${base}`]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(10);
    const kinds = new Set<string>();
    for (const l of lines) {
      const e = JSON.parse(l);
      kinds.add(e.event);
      expect(validEvent(e), `${l}\n${JSON.stringify(validEvent.errors)}`).toBe(true);
    }
    for (const k of ['run:start', 'play:start', 'task:start', 'task:result', 'task:end', 'run:end']) expect(kinds).toContain(k);
    const rep = JSON.parse(fs.readFileSync(report, 'utf8'));
    expect(validReport(rep), JSON.stringify(validReport.errors)).toBe(true);
    expect(Object.keys(rep.hosts).sort()).toEqual(lab.hosts.map((h) => h.name).sort());
    expect(rep.recap.every((x: { changed: number }) => x.changed > 0)).toBe(true);
  });

  it('an unreachable host and a failed task are events that match the schema too', async () => {
    await lab.stopSshd(lab.hosts[1]!);
    try {
      const r = await cliAsync(['run', 'lab', '-i', inv, '--format', 'json', '--', 'false']);
      expect(r.code).toBe(2);
      const evs = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      for (const e of evs) expect(validEvent(e), JSON.stringify(e) + JSON.stringify(validEvent.errors)).toBe(true);
      expect(evs.some((e) => e.event === 'host:unreachable' && e.host === lab.hosts[1]!.name)).toBe(true);
      expect(evs.some((e) => e.event === 'task:result' && e.status === 'failed' && e.host === lab.hosts[0]!.name)).toBe(true);
    } finally {
      await lab.startSshd(lab.hosts[1]!);
    }
  });
});
