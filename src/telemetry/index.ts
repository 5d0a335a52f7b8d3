/**
 * OpenTelemetry for the guard: observable gauges over the reading the policy last decided on,
 * the runtime and host instrumentations, a Prometheus endpoint, and push of the warning/shutdown
 * span, its log record and a final metrics export over OTLP (http/protobuf, http/json or gRPC)
 * or to the console, as the SDK's `OTEL_*_EXPORTER` and `OTEL_EXPORTER_OTLP_*` variables say.
 *
 * Everything here is private to the agent: its own MeterProvider, TracerProvider and
 * LoggerProvider, never registered as the process-wide globals and no `diag.setLogger`, because
 * with `@opentelemetry/api` the first global registration wins and a clash silently drops the
 * host app's own telemetry. With `OOMGUARD_METRICS=global` the gauges go on the app's own
 * global MeterProvider instead, once the app has registered one (global.ts). Everything it is
 * told comes from `Config`; only the OTel exporters and resource detector read their own
 * `OTEL_*` variables. No handle of it keeps the app alive: the endpoint's sockets are unref'd
 * (server.ts), and so are the exports' (transport.ts).
 *
 * Importing this folder loads no OpenTelemetry code: the SDK is required inside
 * `startTelemetry`, which the watcher calls after the guard is armed, so none of it sits on the
 * app's start-up path.
 */
import type { Logger, Span, Tracer } from '@opentelemetry/api';
import type { MetricReader, MeterProvider } from '@opentelemetry/sdk-metrics';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { Config, PressureEvent } from '../types';
import type { HookResult } from '../shutdown';
import type { AgentLog } from '../log';
import * as sc from '../semconv';
import { bounded, describeError, safe } from '../safely';
import { emitEvent, endShutdownSpan } from './events';
import { registerGauges, type TelemetrySource } from './gauges';
import { startInstrumentations } from './instrumentations';
import { agentVersion, buildResource } from './resource';
import { buildMeterProvider, eventProviders, metricReaders, turn, type EventProviders, type OtlpWiring } from './sdk';
import { closeEndpoint, exposition, serveMetrics, SCRAPE_CACHE_MIN_MS, type ClusterRole, type MetricsEndpoint } from './server';
import { ATTR_WORKER_ID, mergeWorkers, registerWorkerShutdowns, workerId, workerSocket } from './cluster';
import { followGlobalMeterProvider } from './global';
import { ExportTransport } from './transport';

export type { TelemetrySource } from './gauges';

/** What `startTelemetry` returns; every method is safe to call at any time. */
export interface TelemetryHandle {
  /**
   * Warn/shutdown crossing: one log record (eventName `oomguard.warning` / `oomguard.shutdown`,
   * severity WARN / ERROR) correlated with a span of the same name; both carry the reading,
   * thresholds, signal, level and limits as attributes. A cleared warning (level `ok`) gives
   * `oomguard.recovered` at INFO. Without an OTLP endpoint there is nowhere to send them and this
   * does nothing. Never throws.
   */
  recordEvent(event: PressureEvent): void;
  /**
   * End the shutdown span, if one is open (with `hooks` as its events), then push spans, logs and
   * a final metrics export within timeoutMs; never rejects.
   */
  flush(timeoutMs: number, hooks?: readonly HookResult[]): Promise<void>;
  /** Remove everything: close the server, stop instrumentations, shut providers down. Never rejects. */
  shutdown(): Promise<void>;
  /** The bound Prometheus port, when serving. */
  readonly metricsPort: number | undefined;
}

/**
 * What the agent passes besides `Config`, and test seams (the agent passes only `parentPid`):
 * extra readers and exporters replace the OTLP ones, and the runtime/host instrumentations can
 * be left out.
 */
export interface TelemetryOptions {
  /** Extra metric readers, e.g. an in-memory reader whose `collect()` a test calls. */
  metricReaders?: MetricReader[];
  /** Span exporter used instead of OTLP. */
  spanExporter?: SpanExporter;
  /** Log record exporter used instead of OTLP. */
  logExporter?: LogRecordExporter;
  /** Default true: the instrumentations `config.instrumentations` names feed the same provider; false: none. */
  instrumentations?: boolean;
  /** The guarded parent's pid when this process is its child (it holds the metrics port). */
  parentPid?: string | undefined;
}

