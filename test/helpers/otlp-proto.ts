/**
 * Decodes OTLP protobuf requests (ExportTraceServiceRequest, ExportMetricsServiceRequest,
 * ExportLogsServiceRequest) into the shape OTLP/JSON gives them, so the receivers store what a
 * collector would, whichever protocol the exporter spoke. A plain wire-format reader over the
 * field numbers of opentelemetry-proto (v1): what the tests read, unknown fields skipped.
 * https://github.com/open-telemetry/opentelemetry-proto/tree/main/opentelemetry/proto
 */

type Kind = 'string' | 'bytes' | 'varint' | 'fixed64' | 'sfixed64' | 'double' | 'fixed32' | 'bool';
/** name, then a scalar kind or a message name; a leading `*` marks a repeated field. */
type Field = [name: string, type: Kind | string];
type Schema = Record<string, Record<number, Field>>;

const SCHEMA: Schema = {
  AnyValue: { 1: ['stringValue', 'string'], 2: ['boolValue', 'bool'], 3: ['intValue', 'varint'], 4: ['doubleValue', 'double'], 5: ['arrayValue', 'ArrayValue'], 6: ['kvlistValue', 'KeyValueList'], 7: ['bytesValue', 'bytes'] },
  ArrayValue: { 1: ['*values', 'AnyValue'] },
  KeyValueList: { 1: ['*values', 'KeyValue'] },
  KeyValue: { 1: ['key', 'string'], 2: ['value', 'AnyValue'] },
  Resource: { 1: ['*attributes', 'KeyValue'] },
  Scope: { 1: ['name', 'string'], 2: ['version', 'string'], 3: ['*attributes', 'KeyValue'] },
  // traces
  Traces: { 1: ['*resourceSpans', 'ResourceSpans'] },
  ResourceSpans: { 1: ['resource', 'Resource'], 2: ['*scopeSpans', 'ScopeSpans'] },
  ScopeSpans: { 1: ['scope', 'Scope'], 2: ['*spans', 'Span'] },
  Span: {
    1: ['traceId', 'bytes'],
    2: ['spanId', 'bytes'],
    4: ['parentSpanId', 'bytes'],
    5: ['name', 'string'],
    6: ['kind', 'varint'],
    7: ['startTimeUnixNano', 'fixed64'],
    8: ['endTimeUnixNano', 'fixed64'],
    9: ['*attributes', 'KeyValue'],
    11: ['*events', 'Event'],
    15: ['status', 'Status'],
  },
  Event: { 1: ['timeUnixNano', 'fixed64'], 2: ['name', 'string'], 3: ['*attributes', 'KeyValue'] },
  Status: { 2: ['message', 'string'], 3: ['code', 'varint'] },
  // logs
  Logs: { 1: ['*resourceLogs', 'ResourceLogs'] },
  ResourceLogs: { 1: ['resource', 'Resource'], 2: ['*scopeLogs', 'ScopeLogs'] },
  ScopeLogs: { 1: ['scope', 'Scope'], 2: ['*logRecords', 'LogRecord'] },
  LogRecord: {
    1: ['timeUnixNano', 'fixed64'],
    2: ['severityNumber', 'varint'],
    3: ['severityText', 'string'],
    5: ['body', 'AnyValue'],
    6: ['*attributes', 'KeyValue'],
    9: ['traceId', 'bytes'],
    10: ['spanId', 'bytes'],
    11: ['observedTimeUnixNano', 'fixed64'],
    12: ['eventName', 'string'],
  },
  // metrics
  Metrics: { 1: ['*resourceMetrics', 'ResourceMetrics'] },
  ResourceMetrics: { 1: ['resource', 'Resource'], 2: ['*scopeMetrics', 'ScopeMetrics'] },
  ScopeMetrics: { 1: ['scope', 'Scope'], 2: ['*metrics', 'Metric'] },
  Metric: { 1: ['name', 'string'], 2: ['description', 'string'], 3: ['unit', 'string'], 5: ['gauge', 'Gauge'], 7: ['sum', 'Sum'], 9: ['histogram', 'Histogram'] },
  Gauge: { 1: ['*dataPoints', 'NumberDataPoint'] },
  Sum: { 1: ['*dataPoints', 'NumberDataPoint'], 2: ['aggregationTemporality', 'varint'], 3: ['isMonotonic', 'bool'] },
  Histogram: { 1: ['*dataPoints', 'HistogramDataPoint'], 2: ['aggregationTemporality', 'varint'] },
  NumberDataPoint: { 2: ['startTimeUnixNano', 'fixed64'], 3: ['timeUnixNano', 'fixed64'], 4: ['asDouble', 'double'], 6: ['asInt', 'sfixed64'], 7: ['*attributes', 'KeyValue'] },
  HistogramDataPoint: { 4: ['count', 'fixed64'], 5: ['sum', 'double'], 9: ['*attributes', 'KeyValue'] },
};

/** The request message of each OTLP path (HTTP) or gRPC service. */
export const REQUEST_OF = { '/v1/traces': 'Traces', '/v1/metrics': 'Metrics', '/v1/logs': 'Logs' } as const;

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('truncated varint');
      const byte = this.buf[this.pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  }
  take(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw new Error('truncated field');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

function scalar(kind: Kind, wire: number, r: Reader): unknown {
  if (wire === 0) {
    const v = r.varint();
    if (kind === 'bool') return v !== 0n;
    // int64 in two's complement over 64 bits
    const signed = v >= 1n << 63n ? v - (1n << 64n) : v;
    return kind === 'varint' ? Number(signed) : signed.toString();
  }
  if (wire === 1) {
    const b = r.take(8);
    if (kind === 'double') return b.readDoubleLE(0);
    if (kind === 'sfixed64') return Number(b.readBigInt64LE(0));
    return b.readBigUInt64LE(0).toString();
  }
  if (wire === 5) return r.take(4).readUInt32LE(0);
  const bytes = r.take(Number(r.varint()));
  if (kind === 'string') return bytes.toString('utf8');
  return bytes.toString('hex');
}

function decodeMessage(type: string, buf: Buffer): Record<string, unknown> {
  const fields = SCHEMA[type];
  if (!fields) throw new Error(`no schema for ${type}`);
  const out: Record<string, unknown> = {};
  const r = new Reader(buf);
  while (r.pos < r.buf.length) {
    const tag = Number(r.varint());
    const wire = tag & 7;
    const field = fields[tag >>> 3];
    if (!field) {
      skip(wire, r);
      continue;
    }
    const [rawName, kind] = field;
    const repeated = rawName.startsWith('*');
    const name = repeated ? rawName.slice(1) : rawName;
    const value = SCHEMA[kind] ? decodeMessage(kind, r.take(Number(r.varint()))) : scalar(kind as Kind, wire, r);
    if (repeated) ((out[name] ??= []) as unknown[]).push(value);
    else out[name] = value;
  }
  return out;
}

function skip(wire: number, r: Reader): void {
  if (wire === 0) r.varint();
  else if (wire === 1) r.take(8);
  else if (wire === 2) r.take(Number(r.varint()));
  else if (wire === 5) r.take(4);
  else throw new Error(`unsupported wire type ${wire}`);
}

/** An OTLP request body as OTLP/JSON would have carried it. */
export function decodeOtlp(path: keyof typeof REQUEST_OF, body: Buffer): Record<string, unknown> {
  return decodeMessage(REQUEST_OF[path], body);
}
