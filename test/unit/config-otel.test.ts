/** OpenTelemetry variables: a bad one turns that piece of telemetry off, and the guard still guards. */
import { describe, expect, it } from 'vitest';
import { DEFAULTS, formatIssue, loadConfig } from '../../src/config';
import { EXPECTED } from '../../src/units';
import type { Config, OtlpProtocol } from '../../src/types';
import { config, errors } from '../helpers/config';

describe('OpenTelemetry variables', () => {
  // Bad OTEL_* values switch only that telemetry off: warnings, and the guard still guards.
  it.each<[NodeJS.ProcessEnv, string, string, string, Partial<Config>]>([
    [{ OOMGUARD_METRICS_PORT: '99999' }, 'OOMGUARD_METRICS_PORT', 'TCP ports end at 65535; the Prometheus endpoint stays off', 'a port from 0 to 65535 (0: an ephemeral port)', { metrics: { enabled: false, mode: 'none', host: undefined, port: 9465, requested: true } }],
    [{ OOMGUARD_METRICS_PORT: '-1' }, 'OOMGUARD_METRICS_PORT', 'this is not a whole, non-negative number', 'a port from 0 to 65535 (0: an ephemeral port)', { metrics: { enabled: false, mode: 'none', host: undefined, port: 9465, requested: true } }],
    [{ OOMGUARD_METRICS_PORT: '94a64' }, 'OOMGUARD_METRICS_PORT', 'this is not a whole, non-negative number', 'a port from 0 to 65535 (0: an ephemeral port)', { metrics: { enabled: false, mode: 'none', host: undefined, port: 9465, requested: true } }],
    [{ OOMGUARD_METRICS_HOST: 'http://0.0.0.0' }, 'OOMGUARD_METRICS_HOST', 'a host has no scheme or path', 'a host name or IP address, without scheme, port or path', { metrics: { enabled: false, mode: 'none', host: undefined, port: 9465, requested: true } }],
    [{ OOMGUARD_METRICS_HOST: 'localhost:9464' }, 'OOMGUARD_METRICS_HOST', 'this looks like host:port; set the port in OOMGUARD_METRICS_PORT', 'a host name or IP address, without scheme, port or path', { metrics: { enabled: false, mode: 'none', host: undefined, port: 9465, requested: true } }],
    [{ OOMGUARD_LOG_LEVEL: 'loud' }, 'OOMGUARD_LOG_LEVEL', 'this is not a log level; the default level stays', EXPECTED.logLevel, { logLevel: 'error' }],
    [{ OTEL_LOG_LEVEL: 'chatty' }, 'OTEL_LOG_LEVEL', 'this is not a log level; the default level stays', EXPECTED.logLevel, { logLevel: 'error' }],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT', 'this is not an http(s) URL; OTLP ignores it', 'an http:// or https:// URL, such as http://collector:4318', { otlp: false }],
    [{ OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'grpc://c:4317' }, 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', 'this is not an http(s) URL', 'an http:// or https:// URL, such as http://collector:4318', { otlp: false }],
    [{ OTEL_SDK_DISABLED: 'yes' }, 'OTEL_SDK_DISABLED', 'only "true" disables the SDK, so telemetry stays on', 'true or false', { sdkDisabled: false }],
  ])('%j is a warning naming %s and the guard still runs', (env, variable, message, expected, resolved) => {
    const result = loadConfig(env);
    expect(result.ok).toBe(true);
    expect(result.warnings).toHaveLength(1);
    const redacted = variable.startsWith('OTEL_EXPORTER_OTLP_');
    expect(result.warnings[0]).toMatchObject({ variable, value: redacted ? '' : Object.values(env)[0], expected, severity: 'warning' });
    expect(result.warnings[0]!.message).toContain(message);
    expect(config(env)).toMatchObject({ enabled: true, ...resolved });
  });

  it('keeps OTLP on when one endpoint is valid and another is not', () => {
    const result = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'nope' });
    expect(result).toMatchObject({ ok: true, config: { otlp: true } });
    expect(result.warnings.map((w) => w.variable)).toEqual(['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
  });

  it('makes a bad OTEL_* value an error under OOMGUARD_STRICT', () => {
    const issues = errors({ OOMGUARD_STRICT: 'true', OOMGUARD_METRICS_PORT: '99999' });
    expect(issues).toMatchObject([{ variable: 'OOMGUARD_METRICS_PORT', value: '99999', severity: 'error' }]);
  });

  it.each([
    ['an endpoint with credentials that is not a URL', { OTEL_EXPORTER_OTLP_ENDPOINT: 'svc:s3cr3t-pw@collector:4317' }, 'OTEL_EXPORTER_OTLP_ENDPOINT'],
    ['headers written as an HTTP header line', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_HEADERS: 'Authorization: Bearer s3cr3t-tok' }, 'OTEL_EXPORTER_OTLP_HEADERS'],
    ['per-signal headers without a key', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'api-key=ok,=s3cr3t' }, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS'],
  ])('%s: a warning naming the variable and the expected form, never the value', (_what, env: NodeJS.ProcessEnv, variable) => {
    const result = loadConfig(env);
    expect(result.ok).toBe(true);
    expect(result.warnings).toMatchObject([{ variable, value: '', redacted: true, severity: 'warning' }]);
    const line = formatIssue(result.warnings[0]!);
    expect(line).toContain(`${variable}=<redacted>`);
    expect(line).not.toMatch(/s3cr3t/);
  });

  it('reads headers only when OTLP is on (the app\'s exporters own them otherwise)', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: 'Authorization: Bearer x' }).warnings).toEqual([]);
  });
});