/** A handle that does nothing: telemetry off (`OTEL_SDK_DISABLED`, nothing to export) or failed. */
const INERT: TelemetryHandle = Object.freeze({
  recordEvent(): void {},
  async flush(): Promise<void> {},
  async shutdown(): Promise<void> {},
  metricsPort: undefined,
});

/** How long `shutdown()` waits for the providers (a dead collector must not hold it). */
const SHUTDOWN_BUDGET_MS = 2000;

/**
 * Start the agent's telemetry. Resolves once the metrics endpoint is listening (or has failed
 * with one line through `log`); never rejects: any failure gives one line and an inert handle,
 * because telemetry must never stop the guard from guarding. `log` takes the agent's lines:
 * without a level for what the user must act on, with one for diagnostics (log.ts).
 */
export async function startTelemetry(
  config: Config,
  source: TelemetrySource,
  log: AgentLog,
  options: TelemetryOptions = {},
): Promise<TelemetryHandle> {
  if (config.sdkDisabled) return INERT;
  const extraReaders = options.metricReaders ?? [];
  const { traces, metrics, logs } = config.export;
  const pushes = [traces, metrics, logs].some((s) => s.otlp || s.console);
  const wantsPush = pushes || options.spanExporter !== undefined || options.logExporter !== undefined;
  // Nothing to export: the SDK is not even loaded.
  if (config.metrics.mode === 'none' && !wantsPush && extraReaders.length === 0) return INERT;
  // The logger is the caller's; its failure is not ours to raise.
  const say: AgentLog = (line, level) => {
    safe(() => log(line, level));
  };
  const transport = new ExportTransport();
  try {
    return await start(config, source, options, extraReaders, { transport, log: say });
  } catch (err) {
    transport.destroy();
    say(`oomguard: telemetry off, it failed to start: ${describeError(err)} (the guard still guards)`, 'error');
    return INERT;
  }
}

/** Everything a running telemetry holds, for the handle to flush and take down. */
interface Running extends EventProviders {
  /** The agent's private provider; none when the gauges go on the app's (`global`). */
  meterProvider: MeterProvider | undefined;
  pushReaders: MetricReader[];
  removeGauges: () => void;
  /** The app's provider the gauges went on, flushed with ours on a shutdown. */
  appProvider: (() => unknown) | undefined;
  instrumentations: { disable(): void }[];
  endpoint: MetricsEndpoint | undefined;
  transport: ExportTransport;
  tracer: Tracer | undefined;
  logger: Logger | undefined;
}

