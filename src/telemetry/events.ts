/**
 * A pressure event as OpenTelemetry signals: one span and one log record of the same name, the
 * record correlated with the span, both carrying the crossing, the whole reading and every
 * threshold, so an operator sees in one event why the guard acted.
 *
 * A warning or a recovery is an instant. A shutdown is not: its span starts at the reading the
 * guard acted on and stays open while the shutdown hooks run, one span event per hook as it
 * settled, and ends when they are done, just before the flush that sends it, so its duration is
 * the drain time. The log record goes out at once, at the decision, so that a shutdown cut short
 * (the deadline, an emergency exit) still leaves its record; such a shutdown leaves no span.
 */
import type { Attributes, Logger, Span, Tracer } from '@opentelemetry/api';
import type { GuardState, PressureEvent } from '../types';
import type { HookResult } from '../shutdown';
import * as sc from '../semconv';
import { READING_FIELDS, reportable, thresholdEntries } from './fields';
import { evidenceAttributes } from './evidence';
import { headline } from '../evidence/report';

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
  if (event.observed) attributes[sc.ATTR_OBSERVED] = true;
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
  return { ...attributes, ...evidenceAttributes(event.evidence) };
}

/**
 * Emit `event` as a span (through `tracer`) and a log record (through `logger`); may throw.
 * Returns the span of a shutdown, still open: `endShutdownSpan` ends it.
 */
export function emitEvent(event: PressureEvent, tracer: Tracer | undefined, logger: Logger | undefined): Span | undefined {
  if (!tracer && !logger) return undefined;
  // Required, not imported: loading this module must load no OpenTelemetry code (see index.ts).
  const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  // An observed shutdown (shadow mode) is news of what would have happened, not a failure.
  const [name, severityText] = event.observed ? [sc.EVENT_SHUTDOWN, 'WARN' as const] : (KINDS[event.level] ?? KINDS.ok);
  const attributes = eventAttributes(event);
  // ROOT_CONTEXT, not context.active(): the app's context manager (if any) must not make our
  // span a child of whatever request happened to be running when the watcher ticked.
  let context = api.ROOT_CONTEXT;
  let open: Span | undefined;
  if (tracer) {
    const span = tracer.startSpan(name, { kind: api.SpanKind.INTERNAL, startTime: event.reading.time, attributes }, api.ROOT_CONTEXT);
    if (event.level === 'shutdown' && !event.observed) {
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: event.reason });
      open = span;
    } else {
      span.end();
    }
    context = api.trace.setSpan(api.ROOT_CONTEXT, span);
  }
  const what = event.level === 'ok' ? 'memory pressure cleared' : event.observed ? 'memory pressure shutdown observed (OOMGUARD_ACTION=observe: not acting)' : `memory pressure ${event.level}`;
  logger?.emit({
    eventName: name,
    severityNumber: api.SeverityNumber[severityText],
    severityText,
    timestamp: event.reading.time,
    body: `${what}: ${event.signal} ${event.value} bytes, threshold ${event.threshold} bytes (${event.reason})${bodyEvidence(event)}`,
    attributes,
    context,
  });
  return open;
}

/**
 * End a shutdown's span: one `oomguard.hook` event per hook, at the time it settled (all hooks
 * start together, and the flush that calls this follows the last one, so each settled `ms`
 * after `now - max(ms)`), with its name, outcome, duration and error. Never throws.
 */
export function endShutdownSpan(span: Span, hooks: readonly HookResult[] = [], now: number = Date.now()): void {
  try {
    const started = now - hooks.reduce((max, h) => Math.max(max, h.ms), 0);
    for (const hook of hooks) {
      const attributes: Attributes = { [sc.ATTR_HOOK_NAME]: hook.name, [sc.ATTR_HOOK_OUTCOME]: hook.outcome, [sc.ATTR_HOOK_DURATION]: hook.ms };
      if (hook.error !== undefined) attributes[sc.ATTR_ERROR_MESSAGE] = hook.error;
      span.addEvent(sc.EVENT_HOOK, attributes, started + hook.ms);
    }
    span.setAttribute(sc.ATTR_HOOKS_FAILED, hooks.filter((h) => h.outcome !== 'ok').length);
  } finally {
    span.end(now);
  }
}

/** The shutdown's headline after the body's own text: the first line an operator reads names the leak. */
function bodyEvidence(event: PressureEvent): string {
  const text = event.evidence && headline(event.evidence);
  return text ? `; ${text}` : '';
}
