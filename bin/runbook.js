#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ (npm ci runs the build) so it starts fast.
// `runbook --version` / `-V` alone: answered before the CLI (commander, chalk, the engine) is imported at all.
// Otherwise the bundled CLI, dist/runbook.mjs (one file: no module resolution at start, docs/adr/0017), made by
// `npm run build` from tsc's output; dist/lib (one file per module) when there is no bundle, when the bundle is
// older than dist/lib (a `tsc` alone after the last `npm run build`), or with RUNBOOK_NO_BUNDLE=1.
import { statSync } from 'node:fs';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const { VERSION } = await import('../dist/lib/cli/version.js');
  process.stdout.write(`${VERSION}\n`);
} else {
  // a closed pipe (runbook ... | head) ends the output quietly
  process.stdout.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  const bundle = new URL('../dist/runbook.mjs', import.meta.url);
  const lib = new URL('../dist/lib/cli/main.js', import.meta.url);
  const mtime = (u) => statSync(u, { throwIfNoEntry: false })?.mtimeMs;
  const useBundle = !process.env.RUNBOOK_NO_BUNDLE && (mtime(bundle) ?? -Infinity) >= (mtime(lib) ?? -Infinity);
  const { main } = await import(useBundle ? bundle.href : lib.href);
  process.exitCode = await main(process.argv);
}
