/**
 * A new user's `npm install` of the packed package on a machine with no compiler (PATH holds
 * node, npm and sh only) and no network beyond the registry. The prebuilt binary needs no install
 * script: with install scripts skipped (`--ignore-scripts`, which is what npm's install-scripts
 * policy or pnpm do to a dependency nobody approved) it is found at run time and the native part
 * is active. Where install scripts run, the hook sees the prebuilt binary load, builds nothing and
 * prints nothing. Where no binary loads and nothing can be built, the hook says so in one line and
 * the install still succeeds.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChild, tempDir, why } from '../helpers/child';
import { dist, ROOT } from '../helpers/dist';

const tmp = tempDir('oomguard-native-install-');
afterAll(() => tmp.remove());
const bin = join(tmp.dir, 'bin');
let tarball = '';
const which = (cmd: string) => execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();
/** PATH with node, npm and sh only: no cc, c++, g++, make or python. */
const env = () => ({ PATH: bin, HOME: process.env.HOME ?? '/root', npm_config_cache: join(process.env.HOME ?? '/root', '.npm') });

/** A fresh app that installs the tarball with `flags`; returns the installed package's directory and npm's output. */
function install(name: string, flags: string[]): { installed: string; output: string } {
  const app = join(tmp.dir, name);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'user-app', version: '1.0.0', private: true }));
  const output = execFileSync('sh', ['-c', 'exec npm "$@" 2>&1', 'npm', 'install', '--no-audit', '--no-fund', '--prefer-offline', ...flags, tarball], {
    cwd: app,
    env: env(),
    encoding: 'utf8',
    timeout: 240_000,
  });
  return { installed: join(app, 'node_modules', 'oomguard'), output };
}

async function nativeStatus(installed: string): Promise<{ active: boolean; path?: string; reason: string }> {
  const r = await runChild({
    args: ['-p', `JSON.stringify(require(${JSON.stringify(join(installed, 'dist', 'native.js'))}).loadNative('auto'))`],
    cwd: installed,
    env: env(),
    timeoutMs: 20_000,
  });
  expect(r.code, why(r)).toBe(0);
  return JSON.parse(r.stdout) as { active: boolean; path?: string; reason: string };
}

describe('npm install with no compiler', () => {
  beforeAll(() => {
    dist('native.js');
    mkdirSync(bin);
    for (const cmd of ['node', 'npm', 'sh']) symlinkSync(which(cmd), join(bin, cmd));
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp.dir], { cwd: ROOT, encoding: 'utf8' });
    const [info] = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>;
    expect(info!.files.map((f) => f.path)).toContain('prebuilds/linux-x64/oomguard.glibc.node');
    tarball = join(tmp.dir, info!.filename);
  }, 60_000);

  it('with install scripts skipped, the prebuilt binary is found at run time: the native part is active', async () => {
    const { installed } = install('no-scripts', ['--ignore-scripts']);
    const s = await nativeStatus(installed);
    expect(s.active, s.reason).toBe(true);
    expect(s.path).toBe(join(installed, 'prebuilds', 'linux-x64', 'oomguard.glibc.node'));
    expect(existsSync(join(installed, 'build'))).toBe(false);
  }, 300_000);

  it('with install scripts run, the hook finds the prebuilt binary loads: nothing built, nothing printed, the native part is active', async () => {
    const { installed, output } = install('with-scripts', ['--foreground-scripts', '--loglevel=verbose']);
    // npm names each lifecycle script it runs: this proves the hook did run.
    expect(output).toMatch(/run oomguard@\S+ install node_modules\/oomguard node scripts\/install-native\.js/);
    expect(output).not.toMatch(/^oomguard: /m);
    expect(existsSync(join(installed, 'build'))).toBe(false);
    const s = await nativeStatus(installed);
    expect(s.active, s.reason).toBe(true);
    expect(s.path).toBe(join(installed, 'prebuilds', 'linux-x64', 'oomguard.glibc.node'));
  }, 300_000);

  it('no loadable binary and no compiler: the install hook prints one line and exits 0; the JavaScript mode says why', async () => {
    const { installed } = install('no-prebuilt', ['--ignore-scripts']);
    rmSync(join(installed, 'prebuilds'), { recursive: true });
    const hook = await runChild({ args: [join(installed, 'scripts', 'install-native.js')], cwd: installed, env: env(), timeoutMs: 120_000 });
    expect(hook.code, why(hook)).toBe(0);
    expect(hook.stderr.trim().split('\n')).toHaveLength(1);
    expect(hook.stderr).toMatch(/^oomguard: the native part could not be built \(.*\); the guard runs in its JavaScript mode$/m);
    const s = await nativeStatus(installed);
    expect(s.active).toBe(false);
    expect(s.reason).toMatch(/no binary for linux-x64/);
  }, 300_000);
});
