/**
 * The `/metrics` endpoint: our own `http` server over the Prometheus exporter's reader. The
 * exporter's own server maps port 0 to its default 9464 and reports a busy port only through
 * `diag`, which the agent must not take over from the app; with our server port 0 means an
 * ephemeral port and a busy port is one line through the agent's log.
 *
 * What it must never do to the app that hosts it:
 * - keep it alive: the listening socket and every accepted connection are `unref()`'d, so an
 *   idle keep-alive scraper (Prometheus keeps its connections) cannot hold a finished process;
 * - cost it CPU per scrape: a collection (the instrumentations, every gauge, serialising) costs
 *   the app's own thread several milliseconds, so scrapes are served from one exposition text,
 *   collected again at most once per poll interval and never more than once a second
 *   ({@link SCRAPE_CACHE_MIN_MS}); a scrape storm then costs one collection a second, and
 *   concurrent scrapes share one collection in flight.
 * It listens on all interfaces unless `OOMGUARD_METRICS_HOST` says otherwise (`127.0.0.1` keeps
 * it to the host or pod), and answers `GET /metrics` only.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { Config } from '../types';
import type { AgentLog } from '../log';
import { describeError } from '../safely';

/** The listening server and the port it bound (the asked one, or an ephemeral one for 0). */
export interface MetricsEndpoint {
  server: Server;
  /** Undefined on a cluster worker's local socket. */
  port: number | undefined;
  /** The local socket of a cluster worker, removed on close where it is a file. */
  socket?: string;
}

/** How this process takes part in a cluster (cluster.ts): a worker's socket, or the primary's merge. */
export interface ClusterRole {
  /** A cluster worker listens here instead of the configured port. */
  socket?: string;
  /** The primary adds its workers' metrics to its own exposition. */
  merge?: (own: string) => Promise<string>;
}

/** A cluster worker's endpoint: a local socket (a stale file of a dead pid is replaced). */
function listenOnSocket(server: Server, socket: string, say: AgentLog): Promise<MetricsEndpoint | undefined> {
  const fs = require('node:fs') as typeof import('node:fs');
  if (!socket.startsWith('\0') && !socket.startsWith('\\')) fs.rmSync(socket, { force: true });
  return new Promise((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      say(`oomguard: metrics endpoint off: cannot listen on this worker's socket (${err.code ?? err.message}); the guard still guards`);
      resolve(undefined);
    });
    server.listen({ path: socket }, () => {
      server.on('error', () => {});
      resolve({ server, port: undefined, socket });
    });
  });
}

/** The exposition text is collected again at most this often, whatever the poll interval. */
export const SCRAPE_CACHE_MIN_MS = 1000;

/**
 * The exposition text of the last collection, reused while younger than `maxAgeMs`. The guard's
 * gauges change once per poll at most (they report the reading the policy decided on), so a
 * scrape served from here is as fresh as the guard's own view.
 */
export class Exposition<T extends string | Buffer = Buffer> {
  readonly #collect: () => Promise<T>;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  #text: T | undefined;
  #at = 0;
  #pending: Promise<T> | undefined;

  constructor(collect: () => Promise<T>, maxAgeMs: number, now: () => number = Date.now) {
    this.#collect = collect;
    this.#maxAgeMs = maxAgeMs;
    this.#now = now;
  }

  /** The cached text while fresh, else the collection in flight, else a new one. */
  text(): Promise<T> {
    if (this.#text !== undefined && this.#now() - this.#at < this.#maxAgeMs) return Promise.resolve(this.#text);
    this.#pending ??= this.#collect().then(
      (text) => {
        this.#text = text;
        this.#at = this.#now();
        this.#pending = undefined;
        return text;
      },
      (err: unknown) => {
        this.#pending = undefined;
        throw err;
      },
    );
    return this.#pending;
  }
}

/**
 * Collect from the exporter's reader and serialise as the exporter's own handler does, encoded
 * once: each scrape then writes the same bytes. A storm of 20 clients scraping back to back cost
 * the app 0.13 ms of CPU per scrape, against 2.8 ms with a collection per scrape (BENCHMARKS.md,
 * figure 10).
 */
export function exposition(exporter: PrometheusExporter, maxAgeMs: number, merge?: (own: string) => Promise<string>): Exposition<Buffer> {
  const { PrometheusSerializer } = require('@opentelemetry/exporter-prometheus') as typeof import('@opentelemetry/exporter-prometheus');
  const serializer = new PrometheusSerializer();
  return new Exposition(async () => {
    const own = serializer.serialize((await exporter.collect()).resourceMetrics);
    // A cluster primary adds its live workers' expositions, each labelled (cluster.ts).
    return Buffer.from(merge ? await merge(own) : own);
  }, maxAgeMs);
}

function handler(cache: Exposition<Buffer>) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.statusCode = 404;
      res.end('Not found; metrics are at /metrics\n');
      return;
    }
    cache.text().then(
      (body) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
        res.end(body);
      },
      (err: unknown) => {
        res.statusCode = 500;
        res.end(`# failed to collect metrics: ${describeError(err)}\n`);
      },
    );
  };
}

/**
 * Listen for `/metrics`. A busy port (or any listen error) gives one line and no endpoint;
 * nothing else changes. The line goes to stderr only when the port or host was asked for
 * (`where.requested`): the default port being taken is a diagnostic (`info`), and so is, at
 * `debug`, a child of a guarded process finding its parent on it (`parentPid`: it inherited
 * the parent's `NODE_OPTIONS`, and so its port).
 */
export async function serveMetrics(
  cache: Exposition<Buffer>,
  where: Config['metrics'],
  log: AgentLog,
  parentPid: string | undefined,
  cluster: ClusterRole = {},
): Promise<MetricsEndpoint | undefined> {
  const http = require('node:http') as typeof import('node:http');
  const server = http.createServer(handler(cache));
  // Never keep the app alive for the sake of a scrape, not even an idle keep-alive connection.
  server.unref();
  server.on('connection', (socket) => socket.unref());
  if (cluster.socket !== undefined) return listenOnSocket(server, cluster.socket, log);
  const { host, port } = where;
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const at = `${host ?? '*'}:${port}`;
      if (err.code === 'EADDRINUSE' && parentPid) {
        log(`oomguard: metrics port ${at} is held by the parent process (pid ${parentPid}), as expected in a child; no metrics endpoint here`, 'debug');
      } else {
        const line = `oomguard: metrics endpoint off: cannot listen on ${at} (${err.code ?? err.message}); the guard still guards`;
        if (where.requested) log(line);
        else log(`${line}; set OOMGUARD_METRICS_PORT to another port`, 'info');
      }
      resolve(undefined);
    };
    const onListening = () => {
      server.off('error', onError);
      // Later errors (a client reset) must not become an uncaught 'error' event in the app.
      server.on('error', () => {});
      resolve({ server, port: (server.address() as AddressInfo).port });
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port, host, exclusive: true });
  });
}

/** Stop serving at once: open keep-alive scrapes must not hold the shutdown. */
export function closeEndpoint(endpoint: MetricsEndpoint): void {
  endpoint.server.close();
  endpoint.server.closeAllConnections();
  // A socket file (macOS, BSD) goes with the server; Linux's abstract sockets leave nothing.
  if (endpoint.socket && !endpoint.socket.startsWith('\0') && !endpoint.socket.startsWith('\\')) {
    (require('node:fs') as typeof import('node:fs')).rmSync(endpoint.socket, { force: true });
  }
}
