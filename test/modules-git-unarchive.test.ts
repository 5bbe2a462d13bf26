/**
 * git and unarchive over real SSH on a lab host. The test makes a bare git repository and a tar.gz in /tmp (shared
 * with the lab hosts); the play clones the repository by a file:// URL and unpacks the controller-side archive (sent
 * to the host) into directories under that /tmp dir. --check predicts exactly what apply changes and writes
 * nothing; apply; a second apply changes nothing. Then a new commit in the repository and a changed member in the
 * archive: check says both change, apply updates both, and again nothing changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../lib/lab/lab.js';
import { cliAsync, events } from './helpers.js';

const CHANGING = ['checkout', 'unpack'];

describe('git and unarchive over SSH', () => {
  let lab: Lab;
  let inv: string;
  let dir: string;
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=rbk@example.invalid', '-c', 'user.name=rbk', '-c', 'init.defaultBranch=main', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const commit = (file: string, text: string, msg: string) => {
    fs.writeFileSync(path.join(dir, 'work', file), text);
    git('-C', path.join(dir, 'work'), 'add', '-A');
    git('-C', path.join(dir, 'work'), 'commit', '-q', '-m', msg);
    git('-C', path.join(dir, 'work'), 'push', '-q', 'origin', 'main');
    return git('-C', path.join(dir, 'work'), 'rev-parse', 'HEAD');
  };
  const archive = (version: string) => {
    const tree = path.join(dir, 'tree');
    fs.rmSync(tree, { recursive: true, force: true });
    fs.mkdirSync(path.join(tree, 'app/conf'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'app/VERSION'), `${version}\n`);
    fs.writeFileSync(path.join(tree, 'app/conf/app.conf'), 'listen = 8080\n');
    fs.symlinkSync('conf/app.conf', path.join(tree, 'app/current.conf'));
    execFileSync('tar', ['-czf', path.join(dir, 'play/app.tar.gz'), '-C', tree, 'app']);
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync('/tmp/rbk-gitun-');
    fs.mkdirSync(path.join(dir, 'play'));
    fs.mkdirSync(path.join(dir, 'out'));
    git('init', '-q', '--bare', path.join(dir, 'src.git'));
    git('clone', '-q', path.join(dir, 'src.git'), path.join(dir, 'work'));
    archive('1.0');
    fs.writeFileSync(path.join(dir, 'play/play.yml'), [
      '- hosts: all',
      '  gather_facts: false',
      '  tasks:',
      '    - name: checkout',
      '      ansible.builtin.git:',
      `        repo: file://${dir}/src.git`,
      `        dest: ${dir}/checkout`,
      '        version: main',
      '      register: co',
      '    - name: unpack',
      '      ansible.builtin.unarchive:',
      '        src: app.tar.gz',
      `        dest: ${dir}/out`,
      '        mode: "0750"',
      '    - name: after',
      '      ansible.builtin.debug:',
      '        msg: "{{ co.before }} {{ co.after }}"',
      '',
    ].join('\n'));
    lab = await Lab.create({ name: 'gitun', hosts: 1 });
    inv = path.join(lab.dir, 'gitun-inventory.yml');
    fs.writeFileSync(inv, lab.inventoryYaml());
  }, 300_000);
  afterAll(async () => {
    await lab?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  const run = async (check: boolean) => {
    const r = await cliAsync(['apply', path.join(dir, 'play/play.yml'), '-i', inv, '--format', 'json', ...(check ? ['--check'] : [])], { timeoutMs: 400_000 });
    const ev = events(r.stdout).filter((e) => e.event === 'task:result');
    return { r, ev, changed: ev.filter((e) => e.status === 'changed').map((e) => e.task as string) };
  };
  const sh = async (cmd: string) => (await lab.exec(lab.hosts[0]!, ['sh', '-c', cmd])).stdout;
  const observe = () => sh(`cd ${dir} && (git -C checkout rev-parse HEAD; cat checkout/README; find out -printf '%p %m %s %l\\n' | sort; cat out/app/VERSION) 2>&1; true`);

  it('--check predicts apply and writes nothing; apply; again changes nothing; a new commit and a changed member change again', async () => {
    const first = commit('README', 'one\n', 'one');
    for (const [round, sha, version] of [[1, first, '1.0'], [2, '', '1.0.1']] as const) {
      let want = sha;
      if (round === 2) {
        want = commit('README', 'two, longer\n', 'two');
        archive(version);
      }
      const before = await observe();
      const check = await run(true);
      expect(check.r.code, check.r.stderr + check.r.stdout).toBe(0);
      expect(check.changed).toEqual(CHANGING);
      expect(await observe(), '--check changes nothing').toBe(before);

      const apply = await run(false);
      expect(apply.r.code, apply.r.stderr + apply.r.stdout).toBe(0);
      expect(apply.changed).toEqual(CHANGING);
      expect(await sh(`git -C ${dir}/checkout rev-parse HEAD; git -C ${dir}/checkout symbolic-ref --short HEAD`)).toBe(`${want}\nmain\n`);
      expect(fs.readFileSync(path.join(dir, 'checkout/README'), 'utf8')).toBe(round === 1 ? 'one\n' : 'two, longer\n');
      expect(fs.readFileSync(path.join(dir, 'out/app/VERSION'), 'utf8')).toBe(`${version}\n`);
      expect(fs.readlinkSync(path.join(dir, 'out/app/current.conf'))).toBe('conf/app.conf');
      expect((fs.statSync(path.join(dir, 'out/app/conf/app.conf')).mode & 0o7777).toString(8)).toBe('750');
      const msg = apply.ev.find((e) => e.task === 'after');
      expect(JSON.stringify(msg)).toContain(round === 1 ? ` ${want}` : `${first} ${want}`);

      const again = await run(false);
      expect(again.r.code, again.r.stderr + again.r.stdout).toBe(0);
      expect(again.changed, 'a second apply changes nothing').toEqual([]);
      expect((await run(true)).changed).toEqual([]);
    }
  }, 900_000);

  it('local modifications without force fail as Ansible', async () => {
    fs.appendFileSync(path.join(dir, 'checkout/README'), 'local edit\n');
    const r = await run(true);
    expect(r.r.code).not.toBe(0);
    const co = r.ev.find((e) => e.task === 'checkout')!;
    expect(co.status).toBe('failed');
    expect(JSON.stringify(co)).toContain(`Local modifications exist in the destination: ${dir}/checkout (force=no).`);
  }, 600_000);
});
