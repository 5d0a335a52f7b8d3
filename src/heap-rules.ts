/**
 * V8's own heap sizing rules, transcribed per V8 line: how big the young generation's
 * semi-spaces are for a given old generation or physical memory, and where V8 puts its next
 * major GC (the growing factor and the allocation limit). Pure functions and constants; every
 * one cites the V8 source it follows, and docs/heap-model.md has the measurements that check
 * them.
 */

const MiB = 1024 * 1024;
/** V8's regular page size (`kPageSize`, 256 KiB); semi-spaces are rounded up to it. */
const PAGE = 256 * 1024;

/** Sizing constants of one V8 line, all in bytes (64-bit, no pointer compression, as Node ships). */
export interface V8HeapRules {
  /** Printable name of the rule set, used in `source` strings. */
  readonly name: string;
  /** Below or at this old-generation size V8 uses the low-memory semi-space ratio. */
  readonly lowMemoryOldGen: number;
  /** Old-generation size per semi-space byte above `lowMemoryOldGen`. */
  readonly semiSpaceRatio: number;
  /** The same ratio at or below `lowMemoryOldGen`. */
  readonly semiSpaceRatioLowMemory: number;
  /** Smallest and largest default semi-space. */
  readonly minSemiSpace: number;
  readonly maxSemiSpace: number;
  /** `V8HeapTrait::kMinSize` / `kMaxSize`: the range over which the max growing factor scales. */
  readonly traitMinSize: number;
  readonly traitMaxSize: number;
  /**
   * From V8 14 on, the default semi-space follows the physical memory Node passes to V8 (the
   * cgroup limit or the machine's memory), not the old generation: `physical / ratio`, rounded
   * up to a power of two, clamped to [min, max]. Undefined where it follows the old generation.
   */
  readonly semiFromPhysical?: { readonly ratio: number; readonly min: number; readonly max: number };
}

/**
 * V8 11.3 (Node 20) and 12.4 (Node 22): `kOldGenerationToSemiSpaceRatio` 128 (256 at or below
 * 256 MiB), semi-space 1..16 MiB (`kMaxSemiSpaceSize = 8 MB * kPointerMultiplier`).
 * https://github.com/v8/v8/blob/11.3.244/src/heap/heap.cc (YoungGenerationSizeFromOldGenerationSize)
 * Checked against heap_size_limit in cgroups of 256 MiB..16 GiB (docs/heap-model.md).
 */
export const V8_11: V8HeapRules = {
  name: 'V8 11.3/12.4',
  lowMemoryOldGen: 256 * MiB,
  semiSpaceRatio: 128,
  semiSpaceRatioLowMemory: 256,
  minSemiSpace: 1 * MiB,
  maxSemiSpace: 16 * MiB,
  traitMinSize: 256 * MiB,
  traitMaxSize: 2048 * MiB,
};

/**
 * V8 13.x (Node 24): the semi-space cap comes from `--scavenger-max-new-space-capacity-mb`
 * (64 MiB here), and the ratio is derived from it so that the largest old generation gets the
 * largest young one. The effective ratio, fitted to heap_size_limit in cgroups of 640 MiB..6 GiB,
 * is 32 (any value in [32, 40) fits; 32 is what the formula gives).
 * https://github.com/v8/v8/blob/13.6.233/src/heap/heap.cc (OldGenerationToSemiSpaceRatio)
 */
export const V8_13: V8HeapRules = {
  name: 'V8 13.6',
  lowMemoryOldGen: 256 * MiB,
  semiSpaceRatio: 32,
  semiSpaceRatioLowMemory: 256,
  minSemiSpace: 1 * MiB,
  maxSemiSpace: 64 * MiB,
  traitMinSize: 256 * MiB,
  traitMaxSize: 2048 * MiB,
};

/**
 * V8 14.x (Node 26): the default semi-space is sized from the physical memory Node passes to V8
 * (`min(total memory, constrained memory)`), whatever the old generation: physical / 128, rounded
 * up to a power of two, 2..32 MiB. Fitted to heap_size_limit in cgroups of 64 MiB..16 GiB and
 * with --max-old-space-size=100 in a 512 MiB cgroup (112 MiB = 100 + 3 x 4 MiB); docs/heap-model.md.
 */
export const V8_14: V8HeapRules = {
  ...V8_13,
  name: 'V8 14.6',
  semiFromPhysical: { ratio: 128, min: 2 * MiB, max: 32 * MiB },
};

/** The sizing rules for a `process.versions.v8` string. */
export function v8Rules(v8Version: string): V8HeapRules {
  const major = Number.parseInt(v8Version, 10);
  if (!Number.isFinite(major)) return V8_11;
  return major >= 14 ? V8_14 : major >= 13 ? V8_13 : V8_11;
}

/** The semi-space V8 14+ derives from physical memory (see `V8_14`), or undefined. */
export function semiFromPhysical(physicalMemory: number | undefined, rules: V8HeapRules): number | undefined {
  const p = rules.semiFromPhysical;
  if (!p || physicalMemory === undefined || !(physicalMemory > 0)) return undefined;
  return Math.max(p.min, Math.min(p.max, pow2Ceil(roundUp(physicalMemory / p.ratio, PAGE))));
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** The smallest power of two at or above `n` (V8 rounds semi-spaces so). */
export function pow2Ceil(n: number): number {
  return n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n));
}

/**
 * The max semi-space V8 picks for an old generation of `oldGen` bytes when no flag sets it:
 * `old / ratio`, clamped, rounded up to a page, then (in `Heap::ConfigureHeap`) up to a power of
 * two. The power-of-two step is why a 3 GiB cgroup gets 16 MiB semi-spaces on Node 20, not 12.
 */
