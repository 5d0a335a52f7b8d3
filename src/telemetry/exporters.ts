/**
 * The exporters a signal is pushed with: OTLP in the protocol chosen for it, and the SDK's
 * console exporters. Each OTLP package is required only when its protocol is chosen, so the
 * gRPC stack (`@grpc/grpc-js`) and the protobuf or JSON serializers not in use are never loaded.
 * Every OTLP exporter reads its own `OTEL_EXPORTER_OTLP_*` variables (endpoint, headers,
 * compression, timeout, certificates), as it does in the SDK.
 */
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { OtlpProtocol, SignalExport } from '../types';
import type { AgentLog } from '../log';
import { detached, type ExportTransport } from './transport';

/**
 * How the OTLP exporters travel (transport.ts): over HTTP, sockets that never hold the app and a
 * bounded timeout; for every protocol, exports the SDK never waits on. Failures go to `log`.
 */
export interface ExportWiring {
  transport: ExportTransport;
  log: AgentLog;
}

/** Constructor options for an OTLP exporter: the HTTP transport's, none for gRPC (its own channel). */
function otlpOptions(protocol: OtlpProtocol, wiring: ExportWiring): object {
  const http = wiring.transport.options();
  return protocol === 'grpc' ? { timeoutMillis: http.timeoutMillis } : http;
}

/** The OTLP exporter package of each signal and protocol. */
const OTLP_PACKAGES = {
  traces: {
    'http/protobuf': '@opentelemetry/exporter-trace-otlp-proto',
    'http/json': '@opentelemetry/exporter-trace-otlp-http',
    grpc: '@opentelemetry/exporter-trace-otlp-grpc',
  },
  metrics: {
    'http/protobuf': '@opentelemetry/exporter-metrics-otlp-proto',
    'http/json': '@opentelemetry/exporter-metrics-otlp-http',
    grpc: '@opentelemetry/exporter-metrics-otlp-grpc',
  },
  logs: {
    'http/protobuf': '@opentelemetry/exporter-logs-otlp-proto',
    'http/json': '@opentelemetry/exporter-logs-otlp-http',
    grpc: '@opentelemetry/exporter-logs-otlp-grpc',
  },
} as const satisfies Record<'traces' | 'metrics' | 'logs', Record<OtlpProtocol, string>>;

/** The package that speaks `protocol` for `signal` (for messages and tests). */
export function otlpPackage(signal: keyof typeof OTLP_PACKAGES, protocol: OtlpProtocol): string {
  return OTLP_PACKAGES[signal][protocol];
}

/** The span exporters of `traces` (OTLP, console), in that order; none when neither is on. */
export function spanExporters(traces: SignalExport, wiring: ExportWiring): SpanExporter[] {
  const out: SpanExporter[] = [];
  if (traces.otlp) {
    // The three packages export the same class name with the same constructor.
    const { OTLPTraceExporter } = require(OTLP_PACKAGES.traces[traces.protocol]) as typeof import('@opentelemetry/exporter-trace-otlp-http');
    out.push(detached(new OTLPTraceExporter(otlpOptions(traces.protocol, wiring)), 'span', wiring.log));
  }
  if (traces.console) {
    const { ConsoleSpanExporter } = require('@opentelemetry/sdk-trace') as typeof import('@opentelemetry/sdk-trace');
    out.push(new ConsoleSpanExporter());
  }
  return out;
}

/** The log record exporters of `logs` (OTLP, console). */
export function logExporters(logs: SignalExport, wiring: ExportWiring): LogRecordExporter[] {
  const out: LogRecordExporter[] = [];
  if (logs.otlp) {
    const { OTLPLogExporter } = require(OTLP_PACKAGES.logs[logs.protocol]) as typeof import('@opentelemetry/exporter-logs-otlp-http');
    out.push(detached(new OTLPLogExporter(otlpOptions(logs.protocol, wiring)), 'log record', wiring.log));
  }
  if (logs.console) {
    const { ConsoleLogRecordExporter } = require('@opentelemetry/sdk-logs') as typeof import('@opentelemetry/sdk-logs');
    out.push(new ConsoleLogRecordExporter());
  }
  return out;
}

/** The push exporters of `metrics` (OTLP, console); the Prometheus endpoint is a pull reader (sdk.ts). */
export function metricExporters(metrics: SignalExport, wiring: ExportWiring): PushMetricExporter[] {
  const out: PushMetricExporter[] = [];
  if (metrics.otlp) {
    const { OTLPMetricExporter } = require(OTLP_PACKAGES.metrics[metrics.protocol]) as typeof import('@opentelemetry/exporter-metrics-otlp-http');
    out.push(detached(new OTLPMetricExporter(otlpOptions(metrics.protocol, wiring)), 'metrics', wiring.log));
  }
  if (metrics.console) {
    const { ConsoleMetricExporter } = require('@opentelemetry/sdk-metrics') as typeof import('@opentelemetry/sdk-metrics');
    out.push(new ConsoleMetricExporter());
  }
  return out;
}
