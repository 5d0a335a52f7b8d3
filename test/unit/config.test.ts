import { describe, expect, it } from 'vitest';
import { DEFAULTS, formatIssue, loadConfig, type ConfigIssue } from '../../src/config';
import { KNOWN_OOMGUARD_VARIABLES } from '../../src/options';
import { EXPECTED } from '../../src/units';
import type { Config } from '../../src/types';
import { GiB, MiB, config, errors, warnings } from '../helpers/config';

describe('defaults', () => {
  it('resolves an empty environment to DEFAULTS (75% heap threshold: docs/heap-model.md says why)', () => {
    const result = loadConfig({});
    expect(result).toMatchObject({ ok: true, warnings: [] });
    expect(config({})).toEqual(DEFAULTS);
    expect(DEFAULTS).toEqual({
      enabled: true,
      strict: false,
      heapThreshold: { kind: 'percent', percent: 75 },
      heapWarn: { kind: 'percent', percent: 70 },
      rssThreshold: { kind: 'percent', percent: 90 },
      rssWarn: { kind: 'percent', percent: 80 },
      pollIntervalMs: 1000,
      shutdownTimeoutMs: 10_000,
      exitCode: 2,
      action: 'auto',
      metrics: { enabled: true, mode: 'prometheus', host: undefined, port: 9465, requested: false },
      logLevel: 'error',
      otlp: false,
      otlpExport: { intervalMs: 60_000, timeoutMs: 30_000 },
      sdkDisabled: false,
      native: 'auto',
      nativeReserveBytes: 64 * 1024 * 1024,
      heapSampling: 'warn',
      profileDir: undefined,
      terminationLog: '/dev/termination-log',
      export: {
        traces: { otlp: false, console: false, protocol: 'http/protobuf' },
        metrics: { otlp: false, console: false, protocol: 'http/protobuf' },
        logs: { otlp: false, console: false, protocol: 'http/protobuf' },
      },
      instrumentations: ['runtime', 'host'],
      telemetryDelayMs: 5000,
    });
  });

  it('freezes DEFAULTS and every resolved config, nested objects included', () => {
    for (const c of [DEFAULTS, config({ OOMGUARD_HEAP_THRESHOLD: '1GiB' })]) {
      expect(Object.isFrozen(c)).toBe(true);
      expect(Object.isFrozen(c.metrics)).toBe(true);
      expect(Object.isFrozen(c.heapThreshold)).toBe(true);
    }
  });

  it('treats empty and blank variables as unset, as the OpenTelemetry specification asks', () => {
    expect(config({ OOMGUARD_HEAP_THRESHOLD: '', OOMGUARD_POLL_INTERVAL: '  ', OOMGUARD_METRICS_PORT: '' })).toEqual(DEFAULTS);
  });

  it('reports where each value came from', () => {
    const result = loadConfig({ OOMGUARD_HEAP_THRESHOLD: '75%', OOMGUARD_POLL_INTERVAL: '250ms' }, { exitCode: 3 });
    expect(result.ok && result.sources).toMatchObject({
      heapThreshold: 'env',
      heapWarn: 'derived',
      pollInterval: 'env',
      exitCode: 'option',
      rssThreshold: 'default',
      otlp: 'default',
    });
  });
});

