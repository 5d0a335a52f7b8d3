import { afterEach, describe, expect, it } from 'vitest';
import { metrics, trace } from '@opentelemetry/api';
import { AggregationTemporality, MetricReader, type GaugeMetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { InMemoryLogRecordExporter } from '@opentelemetry/sdk-logs';
import { DEFAULTS } from '../../src/config';
import { startTelemetry, type TelemetryHandle } from '../../src/telemetry';
import { buildResource, containerIdFrom } from '../../src/telemetry/resource';
import type { Config, PressureEvent, Reading, Snapshot } from '../../src/types';

/** A reader that exports nothing on its own: the test calls `collect()`. */
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

// The defaults, with the metrics endpoint off (tests add in-memory readers instead).
const config = (over: Partial<Config> = {}): Config => ({
  ...DEFAULTS,
  metrics: { enabled: false, mode: 'none', host: '127.0.0.1', port: 0, requested: true },
  ...over,
});

/** OTLP/JSON for every signal, as `OTEL_EXPORTER_OTLP_ENDPOINT` + `OTEL_EXPORTER_OTLP_PROTOCOL=http/json` give. */
const OTLP_JSON: Partial<Config> = {
  otlp: true,
  export: {
    traces: { otlp: true, console: false, protocol: 'http/json' },
    metrics: { otlp: true, console: false, protocol: 'http/json' },
    logs: { otlp: true, console: false, protocol: 'http/json' },
  },
};
/** The `/metrics` endpoint on loopback, at `port` (0: ephemeral), asked for explicitly. */
const endpoint = (port: number): Config['metrics'] => ({ enabled: true, mode: 'prometheus', host: '127.0.0.1', port, requested: true });

/** Every number distinct, so a value can only have come from its own field. */
const reading = (over: Partial<Reading> = {}): Reading => ({
  time: 1_700_000_000_123,
  heapInUse: 11_000_001,
  heapCommitted: 12_000_002,
  heapReleased: 13_003,
  heapLimit: 140_000_004,
  heapBudget: 130_000_005,
  oldGenInUse: 9_000_006,
  heapSignal: 8_000_007,
  heapNextGc: 15_000_008,
  rss: 60_000_009,
  memoryLimit: 500_000_010,
  memorySignal: 61_000_011,
  gc: { majorCount: 3, recentMajors: 1, recentGcShare: 0.02, recentWindowMs: 10_000, livePoints: [], ineffectiveMajors: 0 },
  ...over,
});

const snapshot = (r: Reading): Snapshot => ({
  reading: r,
  thresholds: { heap: { warn: 91_000_000, shutdown: 104_000_000 }, rss: { warn: 400_000_000, shutdown: 450_000_000 } },
  state: 'warn',
  pressure: 0.0769,
});

type Point = { value: number; attributes: Record<string, unknown> };
function gauges(rm: ResourceMetrics): Map<string, { unit: string; points: Point[] }> {
  const out = new Map<string, { unit: string; points: Point[] }>();
  for (const sm of rm.scopeMetrics) {
    if (sm.scope.name !== 'oomguard') continue;
    for (const m of sm.metrics as GaugeMetricData[]) {
      out.set(m.descriptor.name, {
        unit: m.descriptor.unit,
        points: m.dataPoints.map((p) => ({ value: p.value, attributes: { ...p.attributes } })),
      });
    }
  }
  return out;
}

const handles: TelemetryHandle[] = [];
async function start(snap: () => Snapshot | undefined, over: Partial<Config> = {}, opts = {}) {
  const reader = new TestReader();
  const lines: string[] = [];
  let calls = 0;
  const handle = await startTelemetry(
    config(over),
    {
      latest: () => {
        calls++;
        return snap();
      },
    },
    (l) => lines.push(l),
    { metricReaders: [reader], instrumentations: false, ...opts },
  );
  handles.push(handle);
  return { reader, handle, lines, calls: () => calls };
}

afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.shutdown()));
});

