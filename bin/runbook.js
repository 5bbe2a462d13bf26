#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ (npm ci runs the build) so it starts fast.
// `runbook --version` / `-V` alone: answered before the CLI (commander, chalk, the engine) is imported at all.
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
  const { main } = await import('../dist/lib/cli/main.js');
  process.exitCode = await main(process.argv);
}
