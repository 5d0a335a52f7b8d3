/**
 * Metric names, units, attribute keys and event names of the agent's own telemetry, in one place
 * (as the opentelemetry-js-contrib instrumentations keep theirs). They are the contract that
 * docs/metrics.md documents: dashboards and alert rules rely on them, so a change here is a
 * breaking change for operators and belongs in docs/metrics.md and the changelog too.
 *
 * Prometheus names are the OTel names with dots turned into underscores and no unit suffix
 * (the collector's `UnderscoreEscapingWithoutSuffixes` translation gives the same names).
 */

/** Instrumentation scope of every instrument, span and log record the agent creates. */
export const SCOPE_NAME = 'oomguard';

/**
 * The observable gauges, all reporting the reading the policy last decided on. The warning and
 * shutdown span and log record carry the same reading fields under these same names, so an event
 * and a dashboard never disagree on what a name means.
 */
export const METRIC_HEAP_IN_USE = 'oomguard.heap.in_use';
export const METRIC_HEAP_COMMITTED = 'oomguard.heap.committed';
export const METRIC_HEAP_RELEASED = 'oomguard.heap.released';
export const METRIC_HEAP_NEXT_GC = 'oomguard.heap.next_gc';
export const METRIC_HEAP_LIMIT = 'oomguard.heap.limit';
/** The old-generation budget heap percents are taken of, so a dashboard can draw that line. */
export const METRIC_HEAP_BUDGET = 'oomguard.heap.budget';
/** What the heap thresholds are compared with (`Reading.heapSignal`). */
export const METRIC_HEAP_SIGNAL = 'oomguard.heap.signal';
/** What the RSS thresholds are compared with (`Reading.memorySignal`). */
export const METRIC_MEMORY_SIGNAL = 'oomguard.memory.signal';
export const METRIC_MEMORY_RSS = 'oomguard.memory.rss';
export const METRIC_MEMORY_LIMIT = 'oomguard.memory.limit';
export const METRIC_THRESHOLD = 'oomguard.threshold';
export const METRIC_PRESSURE = 'oomguard.pressure';
export const METRIC_STATE = 'oomguard.state';
/**
 * Shadow mode (`OOMGUARD_ACTION=observe`) only: a monotonic counter of the shutdowns the guard
 * would have made (`oomguard_shutdowns_observed_total` on the agent's `/metrics`).
 */
export const METRIC_SHUTDOWNS_OBSERVED = 'oomguard.shutdowns.observed';
/** The unit of a count of shutdowns, as the semantic conventions write counts of things. */
export const UNIT_SHUTDOWN = '{shutdown}';

/** UCUM units, as the semantic conventions spell them. */
export const UNIT_BYTES = 'By';
/** A dimensionless ratio or an enumeration. */
export const UNIT_ONE = '1';

/** Attribute keys of `oomguard.threshold` (and of the warning span and log record). */
export const ATTR_SIGNAL = 'oomguard.signal';
export const ATTR_LEVEL = 'oomguard.level';

/**
 * Attribute keys of the warning / shutdown span and log record: the crossing, and the reading
 * fields that have no gauge (those that have one go under the gauge's name).
 */
export const ATTR_REASON = 'oomguard.reason';
export const ATTR_VALUE = 'oomguard.value';
export const ATTR_THRESHOLD = 'oomguard.threshold';
export const ATTR_PRESSURE = 'oomguard.pressure';
export const ATTR_READING_TIME = 'oomguard.reading.time';
export const ATTR_OLD_GEN_IN_USE = 'oomguard.heap.old_gen_in_use';
export const ATTR_GC_MAJOR_COUNT = 'oomguard.gc.major_count';
export const ATTR_GC_RECENT_MAJORS = 'oomguard.gc.recent_majors';
export const ATTR_GC_RECENT_SHARE = 'oomguard.gc.recent_share';
/** `true` on a shutdown record of shadow mode: the guard would have shut down and did not. */
export const ATTR_OBSERVED = 'oomguard.observed';
/**
 * `oomguard.grounds.<field>`: what a shutdown or emergency rested on (`Grounds` in types.ts),
 * each field in snake case: `oomguard.grounds.basis`, `oomguard.grounds.live_after_major`, ...
 */
export function attrGrounds(field: string): string {
  return `oomguard.grounds.${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
}
/** `oomguard.threshold.<signal>.<level>`: every resolved threshold, in bytes. */
export function attrThreshold(signal: 'heap' | 'rss', level: 'warn' | 'shutdown'): string {
  return `oomguard.threshold.${signal}.${level}`;
}

/**
 * Span event of the shutdown span, one per shutdown hook: its name (`onShutdown`'s `name`, or
 * the function's), outcome (`ok`, `error`, `timeout`), duration in ms and, for an error, the
 * message (`error.message`, as the semantic conventions name it).
 */
export const EVENT_HOOK = 'oomguard.hook';
export const ATTR_HOOK_NAME = 'oomguard.hook.name';
export const ATTR_HOOK_OUTCOME = 'oomguard.hook.outcome';
export const ATTR_HOOK_DURATION = 'oomguard.hook.duration_ms';
export const ATTR_ERROR_MESSAGE = 'error.message';
/** On the shutdown span: how many hooks failed or timed out. */
export const ATTR_HOOKS_FAILED = 'oomguard.shutdown.hooks_failed';

/** Log record `eventName`s and span names, one per crossing kind. */
export const EVENT_WARNING = 'oomguard.warning';
export const EVENT_SHUTDOWN = 'oomguard.shutdown';
/** A warning that cleared (level `ok`): tells an operator the alert is over without a scrape. */
export const EVENT_RECOVERED = 'oomguard.recovered';

/** `oomguard.state` values. */
export const STATE_VALUE = { ok: 0, warn: 1, shutdown: 2 } as const;

/**
 * Bucket boundaries, in seconds, for every histogram in seconds on the agent's provider
 * (`v8js.gc.duration` above all). Minor GCs take well under a millisecond to a few, major ones
 * tens to hundreds of milliseconds; the exporter's default boundaries (0..10000) are meant for
 * milliseconds and would put every GC in the first bucket.
 */
export const SECONDS_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * Host-metrics groups the agent enables. `system.network` is left out because on Linux the
 * systeminformation library behind it runs `execSync` to find the default interface, which
 * would block the app's event loop on a scrape. `system.cpu` too: it is one series per core and
 * state (80 on a 10-core host, growing with the machine), machine-wide rather than about this
 * process, and the host's own exporter already has it; it would be a fifth of every scrape.
 */
export const HOST_METRIC_GROUPS: readonly string[] = ['system.memory', 'process.cpu', 'process.memory'];

/**
 * Runtime instruments the agent drops (an SDK view with the DROP aggregation): per heap space,
 * `v8js.memory.heap.used` already says what fills the heap, while the size, physical and
 * available variants triple the series (9 spaces each) for little more. Without them and
 * `system.cpu` a scrape is 12 KB instead of 21 KB (docs/metrics.md). `v8js.memory.heap.used` stays.
 */
export const DROPPED_INSTRUMENTS: readonly string[] = [
  'v8js.memory.heap.space.available_size',
  'v8js.memory.heap.space.physical_size',
  'v8js.memory.heap.space.size',
];
