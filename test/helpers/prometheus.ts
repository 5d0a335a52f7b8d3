import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The repository root (test/helpers/..). */
export const root = join(__dirname, '..', '..');

/**
 * Absolute path of an operator tool (`promtool`, `prometheus`, `docker-compose`) on PATH.
 * Missing: under `CI` this throws, so the suite fails instead of skipping (Debian packages
 * `prometheus` and `docker-compose` provide them); locally it returns undefined and the caller
 * skips.
 */
export function tool(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  if (process.env.CI) throw new Error(`${name} is not installed (apt-get install prometheus docker-compose)`);
  return undefined;
}

/** Result of a finished tool run; never rejects on a non-zero exit. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command with a pinned environment and a hard time limit (SIGKILL on expiry). */
export function run(file: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        cwd: opts.cwd ?? root,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), LANG: 'C.UTF-8' },
        timeout: opts.timeoutMs ?? 30_000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const unitSeconds: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

function formatSeconds(seconds: number): string {
  // Prometheus durations take integers only; below one second fall back to milliseconds.
  return seconds >= 1 && Number.isInteger(seconds) ? `${seconds}s` : `${Math.max(1, Math.round(seconds * 1000))}ms`;
}

/**
 * Shrinks every duration of an alert-rules file by `factor`, so the production rules (minutes)
 * can be exercised live in seconds without keeping a second copy of them: `for: 5m`,
 * range selectors `[10m]`, `offset 15m` and the horizon of `predict_linear(v[30m], 3600)`
 * (plain seconds). Subqueries are not used by the rules and are not rewritten.
 */
export function scaleRuleDurations(rulesYaml: string, factor: number): string {
  const scale = (n: string, unit: string): string => formatSeconds((Number(n) * (unitSeconds[unit] ?? NaN)) / factor);
  return rulesYaml
    .replace(/^(\s*for:\s*)(\d+)(ms|s|m|h|d|w)\s*$/gm, (_m, pre: string, n: string, u: string) => `${pre}${scale(n, u)}`)
    .replace(/\[(\d+)(ms|s|m|h|d|w)\]/g, (_m, n: string, u: string) => `[${scale(n, u)}]`)
    .replace(/\boffset (\d+)(ms|s|m|h|d|w)\b/g, (_m, n: string, u: string) => `offset ${scale(n, u)}`)
    .replace(/(predict_linear\([^()]*\[[^\]]+\],\s*)(\d+(?:\.\d+)?)\)/g, (_m, pre: string, n: string) => `${pre}${Number(n) / factor})`);
}

/**
 * The agent's metric names (suffix-free: its own /metrics, or a collector exporting with
 * UnderscoreEscapingWithoutSuffixes) and the names the same metrics get with unit and type
 * suffixes (the default translation of most collectors, Prometheus' own OTLP ingestion and
 * remote-write pipelines): `By` -> `_bytes`, unit `1` gauges -> `_ratio`, `s` -> `_seconds`,
 * counters -> `_total`. Units from docs/metrics.md.
 */
