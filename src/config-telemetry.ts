/**
 * The telemetry half of the configuration: the metrics endpoint and exporters, OTLP endpoints,
 * headers and cadence, the SDK switch and the agent's log level. Telemetry settings never turn
 * the guard off: a bad value is a warning and that part stays off (an error under strict mode).
 */
import type { Config } from './types';
import { parseHeaders, parseHttpUrl, parseLogLevel } from './parsers';
import { readExporters } from './otel-env';
import { OPTION } from './options';
import type { ConfigIssue, Reader, Severity } from './reader';
import type { LogLevel } from './log';
import { DEFAULTS, DEFAULT_METRICS_PORT } from './defaults';

/**
 * The telemetry settings. `OTEL_*` variables belong to the whole OpenTelemetry setup and only
 * steer telemetry, so a bad one turns that piece of telemetry off with a warning and the guard
 * still guards (`severity` is `error` under `OOMGUARD_STRICT`). With the SDK disabled there is
 * no telemetry at all: no endpoint, no OTLP.
 */
export function readTelemetry(reader: Reader, env: NodeJS.ProcessEnv, severity: Severity): Pick<Config, 'metrics' | 'otlp' | 'sdkDisabled' | 'export'> {
  const servePick = reader.pick('metrics');
  const wanted = reader.value(servePick, DEFAULTS.metrics.mode);
  const host = reader.readTelemetry<string | undefined>('metricsHost', undefined, severity);
  const port = reader.readTelemetry('metricsPort', DEFAULT_METRICS_PORT, severity);
  const otlp = readOtlp(reader, env, severity);
  const sdkDisabled = readSdkDisabled(reader, severity);
  const signals = readExporters(reader, env, severity, otlp && !sdkDisabled, reader.hasOption('otlp') && !otlp);
  // OOMGUARD_METRICS, the agent's own switch, decides where the gauges go when it is set;
  // otherwise OTEL_METRICS_EXPORTER does, as it does for the SDK (`none`: no endpoint).
  const chosen = servePick.source === 'default' ? (signals.prometheus ? 'prometheus' : 'none') : wanted;
  const refused = chosen === 'prometheus' && (host.refused || port.refused);
  const mode = sdkDisabled || refused ? 'none' : chosen;
  const requested = reader.sources.metricsHost !== 'default' || reader.sources.metricsPort !== 'default';
  return {
    metrics: Object.freeze({ enabled: mode === 'prometheus', mode, host: host.value, port: port.value, requested }),
    otlp: otlp && !sdkDisabled,
    sdkDisabled,
    export: sdkDisabled ? DEFAULTS.export : signals.export,
  };
}


/**
 * `OOMGUARD_LOG_LEVEL`, else `OTEL_LOG_LEVEL` (the OpenTelemetry variable for the same thing,
 * which an operator may have set for the whole process), else `error`. A bad value keeps the
 * default with a warning.
 */
export function readLogLevel(reader: Reader, env: NodeJS.ProcessEnv, severity: Severity): LogLevel {
  const own = reader.pick('logLevel');
  if (own.source !== 'default') return reader.value(own, DEFAULTS.logLevel, severity, 'the default level stays');
  const otel = env.OTEL_LOG_LEVEL;
  if (otel === undefined || otel.trim() === '') return DEFAULTS.logLevel;
  const parsed = parseLogLevel(otel);
  reader.sources.logLevel = 'env';
  if (parsed.ok) return parsed.value;
  reader.issue({ source: 'env', raw: otel, variable: 'OTEL_LOG_LEVEL' }, `${parsed.message}; the default level stays`, parsed.expected, severity);
  return DEFAULTS.logLevel;
}

/** The OTLP headers variables; an endpoint's credentials usually sit here. */
const OTLP_HEADER_VARIABLES = ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'OTEL_EXPORTER_OTLP_METRICS_HEADERS', 'OTEL_EXPORTER_OTLP_LOGS_HEADERS'];

/**
 * OTLP is on when `options.otlp` is true, or else when any OTLP/HTTP endpoint variable holds an
 * http(s) URL; a variable that does not is ignored with a warning. Endpoints and headers often
 * carry credentials (`https://user:token@...`, `api-key=...`), so a warning about them names the
 * variable and the expected form, never the value.
 */
function readOtlp(reader: Reader, env: NodeJS.ProcessEnv, severity: Severity): boolean {
  const spec = OPTION.otlp;
  if (reader.hasOption('otlp')) return reader.readTelemetry('otlp', false, severity).value;
  let on = false;
  for (const variable of [spec.variable, ...(spec.alsoVariables ?? [])]) {
    const value = env[variable]?.trim();
    if (value === undefined || value === '') continue;
    const url = parseHttpUrl(value);
    if (url.ok) on = true;
    else reader.issue({ source: 'env', raw: value, variable }, `${url.message}; OTLP ignores it`, url.expected, severity, true);
  }
  reader.sources.otlp = on ? 'env' : 'default';
  if (on) checkOtlpHeaders(reader, env, severity);
  return on;
}

/** A malformed headers variable: the exporter would drop what it cannot parse without a word. */
function checkOtlpHeaders(reader: Reader, env: NodeJS.ProcessEnv, severity: Severity): void {
  for (const variable of OTLP_HEADER_VARIABLES) {
    const value = env[variable];
    if (value === undefined || value.trim() === '') continue;
    const headers = parseHeaders(value);
    if (!headers.ok) reader.issue({ source: 'env', raw: value, variable }, `${headers.message}; the exporter may drop them`, headers.expected, severity, true);
  }
}

/**
 * `OTEL_SDK_DISABLED` follows its specification: only "true" (any case) disables, and another
 * value than "false" is a warning and leaves the SDK on. The option takes the boolean words.
 */
function readSdkDisabled(reader: Reader, severity: Severity): boolean {
  const picked = reader.pick('sdkDisabled');
  if (picked.source !== 'env') return reader.value(picked, DEFAULTS.sdkDisabled);
  const text = String(picked.raw).trim().toLowerCase();
  if (text !== 'true' && text !== 'false') {
    reader.issue(picked, 'only "true" disables the SDK, so telemetry stays on', 'true or false', severity);
  }
  return text === 'true';
}

/**
 * `OTEL_METRIC_EXPORT_INTERVAL` / `_TIMEOUT` (milliseconds, as the specification says). A value
 * that is not a positive integer keeps the default with a warning; the timeout is capped at the
 * interval, because the SDK's periodic reader throws on a longer one (which would turn telemetry off).
 */
export function resolveOtlpExport(env: NodeJS.ProcessEnv, warnings: ConfigIssue[]): Config['otlpExport'] {
  const read = (variable: string, fallback: number): number => {
    const text = env[variable]?.trim();
    if (!text) return fallback;
    const n = Number(text);
    if (Number.isInteger(n) && n > 0) return n;
    warnings.push({ variable, value: text, expected: 'a positive whole number of milliseconds', message: 'this is not a positive whole number; the default stays', severity: 'warning' });
    return fallback;
  };
  const intervalMs = read('OTEL_METRIC_EXPORT_INTERVAL', DEFAULTS.otlpExport.intervalMs);
  const timeoutMs = Math.min(read('OTEL_METRIC_EXPORT_TIMEOUT', DEFAULTS.otlpExport.timeoutMs), intervalMs);
  return Object.freeze({ intervalMs, timeoutMs });
}
