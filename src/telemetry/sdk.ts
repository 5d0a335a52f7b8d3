/**
 * The agent's private SDK pieces: metric readers, the meter provider with its views, and the
 * tracer and logger providers for events. None is registered as a process-wide global: with
 * `@opentelemetry/api` the first global registration wins, and a clash would silently drop the
 * host app's own telemetry.
 *
 * Every SDK module is required inside these functions, one group at a time with an event-loop
 * turn in between (`turn()`), so bringing telemetry up (~150-400 ms of module loading) never
 * blocks the app for more than one group at once.
 */
import type { MetricReader, MeterProvider } from '@opentelemetry/sdk-metrics';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { TracerProvider, SpanExporter } from '@opentelemetry/sdk-trace';
import type { LoggerProvider, LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { Resource } from '@opentelemetry/resources';
import type { Config } from '../types';
import * as sc from '../semconv';
import { logExporters, metricExporters, spanExporters, type ExportWiring } from './exporters';

type MetricsSdk = typeof import('@opentelemetry/sdk-metrics');

/** One turn of the event loop: lets the app run between two heavy module loads. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** What the OTLP exporters are built with: sockets and timeouts that never hold the app (transport.ts), and where a failed export is told. */
export type OtlpWiring = ExportWiring;

/** Every reader of the meter provider, and the ones the agent drives itself. */
export interface Readers {
  all: MetricReader[];
  /** Serves `/metrics` when the endpoint is on. */
  prometheus?: PrometheusExporter;
  /** Push readers (OTLP, console); `flush()` forces their final export. */
  push: MetricReader[];
}

/** The caller's readers, plus Prometheus when the endpoint is on and a periodic reader per push exporter. */
export async function metricReaders(metricsSdk: MetricsSdk, config: Config, extra: MetricReader[], wiring: OtlpWiring): Promise<Readers> {
  const readers: Readers = { all: [...extra], push: [] };
  if (config.metrics.enabled) {
    const { PrometheusExporter } = require('@opentelemetry/exporter-prometheus') as typeof import('@opentelemetry/exporter-prometheus');
    // Our own server serves the exporter's handler (see server.ts).
    readers.prometheus = new PrometheusExporter({ preventServerStart: true });
    readers.all.push(readers.prometheus);
    await turn();
  }
  for (const exporter of metricExporters(config.export.metrics, wiring)) {
    const reader = new metricsSdk.PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: config.otlpExport.intervalMs,
      exportTimeoutMillis: config.otlpExport.timeoutMs,
    });
    readers.push.push(reader);
    readers.all.push(reader);
    await turn();
  }
  return readers;
}

/** The meter provider, with the views that drop redundant runtime series and fix histogram buckets. */
export function buildMeterProvider(metricsSdk: MetricsSdk, resource: Resource, readers: MetricReader[]): MeterProvider {
  return new metricsSdk.MeterProvider({
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
}

/** Where events go; each provider is there only when it has an exporter. */
export interface EventProviders {
  tracerProvider?: TracerProvider;
  loggerProvider?: LoggerProvider;
}

/**
 * Tracer and logger providers over the given exporters, else over the configured ones (OTLP in
 * its protocol, console). Simple, not batch, processors: events are rare and each should leave
 * the process at once, so a SIGKILL that follows a warning still finds the warning at the collector.
 */
export async function eventProviders(
  config: Config,
  resource: Resource,
  exporters: { spanExporter?: SpanExporter | undefined; logExporter?: LogRecordExporter | undefined },
  wiring: OtlpWiring,
): Promise<EventProviders> {
  const providers: EventProviders = {};
  const { traces, logs } = config.export;
  if (traces.otlp || logs.otlp) await turn();
  const spans = exporters.spanExporter ? [exporters.spanExporter] : spanExporters(traces, wiring);
  const records = exporters.logExporter ? [exporters.logExporter] : logExporters(logs, wiring);
  if (spans.length > 0) {
    const traceSdk = require('@opentelemetry/sdk-trace') as typeof import('@opentelemetry/sdk-trace');
    const spanProcessors = spans.map((exporter) => new traceSdk.SimpleSpanProcessor({ exporter }));
    providers.tracerProvider = new traceSdk.TracerProvider({ resource, spanProcessors });
  }
  if (records.length > 0) {
    if (logs.otlp) await turn();
    const logsSdk = require('@opentelemetry/sdk-logs') as typeof import('@opentelemetry/sdk-logs');
    const processors = records.map((exporter) => new logsSdk.SimpleLogRecordProcessor({ exporter }));
    providers.loggerProvider = new logsSdk.LoggerProvider({ resource, processors });
  }
  return providers;
}