describe('OTLP metrics export cadence', () => {
  it('takes OTEL_METRIC_EXPORT_INTERVAL and caps the timeout at it (the SDK reader refuses a longer timeout)', () => {
    const r = loadConfig({ OTEL_METRIC_EXPORT_INTERVAL: '300' });
    expect(r.ok && r.config.otlpExport).toEqual({ intervalMs: 300, timeoutMs: 300 });
  });
  it('keeps the defaults with a warning naming the variable for a value that is not a positive integer', () => {
    const r = loadConfig({ OTEL_METRIC_EXPORT_TIMEOUT: '5s' });
    expect(r.ok && r.config.otlpExport).toEqual({ intervalMs: 60_000, timeoutMs: 30_000 });
    expect(r.warnings.map((w) => w.variable)).toEqual(['OTEL_METRIC_EXPORT_TIMEOUT']);
  });
});

describe('exporters and protocols, as the OpenTelemetry SDK reads them', () => {
  const sig = (otlp: boolean, protocol: OtlpProtocol = 'http/protobuf', consoleOn = false) => ({ otlp, console: consoleOn, protocol });
  it.each<[string, NodeJS.ProcessEnv, Record<string, unknown>]>([
    ['nothing set: the endpoint, no push', {}, { metrics: { enabled: true, mode: 'prometheus', host: undefined, port: 9465 }, export: { traces: sig(false), metrics: sig(false), logs: sig(false) } }],
    ['an endpoint: every signal over OTLP, http/protobuf', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, { export: { traces: sig(true), metrics: sig(true), logs: sig(true) } }],
    ['OTEL_METRICS_EXPORTER=none: no endpoint and no metrics push', { OTEL_METRICS_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, { metrics: { enabled: false, mode: 'none', host: undefined, port: 9465 }, export: { traces: sig(true), metrics: sig(false), logs: sig(true) } }],
    ['OTEL_TRACES_EXPORTER=none next to an endpoint', { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, { export: { traces: sig(false), metrics: sig(true), logs: sig(true) } }],
    ['OTEL_METRICS_EXPORTER=otlp without an endpoint: the exporter default, no port', { OTEL_METRICS_EXPORTER: ' OTLP ' }, { metrics: { enabled: false, mode: 'none', host: undefined, port: 9465 }, export: { traces: sig(false), metrics: sig(true), logs: sig(false) } }],
    ['a list with console', { OTEL_LOGS_EXPORTER: 'otlp, console', OTEL_METRICS_EXPORTER: 'prometheus,console' }, { metrics: { enabled: true, mode: 'prometheus', host: undefined, port: 9465 }, export: { traces: sig(false), metrics: sig(false, 'http/protobuf', true), logs: sig(true, 'http/protobuf', true) } }],
    ['OOMGUARD_METRICS, when set, decides the endpoint alone', { OOMGUARD_METRICS: 'prometheus', OTEL_METRICS_EXPORTER: 'none' }, { metrics: { enabled: true, mode: 'prometheus', host: undefined, port: 9465 } }],
    ['a per-signal protocol over the general one', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/json' }, { export: { traces: sig(true, 'grpc'), metrics: sig(true, 'grpc'), logs: sig(true, 'http/json') } }],
    ['OTEL_SDK_DISABLED=true over all of it', { OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'console' }, { export: { traces: sig(false), metrics: sig(false), logs: sig(false) } }],
  ])('%s', (_what, env, resolved) => {
    const result = loadConfig(env);
    expect(result).toMatchObject({ ok: true, warnings: [] });
    expect(config(env)).toMatchObject(resolved);
  });

  it('keeps OTLP off with start({ otlp: false }), whatever the exporter variables say', () => {
    const result = loadConfig({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, { otlp: false });
    expect(result.ok && result.config.export.traces.otlp).toBe(false);
  });

  it.each([
    ['OTEL_TRACES_EXPORTER', 'zipkin', '"zipkin" is not a trace exporter the agent has'],
    ['OTEL_METRICS_EXPORTER', 'none,otlp', 'none cannot be combined'],
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'grpc/protobuf', 'this is not an OTLP protocol'],
    ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'thrift', 'this is not an OTLP protocol'],
  ])('%s=%s is a warning naming it, and the default stays', (variable, value, message) => {
    const result = loadConfig({ [variable]: value });
    expect(result.ok).toBe(true);
    expect(result.warnings).toMatchObject([{ variable, value, severity: 'warning' }]);
    expect(result.warnings[0]!.message).toContain(message);
    expect(config({ [variable]: value })).toMatchObject({ export: DEFAULTS.export, metrics: DEFAULTS.metrics });
  });

  it('reads OOMGUARD_INSTRUMENTATIONS, and refuses a name it does not know', () => {
    expect(config({ OOMGUARD_INSTRUMENTATIONS: 'none' }).instrumentations).toEqual([]);
    expect(config({ OOMGUARD_INSTRUMENTATIONS: 'Host' }).instrumentations).toEqual(['host']);
    expect(errors({ OOMGUARD_INSTRUMENTATIONS: 'runtime,gc' })).toMatchObject([{ variable: 'OOMGUARD_INSTRUMENTATIONS', value: 'runtime,gc' }]);
  });
});
