/** Tab completion: the generated bash script completes commands, options and role names in a real bash. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cli, ROOT } from './helpers.js';

function complete(script: string, words: string[]): string[] {
  const prog = `eval "$(cat)"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _runbook; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', prog], { input: script, cwd: ROOT, encoding: 'utf8', timeout: 10_000 });
  return r.stdout.split('\n').filter(Boolean);
}

describe('runbook completion', () => {
  const bash = cli(['completion', 'bash']);
  it('prints a bash script that completes commands, options and roles', () => {
    expect(bash.code).toBe(0);
    expect(complete(bash.stdout, ['runbook', 'ap'])).toEqual(['apply']);
    expect(complete(bash.stdout, ['runbook', 'apply', '--ch'])).toEqual(['--check']);
    expect(complete(bash.stdout, ['runbook', 'role', 'podman'])).toEqual(['podman-network']);
    expect(complete(bash.stdout, ['runbook', ''])).toEqual(expect.arrayContaining(['apply', 'role', 'run', 'inventory', 'vars', 'completion']));
  });
  it('zsh gets the same through bashcompinit; an unknown shell is an error', () => {
    expect(cli(['completion', 'zsh']).stdout).toMatch(/^#compdef runbook/);
    const bad = cli(['completion', 'fish']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/unknown shell "fish"/);
  });
});
