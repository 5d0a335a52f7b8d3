// Runs a command on a supported Node.js (>= 22.15). When the Node running this script is older
// (a machine whose system Node is 20, end-of-life since 2026-04-30), it installs the pinned
// Node 26 from the npm registry (scripts/node-matrix.mjs) and puts it first on PATH for the
// command, so `npm test` and `npm run demo` work on a fresh machine without a version manager.
// The script itself uses nothing newer than Node 18.
//
//   node scripts/on-supported-node.mjs npm run check
import { spawnSync } from 'node:child_process';
import { delimiter, dirname } from 'node:path';
import { ensureMajor, RUNNER_MAJOR } from './node-matrix.mjs';

const [major, minor] = process.versions.node.split('.').map(Number);
const supported = major > 22 || (major === 22 && minor >= 15);
const env = { ...process.env };
if (!supported) {
  const bin = ensureMajor(RUNNER_MAJOR);
  process.stderr.write(`node ${process.version} is not supported (>= 22.15 is); running on ${bin}\n`);
  env.PATH = `${dirname(bin)}${delimiter}${env.PATH ?? ''}`;
}
const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  process.stderr.write('usage: node scripts/on-supported-node.mjs <command> [args...]\n');
  process.exit(2);
}
const result = spawnSync(cmd, args, { stdio: 'inherit', env });
if (result.error) throw result.error;
process.exit(result.status ?? 1);
