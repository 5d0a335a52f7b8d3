import { describe, expect, it } from 'vitest';
import { DEFAULT_MARK_SPEED, liveGrowth, majorGcMs, projectedLive, timeTo, TREND_MIN_SPAN_MS, TREND_WINDOW_MS } from '../../src/heap-trend';
import type { GcSummary, Reading } from '../../src/types';

const MiB = 1024 * 1024;
const pts = (...p: [number, number][]) => p.map(([time, live]) => ({ time, live: live * MiB }));

function reading(time: number, inUseMiB: number, gc: Partial<GcSummary> = {}): Reading {
  return {
    time,
    heapInUse: inUseMiB * MiB,
    heapCommitted: 0,
    heapReleased: 0,
    heapLimit: 0,
    heapBudget: 128 * MiB,
    oldGenInUse: inUseMiB * MiB,
    heapSignal: inUseMiB * MiB,
    gc: { majorCount: 0, recentMajors: 0, recentGcShare: 0, recentWindowMs: 10_000, livePoints: [], ineffectiveMajors: 0, ...gc },
  };
}

describe('liveGrowth', () => {
  it('is the slope from the oldest result in the window to the newest, in bytes per ms', () => {
    expect(liveGrowth(pts([0, 10], [500, 12], [1000, 20]))).toBe((10 * MiB) / 1000);
  });
  it(`looks back ${TREND_WINDOW_MS} ms at most, and from a given time on`, () => {
    expect(liveGrowth(pts([0, 0], [5000, 10], [15_000, 20]))).toBe((10 * MiB) / 10_000);
    expect(liveGrowth(pts([0, 0], [5000, 10], [6000, 20]), 5000)).toBe((10 * MiB) / 1000);
  });
  it(`is undefined with one result or a span under ${TREND_MIN_SPAN_MS} ms`, () => {
    expect(liveGrowth(pts([0, 10]))).toBeUndefined();
    expect(liveGrowth(pts([0, 10], [TREND_MIN_SPAN_MS - 1, 20]))).toBeUndefined();
    expect(liveGrowth([])).toBeUndefined();
  });
});

describe('projectedLive', () => {
  const gc = { oldGenLive: 80 * MiB, lastMajorAt: 1000, inUseAfterMajor: 82 * MiB, livePoints: pts([0, 70], [1000, 80]) };
  it('is the last result plus the trend since, bounded by the growth in use since', () => {
    expect(projectedLive(reading(1500, 90, gc))).toBe(85 * MiB); // trend: +5; in use: +8
    expect(projectedLive(reading(1500, 83, gc))).toBe(81 * MiB); // in use grew 1 only
  });
  it('is the last result without a growing trend, and undefined before any major GC', () => {
    expect(projectedLive(reading(1500, 90, { ...gc, livePoints: pts([1000, 80]) }))).toBe(80 * MiB);
    expect(projectedLive(reading(1500, 90))).toBeUndefined();
  });
});

describe('majorGcMs and timeTo', () => {
  it('a major GC takes the old generation in use at the measured marking speed, or the default one', () => {
    expect(majorGcMs(reading(0, 100, { markSpeed: 2 * MiB }))).toBe(50);
    expect(majorGcMs(reading(0, 100))).toBe((100 * MiB) / DEFAULT_MARK_SPEED);
  });
  it('time to a target: 0 when there, undefined without growth', () => {
    expect(timeTo(10, 5, 1)).toBe(0);
    expect(timeTo(0, 10, 2)).toBe(5);
    expect(timeTo(0, 10, 0)).toBeUndefined();
    expect(timeTo(0, 10, undefined)).toBeUndefined();
  });
});
