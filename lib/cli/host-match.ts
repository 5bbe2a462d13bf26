/**
 * Host patterns given on the command line that leave no host to target (`--limit webz`, `runbook run webz`,
 * `runbook role R webz`) are errors, exit 1, before any host is contacted: ansible-playbook stops the same way
 * ("Specified inventory, host pattern and/or --limit leaves us with no hosts to target."). The message names the
 * pattern, the terms of it that match nothing, and the closest host or group name. A play's own `hosts:` that
 * matches nothing is not an error (the executor warns as Ansible does and goes on).
 */
import { ConfigErrors, RunbookError } from '../errors.js';
import type { Inventory } from '../inventory/index.js';
import { closestName, unmatchedTerms } from '../inventory/patterns.js';

const LOCALHOST = /(^|[:,])(localhost|127\.0\.0\.1)($|[:,])/;

function names(inv: Inventory): string[] {
  return [...inv.groups.keys(), ...inv.hosts.keys()];
}

/** Why a pattern selected nothing: its unmatched terms, each with a did-you-mean. */
export function explainNoMatch(inv: Inventory, pattern: string): string {
  let terms: string[] = [];
  try {
    terms = unmatchedTerms(pattern, (a) => inv.selectHosts(a));
  } catch {
    /* a malformed pattern is reported by preflight */
  }
  const all = names(inv);
  const parts = terms.map((t) => {
    const hint = closestName(t, all);
    return `"${t}" matches no host or group${hint ? ` (did you mean "${hint}"?)` : ''}`;
  });
  if (parts.length) return parts.join('; ');
  return inv.hosts.size ? 'its terms together exclude every host' : 'the inventory has no hosts';
}

function selects(inv: Inventory, pattern: string): boolean | undefined {
  try {
    return inv.selectHosts(pattern).length > 0 || LOCALHOST.test(pattern);
  } catch {
    return undefined; // malformed: preflight reports it
  }
}

/**
 * ConfigErrors when `--limit` (with the ad hoc pattern, for `runbook run` and `runbook role`) leaves no host.
 * Called after the inventory loaded and before any host is contacted.
 */
export function checkTargets(inv: Inventory, limit: string | undefined, adhocPattern?: string): void {
  const errors: RunbookError[] = [];
  // a term of a limit that still selects hosts: Ansible's warning, on stderr before the run
  if (limit !== undefined && selects(inv, limit)) {
    for (const t of unmatchedTerms(limit, (a) => inv.selectHosts(a))) process.stderr.write(`[WARNING]: Could not match supplied host pattern, ignoring: ${t}\n`);
  }
  if (limit !== undefined && selects(inv, limit) === false) {
    errors.push(new RunbookError('bad_pattern', `--limit "${limit}" leaves no hosts to target: ${explainNoMatch(inv, limit)}`));
  }
  if (adhocPattern !== undefined && selects(inv, adhocPattern) === false) {
    errors.push(new RunbookError('bad_pattern', `host pattern "${adhocPattern}" leaves no hosts to target: ${explainNoMatch(inv, adhocPattern)}`));
  } else if (!errors.length && adhocPattern !== undefined && limit !== undefined) {
    let both: string[] = [];
    try {
      const lim = new Set(inv.selectHosts(limit));
      both = inv.selectHosts(adhocPattern).filter((h) => lim.has(h));
    } catch {
      both = ['(malformed)'];
    }
    if (!both.length && !LOCALHOST.test(adhocPattern)) {
      errors.push(new RunbookError('bad_pattern', `host pattern "${adhocPattern}" with --limit "${limit}" leaves no hosts to target: no host matches both`));
    }
  }
  if (errors.length) throw new ConfigErrors(errors);
}
