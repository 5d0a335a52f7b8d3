import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startOtlpGrpcReceiver, startOtlpReceiver, type OtlpReceiver, type Protocol } from '../helpers/otlp-receiver';
import { baseEnv, run, type Child } from '../fixtures/telemetry/child';

let rx: OtlpReceiver;
const children: Child[] = [];
beforeEach(async () => {
  rx = await startOtlpReceiver();
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  await rx.close();
});

describe.each<[Protocol, string, Record<string, string>]>([
  ['http/protobuf', 'the specification\'s default, nothing set', {}],
  ['grpc', 'OTEL_EXPORTER_OTLP_PROTOCOL=grpc', { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }],
  ['http/json', 'OTEL_EXPORTER_OTLP_PROTOCOL=http/json', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }],
])('OTLP push from a guarded child over %s (%s)', (protocol, _how, protocolEnv) => {
  let receiver: OtlpReceiver;
  beforeEach(async () => {
    receiver = protocol === 'grpc' ? await startOtlpGrpcReceiver() : rx;
  });
  afterEach(async () => {
    if (receiver !== rx) await receiver.close();
  });

  it('span, correlated log record and a final metrics export all arrive before a leaking child exits with code 2', async () => {
    const rx = receiver;
    const child = run(
      'leak.js',
      baseEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
        ...protocolEnv,
        OOMGUARD_METRICS: 'none',
        // No periodic export within the test's time: any metrics that arrive are the final push.
        OTEL_METRIC_EXPORT_INTERVAL: '600000',
        OTEL_SERVICE_NAME: 'leaky',
      }),
      { flags: ['--max-old-space-size=128'], timeout: 60_000 },
    );
    children.push(child);
    const { code, signal, at: exitedAt } = await child.exited;
    expect([code, signal], child.stderr()).toEqual([2, null]);

    const span = rx.spans.find((s) => s.name === 'oomguard.shutdown');
    expect(span, `spans: ${JSON.stringify(rx.spans)}\nstderr:\n${child.stderr()}`).toBeDefined();
    expect(span!.scope).toBe('oomguard');
    expect(span!.service).toBe('leaky');
    expect(span!.attributes).toMatchObject({ 'oomguard.signal': 'heap', 'oomguard.level': 'shutdown' });
    for (const key of ['oomguard.heap.in_use', 'oomguard.heap.limit', 'oomguard.threshold', 'oomguard.value', 'oomguard.threshold.heap.shutdown']) {
      expect(typeof span!.attributes[key], key).toBe('number');
    }

    const log = rx.logs.find((l) => l.eventName === 'oomguard.shutdown');
    expect(log, JSON.stringify(rx.logs)).toBeDefined();
    expect([log!.severityNumber, log!.severityText]).toEqual([17, 'ERROR']);
    expect(log!.traceId).toBe(span!.traceId);
    expect(log!.spanId).toBe(span!.spanId);
    expect(log!.attributes['oomguard.heap.in_use']).toBe(span!.attributes['oomguard.heap.in_use']);

    const finals = rx.metrics.filter((m) => m.scope === 'oomguard');
    expect(finals.map((m) => m.name)).toEqual(expect.arrayContaining(['oomguard.heap.in_use', 'oomguard.state', 'oomguard.threshold']));
    const state = finals.find((m) => m.name === 'oomguard.state')!.raw as { gauge: { dataPoints: { asInt?: number; asDouble?: number }[] } };
    // The final export reports the guard shutting down.
    expect(Number(state.gauge.dataPoints[0]!.asInt ?? state.gauge.dataPoints[0]!.asDouble)).toBe(2);
    // One reading, two uses: the final export reports the very reading the guard acted on.
    const inUse = finals.find((m) => m.name === 'oomguard.heap.in_use')!.raw as { gauge: { dataPoints: { asInt?: number; asDouble?: number }[] } };
    expect(Number(inUse.gauge.dataPoints[0]!.asInt ?? inUse.gauge.dataPoints[0]!.asDouble)).toBe(span!.attributes['oomguard.heap.in_use']);
    expect(rx.rejected).toEqual([]);
    // Over the protocol asked for, each signal.
    expect(new Set([span!.protocol, log!.protocol, ...finals.map((m) => m.protocol)])).toEqual(new Set([protocol]));

    // All of it was acknowledged while the child was still alive.
    for (const at of [span!.at, log!.at, ...finals.map((m) => m.at)]) expect(at).toBeLessThanOrEqual(exitedAt);
  });
});

