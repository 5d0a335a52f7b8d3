/**
 * When the guard looks at the heap through GCs: it observes V8's GCs only while the heap is
 * near its line, and, when the old generation reaches the line between two major GCs, runs one
 * of its own, rate-limited, so the decision is taken on what is alive.
 *
 * The GC tracker (gc.ts) counts and measures; this decides when it listens and when a GC is
 * worth forcing. The clock and the GC trigger are injected so tests drive both.
 */
import { majorGcTrigger, readSpaces, type GcTracker } from './gc';
import type { GenerationSizes } from './heap';
import type { GuardState, Reading } from './types';

/** The GC observer runs while the old generation is at or above this share of the heap line... */
export const GC_OBSERVE_FROM = 0.5;
/** ...and stops once it is back under this share (and the guard is not warning). */
export const GC_OBSERVE_UNTIL = 0.4;

/** Major GCs the guard runs itself: at most one a second... */
export const FORCED_GC_GAP_MS = 1000;
/** ...or one per this share of the budget of old-generation growth... */
export const FORCED_GC_GROWTH = 0.02;
/** ...but never two within this. */
export const FORCED_GC_MIN_GAP_MS = 50;

export interface HeapProbeOptions {
  /** The old-generation budget in bytes (`heap.ts`). */
  heapBudget: number;
  gc: Pick<GcTracker, 'start' | 'stop' | 'observing' | 'forgetLive' | 'recordMajor'>;
  /** Default `Date.now`. */
  now?: () => number;
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
  #forceGc: (() => void) | null | undefined;
  #lastForcedGc = -Infinity;
  #oldGenAtForcedGc = 0;

  constructor(options: HeapProbeOptions) {
    this.#opts = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The heap crossed its line between two major GCs: run one now so the decision is taken on
   * what is alive, not on garbage and not a whole GC cycle late. Once a second, or sooner when
   * the old generation has grown by 2% of the budget since the last one (a leak that keeps
   * going must not wait a second: at 60 MB/s in a 128 MiB heap that is 45% of it). Returns
   * whether a GC ran; its result is recorded as a major GC of V8's own would be.
   */
  confirm(reading: Reading): boolean {
    const now = this.#now();
    const since = now - this.#lastForcedGc;
    const grown = reading.oldGenInUse - this.#oldGenAtForcedGc >= this.#opts.heapBudget * FORCED_GC_GROWTH;
    if (since < FORCED_GC_MIN_GAP_MS || (since < FORCED_GC_GAP_MS && !grown)) return false;
    if (this.#forceGc === undefined) this.#forceGc = (this.#opts.gcTrigger ?? majorGcTrigger)() ?? null;
    if (!this.#forceGc) return false;
    this.#lastForcedGc = now;
    try {
      this.#forceGc();
    } catch {
      return false;
    }
    const sizes = (this.#opts.readSpaces ?? readSpaces)();
    this.#oldGenAtForcedGc = sizes?.oldGen ?? reading.oldGenInUse;
    this.#opts.gc.recordMajor(sizes);
    return true;
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
