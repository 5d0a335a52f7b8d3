/**
 * `OOMGUARD_METRICS=global`: the guard's gauges published through the app's own OpenTelemetry
 * MeterProvider, so an app that already exports metrics (Prometheus, OTLP, anything) gets the
 * guard's next to its own, on its own endpoint, with no second port and no provider of ours.
 *
 * The agent never registers a global itself (with `@opentelemetry/api` the first registration
 * wins, and the app's would then be refused); it waits for the app's. The preload runs before
 * the app's SDK starts, so the global is looked up again every {@link LOOK_EVERY_MS} on an
 * `unref()`'d timer until it is there: a property read, nothing more.
 *
 * The global slot is read directly (`globalThis[Symbol.for('opentelemetry.js.api.1')].metrics`)
 * rather than through the agent's own `@opentelemetry/api`: that copy accepts a global
 * registered by an API of its own minor version or newer only, and an app on an older 1.x API
 * would never be found. The gauges use `getMeter`, observable gauges and batch callbacks, which
 * every 1.x API since 1.3 has.
 */
import type { MeterProvider } from '@opentelemetry/api';
import type { AgentLog } from '../log';
import * as sc from '../semconv';
import { describeError } from '../safely';
import { registerGauges, type TelemetrySource } from './gauges';

/** The API's global registry, by major version (`@opentelemetry/api`, internal/global-utils). */
const GLOBAL_API = Symbol.for('opentelemetry.js.api.1');

/** How often the global is looked for until the app has registered one. */
export const LOOK_EVERY_MS = 1000;

/** The app's registered global MeterProvider, or undefined while it has none. */
export function globalMeterProvider(): MeterProvider | undefined {
  const api = (globalThis as Record<symbol, { metrics?: unknown } | undefined>)[GLOBAL_API];
  const provider = api?.metrics as Partial<MeterProvider> | undefined;
  return typeof provider?.getMeter === 'function' ? (provider as MeterProvider) : undefined;
}

/** What {@link followGlobalMeterProvider} returns. */
export interface GlobalGauges {
  /** The provider the gauges are on, once found. */
  provider(): MeterProvider | undefined;
  /** Remove the gauges (or stop looking). */
  stop(): void;
}

/**
 * Register the gauges on the app's global MeterProvider as soon as there is one. Never throws:
 * a provider that refuses gives one diagnostic line and no gauges.
 */
export function followGlobalMeterProvider(source: TelemetrySource, version: string | undefined, log: AgentLog): GlobalGauges {
  let found: MeterProvider | undefined;
  let remove: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const look = (): boolean => {
    const provider = globalMeterProvider();
    if (!provider) return false;
    found = provider;
    try {
      remove = registerGauges(provider.getMeter(sc.SCOPE_NAME, version), source);
      log('oomguard: gauges published through the app\'s global MeterProvider', 'debug');
    } catch (err) {
      log(`oomguard: the app's global MeterProvider refused the gauges: ${describeError(err)}`, 'warn');
    }
    return true;
  };
  if (!look()) {
    timer = setInterval(() => {
      if (look()) clearInterval(timer);
    }, LOOK_EVERY_MS);
    timer.unref();
  }
  return {
    provider: () => found,
    stop() {
      clearInterval(timer);
      try {
        remove?.();
      } catch {
        // the app's provider is already shut down: nothing of ours is left on it
      }
    },
  };
}
