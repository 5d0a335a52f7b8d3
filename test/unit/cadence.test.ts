import { describe, expect, it } from 'vitest';
import {
  liveCrossingIn,
  MIN_CHECK_GAP_MS,
  nextCheckIn,
  RATE_MAX_READINGS,
  RATE_WINDOW_MS,
  recentReadings,
  SHUTDOWN_POLL_MS,
  timeToLine,
  type CadenceInput,
} from '../../src/cadence';
import type { Reading, ResolvedThresholds } from '../../src/types';

const MiB = 1024 * 1024;

/**
 * A reading at `time` ms; sizes in MiB. `live`: what the last major GC left alive; `points`: the
 * major GCs' results as [time, live MiB], the last one being `live`.
 */
function r(time: number, old: number, more: { heap?: number; mem?: number; live?: number; points?: [number, number][] } = {}): Reading {
  const reading: Reading = {
    time,
    heapInUse: (more.heap ?? old) * MiB,
    heapCommitted: 128 * MiB,
    heapReleased: 0,
    heapLimit: 176 * MiB,
    heapBudget: 128 * MiB,
    oldGenInUse: old * MiB,
    heapSignal: old * MiB,
    gc: { majorCount: 0, recentMajors: 0, recentGcShare: 0, recentWindowMs: 10_000, livePoints: [], ineffectiveMajors: 0 },
  };
  if (more.live !== undefined) reading.gc = { ...reading.gc, majorCount: 1, oldGenLive: more.live * MiB };
  if (more.points) {
    const [lastAt, live] = more.points[more.points.length - 1]!;
    reading.gc = {
      ...reading.gc,
      majorCount: more.points.length,
      oldGenLive: live * MiB,
      lastMajorAt: lastAt,
      inUseAfterMajor: live * MiB,
      livePoints: more.points.map(([t, l]) => ({ time: t, live: l * MiB })),
    };
  }
  if (more.mem !== undefined) reading.memorySignal = more.mem * MiB;
  return reading;
}

/** Heap line 100 MiB, RSS line 400 MiB. */
const lines: ResolvedThresholds = { heap: { warn: 90 * MiB, shutdown: 100 * MiB }, rss: { warn: 350 * MiB, shutdown: 400 * MiB } };

const cases: (Partial<CadenceInput> & { what: string; want: number })[] = [
  { what: 'ok, nothing measured yet: the poll interval', readings: [], want: 1000 },
  { what: 'ok, thresholds not known yet: the poll interval', readings: [r(0, 10), r(500, 60)], thresholds: undefined, want: 1000 },
  { what: 'warning: four times faster', state: 'warn', readings: [r(0, 10)], want: 250 },
  { what: 'warning with a short poll: never under the floor', state: 'warn', pollIntervalMs: 20, readings: [r(0, 10)], want: MIN_CHECK_GAP_MS },
  { what: 'shutting down: the shutdown cadence, whatever the poll', state: 'shutdown', pollIntervalMs: 60_000, readings: [r(0, 10)], want: SHUTDOWN_POLL_MS },
  { what: 'flat memory: no rate, the poll interval', readings: [r(0, 50), r(800, 50)], want: 1000 },
  { what: 'shrinking memory: no rate, the poll interval', readings: [r(0, 60), r(800, 50)], want: 1000 },
  // 10 MiB per 100 ms from 50 MiB: 50 MiB to the line is 500 ms; a quarter of it.
  { what: 'old generation growing toward the line: a quarter of the time to reach it', readings: [r(0, 40), r(100, 50)], want: 125 },
  { what: 'slow growth, line far away: the poll interval still bounds it', readings: [r(0, 10), r(1000, 11)], want: 1000 },
  { what: 'readings closer than 50 ms: too short a span to measure a rate', readings: [r(0, 40), r(49, 90)], want: 1000 },
  { what: 'already past the line: the floor', readings: [r(0, 90), r(100, 101)], want: MIN_CHECK_GAP_MS },
  { what: 'very fast growth: never under the floor', readings: [r(0, 10), r(100, 99)], want: MIN_CHECK_GAP_MS },
  // The whole heap grows 40 MiB per 100 ms (young garbage) while the old generation is flat.
  { what: 'whole-heap growth counts once the last major GC left the heap near its line', readings: [r(0, 86, { heap: 40, live: 86 }), r(100, 86, { heap: 80, live: 86 })], want: 12 },
  { what: 'whole-heap growth is young garbage while the last major GC left the heap far from its line', readings: [r(0, 50, { heap: 40, live: 50 }), r(100, 50, { heap: 80, live: 50 })], want: 1000 },
  // RSS: 100 MiB per second from 300 MiB, 100 MiB to its line: 1 s, a quarter of it.
  { what: 'memory growing toward the RSS line', readings: [r(0, 10, { mem: 200 }), r(1000, 10, { mem: 300 })], pollIntervalMs: 5000, want: 250 },
  { what: 'the nearer of two lines wins', readings: [r(0, 40, { mem: 200 }), r(100, 50, { mem: 300 })], want: 25 },
  // Major GCs say the live set grows 10 MiB/s (70 -> 80 MiB in 1 s); now, 200 ms after the last
  // one, the heap in use grew 2 MiB: 82 MiB projected, 18 MiB from the line, 1.8 s.
  { what: 'the live set trajectory: a check when it reaches the line, not a quarter before', pollIntervalMs: 5000, readings: [r(1200, 82, { heap: 82, points: [[0, 70], [1000, 80]] })], want: 1800 },
  { what: 'a shutdown waiting for the main module: the shutdown cadence', held: true, readings: [r(0, 10)], want: SHUTDOWN_POLL_MS },
];