describe('good environment values', () => {
  it.each<[NodeJS.ProcessEnv, Partial<Config>]>([
    [{ OOMGUARD_ENABLED: 'true' }, { enabled: true }],
    [{ OOMGUARD_STRICT: 'yes' }, { strict: true }],
    [{ OOMGUARD_HEAP_THRESHOLD: '512MiB', OOMGUARD_HEAP_WARN: '400MiB' }, { heapThreshold: { kind: 'bytes', bytes: 512 * MiB }, heapWarn: { kind: 'bytes', bytes: 400 * MiB } }],
    [{ OOMGUARD_HEAP_THRESHOLD: '75%', OOMGUARD_HEAP_WARN: '60%' }, { heapThreshold: { kind: 'percent', percent: 75 }, heapWarn: { kind: 'percent', percent: 60 } }],
    [{ OOMGUARD_HEAP_THRESHOLD: 'off' }, { heapThreshold: { kind: 'off' }, heapWarn: { kind: 'percent', percent: 70 } }],
    [{ OOMGUARD_HEAP_WARN: 'off' }, { heapWarn: { kind: 'off' } }],
    [{ OOMGUARD_RSS_THRESHOLD: '1.5GB', OOMGUARD_RSS_WARN: '1GB' }, { rssThreshold: { kind: 'bytes', bytes: 1_500_000_000 }, rssWarn: { kind: 'bytes', bytes: 1_000_000_000 } }],
    [{ OOMGUARD_RSS_THRESHOLD: '95%', OOMGUARD_RSS_WARN: '85%' }, { rssThreshold: { kind: 'percent', percent: 95 }, rssWarn: { kind: 'percent', percent: 85 } }],
    // Different kinds cannot be compared before a reading; the policy resolves them.
    [{ OOMGUARD_HEAP_THRESHOLD: '80%', OOMGUARD_HEAP_WARN: '4GiB' }, { heapWarn: { kind: 'bytes', bytes: 4 * GiB } }],
    [{ OOMGUARD_POLL_INTERVAL: '250ms' }, { pollIntervalMs: 250 }],
    [{ OOMGUARD_POLL_INTERVAL: '10ms' }, { pollIntervalMs: 10 }],
    [{ OOMGUARD_POLL_INTERVAL: '1.5s' }, { pollIntervalMs: 1500 }],
    [{ OOMGUARD_SHUTDOWN_TIMEOUT: '30s' }, { shutdownTimeoutMs: 30_000 }],
    [{ OOMGUARD_SHUTDOWN_TIMEOUT: '0s' }, { shutdownTimeoutMs: 0 }],
    [{ OOMGUARD_EXIT_CODE: '1' }, { exitCode: 1 }],
    [{ OOMGUARD_EXIT_CODE: '125' }, { exitCode: 125 }],
    [{ OOMGUARD_ACTION: 'exit' }, { action: 'exit' }],
    [{ OOMGUARD_ACTION: 'SIGNAL' }, { action: 'signal' }],
    [{ OOMGUARD_METRICS: 'none' }, { metrics: { enabled: false, mode: 'none', host: undefined, port: 9465, requested: false } }],
    [{ OOMGUARD_METRICS: 'Global' }, { metrics: { enabled: false, mode: 'global', host: undefined, port: 9465, requested: false } }],
    [{ OOMGUARD_METRICS: 'Prometheus' }, { metrics: { enabled: true, mode: 'prometheus', host: undefined, port: 9465, requested: false } }],
    [{ OOMGUARD_METRICS: 'off' }, { metrics: { enabled: false, mode: 'none', host: undefined, port: 9465, requested: false } }],
    [{ OOMGUARD_METRICS_HOST: '127.0.0.1', OOMGUARD_METRICS_PORT: '9100' }, { metrics: { enabled: true, mode: 'prometheus', host: '127.0.0.1', port: 9100, requested: true } }],
    [{ OOMGUARD_METRICS_HOST: '[::1]' }, { metrics: { enabled: true, mode: 'prometheus', host: '::1', port: 9465, requested: true } }],
    [{ OOMGUARD_METRICS_HOST: '::' }, { metrics: { enabled: true, mode: 'prometheus', host: '::', port: 9465, requested: true } }],
    [{ OOMGUARD_METRICS_PORT: '0' }, { metrics: { enabled: true, mode: 'prometheus', host: undefined, port: 0, requested: true } }],
    [{ OOMGUARD_METRICS_PORT: '65535' }, { metrics: { enabled: true, mode: 'prometheus', host: undefined, port: 65535, requested: true } }],
    // The app's own Prometheus exporter's variables are the app's: the guard reads neither.
    [{ OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: '9464' }, { metrics: { enabled: true, mode: 'prometheus', host: undefined, port: 9465, requested: false } }],
    [{ OOMGUARD_LOG_LEVEL: 'debug' }, { logLevel: 'debug' }],
    [{ OTEL_LOG_LEVEL: 'INFO' }, { logLevel: 'info' }],
    [{ OOMGUARD_LOG_LEVEL: 'none', OTEL_LOG_LEVEL: 'DEBUG' }, { logLevel: 'none' }],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_HEADERS: 'api-key=abc, tenant=x' }, { otlp: true }],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, { otlp: true }],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://collector/v1/traces' }, { otlp: true }],
    [{ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://localhost:4318/v1/metrics' }, { otlp: true }],
    [{ OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://localhost:4318/v1/logs' }, { otlp: true }],
    [{ OTEL_SDK_DISABLED: 'TRUE' }, { sdkDisabled: true, otlp: false }],
    [{ OTEL_SDK_DISABLED: 'false' }, { sdkDisabled: false }],
    // No telemetry at all with the SDK disabled, whatever else is set; the guard still guards.
    [{ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, { sdkDisabled: true, otlp: false, metrics: { enabled: false, mode: 'none', host: undefined, port: 9465, requested: false }, enabled: true }],
  ])('reads %j', (env, expected) => {
    const result = loadConfig(env);
    expect(result).toMatchObject({ ok: true, warnings: [] });
    expect(config(env)).toMatchObject(expected);
  });
});

describe('derived warn levels', () => {
  it.each<[NodeJS.ProcessEnv, Partial<Config>]>([
    [{ OOMGUARD_HEAP_THRESHOLD: '75%' }, { heapWarn: { kind: 'percent', percent: 65 } }],
    [{ OOMGUARD_HEAP_THRESHOLD: '60%' }, { heapWarn: { kind: 'percent', percent: 50 } }],
    [{ OOMGUARD_HEAP_THRESHOLD: '12%' }, { heapWarn: { kind: 'percent', percent: 6 } }],
    [{ OOMGUARD_HEAP_THRESHOLD: '1GiB' }, { heapWarn: { kind: 'bytes', bytes: 896 * MiB } }],
    [{ OOMGUARD_RSS_THRESHOLD: '95%' }, { rssWarn: { kind: 'percent', percent: 85 } }],
    [{ OOMGUARD_RSS_THRESHOLD: '2GiB' }, { rssWarn: { kind: 'bytes', bytes: 1792 * MiB } }],
    [{ OOMGUARD_RSS_THRESHOLD: 'off' }, { rssWarn: { kind: 'percent', percent: 80 } }],
  ])('a warn level left unset follows its threshold: %j', (env, expected) => {
    expect(config(env)).toMatchObject(expected);
  });
});

describe('bad environment values', () => {
  // Each row: the variables, then the exact variable, value, expected form and a part of the
  // message of the one error it must produce.
  it.each<[NodeJS.ProcessEnv, string, string, string, string]>([
    [{ OOMGUARD_ENABLED: 'ture' }, 'OOMGUARD_ENABLED', 'ture', EXPECTED.boolean, 'this is not a yes/no value'],
    [{ OOMGUARD_STRICT: 'maybe' }, 'OOMGUARD_STRICT', 'maybe', EXPECTED.boolean, 'this is not a yes/no value'],
    [{ OOMGUARD_HEAP_THRESHOLD: '512m' }, 'OOMGUARD_HEAP_THRESHOLD', '512m', EXPECTED.threshold, 'the unit "m" is ambiguous'],
    [{ OOMGUARD_HEAP_THRESHOLD: '512' }, 'OOMGUARD_HEAP_THRESHOLD', '512', EXPECTED.threshold, 'did you forget a unit?'],
    [{ OOMGUARD_HEAP_THRESHOLD: '-1GiB' }, 'OOMGUARD_HEAP_THRESHOLD', '-1GiB', EXPECTED.threshold, 'a negative value makes no sense here'],
    [{ OOMGUARD_HEAP_THRESHOLD: '0%' }, 'OOMGUARD_HEAP_THRESHOLD', '0%', EXPECTED.threshold, '0% would act at once; use off'],
    [{ OOMGUARD_HEAP_THRESHOLD: '101%' }, 'OOMGUARD_HEAP_THRESHOLD', '101%', EXPECTED.threshold, 'above 100% can never be reached'],
    [{ OOMGUARD_HEAP_THRESHOLD: 'NaN' }, 'OOMGUARD_HEAP_THRESHOLD', 'NaN', EXPECTED.threshold, 'NaN is not a number'],
    [{ OOMGUARD_HEAP_THRESHOLD: 'Infinity' }, 'OOMGUARD_HEAP_THRESHOLD', 'Infinity', EXPECTED.threshold, 'Infinity is not a number'],
    [{ OOMGUARD_HEAP_THRESHOLD: '1e9' }, 'OOMGUARD_HEAP_THRESHOLD', '1e9', EXPECTED.threshold, 'exponent notation is not accepted'],
    [{ OOMGUARD_HEAP_THRESHOLD: 'disabled' }, 'OOMGUARD_HEAP_THRESHOLD', 'disabled', EXPECTED.threshold, 'this is not a number followed by an optional unit'],
    [{ OOMGUARD_HEAP_THRESHOLD: '20EiB' }, 'OOMGUARD_HEAP_THRESHOLD', '20EiB', EXPECTED.threshold, '"EiB" is not a size unit'],
    [{ OOMGUARD_HEAP_WARN: '2g' }, 'OOMGUARD_HEAP_WARN', '2g', EXPECTED.threshold, 'write GiB (1024^n) or GB (1000^n)'],
    [{ OOMGUARD_RSS_THRESHOLD: '1,5GB' }, 'OOMGUARD_RSS_THRESHOLD', '1,5GB', EXPECTED.threshold, 'use . as the decimal separator'],
    [{ OOMGUARD_RSS_WARN: '80' }, 'OOMGUARD_RSS_WARN', '80', EXPECTED.threshold, 'did you mean 80%?'],
    [{ OOMGUARD_HEAP_THRESHOLD: '0.8' }, 'OOMGUARD_HEAP_THRESHOLD', '0.8', EXPECTED.threshold, 'did you mean 80%?'],
    [{ OOMGUARD_HEAP_WARN: '512' }, 'OOMGUARD_HEAP_WARN', '512', EXPECTED.threshold, '512 bytes is below 1MiB'],
    [{ OOMGUARD_POLL_INTERVAL: '1000' }, 'OOMGUARD_POLL_INTERVAL', '1000', EXPECTED.duration, 'a duration needs a unit (is 1000 seconds or milliseconds?)'],
    [{ OOMGUARD_POLL_INTERVAL: '5ms' }, 'OOMGUARD_POLL_INTERVAL', '5ms', 'a duration of at least 10ms, such as 250ms or 1s', '5ms is below the 10ms floor'],
    [{ OOMGUARD_POLL_INTERVAL: '0s' }, 'OOMGUARD_POLL_INTERVAL', '0s', 'a duration of at least 10ms, such as 250ms or 1s', '0ms is below the 10ms floor'],
    [{ OOMGUARD_POLL_INTERVAL: '1d' }, 'OOMGUARD_POLL_INTERVAL', '1d', EXPECTED.duration, '"d" is not a duration unit'],
    [{ OOMGUARD_SHUTDOWN_TIMEOUT: '30 days' }, 'OOMGUARD_SHUTDOWN_TIMEOUT', '30 days', EXPECTED.duration, '"days" is not a duration unit'],
    [{ OOMGUARD_SHUTDOWN_TIMEOUT: '600h' }, 'OOMGUARD_SHUTDOWN_TIMEOUT', '600h', EXPECTED.duration, "longer than Node's timer limit"],
    [{ OOMGUARD_SHUTDOWN_TIMEOUT: '-5s' }, 'OOMGUARD_SHUTDOWN_TIMEOUT', '-5s', EXPECTED.duration, 'a negative value makes no sense here'],
    [{ OOMGUARD_EXIT_CODE: '0' }, 'OOMGUARD_EXIT_CODE', '0', EXPECTED.exitCode, '0 reports success'],
    [{ OOMGUARD_EXIT_CODE: '126' }, 'OOMGUARD_EXIT_CODE', '126', EXPECTED.exitCode, 'shells reserve 126 and 127'],
    [{ OOMGUARD_EXIT_CODE: '137' }, 'OOMGUARD_EXIT_CODE', '137', EXPECTED.exitCode, 'death by signal N as 128+N'],
    [{ OOMGUARD_EXIT_CODE: '300' }, 'OOMGUARD_EXIT_CODE', '300', EXPECTED.exitCode, 'an exit code has 8 bits'],
    [{ OOMGUARD_EXIT_CODE: '2.0' }, 'OOMGUARD_EXIT_CODE', '2.0', EXPECTED.exitCode, 'this is not a whole, non-negative number'],
    [{ OOMGUARD_ACTION: 'kill' }, 'OOMGUARD_ACTION', 'kill', 'exit, signal, auto or observe', 'this is not an action'],
    [{ OOMGUARD_METRICS: 'otlp' }, 'OOMGUARD_METRICS', 'otlp', EXPECTED.metrics, 'this is not a metrics endpoint kind'],
  ])('%j is an error naming %s', (env, variable, value, expected, message) => {
    const issues = errors(env);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ variable, value, expected, severity: 'error' });
    expect(issues[0]!.message).toContain(message);
  });

  it.each<[NodeJS.ProcessEnv, string, string, string]>([
    [{ OOMGUARD_HEAP_THRESHOLD: '80%', OOMGUARD_HEAP_WARN: '80%' }, 'OOMGUARD_HEAP_WARN', '80%', 'OOMGUARD_HEAP_THRESHOLD=80%'],
    [{ OOMGUARD_HEAP_WARN: '85%' }, 'OOMGUARD_HEAP_WARN', '85%', 'OOMGUARD_HEAP_THRESHOLD=75%'],
    [{ OOMGUARD_HEAP_THRESHOLD: '1GiB', OOMGUARD_HEAP_WARN: '2GiB' }, 'OOMGUARD_HEAP_WARN', '2GiB', 'OOMGUARD_HEAP_THRESHOLD=1GiB'],
    [{ OOMGUARD_RSS_THRESHOLD: '1GB', OOMGUARD_RSS_WARN: '1000MB' }, 'OOMGUARD_RSS_WARN', '1000MB', 'OOMGUARD_RSS_THRESHOLD=1GB'],
    [{ OOMGUARD_RSS_WARN: '95%' }, 'OOMGUARD_RSS_WARN', '95%', 'OOMGUARD_RSS_THRESHOLD=90%'],
  ])('a warn level at or above its threshold of the same kind is an error: %j', (env, variable, value, names) => {
    const issues = errors(env);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ variable, value, expected: 'a warn level below the shutdown threshold, or off' });
    expect(issues[0]!.message).toBe(`the warn level is at or above ${names}, so it could never warn before the shutdown`);
  });

  it('reports every error at once, not just the first', () => {
    const issues = errors({ OOMGUARD_HEAP_THRESHOLD: 'lots', OOMGUARD_POLL_INTERVAL: '1000', OOMGUARD_EXIT_CODE: '0', OOMGUARD_ACTION: 'nuke' });
    expect(issues.map((issue) => issue.variable)).toEqual([
      'OOMGUARD_HEAP_THRESHOLD',
      'OOMGUARD_POLL_INTERVAL',
      'OOMGUARD_EXIT_CODE',
      'OOMGUARD_ACTION',
    ]);
  });

  it('tells strict mode to the caller even when the config is invalid, so register.ts can exit 78', () => {
    expect(loadConfig({ OOMGUARD_STRICT: 'true', OOMGUARD_EXIT_CODE: '0' })).toMatchObject({ ok: false, strict: true });
    expect(loadConfig({ OOMGUARD_EXIT_CODE: '0' })).toMatchObject({ ok: false, strict: false });
    // A strict flag that does not parse is an error itself and does not count as strict.
    expect(loadConfig({ OOMGUARD_STRICT: 'ture' })).toMatchObject({ ok: false, strict: false });
  });
});

