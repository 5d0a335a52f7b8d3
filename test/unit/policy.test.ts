import { describe, expect, it } from 'vitest';
import {
  evaluate,
  INITIAL_POLICY_STATE,
  pressureOf,
  resolveThresholds,
  type PolicyConfig,
  type PolicyState,
} from '../../src/policy';
import type { Reading, ThresholdSpec } from '../../src/types';

const MiB = 1024 * 1024;
const pct = (percent: number): ThresholdSpec => ({ kind: 'percent', percent });
const bytes = (n: number): ThresholdSpec => ({ kind: 'bytes', bytes: n });
const off: ThresholdSpec = { kind: 'off' };

const DEFAULTS: PolicyConfig = { heapThreshold: pct(80), heapWarn: pct(70), rssThreshold: pct(90), rssWarn: pct(80) };

function reading(over: Partial<Reading> = {}): Reading {
  return {
    time: 0,
    heapInUse: 10 * MiB,
    heapCommitted: 12 * MiB,
    heapReleased: 0,
    heapLimit: 176 * MiB,
    heapBudget: 128 * MiB,
    oldGenInUse: 10 * MiB,
    heapSignal: 10 * MiB,
    rss: 50 * MiB,
    memorySignal: 50 * MiB,
    gc: { majorCount: 0, recentMajors: 0, recentGcShare: 0, recentWindowMs: 5000, burstMajors: 0 },
    ...over,
  };
}

/** Feed a sequence of readings through the policy, as the watcher does. */
function run(readings: Reading[], config = DEFAULTS): { states: PolicyState[]; actions: string[] } {
  let state = INITIAL_POLICY_STATE;
  const states: PolicyState[] = [];
  const actions: string[] = [];
  for (const r of readings) {
    const e = evaluate(r, state, config);
    state = e.state;
    states.push(state);
    for (const d of e.decisions) actions.push(`${d.action}:${d.signal}:${d.reason}`);
  }
  return { states, actions };
}

describe('resolveThresholds', () => {
  it.each([
    ['heap percent is of the old-generation budget, not heap_size_limit', reading(), DEFAULTS, { heap: { warn: Math.floor(128 * MiB * 0.7), shutdown: Math.floor(128 * MiB * 0.8) } }],
    ['rss percent is of the memory limit', reading({ memoryLimit: 512 * MiB }), DEFAULTS, { rss: { warn: Math.floor(512 * MiB * 0.8), shutdown: Math.floor(512 * MiB * 0.9) } }],
    ['rss percent is off without a memory limit', reading(), DEFAULTS, { rss: { warn: undefined, shutdown: undefined } }],
    ['sizes apply as they are, limit or not', reading(), { ...DEFAULTS, rssThreshold: bytes(300 * MiB), rssWarn: bytes(200 * MiB) }, { rss: { warn: 200 * MiB, shutdown: 300 * MiB } }],
    ['off is off', reading(), { ...DEFAULTS, heapThreshold: off }, { heap: { warn: Math.floor(128 * MiB * 0.7), shutdown: undefined } }],
    ['a warn line at or above its shutdown line is dropped', reading(), { ...DEFAULTS, heapWarn: bytes(110 * MiB), heapThreshold: bytes(100 * MiB) }, { heap: { warn: undefined, shutdown: 100 * MiB } }],
  ])('%s', (_name, r, config, expected) => {
    expect(resolveThresholds(r, config)).toMatchObject(expected);
  });
});

