// The unit tests on the supported majors other than the one that ran the whole suite, so pure
// logic that depends on the runtime (V8 heap statistics, perf_hooks, the Node API surface) is
// proven on 22, 24 and 26 alike. The e2e tests already run their children on every major.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureMajor, MATRIX } from './node-matrix.mjs';

const own = process.versions.node.split('.')[0];
const vitest = join(import.meta.dirname, '..', 'node_modules', 'vitest', 'vitest.mjs');
let failed = 0;
for (const major of Object.keys(MATRIX)) {
  if (major === own) continue;
  const bin = ensureMajor(Number(major));
  process.stdout.write(`\nunit tests on Node ${major} (${bin})\n`);
  const r = spawnSync(bin, [vitest, 'run', 'test/unit'], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
