import { describe, expect, it } from 'vitest';
import {
  CHECK_GAP_MAX_MS,
  CHECK_GAP_MS,
  FORCED_GC_MIN_GAP_MS,
  HeapProbe,
  URGENT_GAP_MAX_MS,
} from '../../src/heap-probe';
import type { GenerationSizes } from '../../src/heap';
import type { GuardState, Reading } from '../../src/types';

const MiB = 1024 * 1024;
const BUDGET = 100 * MiB;
const LINE = 75 * MiB;

const reading = (oldGenInUse: number): Reading => ({
  time: 0,
  heapInUse: oldGenInUse,
  heapCommitted: BUDGET,
  heapReleased: 0,
  heapLimit: 2 * BUDGET,
  heapBudget: BUDGET,
  oldGenInUse,
  heapSignal: oldGenInUse,
  gc: { majorCount: 0, recentMajors: 0, recentGcShare: 0, recentWindowMs: 10_000, livePoints: [], ineffectiveMajors: 0 },
});

/** A probe on a fake clock whose GC takes `gcMs` and leaves `live()` MiB alive. */
function probe(opts: { trigger?: (() => void) | undefined; gcMs?: number; majorsReported?: boolean } = {}) {
  const clock = { now: 10_000 };
  let live = 60;
  const gc = {
    observing: false,
    calls: [] as string[],
    forced: [] as { end: number; duration: number; sizes: GenerationSizes | undefined }[],
    start() {
      gc.observing = true;
      gc.calls.push('start');
    },
    stop() {
      gc.observing = false;
      gc.calls.push('stop');
    },
    forgetLive: () => gc.calls.push('forget'),
    recordForced: (f: { end: number; duration: number; sizes: GenerationSizes | undefined }) => gc.forced.push(f),
  };
  let triggers = 0;
  const trigger = 'trigger' in opts ? opts.trigger : () => void (clock.now += opts.gcMs ?? 10);
  const p = new HeapProbe({
    heapBudget: BUDGET,
    gc,
    now: () => clock.now,
    gcTrigger: () => (triggers++, trigger),
    readSpaces: () => ({ oldGen: live * MiB, young: 0, youngLarge: 0, newSpaceCapacity: MiB }),
    majorsReported: () => opts.majorsReported ?? false,
  });
  /** Advance `ms` and ask for a GC; returns whether one ran. */
  const ask = (ms: number, urgency: 'urgent' | 'check', liveAfter = live): boolean => {
    clock.now += ms;
    live = liveAfter;
    return p.confirm(reading(90 * MiB), LINE, urgency);
  };
  return { p, gc, clock, ask, triggersMade: () => triggers };
}

