/**
 * When the guard looks at the heap through GCs: it observes V8's GCs only while the heap is
 * near its line, and, when the heap in use reaches the line but no major GC says the live set
 * has, runs one of its own, rationed, so the decision is taken on what is alive.
 *
 * The GC tracker (gc.ts) counts and measures; this decides when it listens and when a GC is
 * worth forcing. The clock and the GC trigger are injected so tests drive both.
 */
import { majorGcTrigger, readSpaces, type GcTracker } from './gc';
import type { GenerationSizes } from './heap';
import type { GuardState, Reading } from './types';
import type { ConfirmUrgency } from './heap-decision';

/** The GC observer runs while the old generation is at or above this share of the heap line... */
export const GC_OBSERVE_FROM = 0.5;
/** ...and stops once it is back under this share (and the guard is not warning). */
export const GC_OBSERVE_UNTIL = 0.4;

/**
 * The guard's own major GCs are a pause for the app (a full GC marked 0.6-1.2 MB/ms here: ~100
 * ms at 100 MB) and count in V8's mark-compact statistics, so they are rationed. An `urgent`
 * one (the trajectory or the old generation says the line is reached) waits at least
 * `FORCED_GC_MIN_GAP_MS` after the last, and `URGENT_GAP_FACTOR` times its duration: near the
 * line the guard takes at most half of the time...
 */
export const FORCED_GC_MIN_GAP_MS = 50;
export const URGENT_GAP_FACTOR = 1;
/**
 * ...but never more than this: on a machine so loaded that a GC takes seconds (a 100 MB heap
 * took 1.8 s with the load at 6 per core), rationing by duration alone decided at 86%, not 75%.
 */
export const URGENT_GAP_MAX_MS = 1000;
/**
 * ...and a `check` (the heap in use past the line, the live set by all accounts below it) first
 * waits `CHECK_GAP_MS` after any forced GC and `CHECK_GAP_FACTOR` times its duration (a tenth of
 * the time). While the checks find the live set growing, that is all: two of them give the
 * trend that times the urgent one. Each check that finds it well below the line (under
 * `CHECK_RESET_SHARE` of it) and not growing doubles the wait, up to `CHECK_GAP_MAX_MS`: a
 * healthy heap full of young garbage costs one GC in half a minute once looked at a few times.
 */
export const CHECK_GAP_MS = 1000;
export const CHECK_GAP_FACTOR = 10;
/** The duration-based part of a check's wait is capped like the urgent one's (`URGENT_GAP_MAX_MS`). */
export const CHECK_COST_MAX_MS = 4000;
export const CHECK_GAP_MAX_MS = 32_000;
export const CHECK_RESET_SHARE = 0.9;
/** Growth between two checks under this share of the budget is no growth. */
export const CHECK_GROWTH_SHARE = 0.005;

export interface HeapProbeOptions {
  /** The old-generation budget in bytes (`heap.ts`). */
  heapBudget: number;
  gc: Pick<GcTracker, 'start' | 'stop' | 'observing' | 'forgetLive' | 'recordForced'>;
  /** Monotonic ms with sub-ms precision, `performance.now()` terms. Default `performance.now`. */
  now?: () => number;
  /** `performance.timeOrigin`: turns `now()` into `Date.now()` terms. */
  timeOrigin?: number;
  /** Makes the function that runs a major GC, asked once, on first need. Default `majorGcTrigger`. */
  gcTrigger?: () => (() => void) | undefined;
  /** The heap's generation sizes right after that GC. Default `readSpaces`. */
  readSpaces?: () => GenerationSizes | undefined;
  /**
   * True while major GCs reach the tracker without the observer (major-gc.ts, the native part):
   * what the last one said stays current when the observer lets go, so it is not forgotten.
   */
  majorsReported?: () => boolean;
}

