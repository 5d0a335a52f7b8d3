// `npm install` hook: makes sure the optional native part can load, and NEVER fails the install.
//
// 1. A prebuilt binary for this platform loads (linux-x64 glibc ships in the package): done.
// 2. Otherwise, build from source with node-gyp (npm's own, or one on PATH): needs a C++
//    compiler, python3 and the node headers (a node install that ships include/node is used
//    offline; otherwise node-gyp fetches them).
// 3. No compiler, no headers, any failure: one line, exit 0. The guard then runs in its
//    JavaScript mode, exactly as without a native part (docs/native.md).
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync } = require('node:fs');
const { dirname, join } = require('node:path');

const root = join(__dirname, '..');

function say(line) {
  process.stderr.write(`oomguard: ${line}\n`);
}

function prebuiltLoads() {
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  let files = [];
  try {
    files = readdirSync(dir).filter((f) => f.startsWith('oomguard') && f.endsWith('.node'));
  } catch {
    return false;
  }
  for (const f of files) {
    // In a child: a binary that crashes on load must not take the install with it.
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(join(dir, f))}).state()`], { stdio: 'ignore', timeout: 30000 });
    if (r.status === 0) return true;
  }
  return false;
}

function nodeGypCommand() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return [process.execPath, process.env.npm_config_node_gyp];
  return ['node-gyp'];
}

function main() {
  if (/^(off|false|0|no)$/i.test(process.env.OOMGUARD_NATIVE || '')) return say('OOMGUARD_NATIVE=off: the native part is not built');
  if (prebuiltLoads()) return;
  if (!existsSync(join(root, 'binding.gyp'))) return say('no prebuilt native binary for this platform; the guard runs in its JavaScript mode');
  const args = ['rebuild'];
  // A node that ships its headers (official tarballs: <prefix>/include/node) builds offline.
  const prefix = join(dirname(process.execPath), '..');
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
  const [cmd, ...pre] = nodeGypCommand();
  const r = spawnSync(cmd, [...pre, ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 300000 });
  if (r.status === 0) return say('native part built from source');
  const why = r.error ? r.error.message : (r.stderr || '').split('\n').filter((l) => /error/i.test(l)).slice(0, 2).join(' | ') || `node-gyp exited ${r.status}`;
  say(`the native part could not be built (${why.slice(0, 300)}); the guard runs in its JavaScript mode`);
}

try {
  main();
} catch (err) {
  say(`native part skipped (${err && err.message}); the guard runs in its JavaScript mode`);
}
process.exitCode = 0;