export function defaultSemiSpace(oldGen: number, rules: V8HeapRules): number {
  const ratio = oldGen <= rules.lowMemoryOldGen ? rules.semiSpaceRatioLowMemory : rules.semiSpaceRatio;
  const semi = Math.max(rules.minSemiSpace, Math.min(rules.maxSemiSpace, oldGen / ratio));
  return pow2Ceil(roundUp(semi, PAGE));
}

/**
 * V8's `MemoryController::MaxGrowingFactor`: 4 for a max old size at or above `traitMaxSize`,
 * else linear from 1.3 (at `traitMinSize` and below) to 2.0.
 * https://github.com/v8/v8/blob/11.3.244/src/heap/heap-controller.cc
 */
export function maxGrowingFactor(maxOldSize: number, rules: V8HeapRules): number {
  if (maxOldSize >= rules.traitMaxSize) return 4;
  const size = Math.max(maxOldSize, rules.traitMinSize);
  return 1.3 + ((2 - 1.3) * (size - rules.traitMinSize)) / (rules.traitMaxSize - rules.traitMinSize);
}

/** V8's target mutator utilisation (`kTargetMutatorUtilization`) and minimum growing factor. */
const TARGET_MU = 0.97;
const MIN_GROWING_FACTOR = 1.1;

/**
 * V8's `MemoryController::DynamicGrowingFactor`: the factor that would keep the mutator running
 * 97% of the time at the given GC and mutator speeds (bytes/ms), clamped to [1.1, max]. Unknown
 * or zero speeds give the max, as in V8.
 */
export function dynamicGrowingFactor(gcSpeed: number | undefined, mutatorSpeed: number | undefined, maxFactor: number): number {
  if (!gcSpeed || !mutatorSpeed || !(gcSpeed > 0) || !(mutatorSpeed > 0)) return maxFactor;
  const speedRatio = gcSpeed / mutatorSpeed;
  const a = speedRatio * (1 - TARGET_MU);
  const b = speedRatio * (1 - TARGET_MU) - TARGET_MU;
  let factor = a < b * maxFactor ? a / b : maxFactor;
  factor = Math.min(factor, maxFactor);
  return Math.max(factor, MIN_GROWING_FACTOR);
}

/** What `nextGcEstimate` needs, all in bytes. */
export interface NextGcInput {
  /** V8's "old size" right after the last major GC: old-generation bytes in use then. */
  oldGenLive: number;
  /** The old-generation budget (V8's max old-generation size). */
  maxOldSize: number;
  /** The new space's current capacity (`new_space` used + available). */
  newSpaceCapacity: number;
  /** The growing factor F; see `growingFactor`. */
  factor: number;
}

/** V8's minimum limit step (`kRegularAllocationLimitGrowingStep`, 8 MiB). */
const MIN_GROWING_STEP = 8 * MiB;

/**
 * V8's old-generation allocation limit after a major GC (`CalculateAllocationLimit`):
 * `min(max(L * F, L + 8 MiB) + new-space capacity, (L + max) / 2)`. The result is in old-generation
 * bytes; add the young generation's use to compare it with `used_heap_size`.
 */
export function nextGcEstimate(input: NextGcInput): number {
  const L = Math.max(0, input.oldGenLive);
  const grown = Math.max(L * input.factor, L + MIN_GROWING_STEP) + Math.max(0, input.newSpaceCapacity);
  const halfway = (L + input.maxOldSize) / 2;
  // Whole bytes: it is reported as a byte gauge.
  return Math.floor(Math.min(grown, halfway));
}

/**
 * The growing factor F V8 uses for a heap whose budget is `maxOldSize`, given speeds measured
 * from JS (bytes/ms; undefined when unknown, which gives V8's max factor).
 */
export function growingFactor(maxOldSize: number, v8Version: string, gcSpeed?: number, mutatorSpeed?: number): number {
  return dynamicGrowingFactor(gcSpeed, mutatorSpeed, maxGrowingFactor(maxOldSize, v8Rules(v8Version)));
}

/**
 * V8's initial old-generation limit, `Heap::ConfigureHeap`: half the max old generation, at most
 * `kMaxInitialOldGenerationSize` (256 MiB x `kHeapLimitMultiplier`, 2 on 64-bit Node, which does
 * not compress pointers), rounded down to a page.
 * https://github.com/v8/v8/blob/13.6.233/src/heap/heap.cc (ConfigureHeap), heap.h
 */
export function initialOldGenerationLimit(maxOldSize: number): number {
  return Math.floor(Math.min(512 * MiB, maxOldSize / 2) / PAGE) * PAGE;
}

/**
 * The old-generation limit V8 uses before its first major GC. It starts at the initial limit and,
 * after each scavenge, `Heap::ShrinkOldGenerationAllocationLimitIfNotConfigured` lowers it to
 * `max(old generation + 8 MiB, limit x survival ratio)`, never raising it. The survival ratio is
 * not visible from JS; it is well under 1 in a service that makes short-lived garbage, so after
 * a few scavenges the limit is the old generation then + 8 MiB. Measured (Node 22, 24, 26, a
 * service idling at 4.6-5.0 MiB of old generation, then growing): V8 starts its first marking
 * with a limit of 12-13 MiB. Before any scavenge this says less than V8's limit.
 */
export function limitBeforeFirstMajorGc(oldGenInUse: number, maxOldSize: number): number {
  return Math.min(initialOldGenerationLimit(maxOldSize), Math.max(0, oldGenInUse) + MIN_GROWING_STEP);
}
