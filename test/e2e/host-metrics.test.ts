/**
 * The app keeps what it owns: its own OpenTelemetry Prometheus exporter keeps its port and its
 * metrics next to the guard, and an app with its own MeterProvider can have the guard's gauges
 * on it instead of a second endpoint. A scrape storm is served from one collection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pinnedEnv } from '../helpers/child';
import { REGISTER } from '../helpers/dist';
import { freePort } from '../fixtures/telemetry/child';

const APP = join(__dirname, '..', 'fixtures', 'host', 'app-metrics.js');

interface App {
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}
const apps: App[] = [];
afterEach(() => {
  for (const a of apps.splice(0)) if (a.proc.exitCode === null) a.proc.kill('SIGKILL');
});

function start(env: Record<string, string>): App {
  const proc = spawn(process.execPath, ['--require', REGISTER, APP], { env: pinnedEnv(env), stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  const exited = once(proc, 'close').then(([code]) => {
    clearTimeout(timer);
    return code as number | null;
  });
  const app = { proc, stderr: () => stderr, exited };
  apps.push(app);
  return app;
}

async function isOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  const sock = connect(port, host);
  try {
    await Promise.race([once(sock, 'connect'), once(sock, 'error').then(() => Promise.reject(new Error('refused')))]);
    return true;
  } catch {
    return false;
  } finally {
    sock.destroy();
  }
}

/** GET `url` until its body matches `want` (the app's counter has counted, the gauges have a reading). */
async function scrapeUntil(url: string, want: RegExp, ms = 10_000): Promise<string> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    try {
      last = await (await fetch(url, { signal: AbortSignal.timeout(2000) })).text();
      if (want.test(last)) return last;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never matched ${want}; last body:\n${last.slice(0, 2000)}`);
}

const APP_COUNTER = /^app_requests_total\{[^}]*\} [1-9]/m;
const GUARD_GAUGE = /^oomguard_heap_in_use\{[^}]*\} \d+/m;

const SDK_NODE = { APP_SETUP: 'sdk-node', OTEL_METRICS_EXPORTER: 'prometheus', OTEL_TRACES_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' };

describe("the app's own Prometheus exporter", () => {
  it('keeps the port OTEL_EXPORTER_PROMETHEUS_PORT gives it (through @opentelemetry/sdk-node) and its metrics; the guard serves on its own port', async () => {
    const [appPort, guardPort] = [await freePort(), await freePort()];
    const app = start({
      ...SDK_NODE,
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(appPort),
      OOMGUARD_METRICS_HOST: '127.0.0.1',
      OOMGUARD_METRICS_PORT: String(guardPort),
    });
    const own = await scrapeUntil(`http://127.0.0.1:${appPort}/metrics`, APP_COUNTER).catch((err: Error) => `${err.message}\nstderr:\n${app.stderr()}`);
    expect(own).toMatch(APP_COUNTER);
    expect(own).not.toMatch(/oomguard_/);
    const guard = await scrapeUntil(`http://127.0.0.1:${guardPort}/metrics`, GUARD_GAUGE);
    expect(guard).not.toMatch(/app_requests/);
    expect(app.stderr()).not.toMatch(/app metrics failed|oomguard/);
    app.proc.stdin!.end();
    expect(await app.exited).toBe(0);
  });

  it("keeps 9464, the exporter's default, when both run with their defaults: the guard's default is 9465", async () => {
    // Both defaults must be free on this machine; wait a little for another test's process to let go.
    const deadline = Date.now() + 20_000;
    while ((await isOpen(9464)) || (await isOpen(9465))) {
      if (Date.now() > deadline) throw new Error('ports 9464/9465 stayed busy on this machine for 20 s');
      await new Promise((r) => setTimeout(r, 500));
    }
    const app = start({ APP_SETUP: 'exporter' });
    const own = await scrapeUntil('http://localhost:9464/metrics', APP_COUNTER).catch((err: Error) => `${err.message}\nstderr:\n${app.stderr()}`);
    expect(own).toMatch(APP_COUNTER);
    expect(own).not.toMatch(/oomguard_/);
    expect(await scrapeUntil('http://127.0.0.1:9465/metrics', GUARD_GAUGE)).not.toMatch(/app_requests/);
    expect(app.stderr()).toMatch(/app metrics up/);
    app.proc.stdin!.end();
    expect(await app.exited).toBe(0);
  });
});

describe("the guard's gauges on the app's own MeterProvider", () => {
  it.each([
    ['OOMGUARD_METRICS=global, with the provider @opentelemetry/sdk-node registers', { ...SDK_NODE, OOMGUARD_METRICS: 'global' }, 'OTEL_EXPORTER_PROMETHEUS_PORT'],
    ['OOMGUARD_METRICS=global, with a provider the app registers itself', { APP_SETUP: 'global', OOMGUARD_METRICS: 'global' }, 'APP_PORT'],
    ['publishMetrics(provider), with OOMGUARD_METRICS=none', { APP_SETUP: 'publish', OOMGUARD_METRICS: 'none' }, 'APP_PORT'],
  ])("%s: they are served on the app's endpoint, next to its own, and the guard opens no port", async (_what, env: Record<string, string>, portVariable) => {
    const [appPort, guardPort] = [await freePort(), await freePort()];
    const app = start({
      ...env,
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      [portVariable]: String(appPort),
      OOMGUARD_METRICS_HOST: '127.0.0.1',
      OOMGUARD_METRICS_PORT: String(guardPort),
      OOMGUARD_POLL_INTERVAL: '100ms',
    });
    const text = await scrapeUntil(`http://127.0.0.1:${appPort}/metrics`, GUARD_GAUGE).catch((err: Error) => `${err.message}\nstderr:\n${app.stderr()}`);
    expect(text).toMatch(GUARD_GAUGE);
    expect(text).toMatch(/^oomguard_threshold\{[^}]*oomguard_signal="heap"[^}]*\} \d+/m);
    expect(await scrapeUntil(`http://127.0.0.1:${appPort}/metrics`, APP_COUNTER)).toMatch(/otel_scope_name="oomguard"/);
    expect(await isOpen(guardPort)).toBe(false);
    expect(app.stderr()).not.toMatch(/app metrics failed|oomguard/);
    app.proc.stdin!.end();
    expect(await app.exited).toBe(0);
  });
});

describe('/metrics under a scrape storm', () => {
  it('serves one collection to every scrape within a second, and a fresh one after', async () => {
    const port = await freePort();
    const app = start({ APP_SETUP: 'none', OOMGUARD_METRICS_HOST: '127.0.0.1', OOMGUARD_METRICS_PORT: String(port), OOMGUARD_POLL_INTERVAL: '100ms' });
    const url = `http://127.0.0.1:${port}/metrics`;
    await scrapeUntil(url, GUARD_GAUGE);
    // The runtime histograms and the event-loop figures change between any two collections;
    // identical bodies mean one collection served them all.
    const t0 = Date.now();
    const storm = await Promise.all(Array.from({ length: 100 }, async () => (await fetch(url)).text()));
    const took = Date.now() - t0;
    if (took < 900) expect(new Set(storm).size, `100 scrapes took ${took} ms`).toBeLessThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await (await fetch(url)).text()).not.toBe(storm.at(-1));
    app.proc.stdin!.end();
    expect(await app.exited).toBe(0);
  });
});