describe('oomguard gauges', () => {
  it('report exactly the fields of the reading object latest() returned, with names and units', async () => {
    const r = reading();
    const { reader, calls } = await start(() => snapshot(r));
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    const g = gauges(resourceMetrics);
    const one = (name: string) => {
      const m = g.get(name);
      expect(m, name).toBeDefined();
      expect(m!.points).toHaveLength(1);
      return m!;
    };
    const table: [string, number, string][] = [
      ['oomguard.heap.in_use', r.heapInUse, 'By'],
      ['oomguard.heap.committed', r.heapCommitted, 'By'],
      ['oomguard.heap.released', r.heapReleased, 'By'],
      ['oomguard.heap.next_gc', r.heapNextGc!, 'By'],
      ['oomguard.heap.limit', r.heapLimit, 'By'],
      ['oomguard.heap.budget', r.heapBudget, 'By'],
      ['oomguard.heap.signal', r.heapSignal, 'By'],
      ['oomguard.memory.rss', r.rss!, 'By'],
      ['oomguard.memory.signal', r.memorySignal!, 'By'],
      ['oomguard.memory.limit', r.memoryLimit!, 'By'],
      ['oomguard.pressure', 0.0769, '1'],
      ['oomguard.state', 1, '1'],
    ];
    for (const [name, value, unit] of table) {
      const m = one(name);
      expect([name, m.unit, m.points[0]!.value]).toEqual([name, unit, value]);
    }
    const thresholds = g.get('oomguard.threshold')!;
    expect(thresholds.unit).toBe('By');
    expect(thresholds.points).toEqual(
      expect.arrayContaining([
        { value: 91_000_000, attributes: { 'oomguard.signal': 'heap', 'oomguard.level': 'warn' } },
        { value: 104_000_000, attributes: { 'oomguard.signal': 'heap', 'oomguard.level': 'shutdown' } },
        { value: 400_000_000, attributes: { 'oomguard.signal': 'rss', 'oomguard.level': 'warn' } },
        { value: 450_000_000, attributes: { 'oomguard.signal': 'rss', 'oomguard.level': 'shutdown' } },
      ]),
    );
    expect(thresholds.points).toHaveLength(4);
    // One collect, one reading: every gauge came from a single latest() call.
    expect(calls()).toBe(1);
  });

  it('observe the same reading object on every collect until the policy decides on a new one', async () => {
    let current = snapshot(reading());
    const { reader, calls } = await start(() => current);
    const first = gauges((await reader.collect()).resourceMetrics);
    const second = gauges((await reader.collect()).resourceMetrics);
    expect(second.get('oomguard.heap.in_use')!.points[0]!.value).toBe(first.get('oomguard.heap.in_use')!.points[0]!.value);
    current = snapshot(reading({ heapInUse: 22_222_222, time: 1_700_000_001_123 }));
    const third = gauges((await reader.collect()).resourceMetrics);
    expect(third.get('oomguard.heap.in_use')!.points[0]!.value).toBe(22_222_222);
    expect(calls()).toBe(3);
  });

  it('leave out oomguard.memory.limit, rss and next_gc when the reading has none, and off thresholds', async () => {
    const r = reading({ memoryLimit: undefined, rss: undefined, heapNextGc: undefined });
    const snap: Snapshot = { ...snapshot(r), thresholds: { heap: { warn: 5, shutdown: 6 }, rss: {} }, state: 'ok' };
    const { reader } = await start(() => snap);
    const g = gauges((await reader.collect()).resourceMetrics);
    expect(g.get('oomguard.memory.limit')?.points ?? []).toEqual([]);
    expect(g.get('oomguard.memory.rss')?.points ?? []).toEqual([]);
    expect(g.get('oomguard.heap.next_gc')?.points ?? []).toEqual([]);
    expect(g.get('oomguard.threshold')!.points.map((p) => p.attributes['oomguard.signal'])).toEqual(['heap', 'heap']);
    expect(g.get('oomguard.state')!.points[0]!.value).toBe(0);
  });

  it('report nothing (and do not fail the collect) before the first reading or when the source throws', async () => {
    for (const snap of [() => undefined, () => { throw new Error('boom'); }]) {
      const { reader } = await start(snap as () => Snapshot | undefined);
      const { resourceMetrics, errors } = await reader.collect();
      expect(errors).toEqual([]);
      const g = gauges(resourceMetrics);
      expect(g.get('oomguard.heap.in_use')?.points ?? []).toEqual([]);
    }
  });

  it('count shutdowns observed in shadow mode as a monotonic counter, from 0, and only in shadow mode', async () => {
    let snap: Snapshot = { ...snapshot(reading()), observedShutdowns: 0 };
    const { reader } = await start(() => snap);
    const counter = async () => {
      const { resourceMetrics } = await reader.collect();
      const m = resourceMetrics.scopeMetrics.flatMap((sm) => sm.metrics).find((x) => x.descriptor.name === 'oomguard.shutdowns.observed');
      return m && { unit: m.descriptor.unit, monotonic: (m as { isMonotonic?: boolean }).isMonotonic, values: m.dataPoints.map((p) => p.value) };
    };
    expect(await counter()).toEqual({ unit: '{shutdown}', monotonic: true, values: [0] });
    snap = { ...snap, observedShutdowns: 1 };
    expect((await counter())?.values).toEqual([1]);

    const acting = await start(() => snapshot(reading()));
    const { resourceMetrics } = await acting.reader.collect();
    const points = resourceMetrics.scopeMetrics.flatMap((sm) => sm.metrics).filter((x) => x.descriptor.name === 'oomguard.shutdowns.observed').flatMap((m) => m.dataPoints.map((p) => p.value));
    expect(points).toEqual([]);
  });

  it('register no global provider', async () => {
    const before = metrics.getMeterProvider();
    const beforeTracer = trace.getTracerProvider();
    await start(() => snapshot(reading()), {}, { spanExporter: new InMemorySpanExporter(), instrumentations: true });
    expect(metrics.getMeterProvider()).toBe(before);
    expect(trace.getTracerProvider()).toBe(beforeTracer);
  });
});

