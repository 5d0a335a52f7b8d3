/**
 * How the agent's OTLP exports travel so that none of them ever keeps the app alive or delays
 * its exit, whatever the collector does (refuses, answers slowly, or accepts and never answers).
 *
 * - Sockets: the exporters get an `http.Agent` whose sockets are `unref()`'d, including a
 *   keep-alive socket handed out again (`reuseSocket` refs it). A request waiting on a black
 *   hole then holds nothing; `req.setTimeout`, which the exporters use, is a socket timer and
 *   holds nothing either.
 * - Timers: the OTLP exporters retry a failed request after a back-off that starts at 0.8-1.2 s
 *   (`@opentelemetry/otlp-exporter-base`, retrying-transport: 1000 ms x (1 +/- 0.2)), on a
 *   ref'd `setTimeout`, and only when the back-off fits in what is left of the request's timeout.
 *   With each request given {@link EXPORT_TIMEOUT_MS} no back-off ever fits, so no retry timer is
 *   ever created. The agent's payloads are a few kilobytes; a collector answers them in
 *   milliseconds, and an event that cannot be delivered in that time is lost rather than paid
 *   for by the app.
 * - The SDK's own waits: the periodic metric reader races each export against a ref'd
 *   `setTimeout` of `OTEL_METRIC_EXPORT_TIMEOUT` (`callWithTimeout`), and span and log record
 *   processors track the export promise. {@link detached} answers the SDK at once and keeps the
 *   real export to itself, so nothing of the SDK waits on the network; `forceFlush` (the final
 *   flush of a shutdown, bounded by the caller) still waits for what is in flight.
 *
 * `destroy()` cancels whatever is still in flight, for `stop()`.
 */
import type { Agent as HttpAgent } from 'node:http';
import type { Socket } from 'node:net';
import { describeError } from '../safely';
import type { AgentLog } from '../log';

/** Each OTLP request of the agent's exporters: below the exporters' first retry back-off (800 ms). */
export const EXPORT_TIMEOUT_MS = 750;

/** `ExportResultCode.SUCCESS` of `@opentelemetry/core`. */
const SUCCESS = 0;

/** What the OTLP/HTTP exporters' constructors take from us. */
export interface ExportOptions {
  timeoutMillis: number;
  httpAgentOptions: (protocol: string) => HttpAgent;
}

/** The agents handed out, so `destroy()` can cancel what is in flight. */
export class ExportTransport {
  readonly #agents = new Set<HttpAgent>();

  /** Options for an OTLP/HTTP exporter's constructor. */
  options(): ExportOptions {
    return { timeoutMillis: EXPORT_TIMEOUT_MS, httpAgentOptions: (protocol) => this.#agent(protocol) };
  }

  /** Close every socket at once: pending exports fail now instead of at their timeout. */
  destroy(): void {
    for (const agent of this.#agents) agent.destroy();
    this.#agents.clear();
  }

  #agent(protocol: string): HttpAgent {
    // Required here, not imported: an http instrumentation of the app patches the modules when
    // they load, and the exporters' docs ask factories to load them late for that reason.
    const { Agent } = (protocol === 'https:' ? require('node:https') : require('node:http')) as typeof import('node:http');
    const agent = unrefAgent(Agent, { keepAlive: true });
    this.#agents.add(agent);
    return agent;
  }
}

/** An agent of the given class whose sockets never hold the event loop. */
function unrefAgent(Base: typeof HttpAgent, options: ConstructorParameters<typeof HttpAgent>[0]): HttpAgent {
  class Unref extends Base {
    override createConnection(...args: Parameters<HttpAgent['createConnection']>): ReturnType<HttpAgent['createConnection']> {
      const socket = super.createConnection(...args);
      (socket as Socket | undefined)?.unref?.();
      return socket;
    }

    // Node's keep-alive pool refs a socket again when it hands it out (_http_agent.js).
    override reuseSocket(socket: Socket, req: Parameters<HttpAgent['reuseSocket']>[1]): void {
      super.reuseSocket(socket, req);
      socket.unref();
    }
  }
  return new Unref(options);
}

/** What {@link detached} needs of an exporter (span, log record and push metric exporters all fit). */
export interface Exporter<T> {
  export(items: T, resultCallback: (result: { code: number; error?: Error }) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
}

/**
 * `exporter`, answering the SDK at once while the real export runs on (see the file comment).
 * A failed export is one diagnostic line at `warn` through `log`, never the app's `diag`.
 */
export function detached<T, E extends Exporter<T>>(exporter: E, what: string, log: AgentLog): E {
  const pending = new Set<Promise<void>>();
  const wrapper = Object.create(exporter) as E;
  wrapper.export = (items, resultCallback) => {
    const done = new Promise<void>((resolve) => {
      try {
        exporter.export(items, (result) => {
          if (result.code !== SUCCESS) log(`oomguard: OTLP ${what} export failed: ${result.error ? describeError(result.error) : `code ${result.code}`}`, 'warn');
          resolve();
        });
      } catch (err) {
        log(`oomguard: OTLP ${what} export failed: ${describeError(err)}`, 'warn');
        resolve();
      }
    });
    pending.add(done);
    void done.then(() => pending.delete(done));
    resultCallback({ code: SUCCESS });
  };
  wrapper.forceFlush = async () => {
    await Promise.all(pending);
    await exporter.forceFlush?.();
  };
  wrapper.shutdown = () => exporter.shutdown();
  // A metric exporter's selectors, called with the exporter itself (its fields may be private).
  for (const name of ['selectAggregationTemporality', 'selectAggregation'] as const) {
    const method = (exporter as Record<string, unknown>)[name];
    if (typeof method === 'function') Object.defineProperty(wrapper, name, { value: method.bind(exporter) });
  }
  return wrapper;
}
