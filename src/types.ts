/**
 * Shared types. Internal modules agree on these shapes; the public ones are re-exported from
 * `index.ts`.
 */
import type { ShutdownEvidence } from './evidence/report';
import type { LogLevel } from './log';

/** Which memory the guard compares against a threshold. */
export type Signal = 'heap' | 'rss';

/** How far a signal has gone: `warn` tells, `shutdown` acts. */
export type Level = 'warn' | 'shutdown';

/** The guard's state, also exported as the `oomguard.state` gauge (0, 1, 2). */
export type GuardState = 'ok' | 'warn' | 'shutdown';

/** Where a detected limit came from; `oomguard doctor` prints it. */
export type LimitSource = 'cgroup-v2' | 'cgroup-v1' | 'constrained-memory' | 'none';

/** The old generation left alive by one major GC, and when that GC ended (`Date.now()` terms). */
export interface LivePoint {
  time: number;
  live: number;
}

/** What the GC observer knows, summarised at sampling time. */
export interface GcSummary {
  /** Major (mark-compact) GCs seen since the guard started. */
  majorCount: number;
  /** `Date.now()` of the end of the last major GC, if any. */
  lastMajorAt?: number;
  /**
   * Old-generation bytes alive right after the last major GC (V8's "L"): the part of the heap
   * that garbage collection could not free. Undefined until the first major GC.
   */
  oldGenLive?: number;
  /** Whether that last major GC was one the guard ran itself to confirm a crossing. */
  lastMajorForced?: boolean;
  /**
   * False when the last major GC's result is only an upper bound of what stays alive between
   * the app's tasks (`gc.ts`, `LIVE_READ_MAX_DELAY_MS`): heard of too late (the GC ran in the
   * middle of a task, whose temporaries it counted; or the heap was read after the task went on
   * allocating), or reported by the sentinel, which cannot tell when the GC ran. A decision on
   * it needs a confirming GC.
   */
  liveExact?: boolean;
  /** The whole heap in use right after the last major GC (old generation and young objects). */
  inUseAfterMajor?: number;
  /** The last few major GCs' results, oldest first: how fast the live set grows (heap-trend.ts). */
  livePoints: readonly LivePoint[];
  /** Estimated old-generation size at which V8 starts the next major GC, in old-gen bytes. */
  nextGc?: number;
  /** Major GCs that ended within the recent window (see `recentWindowMs`). */
  recentMajors: number;
  /** Share of wall time spent in GC pauses (any kind) within the recent window, 0..1. */
  recentGcShare: number;
  /** Width of the recent window in milliseconds. */
  recentWindowMs: number;
  /**
   * Mark-compacts in a row that V8 itself counts as ineffective, replayed from what the observer
   * sees (gc.ts, `V8Replay`): each left the old generation at 80% or more of the budget while
   * V8's averaged mutator utilisation was under 0.4. V8 aborts at the fourth
   * (`Heap::CheckIneffectiveMarkCompact`, v8/src/heap/heap.cc).
   */
  ineffectiveMajors: number;
  /** V8's averaged mark-compact mutator utilisation as replayed (0..1); undefined before two major GCs. */
  mutatorUtilization?: number;
  /** Bytes a major GC marks per millisecond, timed on the guard's own GCs; undefined until one ran. */
  markSpeed?: number;
}

/**
 * One sample of everything the guard knows, taken once per tick and used for everything: the
 * policy decides on it and the gauges report it. Optional fields are missing when their source
 * is unavailable on this platform or failed this time (the sampler never throws).
 */
