/** `start()` options: the same settings as the variables, checked and worded alike. */
import { describe, expect, it } from 'vitest';
import { DEFAULTS, OomguardConfigError, formatIssue, loadConfig, type StartOptions } from '../../src/config';
import { EXPECTED } from '../../src/units';
import type { Config } from '../../src/types';
import { GiB, MiB, config, errors } from '../helpers/config';

describe('options', () => {
  it('win over the environment, which wins over the defaults', () => {
    const env = { OOMGUARD_HEAP_THRESHOLD: '60%', OOMGUARD_POLL_INTERVAL: '2s', OOMGUARD_EXIT_CODE: '3' };
    expect(config(env, { heapThreshold: '1GiB', pollInterval: 250 })).toMatchObject({
      heapThreshold: { kind: 'bytes', bytes: GiB },
      heapWarn: { kind: 'bytes', bytes: 896 * MiB },
      pollIntervalMs: 250,
      exitCode: 3,
      shutdownTimeoutMs: 10_000,
    });
  });

  it.each<[StartOptions, Partial<Config>]>([
    [{ enabled: true, strict: 'on' }, { enabled: true, strict: true }],
    [{ heapThreshold: 512 * MiB }, { heapThreshold: { kind: 'bytes', bytes: 512 * MiB } }],
    [{ heapThreshold: false }, { heapThreshold: { kind: 'off' } }],
    [{ rssThreshold: '75%', rssWarn: false }, { rssThreshold: { kind: 'percent', percent: 75 }, rssWarn: { kind: 'off' } }],
    [{ pollInterval: '100ms', shutdownTimeout: 5000 }, { pollIntervalMs: 100, shutdownTimeoutMs: 5000 }],
    [{ exitCode: 3, action: 'signal' }, { exitCode: 3, action: 'signal' }],
    [{ metrics: false }, { metrics: { enabled: false, mode: 'none', host: undefined, port: 9465, requested: false } }],
    [{ metrics: 'none' }, { metrics: { enabled: false, mode: 'none', host: undefined, port: 9465, requested: false } }],
    [{ metrics: 'global' }, { metrics: { enabled: false, mode: 'global', host: undefined, port: 9465, requested: false } }],
    [{ metricsHost: 'localhost', metricsPort: 0 }, { metrics: { enabled: true, mode: 'prometheus', host: 'localhost', port: 0, requested: true } }],
    [{ logLevel: 'warn' }, { logLevel: 'warn' }],
    [{ otlp: true }, { otlp: true }],
    [{ sdkDisabled: true }, { sdkDisabled: true, otlp: false }],
  ])('accepts %j', (options, expected) => {
    expect(loadConfig({}, options)).toMatchObject({ ok: true, warnings: [] });
    expect(config({}, options)).toMatchObject(expected);
  });

  it('turns off OTLP from the environment with otlp: false', () => {
    expect(config({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, { otlp: false }).otlp).toBe(false);
  });

  it.each<[StartOptions, string, string, string, string]>([
    [{ heapThreshold: 100 }, 'options.heapThreshold', '100', EXPECTED.threshold, '100 bytes is below 1MiB'],
    [{ heapThreshold: Number.NaN }, 'options.heapThreshold', 'NaN', EXPECTED.threshold, 'NaN is not a finite number'],
    [{ heapThreshold: -GiB }, 'options.heapThreshold', String(-GiB), EXPECTED.threshold, 'a negative value makes no sense here'],
    [{ heapThreshold: true as unknown as false }, 'options.heapThreshold', 'true', EXPECTED.threshold, 'true is not a threshold'],
    [{ heapWarn: { percent: 70 } as unknown as string }, 'options.heapWarn', '{"percent":70}', EXPECTED.threshold, 'a object is not accepted here'],
    [{ pollInterval: 5 }, 'options.pollInterval', '5', 'a duration of at least 10ms, such as 250ms or 1s', '5ms is below the 10ms floor'],
    [{ pollInterval: Number.POSITIVE_INFINITY }, 'options.pollInterval', 'Infinity', EXPECTED.duration, 'Infinity is not a finite number'],
    [{ shutdownTimeout: '10' }, 'options.shutdownTimeout', '10', EXPECTED.duration, 'a duration needs a unit'],
    [{ exitCode: 2.5 }, 'options.exitCode', '2.5', EXPECTED.exitCode, 'this is not a whole, non-negative number'],
    [{ exitCode: 130 }, 'options.exitCode', '130', EXPECTED.exitCode, 'death by signal N as 128+N'],
    [{ action: 'restart' as 'exit' }, 'options.action', 'restart', 'exit, signal, auto or observe', 'this is not an action'],
    [{ enabled: 1 as unknown as boolean }, 'options.enabled', '1', EXPECTED.boolean, 'a number is not accepted here'],
  ])('refuses %j naming %s', (options, variable, value, expected, message) => {
    const issues = errors({}, options);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ variable, value, expected, severity: 'error' });
    expect(issues[0]!.message).toContain(message);
  });

  it('warns about an unknown option with the closest name', () => {
    const result = loadConfig({}, { heapTreshold: '1GiB' } as StartOptions);
    expect(result).toMatchObject({ ok: true, config: DEFAULTS });
    expect(result.warnings).toEqual([
      {
        variable: 'options.heapTreshold',
        value: '',
        expected: 'heapThreshold',
        message: 'oomguard has no such option; did you mean heapThreshold?',
        severity: 'warning',
        redacted: true,
      },
    ]);
  });

  it('ignores options explicitly set to undefined', () => {
    expect(config({ OOMGUARD_EXIT_CODE: '4' }, { exitCode: undefined }).exitCode).toBe(4);
  });
});

describe('OomguardConfigError', () => {
  it('has code OOMGUARD_INVALID_CONFIG, every issue of options and environment, and one line per issue', () => {
    const result = loadConfig({ OOMGUARD_EXIT_CODE: '0' }, { pollInterval: '1ms' });
    if (result.ok) throw new Error('expected errors');
    const error = new OomguardConfigError(result.issues);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('OOMGUARD_INVALID_CONFIG');
    expect(error.issues.map((issue) => issue.variable)).toEqual(['options.pollInterval', 'OOMGUARD_EXIT_CODE']);
    expect(error.message.split('\n')).toEqual(error.issues.map(formatIssue));
  });
});
