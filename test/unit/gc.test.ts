import { describe, expect, it } from 'vitest';
import { GcTracker } from '../../src/gc';
import { V8Replay } from '../../src/heap-replay';
import type { GenerationSizes } from '../../src/heap';

const MiB = 1024 * 1024;

function tracker(windowMs = 1000): GcTracker {
  return new GcTracker({ heapBudget: 128 * MiB, recentWindowMs: windowMs, now: () => 0, v8Version: '11.3.244.8-node.38' });
}

describe('GcTracker summary', () => {
  it('is empty before any GC', () => {
    expect(tracker().summary(5000)).toEqual({ majorCount: 0, recentMajors: 0, recentGcShare: 0, recentWindowMs: 1000, livePoints: [], ineffectiveMajors: 0 });
  });

  it.each([
    { what: 'counts only GCs that ended inside the window', gcs: [[100, 10, true], [1500, 20, false], [1900, 30, true]] as const, now: 2000, majors: 1, share: 0.05 },
    { what: 'counts the in-window part of a pause that straddles the window start', gcs: [[1050, 100, true]] as const, now: 2000, majors: 1, share: 0.05 },
    { what: 'caps the share at 1', gcs: [[1500, 600, true], [2000, 600, true]] as const, now: 2000, majors: 2, share: 1 },
  ])('$what', ({ gcs, now, majors, share }) => {
    const t = tracker();
    for (const [end, duration, major] of gcs) t.record({ end, duration, major });
    const s = t.summary(now);
    expect(s.recentMajors).toBe(majors);
    expect(s.recentGcShare).toBeCloseTo(share, 10);
    expect(s.majorCount).toBe(gcs.filter((g) => g[2]).length);
  });

  it('keeps the last major GC time and survives ring-buffer wrap-around', () => {
    const t = tracker(10_000);
    for (let i = 0; i < 5000; i++) t.record({ end: i, duration: 1, major: i % 2 === 0 });
    const s = t.summary(5000);
    expect(s.majorCount).toBe(2500);
    expect(s.lastMajorAt).toBe(4998);
    // Only the newest 1024 entries are kept: 512 of them major, 1024 ms of GC in a 10 s window.
    expect(s.recentMajors).toBe(512);
    expect(s.recentGcShare).toBeCloseTo(0.1024, 10);
  });
});

describe('GcTracker after a major GC', () => {
  it('reports L and the V8-rule estimate (halfway cap for a 128 MiB budget)', () => {
    const t = tracker();
    t.recordMajor({ oldGen: 100 * MiB, young: 0, youngLarge: 0, newSpaceCapacity: 16 * MiB });
    const s = t.summary(0);
    expect(s.oldGenLive).toBe(100 * MiB);
    expect(s.nextGc).toBe(114 * MiB); // min(max(130, 108) + 16, (100 + 128) / 2)
  });
  it('a failed space read leaves the previous values', () => {
    const t = tracker();
    t.recordMajor({ oldGen: 10 * MiB, young: 0, youngLarge: 0, newSpaceCapacity: 1 * MiB });
    t.recordMajor(undefined);
    expect(t.summary(0).oldGenLive).toBe(10 * MiB);
    expect(t.summary(0).nextGc).toBe(19 * MiB); // max(13, 18) + 1
  });
});

const sizes = (oldGenMiB: number, youngMiB = 0): GenerationSizes => ({ oldGen: oldGenMiB * MiB, young: youngMiB * MiB, youngLarge: 0, newSpaceCapacity: MiB });

