import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The repository root. */
export const ROOT = join(__dirname, '..', '..');

/** Path of a built file; throws a clear error when the build is missing. */
export function dist(file: string): string {
  const path = join(ROOT, 'dist', file);
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm test\` (it builds first) or \`npm run build\``);
  return path;
}

/** The preload, as a user passes it to `--require`. */
export const REGISTER = join(ROOT, 'dist', 'register.js');
