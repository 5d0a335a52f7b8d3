import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeOtlp } from './otlp-proto';

/**
 * Small OTLP receivers for the e2e tests, loopback only. `startOtlpReceiver` speaks OTLP/HTTP:
 * `/v1/traces`, `/v1/metrics` and `/v1/logs` as JSON (`http/json`) or protobuf (`http/protobuf`);
 * `startOtlpGrpcReceiver` speaks OTLP/gRPC (the three Export services, over @grpc/grpc-js).
 * Both decode and store each request with the time it arrived and the protocol it came in.
 * Anything else is answered 415 and counted in `rejected`, so a test sees a wrong protocol.
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

/** How a request came in: `http/json`, `http/protobuf` or `grpc`. */
export type Protocol = 'http/json' | 'http/protobuf' | 'grpc';

export interface ReceivedEvent {
  name: string;
  /** Nanoseconds since the epoch, as a decimal string. */
  time: string;
  attributes: Attrs;
}

export interface ReceivedSpan {
  name: string;
  traceId: string;
  spanId: string;
  /** Nanoseconds since the epoch, as decimal strings. */
  start: string;
  end: string;
  events: ReceivedEvent[];
  status: { code?: number; message?: string } | undefined;
  protocol: Protocol;
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
  protocol: Protocol;
}

export interface ReceivedMetric {
  name: string;
  unit: string | undefined;
  scope: string;
  service: unknown;
  /** The raw OTLP metric (gauge/sum/histogram with its data points). */
  raw: Record<string, unknown>;
  /** The resource's attributes. */
  resource: Attrs;
  at: number;
  protocol: Protocol;
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`: set as `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly url: string;
  readonly spans: ReceivedSpan[];
  readonly logs: ReceivedLog[];
  readonly metrics: ReceivedMetric[];
  /** Requests that were not OTLP on a known path: `${method} ${path} ${content-type}`. */
  readonly rejected: string[];
  close(): Promise<void>;
}

