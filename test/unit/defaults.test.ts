import { describe, expect, it } from 'vitest';
import { DEFAULTS, hasSettings } from '../../src/defaults';
import { loadConfig } from '../../src/config';
import { OPTIONS } from '../../src/options';

/**
 * The preload skips the parsers where `hasSettings(process.env)` is false and takes DEFAULTS as
 * they are; that is only right while every setting is an OOMGUARD_* or OTEL_* variable.
 */
describe('hasSettings: when the preload may skip loadConfig', () => {
  it('every variable of the option table is one it looks for', () => {
    const variables = OPTIONS.flatMap((spec) => [spec.variable, ...(spec.alsoVariables ?? [])]);
    expect(variables.length).toBeGreaterThan(10);
    for (const variable of variables) expect(hasSettings({ [variable]: 'x' }), variable).toBe(true);
  });

  it('also the variables config.ts reads outside the table, and a misspelt OOMGUARD_ one (it gets a warning)', () => {
    for (const variable of ['OTEL_METRIC_EXPORT_INTERVAL', 'OTEL_METRIC_EXPORT_TIMEOUT', 'OOMGUARD_HEAP_TRESHOLD', 'OTEL_SERVICE_NAME']) {
      expect(hasSettings({ [variable]: '1' }), variable).toBe(true);
    }
  });

  it('an environment without them resolves to DEFAULTS with no warning, as the preload assumes', () => {
    const env = { PATH: '/usr/bin', HOME: '/root', NODE_OPTIONS: '--require oomguard/register', OOMGUARD_PARENT_PID: '42', OOMGUARDIAN: 'x', OTELX: 'y' };
    expect(hasSettings(env)).toBe(false);
    const result = loadConfig(env);
    expect(result.ok && result.warnings).toEqual([]);
    expect(result.ok && result.config).toEqual(DEFAULTS);
  });
});

describe('OOMGUARD_TELEMETRY_DELAY', () => {
  it('defaults to 5 s and takes a duration', () => {
    expect(DEFAULTS.telemetryDelayMs).toBe(5000);
    const result = loadConfig({ OOMGUARD_TELEMETRY_DELAY: '0s' });
    expect(result.ok && result.config.telemetryDelayMs).toBe(0);
    const option = loadConfig({}, { telemetryDelay: 250 });
    expect(option.ok && option.config.telemetryDelayMs).toBe(250);
  });

  it('a value without a unit is refused, naming the variable, and the guard stays off', () => {
    const result = loadConfig({ OOMGUARD_TELEMETRY_DELAY: '5' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues[0]).toMatchObject({ variable: 'OOMGUARD_TELEMETRY_DELAY', value: '5' });
  });
});
