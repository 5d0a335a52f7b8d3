// Build: `src/` -> `dist/` with tsc, then make the CLI executable.
// One CommonJS build serves both `require` and `import` (the .mts entries re-export it), so an
// app that mixes both module systems still gets exactly one agent.
//
// tsc writes into a fresh directory that then replaces dist/ in one rename, so a test run (or a
// running demo) never sees a half-built or missing dist/.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const out = join(root, `.dist-${process.pid}`);
const old = join(root, `.dist-old-${process.pid}`);
try {
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.json'), '--outDir', out],
    { stdio: 'inherit', cwd: root },
  );
  chmodSync(join(out, 'cli.js'), 0o755);
  const dist = join(root, 'dist');
  if (existsSync(dist)) renameSync(dist, old);
  renameSync(out, dist);
} catch (err) {
  process.exitCode = 1;
  if (err.status === undefined) console.error(err);
} finally {
  rmSync(out, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
}
