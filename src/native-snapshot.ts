/**
 * `--heapsnapshot-near-heap-limit=N`: Node installs its own near-heap-limit callback for it, and
 * V8 calls only the most recently added one, so the native part's callback replaces Node's while
 * it is installed. To keep the flag's promise, the native near-limit handler writes the snapshot
 * itself, first, once the runaway JavaScript has stopped: named and placed as Node names and
 * places its own (`--diagnostic-dir`, else the working directory).
 */
import { join } from 'node:path';
import { splitNodeOptions } from './heap';

/** Node's options as the process got them: NODE_OPTIONS first, the command line after (it wins). */
function nodeArgs(): string[] {
  return [...splitNodeOptions(process.env.NODE_OPTIONS), ...process.execArgv];
}

/** The last value of a Node option given as `--name=value` or `--name value`. */
export function optionValue(args: readonly string[], name: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === name && i + 1 < args.length) found = args[++i];
    else if (arg.startsWith(`${name}=`)) found = arg.slice(name.length + 1);
  }
  return found;
}

/** True when the process runs with `--heapsnapshot-near-heap-limit` set above 0. */
export function heapSnapshotRequested(args: readonly string[] = nodeArgs()): boolean {
  const n = Number(optionValue(args, '--heapsnapshot-near-heap-limit'));
  return Number.isInteger(n) && n > 0;
}

/** `Heap.<yyyymmdd>.<hhmmss>.<pid>.0.001.heapsnapshot` in `--diagnostic-dir` or the working directory. */
export function heapSnapshotPath(args: readonly string[] = nodeArgs(), now: Date = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  const date = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}`;
  const time = `${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  const dir = optionValue(args, '--diagnostic-dir') || process.cwd();
  return join(dir, `Heap.${date}.${time}.${process.pid}.0.001.heapsnapshot`);
}
