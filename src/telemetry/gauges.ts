/**
 * The guard's observable gauges. One batch callback observes every gauge from one
 * `source.latest()` call, so a scrape shows one reading (the one the policy decided on) and never
 * takes a sample of its own. The SDK stamps points with the collection time; the reading's own
 * time is on the event attributes.
 */
import type { Attributes, BatchObservableCallback, Meter, Observable } from '@opentelemetry/api';
import type { Snapshot } from '../types';
import * as sc from '../semconv';
import { safe } from '../safely';
import { READING_FIELDS, reportable, thresholdEntries } from './fields';

/** What telemetry reads on collect: the watcher's last decision, never a fresh sample. */
export interface TelemetrySource {
  /** The reading the policy last decided on (same object), its thresholds, state and pressure. */
  latest(): Snapshot | undefined;
}

/** Create the gauges on `meter`; returns what removes their callback again (for shutdown). */
export function registerGauges(meter: Meter, source: TelemetrySource): () => void {
  const gauge = (name: string, description: string, unit: string) => meter.createObservableGauge(name, { description, unit });
  const fields = READING_FIELDS.map((f) => ({ read: f.read, gauge: gauge(f.name, f.description, sc.UNIT_BYTES) }));
  const threshold = gauge(sc.METRIC_THRESHOLD, 'Threshold in bytes by signal (heap, rss) and level (warn, shutdown).', sc.UNIT_BYTES);
  const pressure = gauge(sc.METRIC_PRESSURE, 'Highest reading / shutdown-threshold ratio; 1 means the guard acts.', sc.UNIT_ONE);
  const state = gauge(sc.METRIC_STATE, 'Guard state: 0 ok, 1 warn, 2 shutting down.', sc.UNIT_ONE);
  const observed = meter.createObservableCounter(sc.METRIC_SHUTDOWNS_OBSERVED, {
    description: 'Shadow mode (OOMGUARD_ACTION=observe): shutdowns the guard would have made and did not.',
    unit: sc.UNIT_SHUTDOWN,
  });
  const observables: Observable[] = [...fields.map((f) => f.gauge), threshold, pressure, state, observed];

  const callback: BatchObservableCallback = (result) => {
    // A failing source yields missing values, never a failed scrape.
    const snap = safe(() => source.latest());
    if (!snap) return;
    const put = (o: Observable, v: number | undefined, attrs?: Attributes) => {
      if (reportable(v)) result.observe(o, v, attrs);
    };
    for (const f of fields) put(f.gauge, f.read(snap.reading));
    for (const [signal, level, bytes] of thresholdEntries(snap.thresholds)) {
      put(threshold, bytes, { [sc.ATTR_SIGNAL]: signal, [sc.ATTR_LEVEL]: level });
    }
    put(pressure, snap.pressure);
    put(state, sc.STATE_VALUE[snap.state]);
    // Only in shadow mode, and from 0 on, so that increase() sees the first one.
    put(observed, snap.observedShutdowns);
  };
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}
