/**
 * Host data is data: a lab host prints `{{ lookup('password', P) }}`, and every path the text can take through a
 * run (register, debug var/msg, set_fact copies, loop items and loop results, hostvars of another host, slurp +
 * b64decode, until / changed_when / failed_when, a module argument, a `!unsafe` YAML value) shows the text
 * literally in the plain and JSON output and the --report file, and the controller never creates P.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { cliAsync, events } from './helpers.js';

let lab: Lab;
let dir: string;
const base = `/tmp/rbk-unsafe-${process.pid}`;
// controller paths the lookups would create if host text were ever rendered
const ctl = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-unsafe-ctl-'));
const P = path.join(ctl, 'from-host');
const P2 = path.join(ctl, 'from-unsafe-tag');
const HOST_TEXT = `{{ lookup('password', '${P}') }}`;
const UNSAFE_TEXT = `{{ lookup('password', '${P2}') }}`;

beforeAll(async () => {
  lab = await Lab.create({ name: 'unsafe', hosts: 2 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbk-unsafe-'));
  fs.writeFileSync(path.join(dir, 'hosts.yml'), lab.inventoryYaml());
  fs.writeFileSync(
    path.join(dir, 'site.yml'),
    `- hosts: lab
  gather_facts: false
  vars:
    base: ${base}
    tagged: !unsafe "${UNSAFE_TEXT}"
  tasks:
    - name: read it
      command: cat {{ base }}/{{ inventory_hostname }}/p
      register: r
      changed_when: "'password' in r.stdout"
      failed_when: "r.stdout | length == 0"
    - name: debug var
      debug: { var: r.stdout }
    - name: debug msg
      debug: { msg: "got {{ r.stdout }}" }
    - name: copied by set_fact
      set_fact: { copied: "{{ r.stdout }}", wrapped: { inner: "{{ r.stdout_lines }}" } }
    - name: debug the copy
      debug: { msg: "copy={{ copied }} inner={{ wrapped.inner[0] }}" }
    - name: loop over host lines
      command: echo "{{ item }}"
      loop: "{{ r.stdout_lines }}"
      register: looped
      changed_when: false
    - name: loop results
      debug: { var: "looped.results[0].stdout" }
    - name: another host's result through hostvars
      debug: { msg: "first={{ hostvars[groups.lab[0]].r.stdout }} copied={{ hostvars[groups.lab[0]].copied }}" }
    - name: set_fact from hostvars
      set_fact: { via_hostvars: "{{ hostvars[groups.lab[0]].copied }}" }
    - name: debug it
      debug: { var: via_hostvars }
    - name: slurp
      slurp: { src: "{{ base }}/{{ inventory_hostname }}/p" }
      register: s
    - name: decoded
      set_fact: { decoded: "{{ s.content | b64decode }}" }
    - name: debug decoded
      debug: { var: decoded }
    - name: until over host data
      command: cat {{ base }}/{{ inventory_hostname }}/p
      register: u
      until: "u.stdout | length > 0"
      retries: 1
      delay: 0
      changed_when: false
    - name: a module argument
      copy: { content: "{{ r.stdout }}\\n", dest: "{{ base }}/{{ inventory_hostname }}/written" }
    - name: the !unsafe value
      debug: { var: tagged }
    - name: the !unsafe value copied
      set_fact: { tagged_copy: "{{ tagged }}" }
    - name: debug the !unsafe copy
      debug: { msg: "tagged={{ tagged_copy }}" }
`,
  );
});

afterAll(async () => {
  await lab?.destroy();
  fs.rmSync(base, { recursive: true, force: true });
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(ctl, { recursive: true, force: true });
});

describe('text from a host is never rendered on the controller', () => {
  it('shows the template text literally in every output, and the controller creates nothing', async () => {
    // the hosts hold template text (written outside runbook, as any process on the host could)
    for (const h of lab.hosts) {
      await lab.exec(h, ['sh', '-c', 'mkdir -p "$(dirname "$2")" && printf "%s\\n" "$1" > "$2"', 'sh', HOST_TEXT, `${base}/${h.name}/p`]);
    }
    for (const format of ['json', 'plain'] as const) {
      const report = path.join(dir, `report-${format}.json`);
      const r = await cliAsync(['apply', path.join(dir, 'site.yml'), '-i', path.join(dir, 'hosts.yml'), '--format', format, '--report', report, '--diff']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(fs.existsSync(P), `controller created ${P}`).toBe(false);
      expect(fs.existsSync(P2), `controller created ${P2}`).toBe(false);
      const rep = fs.readFileSync(report, 'utf8');
      expect(rep).toContain('lookup(');
      if (format === 'json') {
        const ev = events(r.stdout).filter((e) => e.event === 'task:result');
        const out = (task: string) => ev.filter((e) => e.task === task).map((e) => String(e.output ?? ''));
        for (const o of out('debug var')) expect(o).toContain(JSON.stringify(HOST_TEXT));
        for (const o of out('debug msg')) expect(o).toBe(`got ${HOST_TEXT}`);
        for (const o of out('debug the copy')) expect(o).toBe(`copy=${HOST_TEXT} inner=${HOST_TEXT}`);
        for (const o of out('loop results')) expect(o).toContain(JSON.stringify(HOST_TEXT));
        for (const o of out('another host\'s result through hostvars')) expect(o).toBe(`first=${HOST_TEXT} copied=${HOST_TEXT}`);
        for (const o of out('debug it')) expect(o).toContain(JSON.stringify(HOST_TEXT));
        for (const o of out('debug decoded')) expect(o).toContain(JSON.stringify(HOST_TEXT + '\n'));
        for (const o of out('the !unsafe value')) expect(o).toContain(JSON.stringify(UNSAFE_TEXT));
        for (const o of out('debug the !unsafe copy')) expect(o).toBe(`tagged=${UNSAFE_TEXT}`);
        expect(out('debug var')).toHaveLength(2);
        // changed_when read the host text as data
        expect(ev.filter((e) => e.task === 'read it').map((e) => e.status)).toEqual(['changed', 'changed']);
      } else {
        expect(r.stdout).toContain(`got ${HOST_TEXT}`);
        expect(r.stdout).toContain(`tagged=${UNSAFE_TEXT}`);
      }
    }
    // the module argument reached the host as text
    for (const h of lab.hosts) {
      expect((await lab.exec(h, ['cat', `${base}/${h.name}/written`])).stdout).toBe(HOST_TEXT + '\n');
    }
    expect(fs.existsSync(P)).toBe(false);
  });
});