describe('GcTracker: the live set after each major GC', () => {
  it('keeps the last 8 results, oldest first, and the heap in use right after the last', () => {
    const t = tracker();
    for (let i = 1; i <= 10; i++) {
      t.record({ end: i * 100, duration: 5, major: true });
      t.recordMajor(sizes(i, 2), i * 100);
    }
    const s = t.summary(1000);
    expect(s.livePoints.map((p) => p.time)).toEqual([300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(s.livePoints.at(-1)?.live).toBe(10 * MiB);
    expect(s.inUseAfterMajor).toBe(12 * MiB);
    expect(s.lastMajorForced).toBe(false);
  });

  it('a GC the guard ran is recorded once, as forced, and times the marking speed (averaged as V8 does)', () => {
    const t = tracker();
    t.recordForced({ end: 1000, duration: 100, sizes: sizes(100) });
    expect(t.summary(1000)).toMatchObject({ majorCount: 1, lastMajorAt: 1000, oldGenLive: 100 * MiB, lastMajorForced: true, markSpeed: MiB });
    t.recordForced({ end: 2000, duration: 50, sizes: sizes(100) });
    expect(t.summary(2000).markSpeed).toBe(1.5 * MiB); // (1 + 2) / 2 MiB per ms
  });

  it('a result read too late to be the GC one is an upper bound: flagged, and no point of the trend', () => {
    const t = tracker();
    t.recordMajor(sizes(50), 100);
    t.recordMajor(sizes(90), 200, false);
    const s = t.summary(200);
    expect(s).toMatchObject({ oldGenLive: 90 * MiB, liveExact: false });
    expect(s.livePoints.map((p) => p.time)).toEqual([100]);
  });

  it('a result read at the GC but heard of late (the GC ran mid-task) is a point of the trend, not a ground for a decision', () => {
    const t = tracker();
    t.recordMajor(sizes(50), 100);
    t.recordMajor(sizes(80), 300, true, false);
    const s = t.summary(300);
    expect(s).toMatchObject({ oldGenLive: 80 * MiB, liveExact: false });
    expect(s.livePoints.map((p) => p.time)).toEqual([100, 300]);
  });

  it("the sentinel's report is an upper bound (it cannot tell when the GC ran), and left out while the observer reports the same GCs", () => {
    const t = tracker();
    t.recordMajor(sizes(50), 100);
    t.recordSentinelMajor(sizes(90));
    expect(t.summary(200)).toMatchObject({ oldGenLive: 90 * MiB, liveExact: false });
    expect(t.summary(200).livePoints.map((p) => p.live)).toEqual([50 * MiB]);
    t.start();
    try {
      t.recordMajor(sizes(60), 300);
      t.recordSentinelMajor(sizes(95));
      expect(t.summary(300)).toMatchObject({ oldGenLive: 60 * MiB, liveExact: true });
    } finally {
      t.stop();
    }
  });

  it('forgets the live set, its trend and the replayed count after a pause in observing', () => {
    const t = tracker();
    t.recordForced({ end: 1000, duration: 100, sizes: sizes(120) });
    t.forgetLive();
    const s = t.summary(1000);
    expect(s.oldGenLive).toBeUndefined();
    expect(s.livePoints).toEqual([]);
    expect(s.inUseAfterMajor).toBeUndefined();
    expect(s.ineffectiveMajors).toBe(0);
  });
});

describe('V8Replay: V8 ineffective mark-compact count (Heap::CheckIneffectiveMarkCompact)', () => {
  const BUDGET = 100 * MiB;
  /** Feed mark-compacts as [end ms, pause ms, old generation MiB after]; returns the count after each. */
  function replay(mcs: [number, number, number][], begin?: number): number[] {
    const r = new V8Replay();
    if (begin !== undefined) r.begin(begin);
    return mcs.map(([end, duration, old]) => {
      r.pending({ end, duration, major: true });
      r.settle(old * MiB, BUDGET);
      return r.ineffective;
    });
  }

  it('back to back above 80%: one more each time (the fourth is V8 abort)', () => {
    expect(replay([[0, 50, 85], [60, 50, 86], [120, 50, 87], [180, 50, 88], [240, 50, 89]])).toEqual([0, 1, 2, 3, 4]);
  });

  it('far apart above 80% (a calm drain, a slow leak): never counted', () => {
    expect(replay([[0, 50, 85], [3000, 50, 86], [6000, 50, 87], [9000, 50, 88]])).toEqual([0, 0, 0, 0]);
  });

  it('back to back below 80%: V8 is doing its job, not counted', () => {
    expect(replay([[0, 50, 70], [60, 50, 75], [120, 50, 79]])).toEqual([0, 0, 0]);
  });

  it('a mark-compact that frees the old generation under 80% resets the count; the averages stay low', () => {
    expect(replay([[0, 50, 85], [60, 50, 86], [120, 50, 87], [130, 5, 60], [190, 50, 85]])).toEqual([0, 1, 2, 0, 1]);
  });

  it('averages as V8 does: one long gap keeps the utilisation up for a while', () => {
    // 2 s of mutator, then 50 ms pauses every 60 ms (75 ms counted): the averaged mutator time
    // halves each time, and the utilisation passes under 0.4 at the seventh.
    const mcs: [number, number, number][] = [[0, 50, 85]];
    for (let end = 2000; end <= 2480; end += 60) mcs.push([end, 50, 85]);
    expect(replay(mcs)).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
  });

  it('a calm drain at 81%: V8 finalising marking every 70-100 ms with 4-20 ms pauses is not thrashing', () => {
    expect(replay([[1000, 29, 81], [1069, 69, 81], [1160, 15, 81], [1230, 6, 81], [1310, 8, 81], [1400, 20, 81], [1480, 8, 81]], 0)).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  it('counts the time since it began listening as the mutator time before the first mark-compact it hears of', () => {
    // V8 mark-compacts at 2000 ms, the guard confirms 100 ms later: listening since 0, the
    // averages keep the 2 s the app ran.
    expect(replay([[2000, 50, 85], [2100, 96, 85]], 0)).toEqual([0, 0]);
    expect(replay([[2000, 50, 85], [2100, 96, 85]])).toEqual([0, 1]);
  });
});
