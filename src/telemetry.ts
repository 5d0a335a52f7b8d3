/**
 * OpenTelemetry for the guard: observable gauges over the reading the policy last decided on,
 * the runtime and host instrumentations, a Prometheus endpoint, and (with
 * `OTEL_EXPORTER_OTLP_*`) OTLP/HTTP push of the warning/shutdown span, its log record and a
 * final metrics export.
 *
 * Everything here is private to the agent: its own MeterProvider, TracerProvider and
 * LoggerProvider, never registered as the process-wide globals and no `diag.setLogger`, because
 * with `@opentelemetry/api` the first global registration wins and a clash silently drops the
 * host app's own telemetry (DESIGN.md "Telemetry").
 *
 * The SDK is loaded inside `startTelemetry` only: the watcher starts telemetry after the guard is
 * armed, so none of this sits on the app's start-up path.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Attributes, BatchObservableCallback, Meter, Observable } from '@opentelemetry/api';
import type { Logger, LogRecord } from '@opentelemetry/api';
import type { MetricReader, MeterProvider, PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { TracerProvider, SpanExporter } from '@opentelemetry/sdk-trace';
import type { LoggerProvider, LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { Resource } from '@opentelemetry/resources';
import type { Config, PressureEvent, Snapshot } from './types';
import * as sc from './semconv';
import { appServiceName } from './telemetry/resource';

/** What telemetry reads on collect: the watcher's last decision, never a fresh sample. */
export interface TelemetrySource {
  /** The reading the policy last decided on (same object), its thresholds, state and pressure. */
  latest(): Snapshot | undefined;
}

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
  /** Push spans, logs and a final metrics export (OTLP when configured) within timeoutMs; never rejects. */
  flush(timeoutMs: number): Promise<void>;
  /** Remove everything: close the server, stop instrumentations, shut providers down. Never rejects. */
  shutdown(): Promise<void>;
  /** The bound Prometheus port, when serving. */
  readonly metricsPort: number | undefined;
}

/**
 * Test seams (unit tests only; the agent passes none): extra readers and exporters replace the
 * OTLP ones, and the runtime/host instrumentations can be left out.
 */
