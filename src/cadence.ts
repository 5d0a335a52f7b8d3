/**
 * When to look next, as a pure function: `(state, poll interval, recent readings, thresholds)
 * -> milliseconds`. No clock: the growth rate is measured between the readings' own times, so a
 * table of cases proves every rule (test/unit/cadence.test.ts). The watcher keeps the readings
 * (`recentReadings`) and arms its timer with `nextCheckIn`.
 */
import { MIN_POLL_INTERVAL_MS } from './defaults';
import { nearLine } from './heap-decision';
import { liveGrowth, projectedLive } from './heap-trend';
import type { GuardState, Reading, ResolvedThresholds } from './types';

/** Shortest time between two checks, whatever asks for them: the poll interval's floor. */
export const MIN_CHECK_GAP_MS = MIN_POLL_INTERVAL_MS;

/** Growth is measured over about this long (see `timeToLine`)... */
export const RATE_WINDOW_MS = 1000;
/** ...and over no less than this. */
export const RATE_MIN_SPAN_MS = 50;
/** ...from at most this many readings (GC-driven checks can come every 10 ms). */
export const RATE_MAX_READINGS = 32;

/** Next check within this fraction of the time memory needs to reach a shutdown line. */
export const ETA_DIVISOR = 4;

/**
 * Cadence while a shutdown is running: the app may still be allocating fast, and an emergency
 * exit must come before V8's abort or the kernel's kill.
 */
export const SHUTDOWN_POLL_MS = 20;

/** Once a warn line is crossed, poll this many times faster (never under the floor). */
export const HOT_POLL_DIVISOR = 4;

export interface CadenceInput {
  /** The guard's state after the last check. */
  state: GuardState;
  /** `OOMGUARD_POLL_INTERVAL`. */
  pollIntervalMs: number;
  /** Recent readings, oldest first, the latest last (`recentReadings`). */
  readings: readonly Reading[];
  /** The thresholds the latest reading was judged against; undefined before the first one. */
  thresholds: ResolvedThresholds | undefined;
  /** A shutdown is due but waits for the app's main module: look again soon. */
  held?: boolean;
}

/**
 * Milliseconds until the next check. The poll interval while `ok`, a quarter of it while
 * warning, the shutdown cadence while shutting down or while a shutdown waits for the main
 * module; and whatever the state, sooner when memory, growing at its current rate, would reach a
 * shutdown line before then: a quarter of the time it needs (a 100 MB/s leak in a 128 MiB heap
 * crosses from 70% to 80% in 130 ms, between two 1 s ticks), or, for the live set's trajectory
 * (major GCs' results), exactly when it gets there, so the confirming GC lands at the line.
 * Never under `MIN_CHECK_GAP_MS`.
 */
export function nextCheckIn(input: CadenceInput): number {
  if (input.state === 'shutdown' || input.held) return SHUTDOWN_POLL_MS;
  const base = input.pollIntervalMs;
  const relaxed = input.state === 'ok' ? base : Math.max(MIN_CHECK_GAP_MS, Math.floor(base / HOT_POLL_DIVISOR));
  if (!input.thresholds) return relaxed;
  const eta = timeToLine(input.readings, input.thresholds);
  const live = liveCrossingIn(input.readings, input.thresholds);
  let next = relaxed;
  if (eta !== undefined) next = Math.min(next, Math.floor(eta / ETA_DIVISOR));
  if (live !== undefined) next = Math.min(next, Math.ceil(live));
  return Math.max(MIN_CHECK_GAP_MS, next);
}

/**
 * Milliseconds until the live set, at the growth the last major GCs show, reaches the heap line;
 * undefined when it does not grow or there is no line. The heap in use must be past the line for
 * a confirming GC to run, so this only times the look; the GC decides.
 */
export function liveCrossingIn(readings: readonly Reading[], thresholds: ResolvedThresholds): number | undefined {
  const latest = readings[readings.length - 1];
  const line = thresholds.heap.shutdown;
  if (!latest || line === undefined) return undefined;
  const rate = liveGrowth(latest.gc.livePoints);
  const live = projectedLive(latest);
  if (rate === undefined || !(rate > 0) || live === undefined) return undefined;
  return Math.max(0, line - live) / rate;
}

/**
 * Milliseconds until a signal reaches its shutdown line at the rate memory grew from the oldest
 * reading kept to the latest; undefined when nothing grows toward a line. Two readings a few ms
 * apart say little (allocation comes in bursts, and a GC-driven check lands right after one),
 * so the span must be at least `RATE_MIN_SPAN_MS`.
 */
export function timeToLine(readings: readonly Reading[], thresholds: ResolvedThresholds): number | undefined {
  const base = readings[0];
  const latest = readings[readings.length - 1];
  if (!base || !latest) return undefined;
  const dt = latest.time - base.time;
  if (!(dt >= RATE_MIN_SPAN_MS)) return undefined;
  let eta: number | undefined;
  const consider = (now: number | undefined, before: number | undefined, line: number | undefined): void => {
    if (now === undefined || before === undefined || line === undefined) return;
    const rate = (now - before) / dt;
    if (!(rate > 0)) return;
    const ms = Math.max(0, line - now) / rate;
    if (eta === undefined || ms < eta) eta = ms;
  };
  const heapLine = thresholds.heap.shutdown;
  consider(latest.oldGenInUse, base.oldGenInUse, heapLine);
  // And the heap as a whole (young objects are the old generation of the next scavenge), once
  // it is near its line; before that, its growth is mostly young garbage.
  if (heapLine !== undefined && nearLine(latest, heapLine)) consider(latest.heapInUse, base.heapInUse, heapLine);
  consider(latest.memorySignal, base.memorySignal, thresholds.rss.shutdown);
  return eta;
}

/**
 * `readings` with `reading` added, trimmed to what the rate needs: the readings of the last
 * `RATE_WINDOW_MS` (keeping one older, so the span can reach the full window), at most
 * `RATE_MAX_READINGS`, and never fewer than the latest two.
 */
export function recentReadings(readings: readonly Reading[], reading: Reading): Reading[] {
  const out = [...readings, reading];
  let from = 0;
  const size = (): number => out.length - from;
  while (size() > RATE_MAX_READINGS || (size() > 2 && reading.time - out[from + 1]!.time >= RATE_WINDOW_MS)) from++;
  return from === 0 ? out : out.slice(from);
}
