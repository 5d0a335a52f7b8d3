import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small OTLP/HTTP receiver for the e2e tests: loopback only, accepts `/v1/traces`,
 * `/v1/metrics` and `/v1/logs` as JSON (what the agent's `*-otlp-http` exporters send), decodes
 * and stores each request with the time it arrived. Anything else (protobuf included) is
 * answered 415 and counted in `rejected`, so a test sees when a sender spoke the wrong protocol.
 */

type AnyValue = {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
};
type KeyValue = { key: string; value: AnyValue };

type Scalar = string | number | boolean | undefined;
export type Attrs = Record<string, Scalar | Scalar[]>;

export interface ReceivedSpan {
  name: string;
  traceId: string;
  spanId: string;
  scope: string;
  service: unknown;
  attributes: Attrs;
  /** `Date.now()` when the request carrying it arrived. */
  at: number;
}

export interface ReceivedLog {
  eventName: string | undefined;
  /** The body, when it is a string. */
  body: string | undefined;
  severityNumber: number | undefined;
  severityText: string | undefined;
  traceId: string | undefined;
  spanId: string | undefined;
  scope: string;
  service: unknown;
  attributes: Attrs;
  at: number;
}

export interface ReceivedMetric {
  name: string;
  unit: string | undefined;
  scope: string;
  service: unknown;
  /** The raw OTLP metric (gauge/sum/histogram with its data points). */
  raw: Record<string, unknown>;
  at: number;
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`: set as `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly url: string;
  readonly spans: ReceivedSpan[];
  readonly logs: ReceivedLog[];
  readonly metrics: ReceivedMetric[];
  /** Requests that were not OTLP/JSON on a known path: `${method} ${path} ${content-type}`. */
  readonly rejected: string[];
  close(): Promise<void>;
}

/** Decode an OTLP JSON attribute list into a plain record. */
export function attrs(list: KeyValue[] | undefined): Attrs {
  const out: Attrs = {};
  for (const kv of list ?? []) {
    const v = kv.value ?? {};
    out[kv.key] = v.arrayValue ? (v.arrayValue.values ?? []).map(scalar) : scalar(v);
  }
  return out;
}

function scalar(v: AnyValue): Scalar {
  return v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ?? v.boolValue;
}

/** Start the receiver on an ephemeral loopback port. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const logs: ReceivedLog[] = [];
  const metrics: ReceivedMetric[] = [];
  const rejected: string[] = [];

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const at = Date.now();
      const type = String(req.headers['content-type'] ?? '');
      const path = (req.url ?? '').split('?')[0];
      if (req.method !== 'POST' || !type.includes('application/json') || !['/v1/traces', '/v1/metrics', '/v1/logs'].includes(path!)) {
        rejected.push(`${req.method} ${path} ${type}`);
        res.writeHead(415).end();
        return;
      }
      let doc: Record<string, unknown>;
      try {
        doc = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      } catch {
        rejected.push(`${req.method} ${path} bad-json`);
        res.writeHead(400).end();
        return;
      }
      if (path === '/v1/traces') collectSpans(doc, at, spans);
      else if (path === '/v1/logs') collectLogs(doc, at, logs);
      else collectMetrics(doc, at, metrics);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    logs,
    metrics,
    rejected,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

type Scoped<K extends string, T> = { resource?: { attributes?: KeyValue[] } } & Record<K, ({ scope?: { name?: string } } & Record<string, T[]>)[]>;

function* walk<T>(doc: Record<string, unknown>, top: string, mid: string, leaf: string): Generator<{ item: T; scope: string; service: unknown }> {
  for (const rs of (doc[top] as Scoped<string, T>[] | undefined) ?? []) {
    const service = attrs(rs.resource?.attributes)['service.name'];
    for (const ss of (rs[mid] as ({ scope?: { name?: string } } & Record<string, T[]>)[] | undefined) ?? []) {
      for (const item of ss[leaf] ?? []) yield { item, scope: ss.scope?.name ?? '', service };
    }
  }
}

function collectSpans(doc: Record<string, unknown>, at: number, out: ReceivedSpan[]): void {
  type S = { name: string; traceId: string; spanId: string; attributes?: KeyValue[] };
  for (const { item, scope, service } of walk<S>(doc, 'resourceSpans', 'scopeSpans', 'spans')) {
    out.push({ name: item.name, traceId: item.traceId, spanId: item.spanId, scope, service, attributes: attrs(item.attributes), at });
  }
}

function collectLogs(doc: Record<string, unknown>, at: number, out: ReceivedLog[]): void {
  type L = { eventName?: string; body?: AnyValue; severityNumber?: number; severityText?: string; traceId?: string; spanId?: string; attributes?: KeyValue[] };
  for (const { item, scope, service } of walk<L>(doc, 'resourceLogs', 'scopeLogs', 'logRecords')) {
    out.push({
      eventName: item.eventName,
      body: item.body?.stringValue,
      severityNumber: item.severityNumber,
      severityText: item.severityText,
      traceId: item.traceId,
      spanId: item.spanId,
      scope,
      service,
      attributes: attrs(item.attributes),
      at,
    });
  }
}

function collectMetrics(doc: Record<string, unknown>, at: number, out: ReceivedMetric[]): void {
  type M = { name: string; unit?: string } & Record<string, unknown>;
  for (const { item, scope, service } of walk<M>(doc, 'resourceMetrics', 'scopeMetrics', 'metrics')) {
    out.push({ name: item.name, unit: item.unit, scope, service, raw: item, at });
  }
}
