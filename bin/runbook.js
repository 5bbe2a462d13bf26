#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ (npm ci runs the build) so it starts fast.
// a closed pipe (runbook ... | head) ends the output quietly
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

import { main } from '../dist/lib/cli/main.js';

const code = await main(process.argv);
process.exitCode = code;