describe('warnings that leave the config valid', () => {
  it.each<[NodeJS.ProcessEnv, string, string, string]>([
    [{ OOMGUARD_HEAP_TRESHOLD: '80%' }, 'OOMGUARD_HEAP_TRESHOLD', 'oomguard does not read this variable; did you mean OOMGUARD_HEAP_THRESHOLD?', 'OOMGUARD_HEAP_THRESHOLD'],
    [{ OOMGUARD_POLL_INTERVALL: '1s' }, 'OOMGUARD_POLL_INTERVALL', 'oomguard does not read this variable; did you mean OOMGUARD_POLL_INTERVAL?', 'OOMGUARD_POLL_INTERVAL'],
    [{ OOMGUARD_ENABLE: 'false' }, 'OOMGUARD_ENABLE', 'oomguard does not read this variable; did you mean OOMGUARD_ENABLED?', 'OOMGUARD_ENABLED'],
    [{ OOMGUARD_RSS_WRAN: '70%' }, 'OOMGUARD_RSS_WRAN', 'oomguard does not read this variable; did you mean OOMGUARD_RSS_WARN?', 'OOMGUARD_RSS_WARN'],
    [{ oomguard_exit_code: '3' }, 'oomguard_exit_code', 'oomguard does not read this variable; did you mean OOMGUARD_EXIT_CODE?', 'OOMGUARD_EXIT_CODE'],
    [{ OOMGUARD_FROBNICATE: '1' }, 'OOMGUARD_FROBNICATE', 'oomguard does not read this variable', `one of ${KNOWN_OOMGUARD_VARIABLES.join(', ')}`],
  ])('an unknown variable %j gets a warning, with the closest name when there is one, and never its value', (env, variable, message, expected) => {
    const result = loadConfig(env);
    expect(result).toMatchObject({ ok: true, config: DEFAULTS });
    expect(result.warnings).toEqual([{ variable, value: '', expected, message, severity: 'warning', redacted: true }]);
    expect(formatIssue(result.warnings[0]!)).toMatch(new RegExp(`^oomguard: warning: ${variable}=<redacted>: `));
  });

  it('never shows the value of an unknown variable, which may be a credential', () => {
    const line = formatIssue(loadConfig({ OOMGUARD_API_TOKEN: 'sk-live-123456' }).warnings[0]!);
    expect(line).toContain('OOMGUARD_API_TOKEN');
    expect(line).not.toContain('sk-live');
  });

  it('leaves variables of other tools alone', () => {
    expect(warnings({ NODE_OPTIONS: '--require oomguard/register', OOMGUARDIAN: 'x', OTEL_LOG_LEVEL: 'debug' })).toEqual([]);
  });

  it('warns that a heap threshold above 80% may lose the race with V8', () => {
    const result = loadConfig({ OOMGUARD_HEAP_THRESHOLD: '90%' });
    expect(result).toMatchObject({ ok: true, config: { heapThreshold: { kind: 'percent', percent: 90 } } });
    expect(result.warnings).toMatchObject([
      { variable: 'OOMGUARD_HEAP_THRESHOLD', value: '90%', expected: 'a heap threshold of at most 80%', severity: 'warning' },
    ]);
    expect(result.warnings[0]!.message).toContain('V8 aborts with "ineffective mark-compacts" from 80%');
    expect(warnings({ OOMGUARD_HEAP_THRESHOLD: '80%' })).toEqual([]);
  });
});