describe('evaluate', () => {
  const budget = 128 * MiB;
  const heapAt = (fraction: number, over: Partial<Reading> = {}): Reading =>
    reading({ heapSignal: Math.ceil(budget * fraction), oldGenInUse: Math.ceil(budget * fraction), ...over });

  it('stays ok and decides nothing below the warn line', () => {
    expect(run([heapAt(0.1), heapAt(0.5), heapAt(0.69)]).actions).toEqual([]);
  });

  it('warns once on the crossing, not once per tick while above', () => {
    const { actions, states } = run([heapAt(0.5), heapAt(0.71), heapAt(0.72), heapAt(0.75)]);
    expect(actions).toEqual(['warn:heap:heap-warn']);
    expect(states.map((s) => s.state)).toEqual(['ok', 'warn', 'warn', 'warn']);
  });

  it('does not re-warn for a value hovering just under the line (hysteresis)', () => {
    const { actions } = run([heapAt(0.71), heapAt(0.695), heapAt(0.705), heapAt(0.69), heapAt(0.701)]);
    expect(actions).toEqual(['warn:heap:heap-warn']);
  });

  it('recovers after a clear drop and warns again on the next crossing', () => {
    const { actions, states } = run([heapAt(0.71), heapAt(0.6), heapAt(0.72)]);
    expect(actions).toEqual(['warn:heap:heap-warn', 'recover:heap:heap-recovered', 'warn:heap:heap-warn']);
    expect(states.map((s) => s.state)).toEqual(['warn', 'ok', 'warn']);
  });

  it('shuts down at the heap line, exactly once, whatever follows', () => {
    const { actions, states } = run([heapAt(0.5), heapAt(0.8), heapAt(0.9), heapAt(0.1), heapAt(0.95)]);
    expect(actions.filter((a) => a.startsWith('shutdown'))).toEqual(['shutdown:heap:heap-threshold']);
    expect(states.map((s) => s.state)).toEqual(['ok', 'shutdown', 'shutdown', 'shutdown', 'shutdown']);
  });

  it('announces a jump past both lines in one check: the warning comes first, on the same reading, and only once', () => {
    const jump = run([heapAt(0.5), heapAt(0.9)]);
    expect(jump.actions).toEqual(['warn:heap:heap-warn', 'shutdown:heap:heap-threshold']);
    expect(jump.states.map((s) => s.warned.heap)).toEqual([false, true]);
    // Already warned on an earlier check: the shutdown alone.
    expect(run([heapAt(0.75), heapAt(0.9)]).actions).toEqual(['warn:heap:heap-warn', 'shutdown:heap:heap-threshold']);
    expect(evaluate(heapAt(0.9), run([heapAt(0.75)]).states[0]!, DEFAULTS).decisions.map((d) => d.action)).toEqual(['shutdown']);
    // No warn line (off): nothing to announce.
    expect(run([heapAt(0.9)], { ...DEFAULTS, heapWarn: off }).actions).toEqual(['shutdown:heap:heap-threshold']);
  });

  it('during a shutdown, exits at once (emergency) only when memory keeps rising halfway to the wall, and only once', () => {
    const { actions, states } = run([heapAt(0.81), heapAt(0.85), heapAt(0.89), heapAt(0.9), heapAt(0.95)]);
    expect(actions).toEqual(['warn:heap:heap-warn', 'shutdown:heap:heap-threshold', 'emergency:heap:heap-emergency']);
    expect(states.map((s) => Boolean(s.emergency))).toEqual([false, false, false, true, true]);
  });

  it('an RSS emergency lies halfway from the RSS line to the memory limit', () => {
    const limit = 1000 * MiB;
    const r = (f: number) => reading({ memoryLimit: limit, memorySignal: limit * f, rss: limit * f });
    expect(run([r(0.91), r(0.949), r(0.95)]).actions).toEqual(['warn:rss:rss-warn', 'shutdown:rss:rss-threshold', 'emergency:rss:rss-emergency']);
  });

  it('GC thrash past the line during a shutdown is an emergency', () => {
    const thrash = { majorCount: 20, recentMajors: 4, recentGcShare: 0.7, recentWindowMs: 5000, burstMajors: 0 };
    expect(run([heapAt(0.8), heapAt(0.82, { gc: thrash })]).actions).toEqual(['warn:heap:heap-warn', 'shutdown:heap:heap-threshold', 'emergency:heap:gc-thrash-emergency']);
  });

  it('asks for a confirming major GC when the heap reaches the line between major GCs, once the last one left it near', () => {
    const gc = (live: number) => ({ majorCount: 3, recentMajors: 1, recentGcShare: 0, recentWindowMs: 10_000, burstMajors: 0, oldGenLive: budget * live });
    const stale = reading({ heapInUse: budget * 0.81, oldGenInUse: budget * 0.72, heapSignal: budget * 0.72, gc: gc(0.72) });
    const e = evaluate(stale, INITIAL_POLICY_STATE, DEFAULTS);
    expect(e.confirmHeap).toBe(true);
    expect(e.decisions.map((d) => d.action)).toEqual(['warn']);
    // A healthy heap full of young garbage (the last major GC left 30%) is not collected for it.
    const healthy = reading({ heapInUse: budget * 0.81, oldGenInUse: budget * 0.3, heapSignal: budget * 0.3, gc: gc(0.3) });
    expect(evaluate(healthy, INITIAL_POLICY_STATE, DEFAULTS).confirmHeap).toBe(false);
    expect(evaluate(heapAt(0.81), INITIAL_POLICY_STATE, DEFAULTS).confirmHeap).toBe(false); // already decided: shutdown
    expect(evaluate(heapAt(0.5), INITIAL_POLICY_STATE, DEFAULTS).confirmHeap).toBe(false);
  });

  it('during a shutdown above V8 80% line, two major GCs within 500 ms are an emergency', () => {
    const burst = { majorCount: 9, recentMajors: 2, recentGcShare: 0.05, recentWindowMs: 10_000, burstMajors: 2 };
    const calm = { ...burst, burstMajors: 1 };
    expect(run([heapAt(0.81), heapAt(0.81, { gc: calm })]).actions).toEqual(['warn:heap:heap-warn', 'shutdown:heap:heap-threshold']);
    expect(run([heapAt(0.81), heapAt(0.81, { gc: burst })]).actions).toEqual(['warn:heap:heap-warn', 'shutdown:heap:heap-threshold', 'emergency:heap:gc-thrash-emergency']);
    // below V8's line a burst is V8 doing its job: no emergency
    expect(run([heapAt(0.8), heapAt(0.79, { gc: burst })]).actions).toEqual(['warn:heap:heap-warn', 'shutdown:heap:heap-threshold']);
  });

  it('judges the heap by its signal (what survives GC), not by used_heap_size with garbage', () => {
    // 95% of the budget in use, but the last major GC left only 30% alive: garbage, not a leak.
    const r = reading({ heapInUse: budget * 0.95, oldGenInUse: budget * 0.95, heapSignal: budget * 0.3 });
    expect(run([r]).actions).toEqual([]);
  });

  it('shuts down on RSS at a percent of the memory limit', () => {
    const limit = 512 * MiB;
    const r = (f: number) => reading({ memoryLimit: limit, memorySignal: limit * f, rss: limit * f });
    expect(run([r(0.5), r(0.81), r(0.9)]).actions).toEqual(['warn:rss:rss-warn', 'shutdown:rss:rss-threshold']);
  });

  it('ignores RSS percents when there is no memory limit', () => {
    expect(run([reading({ memorySignal: 100 * 1024 * MiB })]).actions).toEqual([]);
  });

  it('skips a signal whose reading is missing (a failed source is not zero pressure nor a crash)', () => {
    const r = reading({ memoryLimit: 512 * MiB });
    delete r.memorySignal;
    delete r.rss;
    expect(run([r]).actions).toEqual([]);
  });

  it('warns on both signals independently in one reading', () => {
    const limit = 512 * MiB;
    const r = heapAt(0.75, { memoryLimit: limit, memorySignal: limit * 0.85 });
    expect(run([r]).actions).toEqual(['warn:heap:heap-warn', 'warn:rss:rss-warn']);
  });

  it('shuts down on GC thrash near the line before the line itself is reached', () => {
    const thrash = { majorCount: 20, recentMajors: 4, recentGcShare: 0.7, recentWindowMs: 5000, burstMajors: 0, oldGenLive: budget * 0.72 };
    const { actions } = run([heapAt(0.72, { gc: thrash })]);
    expect(actions).toEqual(['warn:heap:heap-warn', 'shutdown:heap:gc-thrash']);
  });

  it.each([
    ['too few major GCs', { recentMajors: 2, recentGcShare: 0.9 }, 0.75],
    ['GC share too low', { recentMajors: 6, recentGcShare: 0.3 }, 0.75],
    ['heap too far from the line', { recentMajors: 6, recentGcShare: 0.9 }, 0.5],
  ])('does not call it GC thrash with %s', (_name, gc, fraction) => {
    const r = heapAt(fraction, { gc: { majorCount: 10, recentWindowMs: 5000, burstMajors: 0, ...gc } });
    expect(run([r]).actions.filter((a) => a.startsWith('shutdown'))).toEqual([]);
  });

  it('with every threshold off, never decides anything', () => {
    const config: PolicyConfig = { heapThreshold: off, heapWarn: off, rssThreshold: off, rssWarn: off };
    expect(run([heapAt(0.99, { memoryLimit: MiB, memorySignal: 2 * MiB })], config).actions).toEqual([]);
  });

  it('returns the same state object when nothing changed (cheap steady state)', () => {
    const e = evaluate(heapAt(0.1), INITIAL_POLICY_STATE, DEFAULTS);
    expect(e.state).toBe(INITIAL_POLICY_STATE);
  });
});

describe('pressureOf', () => {
  it('is the highest signal / shutdown-threshold ratio', () => {
    const r = reading({ heapSignal: 64 * MiB, memoryLimit: 100 * MiB, memorySignal: 81 * MiB });
    const t = resolveThresholds(r, DEFAULTS);
    expect(pressureOf(r, t)).toBeCloseTo(81 / 90, 2);
  });
  it('is 0 when no shutdown threshold applies', () => {
    const config: PolicyConfig = { heapThreshold: off, heapWarn: off, rssThreshold: off, rssWarn: off };
    const r = reading();
    expect(pressureOf(r, resolveThresholds(r, config))).toBe(0);
  });
});