describe('pressure events', () => {
  const event = (level: PressureEvent['level']): PressureEvent => {
    const r = reading();
    const s = snapshot(r);
    return { level, signal: 'heap', reason: 'heap-threshold', value: r.heapSignal, threshold: 8_000_000, pressure: 0.5, reading: r, thresholds: s.thresholds };
  };

  it.each([
    ['warn', 'oomguard.warning', 13, 'WARN'],
    ['shutdown', 'oomguard.shutdown', 17, 'ERROR'],
  ] as const)('%s gives one log record %s at %s severity, correlated with a span of the same name', async (level, name, severityNumber, severityText) => {
    const spans = new InMemorySpanExporter();
    const logs = new InMemoryLogRecordExporter();
    const { handle } = await start(() => undefined, {}, { spanExporter: spans, logExporter: logs });
    handle.recordEvent(event(level));
    await handle.flush(1000);
    const [span, ...moreSpans] = spans.getFinishedSpans();
    const [log, ...moreLogs] = logs.getFinishedLogRecords();
    expect(moreSpans).toEqual([]);
    expect(moreLogs).toEqual([]);
    expect(span!.name).toBe(name);
    expect(log!.eventName).toBe(name);
    expect([log!.severityNumber, log!.severityText]).toEqual([severityNumber, severityText]);
    expect(log!.spanContext?.traceId).toBe(span!.spanContext().traceId);
    expect(log!.spanContext?.spanId).toBe(span!.spanContext().spanId);
    for (const attrs of [span!.attributes, log!.attributes]) {
      expect(attrs).toMatchObject({
        'oomguard.signal': 'heap',
        'oomguard.level': level,
        'oomguard.reason': 'heap-threshold',
        'oomguard.value': 8_000_007,
        'oomguard.threshold': 8_000_000,
        'oomguard.heap.in_use': 11_000_001,
        'oomguard.heap.limit': 140_000_004,
        'oomguard.memory.limit': 500_000_010,
        'oomguard.threshold.heap.shutdown': 104_000_000,
        'oomguard.threshold.rss.warn': 400_000_000,
        'oomguard.reading.time': new Date(1_700_000_000_123).toISOString(),
      });
    }
    // The span starts at the reading's time, not when the exporter got round to it.
    expect(span!.startTime).toEqual([1_700_000_000, 123_000_000]);
  });

  it('an observed shutdown (shadow mode) is a WARN record and a span without error status, marked oomguard.observed', async () => {
    const spans = new InMemorySpanExporter();
    const logs = new InMemoryLogRecordExporter();
    const { handle } = await start(() => undefined, {}, { spanExporter: spans, logExporter: logs });
    handle.recordEvent({ ...event('shutdown'), observed: true });
    await handle.flush(1000);
    const [span] = spans.getFinishedSpans();
    const [log] = logs.getFinishedLogRecords();
    expect([span!.name, span!.status.code]).toEqual(['oomguard.shutdown', 0]);
    expect([log!.eventName, log!.severityText]).toEqual(['oomguard.shutdown', 'WARN']);
    expect(log!.body).toMatch(/^memory pressure shutdown observed \(OOMGUARD_ACTION=observe: not acting\)/);
    for (const attrs of [span!.attributes, log!.attributes]) expect(attrs).toMatchObject({ 'oomguard.level': 'shutdown', 'oomguard.observed': true });
  });

  it('a warning is an instant; a shutdown span stays open until the flush, and carries each hook as an event', async () => {
    const spans = new InMemorySpanExporter();
    const { handle } = await start(() => undefined, {}, { spanExporter: spans });
    const now = Date.now();
    handle.recordEvent({ ...event('warn'), reading: { ...reading(), time: now } });
    handle.recordEvent({ ...event('shutdown'), reading: { ...reading(), time: now } });
    expect(spans.getFinishedSpans().map((s) => s.name)).toEqual(['oomguard.warning']);
    await new Promise((r) => setTimeout(r, 120));
    await handle.flush(1000, [
      { name: 'wal', outcome: 'ok', ms: 80 },
      { name: 'http', outcome: 'error', ms: 30, error: 'Error: boom' },
      { name: 'slow', outcome: 'timeout', ms: 110 },
    ]);
    const [warning, shutdown] = spans.getFinishedSpans();
    // An instant: ended when recorded (its start is the reading's time, a moment before).
    expect(warning!.duration[0] * 1000 + warning!.duration[1] / 1e6).toBeLessThan(100);
    // The drain: from the reading the guard acted on to the flush, 120 ms here.
    const ms = shutdown!.duration[0] * 1000 + shutdown!.duration[1] / 1e6;
    expect(ms).toBeGreaterThanOrEqual(115);
    expect(shutdown!.events.map((e) => [e.name, e.attributes])).toEqual([
      ['oomguard.hook', { 'oomguard.hook.name': 'wal', 'oomguard.hook.outcome': 'ok', 'oomguard.hook.duration_ms': 80 }],
      ['oomguard.hook', { 'oomguard.hook.name': 'http', 'oomguard.hook.outcome': 'error', 'oomguard.hook.duration_ms': 30, 'error.message': 'Error: boom' }],
      ['oomguard.hook', { 'oomguard.hook.name': 'slow', 'oomguard.hook.outcome': 'timeout', 'oomguard.hook.duration_ms': 110 }],
    ]);
    expect(shutdown!.attributes['oomguard.shutdown.hooks_failed']).toBe(2);
    // Each event sits where its hook settled: wal 30 ms before the slow one.
    const t = (i: number) => shutdown!.events[i]!.time[0] * 1000 + shutdown!.events[i]!.time[1] / 1e6;
    expect(Math.round(t(2) - t(0))).toBe(30);
  });

  it('a shutdown carries its grounds as oomguard.grounds.* attributes on the span and the log record', async () => {
    const spans = new InMemorySpanExporter();
    const logs = new InMemoryLogRecordExporter();
    const { handle } = await start(() => undefined, {}, { spanExporter: spans, logExporter: logs });
    handle.recordEvent({ ...event('shutdown'), grounds: { basis: 'in-use', confirmedBy: 'none', liveAfterMajor: 7_900_000, liveGrowthPerSec: 120_000_000, majorGcMs: 95.5, timeToLineMs: 0 } });
    await handle.flush(1000);
    for (const attrs of [spans.getFinishedSpans()[0]!.attributes, logs.getFinishedLogRecords()[0]!.attributes]) {
      expect(attrs).toMatchObject({
        'oomguard.grounds.basis': 'in-use',
        'oomguard.grounds.confirmed_by': 'none',
        'oomguard.grounds.live_after_major': 7_900_000,
        'oomguard.grounds.live_growth_per_sec': 120_000_000,
        'oomguard.grounds.major_gc_ms': 95.5,
        'oomguard.grounds.time_to_line_ms': 0,
      });
    }
  });

  it('recordEvent never throws, even after shutdown or with a malformed event', async () => {
    const { handle } = await start(() => undefined, {}, { spanExporter: new InMemorySpanExporter() });
    expect(() => handle.recordEvent({} as PressureEvent)).not.toThrow();
    await handle.shutdown();
    expect(() => handle.recordEvent(event('warn'))).not.toThrow();
    await expect(handle.flush(10)).resolves.toBeUndefined();
  });
});