describe('OOMGUARD_ENABLED=false', () => {
  it('reads nothing else and reports nothing, so the preload stays silent', () => {
    const result = loadConfig({ OOMGUARD_ENABLED: 'false', OOMGUARD_HEAP_THRESHOLD: 'garbage', OOMGUARD_TYPO: '1' });
    expect(result).toMatchObject({ ok: true, warnings: [], config: { ...DEFAULTS, enabled: false } });
  });

  it('is overridden by options.enabled', () => {
    expect(config({ OOMGUARD_ENABLED: 'false' }, { enabled: true }).enabled).toBe(true);
  });
});

describe('formatIssue', () => {
  it.each<[ConfigIssue, string]>([
    [
      { variable: 'OOMGUARD_POLL_INTERVAL', value: '1000', expected: EXPECTED.duration, message: 'a duration needs a unit (is 1000 seconds or milliseconds?)', severity: 'error' },
      'oomguard: OOMGUARD_POLL_INTERVAL="1000": a duration needs a unit (is 1000 seconds or milliseconds?); expected a duration with a unit: 250ms, 1s, 1.5s, 2m or 1h',
    ],
    [
      { variable: 'OOMGUARD_HEAP_TRESHOLD', value: '80%', expected: 'OOMGUARD_HEAP_THRESHOLD', message: 'oomguard does not read this variable; did you mean OOMGUARD_HEAP_THRESHOLD?', severity: 'warning' },
      'oomguard: warning: OOMGUARD_HEAP_TRESHOLD="80%": oomguard does not read this variable; did you mean OOMGUARD_HEAP_THRESHOLD?',
    ],
    [
      { variable: 'OOMGUARD_ACTION', value: 'exit\nrm -rf /', expected: 'exit, signal, auto or observe', message: 'this is not an action', severity: 'error' },
      'oomguard: OOMGUARD_ACTION="exit\\nrm -rf /": this is not an action; expected exit, signal, auto or observe',
    ],
    [
      { variable: 'OOMGUARD_ACTION', value: 'x'.repeat(100), expected: 'exit, signal, auto or observe', message: 'this is not an action', severity: 'error' },
      `oomguard: OOMGUARD_ACTION="${'x'.repeat(80)}...": this is not an action; expected exit, signal, auto or observe`,
    ],
  ])('writes one line naming the variable, the quoted value and the expected form (%#)', (issue, line) => {
    expect(formatIssue(issue)).toBe(line);
    expect(formatIssue(issue)).not.toContain('\n');
  });

  it('words every error of a bad environment in one line each', () => {
    for (const issue of errors({ OOMGUARD_HEAP_THRESHOLD: '512m', OOMGUARD_EXIT_CODE: '137', OOMGUARD_POLL_INTERVAL: '5ms' })) {
      const line = formatIssue(issue);
      expect(line).toMatch(new RegExp(`^oomguard: ${issue.variable}="${issue.value}": .+; expected ${issue.expected.replace(/[()^$.*+?[\]{}|\\]/g, '\\$&')}$`));
    }
  });
});
