import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './dist';

/** What a finished child left behind. */
export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to close. */
  ms: number;
  /** Parsed `{"name":"oomguard.*"}` JSON lines from stderr. */
  events: Array<Record<string, unknown>>;
}

/**
 * A pinned environment: PATH and HOME only, plus what the test says. Nothing from the test
 * runner's own environment (NODE_OPTIONS, OOMGUARD_*, OTEL_*) leaks into a child.
 */
export function pinnedEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export interface RunOptions {
  /** The node binary (default: this one). */
  node?: string;
  args: string[];
  env?: Record<string, string | undefined>;
  /** Killed with SIGKILL after this long; the result then has signal SIGKILL. */
  timeoutMs: number;
  cwd?: string;
  /** Wrap the command, e.g. to start it inside a cgroup: returns [command, ...args]. */
  wrap?: (argv: string[]) => string[];
  onSpawn?: (child: ChildProcess) => void;
  /**
   * No stdio at all (stdout and stderr come back empty). Pipes to the parent can keep a child's
   * event loop alive that would otherwise have drained: some behaviour shows only without them.
   */
  noStdio?: boolean;
}

/** Run a child to completion and collect what it printed. */
export async function runChild(opts: RunOptions): Promise<ChildResult> {
  const argv = [opts.node ?? process.execPath, ...opts.args];
  const [cmd, ...rest] = opts.wrap ? opts.wrap(argv) : argv;
  const spawnOpts: SpawnOptions = { cwd: opts.cwd ?? ROOT, env: pinnedEnv(opts.env), stdio: opts.noStdio ? 'ignore' : ['ignore', 'pipe', 'pipe'] };
  const t0 = Date.now();
  const child = spawn(cmd!, rest, spawnOpts);
  opts.onSpawn?.(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  return { code, signal, stdout, stderr, ms: Date.now() - t0, events: jsonEvents(stderr) };
}

/** The agent's JSON lines on stderr. */
export function jsonEvents(stderr: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{"name":"oomguard.')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line cut by the process dying: not an event
    }
  }
  return out;
}

/** V8's own fatal out-of-memory, as it prints it on every supported version. */
export const V8_OOM = /JavaScript heap out of memory|Reached heap limit|Ineffective mark-compacts near heap limit|Allocation failed/;

/** A temp dir removed by the returned function. */
export function tempDir(prefix = 'oomguard-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Describe a result for assertion messages: the tail of stderr says why a child died. */
export function why(r: ChildResult): string {
  return `code=${r.code} signal=${r.signal} ms=${r.ms}\n--- stderr (tail) ---\n${r.stderr.split('\n').slice(-25).join('\n')}`;
}