describe('startTelemetry', () => {
  it('is inert with OTEL_SDK_DISABLED and with nothing to export, and opens no port', async () => {
    for (const over of [{ sdkDisabled: true, metrics: endpoint(0) }, { metrics: { enabled: false, mode: 'none' as const, host: undefined, port: 0, requested: false } }]) {
      const handle = await startTelemetry(config(over), { latest: () => undefined }, () => {});
      expect(handle.metricsPort).toBeUndefined();
    }
  });

  it('serves an ephemeral port when asked for port 0', async () => {
    const { handle } = await start(() => snapshot(reading()), { metrics: endpoint(0) });
    expect(handle.metricsPort).toBeGreaterThan(0);
    const text = await (await fetch(`http://127.0.0.1:${handle.metricsPort}/metrics`)).text();
    expect(text).toMatch(/^oomguard_heap_in_use\{[^}]*\} 11000001$/m);
    expect((await fetch(`http://127.0.0.1:${handle.metricsPort}/other`)).status).toBe(404);
  });

  it.each([
    [undefined, /cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/],
    ['4242', /held by the parent process \(pid 4242\)/],
  ])('a busy port (parent pid %s) gives exactly one line and no endpoint', async (parent, line) => {
    const first = await start(() => snapshot(reading()), { metrics: endpoint(0) });
    const port = first.handle.metricsPort!;
    const second = await start(() => snapshot(reading()), { metrics: endpoint(port) }, { parentPid: parent });
    expect(second.handle.metricsPort).toBeUndefined();
    expect(second.lines).toHaveLength(1);
    expect(second.lines[0]).toMatch(line);
  });

  it('starts OTLP metrics with an export interval shorter than the default export timeout', async () => {
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = 'http://127.0.0.1:9';
    try {
      const { lines } = await start(() => snapshot(reading()), { ...OTLP_JSON, otlpExport: { intervalMs: 300, timeoutMs: 300 } });
      expect(lines).toEqual([]);
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    }
  });

  it('flush is bounded by its deadline even when the OTLP collector never answers', async () => {
    const net = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const blackhole = net.createServer((s) => sockets.push(s)); // accepts, never answers
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
    const port = (blackhole.address() as import('node:net').AddressInfo).port;
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${port}`;
    try {
      const { handle } = await start(() => snapshot(reading()), OTLP_JSON);
      handle.recordEvent({ level: 'warn', signal: 'heap', reason: 'heap-warn', value: 1, threshold: 1, pressure: 1, reading: reading(), thresholds: snapshot(reading()).thresholds });
      const t0 = Date.now();
      await handle.flush(300);
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(800);
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      for (const s of sockets) s.destroy();
      blackhole.close();
    }
  });
});

describe('resource', () => {
  it("names the service as the SDK does (unknown_service:<argv0>), and reports host, runtime and instance, never the command line", () => {
    const attrs = buildResource().attributes;
    expect(attrs['service.name']).toBe(`unknown_service:${process.argv0}`);
    expect(attrs).toMatchObject({ 'process.pid': process.pid, 'process.runtime.name': 'nodejs', 'process.runtime.version': process.versions.node });
    expect(typeof attrs['host.name']).toBe('string');
    expect(String(attrs['service.instance.id'])).toMatch(/^[0-9a-f-]{36}$/);
    for (const key of ['process.command', 'process.command_args', 'process.command_line', 'process.executable.path', 'process.owner']) expect(attrs[key], key).toBeUndefined();
  });

  it('lets OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over what it detects', () => {
    process.env.OTEL_SERVICE_NAME = 'checkout';
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'host.name=pinned,team=memory';
    try {
      expect(buildResource().attributes).toMatchObject({ 'service.name': 'checkout', 'host.name': 'pinned', team: 'memory' });
    } finally {
      delete process.env.OTEL_SERVICE_NAME;
      delete process.env.OTEL_RESOURCE_ATTRIBUTES;
    }
  });

  const ID = 'a'.repeat(12) + '0123456789abcdef'.repeat(3) + 'b'.repeat(4);
  it.each([
    ['cgroup v1 under Docker', `12:memory:/docker/${ID}\n11:cpu:/docker/${ID}`, ''],
    ['cgroup v1 under Kubernetes (pod, then container)', `4:memory:/kubepods/burstable/pod1f0e-22/${ID}`, ''],
    ['cgroup v2 under the systemd driver', `0::/system.slice/docker-${ID}.scope`, ''],
    ['cgroup v2 under containerd in Kubernetes', `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1f0e_22.slice/cri-containerd-${ID}.scope`, ''],
    ['cgroup v2 with a private namespace (Docker mounts)', '0::/', `611 602 8:1 /var/lib/docker/containers/${ID}/hostname /etc/hostname rw,relatime - ext4 /dev/sda1 rw`],
    ['CRI-O mounts', '0::/', `700 690 0:50 /containers/storage/overlay-containers/${ID}/userdata/hostname /etc/hostname rw - tmpfs tmpfs rw`],
  ])('finds the container id: %s', (_what, cgroup, mountinfo) => {
    expect(containerIdFrom(cgroup, mountinfo)).toBe(ID);
  });

  it('finds no container id on a host', () => {
    expect(containerIdFrom('0::/user.slice/user-0.slice/session-3.scope\n9:name=systemd:/', '25 1 8:1 / / rw - ext4 /dev/sda1 rw')).toBeUndefined();
  });
});
