/**
 * A pressure event as OpenTelemetry signals: one span and one log record of the same name, the
 * record correlated with the span, both carrying the crossing, the whole reading and every
 * threshold, so an operator sees in one event why the guard acted.
 */
import type { Attributes, Logger, Tracer } from '@opentelemetry/api';
import type { GuardState, PressureEvent } from '../types';
import * as sc from '../semconv';
import { READING_FIELDS, reportable, thresholdEntries } from './fields';

/** Event name and log severity by level: a shutdown is an error, a cleared warning news. */
const KINDS: Readonly<Record<GuardState, readonly [name: string, severity: 'ERROR' | 'WARN' | 'INFO']>> = {
  shutdown: [sc.EVENT_SHUTDOWN, 'ERROR'],
  warn: [sc.EVENT_WARNING, 'WARN'],
  ok: [sc.EVENT_RECOVERED, 'INFO'],
};

/** Span and log attributes of one event: the crossing, the whole reading and every threshold. */
function eventAttributes(event: PressureEvent): Attributes {
  const r = event.reading;
  const attributes: Attributes = {
    [sc.ATTR_SIGNAL]: event.signal,
    [sc.ATTR_LEVEL]: event.level,
    [sc.ATTR_REASON]: event.reason,
    [sc.ATTR_VALUE]: event.value,
    [sc.ATTR_THRESHOLD]: event.threshold,
    [sc.ATTR_PRESSURE]: event.pressure,
    [sc.ATTR_READING_TIME]: new Date(r.time).toISOString(),
  };
  const numbers: [string, number | undefined][] = [
    ...READING_FIELDS.map((f): [string, number | undefined] => [f.name, f.read(r)]),
    [sc.ATTR_OLD_GEN_IN_USE, r.oldGenInUse],
    [sc.ATTR_GC_MAJOR_COUNT, r.gc.majorCount],
    [sc.ATTR_GC_RECENT_MAJORS, r.gc.recentMajors],
    [sc.ATTR_GC_RECENT_SHARE, r.gc.recentGcShare],
    ...thresholdEntries(event.thresholds).map(([signal, level, bytes]): [string, number | undefined] => [sc.attrThreshold(signal, level), bytes]),
  ];
  for (const [key, value] of numbers) {
    if (reportable(value)) attributes[key] = value;
  }
  for (const [field, value] of Object.entries(event.grounds ?? {})) {
    if (typeof value === 'string' || reportable(value)) attributes[sc.attrGrounds(field)] = value;
  }
  return attributes;
}

/** Emit `event` as a span (through `tracer`) and a log record (through `logger`); may throw. */
export function emitEvent(event: PressureEvent, tracer: Tracer | undefined, logger: Logger | undefined): void {
  if (!tracer && !logger) return;
  // Required, not imported: loading this module must load no OpenTelemetry code (see index.ts).
  const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  const [name, severityText] = KINDS[event.level] ?? KINDS.ok;
  const attributes = eventAttributes(event);
  // ROOT_CONTEXT, not context.active(): the app's context manager (if any) must not make our
  // span a child of whatever request happened to be running when the watcher ticked.
  let context = api.ROOT_CONTEXT;
  if (tracer) {
    const span = tracer.startSpan(name, { kind: api.SpanKind.INTERNAL, startTime: event.reading.time, attributes }, api.ROOT_CONTEXT);
    if (event.level === 'shutdown') span.setStatus({ code: api.SpanStatusCode.ERROR, message: event.reason });
    span.end();
    context = api.trace.setSpan(api.ROOT_CONTEXT, span);
  }
  const what = event.level === 'ok' ? 'memory pressure cleared' : `memory pressure ${event.level}`;
  logger?.emit({
    eventName: name,
    severityNumber: api.SeverityNumber[severityText],
    severityText,
    timestamp: event.reading.time,
    body: `${what}: ${event.signal} ${event.value} bytes, threshold ${event.threshold} bytes (${event.reason})`,
    attributes,
    context,
  });
}
