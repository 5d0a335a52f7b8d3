import { join } from 'node:path';

/**
 * Runs once before all test files: installs the Node 22/24/26 binaries of the test matrix (from
 * the npm registry, so a clean checkout needs no manual step). The e2e tests also need `dist/`
 * (`npm test` builds it first); they check for it themselves (test/helpers/dist.ts) so unit tests
 * run without a build.
 */
export default async function setup(): Promise<void> {
  const root = join(__dirname, '..', '..');
  if (process.platform === 'linux' && process.arch === 'x64') {
    const { ensureMatrix } = await import(join(root, 'scripts', 'node-matrix.mjs'));
    ensureMatrix();
  }
}
