/**
 * Pure parsers for the word-like configuration values: booleans, exit codes, the shutdown
 * action, the metrics endpoint kind, ports, hosts and OTLP endpoint URLs (the quantities are in
 * `units.ts`). Like those, they never throw and return the value or a reason plus the expected
 * form; strings are trimmed and words matched in any case, since a variable written by hand in
 * a deployment file often carries a stray space or capital.
 */

import type { HeapSampling, InstrumentationName, MetricsMode, NativeMode, OtlpProtocol, ShutdownAction } from './types';
import { LOG_LEVELS, type LogLevel } from './log';
import { EXPECTED, fail, type ParseResult, parseSize } from './units';

/** The words a boolean takes, in any case. */
export const BOOLEAN_WORDS = Object.freeze({ true: ['true', 'yes', 'on', '1'], false: ['false', 'no', 'off', '0'] } as const);
const TRUE_WORDS: ReadonlySet<string> = new Set(BOOLEAN_WORDS.true);
const FALSE_WORDS: ReadonlySet<string> = new Set(BOOLEAN_WORDS.false);

/** Parses `true/false`, `1/0`, `yes/no`, `on/off` (any case, surrounding spaces ignored). */
export function parseBoolean(input: string | boolean): ParseResult<boolean> {
  if (typeof input === 'boolean') return { ok: true, value: input };
  const word = input.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return { ok: true, value: true };
  if (FALSE_WORDS.has(word)) return { ok: true, value: false };
  return fail(word === '' ? 'the value is empty' : 'this is not a yes/no value', EXPECTED.boolean);
}

/** A boolean as such, for options that take nothing else (`otlp`). */
export function parseOnOff(input: boolean): ParseResult<boolean> {
  return { ok: true, value: input };
}

/**
 * Parses the exit code of a memory-pressure shutdown: an integer from 1 to 125. 0 tells the
 * supervisor all went well; shells reserve 126 (not executable) and 127 (not found) and report
 * death by signal N as 128+N, so 126-255 would be misread; above 255 does not fit in 8 bits.
 */
export function parseExitCode(input: string | number): ParseResult<number> {
  const expected = EXPECTED.exitCode;
  const text = typeof input === 'number' ? String(input) : input.trim();
  if (!/^\d+$/.test(text)) {
    return fail(text === '' ? 'the value is empty' : 'this is not a whole, non-negative number', expected);
  }
  const code = Number(text);
  if (code === 0) return fail('0 reports success, so a supervisor would not see the failure', expected);
  if (code >= 126 && code <= 255) {
    return fail(
      'shells reserve 126 and 127 (cannot execute, not found) and report death by signal N as 128+N',
      expected,
    );
  }
  if (code > 255) return fail('an exit code has 8 bits; the parent would see it modulo 256', expected);
  return { ok: true, value: code };
}

export const ACTIONS: readonly ShutdownAction[] = Object.freeze(['exit', 'signal', 'auto', 'observe']);

/** Parses the shutdown action: `exit`, `signal`, `auto` or `observe`, any case. */
export function parseAction(input: string): ParseResult<ShutdownAction> {
  const word = input.trim().toLowerCase() as ShutdownAction;
  if (ACTIONS.includes(word)) return { ok: true, value: word };
  return fail('this is not an action', EXPECTED.action);
}

export const NATIVE_MODES: readonly NativeMode[] = Object.freeze(['auto', 'on', 'off']);

/** Parses `auto`, `on` or `off` (any case); the boolean words mean `on` and `off`. */
export function parseNativeMode(input: string | boolean): ParseResult<NativeMode> {
  if (typeof input === 'boolean') return { ok: true, value: input ? 'on' : 'off' };
  const word = input.trim().toLowerCase();
  if ((NATIVE_MODES as readonly string[]).includes(word)) return { ok: true, value: word as NativeMode };
  const bool = parseBoolean(word);
  if (bool.ok) return { ok: true, value: bool.value ? 'on' : 'off' };
  return fail('this is not a mode of the native part', EXPECTED.nativeMode);
}

/**
 * The smallest reserve accepted. The shutdown allocates in it (the JSON line, the event, the
 * hooks' own work); below 1 MiB not even that fits, and the process would end at once at the
 * raised limit. A forgotten unit (`OOMGUARD_NATIVE_RESERVE=64` is 64 bytes) is the usual cause.
 */
export const MIN_RESERVE_BYTES = 1024 * 1024;