async function start(
  config: Config,
  source: TelemetrySource,
  options: TelemetryOptions,
  extraReaders: MetricReader[],
  wiring: OtlpWiring,
): Promise<TelemetryHandle> {
  const metricsSdk = require('@opentelemetry/sdk-metrics') as typeof import('@opentelemetry/sdk-metrics');
  await turn();
  // A cluster worker reports its worker id, listens on a local socket, and leaves the port to
  // the primary, which merges its workers' metrics into its own (cluster.ts).
  const worker = safe(workerId);
  const role: ClusterRole = worker === undefined ? { merge: mergeWorkers } : { socket: workerSocket(process.pid) };
  const resource = buildResource(worker === undefined ? {} : { [ATTR_WORKER_ID]: worker });
  const version = agentVersion();
  const gauges = config.metrics.mode === 'global' ? followGlobalMeterProvider(source, version, wiring.log) : undefined;
  const readers = gauges ? { all: extraReaders, push: [] } : await metricReaders(metricsSdk, config, extraReaders, wiring);
  // OTEL_METRICS_EXPORTER=none: no meter provider, no gauges, no instrumentations (the runtime
  // one observes every GC), no port.
  const meterProvider = readers.all.length > 0 ? buildMeterProvider(metricsSdk, resource, readers.all) : undefined;
  const meter = gauges ? undefined : meterProvider?.getMeter(sc.SCOPE_NAME, version);
  const removeGauges = gauges ? () => gauges.stop() : meter ? registerGauges(meter, source) : () => {};
  const removeClusterMetrics = meter && worker === undefined ? (safe(() => registerWorkerShutdowns(meter, config.exitCode)) ?? (() => {})) : () => {};
  // With the gauges on the app's provider, the runtime and host metrics are the app's to choose.
  const wanted = gauges || options.instrumentations === false ? [] : config.instrumentations;
  const instrumentations = meterProvider ? await startInstrumentations(meterProvider, wanted, wiring.log) : [];
  const events = await eventProviders(config, resource, options, wiring);
  const maxAge = Math.max(config.pollIntervalMs, SCRAPE_CACHE_MIN_MS);
  const endpoint = readers.prometheus
    ? await serveMetrics(exposition(readers.prometheus, maxAge, role.merge), config.metrics, wiring.log, options.parentPid, role)
    : undefined;
  return handle({
    ...events,
    meterProvider,
    pushReaders: readers.push,
    removeGauges: () => {
      removeGauges();
      removeClusterMetrics();
    },
    appProvider: gauges && (() => (gauges.provider() as { forceFlush?: () => Promise<void> } | undefined)?.forceFlush?.()),
    instrumentations,
    endpoint,
    transport: wiring.transport,
    tracer: events.tracerProvider?.getTracer(sc.SCOPE_NAME, version),
    logger: events.loggerProvider?.getLogger(sc.SCOPE_NAME, version),
  });
}

function handle(running: Running): TelemetryHandle {
  const { tracerProvider, loggerProvider, meterProvider, pushReaders } = running;
  let stopped = false;
  /** The shutdown span, open while the hooks run. */
  let shutdownSpan: Span | undefined;
  const endSpan = (hooks?: readonly HookResult[]): void => {
    if (shutdownSpan) endShutdownSpan(shutdownSpan, hooks);
    shutdownSpan = undefined;
  };
  return {
    get metricsPort() {
      return running.endpoint?.port;
    },
    recordEvent(event: PressureEvent): void {
      if (stopped) return;
      // Never throw into the watcher; a lost event must not cost the shutdown.
      const open = safe(() => emitEvent(event, running.tracer, running.logger));
      if (open) shutdownSpan ??= open;
    },
    async flush(timeoutMs: number, hooks?: readonly HookResult[]): Promise<void> {
      if (stopped) return;
      endSpan(hooks);
      const timeoutMillis = Math.max(1, timeoutMs);
      await settleWithin(timeoutMs, [
        () => tracerProvider?.forceFlush({ timeoutMillis }),
        () => loggerProvider?.forceFlush(),
        ...pushReaders.map((reader) => () => reader.forceFlush({ timeoutMillis })),
        () => running.appProvider?.() as Promise<unknown> | undefined,
      ]);
    },
    async shutdown(): Promise<void> {
      if (stopped) return;
      endSpan();
      stopped = true;
      if (running.endpoint) safe(() => closeEndpoint(running.endpoint!));
      // Each removal is best effort: one that throws must not keep the others from running.
      for (const instrumentation of running.instrumentations) safe(() => instrumentation.disable());
      safe(running.removeGauges);
      // Exports still in flight end now, not at their timeout; then so do the providers' last ones.
      safe(() => running.transport.destroy());
      await settleWithin(SHUTDOWN_BUDGET_MS, [() => tracerProvider?.shutdown(), () => loggerProvider?.shutdown(), () => meterProvider?.shutdown()]);
      safe(() => running.transport.destroy());
    },
  };
}

/**
 * Start every step at once and wait until all have settled or `ms` has passed. Never rejects,
 * not even when a step throws before returning its promise: flush and shutdown run on the way
 * out of a process under memory pressure, where nothing may stop the exit.
 */
async function settleWithin(ms: number, steps: (() => Promise<unknown> | undefined)[]): Promise<void> {
  await bounded(Promise.allSettled(steps.map((step) => new Promise((resolve) => resolve(step())))), ms);
}
