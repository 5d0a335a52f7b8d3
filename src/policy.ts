/**
 * The decision, as a pure function: `(reading, state, config) -> { state, decisions }`.
 *
 * Everything here is data in, data out: no clock, no I/O, no globals, so a table of cases can
 * prove every rule (test/unit/policy.test.ts). The watcher feeds it one reading per tick.
 */
import type {
  Decision,
  GuardState,
  Reading,
  ResolvedThresholds,
  Signal,
  ThresholdSpec,
} from './types';

/** The part of the configuration the policy needs. */
export interface PolicyConfig {
  readonly heapThreshold: ThresholdSpec;
  readonly heapWarn: ThresholdSpec;
  readonly rssThreshold: ThresholdSpec;
  readonly rssWarn: ThresholdSpec;
}

/**
 * Tuning that is not part of the public contract. Defaults are explained where they are set
 * (`POLICY_DEFAULTS`).
 */
export interface PolicyTuning {
  /** A warning clears only when the signal falls below `warn * (1 - hysteresis)`. */
  readonly hysteresis: number;
  /** GC thrash: at least this many major GCs in the GC tracker's recent window... */
  readonly thrashMinMajors: number;
  /** ...with at least this share of wall time spent in GC... */
  readonly thrashMinGcShare: number;
  /** ...while the heap signal is at or above this share of the heap shutdown threshold. */
  readonly thrashMinPressure: number;
  /**
   * During a shutdown the app keeps allocating. Once a signal has gone this share of the way from
   * its shutdown line to the real limit (the heap budget, the memory limit), the guard exits at
   * once rather than let V8 abort or the kernel kill while hooks or a flush are still running.
   */
  readonly emergencyFraction: number;
  /**
   * V8's own line: it counts a mark-compact as ineffective only while the old generation is at
   * or above this share of its maximum (kHighHeapPercentage in v8/src/heap/heap.cc).
   */
  readonly v8HighHeapShare: number;
  /** During a shutdown above V8's line, this many major GCs within 500 ms is V8's run-up to its abort. */
  readonly burstMajors: number;
  /**
   * The guard runs a confirming major GC (and times its checks by the heap's growth) only once
   * the last major GC left at least this share of the heap line alive: a healthy heap full of
   * young garbage is not collected for it.
   */
  readonly confirmFrom: number;
}

export const POLICY_DEFAULTS: PolicyTuning = Object.freeze({
  // 5% of the warn line: a value hovering at the line (GC sawtooth, a cache at its cap) raises
  // one warning, not one per tick; a real drop re-arms it.
  hysteresis: 0.05,
  // V8 gives up ("Ineffective mark-compacts near heap limit") after four mark-compacts in a row
  // that leave the mutator under 40% of the time (GC share over 60%) with the old generation at
  // 80% or more of its maximum (v8/src/heap/heap.cc, CheckIneffectiveMarkCompact). We act on the
  // third such GC, at a lower share and a lower fill, so the guard is never the one that is late.
  thrashMinMajors: 3,
  thrashMinGcShare: 0.5,
  thrashMinPressure: 0.85,
  // Halfway from the line to the wall: with the defaults 90% of the heap budget (V8 aborted at
  // 92-99.8% in every measured run) and 95% of the memory limit.
  emergencyFraction: 0.5,
  v8HighHeapShare: 0.8,
  // Measured (Node 20/24, 128-512 MiB, an app draining after the guard fired at 80-86%): V8
  // finalised incremental marking every 7-9 ms and aborted on the 4th ineffective mark-compact
  // in a row, ~100 ms after the first. Two in 500 ms is the earliest sure sign.
  burstMajors: 2,
  confirmFrom: 0.85,
});

/** What the policy remembers between readings. Immutable: each evaluation returns a new one. */
export interface PolicyState {
  readonly state: GuardState;
  /** Which signals are currently past their warn line (armed again once they drop clearly). */
  readonly warned: Readonly<Record<Signal, boolean>>;
  /** Set once an emergency exit has been decided during a shutdown. */
  readonly emergency?: boolean;
}

export const INITIAL_POLICY_STATE: PolicyState = Object.freeze({
  state: 'ok',
  warned: Object.freeze({ heap: false, rss: false }),
});

export interface Evaluation {
  readonly state: PolicyState;
  /** In the order they happened: at most one per signal and level. Empty most of the time. */
  readonly decisions: readonly Decision[];
  readonly thresholds: ResolvedThresholds;
  /** Highest `signal / shutdown threshold`; 0 when no shutdown threshold applies. */
  readonly pressure: number;
  /**
   * The heap in use (young objects too) has reached the heap shutdown line while the heap signal
   * has not, and the last major GC is too old to say whether it is garbage: a fresh major GC
   * would decide (the watcher asks `HeapProbe.confirm` for one).
   */
  readonly confirmHeap: boolean;
}

