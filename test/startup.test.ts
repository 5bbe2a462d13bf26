/**
 * Start-up levers (issue 16, bench/startup.js): the subnet constants written out so that ip-num loads only when a
 * subnet is parsed are the ones ip-num parses; `runbook --version` / `-V` answer from bin/runbook.js's fast path.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { PODMAN_DEFAULT_SUBNET, RFC1918, ULA, parseSubnet } from '../lib/net/subnets.js';
import { cli, ROOT } from './helpers.js';

describe('start-up', () => {
  it('the written-out subnet constants equal what parseSubnet makes of them', () => {
    for (const c of [...RFC1918, ULA, PODMAN_DEFAULT_SUBNET]) expect(c).toEqual(parseSubnet(c.cidr));
  });

  it('--version and -V print package.json\'s version; with other arguments the full CLI answers', () => {
    const version = JSON.parse(fs.readFileSync(`${ROOT}/package.json`, 'utf8')).version;
    for (const flag of ['--version', '-V']) {
      const r = cli([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
    const help = cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/report/);
    expect(help.stdout).toMatch(/apply/);
  });
});
