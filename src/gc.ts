/**
 * The GC observer: counts major GCs, measures the share of time spent in GC over a recent window,
 * and after each major GC reads V8's "old size" (the old generation left alive, L), keeps the
 * last few for the live set's trend, replays V8's ineffective-mark-compact count and estimates
 * the next major GC's limit with the heap model. Side effects only in `start()`.
 */
import type { PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { generationSizes, type GenerationSizes } from './heap';
import { growingFactor, nextGcEstimate } from './heap-rules';
import { V8Replay } from './heap-replay';
import type { GcSummary, LivePoint } from './types';


/** Options of the tracker. */
export interface GcTrackerOptions {
  /** The old-generation budget in bytes (`heapBudget().bytes`). */
  heapBudget: number;
  /** Width of the recent window for `recentMajors` and `recentGcShare`. Default 10 000 ms. */
  recentWindowMs?: number;
  /** Wall clock in ms. Default `Date.now`. */
  now?: () => number;
  /** Called right after a major GC has been recorded (the guard checks at once). */
  onMajor?: () => void;
  /** `process.versions.v8`; picks the growing-factor rule. Default: this process's. */
  v8Version?: string;
  /** Reads heap spaces after a major GC. Default `v8.getHeapSpaceStatistics`. */
  readSpaces?: () => GenerationSizes | undefined;
}

/** One GC as the tracker records it: wall-clock end and duration in ms. */
export interface GcRecord {
  /** Wall-clock ms (`Date.now()` terms) when the GC ended. */
  end: number;
  /** Pause in ms. */
  duration: number;
  /** Mark-compact (`NODE_PERFORMANCE_GC_MAJOR`). */
  major: boolean;
}

/**
 * A major GC's result is read from the heap spaces when the observer hears of it. Heard of later
 * than this, the read includes what the app allocated since (a synchronous batch that ran on for
 * 100s of ms after V8's mark-compact, its data garbage by then, read as 75-80% "alive"): the
 * figure is then an upper bound, not the live set. Observer delays measured: median 0.25-0.38 ms,
 * worst 1.4-126 ms (docs/heap-model.md).
 */
export const LIVE_READ_MAX_DELAY_MS = 20;

/** Capacity of the ring buffer; at the fastest observed pace (~100 GCs/s) it holds > 2 s. */
const RING = 1024;
/** Major GC results kept for the live-set trend (heap-trend.ts). */
const LIVE_POINTS = 8;

/**
 * perf_hooks, loaded by the first `start()`, not on import: most processes never observe a GC
 * (heap-probe.ts), and loading it is ~1.5 ms of a short process's life (BENCHMARKS.md, figure 4).
 */
let perfHooks: typeof import('node:perf_hooks') | undefined;

/**
 * Watches `gc` performance entries. Allocation-free per GC but for the live points (a small
 * array); the observer is asynchronous, so `lastDelayMs` records how late the last entry arrived.
 */
export class GcTracker {
  readonly #budget: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #onMajor: (() => void) | undefined;
  readonly #v8Version: string;
  readonly #readSpaces: () => GenerationSizes | undefined;
  readonly #ends = new Float64Array(RING);
  readonly #durations = new Float64Array(RING);
  readonly #majors = new Uint8Array(RING);
  readonly #replay = new V8Replay();
  #head = 0; // next slot to write
  #count = 0;
  #majorCount = 0;
  #lastMajorAt: number | undefined;
  #oldGenLive: number | undefined;
  #inUseAfter: number | undefined;
  #lastForced = false;
  #liveExact = true;
  #forcedEnd = -Infinity;
  #livePoints: LivePoint[] = [];
  #markSpeed: number | undefined;
  #nextGc: number | undefined;
  #observer: PerformanceObserver | undefined;
  /** How late (ms) the last entry reached the observer after its GC ended; for measurements. */
  lastDelayMs: number | undefined;

  constructor(opts: GcTrackerOptions) {
    this.#budget = opts.heapBudget;
    this.#windowMs = opts.recentWindowMs ?? 10_000;
    this.#now = opts.now ?? Date.now;
    this.#onMajor = opts.onMajor;
    this.#v8Version = opts.v8Version ?? process.versions.v8;
    this.#readSpaces = opts.readSpaces ?? readSpaces;
  }

  /** Starts observing `gc` entries. Idempotent; never throws. */
  start(): void {
    if (this.#observer) return;
    try {
      const { PerformanceObserver } = (perfHooks ??= require('node:perf_hooks') as typeof import('node:perf_hooks'));
      const observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) this.#onEntry(entry);
      });
      observer.observe({ entryTypes: ['gc'] });
      this.#observer = observer;
      this.#replay.begin(this.#now());
    } catch {
      // perf_hooks unavailable: the summary stays empty and the heap signal uses in-use bytes.
    }
  }

  /** Stops observing. */
  stop(): void {
    this.#observer?.disconnect();
    this.#observer = undefined;
  }

  /** Whether the observer is connected. */
  get observing(): boolean {
    return this.#observer !== undefined;
  }

  /**
   * Forgets what the major GCs said (the live set, its trend, V8's replayed count, the next-GC
   * estimate): after a pause in observing, they would be stale.
   */
  forgetLive(): void {
    this.#oldGenLive = undefined;
    this.#inUseAfter = undefined;
    this.#livePoints = [];
    this.#nextGc = undefined;
    this.#replay.reset();
  }

  #onEntry(entry: PerformanceEntry): void {
    try {
      const { constants, performance } = perfHooks!;
      // perf_hooks times are ms since timeOrigin; the summary speaks Date.now().
      const endPerf = entry.startTime + entry.duration;
      const delay = performance.now() - endPerf;
      this.lastDelayMs = delay;
      const end = performance.timeOrigin + endPerf;
      const detail = (entry as { detail?: unknown }).detail as { kind?: number } | undefined;
      const major = detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR;
      // The guard's own GC was recorded when it ran (recordForced); its entry comes later.
      if (major && Math.abs(end - this.#forcedEnd) < 2) return;
      this.record({ end, duration: entry.duration, major });
      if (major) {
        this.recordMajor(this.#readSpaces(), end, delay <= LIVE_READ_MAX_DELAY_MS);
        this.#onMajor?.();
      }
    } catch {
      // Never throw from the observer: a failing source yields a missing value.
    }
  }

  /** Records one GC (pure bookkeeping; tests feed synthetic entries). */
  record(gc: GcRecord): void {
    this.#ends[this.#head] = gc.end;
    this.#durations[this.#head] = gc.duration;
    this.#majors[this.#head] = gc.major ? 1 : 0;
    this.#head = (this.#head + 1) % RING;
    if (this.#count < RING) this.#count++;
    if (gc.major) {
      this.#majorCount++;
      this.#lastMajorAt = gc.end;
      this.#lastForced = false;
      this.#replay.pending(gc);
    }
  }

  /**
   * Records the heap right after a major GC that ended at `end` (`exact`: read in time to be its
   * result, see `LIVE_READ_MAX_DELAY_MS`; `betweenTasks`: heard of in time for the GC not to
   * have run in the middle of one of the app's tasks, whose temporaries it would have counted:
   * such a result is a point of the trend but no ground for a decision): L is the old generation in use,
   * the next-GC estimate follows V8's rule with its max growing factor for this budget (the GC
   * and mutator speeds V8 uses for the dynamic factor are not visible from JS; see
   * docs/heap-model.md), and V8's ineffective-mark-compact count is replayed.
   */
  recordMajor(sizes: GenerationSizes | undefined, end: number = this.#now(), exact = true, betweenTasks = exact): void {
    if (!sizes) return;
    this.#oldGenLive = sizes.oldGen;
    this.#liveExact = exact && betweenTasks;
    this.#inUseAfter = sizes.oldGen + sizes.young;
    // An upper bound is no point of the live set's trend: it would steepen it.
    if (exact) this.#livePoints.push({ time: end, live: sizes.oldGen });
    if (this.#livePoints.length > LIVE_POINTS) this.#livePoints.shift();
    this.#replay.settle(sizes.oldGen, this.#budget);
    this.#nextGc = nextGcEstimate({
      oldGenLive: sizes.oldGen,
      maxOldSize: this.#budget,
      newSpaceCapacity: sizes.newSpaceCapacity,
      factor: growingFactor(this.#budget, this.#v8Version),
    });
  }

  /**
   * Records a major GC that the sentinel reported (major-gc.ts). Its callback is a task of its
   * own, run once the app's current task has ended, at a time that says nothing about when the
   * GC ran: the heap read then includes what the app allocated since, and a GC in the middle of
   * a synchronous batch counted the batch's temporaries as alive (a healthy batch job on Node 24
   * read 81% "alive" between two inputs that leave 55%). So it is an upper bound, which a
   * decision confirms with a GC of the guard's own; while the observer is connected it reports
   * the same GC with its timing, and the sentinel's read is left out.
   */
  recordSentinelMajor(sizes: GenerationSizes | undefined): void {
    if (this.#observer) return;
    this.recordMajor(sizes, this.#now(), false);
  }

  /**
   * Records a major GC the guard ran itself (heap-probe.ts), timed around the call: it counts
   * as V8 counts it, its result is the live set now, and its duration times the marking speed
   * (a full, atomic mark of everything alive). Its `gc` entry, when the observer delivers it,
   * is not counted twice.
   */
  recordForced(gc: { end: number; duration: number; sizes: GenerationSizes | undefined }): void {
    this.#forcedEnd = gc.end;
    this.record({ end: gc.end, duration: gc.duration, major: true });
    if (gc.sizes && gc.duration > 0) {
      // Averaged as V8 averages its own GC speeds (halving the old value each time).
      const speed = gc.sizes.oldGen / gc.duration;
      this.#markSpeed = this.#markSpeed === undefined ? speed : (this.#markSpeed + speed) / 2;
    }
    this.recordMajor(gc.sizes, gc.end);
    this.#lastForced = true;
  }

  /** What the observer knows at `now`; cheap (walks the ring buffer back to the window start). */
  summary(now: number = this.#now()): GcSummary {
    const from = now - this.#windowMs;
    let recentMajors = 0;
    let gcMs = 0;
    for (let i = 0, slot = this.#head; i < this.#count; i++) {
      slot = (slot - 1 + RING) % RING;
      const end = this.#ends[slot] ?? 0;
      if (end <= from) break;
      const duration = this.#durations[slot] ?? 0;
      // Only the part of the pause inside the window counts.
      gcMs += Math.min(duration, end - from);
      if (this.#majors[slot] === 1) recentMajors++;
    }
    const out: GcSummary = {
      majorCount: this.#majorCount,
      recentMajors,
      recentGcShare: this.#windowMs > 0 ? Math.min(1, gcMs / this.#windowMs) : 0,
      recentWindowMs: this.#windowMs,
      livePoints: this.#livePoints.slice(),
      ineffectiveMajors: this.#replay.ineffective,
    };
    if (this.#lastMajorAt !== undefined) out.lastMajorAt = this.#lastMajorAt;
    if (this.#oldGenLive !== undefined) {
      out.oldGenLive = this.#oldGenLive;
      out.lastMajorForced = this.#lastForced;
      out.liveExact = this.#liveExact;
    }
    if (this.#inUseAfter !== undefined) out.inUseAfterMajor = this.#inUseAfter;
    if (this.#nextGc !== undefined) out.nextGc = this.#nextGc;
    if (this.#replay.utilization !== undefined) out.mutatorUtilization = this.#replay.utilization;
    if (this.#markSpeed !== undefined) out.markSpeed = this.#markSpeed;
    return out;
  }
}

/** The app's own `gc` (`node --expose-gc`), as a function that runs a major GC; undefined without it. */
export function exposedGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: unknown }).gc;
  return typeof existing === 'function' ? () => void (existing as () => unknown)() : undefined;
}

/**
 * A function that runs a full, synchronous major GC, or undefined where none can be had.
 *
 * The guard needs one when the old generation in use reaches the heap line between two of V8's
 * own major GCs: only a major GC tells a leak from garbage, and V8's next one may come only
 * once the heap is far past the line. `globalThis.gc` is used when the app runs with
 * `--expose-gc`; otherwise the flag is set for the time it takes to create one new context and
 * take `gc` from it, then unset, so neither the app's global nor its later contexts get `gc`.
 * (Setting V8 flags at run time is documented as use-with-care; `--expose-gc` only decides which
 * new contexts get the function: https://nodejs.org/api/v8.html#v8setflagsfromstringflags.)
 *
 * V8 flags are process-wide and read without a lock by isolates starting on other threads, so
 * this is called once, by the preload on the main thread, before the app's first line (before
 * any worker can exist), never later. A guard started later by `start()` uses `exposedGc()`.
 */
export function majorGcTrigger(): (() => void) | undefined {
  const existing = exposedGc();
  if (existing) return existing;
  try {
    setFlagsFromString('--expose-gc');
    try {
      const gc: unknown = (require('node:vm') as typeof import('node:vm')).runInNewContext('gc');
      return typeof gc === 'function' ? () => void (gc as () => unknown)() : undefined;
    } finally {
      setFlagsFromString('--no-expose-gc');
    }
  } catch {
    return undefined;
  }
}

/** The heap's generation sizes now (after a GC the guard ran itself). */
export function readSpaces(): GenerationSizes | undefined {
  try {
    return generationSizes(getHeapSpaceStatistics());
  } catch {
    return undefined;
  }
}
