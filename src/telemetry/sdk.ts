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
import type { AgentLog } from '../log';
import * as sc from '../semconv';
import { detached, type ExportTransport } from './transport';

type MetricsSdk = typeof import('@opentelemetry/sdk-metrics');

/** One turn of the event loop: lets the app run between two heavy module loads. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** What the OTLP exporters are built with: sockets and timeouts that never hold the app (transport.ts), and where a failed export is told. */
export interface OtlpWiring {
  transport: ExportTransport;
  log: AgentLog;
}

/** Every reader of the meter provider, and the two the agent drives itself. */
export interface Readers {
  all: MetricReader[];
  /** Serves `/metrics` when the endpoint is on. */
  prometheus?: PrometheusExporter;
  /** Pushes metrics over OTLP; `flush()` forces its final export. */
  otlp?: MetricReader;
}

/** The caller's readers, plus Prometheus when the endpoint is on and OTLP when configured. */
export async function metricReaders(metricsSdk: MetricsSdk, config: Config, extra: MetricReader[], wiring: OtlpWiring): Promise<Readers> {
  const readers: Readers = { all: [...extra] };
  if (config.metrics.enabled) {
    const { PrometheusExporter } = require('@opentelemetry/exporter-prometheus') as typeof import('@opentelemetry/exporter-prometheus');
    // Our own server serves the exporter's handler (see server.ts).
    readers.prometheus = new PrometheusExporter({ preventServerStart: true });
    readers.all.push(readers.prometheus);
    await turn();
  }
  if (config.otlp) {
    const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-http') as typeof import('@opentelemetry/exporter-metrics-otlp-http');
    readers.otlp = new metricsSdk.PeriodicExportingMetricReader({
      exporter: detached(new OTLPMetricExporter(wiring.transport.options()), 'metrics', wiring.log),
      exportIntervalMillis: config.otlpExport.intervalMs,
      exportTimeoutMillis: config.otlpExport.timeoutMs,
    });
    readers.all.push(readers.otlp);
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
 * Tracer and logger providers over the given exporters, else over OTLP when configured. Simple,
 * not batch, processors: events are rare and each should leave the process at once, so a SIGKILL
 * that follows a warning still finds the warning at the collector.
 */
export async function eventProviders(
  config: Config,
  resource: Resource,
  exporters: { spanExporter?: SpanExporter | undefined; logExporter?: LogRecordExporter | undefined },
  wiring: OtlpWiring,
): Promise<EventProviders> {
  const providers: EventProviders = {};
  if (config.otlp) await turn();
  const spanExporter = exporters.spanExporter ?? (config.otlp ? otlpSpanExporter(wiring) : undefined);
  const logExporter = exporters.logExporter ?? (config.otlp ? otlpLogExporter(wiring) : undefined);
  if (spanExporter) {
    const traceSdk = require('@opentelemetry/sdk-trace') as typeof import('@opentelemetry/sdk-trace');
    providers.tracerProvider = new traceSdk.TracerProvider({ resource, spanProcessors: [new traceSdk.SimpleSpanProcessor({ exporter: spanExporter })] });
  }
  if (logExporter) {
    if (config.otlp) await turn();
    const logsSdk = require('@opentelemetry/sdk-logs') as typeof import('@opentelemetry/sdk-logs');
    providers.loggerProvider = new logsSdk.LoggerProvider({ resource, processors: [new logsSdk.SimpleLogRecordProcessor({ exporter: logExporter })] });
  }
  return providers;
}

function otlpSpanExporter(wiring: OtlpWiring): SpanExporter {
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  return detached(new OTLPTraceExporter(wiring.transport.options()), 'span', wiring.log);
}

function otlpLogExporter(wiring: OtlpWiring): LogRecordExporter {
  const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http') as typeof import('@opentelemetry/exporter-logs-otlp-http');
  return detached(new OTLPLogExporter(wiring.transport.options()), 'log record', wiring.log);
}
