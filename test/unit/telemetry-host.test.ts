/**
 * The parts of telemetry that keep the host's process its own: the scrape cache, exports that
 * answer the SDK at once, sockets that hold nothing, and gauges on the app's global provider.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MeterProvider, MetricReader, AggregationTemporality } from '@opentelemetry/sdk-metrics';
import { Exposition } from '../../src/telemetry/server';
import { detached, ExportTransport, EXPORT_TIMEOUT_MS, type Exporter } from '../../src/telemetry/transport';
import { followGlobalMeterProvider, globalMeterProvider, LOOK_EVERY_MS } from '../../src/telemetry/global';
import type { Snapshot } from '../../src/types';

describe('Exposition (the /metrics cache)', () => {
  it('collects once per max age, however many scrapes come, and again once it is older', async () => {
    let now = 0;
    let collects = 0;
    const cache = new Exposition(async () => `text ${++collects}`, 1000, () => now);
    const storm = await Promise.all(Array.from({ length: 50 }, () => cache.text()));
    expect(new Set(storm)).toEqual(new Set(['text 1']));
    now = 999;
    expect(await cache.text()).toBe('text 1');
    now = 1000;
    expect(await cache.text()).toBe('text 2');
    expect(collects).toBe(2);
  });

  it('shares one collection in flight between concurrent scrapes, and does not keep a failed one', async () => {
    let release: (text: string) => void = () => undefined;
    let collects = 0;
    let fail = true;
    const cache = new Exposition(
      () => {
        collects++;
        if (fail) return Promise.reject(new Error('collect failed'));
        return new Promise<string>((r) => (release = r));
      },
      1000,
      () => 0,
    );
    await expect(cache.text()).rejects.toThrow('collect failed');
    fail = false;
    const a = cache.text();
    const b = cache.text();
    release('fresh');
    expect([await a, await b]).toEqual(['fresh', 'fresh']);
    expect(collects).toBe(2);
  });
});

/** An exporter whose exports settle only when the test says so. */
function slowExporter() {
  const pending: ((r: { code: number; error?: Error }) => void)[] = [];
  const exporter: Exporter<string[]> & { flushed: number } = {
    flushed: 0,
    export: (_items, done) => void pending.push(done),
    shutdown: async () => undefined,
    async forceFlush() {
      this.flushed++;
    },
  };
  return { exporter, pending };
}

describe('detached (exports that never hold the SDK)', () => {
  it('answers the SDK at once, and forceFlush waits for what is still in flight', async () => {
    const { exporter, pending } = slowExporter();
    const lines: string[] = [];
    const wrapped = detached(exporter, 'span', (line, level) => lines.push(`${level}: ${line}`));
    const answers: number[] = [];
    wrapped.export(['a'], (r) => answers.push(r.code));
    expect(answers).toEqual([0]);
    let flushed = false;
    const flush = wrapped.forceFlush!().then(() => (flushed = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(flushed).toBe(false);
    pending[0]!({ code: 1, error: new Error('Request timed out') });
    await flush;
    expect(exporter.flushed).toBe(1);
    expect(lines).toEqual([expect.stringMatching(/^warn: oomguard: OTLP span export failed: Error: Request timed out/)]);
  });

  it('keeps a metric exporter\'s selectors, called on the exporter itself', () => {
    class Metric {
      readonly #temporality = AggregationTemporality.DELTA;
      export(): void {}
      async shutdown(): Promise<void> {}
      selectAggregationTemporality(): AggregationTemporality {
        return this.#temporality;
      }
    }
    const wrapped = detached(new Metric() as unknown as Exporter<unknown>, 'metrics', () => undefined) as unknown as Metric;
    expect(wrapped.selectAggregationTemporality()).toBe(AggregationTemporality.DELTA);
  });
});

describe('ExportTransport', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('gives each request less time than the exporters\' first retry back-off (0.8 s), so no retry timer is ever armed', () => {
    expect(new ExportTransport().options().timeoutMillis).toBe(EXPORT_TIMEOUT_MS);
    expect(EXPORT_TIMEOUT_MS).toBeLessThan(800);
  });

  it('hands out agents whose sockets hold no reference on the event loop, reused keep-alive sockets included', async () => {
    server = createServer((_, res) => res.end('ok'));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const transport = new ExportTransport();
    const agent = transport.options().httpAgentOptions('http:');
    const http = await import('node:http');
    const refs: boolean[] = [];
    for (let i = 0; i < 2; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = http.request({ port, host: '127.0.0.1', agent, method: 'POST' }, (res) => {
          const socket = req.socket as Socket & { _handle?: { hasRef(): boolean } };
          refs.push(socket._handle!.hasRef());
          res.resume();
          res.on('end', () => setImmediate(resolve));
        });
        req.on('error', reject);
        req.end('x');
      });
    }
    expect(refs).toEqual([false, false]);
    transport.destroy();
  });
});

describe('gauges on the app\'s global MeterProvider', () => {
  const KEY = Symbol.for('opentelemetry.js.api.1');
  const g = globalThis as Record<symbol, unknown>;
  afterEach(() => {
    delete g[KEY];
    vi.useRealTimers();
  });

  class Reader extends MetricReader {
    protected override async onForceFlush(): Promise<void> {}
    protected override async onShutdown(): Promise<void> {}
  }
  const snap = { reading: { heapInUse: 123_456, gc: {} }, thresholds: { heap: {}, rss: {} }, state: 'ok', pressure: 0.5 } as unknown as Snapshot;

  it('finds a provider registered by any 1.x API, an older one than the agent\'s included', () => {
    expect(globalMeterProvider()).toBeUndefined();
    const provider = new MeterProvider();
    g[KEY] = { version: '1.4.0', metrics: provider };
    expect(globalMeterProvider()).toBe(provider);
  });

  it('waits for the app to register its provider, then publishes the gauges there once, registering none itself', async () => {
    vi.useFakeTimers();
    const reader = new Reader();
    const provider = new MeterProvider({ readers: [reader] });
    const gauges = followGlobalMeterProvider({ latest: () => snap }, '1.2.3', () => undefined);
    expect(gauges.provider()).toBeUndefined();
    vi.advanceTimersByTime(LOOK_EVERY_MS);
    expect(g[KEY]).toBeUndefined();
    g[KEY] = { version: '1.10.0', metrics: provider };
    vi.advanceTimersByTime(LOOK_EVERY_MS);
    expect(gauges.provider()).toBe(provider);
    vi.useRealTimers();
    const { resourceMetrics } = await reader.collect();
    const scope = resourceMetrics.scopeMetrics.find((s) => s.scope.name === 'oomguard');
    expect(scope?.scope.version).toBe('1.2.3');
    const inUse = scope?.metrics.find((m) => m.descriptor.name === 'oomguard.heap.in_use');
    expect(inUse?.dataPoints[0]?.value).toBe(123_456);
    expect(() => gauges.stop()).not.toThrow();
  });
});
