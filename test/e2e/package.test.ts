/**
 * What a user does: `npm install oomguard` (here: from a packed tarball of this repo) into a
 * fresh project, then the three preload forms, the API and `npx oomguard doctor`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChild, tempDir, why } from '../helpers/child';
import { dist, ROOT } from '../helpers/dist';

const tmp = tempDir('oomguard-pkg-');
afterAll(() => tmp.remove());
const app = join(tmp.dir, 'app');

const LEAKY_CJS = `
const { onShutdown } = require('oomguard');
const fs = require('node:fs');
onShutdown(() => fs.writeFileSync(process.env.MARKER, 'flushed'));
const kept = [];
setInterval(() => { const a = new Array(20000); for (let i = 0; i < a.length; i++) a[i] = { i, s: 'x' + i }; kept.push(a); }, 10);
`;
// An app on the current OpenTelemetry line: its own @opentelemetry/sdk-node, spans through the
// global API. It reports which copies of @opentelemetry/api the process loaded once the agent's
// telemetry is up too, and how many of its spans its exporter got.
const OTEL_APP = `
const { NodeSDK } = require('@opentelemetry/sdk-node');
const api = require('@opentelemetry/api');
const got = [];
const exporter = { export(spans, done) { got.push(...spans); done({ code: 0 }); }, shutdown: async () => {}, forceFlush: async () => {} };
const sdk = new NodeSDK({ serviceName: 'app', traceExporter: exporter, metricReaders: [], instrumentations: [] });
sdk.start();
const loaded = (part) => Object.keys(require.cache).filter((k) => k.includes(part));
const timer = setInterval(() => {
  // The agent's telemetry (loaded at once here: OOMGUARD_TELEMETRY_DELAY=0s) requires the API when its code loads.
  if (loaded('/oomguard/dist/telemetry/').length === 0) return;
  clearInterval(timer);
  for (let i = 0; i < 5; i++) api.trace.getTracer('app').startSpan('app.work').end();
  const copies = new Set(loaded('/@opentelemetry/api/').map((k) => k.slice(0, k.indexOf('/@opentelemetry/api/'))));
  sdk.shutdown().then(() => {
    process.stdout.write(JSON.stringify({ apiCopies: [...copies], spans: got.length }));
    process.exit(0);
  });
}, 50);
`;
const ESM = `
import { status, onShutdown } from 'oomguard';
process.stdout.write(JSON.stringify({ running: status() !== undefined, onShutdown: typeof onShutdown }));
`;

describe('installed from a packed tarball', () => {
  let files: string[] = [];
  let tarball = '';
  beforeAll(() => {
    dist('register.js');
    // --ignore-scripts: the suite already runs on a fresh build; prepack would rebuild dist/.
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp.dir], { cwd: ROOT, encoding: 'utf8' });
    const [info] = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>;
    files = info!.files.map((f) => f.path);
    tarball = join(tmp.dir, info!.filename);
    execFileSync('npm', ['init', '-y'], { cwd: tmp.dir, stdio: 'ignore' });
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'user-app', version: '1.0.0', private: true }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(tmp.dir, info!.filename)], {
      cwd: app,
      stdio: 'ignore',
      timeout: 240_000,
    });
    writeFileSync(join(app, 'leaky.js'), LEAKY_CJS);
    writeFileSync(join(app, 'app.mjs'), ESM);
  }, 300_000);

  it('ships the build, both entry points for require and import, the CLI, README, CHANGELOG and LICENSE, and no tests', () => {
    for (const f of ['dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/index.d.mts', 'dist/register.js', 'dist/register.mjs', 'dist/cli.js', 'README.md', 'CHANGELOG.md', 'LICENSE', 'package.json']) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => f.startsWith('test/') || f.startsWith('src/'))).toEqual([]);
  });

  it('node --require oomguard/register: a leaking app exits 2 with its hook run', async () => {
    const marker = join(tmp.dir, 'marker');
    const r = await runChild({
      args: ['--max-old-space-size=96', '--require', 'oomguard/register', 'leaky.js'],
      cwd: app,
      env: { MARKER: marker, OOMGUARD_METRICS_PORT: '0' },
      timeoutMs: 60_000,
    });
    expect(r.code, why(r)).toBe(2);
    expect(readFileSync(marker, 'utf8')).toBe('flushed');
  });

  it('NODE_OPTIONS="--require oomguard/register" works the same', async () => {
    const marker = join(tmp.dir, 'marker-opts');
    const r = await runChild({
      args: ['--max-old-space-size=96', 'leaky.js'],
      cwd: app,
      env: { MARKER: marker, NODE_OPTIONS: '--require oomguard/register', OOMGUARD_METRICS: 'none' },
      timeoutMs: 60_000,
    });
    expect(r.code, why(r)).toBe(2);
    expect(existsSync(marker)).toBe(true);
  });

  it('node --import oomguard/register with an ESM app: import { status } sees the running guard', async () => {
    const r = await runChild({ args: ['--import', 'oomguard/register', 'app.mjs'], cwd: app, env: { OOMGUARD_METRICS: 'none' }, timeoutMs: 20_000 });
    expect(r.code, why(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ running: true, onShutdown: 'function' });
  });

  it('types resolve for node10, node16 (require and import) and bundlers (attw, strict profile)', () => {
    const attw = join(ROOT, 'node_modules', '.bin', 'attw');
    // attw exits 1 on any problem (a "masquerading as CJS" entry point, an unresolvable subpath).
    const out = execFileSync(attw, [tarball, '--profile', 'strict', '--format', 'ascii', '--no-color'], { encoding: 'utf8' });
    expect(out).toMatch(/No problems found/);
  });

  it('names its repository, homepage and issue tracker, and declares @opentelemetry/api as a peer', () => {
    const pkg = JSON.parse(readFileSync(join(app, 'node_modules', 'oomguard', 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg.repository).toEqual({ type: 'git', url: 'git+https://github.com/oomguard/oomguard.git' });
    expect(pkg.homepage).toBe('https://github.com/oomguard/oomguard#readme');
    expect(pkg.bugs).toEqual({ url: 'https://github.com/oomguard/oomguard/issues' });
    expect(Object.keys(pkg.peerDependencies as object)).toEqual(['@opentelemetry/api']);
    expect(Object.keys(pkg.dependencies as object)).not.toContain('@opentelemetry/api');
  });

  it('next to an app on the current OpenTelemetry line (@opentelemetry/sdk-node), one @opentelemetry/api is installed and loaded, and the app keeps its spans', async () => {
    const otelApp = join(tmp.dir, 'otel-app');
    execFileSync('mkdir', ['-p', otelApp]);
    writeFileSync(join(otelApp, 'package.json'), JSON.stringify({ name: 'otel-app', version: '1.0.0', private: true }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, '@opentelemetry/sdk-node@^0.301.0'], {
      cwd: otelApp,
      stdio: 'ignore',
      timeout: 240_000,
    });
    const installed = execFileSync('npm', ['ls', '@opentelemetry/api', '--all', '--parseable'], { cwd: otelApp, encoding: 'utf8' });
    expect(new Set(installed.trim().split('\n'))).toEqual(new Set([join(otelApp, 'node_modules', '@opentelemetry', 'api')]));

    writeFileSync(join(otelApp, 'app.js'), OTEL_APP);
    const r = await runChild({
      args: ['--require', 'oomguard/register', 'app.js'],
      cwd: otelApp,
      env: { OOMGUARD_METRICS_PORT: '0', OOMGUARD_TELEMETRY_DELAY: '0s' },
      timeoutMs: 30_000,
    });
    expect(r.code, why(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ apiCopies: [join(otelApp, 'node_modules')], spans: 5 });
  }, 300_000);

  it('npx oomguard doctor prints the configuration and the limits', () => {
    const out = execFileSync('npx', ['--no-install', 'oomguard', 'doctor'], { cwd: app, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME } });
    expect(out).toMatch(/heap budget/);
    expect(out).toMatch(/memory limit/);
    expect(out).toMatch(/heap threshold\s+75%/);
  });
});