function scalar(v: AnyValue): Scalar {
  return v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ?? v.boolValue;
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

const PATHS = ['/v1/traces', '/v1/metrics', '/v1/logs'] as const;
type OtlpPath = (typeof PATHS)[number];

/** Stores one decoded request; shared by the HTTP and gRPC receivers. */
function store(rx: { spans: ReceivedSpan[]; logs: ReceivedLog[]; metrics: ReceivedMetric[] }, path: OtlpPath, doc: Record<string, unknown>, protocol: Protocol): void {
  const at = Date.now();
  if (path === '/v1/traces') collectSpans(doc, at, protocol, rx.spans);
  else if (path === '/v1/logs') collectLogs(doc, at, protocol, rx.logs);
  else collectMetrics(doc, at, protocol, rx.metrics);
}

/** Start the OTLP/HTTP receiver (JSON and protobuf) on an ephemeral loopback port. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const rx = { spans: [] as ReceivedSpan[], logs: [] as ReceivedLog[], metrics: [] as ReceivedMetric[], rejected: [] as string[] };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const type = String(req.headers['content-type'] ?? '');
      const path = (req.url ?? '').split('?')[0] as OtlpPath;
      const json = type.includes('application/json');
      const proto = type.includes('application/x-protobuf');
      if (req.method !== 'POST' || !(json || proto) || !PATHS.includes(path)) {
        rx.rejected.push(`${req.method} ${path} ${type}`);
        res.writeHead(415).end();
        return;
      }
      let doc: Record<string, unknown>;
      try {
        doc = json ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : decodeOtlp(path, body);
      } catch {
        rx.rejected.push(`${req.method} ${path} undecodable ${type}`);
        res.writeHead(400).end();
        return;
      }
      store(rx, path, doc, json ? 'http/json' : 'http/protobuf');
      // An empty Export*ServiceResponse: {} in JSON, zero bytes in protobuf.
      if (json) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    ...rx,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The OTLP/gRPC services, by the HTTP path their requests are stored under. */
const GRPC_SERVICES: Record<OtlpPath, string> = {
  '/v1/traces': '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  '/v1/metrics': '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  '/v1/logs': '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};

/**
 * Start an OTLP/gRPC receiver on an ephemeral loopback port (plaintext, as
 * `http://127.0.0.1:<port>` asks of the gRPC exporters). The three Export methods take the raw
 * protobuf bytes and answer an empty response, as a collector does.
 */
export async function startOtlpGrpcReceiver(): Promise<OtlpReceiver> {
  const grpc = await import('@grpc/grpc-js');
  const rx = { spans: [] as ReceivedSpan[], logs: [] as ReceivedLog[], metrics: [] as ReceivedMetric[], rejected: [] as string[] };
  const server = new grpc.Server();
  const identity = (b: Buffer): Buffer => b;
  for (const [path, method] of Object.entries(GRPC_SERVICES) as [OtlpPath, string][]) {
    const definition = { export: { path: method, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } };
    server.addService(definition, {
      export: (call: { request: Buffer }, callback: (err: Error | null, res?: Buffer) => void) => {
        try {
          store(rx, path, decodeOtlp(path, call.request), 'grpc');
          callback(null, Buffer.alloc(0));
        } catch (err) {
          rx.rejected.push(`grpc ${method} undecodable`);
          callback(err as Error);
        }
      },
    });
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    url: `http://127.0.0.1:${port}`,
    ...rx,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

type Scoped<K extends string, T> = { resource?: { attributes?: KeyValue[] } } & Record<K, ({ scope?: { name?: string } } & Record<string, T[]>)[]>;

function* walk<T>(doc: Record<string, unknown>, top: string, mid: string, leaf: string): Generator<{ item: T; scope: string; service: unknown; resource: Attrs }> {
  for (const rs of (doc[top] as Scoped<string, T>[] | undefined) ?? []) {
    const resource = attrs(rs.resource?.attributes);
    const service = resource['service.name'];
    for (const ss of (rs[mid] as ({ scope?: { name?: string } } & Record<string, T[]>)[] | undefined) ?? []) {
      for (const item of ss[leaf] ?? []) yield { item, scope: ss.scope?.name ?? '', service, resource };
    }
  }
}

function collectSpans(doc: Record<string, unknown>, at: number, protocol: Protocol, out: ReceivedSpan[]): void {
  type E = { name: string; timeUnixNano?: string | number; attributes?: KeyValue[] };
  type S = { name: string; traceId: string; spanId: string; startTimeUnixNano?: string | number; endTimeUnixNano?: string | number; attributes?: KeyValue[]; events?: E[]; status?: { code?: number; message?: string } };
  for (const { item, scope, service } of walk<S>(doc, 'resourceSpans', 'scopeSpans', 'spans')) {
    out.push({
      name: item.name,
      traceId: item.traceId,
      spanId: item.spanId,
      start: String(item.startTimeUnixNano ?? ''),
      end: String(item.endTimeUnixNano ?? ''),
      events: (item.events ?? []).map((e) => ({ name: e.name, time: String(e.timeUnixNano ?? ''), attributes: attrs(e.attributes) })),
      status: item.status,
      scope,
      service,
      attributes: attrs(item.attributes),
      at,
      protocol,
    });
  }
}

function collectLogs(doc: Record<string, unknown>, at: number, protocol: Protocol, out: ReceivedLog[]): void {
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
      protocol,
    });
  }
}

function collectMetrics(doc: Record<string, unknown>, at: number, protocol: Protocol, out: ReceivedMetric[]): void {
  type M = { name: string; unit?: string } & Record<string, unknown>;
  for (const { item, scope, service, resource } of walk<M>(doc, 'resourceMetrics', 'scopeMetrics', 'metrics')) {
    out.push({ name: item.name, unit: item.unit, scope, service, resource, raw: item, at, protocol });
  }
}
