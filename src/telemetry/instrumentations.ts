/**
 * The maintained runtime-node and host-metrics instrumentations, fed into the agent's private
 * meter provider so that GC, event-loop and process figures sit next to the guard's gauges on the
 * same endpoint, without touching the app's global provider.
 */
import type { MeterProvider } from '@opentelemetry/api';
import type { InstrumentationName } from '../types';
import * as sc from '../semconv';
import { describeError } from '../safely';
import type { AgentLog } from '../log';
import { turn } from './sdk';

/** What the agent needs of an instrumentation: to bind it to a provider, and to stop it. */
interface Instrumentation {
  setMeterProvider(provider: MeterProvider): void;
  enable(): void;
  disable(): void;
}

/**
 * Constructed with `enabled: false`, then given our provider, then enabled: constructed enabled,
 * an instrumentation would first bind to the global (no-op) provider.
 */
const INSTRUMENTATIONS: readonly (readonly [what: InstrumentationName, make: () => Instrumentation])[] = [
  [
    'runtime',
    () => {
      const { RuntimeNodeInstrumentation } = require('@opentelemetry/instrumentation-runtime-node') as typeof import('@opentelemetry/instrumentation-runtime-node');
      return new RuntimeNodeInstrumentation({ enabled: false });
    },
  ],
  [
    'host',
    () => {
      const { HostMetricsInstrumentation } = require('@opentelemetry/instrumentation-host-metrics') as typeof import('@opentelemetry/instrumentation-host-metrics');
      return new HostMetricsInstrumentation({ enabled: false, metricGroups: [...sc.HOST_METRIC_GROUPS] });
    },
  ],
];

/**
 * Start each instrumentation `wanted` names (`OOMGUARD_INSTRUMENTATIONS`) on `meterProvider`, one
 * event-loop turn apart (each is a heavy require); one not wanted is not even loaded. One that
 * fails to load or start gives one line and is left out; the rest still run.
 */
export async function startInstrumentations(
  meterProvider: MeterProvider,
  wanted: readonly InstrumentationName[],
  say: AgentLog,
): Promise<Instrumentation[]> {
  const started: Instrumentation[] = [];
  for (const [what, make] of INSTRUMENTATIONS) {
    if (!wanted.includes(what)) continue;
    await turn();
    try {
      const instrumentation = make();
      instrumentation.setMeterProvider(meterProvider);
      instrumentation.enable();
      started.push(instrumentation);
    } catch (err) {
      say(`oomguard: ${what} metrics off: ${describeError(err)}`, 'warn');
    }
  }
  return started;
}
