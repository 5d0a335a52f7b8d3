/**
 * Configuration: environment variables and `start()` options -> one validated, frozen
 * {@link Config}. Options win over the environment, the environment over {@link DEFAULTS}.
 *
 * Nothing here throws except {@link loadConfigOrThrow}, and nothing happens on import. The
 * parsers are hand-written (`units.ts`) because this runs in the preload before the app's first
 * line: `require('zod')` measured 80-200 ms here against a 20 ms budget for the whole agent.
 * zod is loaded only by {@link optionsJsonSchema}, for tooling, never on a start-up path.
 * The forms, defaults and rules are documented in docs/configuration.md.
 */

import type { Config, ShutdownAction, ThresholdSpec } from './types';
import { PARENT_PID_VAR } from './parent';
import {
  EXPECTED,
  formatDuration,
  parseBoolean,
  parseDuration,
  parseExitCode,
  parseThreshold,
  type ParseResult,
} from './units';

/**
 * The programmatic form of every environment variable, for `start(options)`. Each option wins
 * over its variable. Strings take the same forms as the variables; numbers are bytes (sizes)
 * or milliseconds (durations); `false` turns a threshold off.
 */
export interface StartOptions {
  /** `OOMGUARD_ENABLED`. Default `true`; `false` installs nothing at all. */
  enabled?: boolean | string;
  /** `OOMGUARD_STRICT`. Default `false`; `true`: a configuration error exits 78 before the app starts. */
  strict?: boolean | string;
  /**
   * `OOMGUARD_HEAP_THRESHOLD`. Default `'75%'` of the old-generation budget; a size, a percent or
   * `'off'`/`false`. Not 80%: V8 starts counting towards its "ineffective mark-compacts" abort at
   * 80%, and a process stopped right there dies in its own shutdown hooks (docs/heap-model.md).
   */
  heapThreshold?: string | number | false;
  /** `OOMGUARD_HEAP_WARN`. Default `'70%'`; when unset it follows `heapThreshold` (10 points below a percent, 7/8 of a size). */
  heapWarn?: string | number | false;
  /** `OOMGUARD_RSS_THRESHOLD`. Default `'90%'` of the memory limit (a percent is off without a limit). */
  rssThreshold?: string | number | false;
  /** `OOMGUARD_RSS_WARN`. Default `'80%'`; when unset it follows `rssThreshold` like `heapWarn`. */
  rssWarn?: string | number | false;
  /** `OOMGUARD_POLL_INTERVAL`. Default `'1s'`; at least `'10ms'`. A number is milliseconds. */
  pollInterval?: string | number;
  /** `OOMGUARD_SHUTDOWN_TIMEOUT`. Default `'10s'`: deadline for hooks and the telemetry flush. A number is milliseconds. */
  shutdownTimeout?: string | number;
  /** `OOMGUARD_EXIT_CODE`. Default `2`; 1..125. */
  exitCode?: number | string;
  /** `OOMGUARD_ACTION`. Default `'auto'`. */
  action?: ShutdownAction;
  /** `OOMGUARD_METRICS`. Default `'prometheus'` (serve `/metrics`); `'none'` or `false` turns the endpoint off. */
  metrics?: 'prometheus' | 'none' | boolean;
  /** `OTEL_EXPORTER_PROMETHEUS_HOST`. Default: all interfaces (the exporter's default). */
  metricsHost?: string;
  /** `OTEL_EXPORTER_PROMETHEUS_PORT`. Default `9464`; `0` asks for an ephemeral port. */
  metricsPort?: number | string;
  /**
   * Push over OTLP/HTTP. Default: true when `OTEL_EXPORTER_OTLP_ENDPOINT` or a per-signal
   * `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT` is set. `true` without an endpoint uses
   * the exporters' default (`http://localhost:4318`); `false` ignores the variables.
   */
  otlp?: boolean;
  /** `OTEL_SDK_DISABLED`. Default `false`; `true`: no telemetry at all, the guard still guards. */
  sdkDisabled?: boolean | string;
}

