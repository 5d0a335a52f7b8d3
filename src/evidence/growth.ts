/**
 * Growth by kind: which memory grew between a baseline (the warn line, else the guard's start)
 * and the shutdown. A leak of JavaScript objects grows the V8 heap's spaces; a leak of Buffers or
 * ArrayBuffers grows `arrayBuffers` (their contents live outside the V8 heap, where the heap
 * profiler cannot see them); an addon or allocator leak grows RSS that neither explains. Two
 * readings of `v8.getHeapSpaceStatistics()` and `process.memoryUsage()`, a few microseconds
 * each, and a subtraction: this part of the evidence is always there, with or without sampling.
 */
import { getHeapSpaceStatistics } from 'node:v8';
import { safe } from '../safely';

/** Memory by kind at one moment. */
export interface MemoryByKind {
  time: number;
  /** `space_used_size` of each V8 heap space, by V8's name (`old_space`, `large_object_space`...). */
  spaces: Record<string, number>;
  /** Sum of the spaces' `physical_space_size`: heap pages that are resident. */
  heapResident: number;
  /** `process.memoryUsage().arrayBuffers`: ArrayBuffer and Buffer contents. */
  arrayBuffers: number;
  /** `process.memoryUsage().external`, which includes `arrayBuffers`. */
  external: number;
  rss: number;
}

/** The kinds growth is reported by. */
export type MemoryKind = 'heap' | 'arrayBuffers' | 'external' | 'native';

/** What grew, in bytes (negative: shrank). */
export interface MemoryGrowth {
  /** The baseline: the first warn of the current episode, or the guard's start. */
  since: 'warn' | 'start';
  /** ISO time of the baseline, and seconds from it to the shutdown reading. */
  from: string;
  seconds: number;
  /** The V8 heap: every space's used bytes. */
  heap: number;
  /** The spaces that changed, largest growth first. */
  spaces: Record<string, number>;
  /** ArrayBuffer and Buffer contents (outside the V8 heap). */
  arrayBuffers: number;
  /** Other external memory V8 is told about (external strings, addons' reports). */
  external: number;
  /**
   * RSS growth that neither the heap's resident pages nor external memory explain, floored at 0.
   * Coarse (RSS also moves with pages V8 keeps or releases, code, stacks): it is named the kind
   * that grew most only when it is more than all the others together.
   */
  native: number;
  rss: number;
  /** The kind that grew the most, when any grew. */
  grewMost?: MemoryKind;
}

/** Memory by kind now; undefined when neither source could be read. */
export function readMemoryByKind(now: number = Date.now()): MemoryByKind | undefined {
  const stats = safe(() => getHeapSpaceStatistics());
  const usage = safe(() => process.memoryUsage());
  if (!stats && !usage) return undefined;
  const spaces: Record<string, number> = {};
  let heapResident = 0;
  for (const space of stats ?? []) {
    spaces[space.space_name] = space.space_used_size;
    heapResident += space.physical_space_size;
  }
  return { time: now, spaces, heapResident, arrayBuffers: usage?.arrayBuffers ?? 0, external: usage?.external ?? 0, rss: usage?.rss ?? 0 };
}

/** The growth from `base` to `now`. */
export function memoryGrowth(base: MemoryByKind, now: MemoryByKind, since: MemoryGrowth['since']): MemoryGrowth {
  const changes: [string, number][] = [];
  let heap = 0;
  for (const name of Object.keys(now.spaces)) {
    const delta = now.spaces[name]! - (base.spaces[name] ?? 0);
    heap += delta;
    if (delta !== 0) changes.push([name, delta]);
  }
  changes.sort((a, b) => b[1] - a[1]);
  const arrayBuffers = now.arrayBuffers - base.arrayBuffers;
  const externalTotal = now.external - base.external;
  const rss = now.rss - base.rss;
  const growth: MemoryGrowth = {
    since,
    from: new Date(base.time).toISOString(),
    seconds: Number(((now.time - base.time) / 1000).toFixed(3)),
    heap,
    spaces: Object.fromEntries(changes),
    arrayBuffers,
    external: externalTotal - arrayBuffers,
    native: Math.max(0, rss - (now.heapResident - base.heapResident) - Math.max(0, externalTotal)),
    rss,
  };
  let most = 0;
  let counted = 0;
  for (const kind of ['heap', 'arrayBuffers', 'external'] as const) {
    counted += Math.max(0, growth[kind]);
    if (growth[kind] > most) {
      most = growth[kind];
      growth.grewMost = kind;
    }
  }
  if (growth.native > counted) growth.grewMost = 'native';
  return growth;
}

/** The guard's start as a baseline when no reading was taken then: a process starts near empty. */
export function emptyBaseline(time: number): MemoryByKind {
  return { time, spaces: {}, heapResident: 0, arrayBuffers: 0, external: 0, rss: 0 };
}
