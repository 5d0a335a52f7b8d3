/**
 * The heap's rules, as pure functions of one reading and the shutdown line: when a crossing is
 * confirmed by what a major GC left alive, when it needs a confirming GC first, when V8's own
 * trajectory leaves no time for one, and, during a shutdown, when V8 would abort before the
 * hooks are done. The reasoning and the measurements are in docs/heap-model.md.
 */
import type { Grounds, Reading } from './types';
import { V8_HIGH_HEAP_SHARE } from './heap-replay';
import { liveGrowth, majorGcMs, projectedLive, timeTo } from './heap-trend';

/**
 * V8 aborts at its fourth ineffective mark-compact in a row. The guard acts at the third, or at
 * the second while the app allocates fast enough to fill the budget within the emergency horizon
 * (the heap in use growing since it, over at least `GROWTH_MIN_SPAN_MS`): near the limit the next
 * ones can come within 10-100 ms (measured: 7-9 ms apart when V8 finalises incremental marking on
 * every allocation) and the observer reports them asynchronously. A burst that has ended (the
 * telemetry SDK loading during a drain at 80%) does not make a third, and a leak of 6 MB/s with
 * 24 MB to go (seconds away) does not cut a 50 ms hook.
 */
export const THRASH_MAJORS = 3;
export const THRASH_MAJORS_ALLOCATING = 2;

/**
 * During a shutdown, the live set still growing is an emergency once, at its rate, it reaches
 * the budget within this horizon: at least `EMERGENCY_MIN_MS`, or `EMERGENCY_GC_FACTOR` major
 * GCs of this heap (V8's last mark-compacts before its abort, each as long as the others).
 */
export const EMERGENCY_MIN_MS = 200;
export const EMERGENCY_GC_FACTOR = 4;

/** "Still growing now" is read from the heap in use since the last major GC, over at least this. */
export const GROWTH_MIN_SPAN_MS = 50;

/**
 * A trajectory is current when the major GC it ends on is at most this old, or at most one
 * major GC's duration (an app that stopped growing a moment ago must not be projected on).
 */
export const TRAJECTORY_FRESH_MS = 100;

/** What a confirming GC is asked for: `urgent` may run soon after another, `check` backs off. */
export type ConfirmUrgency = 'urgent' | 'check';

/** What the heap rule says for one reading while the guard is not yet shutting down. */
export type HeapCall =
  | { kind: 'none' }
  | { kind: 'decide'; value: number; grounds: Grounds }
  | { kind: 'confirm'; urgency: ConfirmUrgency };

const NONE: HeapCall = Object.freeze({ kind: 'none' });

/**
 * The heap shutdown rule. A crossing is decided only on what a major GC left alive (V8's own,
 * read in time, or the guard's confirming one); while the heap in use is past the line but no major GC says the
 * live set is, the guard asks for one (`urgent` when the trajectory or the old generation itself
 * says the line is reached, `check` otherwise). Only when V8's trajectory leaves no time for a
 * major GC (`noTime`) is the heap in use acted on unconfirmed.
 */
export function heapCall(reading: Readonly<Reading>, line: number): HeapCall {
  const gc = reading.gc;
  if (gc.oldGenLive !== undefined && reading.heapSignal >= line) {
    // Read too late to be the GC's result: an upper bound, confirmed by a GC of our own first.
    if (gc.liveExact === false) return { kind: 'confirm', urgency: 'urgent' };
    return { kind: 'decide', value: reading.heapSignal, grounds: heapGrounds(reading, line, 'live') };
  }
  // Nothing alive can be past the line while the whole heap in use is not.
  if (reading.heapInUse < line) return NONE;
  const live = projectedLive(reading);
  if (live !== undefined && noTime(reading, line)) {
    return { kind: 'decide', value: Math.round(live), grounds: heapGrounds(reading, line, 'in-use') };
  }
  const urgent = live === undefined || live >= line || reading.oldGenInUse >= line;
  return { kind: 'confirm', urgency: urgent ? 'urgent' : 'check' };
}

/**
 * "No time": the live set, by its current trajectory, has reached the line and will reach V8's
 * own line (80% of the budget, where V8 starts counting ineffective mark-compacts; the budget
 * itself for a line above it) in less time than a major GC of this heap takes. A confirming GC
 * would then report a heap already in V8's abort zone, and the hooks would start there. The
 * trajectory must be current (its last major GC within `TRAJECTORY_FRESH_MS` or one GC's
 * duration) and growing, so a warm-up that has just finished is never projected past the line.
 */
export function noTime(reading: Readonly<Reading>, line: number): boolean {
  const gc = reading.gc;
  const rate = liveGrowth(gc.livePoints);
  const live = projectedLive(reading);
  if (rate === undefined || !(rate > 0) || live === undefined || gc.lastMajorAt === undefined) return false;
  const gcMs = majorGcMs(reading);
  if (!trajectoryCurrent(reading)) return false;
  if (live < line) return false;
  const left = timeTo(live, dangerLine(reading, line), rate);
  return left !== undefined && left < gcMs;
}

/**
 * Whether the live set's trajectory is current: its last major GC at most `TRAJECTORY_FRESH_MS`
 * or one major GC's duration old. An older one may describe a phase that has ended (a dataset
 * loaded at import, then a wait on a connection): a leak that goes on brings V8's next major GC
 * within that time, and with it a fresh point.
 */