/** One problem with one variable or option, worded so a human can fix it. */
export interface ConfigIssue {
  /** The environment variable (`OOMGUARD_HEAP_THRESHOLD`) or option (`options.heapThreshold`). */
  variable: string;
  /** The value as given (numbers and booleans as text). */
  value: string;
  /** The accepted form, e.g. `a duration with a unit: 250ms, 1s, ...`. */
  expected: string;
  /** Why this value is wrong or suspicious. */
  message: string;
  /** `error`: the guard stays off (strict: exit 78). `warning`: reported, the guard runs. */
  severity: 'error' | 'warning';
}

/** Where each resolved option came from; `oomguard doctor` prints it. */
export type ConfigSource = 'option' | 'env' | 'default' | 'derived';

/** The outcome of {@link loadConfig}. */
export type LoadConfigResult =
  | {
      ok: true;
      config: Config;
      /** Non-fatal issues: report each with {@link formatIssue}, then run. */
      warnings: ConfigIssue[];
      sources: Readonly<Record<keyof StartOptions, ConfigSource>>;
    }
  | {
      ok: false;
      /** At least one error; the guard must stay off (or exit 78 when `strict`). */
      issues: ConfigIssue[];
      warnings: ConfigIssue[];
      /** `OOMGUARD_STRICT` as far as it could be read (false when it is itself invalid). */
      strict: boolean;
    };

/** Thrown by {@link loadConfigOrThrow} (and so by `start(options)`) on a configuration error. */
export class OomguardConfigError extends Error {
  readonly code = 'OOMGUARD_INVALID_CONFIG';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'OomguardConfigError';
    this.issues = issues;
  }
}

/** The Prometheus exporter's default port (https://github.com/open-telemetry/opentelemetry-js/tree/main/experimental/packages/opentelemetry-exporter-prometheus). */
const DEFAULT_METRICS_PORT = 9464;
/** Sampling more often than this costs CPU without catching anything sooner. */
export const MIN_POLL_INTERVAL_MS = 10;
/**
 * V8 aborts with "Ineffective mark-compacts near heap limit" once the old generation is at
 * 80% of its maximum and GC stops freeing memory, so a heap threshold above 80% can lose the
 * race (see DESIGN.md, "V8 dies before 100% of the budget";
 * https://github.com/v8/v8/blob/main/src/heap/heap.cc, CheckIneffectiveMarkCompact).
 */
const V8_INEFFECTIVE_MARK_COMPACT_PERCENT = 80;

/** The configuration when nothing is set. Deeply frozen. */
export const DEFAULTS: Config = Object.freeze({
  enabled: true,
  strict: false,
  // 75%, not the 80% DESIGN.md first named: see the doc comment of `StartOptions.heapThreshold`.
  heapThreshold: Object.freeze({ kind: 'percent', percent: 75 }),
  heapWarn: Object.freeze({ kind: 'percent', percent: 70 }),
  rssThreshold: Object.freeze({ kind: 'percent', percent: 90 }),
  rssWarn: Object.freeze({ kind: 'percent', percent: 80 }),
  pollIntervalMs: 1000,
  shutdownTimeoutMs: 10_000,
  exitCode: 2,
  action: 'auto',
  metrics: Object.freeze({ enabled: true, host: undefined, port: DEFAULT_METRICS_PORT }),
  otlp: false,
  otlpExport: Object.freeze({ intervalMs: 60_000, timeoutMs: 30_000 }),
  sdkDisabled: false,
});

/** Each option and the environment variable it stands for. */
export const ENV_VARIABLES: Readonly<Record<keyof StartOptions, string>> = Object.freeze({
  enabled: 'OOMGUARD_ENABLED',
  strict: 'OOMGUARD_STRICT',
  heapThreshold: 'OOMGUARD_HEAP_THRESHOLD',
  heapWarn: 'OOMGUARD_HEAP_WARN',
  rssThreshold: 'OOMGUARD_RSS_THRESHOLD',
  rssWarn: 'OOMGUARD_RSS_WARN',
  pollInterval: 'OOMGUARD_POLL_INTERVAL',
  shutdownTimeout: 'OOMGUARD_SHUTDOWN_TIMEOUT',
  exitCode: 'OOMGUARD_EXIT_CODE',
  action: 'OOMGUARD_ACTION',
  metrics: 'OOMGUARD_METRICS',
  metricsHost: 'OTEL_EXPORTER_PROMETHEUS_HOST',
  metricsPort: 'OTEL_EXPORTER_PROMETHEUS_PORT',
  otlp: 'OTEL_EXPORTER_OTLP_ENDPOINT',
  sdkDisabled: 'OTEL_SDK_DISABLED',
});