describe('nextCheckIn', () => {
  it.each(cases)('$what', ({ want, ...input }) => {
    expect(nextCheckIn({ state: 'ok', pollIntervalMs: 1000, readings: [], thresholds: lines, ...input })).toBe(want);
  });
});

describe('liveCrossingIn', () => {
  it('is the time for the projected live set to reach the line at the trend of the last major GCs', () => {
    expect(liveCrossingIn([r(1000, 80, { points: [[0, 70], [1000, 80]] })], lines)).toBeCloseTo(2000, 6);
  });
  it('is never projected further than the heap in use grew since the last major GC', () => {
    // 1 s after the last GC at 10 MiB/s would be 90 MiB, but the heap in use grew only 1 MiB.
    expect(liveCrossingIn([r(2000, 81, { heap: 81, points: [[0, 70], [1000, 80]] })], lines)).toBeCloseTo(1900, 6);
  });
  it('is undefined without a growing trend', () => {
    expect(liveCrossingIn([r(1000, 80, { points: [[1000, 80]] })], lines)).toBeUndefined();
    expect(liveCrossingIn([r(1000, 80, { points: [[0, 80], [1000, 80]] })], lines)).toBeUndefined();
  });
});

describe('timeToLine', () => {
  it('measures from the oldest reading kept, not the last two', () => {
    // A burst of 20 MiB in the last 10 ms, over 1 s of 40 MiB growth: 40 MiB/s, 30 MiB to go.
    expect(timeToLine([r(0, 30), r(990, 50), r(1000, 70)], lines)).toBe(750);
  });

  it('is undefined with a line off', () => {
    expect(timeToLine([r(0, 30), r(100, 70)], { heap: {}, rss: {} })).toBeUndefined();
  });
});

describe('recentReadings', () => {
  const times = (rs: Reading[]): number[] => rs.map((x) => x.time);

  it('keeps the last second, plus one older reading so the span can cover all of it', () => {
    let kept: Reading[] = [];
    for (const t of [0, 300, 600, 900, 1200, 1500]) kept = recentReadings(kept, r(t, 1));
    expect(times(kept)).toEqual([300, 600, 900, 1200, 1500]);
    kept = recentReadings(kept, r(2000, 1));
    expect(times(kept)).toEqual([900, 1200, 1500, 2000]);
  });

  it('keeps the latest two however far apart', () => {
    const kept = recentReadings([r(0, 1)], r(10 * RATE_WINDOW_MS, 1));
    expect(times(kept)).toEqual([0, 10 * RATE_WINDOW_MS]);
    expect(times(recentReadings(kept, r(20 * RATE_WINDOW_MS, 1)))).toEqual([10 * RATE_WINDOW_MS, 20 * RATE_WINDOW_MS]);
  });

  it(`keeps at most ${RATE_MAX_READINGS} readings (GC-driven checks every 10 ms)`, () => {
    let kept: Reading[] = [];
    for (let t = 0; t < 500; t += 10) kept = recentReadings(kept, r(t, 1));
    expect(kept).toHaveLength(RATE_MAX_READINGS);
    expect(kept.at(-1)?.time).toBe(490);
  });

  it('does not change the array it is given', () => {
    const before = [r(0, 1), r(100, 1)];
    recentReadings(before, r(5000, 1));
    expect(times(before)).toEqual([0, 100]);
  });
});
