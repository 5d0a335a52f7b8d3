/**
 * The host comes first: nothing of the agent keeps a finished app alive or takes the app's own
 * shutdown path from it. Real children, a real keep-alive scraper, a real collector that
 * accepts and never answers, the real `signal-exit` package.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { pinnedEnv, runChild, tempDir, why } from '../helpers/child';
import { REGISTER } from '../helpers/dist';
import { nodeMatrix } from '../helpers/node-matrix';
import { freePort } from '../fixtures/telemetry/child';

const CORE = join(__dirname, '..', 'fixtures', 'core');
const HOST = join(__dirname, '..', 'fixtures', 'host');
const tmp = tempDir();
afterAll(() => tmp.remove());
let n = 0;
const logFile = () => join(tmp.dir, `log-${++n}.txt`);

/** A collector that accepts connections and never answers (a stuck sidecar, a black-holed route), or resets them. */
interface BlackHole {
  url: string;
  /** `Date.now()` of each accepted connection. */
  accepted: number[];
  close(): void;
}
const holes: BlackHole[] = [];
async function blackHole(reset = false): Promise<BlackHole> {
  const sockets: Socket[] = [];
  const accepted: number[] = [];
  const server: Server = createServer((socket) => {
    accepted.push(Date.now());
    if (reset) socket.resetAndDestroy();
    else sockets.push(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const hole = {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    accepted,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
  holes.push(hole);
  return hole;
}
afterEach(() => {
  for (const h of holes.splice(0)) h.close();
});

/**
 * An app that, once told (SIGUSR2: the test has set the scene, a scraper connected or an export
 * under way, whatever the machine's load made that take), finishes its work 800 ms later and
 * prints when, on stdout. Until then an interval of its own keeps it alive.
 */
const ENDS_800MS_AFTER_GO =
  "const hold = setInterval(() => {}, 1000); process.once('SIGUSR2', () => { process.stdout.write('go ' + Date.now() + '\\n'); clearInterval(hold); setTimeout(() => process.stdout.write('end ' + Date.now()), 800); })";

/** Spawn a guarded `-e` app with no stdin; resolves with its stdout, stderr and the times. */
function runApp(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--require', REGISTER, '-e', ENDS_800MS_AFTER_GO], { env: pinnedEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const closed = once(child, 'close').then(([code, signal]) => {
    clearTimeout(killer);
    const at = (word: string) => Number(new RegExp(`${word} (\\d+)`).exec(stdout)?.[1] ?? NaN);
    return { code: code as number | null, signal: signal as string | null, stdout, stderr, closedAt: Date.now(), go: at('go'), appEnd: at('end') };
  });
  return { child, closed, stderr: () => stderr };
}

/** Wait (bounded) until `ready()` holds. */
async function until(ready: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a finished app exits', () => {
  it('an idle keep-alive client on /metrics does not hold it: the app ends 0.8 s later and the process exits within 1.5 s', async () => {
    const port = await freePort();
    const agent = new http.Agent({ keepAlive: true });
    try {
      const app = runApp({ OOMGUARD_METRICS_HOST: '127.0.0.1', OOMGUARD_METRICS_PORT: String(port) });
      // Scrape once as Prometheus does, then leave the connection open and idle.
      let scraped = false;
      const giveUp = Date.now() + 15_000;
      while (!scraped && Date.now() < giveUp) {
        scraped = await new Promise<boolean>((resolve) => {
          http
            .get({ host: '127.0.0.1', port, path: '/metrics', agent }, (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode === 200));
            })
            .on('error', () => resolve(false));
        });
        if (!scraped) await new Promise((r) => setTimeout(r, 25));
      }
      expect(scraped, `the endpoint never answered:\n${app.stderr()}`).toBe(true);
      await new Promise((r) => setImmediate(r));
      expect(Object.values(agent.freeSockets).flat()).toHaveLength(1);
      app.child.kill('SIGUSR2');
      const r = await app.closed;
      expect([r.code, r.signal], r.stderr).toEqual([0, null]);
      // The connection was still open and idle when the app finished (the server keeps an idle
      // connection 5 s; Prometheus keeps its connections for good).
      expect(r.closedAt - r.appEnd).toBeLessThan(500);
      expect(r.closedAt - r.go).toBeLessThan(1500);
      expect(r.stderr).toBe('');
    } finally {
      agent.destroy();
    }
  });

  it.each([
    ['accepts and never answers', 'hang'],
    ['accepts and resets every connection', 'reset'],
    ['refuses connections', 'refuse'],
  ] as const)('an OTLP collector that %s delays a normal exit after a warning event by less than 0.5 s', async (_what, kind) => {
    const hole = kind === 'refuse' ? undefined : await blackHole(kind === 'reset');
    const app = runApp({
      OTEL_EXPORTER_OTLP_ENDPOINT: hole?.url ?? `http://127.0.0.1:${await freePort()}`,
      OOMGUARD_METRICS: 'none',
      // A warning at the first check: its span and log record go to the collector at once...
      OOMGUARD_HEAP_WARN: '1MiB',
      OOMGUARD_POLL_INTERVAL: '100ms',
      // ...and periodic metric exports are on the wire too.
      OTEL_METRIC_EXPORT_INTERVAL: '200',
    });
    await until(() => app.stderr().includes('"name":"oomguard.warning"'), 'a warning event');
    // The exports are under way once the collector has seen them (a refused one cannot be seen:
    // give the agent's telemetry, which loads after the warning, time to try).
    if (hole) await until(() => hole.accepted.length >= 2, 'two exports reaching the collector');
    else await new Promise((r) => setTimeout(r, 1500));
    app.child.kill('SIGUSR2');
    const r = await app.closed;
    expect([r.code, r.signal], r.stderr).toEqual([0, null]);
    expect(r.closedAt - r.appEnd).toBeLessThan(500);
  });
});

