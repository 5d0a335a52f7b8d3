/**
 * Pure parsers for the word-like configuration values: booleans, exit codes, the shutdown
 * action, the metrics endpoint kind, ports, hosts and OTLP endpoint URLs (the quantities are in
 * `units.ts`). Like those, they never throw and return the value or a reason plus the expected
 * form; strings are trimmed and words matched in any case, since a variable written by hand in
 * a deployment file often carries a stray space or capital.
 */

import type { MetricsMode, ShutdownAction } from './types';
import { LOG_LEVELS, type LogLevel } from './log';
import { EXPECTED, fail, type ParseResult } from './units';

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

export const ACTIONS: readonly ShutdownAction[] = Object.freeze(['exit', 'signal', 'auto']);

/** Parses the shutdown action: `exit`, `signal` or `auto`, any case. */
export function parseAction(input: string): ParseResult<ShutdownAction> {
  const word = input.trim().toLowerCase() as ShutdownAction;
  if (ACTIONS.includes(word)) return { ok: true, value: word };
  return fail('this is not an action', EXPECTED.action);
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
