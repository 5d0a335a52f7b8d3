/**
 * V8 flags are process-wide and read by isolates starting on other threads: the guard obtains
 * the GC function it runs itself (by setting --expose-gc for one new context) in the preload,
 * before the app's first line and so before any worker thread can exist, and a guard started
 * later by start() never flips a flag. A spy preloaded before the guard records every change.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runChild, why } from '../helpers/child';

const HOST = join(__dirname, '..', 'fixtures', 'host');
const SPY = join(HOST, 'flag-spy.cjs');

interface Report {
  firstLine: number;
  flags: { at: number; flags: string }[];
}

function report(stderr: string): Report {
  const line = stderr.split('\n').find((l) => l.startsWith('{"firstLine"'));
  if (!line) throw new Error(`no report on stderr:\n${stderr.slice(-2000)}`);
  return JSON.parse(line) as Report;
}

// A heap line low enough that the guard runs a GC of its own (the old generation in use reaches
// it before a major GC of V8's has said what is alive) while the app's worker runs.
const ENV = { OOMGUARD_HEAP_THRESHOLD: '24MiB', OOMGUARD_HEAP_WARN: 'off', OOMGUARD_METRICS: 'none', OOMGUARD_POLL_INTERVAL: '50ms' };

describe('the GC function the guard runs itself', () => {
  it('is obtained by the preload before the app\'s first line: no V8 flag changes once the app (and its worker) runs', async () => {
    const r = await runChild({ args: ['--require', SPY, '--require', 'oomguard/register', join(HOST, 'gc-app.js')], env: ENV, timeoutMs: 30_000 });
    expect(r.code, why(r)).toBe(2);
    const { firstLine, flags } = report(r.stderr);
    expect(flags.map((f) => f.flags)).toEqual(['--expose-gc', '--no-expose-gc']);
    for (const f of flags) expect(f.at).toBeLessThan(firstLine);
  });

  it('is never obtained by a guard started later with start(): no flag is changed at all', async () => {
    const r = await runChild({ args: ['--require', SPY, join(HOST, 'gc-app.js')], env: { ...ENV, START: '1' }, timeoutMs: 30_000 });
    expect(r.code, why(r)).toBe(2);
    expect(report(r.stderr).flags).toEqual([]);
  });
});