export class HeapProbe {
  readonly #opts: HeapProbeOptions;
  readonly #now: () => number;
  readonly #origin: number;
  #forceGc: (() => void) | null | undefined;
  #lastEnd = -Infinity;
  #lastMs = 0;
  #lastLive: number | undefined;
  #checkGap = 0;

  constructor(options: HeapProbeOptions) {
    this.#opts = options;
    this.#now = options.now ?? (() => performance.now());
    this.#origin = options.timeOrigin ?? (options.now ? 0 : performance.timeOrigin);
  }

  /**
   * The heap crossed its line in use but no major GC says the live set did: run one now, so the
   * decision is taken on what is alive, not on garbage. Rationed as the constants above say.
   * Returns whether a GC ran; its result is recorded as a major GC of V8's own would be, with
   * its duration (the marking speed the policy's "no time" and emergency horizon use).
   */
  confirm(reading: Reading, line: number, urgency: ConfirmUrgency = 'urgent'): boolean {
    const start = this.#now();
    const since = start - this.#lastEnd;
    const gap = urgency === 'urgent'
      ? Math.max(FORCED_GC_MIN_GAP_MS, Math.min(URGENT_GAP_MAX_MS, URGENT_GAP_FACTOR * this.#lastMs))
      : Math.max(this.#checkGap, Math.min(CHECK_COST_MAX_MS, CHECK_GAP_FACTOR * this.#lastMs));
    if (since < gap) return false;
    if (this.#forceGc === undefined) this.#forceGc = (this.#opts.gcTrigger ?? majorGcTrigger)() ?? null;
    if (!this.#forceGc) {
      // No GC of our own: V8's next one decides, so watch for it.
      this.#opts.gc.start();
      return false;
    }
    try {
      this.#forceGc();
    } catch {
      return false;
    }
    const end = this.#now();
    this.#lastEnd = end;
    this.#lastMs = end - start;
    const sizes = (this.#opts.readSpaces ?? readSpaces)();
    this.#opts.gc.recordForced({ end: this.#origin + end, duration: end - start, sizes });
    this.#backoff(urgency, sizes?.oldGen ?? reading.oldGenInUse, line);
    return true;
  }

  /** A check that found the live set well below the line and not growing waits twice as long next time. */
  #backoff(urgency: ConfirmUrgency, live: number, line: number): void {
    const before = this.#lastLive;
    this.#lastLive = live;
    const growing = before !== undefined && live - before >= this.#opts.heapBudget * CHECK_GROWTH_SHARE;
    if (live >= line * CHECK_RESET_SHARE || growing) this.#checkGap = CHECK_GAP_MS;
    else if (urgency === 'check') this.#checkGap = Math.min(CHECK_GAP_MAX_MS, Math.max(CHECK_GAP_MS, this.#checkGap * 2));
    else this.#checkGap = Math.max(this.#checkGap, CHECK_GAP_MS);
  }

  /**
   * A `gc` PerformanceObserver is not free: Node makes a performance entry for every GC, young
   * ones included, and a GC-heavy app (hundreds of scavenges a second) measurably slows down
   * (10-25% in a synthetic allocation loop here). The guard needs GC events only when the heap
   * is near its line, so it observes from half the line up (half the budget when the heap line
   * is off) and lets go below 40% of it while the guard is `ok`; below that the timer, timed by
   * the growth rate, is enough, and a crossing is confirmed by `confirm`. After a pause the last
   * GC's numbers are stale, so they are forgotten, unless major GCs are reported another way.
   */
  follow(reading: Reading, line: number | undefined, state: GuardState): void {
    const gc = this.#opts.gc;
    const share = reading.oldGenInUse / (line ?? this.#opts.heapBudget);
    if (!gc.observing && share >= GC_OBSERVE_FROM) {
      gc.start();
    } else if (gc.observing && share < GC_OBSERVE_UNTIL && state === 'ok') {
      gc.stop();
      if (!this.#opts.majorsReported?.()) gc.forgetLive();
    }
  }
}