/** A threshold in bytes for this reading, or undefined when it is off or cannot apply. */
export function resolveThreshold(spec: ThresholdSpec, base: number | undefined): number | undefined {
  switch (spec.kind) {
    case 'off':
      return undefined;
    case 'bytes':
      return spec.bytes;
    case 'percent':
      // A percent of nothing is nothing: RSS percents are off where there is no memory limit.
      return base === undefined || !(base > 0) ? undefined : Math.floor((base * spec.percent) / 100);
  }
}

/**
 * Thresholds in bytes: heap percents are of the old-generation budget (what really kills the
 * process, not `heap_size_limit`), RSS percents of the memory limit. A warn line at or above
 * its shutdown line would never be seen before the shutdown, so it is dropped.
 */
export function resolveThresholds(reading: Reading, config: PolicyConfig): ResolvedThresholds {
  const heapShutdown = resolveThreshold(config.heapThreshold, reading.heapBudget);
  const rssShutdown = resolveThreshold(config.rssThreshold, reading.memoryLimit);
  return {
    heap: { warn: below(resolveThreshold(config.heapWarn, reading.heapBudget), heapShutdown), shutdown: heapShutdown },
    rss: { warn: below(resolveThreshold(config.rssWarn, reading.memoryLimit), rssShutdown), shutdown: rssShutdown },
  };
}

function below(warn: number | undefined, shutdown: number | undefined): number | undefined {
  if (warn === undefined || shutdown === undefined) return warn;
  return warn < shutdown ? warn : undefined;
}

/** The value each signal is judged on (see `Reading.heapSignal` and `Reading.memorySignal`). */
export function signalValue(reading: Reading, signal: Signal): number | undefined {
  return signal === 'heap' ? reading.heapSignal : reading.memorySignal;
}

const SIGNALS: readonly Signal[] = ['heap', 'rss'];

/**
 * Decide on one reading.
 *
 * - Shutdown fires exactly once, ever: once the state is `shutdown`, nothing else is decided.
 * - Heap or RSS at or above its shutdown line: shutdown, preceded on the same reading by the
 *   signal's warning when that line was never announced (a jump past both lines in one check).
 * - GC thrash: the heap near its line while major GCs come back to back and eat most of the
 *   time. This is the state V8 aborts in; a timer can be too slow to see the line crossed.
 * - Warn fires on the crossing, once; it clears (a `recover` decision) only after the signal
 *   drops below the line by the hysteresis margin.
 */
export function evaluate(
  reading: Reading,
  previous: PolicyState,
  config: PolicyConfig,
  tuning: PolicyTuning = POLICY_DEFAULTS,
): Evaluation {
  const thresholds = resolveThresholds(reading, config);
  const pressure = pressureOf(reading, thresholds);
  if (previous.state === 'shutdown') {
    const emergency = previous.emergency ? undefined : emergencyDecision(reading, thresholds, tuning);
    return emergency
      ? { state: { ...previous, emergency: true }, decisions: [emergency], thresholds, pressure, confirmHeap: false }
      : { state: previous, decisions: [], thresholds, pressure, confirmHeap: false };
  }

  const shutdown = shutdownDecision(reading, thresholds, tuning);
  if (shutdown) {
    // Operators alert on warnings: a leak that jumps both lines between two checks is still
    // announced first, on the same reading, so no shutdown ever comes without its warning.
    const warn = thresholds[shutdown.signal].warn;
    const unannounced = !previous.warned[shutdown.signal] && warn !== undefined && shutdown.value >= warn;
    const decisions: Decision[] = unannounced
      ? [{ action: 'warn', signal: shutdown.signal, value: shutdown.value, threshold: warn, reason: `${shutdown.signal}-warn` }, shutdown]
      : [shutdown];
    const warned = unannounced ? { ...previous.warned, [shutdown.signal]: true } : previous.warned;
    return { state: { state: 'shutdown', warned }, decisions, thresholds, pressure, confirmHeap: false };
  }
  const line = thresholds.heap.shutdown;
  // Everything on the heap counts here, young objects too: a leak of small objects reaches the
  // old generation in steps of a whole semi-space at each scavenge (16 MiB and more), which a
  // poll cannot split; the major GC sorts out what is alive.
  const confirmHeap =
    line !== undefined && reading.heapInUse >= line && reading.heapSignal < line && nearLine(reading, line, tuning);

  const decisions: Decision[] = [];
  const warned = { ...previous.warned };
  for (const signal of SIGNALS) {
    const value = signalValue(reading, signal);
    const warn = thresholds[signal].warn;
    if (value === undefined) continue;
    if (!warned[signal]) {
      if (warn !== undefined && value >= warn) {
        warned[signal] = true;
        decisions.push({ action: 'warn', signal, value, threshold: warn, reason: `${signal}-warn` });
      }
    } else if (warn === undefined || value < warn * (1 - tuning.hysteresis)) {
      // A warn line that disappeared (a limit went away) also clears the warning.
      warned[signal] = false;
      decisions.push({ action: 'recover', signal, value, threshold: warn ?? 0, reason: `${signal}-recovered` });
    }
  }
  const state: GuardState = warned.heap || warned.rss ? 'warn' : 'ok';
  const next: PolicyState =
    state === previous.state && warned.heap === previous.warned.heap && warned.rss === previous.warned.rss
      ? previous
      : { state, warned };
  return { state: next, decisions, thresholds, pressure, confirmHeap };
}