export interface Reading {
  /** `Date.now()` when the reading was taken. */
  time: number;
  /** V8 `used_heap_size`: live objects plus garbage not yet collected. */
  heapInUse: number;
  /** V8 `total_heap_size`: pages V8 holds for the heap (Go's HeapInuse analogue). */
  heapCommitted: number;
  /** V8 `total_heap_size - total_physical_size`, floored at 0 (Go's HeapReleased analogue). */
  heapReleased: number;
  /** V8 `heap_size_limit`. */
  heapLimit: number;
  /** The old-generation budget: the old-generation size at which V8 really aborts. */
  heapBudget: number;
  /** Old-generation bytes in use now (every space but the young ones), large objects still in the young large-object space included (they are promoted whole). */
  oldGenInUse: number;
  /**
   * What the heap thresholds are compared with: old-generation bytes in use, judged in the light
   * of the last major GC, so garbage alone never reaches a threshold:
   * `min(oldGenInUse, gc.oldGenLive)` once a major GC has run, else `oldGenInUse` (which the
   * policy then acts on only after a confirming major GC; heap-decision.ts).
   */
  heapSignal: number;
  /** Estimated heap size (`used_heap_size` terms) at which V8 runs the next major GC. */
  heapNextGc?: number;
  /** `process.memoryUsage().external` (includes array buffers). */
  external?: number;
  /** Resident set size of this process. */
  rss?: number;
  /** The container's memory limit (lowest on the way up the cgroup tree), if any. */
  memoryLimit?: number;
  /** The cgroup's charged memory minus reclaimable page cache: what the OOM killer counts. */
  cgroupWorkingSet?: number;
  /**
   * What the RSS thresholds are compared with: the larger of the process RSS and the cgroup
   * working set (other processes in the container and worker isolates count too), never the
   * page cache that the kernel can drop. In a cgroup shared with other processes the working set
   * counts only in the one that owns its memory (process-tree.ts); the others compare their RSS.
   */
  memorySignal?: number;
  gc: GcSummary;
}

/** Thresholds resolved to bytes for one reading (percents applied to budget and limit). */
export interface ResolvedThresholds {
  heap: { warn?: number; shutdown?: number };
  rss: { warn?: number; shutdown?: number };
}

/** Why a warning was raised. */
export type WarnReason = `${Signal}-warn`;
/** Why a warning cleared. */
export type RecoverReason = `${Signal}-recovered`;
/**
 * Why the guard shut down: a signal at its line, V8 thrashing in GC near the heap line, or V8's
 * own near-heap-limit callback (`heap-limit`, the native part: docs/native.md).
 */
export type ShutdownReason = `${Signal}-threshold` | 'gc-thrash' | 'heap-limit';
/** Why a running shutdown was cut short (memory still rising toward the wall, or V8 thrashing). */
export type EmergencyReason = `${Signal}-emergency` | 'gc-thrash-emergency';
/** Every `reason` a decision or event can carry: the documented values, nothing else. */
export type Reason = WarnReason | RecoverReason | ShutdownReason | EmergencyReason;

/**
 * What a decision rested on, so a user who doubts a shutdown can see it (docs/heap-model.md):
 * - `live`: a major GC's result at or past the line (V8's own GC, or one the guard ran to confirm);
 * - `in-use`: the heap in use, unconfirmed, because V8's trajectory left no time for a major GC;
 * - `gc-thrash`: V8's own mark-compacts no longer free memory near its limit;
 * - `growth`: during a shutdown, the live set still growing into the budget;
 * - `memory`: RSS or the cgroup working set (no GC involved).
 */
export interface Grounds {
  basis: 'live' | 'in-use' | 'gc-thrash' | 'growth' | 'memory';
  /** Who ran the major GC the heap figure comes from: `v8`, the `guard` (a confirming GC), or `none`. */
  confirmedBy?: 'v8' | 'guard' | 'none';
  /** `Date.now()` when that major GC ended. */
  lastMajorAt?: number;
  /** Old-generation bytes alive after it. */
  liveAfterMajor?: number;
  /** Growth of the live set over the last major GCs, in bytes per second. */
  liveGrowthPerSec?: number;
  /** At that growth, milliseconds until the live set reaches the shutdown line, and the budget. */
  timeToLineMs?: number;
  timeToBudgetMs?: number;
  /** How long a major GC of this heap takes, in milliseconds (the measure of "no time"). */
  majorGcMs?: number;
  /** Mark-compacts in a row V8 counts as ineffective, and its averaged mutator utilisation. */
  ineffectiveMajors?: number;
  mutatorUtilization?: number;
}

interface Crossing<A extends string, R extends Reason> {
  action: A;
  signal: Signal;
  value: number;
  threshold: number;
  reason: R;
  /** Set on shutdowns and emergencies. */
  grounds?: Grounds;
}