/** Per-signal OTLP endpoints; any one of them turns OTLP on, like the general one. */
const OTLP_SIGNAL_VARIABLES = [
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
  'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT',
] as const;

/**
 * Every `OOMGUARD_*` variable the agent reads. Any other `OOMGUARD_*` variable gets a
 * "did you mean" warning; a module that reads a new variable must add it here.
 */
export const KNOWN_OOMGUARD_VARIABLES: readonly string[] = Object.freeze([
  ...Object.values(ENV_VARIABLES).filter((name) => name.startsWith('OOMGUARD_')),
  // Not configuration: a guarded process sets it for its children (parent.ts).
  PARENT_PID_VAR,
]);

const OPTION_NAMES = Object.keys(ENV_VARIABLES) as (keyof StartOptions)[];
const MAX_VALUE_IN_MESSAGE = 80;

/**
 * One line naming the variable, the value (quoted, control characters escaped, long values
 * cut) and the expected form, e.g.
 * `oomguard: OOMGUARD_POLL_INTERVAL="1000": a duration needs a unit (...); expected a duration with a unit: 250ms, ...`.
 */
export function formatIssue(issue: ConfigIssue): string {
  const value =
    issue.value.length > MAX_VALUE_IN_MESSAGE ? `${issue.value.slice(0, MAX_VALUE_IN_MESSAGE)}...` : issue.value;
  const prefix = issue.severity === 'warning' ? 'oomguard: warning: ' : 'oomguard: ';
  // A "did you mean X?" message already names what was expected; say it once.
  const expected = issue.message.includes(issue.expected) ? '' : `; expected ${issue.expected}`;
  return `${prefix}${issue.variable}=${JSON.stringify(value)}: ${issue.message}${expected}`;
}

type Raw = string | number | boolean;

