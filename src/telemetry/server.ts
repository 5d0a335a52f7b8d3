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
  port: number;
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
): Promise<MetricsEndpoint | undefined> {
  const http = require('node:http') as typeof import('node:http');
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      exporter.getMetricsRequestHandler(req, res);
    } else {
      res.statusCode = 404;
      res.end('Not found; metrics are at /metrics\n');
    }
  });
  // Never keep the app alive for the sake of a scrape.
  server.unref();
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
}