export interface TelemetryOptions {
  /** Extra metric readers, e.g. an in-memory reader whose `collect()` a test calls. */
  metricReaders?: MetricReader[];
  /** Span exporter used instead of OTLP. */
  spanExporter?: SpanExporter;
  /** Log record exporter used instead of OTLP. */
  logExporter?: LogRecordExporter;
  /** Default true: the runtime-node and host-metrics instrumentations feed the same provider. */
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
 * because telemetry must never stop the guard from guarding.
 */
export async function startTelemetry(
  config: Config,
  source: TelemetrySource,
  log: (line: string) => void,
  options: TelemetryOptions = {},
): Promise<TelemetryHandle> {
  if (config.sdkDisabled) return INERT;
  const extraReaders = options.metricReaders ?? [];
  const wantsPush = config.otlp || options.spanExporter !== undefined || options.logExporter !== undefined;
  if (!config.metrics.enabled && !wantsPush && extraReaders.length === 0) return INERT;
  try {
    return await start(config, source, log, options, extraReaders);
  } catch (err) {
    safeLog(log, `oomguard: telemetry off, it failed to start: ${describe(err)} (the guard still guards)`);
    return INERT;
  }
}

async function start(
  config: Config,
  source: TelemetrySource,
  log: (line: string) => void,
  options: TelemetryOptions,
  extraReaders: MetricReader[],
): Promise<TelemetryHandle> {
  // Loaded here, not at the top: see the module comment. Between the heavy requires we give the
  // event loop back (`turn()`), so bringing telemetry up never blocks the app for the whole
  // ~150-400 ms at once, only for one module group at a time.
  const metricsSdk = require('@opentelemetry/sdk-metrics') as typeof import('@opentelemetry/sdk-metrics');
  await turn();
  const resource = buildResource();
  const version = agentVersion();

  const readers: MetricReader[] = [...extraReaders];
  let prometheus: import('@opentelemetry/exporter-prometheus').PrometheusExporter | undefined;
  if (config.metrics.enabled) {
    const { PrometheusExporter } = require('@opentelemetry/exporter-prometheus') as typeof import('@opentelemetry/exporter-prometheus');
    // Our own server serves the exporter's handler: the exporter maps port 0 to its default
    // 9464 and reports a busy port only through diag, which we must not take over.
    prometheus = new PrometheusExporter({ preventServerStart: true });
    readers.push(prometheus);
    await turn();
  }
  let otlpReader: MetricReader | undefined;
  if (config.otlp) {
    const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-http') as typeof import('@opentelemetry/exporter-metrics-otlp-http');
    const exporter: PushMetricExporter = new OTLPMetricExporter();
    otlpReader = new metricsSdk.PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: config.otlpExport.intervalMs,
      exportTimeoutMillis: config.otlpExport.timeoutMs,
    });
    readers.push(otlpReader);
    await turn();
  }

  const meterProvider: MeterProvider = new metricsSdk.MeterProvider({
    resource,
    readers,
    views: [
      ...sc.DROPPED_INSTRUMENTS.map((instrumentName) => ({
        instrumentName,
        aggregation: { type: metricsSdk.AggregationType.DROP },
      })),
      {
        instrumentType: metricsSdk.InstrumentType.HISTOGRAM,
        instrumentUnit: 's',
        aggregation: {
          type: metricsSdk.AggregationType.EXPLICIT_BUCKET_HISTOGRAM,
          options: { boundaries: [...sc.SECONDS_BUCKETS] },
        },
      },
    ],
  });
  const meter = meterProvider.getMeter(sc.SCOPE_NAME, version);
  const gauges = registerGauges(meter, source);

  const instrumentations: { disable(): void }[] = [];
  if (options.instrumentations !== false) {
    instrumentations.push(...(await startInstrumentations(meterProvider, log)));
  }

  let tracerProvider: TracerProvider | undefined;
  let loggerProvider: LoggerProvider | undefined;
  if (config.otlp) await turn();
  const spanExporter = options.spanExporter ?? (config.otlp ? otlpSpanExporter() : undefined);
  const logExporter = options.logExporter ?? (config.otlp ? otlpLogExporter() : undefined);
  if (spanExporter) {
    const traceSdk = require('@opentelemetry/sdk-trace') as typeof import('@opentelemetry/sdk-trace');
    // Simple, not batch: events are rare and each should leave the process at once, so a
    // SIGKILL that follows a warning still finds the warning at the collector.
    tracerProvider = new traceSdk.TracerProvider({ resource, spanProcessors: [new traceSdk.SimpleSpanProcessor({ exporter: spanExporter })] });
  }
  if (logExporter) {
    if (config.otlp) await turn();
    const logsSdk = require('@opentelemetry/sdk-logs') as typeof import('@opentelemetry/sdk-logs');
    // 0.2xx processors take `{ exporter }`; the old positional form drops records silently.
    loggerProvider = new logsSdk.LoggerProvider({ resource, processors: [new logsSdk.SimpleLogRecordProcessor({ exporter: logExporter })] });
  }

  let server: Server | undefined;
  let metricsPort: number | undefined;
  if (prometheus) {
    const served = await serveMetrics(prometheus, config, log, options.parentPid);
    server = served?.server;
    metricsPort = served?.port;
  }

  const tracer = tracerProvider?.getTracer(sc.SCOPE_NAME, version);
  const logger = loggerProvider?.getLogger(sc.SCOPE_NAME, version);
  let stopped = false;

  return {
    metricsPort,
    recordEvent(event: PressureEvent): void {
      if (stopped) return;
      try {
        emitEvent(event, tracer, logger);
      } catch {
        // Never throw into the watcher; a lost event must not cost the shutdown.
      }
    },
    async flush(timeoutMs: number): Promise<void> {
      if (stopped) return;
      const work = Promise.allSettled([
        tracerProvider?.forceFlush(),
        loggerProvider?.forceFlush(),
        otlpReader?.forceFlush({ timeoutMillis: Math.max(1, timeoutMs) }),
      ]);
      await bounded(work, timeoutMs);
    },
    async shutdown(): Promise<void> {
      if (stopped) return;
      stopped = true;
      try {
        if (server) {
          server.close();
          server.closeAllConnections();
        }
        for (const inst of instrumentations) swallow(() => inst.disable());
        swallow(() => meter.removeBatchObservableCallback(gauges.callback, gauges.observables));
        await bounded(
          Promise.allSettled([tracerProvider?.shutdown(), loggerProvider?.shutdown(), meterProvider.shutdown()]),
          SHUTDOWN_BUDGET_MS,
        );
      } catch {
        // shutdown never rejects
      }
    },
  };
}

