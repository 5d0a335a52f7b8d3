/**
 * The decision, as a pure function: `(reading, state, config) -> { state, decisions }`.
 *
 * Everything here is data in, data out: no clock, no I/O, no globals, so a table of cases can
 * prove every rule (test/unit/policy.test.ts). The watcher feeds it one reading per tick.
 */
import type {
  Decision,
  Grounds,
  GuardState,
  Reading,
  ResolvedThresholds,
  Signal,
  ThresholdSpec,
} from './types';
import { heapCall, heapEmergency, heapGrounds, v8Thrashing, type ConfirmUrgency, type HeapCall } from './heap-decision';
import { V8_HIGH_HEAP_SHARE } from './heap-replay';

/** The part of the configuration the policy needs. */
export interface PolicyConfig {
  readonly heapThreshold: ThresholdSpec;
  readonly heapWarn: ThresholdSpec;
  readonly rssThreshold: ThresholdSpec;
  readonly rssWarn: ThresholdSpec;
}

/** Tuning that is not part of the public contract; defaults are explained where they are set. */
export interface PolicyTuning {
  /** A warning clears only when the signal falls below `warn * (1 - hysteresis)`. */
  readonly hysteresis: number;
  /**
   * During a shutdown the app keeps allocating. Once the memory signal has gone this share of
   * the way from its shutdown line to the memory limit, the guard exits at once rather than let
   * the kernel kill while hooks or a flush are still running. (The heap has V8's own rules
   * instead: heap-decision.ts.)
   */
  readonly emergencyFraction: number;
}

export const POLICY_DEFAULTS: PolicyTuning = Object.freeze({
  // 5% of the warn line: a value hovering at the line (GC sawtooth, a cache at its cap) raises
  // one warning, not one per tick; a real drop re-arms it.
  hysteresis: 0.05,
  // Halfway from the line to the wall: with the defaults 95% of the memory limit.
  emergencyFraction: 0.5,
});

/** What the watcher knows besides the reading. */
export interface EvaluationContext {
  /**
   * False until the app's main module has been evaluated (main-module.ts): a shutdown then
   * waits, so the app's hooks are registered first, unless V8's trajectory leaves no time.
   */
  readonly mainReady?: boolean;
}

