/**
 * The reading as telemetry reports it. One table names each `Reading` field that is a gauge; the
 * warning/shutdown span and log record carry the same fields under the same names, so an event
 * and a dashboard never disagree on what `oomguard.heap.signal` means.
 */
import type { Level, Reading, ResolvedThresholds, Signal } from '../types';
import * as sc from '../semconv';

/** A reading field reported as a gauge in bytes (and as an event attribute of the same name). */
export interface ReadingField {
  name: string;
  description: string;
  read(reading: Readonly<Reading>): number | undefined;
}

/** In the order the gauges are created, which is the order a scrape lists them in. */
export const READING_FIELDS: readonly ReadingField[] = [
  { name: sc.METRIC_HEAP_IN_USE, description: 'V8 used_heap_size: live objects and garbage not yet collected.', read: (r) => r.heapInUse },
  { name: sc.METRIC_HEAP_COMMITTED, description: 'V8 total_heap_size: pages V8 holds for the heap (Go HeapInuse).', read: (r) => r.heapCommitted },
  { name: sc.METRIC_HEAP_RELEASED, description: 'V8 total_heap_size - total_physical_size, floored at 0 (Go HeapReleased).', read: (r) => r.heapReleased },
  { name: sc.METRIC_HEAP_NEXT_GC, description: 'Estimated heap size at which V8 runs the next major GC (Go NextGC).', read: (r) => r.heapNextGc },
  { name: sc.METRIC_HEAP_LIMIT, description: 'V8 heap_size_limit.', read: (r) => r.heapLimit },
  { name: sc.METRIC_HEAP_BUDGET, description: 'Old-generation budget: the old-generation size at which V8 aborts; heap percents are of this.', read: (r) => r.heapBudget },
  {
    name: sc.METRIC_HEAP_SIGNAL,
    description: 'What the heap thresholds are compared with: old-generation bytes in use, capped by what survived the last major GC.',
    read: (r) => r.heapSignal,
  },
  {
    name: sc.METRIC_MEMORY_SIGNAL,
    description: 'What the RSS thresholds are compared with: the larger of process RSS and the cgroup working set (page cache excluded).',
    read: (r) => r.memorySignal,
  },
  { name: sc.METRIC_MEMORY_RSS, description: 'Resident set size of the process.', read: (r) => r.rss },
  { name: sc.METRIC_MEMORY_LIMIT, description: 'Memory limit of the cgroup (lowest on the way up); absent without one.', read: (r) => r.memoryLimit },
];

/** Every threshold by signal and level, off ones included (as undefined). */
export function thresholdEntries(thresholds: Readonly<ResolvedThresholds>): [Signal, Level, number | undefined][] {
  const out: [Signal, Level, number | undefined][] = [];
  for (const signal of ['heap', 'rss'] as const) {
    for (const level of ['warn', 'shutdown'] as const) out.push([signal, level, thresholds[signal][level]]);
  }
  return out;
}

/**
 * Only finite numbers are reported: a field its source could not provide is a missing series or
 * attribute, never a 0 or NaN that a dashboard would draw as a reading.
 */
export function reportable(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}
