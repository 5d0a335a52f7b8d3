import { describe, expect, it } from 'vitest';
import { FORCED_GC_GAP_MS, FORCED_GC_MIN_GAP_MS, HeapProbe } from '../../src/heap-probe';
import type { GenerationSizes } from '../../src/heap';
import type { GuardState, Reading } from '../../src/types';

const MiB = 1024 * 1024;
const BUDGET = 100 * MiB;

const reading = (oldGenInUse: number): Reading => ({
  time: 0,
  heapInUse: oldGenInUse,
  heapCommitted: BUDGET,
  heapReleased: 0,
  heapLimit: 2 * BUDGET,
  heapBudget: BUDGET,
  oldGenInUse,
  heapSignal: oldGenInUse,
  gc: { majorCount: 0, recentMajors: 0, recentGcShare: 0, recentWindowMs: 10_000, burstMajors: 0 },
});

function probe(opts: { trigger?: (() => void) | undefined; after?: number; majorsReported?: boolean } = {}) {
  const gc = {
    observing: false,
    calls: [] as string[],
    majors: [] as (GenerationSizes | undefined)[],
    start() {
      gc.observing = true;
      gc.calls.push('start');
    },
    stop() {
      gc.observing = false;
      gc.calls.push('stop');
    },
    forgetLive: () => gc.calls.push('forget'),
    recordMajor: (sizes: GenerationSizes | undefined) => gc.majors.push(sizes),
  };
  const clock = { now: 10_000 };
  let triggers = 0;
  let forced = 0;
  const trigger = 'trigger' in opts ? opts.trigger : () => void forced++;
  const after = opts.after ?? 80 * MiB;
  const p = new HeapProbe({
    heapBudget: BUDGET,
    gc,
    now: () => clock.now,
    gcTrigger: () => (triggers++, trigger),
    readSpaces: () => ({ oldGen: after, young: 0, youngLarge: 0, newSpaceCapacity: MiB }),
    majorsReported: () => opts.majorsReported ?? false,
  });
  return { p, gc, clock, forcedGcs: () => forced, triggersMade: () => triggers };
}

describe('HeapProbe.confirm: a major GC of its own, rate-limited', () => {
  // Each step: ms since the last forced GC, old generation in use now (MiB), whether a GC runs.
  // The last forced GC left 80 MiB; 2% of the 100 MiB budget is 2 MiB of growth.
  it.each([
    { what: 'not within the minimum gap, however much the heap grew', since: FORCED_GC_MIN_GAP_MS - 1, old: 99, runs: false },
    { what: 'not within a second when the old generation has not grown 2% of the budget', since: 500, old: 81.9, runs: false },
    { what: 'within a second when it has grown 2% of the budget', since: 500, old: 82, runs: true },
    { what: 'once a second whatever the growth', since: FORCED_GC_GAP_MS, old: 80, runs: true },
  ])('$what', ({ since, old, runs }) => {
    const { p, gc, clock, forcedGcs } = probe();
    expect(p.confirm(reading(90 * MiB))).toBe(true);
    clock.now += since;
    expect(p.confirm(reading(old * MiB))).toBe(runs);
    expect(forcedGcs()).toBe(runs ? 2 : 1);
    expect(gc.majors).toHaveLength(runs ? 2 : 1);
  });

  it('records what the GC left as a major GC, and measures growth from it', () => {
    const { p, gc, clock } = probe({ after: 60 * MiB });
    expect(p.confirm(reading(90 * MiB))).toBe(true);
    expect(gc.majors[0]?.oldGen).toBe(60 * MiB);
    clock.now += 100;
    expect(p.confirm(reading(62 * MiB))).toBe(true); // 2 MiB above the 60 MiB left alive
  });

  it('asks for the GC function once, and without one never runs a GC', () => {
    const { p, clock, triggersMade, gc } = probe({ trigger: undefined });
    expect(p.confirm(reading(90 * MiB))).toBe(false);
    clock.now += 5 * FORCED_GC_GAP_MS;
    expect(p.confirm(reading(90 * MiB))).toBe(false);
    expect(triggersMade()).toBe(1);
    expect(gc.majors).toEqual([]);
  });

  it('a GC function that throws is a GC that did not run', () => {
    const { p, gc } = probe({
      trigger: () => {
        throw new Error('no gc here');
      },
    });
    expect(p.confirm(reading(90 * MiB))).toBe(false);
    expect(gc.majors).toEqual([]);
  });
});

describe('HeapProbe.follow: GCs observed only near the line', () => {
  const LINE = 80 * MiB;
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
    p.follow(reading(share * LINE), LINE, state);
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
