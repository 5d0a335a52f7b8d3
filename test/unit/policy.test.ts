import { describe, expect, it } from 'vitest';
import {
  evaluate,
  INITIAL_POLICY_STATE,
  pressureOf,
  resolveThresholds,
  type PolicyConfig,
  type PolicyState,
} from '../../src/policy';
import type { GcSummary, Reading, ThresholdSpec } from '../../src/types';

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
    gc: { majorCount: 0, recentMajors: 0, recentGcShare: 0, recentWindowMs: 5000, livePoints: [], ineffectiveMajors: 0 },
    ...over,
  };
}

/** Feed a sequence of readings through the policy, as the watcher does. */
function run(readings: Reading[], config = DEFAULTS, mainReady = true): { states: PolicyState[]; actions: string[] } {
  let state = INITIAL_POLICY_STATE;
  const states: PolicyState[] = [];
  const actions: string[] = [];
  for (const r of readings) {
    const e = evaluate(r, state, config, { mainReady });
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
  /** The heap right after a major GC that left `fraction` of the budget alive (V8's own GC). */
  const heapAt = (fraction: number, over: Partial<Reading> = {}): Reading => {
    const live = Math.ceil(budget * fraction);
    return reading({ time: 10_000, heapInUse: live, heapSignal: live, oldGenInUse: live, ...over, gc: { ...gcAfter(live, 10_000), ...over.gc } });
  };
  /** What the tracker says right after a major GC at `time` that left `live` bytes. */
  const gcAfter = (live: number, time: number, points: [number, number][] = [[time, live]]): GcSummary => ({
    majorCount: points.length,
    recentMajors: points.length,
    recentGcShare: 0.01,
    recentWindowMs: 10_000,
    lastMajorAt: time,
    oldGenLive: live,
    lastMajorForced: false,
    inUseAfterMajor: live,
    livePoints: points.map(([t, l]) => ({ time: t, live: l })),
    ineffectiveMajors: 0,
    markSpeed: MiB, // 1 MiB/ms: a major GC of 100 MiB takes 100 ms
  });
  const actionsOf = (r: Reading, mainReady = true, config = DEFAULTS) => evaluate(r, INITIAL_POLICY_STATE, config, { mainReady });

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

  it('shuts down when a major GC left the line alive, exactly once, whatever follows', () => {
    const { actions, states } = run([heapAt(0.5), heapAt(0.8), heapAt(0.9), heapAt(0.1), heapAt(0.95)]);
    expect(actions.filter((a) => a.startsWith('shutdown'))).toEqual(['shutdown:heap:heap-threshold']);
    expect(states.map((s) => s.state)).toEqual(['ok', 'shutdown', 'shutdown', 'shutdown', 'shutdown']);
  });

  it('says what a warning rested on, as a shutdown does: the major GC result for the heap, the reading for memory', () => {
    const heap = actionsOf(heapAt(0.72)).decisions.find((d) => d.action === 'warn');
    expect(heap?.grounds).toMatchObject({ basis: 'live', confirmedBy: 'v8', liveAfterMajor: Math.ceil(budget * 0.72) });
    const limit = 512 * MiB;
    const rss = actionsOf(reading({ memoryLimit: limit, memorySignal: limit * 0.85, rss: limit * 0.85 })).decisions.find((d) => d.action === 'warn');
    expect(rss?.grounds).toEqual({ basis: 'memory' });
  });

  it('announces a jump past both lines in one check: the warning comes first, on the same reading, and only once', () => {
    const jump = run([heapAt(0.5), heapAt(0.9)]);
    expect(jump.actions).toEqual(['warn:heap:heap-warn', 'shutdown:heap:heap-threshold']);
    expect(jump.states.map((s) => s.warned.heap)).toEqual([false, true]);
    // Already warned on an earlier check: the shutdown alone.
    expect(evaluate(heapAt(0.9), run([heapAt(0.75)]).states[0]!, DEFAULTS).decisions.map((d) => d.action)).toEqual(['shutdown']);
    // No warn line (off): nothing to announce.
    expect(run([heapAt(0.9)], { ...DEFAULTS, heapWarn: off }).actions).toEqual(['shutdown:heap:heap-threshold']);
  });

  it('says what the shutdown rested on: the live set after whose major GC, and when', () => {
    const byV8 = actionsOf(heapAt(0.81)).decisions.find((d) => d.action === 'shutdown');
    expect(byV8?.grounds).toMatchObject({ basis: 'live', confirmedBy: 'v8', lastMajorAt: 10_000, liveAfterMajor: Math.ceil(budget * 0.81) });
    const forced = heapAt(0.81);
    forced.gc = { ...forced.gc, lastMajorForced: true };
    expect(actionsOf(forced).decisions.find((d) => d.action === 'shutdown')?.grounds?.confirmedBy).toBe('guard');
  });

  it('a major GC result read too late to be exact (an upper bound) asks for a confirming GC instead', () => {
    const r = heapAt(0.81);
    r.gc = { ...r.gc, liveExact: false };
    const e = actionsOf(r);
    expect(e.decisions.filter((d) => d.action === 'shutdown')).toEqual([]);
    expect(e.confirmHeap).toBe('urgent');
  });

  describe('a heap past the line in use only', () => {
    it('before any major GC (a warm-up full of garbage): no shutdown, no warning, an urgent confirming GC', () => {
      const r = reading({ heapInUse: budget * 0.85, oldGenInUse: budget * 0.82, heapSignal: budget * 0.82 });
      const e = actionsOf(r);
      expect(e.decisions).toEqual([]);
      expect(e.confirmHeap).toBe('urgent');
    });

    it('with garbage after a major GC that left little alive: a confirming GC that can wait (check)', () => {
      const r = heapAt(0.3, { heapInUse: budget * 0.95, oldGenInUse: budget * 0.6 });
      const e = actionsOf(r);
      expect(e.decisions).toEqual([]);
      expect(e.confirmHeap).toBe('check');
    });

    it('with the old generation itself past the line (promoted): an urgent confirming GC', () => {
      expect(actionsOf(heapAt(0.7, { heapInUse: budget * 0.85, oldGenInUse: budget * 0.82 })).confirmHeap).toBe('urgent');
    });

    it('when the live set trajectory has reached the line: an urgent confirming GC', () => {
      // 70% -> 78% of the budget over 2 s of major GCs; 600 ms later the trajectory is at 80.4%.
      const points: [number, number][] = [[8000, budget * 0.7], [10_000, budget * 0.78]];
      const r = reading({ time: 10_600, heapInUse: budget * 0.81, oldGenInUse: budget * 0.78, heapSignal: budget * 0.78, gc: { ...gcAfter(budget * 0.78, 10_000, points) } });
      expect(actionsOf(r).confirmHeap).toBe('urgent');
    });

    it('nothing to confirm while the whole heap in use is under the line', () => {
      expect(actionsOf(heapAt(0.5, { heapInUse: budget * 0.79 })).confirmHeap).toBe(false);
    });
  });

  describe('no time: the live set would reach V8 line sooner than a major GC takes', () => {
    // Line 75%. Major GCs 100 ms apart say the live set grows 12.8 MiB per 100 ms (128 MiB/s); the
    // last one, 20 ms ago, left 74%: 76% now by the trajectory, 5.1 MiB (40 ms) from V8's 80%
    // line, while a major GC of this ~100 MiB heap takes ~100 ms at 1 MiB/ms.
    const at75: PolicyConfig = { ...DEFAULTS, heapThreshold: pct(75) };
    const decide = (r: Reading) => actionsOf(r, true, at75);
    const fast = (over: { since?: number; grown?: number } = {}): Reading => {
      const at = 10_000;
      const live = budget * 0.74;
      const points: [number, number][] = [[at - 200, live - 25.6 * MiB], [at - 100, live - 12.8 * MiB], [at, live]];
      const since = over.since ?? 20;
      const grown = over.grown ?? (since / 100) * 12.8 * MiB;
      return reading({ time: at + since, heapInUse: live + grown, oldGenInUse: live + grown, heapSignal: live, gc: gcAfter(live, at, points) });
    };

    it('acts on the projected live set, unconfirmed, and says so', () => {
      const d = decide(fast()).decisions.find((d) => d.action === 'shutdown');
      expect(d).toMatchObject({ action: 'shutdown', reason: 'heap-threshold', grounds: { basis: 'in-use', confirmedBy: 'none' } });
      expect(d?.grounds?.majorGcMs).toBeGreaterThan(20);
      expect(d?.grounds?.liveGrowthPerSec).toBe(Math.round(12.8 * MiB * 10));
    });

    it('not before the main module has run (the trajectory may be its import): a confirming GC instead', () => {
      const e = actionsOf(fast(), false, at75);
      expect(e.decisions.map((d) => d.action)).not.toContain('shutdown');
      expect(e.confirmHeap).toBe('urgent');
    });

    it('not on a stale trajectory (its last major GC older than a GC takes): a confirming GC instead', () => {
      const e = decide(fast({ since: 150, grown: 19.2 * MiB }));
      expect(e.decisions.filter((d) => d.action === 'shutdown')).toEqual([]);
      expect(e.confirmHeap).toBe('urgent');
    });

    it('not when the heap in use stopped growing (a warm-up that just finished): a confirming GC instead', () => {
      const e = decide(fast({ grown: 0.5 * MiB }));
      expect(e.decisions.filter((d) => d.action === 'shutdown')).toEqual([]);
    });

    it('not with a slow leak: the GC has time', () => {
      const at = 10_000;
      const live = budget * 0.75;
      const points: [number, number][] = [[at - 2000, live - 12 * MiB], [at, live]];
      const r = reading({ time: at + 20, heapInUse: live + MiB, oldGenInUse: live, heapSignal: budget * 0.74, gc: { ...gcAfter(budget * 0.74, at, points) } });
      expect(decide(r).decisions.filter((d) => d.action === 'shutdown')).toEqual([]);
    });
  });

  it('shuts down on V8 counting ineffective mark-compacts under a line set above V8 own', () => {
    const config: PolicyConfig = { ...DEFAULTS, heapThreshold: pct(90) };
    const r = heapAt(0.85, { gc: { ...gcAfter(budget * 0.85, 10_000), ineffectiveMajors: 3 } });
    expect(run([r], config).actions).toEqual(['warn:heap:heap-warn', 'shutdown:heap:gc-thrash']);
    const calm = heapAt(0.85, { gc: { ...gcAfter(budget * 0.85, 10_000), ineffectiveMajors: 1 } });
    expect(run([calm], config).actions).toEqual(['warn:heap:heap-warn']);
  });

  describe('during a shutdown: an emergency only when V8 would abort before the hooks are done', () => {
    /** Readings every 20 ms after a shutdown decided at 80% live; each `[t, live, inUse]` in % of the budget. */
    const drain = (steps: [number, number, number][], points: [number, number][]): string[] => {
      const at = 10_000;
      const all: [number, number][] = [[at, budget * 0.8]];
      const readings = [heapAt(0.8)];
      for (const [t, live, inUse] of steps) {
        const seen = [...all, ...points.filter(([pt]) => pt <= at + t).map(([pt, l]): [number, number] => [at + pt, (budget * l) / 100])];
        const last = seen[seen.length - 1]!;
        readings.push(reading({ time: at + t, heapInUse: (budget * inUse) / 100, oldGenInUse: (budget * inUse) / 100, heapSignal: (budget * live) / 100, gc: gcAfter(last[1], last[0], seen) }));
      }
      // The warning that precedes the shutdown is proven elsewhere; these are about what follows.
      return run(readings).actions.filter((a) => !a.startsWith('warn'));
    };

    it('a calm drain (no growth, no major GC): none, however long', () => {
      expect(drain([[20, 80, 80.1], [40, 80, 80.1], [1000, 80, 80.2], [3000, 80, 80.2]], [])).toEqual(['shutdown:heap:heap-threshold']);
    });

    it('one step up (telemetry loading) and then no growth: none', () => {
      expect(drain([[60, 84, 84], [120, 84, 84.1], [200, 84, 84.1]], [[60, 84]])).toEqual(['shutdown:heap:heap-threshold']);
    });

    it('a leak that goes on into the budget: an emergency, once', () => {
      // 80 -> 88 -> 94%: 6% of 128 MiB per 100 ms, and the heap in use keeps growing: ~6 MiB from the wall.
      const steps: [number, number, number][] = [[100, 88, 88], [160, 88, 91.5], [200, 94, 94], [260, 94, 97], [280, 94, 98]];
      expect(drain(steps, [[100, 88], [200, 94]])).toEqual(['shutdown:heap:heap-threshold', 'emergency:heap:heap-emergency']);
    });

    it('a slow leak far from the budget (6 MB/s, 25 MiB to go): none', () => {
      const steps: [number, number, number][] = [[1000, 80.5, 80.9], [2000, 81, 81.4], [2100, 81, 81.5]];
      expect(drain(steps, [[1000, 80.5], [2000, 81]])).toEqual(['shutdown:heap:heap-threshold']);
    });

    it('two ineffective mark-compacts: an emergency only while the app allocates fast enough to fill the budget within the horizon', () => {
      // The last mark-compact ended at 10 100; 60 ms later the heap in use grew, or did not.
      const after = (inUse: number) =>
        reading({ time: 10_160, heapInUse: budget * inUse, oldGenInUse: budget * 0.82, heapSignal: budget * 0.82, gc: { ...gcAfter(budget * 0.82, 10_100), ineffectiveMajors: 2 } });
      const emergency = (inUse: number) => run([heapAt(0.8), after(inUse)]).actions.includes('emergency:heap:gc-thrash-emergency');
      expect(emergency(0.82)).toBe(false); // no allocation
      expect(emergency(0.82 + (6 * MiB * 0.06) / budget)).toBe(false); // 6 MB/s: seconds to the budget
      expect(emergency(0.84)).toBe(false); // ~43 MB/s: 480 ms to go, the horizon is 4 GCs of ~105 ms
      expect(emergency(0.9)).toBe(true); // ~210 MB/s: the budget within 60 ms
    });

    it('V8 counting ineffective mark-compacts: an emergency', () => {
      const thrash = heapAt(0.82, { gc: { ...gcAfter(budget * 0.82, 10_100), ineffectiveMajors: 3 } });
      expect(run([heapAt(0.8), thrash]).actions).toEqual(['warn:heap:heap-warn', 'shutdown:heap:heap-threshold', 'emergency:heap:gc-thrash-emergency']);
    });
  });

  it('an RSS emergency lies halfway from the RSS line to the memory limit', () => {
    const limit = 1000 * MiB;
    const r = (f: number) => reading({ memoryLimit: limit, memorySignal: limit * f, rss: limit * f });
    expect(run([r(0.91), r(0.949), r(0.95)]).actions).toEqual(['warn:rss:rss-warn', 'shutdown:rss:rss-threshold', 'emergency:rss:rss-emergency']);
  });

  describe('before the main module is evaluated', () => {
    it('a shutdown waits (held), the warning does not', () => {
      const e = actionsOf(heapAt(0.85), false);
      expect(e.decisions.map((d) => d.action)).toEqual(['warn']);
      expect(e.held).toBe(true);
      expect(e.state.state).toBe('warn');
    });

    it('growth that ended before the wait (a dataset loaded at import) does not end it; growth the major GCs show during it does', () => {
      const loaded: [number, number][] = [[9_800, budget * 0.55], [10_000, budget * 0.85]];
      // 120 ms after the last major GC, 7 MiB more in use (young garbage, the guard's own start).
      const waiting = reading({ time: 10_120, heapInUse: budget * 0.85 + 7 * MiB, oldGenInUse: budget * 0.85 + 7 * MiB, heapSignal: budget * 0.85, gc: gcAfter(budget * 0.85, 10_000, loaded) });
      const first = run([waiting], DEFAULTS, false);
      expect(first.actions).toEqual(['warn:heap:heap-warn']);
      expect(first.states[0]?.heldFrom).toBe(10_000);
      // V8's next major GC says the live set still grows, fast enough to reach the budget soon.
      const grew: [number, number][] = [...loaded, [10_250, budget * 0.92]];
      const growing = reading({ time: 10_310, heapInUse: budget * 0.92 + 3 * MiB, oldGenInUse: budget * 0.92 + 3 * MiB, heapSignal: budget * 0.92, gc: gcAfter(budget * 0.92, 10_250, grew) });
      expect(run([waiting, growing], DEFAULTS, false).actions).toEqual(['warn:heap:heap-warn', 'shutdown:heap:heap-threshold']);
      // The same GC showing the live set flat: the wait goes on.
      const flat: [number, number][] = [...loaded, [10_250, budget * 0.85]];
      const calm = reading({ time: 10_310, heapInUse: budget * 0.85 + 3 * MiB, oldGenInUse: budget * 0.85 + 3 * MiB, heapSignal: budget * 0.85, gc: gcAfter(budget * 0.85, 10_250, flat) });
      expect(run([waiting, calm], DEFAULTS, false).actions).toEqual(['warn:heap:heap-warn']);
    });

    it('a shutdown V8 trajectory says cannot wait does not', () => {
      const r = heapAt(0.85, { gc: { ...gcAfter(budget * 0.85, 10_000), ineffectiveMajors: 3 } });
      expect(actionsOf(r, false).decisions.map((d) => d.action)).toContain('shutdown');
    });
  });

  it('shuts down on RSS at a percent of the memory limit, and says it is memory, not the heap', () => {
    const limit = 512 * MiB;
    const r = (f: number) => reading({ memoryLimit: limit, memorySignal: limit * f, rss: limit * f });
    expect(run([r(0.5), r(0.81), r(0.9)]).actions).toEqual(['warn:rss:rss-warn', 'shutdown:rss:rss-threshold']);
    expect(actionsOf(r(0.9)).decisions.find((d) => d.action === 'shutdown')?.grounds).toEqual({ basis: 'memory' });
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
