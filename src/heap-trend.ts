/**
 * Where the live set is going, from what the major GCs said: how fast it grows, where it is now
 * by that trajectory, how long a major GC of this heap takes, and how long until a line is
 * reached. Pure functions of one reading (its `gc.livePoints` are the last major GCs' results);
 * the policy (heap-decision.ts) and the cadence decide on them, and the grounds reports them.
 */
import type { LivePoint, Reading } from './types';

/** The trend is measured over the major GCs of about this long... */
export const TREND_WINDOW_MS = 10_000;
/** ...that span at least this long (two GCs a few ms apart say nothing about a rate). */
export const TREND_MIN_SPAN_MS = 100;

/**
 * Marking speed assumed until the guard has timed a major GC of its own, in bytes per ms. A full
 * GC of 20-200 MB of small objects took 0.6-1.2 MB/ms on Node 22, 24 and 26 on a loaded 2-core
 * machine (docs/heap-model.md); big strings and arrays mark faster.
 */
export const DEFAULT_MARK_SPEED = 1024 * 1024;

/**
 * Growth of the live set in bytes per ms, between the oldest major GC result at or after `from`
 * (and within `TREND_WINDOW_MS` of the newest) and the newest one; undefined with fewer than two
 * such results or a span under `TREND_MIN_SPAN_MS`. Negative when the live set shrinks.
 */
export function liveGrowth(points: readonly LivePoint[], from = -Infinity): number | undefined {
  const newest = points[points.length - 1];
  if (!newest) return undefined;
  const since = Math.max(from, newest.time - TREND_WINDOW_MS);
  const oldest = points.find((p) => p.time >= since);
  if (!oldest || newest.time - oldest.time < TREND_MIN_SPAN_MS) return undefined;
  return (newest.live - oldest.live) / (newest.time - oldest.time);
}

/**
 * The live set now, by its trajectory: what the last major GC left alive, plus its growth since
 * at the trend's rate, but never more than the heap in use has grown since that GC (an app that
 * stopped allocating has stopped growing, whatever its past rate). Undefined before a major GC.
 */
export function projectedLive(reading: Readonly<Reading>): number | undefined {
  const gc = reading.gc;
  if (gc.oldGenLive === undefined) return undefined;
  const rate = liveGrowth(gc.livePoints);
  const at = gc.livePoints[gc.livePoints.length - 1]?.time ?? gc.lastMajorAt;
  if (rate === undefined || !(rate > 0) || at === undefined) return gc.oldGenLive;
  const byTrend = rate * Math.max(0, reading.time - at);
  const byInUse = Math.max(0, reading.heapInUse - (gc.inUseAfterMajor ?? reading.heapInUse));
  return gc.oldGenLive + Math.min(byTrend, byInUse);
}

/**
 * How long a major GC of this heap takes, in ms: the old generation in use marked at the speed
 * measured on the guard's own GCs (or `DEFAULT_MARK_SPEED`).
 */
export function majorGcMs(reading: Readonly<Reading>): number {
  const speed = reading.gc.markSpeed ?? DEFAULT_MARK_SPEED;
  return reading.oldGenInUse / speed;
}

/** Milliseconds for `value`, growing `rate` bytes per ms, to reach `target`; 0 when already there. */
export function timeTo(value: number, target: number, rate: number | undefined): number | undefined {
  if (value >= target) return 0;
  if (rate === undefined || !(rate > 0)) return undefined;
  return (target - value) / rate;
}
