/**
 * Major GCs without observing every GC. A `gc` PerformanceObserver gets an entry for every
 * scavenge too (hundreds a second in a GC-heavy app), so the guard runs one only near its heap
 * line (heap-probe.ts). Below it, this sentinel still tells when V8 has run a mark-compact, at a
 * cost of one small allocation and one callback per major GC, so that what the last major GC left
 * alive and V8's next limit (`oomguard.heap.next_gc`) are known at any heap size.
 *
 * How: an unreachable object registered with a `FinalizationRegistry` is cleared only by a GC
 * that marks the generation it lives in. A minor GC never marks the old generation, so a sentinel
 * in the old generation is collected by a mark-compact only; its cleanup callback re-arms the
 * next one. The next sentinel is an object held strongly since the previous arming: it survived
 * the mark-compact that just ran, and V8 promotes every young object that survives a full GC
 * (`--always-promote-young-mc`, on by default), so it is old when it is let go.
 *
 * The first sentinel has to become old without a mark-compact. Up to V8 13 (Node 22 and 24) minor
 * GCs leave WeakRef and FinalizationRegistry targets alone, so a young first sentinel works. V8
 * 14 (Node 26) clears young targets in minor GCs (`--handle-weak-ref-weakly-in-minor-gc`, on by
 * default): a young sentinel fired on 172 of 173 scavenges in an allocation loop. There the
 * first sentinel is held until two GCs of any kind have passed (a young canary, registered twice,
 * counts them), after which V8 has promoted it (objects that survive two scavenges move to the
 * old generation). That costs two callbacks at start-up, none later.
 *
 * Limit: a sentinel let go after V8 has already started marking for the next major GC is marked
 * live by that cycle (V8 marks what was reachable when marking started), so that GC goes
 * unreported and the one after is reported; the numbers are then one cycle old, as they would be
 * between two GCs anyway. The native part (or the observer near the line) reports every one.
 */

/** Options of the sentinel. */
export interface MajorGcSentinelOptions {
  /** Called after each major GC, from V8's cleanup task (soon after the GC, on the main thread). */
  onMajor: () => void;
  /** `process.versions.v8`; decides whether the first sentinel must be promoted first. */
  v8Version?: string;
}

/** Whether this V8 clears young FinalizationRegistry targets in minor GCs (V8 14 and later). */
export function minorGcClearsWeakTargets(v8Version: string): boolean {
  const major = Number.parseInt(v8Version, 10);
  return Number.isFinite(major) && major >= 14;
}

/** The GCs a young canary must see before the held object is old (V8 promotes after two). */
const PROMOTING_GCS = 2;

/** Keep the instance referenced while it runs: a collected sentinel takes its registry along and reports nothing. */
export class MajorGcSentinel {
  readonly #onMajor: () => void;
  readonly #promoteFirst: boolean;
  #registry: FinalizationRegistry<number> | undefined;
  #canary: FinalizationRegistry<number> | undefined;
  /** Unregister token of every registration, so `stop()` can take them all back. */
  #token: object = {};
  /** The next sentinel, held until the current one fires (so it is old when let go). */
  #held: object = {};
  #canaryFires = 0;
  #armed = false;
  #count = 0;

  constructor(options: MajorGcSentinelOptions) {
    this.#onMajor = options.onMajor;
    this.#promoteFirst = minorGcClearsWeakTargets(options.v8Version ?? process.versions.v8);
  }

  /** Starts watching. Idempotent; never throws (without FinalizationRegistry it stays off). */
  start(): void {
    if (this.#registry || typeof FinalizationRegistry !== 'function') return;
    const token = (this.#token = {});
    this.#registry = new FinalizationRegistry(() => this.#fired(token));
    if (!this.#promoteFirst) {
      this.#arm();
      return;
    }
    this.#canaryFires = 0;
    this.#canary = new FinalizationRegistry(() => this.#canaryFired(token));
    this.#canary.register({}, 0, token);
  }

  /** Stops watching; a callback already queued by V8 is ignored. */
  stop(): void {
    this.#registry?.unregister(this.#token);
    this.#canary?.unregister(this.#token);
    this.#registry = undefined;
    this.#canary = undefined;
    this.#token = {};
    this.#armed = false;
  }

  /** True while a sentinel that only a major GC can collect is registered. */
  get armed(): boolean {
    return this.#armed;
  }

  /** Major GCs reported since the start. */
  get count(): number {
    return this.#count;
  }

  /** Let go of the held (old) object as the sentinel and hold a new one for next time. */
  #arm(): void {
    const next = this.#held;
    this.#held = {};
    this.#registry?.register(next, 0, this.#token);
    this.#armed = true;
  }

  #canaryFired(token: object): void {
    if (token !== this.#token || !this.#canary) return;
    if (++this.#canaryFires < PROMOTING_GCS) {
      this.#canary.register({}, 0, token);
      return;
    }
    this.#canary = undefined;
    this.#arm();
  }

  #fired(token: object): void {
    if (token !== this.#token || !this.#registry) return;
    this.#count++;
    this.#arm();
    try {
      this.#onMajor();
    } catch {
      // The listener's failure must not stop the next report (nor reach V8's cleanup task).
    }
  }
}
