import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { mainScript, isLauncherCmdline, isLauncherScript, owningPackage, ProcessRole, type ClusterModule, type ClusterView } from '../../src/launcher';

describe('which main scripts are launchers', () => {
  it.each([
    ['/usr/bin/npm', '/usr/lib/node_modules/npm/bin/npm-cli.js'],
    ['/usr/bin/npx', '/usr/lib/node_modules/npm/bin/npx-cli.js'],
    ['/usr/lib/node_modules/npm/bin/npm-cli.js', undefined],
    ['/home/u/.nvm/versions/node/v22.1.0/bin/yarn', '/home/u/.nvm/versions/node/v22.1.0/lib/node_modules/yarn/bin/yarn.js'],
    ['/srv/app/.yarn/releases/yarn-4.5.0.cjs', undefined],
    ['/usr/local/bin/pnpm', '/usr/local/lib/node_modules/pnpm/bin/pnpm.cjs'],
    ['/usr/local/lib/node_modules/corepack/dist/yarn.js', undefined],
    ['/usr/local/lib/node_modules/@yarnpkg/cli-dist/bin/yarn.js', undefined],
  ])('%s is a package manager', (script, real) => {
    expect(isLauncherScript(script, real)).toBe(true);
  });

  it.each([
    ['/srv/app/server.js', '/srv/app/server.js'],
    // A tool npm ships in its own tree is that tool, not npm.
    ['/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js', undefined],
    ['/srv/app/node_modules/.bin/next', '/srv/app/node_modules/next/dist/bin/next'],
    ['/srv/npm/server.js', undefined],
    [undefined, undefined],
  ])('%s is not', (script, real) => {
    expect(isLauncherScript(script, real)).toBe(false);
  });

  it('a package manager run by a script is known by npm_execpath, wherever it is installed', () => {
    const self = __filename;
    expect(mainScript(self, { npm_execpath: self }).execpath).toBe(true);
    expect(mainScript(self, { npm_execpath: '/usr/lib/node_modules/npm/bin/npm-cli.js' }).execpath).toBe(false);
    expect(mainScript(self, {}).execpath).toBe(false);
    const role = new ProcessRole(view({}), mainScript(self, { npm_execpath: self }));
    expect(role.byScript).toBe(true);
  });

  it('the package of a script is the last node_modules entry of its path, with its scope', () => {
    expect(owningPackage('/a/node_modules/npm/node_modules/@scope/pkg/bin/x.js')).toBe('@scope/pkg');
    expect(owningPackage('/a/node_modules/npm/bin/npm-cli.js')).toBe('npm');
    expect(owningPackage('/srv/app.js')).toBeUndefined();
  });
});

describe('other processes, by their command line', () => {
  it.each([
    // npm renames itself (process.title), which overwrites its command line.
    ['npm start\0\0\0\0\0\0', true],
    ['node\0/usr/bin/npm\0start\0', true],
    ['/usr/bin/node\0--max-old-space-size=4096\0/usr/lib/node_modules/npm/bin/npx-cli.js\0jest\0', true],
    ['node\0-r\0/usr/bin/npm\0server.js\0', false],
    ['node\0server.js\0npm\0', false],
    ['python3\0worker.py\0', false],
    ['', false],
  ])('%j -> %s', (cmdline, expected) => {
    expect(isLauncherCmdline(cmdline)).toBe(expected);
  });
});

/** A `node:cluster` stand-in: an emitter with `isPrimary` and `workers`. */
function fakeCluster(workers = 0): ClusterModule & EventEmitter {
  const c = new EventEmitter() as ClusterModule & EventEmitter;
  c.isPrimary = true;
  c.workers = Object.fromEntries(Array.from({ length: workers }, (_, i) => [String(i + 1), {}]));
  return c;
}

function view(opts: { env?: NodeJS.ProcessEnv; loaded?: boolean; cluster?: ClusterModule }): ClusterView & { clusterAsked: number } {
  const v = {
    clusterAsked: 0,
    env: opts.env ?? {},
    loadedModules: () => (opts.loaded ? ['NativeModule fs', 'NativeModule cluster'] : ['NativeModule fs']),
    cluster: () => {
      v.clusterAsked++;
      return opts.cluster ?? fakeCluster();
    },
  };
  return v;
}

const app = { script: '/srv/app/server.js', real: '/srv/app/server.js' };

describe('cluster roles, without loading node:cluster', () => {
  it('a primary once it has workers; never a worker (NODE_UNIQUE_ID); node:cluster untouched while the app has not loaded it', () => {
    expect(new ProcessRole(view({ loaded: true, cluster: fakeCluster(2) }), app).launcher).toBe(true);
    expect(new ProcessRole(view({ loaded: true, cluster: fakeCluster(0) }), app).launcher).toBe(false);
    const worker = view({ env: { NODE_UNIQUE_ID: '1' }, loaded: true, cluster: fakeCluster(2) });
    expect(new ProcessRole(worker, app).launcher).toBe(false);
    const notLoaded = view({ loaded: false });
    expect(new ProcessRole(notLoaded, app).launcher).toBe(false);
    expect(worker.clusterAsked + notLoaded.clusterAsked).toBe(0);
  });

  it('a primary found by looking (the app forked before the guard looked) is a launcher for good', () => {
    const cluster = fakeCluster(0);
    const v = view({ loaded: true, cluster });
    const role = new ProcessRole(v, app);
    expect(role.launcher).toBe(false);
    cluster.workers = { 1: {} };
    expect(role.launcher).toBe(true);
    cluster.workers = {};
    expect(role.launcher).toBe(true);
  });

  it('a primary that forks after the guard looked becomes a launcher at its first fork, and says so once', () => {
    const cluster = fakeCluster(0);
    const role = new ProcessRole(view({ loaded: true, cluster }), app);
    expect(role.launcher).toBe(false);
    let told = 0;
    role.onLauncher(() => told++);
    cluster.emit('fork');
    cluster.emit('fork');
    expect([role.launcher, told, cluster.listenerCount('fork')]).toEqual([true, 1, 0]);
  });

  it('stop() removes the fork listener', () => {
    const cluster = fakeCluster(0);
    const role = new ProcessRole(view({ loaded: true, cluster }), app);
    role.onLauncher(() => undefined);
    expect(cluster.listenerCount('fork')).toBe(1);
    role.stop();
    expect(cluster.listenerCount('fork')).toBe(0);
  });

  it('npm is a launcher from the start; a cluster worker knows its primary is one', () => {
    const npm = new ProcessRole(view({}), { script: '/usr/bin/npm', real: '/usr/lib/node_modules/npm/bin/npm-cli.js' });
    expect([npm.byScript, npm.launcher]).toEqual([true, true]);
    const worker = new ProcessRole(view({ env: { NODE_UNIQUE_ID: '3' } }), app);
    expect([worker.launcher, worker.knownLaunchers()]).toEqual([false, [process.ppid]]);
  });
});
