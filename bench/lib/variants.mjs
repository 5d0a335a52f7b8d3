// The preloads every figure compares: no agent, oomguard (default poll and the 10 ms floor),
// prom-client's default metrics, and the OpenTelemetry SDK with runtime and host metrics.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { BENCH, REGISTER, ROOT, freePort, pinnedEnv } from './util.mjs';

/**
 * @typedef {{ name: string, label: string, args: string[], env: Record<string,string>, metrics: boolean }} Variant
 * `metricsEnv(port)` gives the variables that put its `/metrics` (if any) on 127.0.0.1:port; a
 * variant may bring its own (another build of oomguard reading other variables).
 */
export const VARIANTS = {
  none: { name: 'none', label: 'no agent', args: [], env: {}, metrics: false },
  oomguard: { name: 'oomguard', label: 'oomguard (poll 1s, default)', args: ['--require', REGISTER], env: {}, metrics: true },
  oomguard10: {
    name: 'oomguard10',
    label: 'oomguard (poll 10ms, floor)',
    args: ['--require', REGISTER],
    env: { OOMGUARD_POLL_INTERVAL: '10ms' },
    metrics: true,
  },
  promClient: { name: 'promClient', label: 'prom-client', args: ['--require', join(BENCH, 'peers', 'prom-client.cjs')], env: {}, metrics: true },
  otelSdk: { name: 'otelSdk', label: 'otel-sdk', args: ['--require', join(BENCH, 'peers', 'otel-sdk.cjs')], env: {}, metrics: true },
};

/** Environment that puts a variant's metrics endpoint on 127.0.0.1:port. */
export function metricsEnv(variant, port) {
  if (!variant.metrics) return {};
  if (variant.metricsEnv) return variant.metricsEnv(port);
  if (variant.name.startsWith('oomguard')) return { OOMGUARD_METRICS_HOST: '127.0.0.1', OOMGUARD_METRICS_PORT: String(port) };
  return { PEER_METRICS_PORT: String(port) };
}

/**
 * Starts `app` (which prints `{"port":N}` on stdout when listening) under `variant`.
 * Resolves with the app's port, the metrics port, and `stop()`, which closes stdin and
 * SIGKILLs after 3 s if the app has not gone by then.
 */
export async function startApp(variant, app, { node = process.execPath, extraEnv = {}, timeoutMs = 20_000 } = {}) {
  const metricsPort = variant.metrics ? await freePort() : undefined;
  const env = pinnedEnv({ ...variant.env, ...metricsEnv(variant, metricsPort), ...extraEnv });
  const child = spawn(node, [...variant.args, app], { env, cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], timeout: 600_000, killSignal: 'SIGKILL' });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${variant.name}: app not listening after ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = /\{"port":(\d+)\}/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${variant.name}: app exited early code=${code} signal=${signal}\n${stderr}`));
    });
  });
  return {
    port,
    metricsPort,
    child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const closed = once(child, 'close');
      child.stdin.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await closed;
      clearTimeout(t);
    },
  };
}

/** GET http://127.0.0.1:port/path; resolves with status, body and round-trip ms. */
export async function get(port, path, agent, timeoutMs = 5000) {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path, agent, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks), ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Polls `/metrics` until it answers 200 with a non-empty body (telemetry comes up lazily). */
export async function waitForMetrics(port, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const r = await get(port, '/metrics');
      if (r.status === 200 && r.body.length > 0) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`no /metrics on port ${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