/** What the policy remembers between readings. Immutable: each evaluation returns a new one. */
export interface PolicyState {
  readonly state: GuardState;
  /** Which signals are currently past their warn line (armed again once they drop clearly). */
  readonly warned: Readonly<Record<Signal, boolean>>;
  /** Set once an emergency exit has been decided during a shutdown. */
  readonly emergency?: boolean;
  /**
   * During a shutdown: when the last major GC the decision knew of ended. The live set's growth
   * since then is what an emergency is judged on.
   */
  readonly shutdownFrom?: number;
  /**
   * While a shutdown waits for the main module: when the last major GC known at the start of
   * the wait ended. Only growth of the live set since then makes the wait too dangerous.
   */
  readonly heldFrom?: number;
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
   * The heap in use has reached the heap shutdown line but no major GC says the live set has: a
   * fresh one would decide (the watcher asks `HeapProbe.confirm` for one), `urgent` when the
   * trajectory or the old generation itself says the line is reached. False otherwise.
   */
  readonly confirmHeap: ConfirmUrgency | false;
  /** A shutdown was due but waits for the app's main module (`EvaluationContext.mainReady`). */
  readonly held: boolean;
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
 * - Shutdown fires exactly once, ever: once the state is `shutdown`, only an emergency remains.
 * - Heap: on what a major GC left alive at or past the line; past the line in use only, a
 *   confirming GC is asked for (`confirmHeap`), unless V8's trajectory leaves no time
 *   (heap-decision.ts). V8 counting ineffective mark-compacts is `gc-thrash`.
 * - RSS at or above its shutdown line: shutdown.
 * - Before the main module is evaluated, a shutdown waits (`held`) unless there is no time.
 * - Warn fires on the crossing, once; it clears (a `recover` decision) only after the signal
 *   drops below the line by the hysteresis margin.
 */
export function evaluate(
  reading: Reading,
  previous: PolicyState,
  config: PolicyConfig,
  context: EvaluationContext = {},
  tuning: PolicyTuning = POLICY_DEFAULTS,
): Evaluation {
  const thresholds = resolveThresholds(reading, config);
  const pressure = pressureOf(reading, thresholds);
  if (previous.state === 'shutdown') {
    const emergency = previous.emergency ? undefined : emergencyDecision(reading, thresholds, previous, tuning);
    return emergency
      ? { state: { ...previous, emergency: true }, decisions: [emergency], thresholds, pressure, confirmHeap: false, held: false }
      : { state: previous, decisions: [], thresholds, pressure, confirmHeap: false, held: false };
  }

  const line = thresholds.heap.shutdown;
  const call = line === undefined ? undefined : heapCall(reading, line);
  // Before the main module has run, "no time for a major GC" rests on a trajectory that may be
  // the import's own growth (a dataset loaded at import, at full speed, just past the line): a
  // GC of the guard's own says what is alive first. The app has no hooks yet for an early
  // decision to save, and V8's own limit stays with the native part.
  const heap: HeapCall | undefined = context.mainReady === false && call?.kind === 'decide' && call.grounds.basis === 'in-use' ? { kind: 'confirm', urgency: 'urgent' } : call;
  const shutdown = shutdownDecision(reading, thresholds, heap);
  const heldFrom = shutdown ? (previous.heldFrom ?? reading.gc.lastMajorAt ?? reading.time) : undefined;
  if (shutdown && (context.mainReady !== false || cannotWait(reading, shutdown, line, heldFrom!))) {
    // Operators alert on warnings: a leak that jumps both lines between two checks is still
    // announced first, on the same reading, so no shutdown ever comes without its warning.
    const warn = thresholds[shutdown.signal].warn;
    const unannounced = !previous.warned[shutdown.signal] && warn !== undefined && shutdown.value >= warn;
    const decisions: Decision[] = unannounced
      ? [{ action: 'warn', signal: shutdown.signal, value: shutdown.value, threshold: warn, reason: `${shutdown.signal}-warn`, ...(shutdown.grounds && { grounds: shutdown.grounds }) }, shutdown]
      : [shutdown];
    const warned = unannounced ? { ...previous.warned, [shutdown.signal]: true } : previous.warned;
    const state: PolicyState = { state: 'shutdown', warned, shutdownFrom: reading.gc.lastMajorAt ?? reading.time };
    return { state, decisions, thresholds, pressure, confirmHeap: false, held: false };
  }
  const confirmHeap = !shutdown && heap?.kind === 'confirm' ? heap.urgency : false;

  const { decisions, warned } = warnings(reading, thresholds, previous.warned, tuning);
  const state: GuardState = warned.heap || warned.rss ? 'warn' : 'ok';
  const next: PolicyState =
    state === previous.state && warned.heap === previous.warned.heap && warned.rss === previous.warned.rss && heldFrom === previous.heldFrom
      ? previous
      : { state, warned, ...(heldFrom !== undefined && { heldFrom }) };
  return { state: next, decisions, thresholds, pressure, confirmHeap, held: shutdown !== undefined };
}

/**
 * Whether a shutdown due before the main module is evaluated must go now anyway: it rests on the
 * heap in use because V8's trajectory left no time for a major GC, or V8 would abort before long
 * (the emergency rules, heap-decision.ts).
 */
function cannotWait(reading: Reading, shutdown: Decision, line: number | undefined, heldFrom: number): boolean {
  if (shutdown.grounds?.basis === 'in-use') return true;
  if (line === undefined) return false;
  // Growth counts from the start of the wait only, as during a shutdown: the main module's own
  // start-up (a dataset loaded at import, then a top-level await) is growth that may have ended,
  // and the heap in use since is young garbage and the guard's own start. A leak that goes on
  // brings V8's next major GC soon, and that GC's result shows it.
  return heapEmergency(reading, line, heldFrom) !== undefined;
}

/**
 * Warn crossings and recoveries, per signal. A heap warning, like a heap shutdown, is raised only
 * on what a major GC left alive: before one has been seen the heap in use is mostly garbage.
 */
function warnings(
  reading: Reading,
  thresholds: ResolvedThresholds,
  previous: PolicyState['warned'],
  tuning: PolicyTuning,
): { decisions: Decision[]; warned: Record<Signal, boolean> } {
  const decisions: Decision[] = [];
  const warned = { ...previous };
  for (const signal of SIGNALS) {
    const value = signalValue(reading, signal);
    const warn = thresholds[signal].warn;
    if (value === undefined) continue;
    if (!warned[signal]) {
      const known = signal !== 'heap' || reading.gc.oldGenLive !== undefined;
      if (known && warn !== undefined && value >= warn) {
        warned[signal] = true;
        // What it rested on, as for a shutdown: the major GC's result, or the memory reading.
        const grounds: Grounds = signal === 'heap' ? heapGrounds(reading, thresholds.heap.shutdown ?? warn, 'live') : { basis: 'memory' };
        decisions.push({ action: 'warn', signal, value, threshold: warn, reason: `${signal}-warn`, grounds });
      }
    } else if (warn === undefined || value < warn * (1 - tuning.hysteresis)) {
      // A warn line that disappeared (a limit went away) also clears the warning.
      warned[signal] = false;
      decisions.push({ action: 'recover', signal, value, threshold: warn ?? 0, reason: `${signal}-recovered` });
    }
  }
  return { decisions, warned };
}

function shutdownDecision(reading: Reading, thresholds: ResolvedThresholds, heap: HeapCall | undefined): Decision | undefined {
  const line = thresholds.heap.shutdown;
  if (heap?.kind === 'decide' && line !== undefined) {
    return { action: 'shutdown', signal: 'heap', value: heap.value, threshold: line, reason: 'heap-threshold', grounds: heap.grounds };
  }
  const rss = reading.memorySignal;
  const rssLine = thresholds.rss.shutdown;
  if (rss !== undefined && rssLine !== undefined && rss >= rssLine) {
    return { action: 'shutdown', signal: 'rss', value: rss, threshold: rssLine, reason: 'rss-threshold', grounds: { basis: 'memory' } };
  }
  // V8 counting ineffective mark-compacts before the line is reached (a line above V8's 80%).
  if (line !== undefined && v8Thrashing(reading)) {
    return { action: 'shutdown', signal: 'heap', value: reading.heapSignal, threshold: line, reason: 'gc-thrash', grounds: heapGrounds(reading, line, 'gc-thrash') };
  }
  return undefined;
}

/** During a shutdown: V8 about to abort (heap-decision.ts), or memory still rising toward the limit. */
function emergencyDecision(reading: Reading, thresholds: ResolvedThresholds, state: PolicyState, tuning: PolicyTuning): Decision | undefined {
  const line = thresholds.heap.shutdown ?? reading.heapBudget * V8_HIGH_HEAP_SHARE;
  const heap = heapEmergency(reading, line, state.shutdownFrom ?? -Infinity);
  if (heap) return { action: 'emergency', signal: 'heap', ...heap };
  const value = reading.memorySignal;
  const wall = reading.memoryLimit;
  if (value === undefined || wall === undefined || !(wall > 0)) return undefined;
  const rssLine = thresholds.rss.shutdown;
  // A threshold that is off (or a size above the wall) still has a last line before the wall.
  const from = rssLine !== undefined && rssLine < wall ? rssLine : wall * 0.9;
  const emergency = from + (wall - from) * tuning.emergencyFraction;
  if (value < emergency) return undefined;
  return { action: 'emergency', signal: 'rss', value, threshold: Math.floor(emergency), reason: 'rss-emergency', grounds: { basis: 'memory' } };
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