describe('OTLP push settings', () => {
  const exporters = (kind: string) => ['trace', 'metrics', 'logs'].map((signal) => `@opentelemetry/exporter-${signal}-otlp-${kind}`);
  it.each([
    // The metrics exporters of every protocol build on the JSON one's base class, so it comes along.
    ['http/protobuf', {}, [...exporters('proto'), '@opentelemetry/exporter-metrics-otlp-http']],
    ['grpc', { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, ['@grpc/grpc-js', ...exporters('grpc'), '@opentelemetry/exporter-metrics-otlp-http']],
  ])('loads the OTLP exporters of %s and no other', async (_protocol, extra: Record<string, string>, wanted) => {
    const child = run('idle.js', baseEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OOMGUARD_METRICS: 'none', ...extra }));
    children.push(child);
    await child.waitFor('stderr', /app ready/);
    const otlpPackages = ['@grpc/grpc-js', ...exporters('proto'), ...exporters('http'), ...exporters('grpc')];
    let loaded: string[] = [];
    // Telemetry comes up right after start-up; ask until the wanted exporters are there (bounded).
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && !wanted.every((w) => loaded.includes(w)); ) {
      await new Promise((r) => setTimeout(r, 200));
      const before = child.stdout().length;
      child.proc.stdin!.write('packages\n');
      while (!child.stdout().slice(before).includes('\n')) await new Promise((r) => setTimeout(r, 20));
      const line = child.stdout().slice(before).split('\n')[0]!;
      loaded = (JSON.parse(line) as { packages: string[] }).packages.filter((p) => otlpPackages.includes(p));
    }
    expect(loaded.sort()).toEqual([...wanted].sort());
    child.proc.stdin!.end();
    expect((await child.exited).code).toBe(0);
  });

  it('the shutdown span lasts from the decision to the flush (the drain), with one event per hook and its outcome', async () => {
    const child = run('drain.js', baseEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OOMGUARD_METRICS: 'none', DRAIN_MS: '400' }), {
      flags: ['--max-old-space-size=128'],
      timeout: 60_000,
    });
    children.push(child);
    const { code, signal } = await child.exited;
    expect([code, signal], child.stderr()).toEqual([2, null]);
    const span = rx.spans.find((s) => s.name === 'oomguard.shutdown');
    expect(span, child.stderr()).toBeDefined();
    const ms = Number((BigInt(span!.end) - BigInt(span!.start)) / 1_000_000n);
    expect(ms).toBeGreaterThanOrEqual(400);
    expect(ms).toBeLessThan(10_000);
    const hooks = Object.fromEntries(span!.events.filter((e) => e.name === 'oomguard.hook').map((e) => [e.attributes['oomguard.hook.name'], e.attributes]));
    expect(hooks['drain-queue']).toMatchObject({ 'oomguard.hook.outcome': 'ok' });
    // A 400 ms timer: libuv's loop clock is in whole milliseconds, so it can come 399.x ms later.
    expect(Number(hooks['drain-queue']!['oomguard.hook.duration_ms'])).toBeGreaterThanOrEqual(399);
    expect(hooks['close-socket']).toMatchObject({ 'oomguard.hook.outcome': 'error' });
    expect(hooks['close-socket']!['error.message']).toMatch(/^Error: socket already closed/);
    expect(span!.attributes['oomguard.shutdown.hooks_failed']).toBe(1);
    expect(span!.status?.code).toBe(2); // ERROR
  });

  it('OTEL_TRACES_EXPORTER=none sends no span, OTEL_LOGS_EXPORTER=console prints the record on stdout, metrics still go over OTLP', async () => {
    const child = run(
      'leak.js',
      baseEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'console',
        OOMGUARD_METRICS: 'none',
        OTEL_METRIC_EXPORT_INTERVAL: '600000',
      }),
      { flags: ['--max-old-space-size=128'], timeout: 60_000 },
    );
    children.push(child);
    const { code, signal } = await child.exited;
    expect([code, signal], child.stderr()).toEqual([2, null]);
    expect(rx.spans).toEqual([]);
    expect(rx.logs).toEqual([]);
    expect(child.stdout()).toMatch(/eventName: 'oomguard\.shutdown'/);
    expect(rx.metrics.filter((m) => m.scope === 'oomguard').map((m) => m.name)).toContain('oomguard.state');
  });


  it('a collector that accepts but never answers does not hold the exit past OOMGUARD_SHUTDOWN_TIMEOUT', async () => {
    const { createServer } = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const blackhole = createServer((sock) => sockets.push(sock));
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
    const port = (blackhole.address() as { port: number }).port;
    try {
      const child = run(
        'leak.js',
        // The app keeps running (and leaking) while the flush waits; this test is about the deadline,
        // not about outrunning V8, so the guard acts far below V8's limit.
        baseEnv({
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
          OOMGUARD_METRICS: 'none',
          OOMGUARD_SHUTDOWN_TIMEOUT: '2s',
          OOMGUARD_HEAP_WARN: '30MiB',
          OOMGUARD_HEAP_THRESHOLD: '40MiB',
        }),
        { flags: ['--max-old-space-size=128'], timeout: 60_000 },
      );
      children.push(child);
      await child.waitFor('stderr', /"level":"shutdown"/, 50_000);
      const decidedAt = Date.now();
      const { code, signal, at } = await child.exited;
      expect([code, signal], child.stderr()).toEqual([2, null]);
      // The deadline is 2 s; allow scheduling slack on a busy two-core machine, not a full export timeout (10 s).
      expect(at - decidedAt).toBeLessThan(4000);
      expect(sockets.length).toBeGreaterThan(0); // it did try to push
    } finally {
      for (const sock of sockets) sock.destroy();
      blackhole.close();
    }
  });

  it.each([
    ['before the agent', '0'],
    ['after the agent', '1000'],
  ])("an app that starts its own @opentelemetry/sdk-node %s keeps getting its spans through", async (_when, delay) => {
    const child = run(
      'app-sdk.js',
      baseEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
        OOMGUARD_METRICS: 'none',
        // The agent pushes metrics every 300 ms, so both are on the wire at the same time.
        OTEL_METRIC_EXPORT_INTERVAL: '300',
        // One process, one set of OTEL_* variables, read by the app's SDK and the agent alike:
        // metrics over OTLP, no logs. The app's spans must not depend on the agent's SDK.
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_LOGS_EXPORTER: 'none',
        APP_SDK_DELAY_MS: delay,
        APP_SPANS: '15',
      }),
      { timeout: 30_000 },
    );
    children.push(child);
    const { code, signal } = await child.exited;
    expect([code, signal], child.stderr()).toEqual([0, null]);
    const appSpans = rx.spans.filter((s) => s.scope === 'fixture-app');
    expect(appSpans.map((s) => s.name)).toEqual(Array(15).fill('app.work'));
    expect(new Set(appSpans.map((s) => s.service))).toEqual(new Set(['app-with-own-sdk']));
    // ...while the agent was running and exporting next to it.
    const agentMetrics = rx.metrics.filter((m) => m.scope === 'oomguard');
    expect(agentMetrics.length, child.stderr()).toBeGreaterThan(0);
    // service.name as the SDK gives an app that names none: unknown_service:<argv0>.
    expect(new Set(agentMetrics.map((m) => m.service))).toEqual(new Set([`unknown_service:${process.execPath}`]));
    expect(rx.rejected).toEqual([]);
  });
});
