/**
 * The `/metrics` endpoint: our own `http` server serving the Prometheus exporter's handler. The
 * exporter's own server maps port 0 to its default 9464 and reports a busy port only through
 * `diag`, which the agent must not take over from the app; with our server port 0 means an
 * ephemeral port and a busy port is one line through the agent's log.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { Config } from '../types';

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

/** The exporter's exposition as text (its handler only sets a status, a header and the body). */
function ownExposition(exporter: PrometheusExporter): Promise<string> {
  return new Promise((resolve) => {
    const capture = { statusCode: 200, setHeader: () => capture, end: (text?: string) => resolve(text ?? '') };
    exporter.getMetricsRequestHandler(undefined as never, capture as never);
  });
}

async function serveMerged(exporter: PrometheusExporter, merge: (own: string) => Promise<string>, res: import('node:http').ServerResponse): Promise<void> {
  let text: string;
  try {
    text = await merge(await ownExposition(exporter));
  } catch (err) {
    text = `# failed to export metrics: ${String(err)}\n`;
  }
  res.statusCode = 200;
  res.setHeader('content-type', 'text/plain');
  res.end(text);
}

/** A cluster worker's endpoint: a local socket (a stale file of a dead pid is replaced). */
function listenOnSocket(server: Server, socket: string, say: (line: string) => void): Promise<MetricsEndpoint | undefined> {
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

/**
 * Listen for `/metrics`. A busy port (or any listen error) gives one line and no endpoint;
 * nothing else changes. A child of a guarded process inherits the parent's `NODE_OPTIONS` and so
 * its port: `parentPid` says the clash is expected, and the line says so.
 */
export async function serveMetrics(
  exporter: PrometheusExporter,
  where: Config['metrics'],
  say: (line: string) => void,
  parentPid: string | undefined,
  cluster: ClusterRole = {},
): Promise<MetricsEndpoint | undefined> {
  const http = require('node:http') as typeof import('node:http');
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      if (cluster.merge) void serveMerged(exporter, cluster.merge, res);
      else exporter.getMetricsRequestHandler(req, res);
    } else {
      res.statusCode = 404;
      res.end('Not found; metrics are at /metrics\n');
    }
  });
  // Never keep the app alive for the sake of a scrape.
  server.unref();
  if (cluster.socket !== undefined) return listenOnSocket(server, cluster.socket, say);
  const { host, port } = where;
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const at = `${host ?? '*'}:${port}`;
      if (err.code === 'EADDRINUSE' && parentPid) {
        say(`oomguard: metrics port ${at} is held by the parent process (pid ${parentPid}), as expected in a child; no metrics endpoint here`);
      } else {
        say(`oomguard: metrics endpoint off: cannot listen on ${at} (${err.code ?? err.message}); the guard still guards`);
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