interface Picked {
  source: ConfigSource;
  /** Set unless the source is `default`. */
  raw?: Raw;
  /** Name for messages: the variable, or `options.<name>`. */
  variable: string;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * Resolves configuration from `env` (normally `process.env`) and `options`, and reports every
 * problem at once instead of stopping at the first. Empty variables count as unset, as the
 * OpenTelemetry specification asks
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#parsing-empty-value).
 * With `OOMGUARD_ENABLED=false` nothing else is read or reported. Never throws.
 */
export function loadConfig(env: NodeJS.ProcessEnv, options: StartOptions = {}): LoadConfigResult {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const sources = {} as Record<keyof StartOptions, ConfigSource>;
  const opts: Record<string, unknown> = options !== null && typeof options === 'object' ? { ...options } : {};

  const pick = (name: keyof StartOptions): Picked => {
    const option = opts[name];
    if (option !== undefined) {
      sources[name] = 'option';
      return { source: 'option', raw: option as Raw, variable: `options.${name}` };
    }
    const variable = ENV_VARIABLES[name];
    const value = env[variable];
    if (value !== undefined && value.trim() !== '') {
      sources[name] = 'env';
      return { source: 'env', raw: value, variable };
    }
    sources[name] = 'default';
    return { source: 'default', variable };
  };
  const issue = (picked: Picked, message: string, expected: string, severity: ConfigIssue['severity']): void => {
    (severity === 'error' ? errors : warnings).push({
      variable: picked.variable,
      value: describe(picked.raw),
      expected,
      message,
      severity,
    });
  };
  /** Parses a picked value; on failure records an error and returns the default. */
  const read = <T>(picked: Picked, parse: (raw: never) => ParseResult<T>, types: string[], fallback: T): T => {
    if (picked.source === 'default') return fallback;
    if (!types.includes(typeof picked.raw)) {
      issue(picked, `a ${typeof picked.raw} is not accepted here`, expectedFor(parse), 'error');
      return fallback;
    }
    const result = parse(picked.raw as never);
    if (result.ok) return result.value;
    issue(picked, result.message, result.expected, 'error');
    return fallback;
  };

  const strict = read(pick('strict'), parseBoolean, ['string', 'boolean'], DEFAULTS.strict);
  const enabled = read(pick('enabled'), parseBoolean, ['string', 'boolean'], DEFAULTS.enabled);
  if (errors.length > 0) return { ok: false, issues: errors, warnings, strict };
  if (!enabled) {
    for (const name of OPTION_NAMES) sources[name] ??= 'default';
    return { ok: true, config: Object.freeze({ ...DEFAULTS, enabled: false, strict }), warnings, sources };
  }

  checkUnknownVariables(env, warnings);
  checkUnknownOptions(opts, warnings);

  // Thresholds. A warn level that is not set follows its shutdown threshold, so setting only
  // OOMGUARD_HEAP_THRESHOLD=1GiB still warns before it, instead of at 70% of a budget that
  // may lie above 1 GiB.
  const thresholds = (['heap', 'rss'] as const).map((signal) => {
    const shutdownPick = pick(`${signal}Threshold`);
    const shutdown = read(shutdownPick, parseThreshold, ['string', 'number', 'boolean'], DEFAULTS[`${signal}Threshold`]);
    const warnPick = pick(`${signal}Warn`);
    let warn = read(warnPick, parseThreshold, ['string', 'number', 'boolean'], DEFAULTS[`${signal}Warn`]);
    if (warnPick.source === 'default' && shutdownPick.source !== 'default') {
      const derived = deriveWarn(shutdown);
      if (derived !== undefined) {
        warn = derived;
        sources[`${signal}Warn`] = 'derived';
      }
    }
    if (warnPick.source !== 'default' && shutdown.kind !== 'off' && warn.kind === shutdown.kind) {
      const warnValue = warn.kind === 'percent' ? warn.percent : warn.kind === 'bytes' ? warn.bytes : 0;
      const shutdownValue = shutdown.kind === 'percent' ? shutdown.percent : shutdown.bytes;
      if (warnValue >= shutdownValue) {
        issue(
          warnPick,
          `the warn level is at or above ${shutdownPick.variable}=${describe(shutdownPick.raw ?? formatThreshold(shutdown))}, so it could never warn before the shutdown`,
          `a warn level below the shutdown threshold, or off`,
          'error',
        );
      }
    }
    return { shutdown, warn, shutdownPick };
  });
  const [heap, rss] = thresholds as [(typeof thresholds)[0], (typeof thresholds)[0]];
  if (heap.shutdown.kind === 'percent' && heap.shutdown.percent > V8_INEFFECTIVE_MARK_COMPACT_PERCENT) {
    issue(
      heap.shutdownPick,
      `V8 aborts with "ineffective mark-compacts" from ${V8_INEFFECTIVE_MARK_COMPACT_PERCENT}% of the heap budget on, so this threshold may be too late`,
      `a heap threshold of at most ${V8_INEFFECTIVE_MARK_COMPACT_PERCENT}%`,
      'warning',
    );
  }

  const pollPick = pick('pollInterval');
  const pollIntervalMs = read(pollPick, parseDuration, ['string', 'number'], DEFAULTS.pollIntervalMs);
  if (pollPick.source !== 'default' && pollIntervalMs < MIN_POLL_INTERVAL_MS) {
    issue(
      pollPick,
      `${formatDuration(pollIntervalMs)} is below the ${MIN_POLL_INTERVAL_MS}ms floor: sampling more often costs CPU and catches nothing sooner`,
      `a duration of at least ${MIN_POLL_INTERVAL_MS}ms, such as 250ms or 1s`,
      'error',
    );
  }
  const shutdownTimeoutMs = read(pick('shutdownTimeout'), parseDuration, ['string', 'number'], DEFAULTS.shutdownTimeoutMs);
  const exitCode = read(pick('exitCode'), parseExitCode, ['string', 'number'], DEFAULTS.exitCode);
  const action = read(pick('action'), parseAction, ['string'], DEFAULTS.action);
  const metricsEnabled = read(pick('metrics'), parseMetrics, ['string', 'boolean'], DEFAULTS.metrics.enabled);

  // OTEL_* variables belong to the whole OpenTelemetry ecosystem and only steer telemetry, so a
  // bad one turns that piece of telemetry off with a warning and the guard still guards;
  // OOMGUARD_STRICT makes them errors like the rest.
  const telemetrySeverity: ConfigIssue['severity'] = strict ? 'error' : 'warning';
  const telemetry = <T>(picked: Picked, parse: (raw: never) => ParseResult<T>, types: string[], fallback: T, off: T): T => {
    if (picked.source === 'default') return fallback;
    const result: ParseResult<T> = types.includes(typeof picked.raw)
      ? parse(picked.raw as never)
      : { ok: false, message: `a ${typeof picked.raw} is not accepted here`, expected: expectedFor(parse) };
    if (result.ok) return result.value;
    issue(picked, `${result.message}; the Prometheus endpoint stays off`, result.expected, telemetrySeverity);
    return off;
  };
  const NO_HOST = Symbol('invalid host');
  const host = telemetry<string | undefined | typeof NO_HOST>(pick('metricsHost'), parseHost, ['string'], undefined, NO_HOST);
  const port = telemetry(pick('metricsPort'), parsePort, ['string', 'number'], DEFAULT_METRICS_PORT, -1);

  const otlp = resolveOtlp(env, opts, sources, (picked, message, expected) => issue(picked, message, expected, telemetrySeverity));
  const sdkPick = pick('sdkDisabled');
  let sdkDisabled = DEFAULTS.sdkDisabled;
  if (sdkPick.source === 'option') {
    sdkDisabled = read(sdkPick, parseBoolean, ['string', 'boolean'], DEFAULTS.sdkDisabled);
  } else if (sdkPick.source === 'env') {
    // The specification's own rule: only "true" (any case) disables, "false" does not, and
    // anything else is false with a warning.
    const text = String(sdkPick.raw).trim().toLowerCase();
    sdkDisabled = text === 'true';
    if (text !== 'true' && text !== 'false') {
      issue(sdkPick, 'only "true" disables the SDK, so telemetry stays on', 'true or false', telemetrySeverity);
    }
  }

  if (errors.length > 0) return { ok: false, issues: errors, warnings, strict };
  const metricsOn = metricsEnabled && !sdkDisabled && host !== NO_HOST && port >= 0;
  const config: Config = Object.freeze({
    enabled,
    strict,
    heapThreshold: Object.freeze(heap.shutdown),
    heapWarn: Object.freeze(heap.warn),
    rssThreshold: Object.freeze(rss.shutdown),
    rssWarn: Object.freeze(rss.warn),
    pollIntervalMs,
    shutdownTimeoutMs,
    exitCode,
    action,
    metrics: Object.freeze({
      enabled: metricsOn,
      host: host === NO_HOST ? undefined : host,
      port: port >= 0 ? port : DEFAULT_METRICS_PORT,
    }),
    otlp: otlp && !sdkDisabled,
    otlpExport: resolveOtlpExport(env, warnings),
    sdkDisabled,
  });
  return { ok: true, config, warnings, sources };
}

/**
 * {@link loadConfig} for `start(options)`: returns the config and the warnings, or throws an
 * {@link OomguardConfigError} (code `OOMGUARD_INVALID_CONFIG`) listing every error.
 */
export function loadConfigOrThrow(
  env: NodeJS.ProcessEnv,
  options?: StartOptions,
): { config: Config; warnings: ConfigIssue[] } {
  const result = loadConfig(env, options);
  if (!result.ok) throw new OomguardConfigError(result.issues);
  return { config: result.config, warnings: result.warnings };
}

/** A threshold in the form the variables take: `80%`, `536870912`, `off`. */
export function formatThreshold(spec: ThresholdSpec): string {
  if (spec.kind === 'off') return 'off';
  return spec.kind === 'percent' ? `${spec.percent}%` : String(spec.bytes);
}

/**
 * The warn level that follows an explicit shutdown threshold: 10 points below a percent (but
 * not below half of it), 7/8 of a size, nothing for `off` (the static default stays).
 */
export function deriveWarn(shutdown: ThresholdSpec): ThresholdSpec | undefined {
  if (shutdown.kind === 'percent') return { kind: 'percent', percent: Math.max(shutdown.percent - 10, shutdown.percent / 2) };
  if (shutdown.kind === 'bytes') return { kind: 'bytes', bytes: Math.floor((shutdown.bytes * 7) / 8) };
  return undefined;
}

const ACTIONS: readonly ShutdownAction[] = ['exit', 'signal', 'auto'];
const EXPECTED_ACTION = 'exit, signal or auto';
const EXPECTED_METRICS = 'prometheus or none (or true/false)';
const EXPECTED_PORT = 'a port from 0 to 65535 (0: an ephemeral port)';
const EXPECTED_HOST = 'a host name or IP address, without scheme, port or path';
const EXPECTED_URL = 'an http:// or https:// URL, such as http://collector:4318';

function parseAction(input: string): ParseResult<ShutdownAction> {
  const word = input.trim().toLowerCase() as ShutdownAction;
  if (ACTIONS.includes(word)) return { ok: true, value: word };
  return { ok: false, message: 'this is not an action', expected: EXPECTED_ACTION };
}

/**
 * `OOMGUARD_METRICS` says whether the agent serves a Prometheus endpoint: `prometheus` (the
 * default) or `none`; boolean words are accepted too. OTLP metrics follow the OTLP endpoint.
 */
function parseMetrics(input: string | boolean): ParseResult<boolean> {
  if (typeof input === 'boolean') return { ok: true, value: input };
  const word = input.trim().toLowerCase();
  if (word === 'prometheus') return { ok: true, value: true };
  if (word === 'none') return { ok: true, value: false };
  const bool = parseBoolean(word);
  if (bool.ok) return bool;
  return { ok: false, message: 'this is not a metrics endpoint kind', expected: EXPECTED_METRICS };
}

function parsePort(input: string | number): ParseResult<number> {
  const text = typeof input === 'number' ? String(input) : input.trim();
  if (!/^\d+$/.test(text)) return { ok: false, message: 'this is not a whole, non-negative number', expected: EXPECTED_PORT };
  const port = Number(text);
  if (port > 65535) return { ok: false, message: 'TCP ports end at 65535', expected: EXPECTED_PORT };
  return { ok: true, value: port };
}

/** A bare host for `server.listen`; `[::1]` loses its brackets. */
function parseHost(input: string): ParseResult<string> {
  let host = input.trim();
  if (/^\[[^\]]*\]$/.test(host)) host = host.slice(1, -1);
  if (host.includes('://') || host.includes('/')) {
    return { ok: false, message: 'a host has no scheme or path', expected: EXPECTED_HOST };
  }
  if (/\s/.test(host)) return { ok: false, message: 'a host has no spaces', expected: EXPECTED_HOST };
  if (host.split(':').length === 2) {
    return { ok: false, message: 'this looks like host:port; set the port in OTEL_EXPORTER_PROMETHEUS_PORT', expected: EXPECTED_HOST };
  }
  return { ok: true, value: host };
}

