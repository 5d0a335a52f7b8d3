/**
 * The agent's own lines on stderr. Written synchronously: the process may be about to exit, and
 * a line that matters (a shutdown, a configuration error) must survive it.
 */
import { writeSync } from 'node:fs';

/** Write a line to stderr synchronously; a closed stderr is silently ignored. */
export function stderrLine(line: string): void {
  try {
    writeSync(2, line.endsWith('\n') ? line : `${line}\n`);
  } catch {
    // stderr closed: nothing sensible left to do.
  }
}