describe.each(nodeMatrix().map((b) => [b.major, b.path] as const))('the app keeps its own shutdown path on Node %i', (_major, node) => {
  it("with a collector that never answers, a memory shutdown still runs the app's asynchronous SIGTERM handler to its end; exit code 2", async () => {
    const hole = await blackHole();
    const log = logFile();
    const r = await runChild({
      node,
      args: ['--max-old-space-size=128', '--require', 'oomguard/register', join(CORE, 'sigterm-app.js')],
      // The guard acts far below V8's limit: this test is about the deadline's budget, not about
      // outrunning V8 (near its limit the guard's emergency exit would rightly cut the app short).
      // Telemetry from the start: at the warning, 10 MiB below the line, there is no room to load it.
      env: { LOG: log, OTEL_EXPORTER_OTLP_ENDPOINT: hole.url, OOMGUARD_METRICS: 'none', OOMGUARD_SHUTDOWN_TIMEOUT: '2s', OOMGUARD_HEAP_WARN: '30MiB', OOMGUARD_HEAP_THRESHOLD: '40MiB', OOMGUARD_TELEMETRY_DELAY: '0s' },
      timeoutMs: 60_000,
      noStdio: true,
    });
    const said = readFileSync(log, 'utf8');
    expect(r.code, said).toBe(2);
    expect(hole.accepted.length, 'the warning and shutdown events were pushed').toBeGreaterThan(0);
    expect(said).toMatch(/app: SIGTERM: flushing\n(.|\n)*app: flushed/);
    expect(said).toMatch(/app: exit listener sees code 2/);
  });

  it('with the real signal-exit as its only SIGTERM listener, auto signals, signal-exit runs its handlers and re-raises, and the process exits 2 at once', async () => {
    const log = logFile();
    const r = await runChild({
      node,
      args: ['--max-old-space-size=96', '--require', 'oomguard/register', join(HOST, 'signal-exit-app.js')],
      // Far below V8's limit, so no emergency exit can cut the app's path short (see above).
      env: { LOG: log, OOMGUARD_METRICS: 'none', OOMGUARD_HEAP_WARN: '30MiB', OOMGUARD_HEAP_THRESHOLD: '40MiB' },
      timeoutMs: 60_000,
    });
    const exitedAt = Date.now();
    const said = readFileSync(log, 'utf8');
    expect(r.code, `${said}\n${why(r)}`).toBe(2);
    expect(r.signal).toBeNull();
    // signal-exit saw the SIGTERM (it was the sole listener, so it ran its handlers and re-raised).
    expect(said).toMatch(/onExit code=null signal=SIGTERM/);
    expect(said).toMatch(/exit listener sees code 2/);
    // ...and the app did not serve on until the 10 s deadline.
    const shutdown = r.events.find((e) => e.level === 'shutdown');
    expect(shutdown, why(r)).toBeDefined();
    expect(exitedAt - Date.parse(shutdown!.time as string)).toBeLessThan(4000);
    expect(r.stderr).not.toMatch(/deadline of \d+ms passed/);
  });
});