/** The registered gauges and their one batch callback, so `shutdown()` can remove them. */
interface Gauges {
  callback: BatchObservableCallback;
  observables: Observable[];
}

/**
 * One batch callback observes every gauge from one `source.latest()` call, so a scrape shows one
 * reading (the one the policy decided on) and never takes a sample of its own. The SDK stamps
 * points with the collection time; the reading's own time is on the event attributes.
 */
export function registerGauges(meter: Meter, source: TelemetrySource): Gauges {
  const bytes = (name: string, description: string) =>
    meter.createObservableGauge(name, { description, unit: sc.UNIT_BYTES });
  const heapInUse = bytes(sc.METRIC_HEAP_IN_USE, 'V8 used_heap_size: live objects and garbage not yet collected.');
  const heapCommitted = bytes(sc.METRIC_HEAP_COMMITTED, 'V8 total_heap_size: pages V8 holds for the heap (Go HeapInuse).');
  const heapReleased = bytes(sc.METRIC_HEAP_RELEASED, 'V8 total_heap_size - total_physical_size, floored at 0 (Go HeapReleased).');
  const heapNextGc = bytes(sc.METRIC_HEAP_NEXT_GC, 'Estimated heap size at which V8 runs the next major GC (Go NextGC).');
  const heapLimit = bytes(sc.METRIC_HEAP_LIMIT, 'V8 heap_size_limit.');
  const heapBudget = bytes(sc.METRIC_HEAP_BUDGET, 'Old-generation budget: the old-generation size at which V8 aborts; heap percents are of this.');
  const heapSignal = bytes(
    sc.METRIC_HEAP_SIGNAL,
    'What the heap thresholds are compared with: old-generation bytes in use, capped by what survived the last major GC.',
  );
  const memorySignal = bytes(
    sc.METRIC_MEMORY_SIGNAL,
    'What the RSS thresholds are compared with: the larger of process RSS and the cgroup working set (page cache excluded).',
  );
  const rss = bytes(sc.METRIC_MEMORY_RSS, 'Resident set size of the process.');
  const memoryLimit = bytes(sc.METRIC_MEMORY_LIMIT, 'Memory limit of the cgroup (lowest on the way up); absent without one.');
  const threshold = bytes(sc.METRIC_THRESHOLD, 'Threshold in bytes by signal (heap, rss) and level (warn, shutdown).');
  const pressure = meter.createObservableGauge(sc.METRIC_PRESSURE, {
    description: 'Highest reading / shutdown-threshold ratio; 1 means the guard acts.',
    unit: sc.UNIT_ONE,
  });
  const state = meter.createObservableGauge(sc.METRIC_STATE, {
    description: 'Guard state: 0 ok, 1 warn, 2 shutting down.',
    unit: sc.UNIT_ONE,
  });
  const observables: Observable[] = [
    heapInUse,
    heapCommitted,
    heapReleased,
    heapNextGc,
    heapLimit,
    heapBudget,
    heapSignal,
    rss,
    memorySignal,
    memoryLimit,
    threshold,
    pressure,
    state,
  ];

  const callback: BatchObservableCallback = (result) => {
    let snap: Snapshot | undefined;
    try {
      snap = source.latest();
    } catch {
      return; // a failing source yields missing values, never a failed scrape
    }
    if (!snap) return;
    const r = snap.reading;
    const put = (o: Observable, v: number | undefined, attrs?: Attributes) => {
      if (typeof v === 'number' && Number.isFinite(v)) result.observe(o, v, attrs);
    };
    put(heapInUse, r.heapInUse);
    put(heapCommitted, r.heapCommitted);
    put(heapReleased, r.heapReleased);
    put(heapNextGc, r.heapNextGc);
    put(heapLimit, r.heapLimit);
    put(heapBudget, r.heapBudget);
    put(heapSignal, r.heapSignal);
    put(rss, r.rss);
    put(memorySignal, r.memorySignal);
    put(memoryLimit, r.memoryLimit);
    for (const signal of ['heap', 'rss'] as const) {
      for (const level of ['warn', 'shutdown'] as const) {
        put(threshold, snap.thresholds[signal][level], { [sc.ATTR_SIGNAL]: signal, [sc.ATTR_LEVEL]: level });
      }
    }
    put(pressure, snap.pressure);
    put(state, sc.STATE_VALUE[snap.state]);
  };
  meter.addBatchObservableCallback(callback, observables);
  return { callback, observables };
}

