/**
 * The heap as the guard measures it: the old-generation budget (the size at which V8 really
 * aborts) of this process, and the heap's spaces summed by generation.
 *
 * Pure functions, but for `processHeapBudget` (their inputs read from this process); gc.ts and
 * the sampler feed them live numbers. V8's sizing rules are in heap-rules.ts; the method and
 * the measurements behind every constant are in docs/heap-model.md.
 */
import { formatBytes } from './units';
import { defaultSemiSpace, pow2Ceil, semiFromPhysical, v8Rules, type V8HeapRules } from './heap-rules';

const MiB = 1024 * 1024;

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
    return lessYoung(limit, 3 * semi, `3 x --max-semi-space-size=${semiFlag.value} rounded to ${formatBytes(semi)}, ${semiFlag.where}`);
  }

  const heapFlag = pick('--max-heap-size');
  const why = heapFlag ? `--max-heap-size=${heapFlag.value} (${heapFlag.where})` : 'no heap flag';
  // V8 14+: the semi-space follows physical memory, so it is known without inverting anything.
  const physicalSemi = heapFlag ? undefined : semiFromPhysical(input.physicalMemory, rules);
  if (physicalSemi !== undefined && limit > 3 * physicalSemi) {
    return lessYoung(limit, 3 * physicalSemi, `${rules.name} rule: 3 x semi-space from ${formatBytes(input.physicalMemory ?? 0)} of memory`);
  }
  const semi = semiForLimit(limit, rules);
  if (semi !== undefined) return lessYoung(limit, 3 * semi, `${rules.name} rule, ${why}`);
  // Not a size V8's rule produces (an embedder or a future V8 chose it): assume the largest
  // reserve, so the budget errs small and the guard acts early rather than late.
  const young = Math.min(3 * rules.maxSemiSpace, limit / 2);
  return lessYoung(limit, young, `${rules.name}, limit not produced by its rule; ${why}`, 'largest young reserve');
}

/**
 * With `--max-heap-size` or no flag at all, V8 sized the semi-space from the old generation it
 * chose: the one semi-space size consistent with `heap_size_limit = old + 3 * semi(old)`, or
 * undefined when none is.
 */
function semiForLimit(limit: number, rules: V8HeapRules): number | undefined {
  for (let semi = rules.minSemiSpace; semi <= rules.maxSemiSpace; semi *= 2) {
    const old = limit - 3 * semi;
    if (old > 0 && defaultSemiSpace(old, rules) === semi) return semi;
  }
  return undefined;
}

/** The budget `heap_size_limit - young`, with the derivation in words. */
function lessYoung(limit: number, young: number, why: string, what = 'young reserve'): HeapBudget {
  return {
    bytes: Math.max(0, limit - young),
    youngReserve: young,
    source: `heap_size_limit ${formatBytes(limit)} - ${what} ${formatBytes(young)} (${why})`,
  };
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
