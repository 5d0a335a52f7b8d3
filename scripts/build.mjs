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
// cli.js, telemetry/ (its bundle is an extra file) and the types.
//
// telemetry/bundle.js is telemetry/ with the OpenTelemetry SDK packages in it (their ESM builds,
// so unused exports are left out: ~400 KB instead of ~200 files and 1.2 MB): loading telemetry
// then takes ~9 MiB less RSS and half the CPU (BENCHMARKS.md, figure 11). The agent loads it
// unless OTLP is on (agent.ts, telemetryModule): the OTLP exporters are chosen by protocol at
// run time, as packages with their own copy of the SDK, so then telemetry/index.js (tsc's) loads
// the SDK as packages too, once. Left outside the bundle: `@opentelemetry/api` (the app and the
// agent must share its one global registry) and any package not listed in BUNDLED_PACKAGES (a
// new dependency stays a plain `require` until it is listed). The licences of what is bundled go
// to dist/THIRD-PARTY-NOTICES.md.
//
// tsc writes into a fresh directory that then replaces dist/ in one rename, so a test run (or a
// running demo) never sees a half-built or missing dist/.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
  { entry: 'api', separate: ['./config', './guard', './telemetry', './telemetry/bundle', './telemetry/gauges', './semconv', './units', '../package.json'] },
  { entry: 'config', separate: [] },
  { entry: 'guard', separate: ['./telemetry'] },
];

/**
 * Packages bundled into telemetry/bundle.js: the OpenTelemetry SDK the agent loads without OTLP
 * and what they import. Everything else stays a `require()` of node_modules.
 */
const BUNDLED_PACKAGES = new Set([
  '@opentelemetry/core',
  '@opentelemetry/resources',
  '@opentelemetry/semantic-conventions',
  '@opentelemetry/sdk-metrics',
  '@opentelemetry/sdk-trace',
  '@opentelemetry/sdk-logs',
  '@opentelemetry/exporter-prometheus',
  '@opentelemetry/instrumentation',
  '@opentelemetry/instrumentation-runtime-node',
  '@opentelemetry/instrumentation-host-metrics',
  'require-in-the-middle',
  'import-in-the-middle',
  'module-details-from-path',
  'debug',
  'ms',
  'supports-color',
  'has-flag',
  'systeminformation',
]);

const packageName = (specifier) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

/**
 * An esbuild plugin: bundle BUNDLED_PACKAGES, from their ESM build where they have one (a
 * `require()` would pick the CommonJS build, where every export stays), leave the rest external.
 */
function sdkPackages() {
  return {
    name: 'sdk-packages',
    setup(build) {
      // Bare specifiers only: relative paths and a package's own `#imports` resolve as usual.
      build.onResolve({ filter: /^[^./#]/ }, async (args) => {
        if (args.pluginData === 'esm-first') return undefined;
        if (!BUNDLED_PACKAGES.has(packageName(args.path))) return { path: args.path, external: true };
        const esm = await build.resolve(args.path, { kind: 'import-statement', resolveDir: args.resolveDir, pluginData: 'esm-first' });
        return esm.errors.length ? undefined : { path: esm.path };
      });
    },
  };
}

/** dist/THIRD-PARTY-NOTICES.md: each bundled package, its version and licence text. */
function writeNotices(metafile) {
  const packages = new Map();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (!m || packages.has(m[1])) continue;
    const dir = join(root, input.slice(0, m.index + m[0].length));
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const licenceFile = ['LICENSE', 'LICENSE.md', 'license', 'LICENSE.txt'].map((f) => join(dir, f)).find((f) => existsSync(f));
    const notice = existsSync(join(dir, 'NOTICE')) ? readFileSync(join(dir, 'NOTICE'), 'utf8').trim() : undefined;
    packages.set(m[1], { version: pkg.version, licence: pkg.license, text: licenceFile ? readFileSync(licenceFile, 'utf8').trim() : '', notice });
  }
  const lines = ['# Third-party notices', '', 'dist/telemetry/bundle.js bundles these packages (scripts/build.mjs):', ''];
  for (const [name, p] of [...packages].sort()) lines.push(`- ${name} ${p.version} (${p.licence})`);
  // Each licence text once, with the packages it covers.
  const byText = new Map();
  for (const [name, p] of [...packages].sort()) byText.set(p.text, [...(byText.get(p.text) ?? []), name]);
  for (const [text, names] of byText) lines.push('', `## ${names.join(', ')}`, '', '```', text, '```');
  for (const [name, p] of [...packages].sort()) if (p.notice) lines.push('', `## NOTICE of ${name}`, '', '```', p.notice, '```');
  writeFileSync(join(out, 'THIRD-PARTY-NOTICES.md'), lines.join('\n'));
}

/**
 * An esbuild plugin: these relative imports stay `require()` calls to the file tsc wrote. None of
 * the package's modules does anything on import (but register.ts), so one imported for a name
 * the bundle never uses is not required at all.
 */
function separate(paths) {
  return {
    name: 'separate',
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => (paths.includes(args.path) ? { path: args.path, external: true, sideEffects: false } : undefined));
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
  const telemetry = await esbuild.build({
    entryPoints: [join(root, 'src', 'telemetry', 'index.ts')],
    outfile: join(out, 'telemetry', 'bundle.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    plugins: [sdkPackages()],
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    metafile: true,
    banner: { js: '// oomguard: src/telemetry/ and the OpenTelemetry SDK packages it loads without OTLP, bundled by scripts/build.mjs; their licences are in dist/THIRD-PARTY-NOTICES.md.' },
    logLevel: 'warning',
  });
  writeNotices(telemetry.metafile);
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
