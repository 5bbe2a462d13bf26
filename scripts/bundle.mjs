#!/usr/bin/env node
// The bundled CLI (issue 16, docs/adr/0017-bundled-build.md): dist/runbook.mjs, one ESM file made by esbuild from
// tsc's output (dist/lib/cli/main.js), so a run resolves and opens one file instead of ~460. bin/runbook.js loads
// it when present. Run after tsc (`npm run build` does both); dist/lib stays as it is (the tests import it).
//
//   node scripts/bundle.mjs [--metafile]
//
// esbuild is a devDependency: found in node_modules first, then on $ESBUILD_PATH (a directory holding an esbuild
// install, for trying the bundle without one in node_modules).
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const ENTRY = path.join(DIST, 'lib', 'cli', 'main.js');
const OUT = path.join(DIST, 'runbook.mjs');

async function loadEsbuild() {
  const bases = [ROOT, ...(process.env.ESBUILD_PATH ? [process.env.ESBUILD_PATH] : [])];
  for (const base of bases) {
    try {
      const p = createRequire(path.join(base, 'package.json')).resolve('esbuild');
      return await import(pathToFileURL(p).href);
    } catch {
      // next place
    }
  }
  throw new Error('scripts/bundle: esbuild is not installed (npm install: it is a devDependency)');
}

// Not bundled, loaded from node_modules at run time (so they stay in package.json's dependencies):
//  - ssh2: its optional native parts are found relative to its own files (lib/protocol/crypto/build/Release/
//    sshcrypto.node, the cpu-features package); bundled, they would be silently lost (pure-JS fallbacks instead).
//  - minijinja-js: reads its .wasm from its own directory (__dirname).
//  - age-encryption is not imported at all: lib/vars/sops.ts resolves it and loads it in a worker, by URL.
const EXTERNAL = ['ssh2', 'minijinja-js'];

// ajv (lib/playbook/validate.ts) and ip-num (lib/net/subnets.ts) are CommonJS required on first use through
// `createRequire(import.meta.url)(name)`, which esbuild cannot follow. In the bundle that call becomes a plain
// `require(name)`: esbuild bundles the package and keeps it lazy (a CommonJS module in an esbuild bundle runs when
// first required), so the first use still pays only the module's evaluation, not resolving ~90 files.
const lazyRequire = {
  name: 'lazy-require',
  setup(build) {
    build.onLoad({ filter: /[\\/]dist[\\/]lib[\\/].*\.js$/ }, async (args) => {
      const src = await fs.promises.readFile(args.path, 'utf8');
      if (!src.includes('createRequire(import.meta.url)(')) return undefined;
      return { contents: src.replaceAll('createRequire(import.meta.url)(', 'require('), loader: 'js' };
    });
  },
};

// An ES import of an external package is hoisted to the top of the bundle, so it would load at every start even when
// only a lazily loaded part of the CLI uses it. These stay lazy:
//  - node-ssh: bundled from its CommonJS build (its ES build imports ssh2 at the top), so ssh2 is required when a
//    connection module is first evaluated, not when `runbook --help` or `--syntax-check` starts;
//  - minijinja-js: imported through a small CommonJS shim, so its WebAssembly is compiled when the templating module
//    is first evaluated.
const lazyExternals = {
  name: 'lazy-externals',
  setup(build) {
    const req = createRequire(ENTRY);
    build.onResolve({ filter: /^node-ssh$/ }, () => ({ path: req.resolve('node-ssh') }));
    build.onResolve({ filter: /^minijinja-js$/ }, (args) =>
      args.namespace === 'lazy-external' ? { path: args.path, external: true } : { path: args.path, namespace: 'lazy-external' },
    );
    build.onLoad({ filter: /.*/, namespace: 'lazy-external' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};

export async function bundle({ metafile = false } = {}) {
  if (!fs.existsSync(ENTRY)) throw new Error(`scripts/bundle: ${path.relative(ROOT, ENTRY)} is missing; run tsc first`);
  fs.rmSync(OUT, { force: true }); // never leave an older bundle behind a failed build
  const esbuild = await loadEsbuild();
  const r = await esbuild.build({
    entryPoints: [ENTRY],
    outfile: OUT,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    plugins: [lazyRequire, lazyExternals],
    // bundled CommonJS code (node-ssh, yaml, diff ...) requires the external ssh2 and Node's built-ins: in an ES
    // module that needs a real `require`
    banner: { js: "import { createRequire as __rbCreateRequire } from 'node:module';\nconst require = __rbCreateRequire(import.meta.url);" },
    // one file: dynamic imports (the commands, the live view) stay lazy inside it
    splitting: false,
    legalComments: 'none',
    // fewer bytes to read, decode and parse at every start (identifiers kept: error and class names stay readable)
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'external',
    metafile,
    logLevel: 'warning',
  });
  // lib/modules/ansible-args.ts and lib/playbook/ansible-names.ts read their data next to the module that reads them:
  // for the bundle, that is dist/
  for (const f of ['lib/modules/ansible-args.json', 'lib/playbook/ansible-modules.json']) fs.copyFileSync(path.join(ROOT, f), path.join(DIST, path.basename(f)));
  if (metafile) fs.writeFileSync(path.join(DIST, 'runbook.meta.json'), JSON.stringify(r.metafile));
  return r;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await bundle({ metafile: process.argv.includes('--metafile') });
}