function shutdownDecision(reading: Reading, thresholds: ResolvedThresholds, tuning: PolicyTuning): Decision | undefined {
  for (const signal of SIGNALS) {
    const value = signalValue(reading, signal);
    const line = thresholds[signal].shutdown;
    if (value !== undefined && line !== undefined && value >= line) {
      return { action: 'shutdown', signal, value, threshold: line, reason: `${signal}-threshold` };
    }
  }
  const line = thresholds.heap.shutdown;
  const gc = reading.gc;
  if (line !== undefined && reading.heapSignal >= line * tuning.thrashMinPressure && gcThrashing(gc, tuning)) {
    return { action: 'shutdown', signal: 'heap', value: reading.heapSignal, threshold: line, reason: 'gc-thrash' };
  }
  return undefined;
}

/** During a shutdown: is memory still rising toward the real limit (or V8 thrashing)? */
function emergencyDecision(reading: Reading, thresholds: ResolvedThresholds, tuning: PolicyTuning): Decision | undefined {
  const walls: Record<Signal, number | undefined> = { heap: reading.heapBudget, rss: reading.memoryLimit };
  for (const signal of SIGNALS) {
    const value = signalValue(reading, signal);
    const wall = walls[signal];
    if (value === undefined || wall === undefined || !(wall > 0)) continue;
    const line = thresholds[signal].shutdown;
    // A signal with its threshold off (or a size above the wall) still has a last line before the wall.
    const from = line !== undefined && line < wall ? line : wall * 0.9;
    const emergency = from + (wall - from) * tuning.emergencyFraction;
    if (value >= emergency) return { action: 'emergency', signal, value, threshold: Math.floor(emergency), reason: `${signal}-emergency` };
  }
  const line = thresholds.heap.shutdown;
  const gc = reading.gc;
  const v8Line = reading.heapBudget * tuning.v8HighHeapShare;
  // Above V8's line with mark-compacts back to back, V8 is counting towards its abort.
  if (reading.heapSignal >= v8Line && gc.burstMajors >= tuning.burstMajors) {
    return { action: 'emergency', signal: 'heap', value: reading.heapSignal, threshold: Math.floor(v8Line), reason: 'gc-thrash-emergency' };
  }
  if (line !== undefined && reading.heapSignal >= line && gcThrashing(gc, tuning)) {
    return { action: 'emergency', signal: 'heap', value: reading.heapSignal, threshold: line, reason: 'gc-thrash-emergency' };
  }
  return undefined;
}

/** Highest `signal / shutdown threshold` over the signals that have one (the `oomguard.pressure` gauge). */
export function pressureOf(reading: Reading, thresholds: ResolvedThresholds): number {
  let max = 0;
  for (const signal of SIGNALS) {
    const value = signalValue(reading, signal);
    const line = thresholds[signal].shutdown;
    if (value !== undefined && line !== undefined && line > 0) max = Math.max(max, value / line);
  }
  return max;
}

/**
 * Whether the heap is near enough to its line for the guard to spend GC time confirming a
 * crossing: no major GC yet, the last one left at least `confirmFrom` of the line alive, or the
 * old generation alone is past the line.
 */
export function nearLine(reading: Reading, line: number, tuning: PolicyTuning = POLICY_DEFAULTS): boolean {
  const live = reading.gc.oldGenLive;
  // The old generation itself past the line: promoted bytes, V8's own major GC is near anyway.
  return live === undefined || live >= line * tuning.confirmFrom || reading.oldGenInUse >= line;
}

/** Major GCs coming often and eating most of the time: the state V8 gives up in. */
function gcThrashing(gc: Reading['gc'], tuning: PolicyTuning): boolean {
  return gc.recentMajors >= tuning.thrashMinMajors && gc.recentGcShare >= tuning.thrashMinGcShare;
}
