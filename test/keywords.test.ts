/**
 * Ansible's task/block/play keywords with Ansible's semantics, each proven over SSH against one lab of 3 hosts.
 * Every playbook writes what it saw into per-host files; the assertions read those files on the hosts and the JSON
 * events of the run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { cliAsync, events } from './helpers.js';

let lab: Lab;
let inv: string;
const base = `/tmp/rbk-kw-${process.pid}`;
const pbDir = path.join(base, 'pb');
let H: string[] = [];

function pb(name: string, text: string): string {
  const f = path.join(pbDir, name);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, text.replaceAll('@B@', `${base}/{{ inventory_hostname }}`).replaceAll('@BASE@', base));
  return f;
}

async function run(file: string, ...extra: string[]) {
  const r = await cliAsync(['apply', file, '-i', inv, '--format', 'json', ...extra]);
  const ev = events(r.stdout);
  const results = ev.filter((e) => e.event === 'task:result');
  const recap = ev.find((e) => e.event === 'run:end')?.recap as Record<string, any>[] | undefined;
  return { ...r, ev, results, recap, of: (task: string, host?: string) => results.filter((e) => e.task === task && (host === undefined || e.host === host)) };
}

async function cat(host: string, file: string): Promise<string | undefined> {
  const h = lab.hosts.find((x) => x.name === host)!;
  const r = await lab.exec(h, ['cat', `${base}/${host}/${file}`]);
  return r.code === 0 ? r.stdout : undefined;
}

beforeAll(async () => {
  lab = await Lab.create({ name: 'kw', hosts: 3 });
  inv = path.join(lab.dir, 'kw-inventory.yml');
  fs.writeFileSync(inv, lab.inventoryYaml());
  H = lab.hosts.map((h) => h.name);
  fs.mkdirSync(base, { recursive: true });
  fs.chmodSync(base, 0o1777);
  for (const h of H) fs.mkdirSync(path.join(base, h), { recursive: true, mode: 0o777 });
  for (const h of H) fs.chmodSync(path.join(base, h), 0o777);
});

afterAll(async () => {
  await lab?.destroy();
  fs.rmSync(base, { recursive: true, force: true });
});

describe('task keywords over SSH', () => {
  it('when, register, changed_when, failed_when, environment (play/block/task), loop + loop_control, no_log, become_user, vars, until/retries/delay, notify/listen', async () => {
    const f = pb(
      'basic.yml',
      `- hosts: all
  gather_facts: false
  environment: { PLAY_ENV: play, OVER: play }
  vars:
    B: "@B@"
  tasks:
    - name: when per host
      command: touch @B@/when
      when: inventory_hostname != groups['all'][0]
    - name: register + changed_when
      command: echo hello
      register: echo_out
      changed_when: "'hello' in echo_out.stdout and inventory_hostname == groups['all'][1]"
    - name: failed_when
      command: sh -c 'echo out; exit 3'
      register: rc3
      failed_when: rc3.rc != 3
    - name: env block
      environment: { BLOCK_ENV: block, OVER: block }
      block:
        - name: env
          command: sh -c 'echo "$PLAY_ENV $BLOCK_ENV $TASK_ENV $OVER"'
          environment: { TASK_ENV: task, OVER: task }
          register: envs
          changed_when: false
    - name: loop
      copy:
        dest: "{{ B }}/loop-{{ it.n }}"
        content: "{{ idx }} {{ ansible_loop.index }} {{ ansible_loop.last }} {{ it.n }}\\n"
      loop: [{ n: a }, { n: b }]
      loop_control: { loop_var: it, index_var: idx, label: "{{ it.n }}" }
      notify: loop changed
    - name: secret
      command: echo topsecret-value-42
      no_log: true
      register: hidden
      changed_when: false
    - name: become_user
      command: id -un
      become: true
      become_user: nobody
      register: who_b
      changed_when: false
    - name: task vars
      command: echo {{ tv }}
      vars: { tv: taskvar }
      register: tvr
      changed_when: false
    - name: until
      shell: "n=$(cat {{ B }}/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > {{ B }}/count; echo $n"
      register: cnt
      until: cnt.stdout | int >= 3
      retries: 5
      delay: 0
    - name: loop until
      shell: "n=$(cat {{ B }}/c-{{ item }} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {{ B }}/c-{{ item }}; echo $n"
      loop: [x, y]
      register: lu
      until: lu.stdout | int >= 2
      retries: 3
      delay: 0
    - name: summary
      copy:
        dest: "{{ B }}/summary"
        content: |
          echo={{ echo_out.stdout }} changed={{ echo_out.changed }}
          rc3={{ rc3.rc }} failed={{ rc3.failed }}
          env={{ envs.stdout }}
          who={{ who_b.stdout }}
          tv={{ tvr.stdout }}
          cnt={{ cnt.stdout }} attempts={{ cnt.attempts }}
          lu={{ lu.results | map(attribute='stdout') | join(',') }}
          hidden={{ hidden.stdout }}
  handlers:
    - name: handler one
      listen: loop changed
      copy: { dest: "{{ B }}/handler", content: "ran\\n" }
    - name: loop changed
      copy: { dest: "{{ B }}/handler2", content: "ran\\n" }
`,
    );
    const r = await run(f);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const [h1, h2, h3] = H as [string, string, string];
    expect(r.of('when per host', h1)[0].status).toBe('skipped');
    expect(r.of('when per host', h2)[0].status).toBe('changed');
    expect(r.of('register + changed_when', h1)[0].status).toBe('ok');
    expect(r.of('register + changed_when', h2)[0].status).toBe('changed');
    expect(r.of('failed_when', h1)[0].status).toBe('changed');
    for (const h of H) {
      const s = (await cat(h, 'summary'))!;
      expect(s).toContain(`echo=hello changed=${h === h2 ? 'True' : 'False'}`);
      expect(s).toContain('rc3=3 failed=False');
      expect(s).toContain('env=play block task task');
      expect(s).toContain('who=nobody');
      expect(s).toContain('tv=taskvar');
      expect(s).toContain('cnt=3 attempts=3');
      expect(s).toContain('lu=2,2');
      expect(s).toContain('hidden=topsecret-value-42');
      expect(await cat(h, 'loop-a')).toBe('0 1 False a\n');
      expect(await cat(h, 'loop-b')).toBe('1 2 True b\n');
      // notify: the handler named like the topic and the one listening to it both ran, once
      expect(await cat(h, 'handler')).toBe('ran\n');
      expect(await cat(h, 'handler2')).toBe('ran\n');
    }
    expect(r.of('handler one')).toHaveLength(3);
    // loop_control.label is what is reported per item
    expect(r.stdout).not.toContain('topsecret-value-42');
    expect(r.of('secret', h1)[0].output ?? '').not.toContain('topsecret');
    // a second run: nothing changes except the counters, handlers do not run
    const again = await run(f);
    expect(again.code).toBe(0);
    expect(again.of('loop').every((e) => e.status === 'ok')).toBe(true);
    expect(again.of('handler one')).toHaveLength(0);
    void h3;
  });

  it('block/rescue/always with rescue statistics, ignore_errors, run_once + register for every host, delegate_to (with facts, localhost, with run_once)', async () => {
    const local = path.join(base, 'local');
    fs.mkdirSync(local, { recursive: true });
    const f = pb(
      'blocks.yml',
      `- hosts: all
  gather_facts: true
  vars:
    B: "@B@"
  tasks:
    - name: guarded
      block:
        - name: fails on the first host
          command: sh -c 'exit 1'
          when: inventory_hostname == groups['all'][0]
        - name: after the failure
          command: touch @B@/after
      rescue:
        - name: rescue
          copy: { dest: "@B@/rescued", content: "{{ ansible_failed_task.name | default('?') }}\\n" }
      always:
        - name: always
          copy: { dest: "@B@/always", content: "yes\\n" }
    - name: until never holds
      block:
        - name: never true
          command: echo 1
          register: nv
          until: nv.stdout == '2'
          retries: 2
          delay: 0
          changed_when: false
      rescue:
        - copy: { dest: "@B@/until-failed", content: "{{ ansible_failed_result.attempts }} {{ ansible_failed_result.failed }}\\n" }
    - name: ignored failure
      command: sh -c 'exit 2'
      ignore_errors: true
      when: inventory_hostname == groups['all'][1]
    - name: once
      command: readlink /proc/self/ns/net
      run_once: true
      register: once
      changed_when: false
    - name: delegated to the first host, with this host's variables
      shell: "echo {{ inventory_hostname }} >> @BASE@/delegated; readlink /proc/self/ns/net"
      delegate_to: "{{ groups['all'][0] }}"
      register: dlg
      changed_when: false
    - name: delegate facts
      copy:
        dest: "@B@/facts"
        content: "{{ hostvars[groups['all'][0]]['ansible_facts']['hostname'] | default('none') }} {{ ansible_facts['kernel'] == hostvars[groups['all'][2]]['ansible_kernel'] }}\\n"
    - name: to localhost, once
      shell: "echo {{ inventory_hostname }} {{ ansible_play_hosts | length }} $(readlink /proc/self/ns/net) >> ${local}/once"
      delegate_to: localhost
      run_once: true
    - name: to localhost, every host
      shell: "echo {{ inventory_hostname }} $(readlink /proc/self/ns/net) > ${local}/{{ inventory_hostname }}"
      delegate_to: localhost
    - name: summary
      copy:
        dest: "@B@/summary"
        content: "once={{ once.stdout }} dlg={{ dlg.stdout }}\\n"
`,
    );
    const r = await run(f);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const [h1, h2] = H as [string, string];
    // h1 failed inside the block, was rescued; the others finished the block; everyone ran always
    expect(await cat(h1, 'rescued')).toBe('fails on the first host\n');
    expect(await cat(h1, 'after')).toBeUndefined();
    for (const h of H.slice(1)) {
      expect(await cat(h, 'after')).toBe('');
      expect(await cat(h, 'rescued')).toBeUndefined();
    }
    for (const h of H) expect(await cat(h, 'always')).toBe('yes\n');
    const rc = (h: string) => r.recap!.find((x) => x.host === h)!;
    expect(rc(h1).failed).toBe(0);
    expect(rc(h1).rescued).toBe(2);
    expect(rc(h2).rescued).toBe(1);
    // until that never holds: the task fails after retries + 1 attempts
    for (const h of H) expect(await cat(h, 'until-failed')).toBe('3 True\n');
    expect(rc(h2).ignored).toBe(1);
    expect(rc(h2).failed).toBe(0);
    // run_once: one host ran it, every host got the registered result
    expect(r.of('once')).toHaveLength(1);
    // each host is its own network namespace: /proc/self/ns/net tells where a command really ran
    const nsOf = async (h: string) => (await lab.exec(lab.hosts.find((x) => x.name === h)!, ['readlink', '/proc/self/ns/net'])).stdout.trim();
    const ns1 = await nsOf(h1);
    const controller = fs.readlinkSync('/proc/self/ns/net');
    expect(ns1).not.toBe(await nsOf(h2));
    expect(fs.readFileSync(path.join(base, 'delegated'), 'utf8').trim().split('\n').sort()).toEqual([...H].sort());
    for (const h of H) {
      // run_once on the first host, registered for all; delegated commands ran on the first host
      expect(await cat(h, 'summary')).toBe(`once=${ns1} dlg=${ns1}\n`);
      expect((await cat(h, 'facts'))!).toMatch(/^\S+ True\n$/);
      expect(fs.readFileSync(path.join(local, h), 'utf8')).toBe(`${h} ${controller}\n`);
    }
    expect(r.of('delegated to the first host, with this host\'s variables').every((e) => e.delegated_to === h1)).toBe(true);
    // run_once + delegate_to localhost: exactly one line, written on the controller
    expect(fs.readFileSync(path.join(local, 'once'), 'utf8')).toBe(`${h1} 3 ${controller}\n`);
  });

  it('meta: flush_handlers, noop, end_host, end_play', async () => {
    const f = pb(
      'meta.yml',
      `- hosts: all
  gather_facts: false
  tasks:
    - name: notify
      command: "true"
      notify: mark
    - meta: flush_handlers
    - name: after flush
      shell: "test -f @B@/mark && echo seen > @B@/after-flush"
    - meta: noop
    - name: end this host
      meta: end_host
      when: inventory_hostname == groups['all'][0]
    - name: still running
      command: touch @B@/still
    - name: end the play
      meta: end_play
    - name: never
      command: touch @B@/never
  handlers:
    - name: mark
      command: touch @B@/mark
- hosts: all
  gather_facts: false
  tasks:
    - name: next play
      command: touch @B@/next-play
`,
    );
    const r = await run(f);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const [h1] = H as [string];
    for (const h of H) {
      expect(await cat(h, 'after-flush')).toBe('seen\n');
      expect(await cat(h, 'never')).toBeUndefined();
      expect(await cat(h, 'next-play')).toBe('');
      expect(await cat(h, 'still')).toBe(h === h1 ? undefined : '');
    }
  });

  it('check_mode (task true / false), --check', async () => {
    const f = pb(
      'check.yml',
      `- hosts: all
  gather_facts: false
  tasks:
    - name: never applied
      command: touch @B@/cm-true
      check_mode: true
    - name: always applied
      command: touch @B@/cm-false
      check_mode: false
    - name: register in check
      command: touch @B@/cm-normal
`,
    );
    const r = await run(f);
    expect(r.code, r.stderr).toBe(0);
    const c = await run(pb('check2.yml', fs.readFileSync(f, 'utf8').replaceAll('cm-', 'ck-')), '--check');
    expect(c.code, c.stderr).toBe(0);
    for (const h of H) {
      expect(await cat(h, 'cm-true')).toBeUndefined();
      expect(await cat(h, 'cm-false')).toBe('');
      expect(await cat(h, 'cm-normal')).toBe('');
      expect(await cat(h, 'ck-false')).toBe('');
      expect(await cat(h, 'ck-normal')).toBeUndefined();
    }
  });

  it('tags: selected, skipped, always, never; inherited through blocks, roles and import_tasks', async () => {
    fs.mkdirSync(path.join(pbDir, 'roles', 'tagged', 'tasks'), { recursive: true });
    fs.writeFileSync(path.join(pbDir, 'roles', 'tagged', 'tasks', 'main.yml'), `- name: in role\n  command: touch ${base}/{{ inventory_hostname }}/t-role\n`);
    fs.writeFileSync(path.join(pbDir, 'imported.yml'), `- name: imported\n  command: touch ${base}/{{ inventory_hostname }}/t-import\n`);
    const f = pb(
      'tags.yml',
      `- hosts: all
  gather_facts: false
  roles:
    - { role: tagged, tags: [web] }
  tasks:
    - import_tasks: imported.yml
      tags: [web]
    - block:
        - name: in block
          command: touch @B@/t-block
      tags: [web]
    - name: other
      command: touch @B@/t-other
      tags: [db]
    - name: always
      command: touch @B@/t-always
      tags: [always]
    - name: never
      command: touch @B@/t-never
      tags: [never, debug]
`,
    );
    const r = await run(f, '--tags', 'web');
    expect(r.code, r.stderr).toBe(0);
    for (const h of H) {
      for (const t of ['t-role', 't-import', 't-block', 't-always']) expect(await cat(h, t), t).toBe('');
      for (const t of ['t-other', 't-never']) expect(await cat(h, t), t).toBeUndefined();
    }
    const s = await run(f, '--skip-tags', 'web,always', '--tags', 'db,debug');
    expect(s.code).toBe(0);
    for (const h of H) {
      expect(await cat(h, 't-other')).toBe('');
      expect(await cat(h, 't-never')).toBe('');
    }
  });

  it('include_tasks on several hosts with vars and handlers notified inside; import_tasks and import_playbook with vars', async () => {
    fs.writeFileSync(
      path.join(pbDir, 'inc.yml'),
      `- name: included
  copy:
    dest: "${base}/{{ inventory_hostname }}/inc-{{ which }}"
    content: "{{ which }} {{ inventory_hostname }}\\n"
  notify: inc handler
`,
    );
    pb(
      'imported-play.yml',
      `- hosts: all
  gather_facts: false
  tasks:
    - name: imported play
      copy: { dest: "@B@/imp-play", content: "{{ colour }}\\n" }
`,
    );
    const f = pb(
      'include.yml',
      `- hosts: all
  gather_facts: false
  tasks:
    - name: include
      include_tasks: inc.yml
      vars: { which: one }
    - name: include only on two
      include_tasks: inc.yml
      vars: { which: two }
      when: inventory_hostname != groups['all'][0]
    - import_tasks: inc.yml
      vars: { which: three }
  handlers:
    - name: inc handler
      shell: "echo x >> @B@/inc-handler"
- import_playbook: imported-play.yml
  vars: { colour: blue }
`,
    );
    const r = await run(f);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const [h1] = H as [string];
    for (const h of H) {
      expect(await cat(h, 'inc-one')).toBe(`one ${h}\n`);
      expect(await cat(h, 'inc-two')).toBe(h === h1 ? undefined : `two ${h}\n`);
      expect(await cat(h, 'inc-three')).toBe(`three ${h}\n`);
      // notified by several included tasks: runs once
      expect(await cat(h, 'inc-handler')).toBe('x\n');
      expect(await cat(h, 'imp-play')).toBe('blue\n');
    }
  });
});