/** Span and log attributes of one event: the crossing, every threshold and the whole reading. */
export function eventAttributes(event: PressureEvent): Attributes {
  const r = event.reading;
  const a: Attributes = {
    [sc.ATTR_SIGNAL]: event.signal,
    [sc.ATTR_LEVEL]: event.level,
    [sc.ATTR_REASON]: event.reason,
    [sc.ATTR_VALUE]: event.value,
    [sc.ATTR_THRESHOLD]: event.threshold,
    [sc.ATTR_PRESSURE]: event.pressure,
    [sc.ATTR_READING_TIME]: new Date(r.time).toISOString(),
    [sc.METRIC_HEAP_IN_USE]: r.heapInUse,
    [sc.METRIC_HEAP_COMMITTED]: r.heapCommitted,
    [sc.METRIC_HEAP_RELEASED]: r.heapReleased,
    [sc.METRIC_HEAP_LIMIT]: r.heapLimit,
    [sc.ATTR_HEAP_BUDGET]: r.heapBudget,
    [sc.ATTR_OLD_GEN_IN_USE]: r.oldGenInUse,
    [sc.ATTR_HEAP_SIGNAL]: r.heapSignal,
    [sc.ATTR_GC_MAJOR_COUNT]: r.gc.majorCount,
    [sc.ATTR_GC_RECENT_MAJORS]: r.gc.recentMajors,
    [sc.ATTR_GC_RECENT_SHARE]: r.gc.recentGcShare,
  };
  const optional: [string, number | undefined][] = [
    [sc.METRIC_HEAP_NEXT_GC, r.heapNextGc],
    [sc.METRIC_MEMORY_RSS, r.rss],
    [sc.METRIC_MEMORY_LIMIT, r.memoryLimit],
    [sc.ATTR_MEMORY_SIGNAL, r.memorySignal],
  ];
  for (const signal of ['heap', 'rss'] as const) {
    for (const level of ['warn', 'shutdown'] as const) {
      optional.push([sc.attrThreshold(signal, level), event.thresholds[signal][level]]);
    }
  }
  for (const [key, value] of optional) {
    if (typeof value === 'number' && Number.isFinite(value)) a[key] = value;
  }
  return a;
}

function emitEvent(event: PressureEvent, tracer: import('@opentelemetry/api').Tracer | undefined, logger: Logger | undefined): void {
  if (!tracer && !logger) return;
  const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  const { SeverityNumber } = api;
  const [name, severityNumber, severityText] =
    event.level === 'shutdown'
      ? [sc.EVENT_SHUTDOWN, SeverityNumber.ERROR, 'ERROR']
      : event.level === 'warn'
        ? [sc.EVENT_WARNING, SeverityNumber.WARN, 'WARN']
        : [sc.EVENT_RECOVERED, SeverityNumber.INFO, 'INFO'];
  const attributes = eventAttributes(event);
  // ROOT_CONTEXT, not context.active(): the app's context manager (if any) must not make our
  // span a child of whatever request happened to be running when the watcher ticked.
  let ctx = api.ROOT_CONTEXT;
  if (tracer) {
    const span = tracer.startSpan(name, { kind: api.SpanKind.INTERNAL, startTime: event.reading.time, attributes }, api.ROOT_CONTEXT);
    if (event.level === 'shutdown') span.setStatus({ code: api.SpanStatusCode.ERROR, message: event.reason });
    span.end();
    ctx = api.trace.setSpan(api.ROOT_CONTEXT, span);
  }
  if (logger) {
    const record: LogRecord = {
      eventName: name,
      severityNumber,
      severityText,
      timestamp: event.reading.time,
      body: `${event.level === 'ok' ? 'memory pressure cleared' : `memory pressure ${event.level}`}: ${event.signal} ${event.value} bytes, threshold ${event.threshold} bytes (${event.reason})`,
      attributes,
      context: ctx,
    };
    logger.emit(record);
  }
}

