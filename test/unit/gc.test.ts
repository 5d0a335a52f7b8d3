import { describe, expect, it } from 'vitest';
import { GcTracker } from '../../src/gc';

const MiB = 1024 * 1024;

function tracker(windowMs = 1000): GcTracker {
  return new GcTracker({ heapBudget: 128 * MiB, recentWindowMs: windowMs, now: () => 0, v8Version: '11.3.244.8-node.38' });
}

describe('GcTracker summary', () => {
  it('is empty before any GC', () => {
    expect(tracker().summary(5000)).toEqual({ majorCount: 0, recentMajors: 0, recentGcShare: 0, recentWindowMs: 1000, burstMajors: 0 });
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
