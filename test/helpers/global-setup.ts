import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Runs once before all test files: the e2e tests need the built package (`npm test` builds it
 * first) and the Node 22/24 binaries of the test matrix (installed here, from the npm registry,
 * so a clean checkout needs no manual step).
 */
export default async function setup(): Promise<void> {
  const root = join(__dirname, '..', '..');
  if (!existsSync(join(root, 'dist', 'register.js'))) {
    throw new Error('dist/ is missing: run `npm test` (it builds first) or `npm run build`');
  }
  if (process.platform === 'linux' && process.arch === 'x64') {
    const { ensureMatrix } = await import(join(root, 'scripts', 'node-matrix.mjs'));
    ensureMatrix();
  }
}
