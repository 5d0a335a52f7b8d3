// Peer preload: what a user who wants OpenTelemetry gauges but no guard would add: the Node SDK
// with the runtime-node and host-metrics instrumentations, exported on a Prometheus endpoint at
// 127.0.0.1:PEER_METRICS_PORT (default 9464). No traces or logs are exported (nothing to send).
'use strict';
process.env.OTEL_TRACES_EXPORTER ??= 'none';
process.env.OTEL_LOGS_EXPORTER ??= 'none';
const { NodeSDK } = require('@opentelemetry/sdk-node');
const { PrometheusExporter } = require('@opentelemetry/exporter-prometheus');
const { RuntimeNodeInstrumentation } = require('@opentelemetry/instrumentation-runtime-node');
const { HostMetricsInstrumentation } = require('@opentelemetry/instrumentation-host-metrics');

const sdk = new NodeSDK({
  metricReaders: [new PrometheusExporter({ host: '127.0.0.1', port: Number(process.env.PEER_METRICS_PORT || 9464) })],
  instrumentations: [new RuntimeNodeInstrumentation(), new HostMetricsInstrumentation()],
});
sdk.start();