function expectedFor(parse: (raw: never) => ParseResult<unknown>): string {
  if (parse === parseThreshold) return EXPECTED.threshold;
  if (parse === parseDuration) return EXPECTED.duration;
  if (parse === parseBoolean) return EXPECTED.boolean;
  if (parse === parseExitCode) return EXPECTED.exitCode;
  if (parse === parseAction) return EXPECTED_ACTION;
  if (parse === parseMetrics) return EXPECTED_METRICS;
  if (parse === parsePort) return EXPECTED_PORT;
  if (parse === parseHost) return EXPECTED_HOST;
  return 'another form';
}

function resolveOtlp(
  env: NodeJS.ProcessEnv,
  opts: Record<string, unknown>,
  sources: Record<keyof StartOptions, ConfigSource>,
  report: (picked: Picked, message: string, expected: string) => void,
): boolean {
  const option = opts.otlp;
  if (option !== undefined) {
    sources.otlp = 'option';
    if (typeof option === 'boolean') return option;
    report({ source: 'option', raw: option as Raw, variable: 'options.otlp' }, `a ${typeof option} is not accepted here; OTLP stays off`, 'true or false');
    return false;
  }
  let on = false;
  for (const variable of [ENV_VARIABLES.otlp, ...OTLP_SIGNAL_VARIABLES]) {
    const value = env[variable]?.trim();
    if (value === undefined || value === '') continue;
    if (isHttpUrl(value)) on = true;
    else report({ source: 'env', raw: value, variable }, 'this is not an http(s) URL; OTLP ignores it', EXPECTED_URL);
  }
  sources.otlp = on ? 'env' : 'default';
  return on;
}

