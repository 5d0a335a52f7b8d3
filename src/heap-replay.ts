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
 * V8's own total for a mark-compact (incremental steps and final pause) was 1-9 times the final
 * pause in a 60 MB/s leak on Node 26 (`--trace-gc`, 17 mark-compacts from 79% of the budget to
 * the abort).
 */
export const MAX_TOTAL_PER_PAUSE = 10;

/**
 * V8's count of ineffective mark-compacts, replayed from outside. V8 (v8/src/heap/gc-tracer.cc,
 * `RecordMutatorUtilization`) averages each mark-compact's duration and the mutator's time
 * since the previous one, halving the old averages each time, and `Heap::CheckIneffectiveMarkCompact`
 * counts a mark-compact that leaves the old generation at 80% or more of its maximum while the
 * averaged utilisation `mutator / (mutator + mark-compact)` is under 0.4; the fourth in a row
 * aborts the process.
 *
 * V8's duration includes the incremental marking steps, which no `gc` entry shows (the entry is
 * the final pause only: 11-112 ms against 34-140 ms of V8's own total in a 60 MB/s leak on
 * Node 26). So the duration used here is the larger of the pause and the time a full mark of
 * the live set takes at the speed measured on the guard's own GCs (docs/heap-model.md), but at
 * most `MAX_TOTAL_PER_PAUSE` pauses: a GC of ours timed on a starved CPU must not make every
 * mark-compact after it look ineffective.
 */
export class V8Replay {
  #prevEnd: number | undefined;
  #pending: GcRecord | undefined;
  #avgMc = 0;
  #avgMutator = 0;
  #samples = 0;
  ineffective = 0;
  utilization: number | undefined;

  /** A mark-compact ended; its result follows in `settle` (the heap is read right after it). */
  pending(gc: GcRecord): void {
    this.#pending = gc;
  }

  /** The old generation after the pending mark-compact: update the averages and the count. */
  settle(oldGen: number, budget: number, markSpeed: number | undefined): void {
    const gc = this.#pending;
    this.#pending = undefined;
    if (!gc) return;
    const marking = markSpeed ? oldGen / markSpeed : 0;
    const duration = Math.max(gc.duration, Math.min(marking, MAX_TOTAL_PER_PAUSE * gc.duration));
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