describe('HeapProbe.confirm: a major GC of its own, rationed', () => {
  it('records the GC it ran as forced, with its duration, timed on its own clock', () => {
    const { gc, ask } = probe({ gcMs: 40 });
    expect(ask(0, 'urgent', 72)).toBe(true);
    expect(gc.forced).toEqual([{ end: 10_040, duration: 40, sizes: { oldGen: 72 * MiB, young: 0, youngLarge: 0, newSpaceCapacity: MiB } }]);
  });

  it.each([
    { what: 'urgent: not within the minimum gap', gcMs: 10, wait: FORCED_GC_MIN_GAP_MS - 1, runs: false },
    { what: 'urgent: after the minimum gap', gcMs: 10, wait: FORCED_GC_MIN_GAP_MS, runs: true },
    { what: 'urgent: not within one GC duration of the last (half the time at most)', gcMs: 300, wait: 299, runs: false },
    { what: 'urgent: after one GC duration', gcMs: 300, wait: 300, runs: true },
    { what: 'urgent: a GC of seconds (a loaded machine) still allows one a second', gcMs: 5000, wait: URGENT_GAP_MAX_MS, runs: true },
  ])('$what', ({ gcMs, wait, runs }) => {
    const { ask } = probe({ gcMs });
    expect(ask(0, 'urgent', 70)).toBe(true);
    expect(ask(wait, 'urgent', 71)).toBe(runs);
  });

  it('check: the first at once, then a second after a GC that found the live set growing', () => {
    const { ask } = probe();
    expect(ask(0, 'check', 60)).toBe(true);
    expect(ask(CHECK_GAP_MS - 1, 'check', 62)).toBe(false);
    expect(ask(1, 'check', 62)).toBe(true);
    expect(ask(CHECK_GAP_MS, 'check', 64)).toBe(true); // still growing: no back-off
  });

  it('check: a heap well below the line and flat doubles the wait each time, up to the maximum', () => {
    const { ask } = probe();
    const waits: number[] = [];
    expect(ask(0, 'check', 50)).toBe(true);
    for (let i = 0; i < 8; i++) {
      let waited = 0;
      while (!ask(100, 'check', 50)) waited += 100;
      waits.push(waited + 100);
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, CHECK_GAP_MAX_MS, CHECK_GAP_MAX_MS]);
  });

  it('check: a result near the line (90% of it) resets the back-off', () => {
    const { ask } = probe();
    expect(ask(0, 'check', 50)).toBe(true);
    expect(ask(CHECK_GAP_MS, 'check', 50)).toBe(true);
    expect(ask(CHECK_GAP_MS, 'check', 68)).toBe(false); // waits 2 s now
    expect(ask(CHECK_GAP_MS, 'check', 68)).toBe(true);
    expect(ask(CHECK_GAP_MS, 'check', 68)).toBe(true); // 68 MiB >= 90% of 75: back to 1 s
  });

  it('asks for the GC function once; without one it watches V8 GCs instead', () => {
    const { ask, triggersMade, gc } = probe({ trigger: undefined });
    expect(ask(0, 'urgent')).toBe(false);
    expect(ask(5000, 'urgent')).toBe(false);
    expect(triggersMade()).toBe(1);
    expect(gc.forced).toEqual([]);
    expect(gc.calls).toContain('start');
  });

  it('a GC function that throws is a GC that did not run', () => {
    const { ask, gc } = probe({
      trigger: () => {
        throw new Error('no gc here');
      },
    });
    expect(ask(0, 'urgent')).toBe(false);
    expect(gc.forced).toEqual([]);
  });
});

describe('HeapProbe.follow: GCs observed only near the line', () => {
  // share of the line -> what happens, starting from not observing / observing
  it.each([
    { what: 'starts at half the line', observing: false, share: 0.5, state: 'ok', calls: ['start'] },
    { what: 'does not start below half the line', observing: false, share: 0.49, state: 'ok', calls: [] },
    { what: 'keeps observing between 40% and 50% (hysteresis)', observing: true, share: 0.45, state: 'ok', calls: [] },
    { what: 'lets go under 40% and forgets the stale GC numbers', observing: true, share: 0.39, state: 'ok', calls: ['stop', 'forget'] },
    { what: 'keeps observing under 40% while warning', observing: true, share: 0.2, state: 'warn', calls: [] },
  ] as { what: string; observing: boolean; share: number; state: GuardState; calls: string[] }[])('$what', ({ observing, share, state, calls }) => {
    const { p, gc } = probe();
    gc.observing = observing;
    p.follow(reading(share * 80 * MiB), 80 * MiB, state);
    expect(gc.calls).toEqual(calls);
  });

  it('lets go under 40% but keeps the GC numbers while major GCs are reported without the observer', () => {
    const { p, gc } = probe({ majorsReported: true });
    gc.observing = true;
    p.follow(reading(0.39 * LINE), LINE, 'ok');
    expect(gc.calls).toEqual(['stop']);
  });

  it('with the heap line off, measures against the budget', () => {
    const { p, gc } = probe();
    p.follow(reading(0.45 * BUDGET), undefined, 'ok');
    expect(gc.calls).toEqual([]);
    p.follow(reading(0.5 * BUDGET), undefined, 'ok');
    expect(gc.calls).toEqual(['start']);
  });
});