/** What the policy tells the watcher to do after one reading. */
export type Decision =
  | Crossing<'warn', WarnReason>
  | Crossing<'recover', RecoverReason>
  | Crossing<'shutdown', ShutdownReason>
  /** During a shutdown: memory is still rising toward the real limit; exit now, hooks or not. */
  | Crossing<'emergency', EmergencyReason>;

/** The guard's latest view: the reading the policy last decided on, its thresholds and state. */
export interface Snapshot {
  reading: Readonly<Reading>;
  thresholds: Readonly<ResolvedThresholds>;
  state: GuardState;
  /** Highest reading / shutdown-threshold ratio. */
  pressure: number;
  /** Shutdowns observed and not made so far; only in shadow mode (`OOMGUARD_ACTION=observe`). */
  observedShutdowns?: number;
}

/** Delivered to `onPressure` listeners, telemetry and the JSON line on stderr. */
export interface PressureEvent {
  /** `warn` on a warn crossing, `shutdown` when the guard acts, `ok` when a warning clears. */
  level: GuardState;
  /** The signal that crossed. */
  signal: Signal;
  /** Machine-readable cause: `heap-threshold`, `rss-threshold`, `gc-thrash`, `heap-warn`, ... */
  reason: Exclude<Reason, EmergencyReason>;
  /** The signal's value that crossed, in bytes. */
  value: number;
  /** The threshold it crossed, in bytes. */
  threshold: number;
  /** `value / shutdown threshold` of the highest signal. */
  pressure: number;
  /** The reading the decision was made on. */
  reading: Readonly<Reading>;
  /** All thresholds in bytes at that moment. */
  thresholds: Readonly<ResolvedThresholds>;
  /**
   * True on a shutdown the guard would have made in shadow mode (`OOMGUARD_ACTION=observe`):
   * reported, but no hook runs and the process goes on. Absent otherwise.
   */
  observed?: true;
  /**
   * On a shutdown: where the memory went (top allocation sites, growth by kind), built before
   * the JSON line; absent on other events.
   */
  evidence?: ShutdownEvidence;
  /** What a shutdown decision rested on (reason, readings, GC grounds); absent on warn and ok. */
  grounds?: Readonly<Grounds>;
}

/** A threshold as configured: a byte size, a percent of a budget or limit, or off. */
export type ThresholdSpec =
  | { kind: 'off' }
  | { kind: 'bytes'; bytes: number }
  | { kind: 'percent'; percent: number };

/** When V8's sampling heap profiler runs (`OOMGUARD_HEAP_SAMPLING`). */
export type HeapSampling = 'warn' | 'always' | 'off';

/**
 * What the guard does when it shuts down (`OOMGUARD_ACTION`); `observe` is shadow mode: report
 * the shutdown it would have made, run no hook, never exit.
 */
export type ShutdownAction = 'exit' | 'signal' | 'auto' | 'observe';

/**
 * Whether the optional native part runs (`OOMGUARD_NATIVE`): `auto` when it loads, `on` the same
 * plus a line on stderr when it does not, `off` the JavaScript mode only (docs/native.md).
 */
export type NativeMode = 'auto' | 'on' | 'off';

/** OTLP wire protocol: `OTEL_EXPORTER_OTLP_PROTOCOL` (and per signal); the specification's default is http/protobuf. */
export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';

/** Where one signal (traces, metrics or logs) is pushed, besides the Prometheus endpoint. */
export interface SignalExport {
  /** OTLP push, to the `OTEL_EXPORTER_OTLP_*ENDPOINT` or the exporter's default. */
  readonly otlp: boolean;
  /** The SDK's console exporter (the app's stdout). */
  readonly console: boolean;
  /** The OTLP protocol for this signal. */
  readonly protocol: OtlpProtocol;
}

/** A bundled instrumentation: `runtime` (instrumentation-runtime-node), `host` (instrumentation-host-metrics). */
export type InstrumentationName = 'runtime' | 'host';

/**
 * Where the guard's gauges go (`OOMGUARD_METRICS`): its own `/metrics` endpoint, the app's
 * global OpenTelemetry MeterProvider once the app has registered one, or nowhere.
 */
export type MetricsMode = 'prometheus' | 'global' | 'none';

