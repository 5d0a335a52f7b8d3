/**
 * One reading per tick: V8 heap statistics, RSS and external memory, the cgroup's usage. Never
 * throws: a source that fails leaves its fields undefined.
 *
 * Per-call costs, measured with a 20 000-call loop on Node 22 and 26 (x86-64, cgroup v1):
 * `v8.getHeapStatistics()` 0.5-0.9 us, `v8.getHeapSpaceStatistics()` 1.3-1.8 us,
 * `process.memoryUsage()` 3.4-3.6 us, a cgroup file on a kept descriptor 0.8 us (8 us with
 * `readFileSync`); the whole tick is BENCHMARKS.md figure 1. What does not change per tick, the
 * memory limit, is cached and re-read at a slow cadence: `process.constrainedMemory()` alone
 * costs 8.7 us, and the cgroup limit walk reads a file per level of the tree.
 */
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import type { GcSummary, LimitSource, Reading } from './types';
import { generationSizes, watchedOldGen } from './heap';
import { limitBeforeFirstMajorGc } from './heap-rules';
import { safe } from './safely';
import { normalizeLimit, type CgroupHandle } from './cgroup';

/** The cgroup as the sampler uses it (see `cgroup.ts`). */
export type CgroupSource = Pick<CgroupHandle, 'version' | 'readLimit' | 'readUsage'>;

export interface SamplerOptions {
  /** The old-generation budget in bytes (`heap.ts`). Fixed for the life of the isolate. */
  heapBudget: number;
  gc: { summary(now: number): GcSummary };
  cgroup?: CgroupSource | undefined;
  /** `process.constrainedMemory` where it exists; the limit fallback when no cgroup limit is found. */
  constrainedMemory?: (() => number | undefined) | undefined;
  /**
   * Whether this process acts on the container's working set (`ContainerOwnership.owns` in
   * process-tree.ts); asked only while the working set is above the process's own RSS. Without
   * it every process does, as a process alone in its container must.
   */
  ownsContainer?: ((now: number, workingSet: number, limit: number | undefined) => boolean) | undefined;
  /** How often the memory limit is re-read (a container can be resized in place). */
  limitRefreshMs?: number;
  now?: () => number;
}

/** The memory limit and where it came from. */
export interface MemoryLimit {
  bytes: number | undefined;
  source: LimitSource;
  from?: string;
}

export class Sampler {
  readonly #opts: SamplerOptions;
  readonly #now: () => number;
  readonly #refreshMs: number;
  #limit: MemoryLimit = { bytes: undefined, source: 'none' };
  #limitReadAt = -Infinity;

  constructor(options: SamplerOptions) {
    this.#opts = options;
    this.#now = options.now ?? Date.now;
    this.#refreshMs = options.limitRefreshMs ?? 30_000;
  }

  /** The memory limit, re-read at most every `limitRefreshMs`. */
  memoryLimit(now: number = this.#now()): MemoryLimit {
    if (now - this.#limitReadAt >= this.#refreshMs) {
      this.#limitReadAt = now;
      this.#limit = readMemoryLimit(this.#opts.cgroup, this.#opts.constrainedMemory);
    }
    return this.#limit;
  }

  /** Take one reading. */
  sample(): Reading {
    const now = this.#now();
    const gc = this.#opts.gc.summary(now);
    const heap = safe(() => getHeapStatistics());
    const spaces = safe(() => getHeapSpaceStatistics());
    const heapInUse = heap?.used_heap_size ?? 0;
    const sizes = spaces && generationSizes(spaces);
    // Without the per-space numbers, the whole heap stands in for the old generation (it errs high).
    const oldGenInUse = sizes ? watchedOldGen(sizes) : heapInUse;
    // What V8 will still scavenge: the young generation minus the large objects counted above.
    const youngInUse = sizes ? sizes.young - sizes.youngLarge : 0;
    const heapSignal = gc.oldGenLive === undefined ? oldGenInUse : Math.min(oldGenInUse, gc.oldGenLive);

    const reading: Reading = {
      time: now,
      heapInUse,
      heapCommitted: heap?.total_heap_size ?? 0,
      heapReleased: heap ? Math.max(0, heap.total_heap_size - heap.total_physical_size) : 0,
      heapLimit: heap?.heap_size_limit ?? 0,
      heapBudget: this.#opts.heapBudget,
      oldGenInUse,
      heapSignal,
      gc,
    };
    // V8's next major GC starts when the old generation reaches its limit; in used_heap_size
    // terms that is the limit plus what the young generation holds now. Until a major GC has
    // said where the limit is, V8's rule for the limit before its first one stands in.
    const nextGc = gc.nextGc ?? (sizes && limitBeforeFirstMajorGc(sizes.oldGen, this.#opts.heapBudget));
    if (nextGc !== undefined) reading.heapNextGc = nextGc + youngInUse;

    const mem = safe(() => process.memoryUsage());
    if (mem) {
      reading.rss = mem.rss;
      reading.external = mem.external;
    } else {
      // process.memoryUsage() can throw where /proc is odd (prom-client hit this); rss() reads less.
      const rss = safe(() => process.memoryUsage.rss());
      if (rss !== undefined) reading.rss = rss;
    }

    const limit = this.memoryLimit(now);
    if (limit.bytes !== undefined) reading.memoryLimit = limit.bytes;
    const cgroup = this.#opts.cgroup;
    if (cgroup) {
      const usage = safe(() => cgroup.readUsage());
      if (usage?.workingSet !== undefined) reading.cgroupWorkingSet = usage.workingSet;
    }
    const shared = reading.cgroupWorkingSet;
    const memorySignal = maxDefined(reading.rss, shared !== undefined && this.#countsContainer(now, shared, reading) ? shared : undefined);
    if (memorySignal !== undefined) reading.memorySignal = memorySignal;
    return reading;
  }

  /** In a cgroup shared with other processes, only the one that owns its memory acts on it. */
  #countsContainer(now: number, workingSet: number, reading: Reading): boolean {
    const owns = this.#opts.ownsContainer;
    if (!owns || (reading.rss !== undefined && workingSet <= reading.rss)) return true;
    return safe(() => owns(now, workingSet, reading.memoryLimit)) ?? true;
  }
}

/** Lowest cgroup limit, else `process.constrainedMemory()`, else none. */
export function readMemoryLimit(
  cgroup: CgroupSource | undefined,
  constrainedMemory: (() => number | undefined) | undefined,
): MemoryLimit {
  if (cgroup) {
    const l = safe(() => cgroup.readLimit());
    const bytes = normalizeLimit(l?.bytes);
    if (bytes !== undefined) {
      const out: MemoryLimit = { bytes, source: cgroup.version === 2 ? 'cgroup-v2' : 'cgroup-v1' };
      if (l?.from !== undefined) out.from = l.from;
      return out;
    }
  }
  const constrained = normalizeLimit(constrainedMemory ? safe(constrainedMemory) : undefined);
  if (constrained !== undefined) return { bytes: constrained, source: 'constrained-memory', from: 'process.constrainedMemory()' };
  return { bytes: undefined, source: 'none' };
}

function maxDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}
