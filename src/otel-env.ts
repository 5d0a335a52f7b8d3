/**
 * The OpenTelemetry SDK's own exporter variables as the agent reads them: which exporters each
 * signal uses (`OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`, `OTEL_LOGS_EXPORTER`) and the
 * OTLP protocol of each (`OTEL_EXPORTER_OTLP_PROTOCOL` and its per-signal variants), with the
 * meanings https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/
 * gives them. Part of the configuration (`config.ts`); nothing happens on import.
 */
import type { Config, OtlpProtocol, SignalExport } from './types';
import { parseOtlpProtocol } from './parsers';
import { OPTION } from './options';
import type { Reader, Severity } from './reader';

/**
 * `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`, `OTEL_LOGS_EXPORTER` and the OTLP protocols,
 * read as the OpenTelemetry SDK reads them, with one difference: unset, a signal goes over OTLP
 * only when an OTLP endpoint is set (`otlpOn`), not to localhost:4318, because the preload runs
 * in every process NODE_OPTIONS reaches. A list that names `otlp` pushes to the exporter's
 * default endpoint when none is set, as the SDK does. `otlp: false` in `start()` keeps OTLP off.
 */
export function readExporters(
  reader: Reader,
  env: NodeJS.ProcessEnv,
  severity: Severity,
  otlpOn: boolean,
  otlpRefused: boolean,
): { prometheus: boolean; export: Config['export'] } {
  const protocols = readOtlpProtocols(reader, env, severity);
  const signal = (name: 'tracesExporter' | 'metricsExporter' | 'logsExporter', protocol: OtlpProtocol): { list?: readonly string[]; export: SignalExport } => {
    const list = reader.readTelemetry<readonly string[] | undefined>(name, undefined, severity).value;
    const otlp = !otlpRefused && (list ? list.includes('otlp') : otlpOn);
    return { ...(list && { list }), export: Object.freeze({ otlp, console: list?.includes('console') ?? false, protocol }) };
  };
  const traces = signal('tracesExporter', protocols.traces);
  const metrics = signal('metricsExporter', protocols.metrics);
  const logs = signal('logsExporter', protocols.logs);
  return {
    prometheus: metrics.list ? metrics.list.includes('prometheus') : true,
    export: Object.freeze({ traces: traces.export, metrics: metrics.export, logs: logs.export }),
  };
}

/**
 * The OTLP protocol of each signal: `otlpProtocol` in `start()`, else the signal's own
 * `OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`, else http/protobuf
 * (the specification's default). A value that does not parse is a warning and is skipped.
 */
function readOtlpProtocols(reader: Reader, env: NodeJS.ProcessEnv, severity: Severity): Record<'traces' | 'metrics' | 'logs', OtlpProtocol> {
  const general = reader.readTelemetry<OtlpProtocol>('otlpProtocol', 'http/protobuf', severity).value;
  const one = (signal: 'TRACES' | 'METRICS' | 'LOGS'): OtlpProtocol => {
    if (reader.hasOption('otlpProtocol')) return general;
    const variable = `OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`;
    const raw = env[variable]?.trim();
    if (!raw) return general;
    const parsed = parseOtlpProtocol(raw);
    if (parsed.ok) {
      reader.sources.otlpProtocol = 'env';
      return parsed.value;
    }
    reader.issue({ source: 'env', raw, variable }, `${parsed.message}; ${OPTION.otlpProtocol.telemetry}`, parsed.expected, severity);
    return general;
  };
  return { traces: one('TRACES'), metrics: one('METRICS'), logs: one('LOGS') };
}
