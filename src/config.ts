/**
 * Configuration: environment variables and `start()` options -> one validated, frozen
 * {@link Config}. Options win over the environment, the environment over {@link DEFAULTS}.
 *
 * The settings, their variables and their forms are rows of one table (`options.ts`); this file
 * reads them through it and adds the rules that tie settings together: a warn level that
 * follows its threshold and must stay below it, the V8 line for the heap threshold, the poll
 * floor, the OTLP endpoints and the OpenTelemetry SDK switch. Environment values go through
 * the hand-written parsers only; `start()` options also through zod (`schema.ts`), which is
 * loaded only when options are given, so the preload never loads it. Nothing here throws and
 * nothing happens on import. The forms and rules are documented in docs/configuration.md.
 */

import type { Config, ThresholdSpec } from './types';
import { formatDuration, formatThreshold } from './units';
import { KNOWN_OOMGUARD_VARIABLES, OPTION_NAMES, type StartOptions } from './options';
import { unknownOptions, unknownVariables } from './did-you-mean';
import { checkOptions } from './schema';
import { Reader, showValue, type ConfigIssue, type ConfigSource, type Picked } from './reader';

export type { StartOptions } from './options';
export { DEFAULTS, MIN_POLL_INTERVAL_MS } from './defaults';
import { DEFAULTS, MIN_POLL_INTERVAL_MS } from './defaults';
import { readLogLevel, readTelemetry, resolveOtlpExport } from './config-telemetry';
export { formatIssue, OomguardConfigError, type ConfigIssue, type ConfigSource } from './reader';

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

/**
 * V8 aborts with "Ineffective mark-compacts near heap limit" once the old generation is at 80%
 * of its maximum and GC stops freeing memory, so a heap threshold above 80% can lose the race
 * (https://github.com/v8/v8/blob/main/src/heap/heap.cc, CheckIneffectiveMarkCompact).
 */
const V8_INEFFECTIVE_MARK_COMPACT_PERCENT = 80;

/**
 * Resolves configuration from `env` (normally `process.env`) and `options`, and reports every
 * problem at once instead of stopping at the first. Empty variables count as unset
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#parsing-empty-value).
 * With `OOMGUARD_ENABLED=false` nothing else is read or reported. Never throws.
 */
export function loadConfig(env: NodeJS.ProcessEnv, options: StartOptions = {}): LoadConfigResult {
  const given = givenOptions(options);
  // zod loads here only, for a program's start(options): the preload passes none.
  const reader = new Reader(env, given, Object.keys(given).length > 0 ? checkOptions(given) : new Map());
  const strict = reader.read('strict', DEFAULTS.strict);
  const enabled = reader.read('enabled', DEFAULTS.enabled);
  if (reader.errors.length > 0) return { ok: false, issues: reader.errors, warnings: reader.warnings, strict };
  if (!enabled) {
    for (const name of OPTION_NAMES) reader.sources[name] ??= 'default';
    return { ok: true, config: Object.freeze({ ...DEFAULTS, enabled: false, strict }), warnings: reader.warnings, sources: reader.sources };
  }
  reader.warnings.push(...unknownVariables(env, KNOWN_OOMGUARD_VARIABLES), ...unknownOptions(given, OPTION_NAMES));

  const heap = readThresholdPair(reader, 'heap');
  const rss = readThresholdPair(reader, 'rss');
  checkHeapBelowV8Line(reader, heap.shutdownPick, heap.shutdown);
  const pollIntervalMs = readPollInterval(reader);
  const shutdownTimeoutMs = reader.read('shutdownTimeout', DEFAULTS.shutdownTimeoutMs);
  const exitCode = reader.read('exitCode', DEFAULTS.exitCode);
  const action = reader.read('action', DEFAULTS.action);
  const native = reader.read('native', DEFAULTS.native);
  const telemetryDelayMs = reader.read('telemetryDelay', DEFAULTS.telemetryDelayMs);
  const nativeReserveBytes = reader.read('nativeReserve', DEFAULTS.nativeReserveBytes);
  const telemetry = readTelemetry(reader, env, strict ? 'error' : 'warning');
  const evidence = readEvidence(reader);
  const instrumentations = reader.read('instrumentations', DEFAULTS.instrumentations);
  const logLevel = readLogLevel(reader, env, strict ? 'error' : 'warning');
  if (reader.errors.length > 0) return { ok: false, issues: reader.errors, warnings: reader.warnings, strict };

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
    ...telemetry,
    logLevel,
    otlpExport: resolveOtlpExport(env, reader.warnings),
    native,
    nativeReserveBytes,
    telemetryDelayMs,
    ...evidence,
    instrumentations: Object.freeze([...instrumentations]),
  });
  return { ok: true, config, warnings: reader.warnings, sources: reader.sources };
}