/**
 * `OTEL_METRIC_EXPORT_INTERVAL` / `_TIMEOUT` (milliseconds, as the specification says). A value
 * that is not a positive integer keeps the default with a warning; the timeout is capped at the
 * interval, because the SDK's periodic reader throws on a longer one (which would turn telemetry off).
 */
function resolveOtlpExport(env: NodeJS.ProcessEnv, warnings: ConfigIssue[]): Config['otlpExport'] {
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

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * Any `OOMGUARD_*` variable the agent does not read gets a warning, with the closest known
 * name when one is near (a typo such as OOMGUARD_HEAP_TRESHOLD). A warning, not an error: the
 * variable may belong to a newer oomguard, and the guard should not switch off over a name.
 */
function checkUnknownVariables(env: NodeJS.ProcessEnv, warnings: ConfigIssue[]): void {
  for (const name of Object.keys(env)) {
    if (!name.toUpperCase().startsWith('OOMGUARD_') || KNOWN_OOMGUARD_VARIABLES.includes(name)) continue;
    const suggestion = closest(name.toUpperCase(), KNOWN_OOMGUARD_VARIABLES);
    warnings.push({
      variable: name,
      value: env[name] ?? '',
      expected: suggestion ?? `one of ${KNOWN_OOMGUARD_VARIABLES.join(', ')}`,
      message: suggestion ? `oomguard does not read this variable; did you mean ${suggestion}?` : 'oomguard does not read this variable',
      severity: 'warning',
    });
  }
}

function checkUnknownOptions(opts: Record<string, unknown>, warnings: ConfigIssue[]): void {
  for (const name of Object.keys(opts)) {
    if ((OPTION_NAMES as string[]).includes(name)) continue;
    const suggestion = closest(name, OPTION_NAMES);
    warnings.push({
      variable: `options.${name}`,
      value: describe(opts[name]),
      expected: suggestion ?? `one of ${OPTION_NAMES.join(', ')}`,
      message: suggestion ? `oomguard has no such option; did you mean ${suggestion}?` : 'oomguard has no such option',
      severity: 'warning',
    });
  }
}

/** The candidate within a few edits of `name` (case ignored), if exactly one is nearest. */
function closest(name: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(2, Math.floor(name.length / 5));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    } else if (distance === bestDistance) {
      best = undefined;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

/** Optimal-string-alignment distance: insertions, deletions, substitutions, transpositions. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) rows.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

// Patterns for the string forms, for the JSON Schema below. They check the form only (ranges
// such as "at least 1MiB" or "at most 100%" are loadConfig's); JSON Schema has no
// case-insensitive flag, hence the [oO] classes.
const DIGITS = String.raw`\d(?:_?\d)*`;
const NUMBER = String.raw`\+?(?=\.?\d)(?:${DIGITS})?(?:\.(?:${DIGITS})?)?`;
const SIZE_UNIT = String.raw`(?:[bB](?:[yY][tT][eE][sS]?)?|[kKmMgGtTpP][iI]?[bB]|[kKmMgGtTpP][iI]|[kKMGTP])`;
const trimmed = (body: string): string => String.raw`^\s*(?:${body})\s*$`;
/** Regular expressions (as JSON Schema `pattern` strings) for the string forms of the options. */
export const OPTION_PATTERNS = Object.freeze({
  threshold: trimmed(String.raw`[oO][fF][fF]|${NUMBER}[ \t]*%|${NUMBER}[ \t]*${SIZE_UNIT}?`),
  duration: trimmed(String.raw`${NUMBER}[ \t]*(?:[mM][sS]|[sSmMhH])`),
  boolean: trimmed('[tT][rR][uU][eE]|[fF][aA][lL][sS][eE]|[yY][eE][sS]|[nN][oO]|[oO][nN]|[oO][fF][fF]|1|0'),
  exitCode: trimmed(String.raw`\d+`),
  port: trimmed(String.raw`\d+`),
});

let jsonSchema: Record<string, unknown> | undefined;

/**
 * A JSON Schema (draft 2020-12) of {@link StartOptions}, for tooling: editors, CI checks of a
 * deployment's settings, `oomguard doctor`. It checks types and forms; {@link loadConfig}
 * remains the judge of ranges and cross-field rules. This is the one place that uses zod, and
 * it loads zod on the first call only: `require('zod')` costs 80-200 ms here, ten times the
 * agent's whole start-up budget, so no start-up path may reach it.
 */
export function optionsJsonSchema(): Record<string, unknown> {
  if (jsonSchema) return jsonSchema;
  const { z } = require('zod') as typeof import('zod');
  const threshold = z.union([z.string().regex(new RegExp(OPTION_PATTERNS.threshold)), z.number().int().min(0), z.literal(false)]);
  const duration = z.union([z.string().regex(new RegExp(OPTION_PATTERNS.duration)), z.number().int().min(0).max(2 ** 31 - 1)]);
  const boolean = z.union([z.boolean(), z.string().regex(new RegExp(OPTION_PATTERNS.boolean))]);
  const doc = (name: keyof StartOptions, text: string): string => `${ENV_VARIABLES[name]}: ${text}`;
  const schema = z
    .object({
      enabled: boolean.optional().describe(doc('enabled', 'default true; false installs nothing at all')),
      strict: boolean.optional().describe(doc('strict', 'default false; true: a configuration error exits 78')),
      heapThreshold: threshold.optional().describe(doc('heapThreshold', 'default 75% of the heap budget; a size, a percent or off')),
      heapWarn: threshold.optional().describe(doc('heapWarn', 'default 70%, or 10 points below / 7/8 of heapThreshold')),
      rssThreshold: threshold.optional().describe(doc('rssThreshold', 'default 90% of the memory limit; a size, a percent or off')),
      rssWarn: threshold.optional().describe(doc('rssWarn', 'default 80%, or 10 points below / 7/8 of rssThreshold')),
      pollInterval: duration.optional().describe(doc('pollInterval', 'default 1s, at least 10ms; a number is milliseconds')),
      shutdownTimeout: duration.optional().describe(doc('shutdownTimeout', 'default 10s; a number is milliseconds')),
      exitCode: z
        .union([z.number().int().min(1).max(125), z.string().regex(new RegExp(OPTION_PATTERNS.exitCode))])
        .optional()
        .describe(doc('exitCode', 'default 2; 1..125')),
      action: z.enum(['exit', 'signal', 'auto']).optional().describe(doc('action', 'default auto')),
      metrics: z.union([z.enum(['prometheus', 'none']), z.boolean()]).optional().describe(doc('metrics', 'default prometheus')),
      metricsHost: z.string().optional().describe(doc('metricsHost', "default: all interfaces (the exporter's default)")),
      metricsPort: z
        .union([z.number().int().min(0).max(65535), z.string().regex(new RegExp(OPTION_PATTERNS.port))])
        .optional()
        .describe(doc('metricsPort', 'default 9464; 0 asks for an ephemeral port')),
      otlp: z.boolean().optional().describe('default: true when an OTEL_EXPORTER_OTLP_*ENDPOINT variable is set'),
      sdkDisabled: boolean.optional().describe(doc('sdkDisabled', 'default false; true: no telemetry, the guard still guards')),
    })
    .strict();
  jsonSchema = Object.freeze(z.toJSONSchema(schema, { io: 'input' })) as Record<string, unknown>;
  return jsonSchema;
}