/** The resolved, validated configuration. Built once by `config.ts`; never mutated. */
export interface Config {
  /** `OOMGUARD_ENABLED`; false: the preload installs nothing at all. */
  readonly enabled: boolean;
  /** `OOMGUARD_STRICT`; true: a configuration error exits 78 before the app starts. */
  readonly strict: boolean;
  /** `OOMGUARD_HEAP_THRESHOLD` (percent of the old-generation budget). */
  readonly heapThreshold: ThresholdSpec;
  /** `OOMGUARD_HEAP_WARN`. */
  readonly heapWarn: ThresholdSpec;
  /** `OOMGUARD_RSS_THRESHOLD` (percent of the memory limit; off without a limit). */
  readonly rssThreshold: ThresholdSpec;
  /** `OOMGUARD_RSS_WARN`. */
  readonly rssWarn: ThresholdSpec;
  /** `OOMGUARD_POLL_INTERVAL` in milliseconds, at least 10. */
  readonly pollIntervalMs: number;
  /** `OOMGUARD_SHUTDOWN_TIMEOUT` in milliseconds. */
  readonly shutdownTimeoutMs: number;
  /** `OOMGUARD_EXIT_CODE`, 1..125. */
  readonly exitCode: number;
  /** `OOMGUARD_ACTION`. */
  readonly action: ShutdownAction;
  /** The guard's gauges: `OOMGUARD_METRICS`, and its endpoint `OOMGUARD_METRICS_HOST` / `_PORT`. */
  readonly metrics: {
    /** Whether the guard serves its own `/metrics` endpoint (`mode` is `prometheus`). */
    readonly enabled: boolean;
    readonly mode: MetricsMode;
    /** Undefined: all interfaces. */
    readonly host: string | undefined;
    /** 9465 by default (the app's OpenTelemetry exporter has 9464); 0 asks for an ephemeral port. */
    readonly port: number;
    /**
     * The port or host was asked for (a variable or an option): not getting it is then worth a
     * line on stderr; the default port being taken is only a diagnostic.
     */
    readonly requested: boolean;
  };
  /** `OOMGUARD_LOG_LEVEL`, else `OTEL_LOG_LEVEL`: which of the agent's diagnostics reach stderr. */
  readonly logLevel: LogLevel;
  /** True when `OTEL_EXPORTER_OTLP_ENDPOINT` (or a per-signal variant) is set. */
  readonly otlp: boolean;
  /**
   * OTLP metrics push cadence: `OTEL_METRIC_EXPORT_INTERVAL` (default 60 s) and
   * `OTEL_METRIC_EXPORT_TIMEOUT` (default 30 s, never above the interval: the SDK's reader
   * refuses a timeout longer than its interval).
   */
  readonly otlpExport: { readonly intervalMs: number; readonly timeoutMs: number };
  /** `OTEL_SDK_DISABLED=true`: no telemetry at all; the guard still guards. */
  readonly sdkDisabled: boolean;
  /** `OOMGUARD_NATIVE`. */
  readonly native: NativeMode;
  /** `OOMGUARD_NATIVE_RESERVE` in bytes: how far the native part raises V8's heap limit once it is reached. */
  readonly nativeReserveBytes: number;
  /** `OOMGUARD_HEAP_SAMPLING`: from the first warn line on, from the start, or never. */
  readonly heapSampling: HeapSampling;
  /** `OOMGUARD_PROFILE_DIR`: where a shutdown writes its `.heapprofile`; undefined: nowhere. */
  readonly profileDir: string | undefined;
  /** `OOMGUARD_TERMINATION_LOG`: the termination message file; undefined: none. */
  readonly terminationLog: string | undefined;
  /**
   * Where each signal goes: `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`, `OTEL_LOGS_EXPORTER`
   * (unset: OTLP when an endpoint is set) and the OTLP protocol of each. The Prometheus endpoint
   * is `metrics.enabled`.
   */
  readonly export: { readonly traces: SignalExport; readonly metrics: SignalExport; readonly logs: SignalExport };
  /** `OOMGUARD_INSTRUMENTATIONS`: the bundled instrumentations that feed the agent's metrics. */
  readonly instrumentations: readonly InstrumentationName[];
  /** `OOMGUARD_TELEMETRY_DELAY` in milliseconds: how long a process lives before telemetry loads (agent.ts). */
  readonly telemetryDelayMs: number;
}
