// Build: `src/` -> `dist/` with tsc (every module and its types), then esbuild replaces the
// modules on the start-up path with one file each, then the CLI is made executable.
//
// One CommonJS build serves both `require` and `import` (the .mts entries re-export it), so an
// app that mixes both module systems still gets exactly one agent.
//
// Why bundle: the preload runs in every node process NODE_OPTIONS reaches, and for a short one
// most of its cost is loading code: resolving, reading and compiling each file (BENCHMARKS.md,
// figure 4). So each step of the start-up (agent.ts) loads one file: `register.js` (the preload),
// `api.js` (the public API, one instance shared by the preload, `require('oomguard')` and
// `import 'oomguard'`), `config.js` (the parsers: only where an OOMGUARD_*/OTEL_* variable is
// set or `start()` is called) and `guard.js` (the guard itself, on the first turn of the event
// loop). Each bundle leaves the others, and every package, to `require` at run time, so a
// module whose identity matters (the `OomguardConfigError` class in config.js, the slot in
// api.js) exists once. What stays as tsc wrote it: index.js and the .mjs entries (a few lines),
// telemetry/ (loaded seconds later, next to its node_modules), cli.js, and the types.
//
// tsc writes into a fresh directory that then replaces dist/ in one rename, so a test run (or a
// running demo) never sees a half-built or missing dist/.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const out = join(root, `.dist-${process.pid}`);
const old = join(root, `.dist-old-${process.pid}`);

/** Each bundle: its entry, and the relative imports it leaves to run time (other bundles, lazy loads). */
const BUNDLES = [
  { entry: 'register', separate: ['./api', './config'] },
  { entry: 'api', separate: ['./config', './guard', './telemetry', './units', '../package.json'] },
  { entry: 'config', separate: [] },
  { entry: 'guard', separate: ['./telemetry'] },
];

/** An esbuild plugin: these relative imports stay `require()` calls to the file tsc wrote. */
function separate(paths) {
  return {
    name: 'separate',
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => (paths.includes(args.path) ? { path: args.path, external: true } : undefined));
    },
  };
}

async function bundle() {
  const esbuild = require('esbuild');
  for (const { entry, separate: paths } of BUNDLES) {
    await esbuild.build({
      entryPoints: [join(root, 'src', `${entry}.ts`)],
      outfile: join(out, `${entry}.js`),
      allowOverwrite: true,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node22',
      packages: 'external',
      plugins: [separate(paths)],
      // Whitespace and syntax only: names stay, so a stack trace in a report still reads.
      minifyWhitespace: true,
      minifySyntax: true,
      legalComments: 'none',
      banner: { js: `// oomguard: src/${entry}.ts and what it imports, bundled by scripts/build.mjs; the sources are in the repository.` },
      logLevel: 'warning',
    });
  }
}

try {
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.json'), '--outDir', out],
    { stdio: 'inherit', cwd: root },
  );
  await bundle();
  chmodSync(join(out, 'cli.js'), 0o755);
  const dist = join(root, 'dist');
  if (existsSync(dist)) renameSync(dist, old);
  renameSync(out, dist);
} catch (err) {
  process.exitCode = 1;
  if (err.status === undefined) console.error(err);
} finally {
  rmSync(out, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
}
