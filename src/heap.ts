/**
 * The V8 heap model: how big the old generation may grow before V8 aborts (the heap budget),
 * when V8 will run its next major GC, and which heap spaces belong to which generation.
 *
 * Pure functions, but for `processHeapBudget` (their inputs read from this process); `gc.ts`
 * feeds them live numbers. The method and the measurements behind
 * every constant here are in docs/heap-model.md.
 */

import { formatBytes } from './units';

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

function pow2Ceil(n: number): number {
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
 * The last value of a V8 size flag (in MiB) in `args`, accepting `-` and `_` spellings; V8 only
 * accepts the `--flag=value` form for these. Later occurrences win, as in V8.
 */
export function lastFlag(args: readonly string[], flag: string): number | undefined {
  const want = flag.replace(/_/g, '-');
  let found: number | undefined;
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq < 0) continue;
    if (arg.slice(0, eq).replace(/_/g, '-') !== want) continue;
    const value = Number(arg.slice(eq + 1));
    if (Number.isInteger(value) && value >= 0) found = value;
  }
  return found;
}

/** Splits NODE_OPTIONS roughly as Node does (whitespace, double quotes). */
export function splitNodeOptions(nodeOptions: string | undefined): string[] {
  if (!nodeOptions) return [];
  const out: string[] = [];
  for (const m of nodeOptions.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? '');
  return out;
}

/** What `heapBudget` needs: all of it is available at start-up. */
export interface HeapBudgetInput {
  /** `v8.getHeapStatistics().heap_size_limit`. */
  heapSizeLimit: number;
  /** `process.execArgv`. */
  execArgv: readonly string[];
  /** `process.env.NODE_OPTIONS`. */
  nodeOptions: string | undefined;
  /** `process.versions.v8`. */
  v8Version: string;
  /**
   * The physical memory Node gave V8 to size the heap: `min(os.totalmem(), constrained memory)`.
   * V8 14+ sizes the young generation from it; older lines ignore it.
   */
  physicalMemory?: number | undefined;
}

/** The old-generation budget and how it was found. */
export interface HeapBudget {
  /** V8's max old-generation size in bytes: the size at which V8 really aborts. */
  bytes: number;
  /** The young-generation reserve that `heap_size_limit` adds on top (3 semi-spaces). */
  youngReserve: number;
  /** Human-readable derivation, for `oomguard doctor` and the docs. */
  source: string;
}

/**
 * The old-generation budget: V8's max old-generation size. `heap_size_limit` is that plus a
 * young-generation reserve of three max semi-spaces (`Heap::MaxReserved`), and the reserve
 * depends on the V8 line and flags (48 MiB on Node 20/22 and 192 MiB on Node 24 on a big
 * machine), so a percent of `heap_size_limit` is not a percent of what kills the process.
 *
 * Order, as in V8's `Heap::ConfigureHeap`: `--max-old-space-size` is the budget itself; otherwise
 * the budget is `heap_size_limit` minus three semi-spaces, where the semi-space comes from
 * `--max-semi-space-size` (rounded up to a power of two), or else is the one V8 derives from the
 * old generation (Node passes the physical or cgroup memory as constraints), which is found by
 * inverting `limit = old + 3 * semi(old)`. Flags on the command line (`execArgv`) override
 * `NODE_OPTIONS`, which Node applies first. Never throws.
 */
