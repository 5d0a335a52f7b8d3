/**
 * The guard with its native part, as a user runs it (`--require oomguard/register`), on every
 * supported Node: JavaScript that runs away in ONE synchronous turn, where no JavaScript guard
 * can act, ends in exit 2 with the synchronous hook's marker (and the asynchronous hook's, once
 * the loop is free) instead of V8's abort. With OOMGUARD_NATIVE=off the same children document
 * the JavaScript mode's limit: V8 aborts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runChild, tempDir, V8_OOM, why } from '../helpers/child';
import { dist } from '../helpers/dist';
import { nodeMatrix } from '../helpers/node-matrix';

const RUNAWAY = join(__dirname, '..', 'fixtures', 'native', 'runaway.js');
const tmp = tempDir('oomguard-guard-native-');
afterAll(() => tmp.remove());
let n = 0;
const file = (name: string) => join(tmp.dir, `${name}-${++n}`);

const CASES = [
  { runaway: 'handler', what: 'an HTTP request handler that allocates in one synchronous loop' },
  { runaway: 'burst', what: 'one synchronous allocation burst of 100 MiB, larger than the headroom left' },
  { runaway: 'timer', what: 'a timer callback that allocates in one synchronous loop' },
  { runaway: 'top', what: "the main module allocating in one synchronous loop, before the guard's telemetry is up" },
];

function run(node: string, runaway: string, env: Record<string, string>) {
  dist('register.js');
  return runChild({
    node,
    args: ['--max-old-space-size=64', '--require', 'oomguard/register', RUNAWAY],
    env: { RUNAWAY: runaway, OOMGUARD_METRICS: 'none', ...env },
    timeoutMs: 60_000,
  });
}

for (const node of nodeMatrix()) {
  describe.concurrent(`Node ${node.major}`, () => {
    for (const c of CASES) {
      it(`${c.what}: exit 2, the sync hook's marker, the async hook's too, no V8 abort`, async () => {
        const sync = file('sync');
        const later = file('async');
        // 300 ms: hooks get the time the reserve gives them (the heap's JS emergency line is behind them).
        const r = await run(node.path, c.runaway, { MARKER: sync, MARKER_ASYNC: later, ASYNC_MS: '300' });
        expect(r.stderr, why(r)).not.toMatch(V8_OOM);
        expect(r.stderr).not.toMatch(/Fatal|heap out of memory/i);
        expect(r.code, why(r)).toBe(2);
        expect(r.signal).toBeNull();
        expect(JSON.parse(readFileSync(sync, 'utf8'))).toMatchObject({ reason: 'heap-limit', signal: 'heap' });
        expect(readFileSync(later, 'utf8')).toBe('flushed');
        const shutdown = r.events.filter((e) => e.name === 'oomguard.shutdown');
        expect(shutdown, why(r)).toHaveLength(1);
        expect(shutdown[0]).toMatchObject({ reason: 'heap-limit', signal: 'heap' });
      });

      it(`${c.what}, OOMGUARD_NATIVE=off (the JavaScript mode): V8 aborts, no hook runs`, async () => {
        const sync = file('sync');
        const r = await run(node.path, c.runaway, { MARKER: sync, OOMGUARD_NATIVE: 'off' });
        expect(r.stderr, why(r)).toMatch(V8_OOM);
        expect(r.signal === 'SIGABRT' || r.code === 134, why(r)).toBe(true);
        expect(existsSync(sync)).toBe(false);
      });
    }
  });
}

describe('V8 reaches its heap limit during a shutdown the policy started', () => {
  for (const node of nodeMatrix()) {
    it(`Node ${node.major}: a hook that allocates in one synchronous loop ends the shutdown at once with exit 2, not V8's abort`, async () => {
      const sync = file('sync');
      const r = await run(node.path, 'hook', { MARKER: sync });
      expect(r.stderr, why(r)).not.toMatch(V8_OOM);
      expect(r.code, why(r)).toBe(2);
      expect(r.signal).toBeNull();
      const shutdown = r.events.filter((e) => e.name === 'oomguard.shutdown');
      expect(shutdown, why(r)).toHaveLength(1);
      expect(shutdown[0]!.reason).toBe('heap-threshold');
      expect(JSON.parse(readFileSync(sync, 'utf8'))).toMatchObject({ reason: 'heap-threshold' });
      expect(r.stderr).toMatch(/oomguard: the V8 heap reached its limit during the shutdown; exiting now with code 2 \(unfinished hooks: "runawayHook"\)/);
    });
  }

  it('OOMGUARD_NATIVE=off (the JavaScript mode): the same hook dies of V8\'s abort', async () => {
    const r = await run(process.execPath, 'hook', { MARKER: file('sync'), OOMGUARD_NATIVE: 'off' });
    expect(r.events.filter((e) => e.name === 'oomguard.shutdown'), why(r)).toHaveLength(1);
    expect(r.stderr).toMatch(V8_OOM);
    expect(r.signal === 'SIGABRT' || r.code === 134, why(r)).toBe(true);
  });
});

describe('doctor says which mode the guard runs in, and why', () => {
  it('native part active with the prebuilt binary; not active with OOMGUARD_NATIVE=off', async () => {
    const cli = dist('cli.js');
    const on = await runChild({ args: [cli, 'doctor', '--json'], timeoutMs: 20_000 });
    expect(on.code, why(on)).toBe(0);
    const report = JSON.parse(on.stdout) as { native: { active: boolean; reason: string; reserveBytes: number } };
    expect(report.native.active).toBe(true);
    expect(report.native.reason).toMatch(/prebuilds[/\\]linux-x64[/\\]oomguard\.glibc\.node/);
    expect(report.native.reserveBytes).toBe(64 * 1024 * 1024);
    const off = await runChild({ args: [cli, 'doctor'], env: { OOMGUARD_NATIVE: 'off' }, timeoutMs: 20_000 });
    expect(off.stdout).toMatch(/native part +not active: JavaScript mode +\(OOMGUARD_NATIVE=off/);
  });
});