export const SUFFIXED_NAMES: Readonly<Record<string, string>> = {
  oomguard_pressure: 'oomguard_pressure_ratio',
  oomguard_state: 'oomguard_state_ratio',
  oomguard_heap_in_use: 'oomguard_heap_in_use_bytes',
  oomguard_heap_signal: 'oomguard_heap_signal_bytes',
  oomguard_heap_committed: 'oomguard_heap_committed_bytes',
  oomguard_heap_released: 'oomguard_heap_released_bytes',
  oomguard_heap_next_gc: 'oomguard_heap_next_gc_bytes',
  oomguard_heap_limit: 'oomguard_heap_limit_bytes',
  oomguard_heap_budget: 'oomguard_heap_budget_bytes',
  oomguard_threshold: 'oomguard_threshold_bytes',
  oomguard_memory_rss: 'oomguard_memory_rss_bytes',
  oomguard_memory_signal: 'oomguard_memory_signal_bytes',
  oomguard_memory_limit: 'oomguard_memory_limit_bytes',
  v8js_memory_heap_used: 'v8js_memory_heap_used_bytes',
  nodejs_eventloop_delay_p50: 'nodejs_eventloop_delay_p50_seconds',
  nodejs_eventloop_delay_p99: 'nodejs_eventloop_delay_p99_seconds',
  nodejs_eventloop_delay_max: 'nodejs_eventloop_delay_max_seconds',
  nodejs_eventloop_utilization: 'nodejs_eventloop_utilization_ratio',
  v8js_gc_duration_sum: 'v8js_gc_duration_seconds_sum',
  v8js_gc_duration_count: 'v8js_gc_duration_seconds_count',
  v8js_gc_duration_bucket: 'v8js_gc_duration_seconds_bucket',
  oomguard_shutdowns: 'oomguard_shutdowns_total',
  oomguard_warnings: 'oomguard_warnings_total',
};

/**
 * A promtool test file with the metric name at the start of every `series:` string renamed by
 * `names` (names not in the map stay). Throws if nothing was renamed, so a test of "the other
 * name set" cannot silently run the same names twice.
 */
export function renameTestSeries(testYaml: string, names: Readonly<Record<string, string>>): string {
  let renamed = 0;
  const out = testYaml.replace(/^(\s*-\s*series:\s*')([a-zA-Z_:][a-zA-Z0-9_:]*)(\{)/gm, (m, pre: string, name: string, brace: string) => {
    const to = names[name];
    if (!to) return m;
    renamed++;
    return `${pre}${to}${brace}`;
  });
  if (renamed === 0) throw new Error('renameTestSeries: no series renamed');
  return out;
}

/**
 * Grafana template variables in a dashboard query replaced by values Prometheus accepts, the
 * way Grafana would for "All" selected: `$job`/`$instance` -> `.*`, `$__rate_interval` etc. ->
 * the durations given.
 */
export function substituteGrafanaVars(
  expr: string,
  durations: { rateInterval: string; interval: string; range: string } = { rateInterval: '1m', interval: '15s', range: '1h' },
): string {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}/g, durations.rateInterval)
    .replace(/\$__interval|\$\{__interval\}/g, durations.interval)
    .replace(/\$__range|\$\{__range\}/g, durations.range)
    .replace(/\$\{?(job|instance)\}?/g, '.*');
}

/** A Prometheus HTTP API result of `query`. */
export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** An entry of `/api/v1/alerts`. */
export interface ActiveAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
}

/** A running `prometheus` on loopback with its own temporary storage. */
export interface PrometheusServer {
  url: string;
  dir: string;
  process: ChildProcess;
  /** Log lines so far (stderr), for failure messages. */
  log(): string;
  /** Instant query; rejects on an API error. */
  query(expr: string): Promise<Sample[]>;
  alerts(): Promise<ActiveAlert[]>;
  stop(): Promise<void>;
}

/**
 * Starts the real `prometheus` binary with the given configuration and extra files (rules)
 * written to a temporary directory, listening on a free 127.0.0.1 port; resolves once
 * `/-/ready` answers. `stop()` kills it and removes the directory.
 */
export async function startPrometheus(binary: string, config: string, files: Record<string, string>): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'oomguard-prom-'));
  writeFileSync(join(dir, 'prometheus.yml'), config);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.console.templates=/nonexistent',
      '--web.console.libraries=/nonexistent',
      '--log.level=warn',
    ],
    { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    log += chunk;
  });
  const exited = once(child, 'exit');
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited with ${child.exitCode}: ${log}`);
    }
    try {
      const res = await fetch(`${url}/-/ready`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready after 20 s: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  return {
    url,
    dir,
    process: child,
    log: () => log,
    query: async (expr) => (await api<{ result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    alerts: async () => (await api<{ alerts: ActiveAlert[] }>('/api/v1/alerts')).alerts,
    stop,
  };
}
