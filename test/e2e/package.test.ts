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
const ESM = `
import { status, onShutdown } from 'oomguard';
process.stdout.write(JSON.stringify({ running: status() !== undefined, onShutdown: typeof onShutdown }));
`;

describe('installed from a packed tarball', () => {
  let files: string[] = [];
  beforeAll(() => {
    dist('register.js');
    // --ignore-scripts: the suite already runs on a fresh build; prepack would rebuild dist/.
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp.dir], { cwd: ROOT, encoding: 'utf8' });
    const [info] = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>;
    files = info!.files.map((f) => f.path);
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

  it('ships the build, both entry points for require and import, the CLI, README and LICENSE, and no tests', () => {
    for (const f of ['dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/register.js', 'dist/register.mjs', 'dist/cli.js', 'README.md', 'LICENSE', 'package.json']) {
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

  it('npx oomguard doctor prints the configuration and the limits', () => {
    const out = execFileSync('npx', ['--no-install', 'oomguard', 'doctor'], { cwd: app, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME } });
    expect(out).toMatch(/heap budget/);
    expect(out).toMatch(/memory limit/);
    expect(out).toMatch(/heap threshold\s+75%/);
  });
});