async function startInstrumentations(meterProvider: MeterProvider, log: (line: string) => void): Promise<{ disable(): void }[]> {
  const out: { disable(): void }[] = [];
  await turn();
  try {
    const { RuntimeNodeInstrumentation } = require('@opentelemetry/instrumentation-runtime-node') as typeof import('@opentelemetry/instrumentation-runtime-node');
    // enabled: false, then our provider, then enable(): constructed enabled, it would first
    // bind to the global (no-op) provider.
    const runtime = new RuntimeNodeInstrumentation({ enabled: false });
    runtime.setMeterProvider(meterProvider);
    runtime.enable();
    out.push(runtime);
  } catch (err) {
    safeLog(log, `oomguard: runtime metrics off: ${describe(err)}`);
  }
  await turn();
  try {
    const { HostMetricsInstrumentation } = require('@opentelemetry/instrumentation-host-metrics') as typeof import('@opentelemetry/instrumentation-host-metrics');
    const host = new HostMetricsInstrumentation({ enabled: false, metricGroups: [...sc.HOST_METRIC_GROUPS] });
    host.setMeterProvider(meterProvider);
    host.enable();
    out.push(host);
  } catch (err) {
    safeLog(log, `oomguard: host metrics off: ${describe(err)}`);
  }
  return out;
}

/** One turn of the event loop: lets the app run between two heavy module loads. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Listen for `/metrics` on our own `http` server. A busy port (or any listen error) gives one line
 * and no endpoint; nothing else changes. A child of a guarded process inherits the parent's
 * `NODE_OPTIONS` and so its port: `OOMGUARD_PARENT_PID` says the clash is expected.
 */
async function serveMetrics(
  exporter: import('@opentelemetry/exporter-prometheus').PrometheusExporter,
  config: Config,
  log: (line: string) => void,
  parent: string | undefined,
): Promise<{ server: Server; port: number } | undefined> {
  const http = require('node:http') as typeof import('node:http');
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      exporter.getMetricsRequestHandler(req, res);
    } else {
      res.statusCode = 404;
      res.end('Not found; metrics are at /metrics\n');
    }
  });
  // Never keep the app alive for the sake of a scrape.
  server.unref();
  const { host, port } = config.metrics;
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const where = `${host ?? '*'}:${port}`;
      if (err.code === 'EADDRINUSE' && parent) {
        safeLog(log, `oomguard: metrics port ${where} is held by the parent process (pid ${parent}), as expected in a child; no metrics endpoint here`);
      } else {
        safeLog(log, `oomguard: metrics endpoint off: cannot listen on ${where} (${err.code ?? err.message}); the guard still guards`);
      }
      resolve(undefined);
    };
    const onListening = () => {
      server.off('error', onError);
      // Later errors (a client reset) must not become an uncaught 'error' event in the app.
      server.on('error', () => {});
      resolve({ server, port: (server.address() as AddressInfo).port });
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port, host, exclusive: true });
  });
}

function buildResource(): Resource {
  const res = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const fallback = appServiceName();
  const base = res.defaultResource().merge(
    res.resourceFromAttributes({
      ...(fallback ? { 'service.name': fallback } : {}),
      'process.pid': process.pid,
    }),
  );
  // envDetector: OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME over both.
  return base.merge(res.detectResources({ detectors: [res.envDetector] }));
}

function otlpSpanExporter(): SpanExporter {
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  return new OTLPTraceExporter();
}

function otlpLogExporter(): LogRecordExporter {
  const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http') as typeof import('@opentelemetry/exporter-logs-otlp-http');
  return new OTLPLogExporter();
}

function agentVersion(): string | undefined {
  try {
    const pkg = require('../package.json') as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}

/** Wait for `work`, but never longer than `ms` (timer unref'd: it must not hold the process). */
async function bounded(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms));
    timer.unref();
  });
  try {
    await Promise.race([work.then(() => undefined, () => undefined), deadline]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function safeLog(log: (line: string) => void, line: string): void {
  try {
    log(line);
  } catch {
    // the logger is the caller's; its failure is not ours to raise
  }
}

function swallow(fn: () => void): void {
  try {
    fn();
  } catch {
    // removal is best effort
  }
}
