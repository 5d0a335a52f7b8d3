/**
 * V8's own rule for giving up near its heap limit, replayed from outside the isolate, so the
 * guard can tell a heap V8 is about to abort from one that merely sits high. Pure bookkeeping:
 * gc.ts feeds it each mark-compact and the old generation after it.
 */
import type { GcRecord } from './gc';

/**
 * V8's line: it counts a mark-compact as ineffective only while the old generation is at or
 * above this share of its maximum (`kHighHeapPercentage`, v8/src/heap/heap.cc)...
 */
export const V8_HIGH_HEAP_SHARE = 0.8;
/** ...and the averaged mutator utilisation is under this (`kLowMutatorUtilization`). */
export const V8_LOW_MUTATOR_UTILIZATION = 0.4;

/**
 * The duration a mark-compact counts for: its final pause times this. V8's own duration adds the
 * main-thread incremental marking steps, which no `gc` entry shows; most marking runs on other
 * threads, and near the limit V8 marks atomically (its `--trace-gc` in a 60 MB/s leak on Node 26:
 * the last mark-compacts before the abort had no incremental steps and pauses of 60-200 ms, 55-100%
 * of the time between them). A full mark at the speed of the guard's own atomic GCs would count a
 * calm drain at 81% as thrashing: V8 finalised marking every 70-100 ms there with 4-20 ms pauses
 * and said 0.70-0.85 utilisation.
 */
export const PAUSE_MARGIN = 1.5;

/**
 * V8's count of ineffective mark-compacts, replayed from outside. V8 (v8/src/heap/gc-tracer.cc,
 * `RecordMutatorUtilization`) averages each mark-compact's duration and the mutator's time
 * since the previous one, halving the old averages each time, and `Heap::CheckIneffectiveMarkCompact`
 * counts a mark-compact that leaves the old generation at 80% or more of its maximum while the
 * averaged utilisation `mutator / (mutator + mark-compact)` is under 0.4; the fourth in a row
 * aborts the process. Durations here are `PAUSE_MARGIN` times the pause.
 */
export class V8Replay {
  #prevEnd: number | undefined;
  #pending: GcRecord | undefined;
  #avgMc = 0;
  #avgMutator = 0;
  #samples = 0;
  ineffective = 0;
  utilization: number | undefined;

  /**
   * The observer starts listening at `at`. V8's averages carry the app's history, and an app
   * that ran before has had its mutator time: the first mark-compact heard of counts the time
   * since `at` as the mutator's, where a replay with no history would take the first two
   * mark-compacts it hears of (V8's own, then the guard's confirming one 100 ms later, on a calm
   * drain at 80%) as the whole story. V8's trace said 0.84 there; a blank replay 0.01.
   */
  begin(at: number): void {
    this.#prevEnd ??= at;
  }

  /** A mark-compact ended; its result follows in `settle` (the heap is read right after it). */
  pending(gc: GcRecord): void {
    this.#pending = gc;
  }

  /** The old generation after the pending mark-compact: update the averages and the count. */
  settle(oldGen: number, budget: number): void {
    const gc = this.#pending;
    this.#pending = undefined;
    if (!gc) return;
    const duration = PAUSE_MARGIN * gc.duration;
    if (this.#prevEnd !== undefined) {
      const mutator = Math.max(0, gc.end - this.#prevEnd - duration);
      if (this.#samples === 0) {
        this.#avgMc = duration;
        this.#avgMutator = mutator;
      } else {
        this.#avgMc = (this.#avgMc + duration) / 2;
        this.#avgMutator = (this.#avgMutator + mutator) / 2;
      }
      this.#samples++;
      const total = this.#avgMc + this.#avgMutator;
      this.utilization = total > 0 ? this.#avgMutator / total : 1;
      const ineffective = oldGen >= V8_HIGH_HEAP_SHARE * budget && this.utilization < V8_LOW_MUTATOR_UTILIZATION;
      this.ineffective = ineffective ? this.ineffective + 1 : 0;
    }
    this.#prevEnd = gc.end;
  }

  reset(): void {
    this.#prevEnd = undefined;
    this.#pending = undefined;
    this.#avgMc = 0;
    this.#avgMutator = 0;
    this.#samples = 0;
    this.ineffective = 0;
    this.utilization = undefined;
  }
}