/** Parses the native part's reserve: a size (the forms of `parseSize`) of at least 1 MiB. */
export function parseReserve(input: string | number): ParseResult<number> {
  const size = parseSize(input);
  if (!size.ok) return fail(size.message, EXPECTED.reserve);
  if (size.value < MIN_RESERVE_BYTES) return fail('less than 1MiB cannot hold a shutdown', EXPECTED.reserve);
  return size;
}

export const METRICS_MODES: readonly MetricsMode[] = Object.freeze(['prometheus', 'global', 'none']);

/**
 * Parses where the guard's gauges go: `prometheus` (its own endpoint), `global` (the app's
 * global MeterProvider) or `none`; the boolean words mean `prometheus` and `none`. OTLP metrics
 * do not depend on it: they follow the OTLP endpoint.
 */
export function parseMetrics(input: string | boolean): ParseResult<MetricsMode> {
  if (typeof input === 'boolean') return { ok: true, value: input ? 'prometheus' : 'none' };
  const word = input.trim().toLowerCase() as MetricsMode;
  if (METRICS_MODES.includes(word)) return { ok: true, value: word };
  const bool = parseBoolean(word);
  if (bool.ok) return { ok: true, value: bool.value ? 'prometheus' : 'none' };
  return fail('this is not a metrics endpoint kind', EXPECTED.metrics);
}

/** Parses a log level: the OpenTelemetry levels, any case (`OTEL_LOG_LEVEL` is written `INFO`). */
export function parseLogLevel(input: string): ParseResult<LogLevel> {
  const word = input.trim().toLowerCase() as LogLevel;
  if (LOG_LEVELS.includes(word)) return { ok: true, value: word };
  return fail('this is not a log level', EXPECTED.logLevel);
}

/** Parses a TCP port, 0 to 65535; 0 asks the kernel for an ephemeral port. */
export function parsePort(input: string | number): ParseResult<number> {
  const text = typeof input === 'number' ? String(input) : input.trim();
  if (!/^\d+$/.test(text)) return fail('this is not a whole, non-negative number', EXPECTED.port);
  const port = Number(text);
  if (port > 65535) return fail('TCP ports end at 65535', EXPECTED.port);
  return { ok: true, value: port };
}

/**
 * Parses a bare host for `server.listen`: a name or an IP address; `[::1]` loses its brackets.
 * A scheme, a path or a port (`localhost:9464`) is refused rather than passed on, where
 * `listen` would fail later with a less helpful error (or, for a port, listen elsewhere).
 */
export function parseHost(input: string): ParseResult<string> {
  let host = input.trim();
  if (/^\[[^\]]*\]$/.test(host)) host = host.slice(1, -1);
  if (host.includes('://') || host.includes('/')) return fail('a host has no scheme or path', EXPECTED.host);
  if (/\s/.test(host)) return fail('a host has no spaces', EXPECTED.host);
  if (host.split(':').length === 2) {
    return fail('this looks like host:port; set the port in OOMGUARD_METRICS_PORT', EXPECTED.host);
  }
  return { ok: true, value: host };
}

/**
 * Checks an OTLP/HTTP endpoint: an `http:` or `https:` URL with a host. The OTLP/HTTP
 * exporters take nothing else; a gRPC-style `collector:4317` is the usual mistake.
 */
