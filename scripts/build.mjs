// Build: a clean `dist/` from `src/` with tsc, then make the CLI executable.
// One CommonJS build serves both `require` and `import` (the .mts entries re-export it), so an
// app that mixes both module systems still gets exactly one agent.
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
rmSync(join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], {
  stdio: 'inherit',
  cwd: root,
});
chmodSync(join(root, 'dist', 'cli.js'), 0o755);