export function heapBudget(input: HeapBudgetInput): HeapBudget {
  const rules = v8Rules(input.v8Version);
  const limit = Math.max(0, input.heapSizeLimit);
  const fromOptions = splitNodeOptions(input.nodeOptions);
  const pick = (flag: string): { value: number; where: string } | undefined => {
    const cli = lastFlag(input.execArgv, flag);
    if (cli !== undefined && cli > 0) return { value: cli, where: 'execArgv' };
    const env = lastFlag(fromOptions, flag);
    if (env !== undefined && env > 0) return { value: env, where: 'NODE_OPTIONS' };
    return undefined;
  };

  const oldSpace = pick('--max-old-space-size');
  if (oldSpace) {
    const bytes = oldSpace.value * MiB;
    return {
      bytes,
      youngReserve: Math.max(0, limit - bytes),
      source: `--max-old-space-size=${oldSpace.value} (${oldSpace.where})`,
    };
  }

  const semiFlag = pick('--max-semi-space-size');
  if (semiFlag) {
    const semi = pow2Ceil(semiFlag.value) * MiB;
    const young = 3 * semi;
    return {
      bytes: Math.max(0, limit - young),
      youngReserve: young,
      source: `heap_size_limit ${formatBytes(limit)} - young reserve ${formatBytes(young)} (3 x --max-semi-space-size=${semiFlag.value} rounded to ${formatBytes(semi)}, ${semiFlag.where})`,
    };
  }

  const heapFlag = pick('--max-heap-size');
  const why = heapFlag ? `--max-heap-size=${heapFlag.value} (${heapFlag.where})` : 'no heap flag';
  // V8 14+: the semi-space follows physical memory, so it is known without inverting anything.
  const physicalSemi = heapFlag ? undefined : semiFromPhysical(input.physicalMemory, rules);
  if (physicalSemi !== undefined && limit > 3 * physicalSemi) {
    const young = 3 * physicalSemi;
    return {
      bytes: limit - young,
      youngReserve: young,
      source: `heap_size_limit ${formatBytes(limit)} - young reserve ${formatBytes(young)} (${rules.name} rule: 3 x semi-space from ${formatBytes(input.physicalMemory ?? 0)} of memory)`,
    };
  }
  // With --max-heap-size or no flag at all, V8 sized the semi-space from the old generation it
  // chose; find the one semi-space size consistent with heap_size_limit.
  const candidates: number[] = [];
  for (let semi = rules.minSemiSpace; semi <= rules.maxSemiSpace; semi *= 2) {
    const old = limit - 3 * semi;
    if (old > 0 && defaultSemiSpace(old, rules) === semi) candidates.push(semi);
  }
  const found = candidates[0];
  if (found !== undefined) {
    const young = 3 * found;
    return {
      bytes: limit - young,
      youngReserve: young,
      source: `heap_size_limit ${formatBytes(limit)} - young reserve ${formatBytes(young)} (${rules.name} rule, ${why})`,
    };
  }
  // Not a size V8's rule produces (an embedder or a future V8 chose it): assume the largest
  // reserve, so the budget errs small and the guard acts early rather than late.
  const young = Math.min(3 * rules.maxSemiSpace, limit / 2);
  return {
    bytes: Math.max(0, limit - young),
    youngReserve: young,
    source: `heap_size_limit ${formatBytes(limit)} - largest young reserve ${formatBytes(young)} (${rules.name}, limit not produced by its rule; ${why})`,
  };
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

/** Which generation a heap space belongs to. */
export type SpaceGeneration = 'young' | 'old' | 'other';

/**
 * Classifies a `v8.getHeapSpaceStatistics()` space name. Young: `new_space` and
 * `new_large_object_space` (same names on Node 20, 22 and 24). Other: `read_only_space` and the
 * `shared_*` spaces, which V8 leaves out of the old-generation size it limits. Everything else
 * (old, code, large-object, and Node 22+'s `trusted_*` spaces) is old generation, which is what
 * V8's `OldGenerationSizeOfObjects` sums: the trace's "old size" matches this sum to the KB.
 */
export function spaceGeneration(spaceName: string): SpaceGeneration {
  if (spaceName === 'new_space' || spaceName === 'new_large_object_space') return 'young';
  if (spaceName === 'read_only_space' || spaceName.startsWith('shared_')) return 'other';
  return 'old';
}

/** The subset of `v8.HeapSpaceInfo` the model reads. */
export interface SpaceStats {
  space_name: string;
  space_used_size: number;
  space_available_size: number;
}

/** Bytes in use by generation, and the new space's capacity. */
export interface GenerationSizes {
  /** Old generation as V8 limits it (`OldGenerationSizeOfObjects`, the trace's "old size"). */
  oldGen: number;
  /** Young generation: `new_space` plus `new_large_object_space`. */
  young: number;
  /** The part of `young` in `new_large_object_space` (see `watchedOldGen`). */
  youngLarge: number;
  /** `new_space` used + available: what V8 adds to the next major GC's limit. */
  newSpaceCapacity: number;
}

/** Sums `v8.getHeapSpaceStatistics()` by generation. */
export function generationSizes(spaces: readonly SpaceStats[]): GenerationSizes {
  let oldGen = 0;
  let young = 0;
  let youngLarge = 0;
  let newSpaceCapacity = 0;
  for (const s of spaces) {
    const gen = spaceGeneration(s.space_name);
    if (gen === 'old') oldGen += s.space_used_size;
    else if (gen === 'young') young += s.space_used_size;
    if (s.space_name === 'new_space') newSpaceCapacity = s.space_used_size + s.space_available_size;
    else if (s.space_name === 'new_large_object_space') youngLarge = s.space_used_size;
  }
  return { oldGen, young, youngLarge, newSpaceCapacity };
}

/**
 * The old generation as the guard watches it: V8's old generation plus the young large-object
 * space. V8 allocates big objects (a 1 MB string, a large array) there and promotes the
 * survivors whole at the next GC, so they are old generation in waiting; left out, a leak of big
 * objects shows no growth for 100+ ms and then a 15 MB step.
 */
export function watchedOldGen(sizes: GenerationSizes): number {
  return sizes.oldGen + sizes.youngLarge;
}

/**
 * This process's heap budget: `heapBudget` over the live inputs (V8's statistics, the flags the
 * process runs with, and the physical memory Node sized the heap from). Never throws.
 */
export function processHeapBudget(): HeapBudget {
  const v8 = require('node:v8') as typeof import('node:v8');
  const os = require('node:os') as typeof import('node:os');
  let physical = os.totalmem();
  try {
    const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
    // Node passes min(total, constrained) to V8 (src/api/environment.cc); 0 or 2^64-1 mean none.
    if (constrained > 0 && constrained < physical) physical = constrained;
  } catch {
    // keep the machine's memory
  }
  return heapBudget({
    heapSizeLimit: v8.getHeapStatistics().heap_size_limit,
    execArgv: process.execArgv,
    nodeOptions: process.env.NODE_OPTIONS,
    v8Version: process.versions.v8,
    physicalMemory: physical,
  });
}