function trajectoryCurrent(reading: Readonly<Reading>): boolean {
  const at = reading.gc.lastMajorAt;
  return at !== undefined && reading.time - at <= Math.max(TRAJECTORY_FRESH_MS, majorGcMs(reading));
}

/** V8's 80% line, or the budget for a shutdown line above it. */
function dangerLine(reading: Readonly<Reading>, line: number): number {
  const v8Line = reading.heapBudget * V8_HIGH_HEAP_SHARE;
  return line < v8Line ? v8Line : reading.heapBudget;
}

/** V8 is counting ineffective mark-compacts towards its abort (heap-replay.ts). */
export function v8Thrashing(reading: Readonly<Reading>): boolean {
  const gc = reading.gc;
  if (gc.ineffectiveMajors >= THRASH_MAJORS) return true;
  if (gc.ineffectiveMajors < THRASH_MAJORS_ALLOCATING || gc.lastMajorAt === undefined || gc.inUseAfterMajor === undefined) return false;
  const since = reading.time - gc.lastMajorAt;
  if (since < GROWTH_MIN_SPAN_MS) return false;
  const left = timeTo(reading.heapInUse, reading.heapBudget, (reading.heapInUse - gc.inUseAfterMajor) / since);
  return left !== undefined && left < emergencyHorizon(reading);
}

/** How soon V8 could abort for the guard to exit at once: see `EMERGENCY_MIN_MS`. */
function emergencyHorizon(reading: Readonly<Reading>): number {
  return Math.max(EMERGENCY_MIN_MS, EMERGENCY_GC_FACTOR * majorGcMs(reading));
}

/** An emergency during a shutdown: V8 would abort before the hooks are done. */
export interface HeapEmergency {
  reason: 'heap-emergency' | 'gc-thrash-emergency';
  value: number;
  threshold: number;
  grounds: Grounds;
}

/**
 * During a shutdown decided at `from` (the end of the last major GC the decision knew): exit now
 * when V8 is counting ineffective mark-compacts, or when the live set is still growing (major GCs
 * since the decision say so, and the heap in use still grows since the last one) fast enough to
 * reach the budget within the horizon. A drain that does not grow the live set never qualifies:
 * a GC count alone, or a single step up, is not growth.
 */
export function heapEmergency(reading: Readonly<Reading>, line: number, from: number): HeapEmergency | undefined {
  const gc = reading.gc;
  if (v8Thrashing(reading)) {
    const threshold = Math.floor(reading.heapBudget * V8_HIGH_HEAP_SHARE);
    return { reason: 'gc-thrash-emergency', value: reading.heapSignal, threshold, grounds: heapGrounds(reading, line, 'gc-thrash') };
  }
  const liveRate = liveGrowth(gc.livePoints, from);
  if (liveRate === undefined || !(liveRate > 0) || gc.lastMajorAt === undefined || gc.inUseAfterMajor === undefined) return undefined;
  const since = reading.time - gc.lastMajorAt;
  if (since < GROWTH_MIN_SPAN_MS) return undefined;
  const rate = Math.min(liveRate, (reading.heapInUse - gc.inUseAfterMajor) / since);
  const left = timeTo(reading.heapSignal, reading.heapBudget, rate);
  const horizon = emergencyHorizon(reading);
  if (left === undefined || left >= horizon) return undefined;
  return { reason: 'heap-emergency', value: reading.heapSignal, threshold: reading.heapBudget, grounds: heapGrounds(reading, line, 'growth', from) };
}

/** What a heap decision rested on, for the event, the JSON line and the telemetry. */
export function heapGrounds(reading: Readonly<Reading>, line: number, basis: Grounds['basis'], from?: number): Grounds {
  const gc = reading.gc;
  const grounds: Grounds = {
    basis,
    confirmedBy: basis === 'in-use' || gc.oldGenLive === undefined ? 'none' : gc.lastMajorForced ? 'guard' : 'v8',
    majorGcMs: round1(majorGcMs(reading)),
    ineffectiveMajors: gc.ineffectiveMajors,
  };
  if (gc.lastMajorAt !== undefined) grounds.lastMajorAt = Math.round(gc.lastMajorAt);
  if (gc.oldGenLive !== undefined) grounds.liveAfterMajor = gc.oldGenLive;
  if (gc.mutatorUtilization !== undefined) grounds.mutatorUtilization = round3(gc.mutatorUtilization);
  const rate = liveGrowth(gc.livePoints, from);
  if (rate !== undefined) {
    const live = projectedLive(reading) ?? reading.heapSignal;
    grounds.liveGrowthPerSec = Math.round(rate * 1000);
    const toLine = timeTo(live, line, rate);
    const toBudget = timeTo(live, reading.heapBudget, rate);
    if (toLine !== undefined) grounds.timeToLineMs = round1(toLine);
    if (toBudget !== undefined) grounds.timeToBudgetMs = round1(toBudget);
  }
  return grounds;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;
const round3 = (n: number): number => Math.round(n * 1000) / 1000;

/** Share of the line from which the live set counts as near it (cadence.ts times checks by the heap in use from there). */
export const NEAR_LINE = 0.85;

/**
 * Whether the heap is near enough to its line for its growth in use (young objects too) to time
 * the checks: no major GC has said what is alive, the live set by its trajectory is near the
 * line, or the old generation itself is past it.
 */
export function nearLine(reading: Readonly<Reading>, line: number): boolean {
  const live = projectedLive(reading);
  return live === undefined || live >= line * NEAR_LINE || reading.oldGenInUse >= line;
}
