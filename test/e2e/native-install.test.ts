/**
 * A new user's `npm install` on a machine with no compiler (PATH holds node, npm and sh only) and
 * no network beyond the registry: the prebuilt binary comes with the package and loads; where no
 * binary loads and nothing can be built, the install hook says so in one line and the install
 * still succeeds.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChild, tempDir, why } from '../helpers/child';
import { dist, ROOT } from '../helpers/dist';

const tmp = tempDir('oomguard-native-install-');
afterAll(() => tmp.remove());
const app = join(tmp.dir, 'app');
const bin = join(tmp.dir, 'bin');
const installed = join(app, 'node_modules', 'oomguard');
const which = (cmd: string) => execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();
/** PATH with node, npm and sh only: no cc, c++, g++, make or python. */
const env = () => ({ PATH: bin, HOME: process.env.HOME ?? '/root', npm_config_cache: join(process.env.HOME ?? '/root', '.npm') });

describe('npm install with no compiler', () => {
  beforeAll(() => {
    dist('native.js');
    mkdirSync(bin);
    for (const cmd of ['node', 'npm', 'sh']) symlinkSync(which(cmd), join(bin, cmd));
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp.dir], { cwd: ROOT, encoding: 'utf8' });
    const [info] = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>;
    expect(info!.files.map((f) => f.path)).toContain('prebuilds/linux-x64/oomguard.glibc.node');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'user-app', version: '1.0.0', private: true }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(tmp.dir, info!.filename)], {
      cwd: app,
      env: env(),
      stdio: 'ignore',
      timeout: 240_000,
    });
  }, 300_000);

  it('the prebuilt binary is installed and loads: the native part is active', async () => {
    const r = await runChild({
      args: ['-p', `JSON.stringify(require(${JSON.stringify(join(installed, 'dist', 'native.js'))}).loadNative('auto'))`],
      cwd: app,
      env: env(),
      timeoutMs: 20_000,
    });
    expect(r.code, why(r)).toBe(0);
    const s = JSON.parse(r.stdout) as { active: boolean; path: string };
    expect(s.active).toBe(true);
    expect(s.path).toBe(join(installed, 'prebuilds', 'linux-x64', 'oomguard.glibc.node'));
  });

  it('no loadable binary and no compiler: the install hook prints one line and exits 0; the JavaScript mode says why', async () => {
    const copy = join(tmp.dir, 'no-prebuilt');
    cpSync(installed, copy, { recursive: true });
    rmSync(join(copy, 'prebuilds'), { recursive: true });
    const hook = await runChild({ args: [join(copy, 'scripts', 'install-native.js')], cwd: copy, env: env(), timeoutMs: 120_000 });
    expect(hook.code, why(hook)).toBe(0);
    expect(hook.stderr.trim().split('\n')).toHaveLength(1);
    expect(hook.stderr).toMatch(/^oomguard: the native part could not be built \(.*\); the guard runs in its JavaScript mode$/m);
    const r = await runChild({
      args: ['-p', `require(${JSON.stringify(join(copy, 'dist', 'native.js'))}).loadNative('auto').reason`],
      env: env(),
      timeoutMs: 20_000,
    });
    expect(r.stdout).toMatch(/no binary for linux-x64/);
  });
});