export function parseHttpUrl(input: string): ParseResult<string> {
  const text = input.trim();
  try {
    const url = new URL(text);
    if ((url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '') return { ok: true, value: text };
  } catch {
    // not a URL at all: refused below
  }
  return fail('this is not an http(s) URL', EXPECTED.url);
}

export const HEAP_SAMPLING: readonly HeapSampling[] = Object.freeze(['warn', 'always', 'off']);

/** Parses when the heap is sampled: `warn`, `always` or `off`, any case. */
export function parseHeapSampling(input: string): ParseResult<HeapSampling> {
  const word = input.trim().toLowerCase() as HeapSampling;
  if (HEAP_SAMPLING.includes(word)) return { ok: true, value: word };
  return fail('this is not a heap sampling mode', EXPECTED.sampling);
}

/**
 * Parses a file or directory path, or `off` (any case; `false` as an option) for none. Control
 * characters are refused: no real path has them, and a stray newline from a deployment file
 * would name a file nobody finds.
 */
export function parsePath(input: string | boolean): ParseResult<string | undefined> {
  if (input === false) return { ok: true, value: undefined };
  if (input === true) return fail('true is not a path', EXPECTED.path);
  const path = input.trim();
  if (path === '') return fail('the value is empty', EXPECTED.path);
  if (path.toLowerCase() === 'off') return { ok: true, value: undefined };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return fail('a path has no control characters', EXPECTED.path);
  return { ok: true, value: path };
}

/**
 * A comma-separated list of names from `allowed`, or `none` alone (an empty list), as the
 * OpenTelemetry SDK reads `OTEL_*_EXPORTER` and as `OOMGUARD_INSTRUMENTATIONS` is written. Any
 * case, spaces around names ignored, duplicates dropped; an unknown name refuses the whole value
 * rather than silently export less than asked.
 */
function parseNameList<T extends string>(input: string, allowed: readonly T[], expected: string, what: string): ParseResult<readonly T[]> {
  const names = input.split(',').map((n) => n.trim().toLowerCase());
  if (names.length === 1 && names[0] === 'none') return { ok: true, value: [] };
  if (names.includes('none')) return fail('none cannot be combined with other names', expected);
  const unknown = names.find((n) => !(allowed as readonly string[]).includes(n));
  if (unknown !== undefined) return fail(unknown === '' ? 'the list has an empty entry' : `"${unknown}" is not ${what}`, expected);
  return { ok: true, value: [...new Set(names)] as T[] };
}

/** The exporter names each signal takes; zipkin and jaeger are not bundled. */
export const EXPORTERS = Object.freeze({
  traces: Object.freeze(['otlp', 'console'] as const),
  metrics: Object.freeze(['prometheus', 'otlp', 'console'] as const),
  logs: Object.freeze(['otlp', 'console'] as const),
});
export type TracesExporter = (typeof EXPORTERS.traces)[number];
export type MetricsExporter = (typeof EXPORTERS.metrics)[number];
export type LogsExporter = (typeof EXPORTERS.logs)[number];

/** `OTEL_TRACES_EXPORTER`: otlp, console, none. */
export function parseTracesExporter(input: string): ParseResult<readonly TracesExporter[]> {
  return parseNameList(input, EXPORTERS.traces, EXPECTED.tracesExporter, 'a trace exporter the agent has (otlp, console)');
}

/** `OTEL_METRICS_EXPORTER`: prometheus, otlp, console, none. */
export function parseMetricsExporter(input: string): ParseResult<readonly MetricsExporter[]> {
  return parseNameList(input, EXPORTERS.metrics, EXPECTED.metricsExporter, 'a metrics exporter the agent has (prometheus, otlp, console)');
}

/** `OTEL_LOGS_EXPORTER`: otlp, console, none. */
export function parseLogsExporter(input: string): ParseResult<readonly LogsExporter[]> {
  return parseNameList(input, EXPORTERS.logs, EXPECTED.logsExporter, 'a logs exporter the agent has (otlp, console)');
}

export const OTLP_PROTOCOLS: readonly OtlpProtocol[] = Object.freeze(['http/protobuf', 'http/json', 'grpc']);

/** `OTEL_EXPORTER_OTLP_PROTOCOL` and its per-signal variants. */
export function parseOtlpProtocol(input: string): ParseResult<OtlpProtocol> {
  const word = input.trim().toLowerCase() as OtlpProtocol;
  if (OTLP_PROTOCOLS.includes(word)) return { ok: true, value: word };
  return fail('this is not an OTLP protocol', EXPECTED.otlpProtocol);
}

export const INSTRUMENTATIONS: readonly InstrumentationName[] = Object.freeze(['runtime', 'host']);

/** `OOMGUARD_INSTRUMENTATIONS`: which bundled instrumentations feed the agent's metrics. */
export function parseInstrumentations(input: string): ParseResult<readonly InstrumentationName[]> {
  return parseNameList(input, INSTRUMENTATIONS, EXPECTED.instrumentations, 'a bundled instrumentation (runtime, host)');
}

/**
 * Checks OTLP headers (`OTEL_EXPORTER_OTLP_HEADERS`): comma-separated `key=value` pairs, each
 * with a key (https://opentelemetry.io/docs/specs/otel/protocol/exporter/#specifying-headers-via-environment-variables).
 * `Authorization: Bearer ...` is the usual mistake; the exporter would drop it silently.
 */
export function parseHeaders(input: string): ParseResult<string> {
  const text = input.trim();
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    if (pair.trim() !== '' && (eq <= 0 || pair.slice(0, eq).trim() === '')) {
      return fail('each header is key=value, separated by commas', EXPECTED.headers);
    }
  }
  return { ok: true, value: text };
}