/** The options that are set: a non-object counts as none, an `undefined` value as unset. */
function givenOptions(options: unknown): Record<string, unknown> {
  if (options === null || typeof options !== 'object') return {};
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

/**
 * A shutdown threshold and its warn level. A warn level that is not set follows an explicit
 * threshold, so `OOMGUARD_HEAP_THRESHOLD=1GiB` alone still warns before it acts, instead of at
 * 70% of a budget that may lie above 1 GiB. A warn level that is set must lie below a threshold
 * of the same kind, or it could never warn first.
 */
function readThresholdPair(reader: Reader, signal: 'heap' | 'rss'): { shutdown: ThresholdSpec; warn: ThresholdSpec; shutdownPick: Picked } {
  const shutdownPick = reader.pick(`${signal}Threshold`);
  const shutdown = reader.value(shutdownPick, DEFAULTS[`${signal}Threshold`]);
  const warnPick = reader.pick(`${signal}Warn`);
  let warn = reader.value(warnPick, DEFAULTS[`${signal}Warn`]);
  const derived = deriveWarn(shutdown);
  if (warnPick.source === 'default' && shutdownPick.source !== 'default' && derived !== undefined) {
    warn = derived;
    reader.sources[`${signal}Warn`] = 'derived';
  }
  if (warnPick.source !== 'default' && isAtOrAbove(warn, shutdown)) {
    const shutdownText = shutdownPick.raw === undefined ? formatThreshold(shutdown) : showValue(shutdownPick.raw);
    reader.issue(
      warnPick,
      `the warn level is at or above ${shutdownPick.variable}=${shutdownText}, so it could never warn before the shutdown`,
      'a warn level below the shutdown threshold, or off',
      'error',
    );
  }
  return { shutdown, warn, shutdownPick };
}

/**
 * The warn level that follows an explicit shutdown threshold: 10 points below a percent (but
 * not below half of it), 7/8 of a size, nothing for `off` (the static default stays).
 */
function deriveWarn(shutdown: ThresholdSpec): ThresholdSpec | undefined {
  if (shutdown.kind === 'percent') return { kind: 'percent', percent: Math.max(shutdown.percent - 10, shutdown.percent / 2) };
  if (shutdown.kind === 'bytes') return { kind: 'bytes', bytes: Math.floor((shutdown.bytes * 7) / 8) };
  return undefined;
}

/** Whether `warn` is at or above `shutdown`; a percent and a size cannot be compared before a reading. */
function isAtOrAbove(warn: ThresholdSpec, shutdown: ThresholdSpec): boolean {
  if (warn.kind === 'percent' && shutdown.kind === 'percent') return warn.percent >= shutdown.percent;
  if (warn.kind === 'bytes' && shutdown.kind === 'bytes') return warn.bytes >= shutdown.bytes;
  return false;
}

/** A heap threshold above V8's 80% line is allowed, with a warning that it may act too late. */
function checkHeapBelowV8Line(reader: Reader, picked: Picked, shutdown: ThresholdSpec): void {
  if (shutdown.kind !== 'percent' || shutdown.percent <= V8_INEFFECTIVE_MARK_COMPACT_PERCENT) return;
  reader.issue(
    picked,
    `V8 aborts with "ineffective mark-compacts" from ${V8_INEFFECTIVE_MARK_COMPACT_PERCENT}% of the heap budget on, so this threshold may be too late`,
    `a heap threshold of at most ${V8_INEFFECTIVE_MARK_COMPACT_PERCENT}%`,
    'warning',
  );
}

/** The poll interval, at least {@link MIN_POLL_INTERVAL_MS}. */
function readPollInterval(reader: Reader): number {
  const picked = reader.pick('pollInterval');
  const ms = reader.value(picked, DEFAULTS.pollIntervalMs);
  if (picked.source !== 'default' && ms < MIN_POLL_INTERVAL_MS) {
    reader.issue(
      picked,
      `${formatDuration(ms)} is below the ${MIN_POLL_INTERVAL_MS}ms floor: sampling more often costs CPU and catches nothing sooner`,
      `a duration of at least ${MIN_POLL_INTERVAL_MS}ms, such as 250ms or 1s`,
      'error',
    );
  }
  return ms;
}

/** Where the memory went: heap sampling, the profile directory, the termination message file. */
function readEvidence(reader: Reader): Pick<Config, 'heapSampling' | 'profileDir' | 'terminationLog'> {
  return {
    heapSampling: reader.read('heapSampling', DEFAULTS.heapSampling),
    profileDir: reader.read('profileDir', DEFAULTS.profileDir),
    terminationLog: reader.read('terminationLog', DEFAULTS.terminationLog),
  };
}
