/**
 * What the guard runs with when nothing is set, in one place that imports no parser, so the
 * preload and the telemetry readers share it without a cycle; and the test that tells whether
 * anything is set. The preload reads it in every node process that `NODE_OPTIONS` reaches:
 * where no `OOMGUARD_*` or `OTEL_*` variable is set (most of them), the configuration is exactly
 * {@link DEFAULTS} and the parsers, the option table and the problem wording (config.ts and
 * what it imports) are never loaded.
 */
import type { Config } from './types';
import { DEFAULT_TERMINATION_LOG } from './evidence/termination-log';

/**
 * The guard's own `/metrics` port. Not 9464: that is the OpenTelemetry Prometheus exporter's
 * default (https://github.com/open-telemetry/opentelemetry-js/tree/main/experimental/packages/opentelemetry-exporter-prometheus),
 * which the app itself may use, and a preload binds first: the app's exporter would lose its
 * port. One above it, so both fit next to each other in a pod's port list.
 */
export const DEFAULT_METRICS_PORT = 9465;
/** Sampling more often than this costs CPU without catching anything sooner. */
export const MIN_POLL_INTERVAL_MS = 10;


/**
 * The configuration when nothing is set. Deeply frozen. The heap line is 75%, five points under
 * V8's 80% line, because a process stopped right at 80% can die of "ineffective mark-compacts"
 * inside its own shutdown hooks (docs/heap-model.md, "Why the default line is 75%"). Telemetry
 * waits 5 s: a process that ends sooner would not have been scraped (agent.ts).
 */
export const DEFAULTS: Config = Object.freeze({
  enabled: true,
  strict: false,
  heapThreshold: Object.freeze({ kind: 'percent', percent: 75 }),
  heapWarn: Object.freeze({ kind: 'percent', percent: 70 }),
  rssThreshold: Object.freeze({ kind: 'percent', percent: 90 }),
  rssWarn: Object.freeze({ kind: 'percent', percent: 80 }),
  pollIntervalMs: 1000,
  shutdownTimeoutMs: 10_000,
  exitCode: 2,
  action: 'auto',
  metrics: Object.freeze({ enabled: true, mode: 'prometheus', host: undefined, port: DEFAULT_METRICS_PORT, requested: false }),
  logLevel: 'error',
  otlp: false,
  otlpExport: Object.freeze({ intervalMs: 60_000, timeoutMs: 30_000 }),
  sdkDisabled: false,
  native: 'auto',
  // The shutdown (JSON line, event, hooks, telemetry flush) allocates in it. Measured on Node 24,
  // 4 MiB already let a 64 MiB heap's runaway loops end cleanly; 64 MiB leaves hooks room to work.
  nativeReserveBytes: 64 * 1024 * 1024,
  heapSampling: 'warn',
  profileDir: undefined,
  terminationLog: DEFAULT_TERMINATION_LOG,
  export: Object.freeze({
    traces: Object.freeze({ otlp: false, console: false, protocol: 'http/protobuf' }),
    metrics: Object.freeze({ otlp: false, console: false, protocol: 'http/protobuf' }),
    logs: Object.freeze({ otlp: false, console: false, protocol: 'http/protobuf' }),
  }),
  instrumentations: Object.freeze(['runtime', 'host'] as const),
  telemetryDelayMs: 5000,
});

/** Not configuration: a guarded process sets it for its children (parent.ts). */
const PARENT_MARK = 'OOMGUARD_PARENT_PID';

/**
 * Whether `env` may set anything `loadConfig` reads: every setting is an `OOMGUARD_*` or `OTEL_*`
 * variable (a unit test holds the option table to that). False means `loadConfig(env)` gives
 * {@link DEFAULTS} and no warning, so the preload skips it.
 */
export function hasSettings(env: NodeJS.ProcessEnv): boolean {
  for (const name in env) {
    if ((name.startsWith('OOMGUARD_') && name !== PARENT_MARK) || name.startsWith('OTEL_')) return true;
  }
  return false;
}
