/**
 * The public API, backed by ONE agent per process.
 *
 * The state lives on `globalThis[Symbol.for('oomguard')]`, like pino's public singletons, so
 * that `--require oomguard/register`, `--import oomguard/register`, a later
 * `require('oomguard')` and even a second installed copy of the package all reach the same
 * hooks, listeners and running guard. The first copy to load provides the implementation; later
 * copies delegate to it.
 *
 * The preload loads this module in every node process `NODE_OPTIONS` reaches, so it keeps to
 * what registering needs; the configuration parsers (config.ts) and the duration parser
 * (units.ts) are required only when a program calls `start()` or gives a hook a timeout text.
 */
import { isMainThread } from 'node:worker_threads';
import { Agent } from './agent';
import type { PressureListener } from './events';
import { agentLog, stderrLine } from './log';
import { Shutdown, processDeps, type HookOptions, type ShutdownHook } from './shutdown';
import type { StartOptions } from './config';
import type { Config, Reading, Snapshot } from './types';
import type { HeapBudget } from './heap';
import type { MemoryLimit } from './sampler';
import type { MeterProvider } from '@opentelemetry/api';

const KEY = Symbol.for('oomguard');

/** What `start()` returns: everything it installed can be removed with `stop()`. */
export interface GuardHandle {
  /** The resolved configuration the guard runs with (undefined when disabled or in a worker). */
  readonly config: Config | undefined;
  /** Stop the guard: timer, GC observer, telemetry and its port. Hooks stay registered. */
  stop(): Promise<void>;
}

/** A snapshot of the guard: the last reading, its thresholds in bytes, the state, the budget. */
export interface Status extends Snapshot {
  config: Config;
  heapBudget: HeapBudget;
  memoryLimit: MemoryLimit;
}

interface Slot {
  readonly version: string;
  start(options?: StartOptions): GuardHandle;
  /**
   * Start with an already resolved configuration (the preload resolves it once); `preloaded`:
   * called by the preload itself, before the app's first line.
   */
  startResolved(config: Config, preloaded?: boolean): GuardHandle;
  stop(): Promise<void>;
  onShutdown(fn: ShutdownHook, options?: HookOptions): () => void;
  onPressure(fn: PressureListener): () => void;
  reading(): Readonly<Reading> | undefined;
  status(): Status | undefined;
  publishMetrics?(meterProvider: MeterProvider): () => void;
}

function createSlot(): Slot {
  const listeners = new Set<PressureListener>();
  // Shutdown lines are for the user at every level; they pass the redaction like every line.
  const shutdown = new Shutdown(processDeps(agentLog('none')), hookTimeout);
  let agent: Agent | undefined;

  const handle = (config: Config | undefined): GuardHandle => ({
    config,
    stop: () => slot.stop(),
  });

  const slot: Slot = {
    get version() {
      return require('../package.json').version as string;
    },
    start(options) {
      // A worker shares the process with the main thread, which guards it: RSS and the cgroup
      // already see the worker's memory. Here the API only has to be there.
      if (!isMainThread) return handle(undefined);
      if (agent?.running) {
        if (options && Object.keys(options).length > 0) {
          stderrLine('oomguard: start(options) called while the guard is already running (preloaded?); options ignored');
        }
        return handle(agent.config);
      }
      const { loadConfig, OomguardConfigError } = require('./config') as typeof import('./config');
      const result = loadConfig(process.env, options);
      if (!result.ok) throw new OomguardConfigError(result.issues);
      return slot.startResolved(result.config);
    },
    startResolved(config, preloaded = false) {
      if (!isMainThread) return handle(undefined);
      if (agent?.running) return handle(agent.config);
      if (!config.enabled) return handle(config);
      agent = new Agent(config, { log: agentLog(config.logLevel), shutdown, listeners, preloaded });
      agent.start();
      return handle(agent.config);
    },
    async stop() {
      const a = agent;
      agent = undefined;
      await a?.stop();
    },
    onShutdown: (fn, options) => shutdown.add(fn, options),
    onPressure(fn) {
      if (typeof fn !== 'function') throw new TypeError(`oomguard: onPressure(fn) expects a function, got ${typeof fn}`);
      listeners.add(fn);
      return () => {
        listeners.delete(fn);
      };
    },
    reading: () => agent?.snapshot()?.reading,
    publishMetrics(meterProvider) {
      if (typeof meterProvider?.getMeter !== 'function') {
        throw new TypeError(`oomguard: publishMetrics(meterProvider) expects an OpenTelemetry MeterProvider, got ${typeof meterProvider}`);
      }
      const { registerGauges } = require('./telemetry/gauges') as typeof import('./telemetry/gauges');
      const { SCOPE_NAME } = require('./semconv') as typeof import('./semconv');
      return registerGauges(meterProvider.getMeter(SCOPE_NAME, slot.version), { latest: () => agent?.snapshot() });
    },
    status() {
      const snap = agent?.snapshot();
      if (!agent || !snap) return undefined;
      return { ...snap, config: agent.config, heapBudget: agent.heapBudget, memoryLimit: agent.memoryLimit() };
    },
  };
  return slot;
}

/** A hook's `timeout` string in milliseconds; throws at registration when it is not a duration. */
function hookTimeout(text: string): number {
  const { parseDuration } = require('./units') as typeof import('./units');
  const parsed = parseDuration(text);
  if (!parsed.ok) throw new RangeError(`oomguard: onShutdown timeout ${JSON.stringify(text)} is not valid: expected ${parsed.expected}`);
  return parsed.value;
}

/** The process-wide slot, created by the first copy of oomguard to ask. */
export function slot(): Slot {
  const g = globalThis as { [KEY]?: Slot };
  return (g[KEY] ??= createSlot());
}

/**
 * Start the guard (without a preload). Options win over `OOMGUARD_*` variables, which win over
 * the defaults. Throws `OomguardConfigError` (code `OOMGUARD_INVALID_CONFIG`) on bad input, at
 * call time, never later. After a preload it returns the running guard.
 */
export function start(options?: StartOptions): GuardHandle {
  return slot().start(options);
}

/** Stop the guard; everything it installed is removed. Registered hooks stay. */
export function stop(): Promise<void> {
  return slot().stop();
}

/**
 * Run `fn` before the process exits on memory pressure (flush a WAL, close a server). All hooks
 * start at once; each is bounded by its `timeout` and by `OOMGUARD_SHUTDOWN_TIMEOUT`; a hook that
 * throws or hangs is logged by name and does not stop the others. Returns an unsubscribe function.
 */
export function onShutdown(fn: ShutdownHook, options?: HookOptions): () => void {
  return slot().onShutdown(fn, options);
}

/**
 * Be told when a warn line is crossed (`level: 'warn'`), when it clears (`'ok'`), and when the
 * guard shuts down (`'shutdown'`, just before the hooks run): shed load, drop caches. Called
 * synchronously from the guard's check; a listener that throws is logged and ignored.
 */
export function onPressure(fn: PressureListener): () => void {
  return slot().onPressure(fn);
}

/**
 * Publish the guard's gauges (`oomguard.*`) through an OpenTelemetry MeterProvider of the app's
 * own, so they leave with the app's metrics, on its endpoint or its OTLP push. They report the
 * running guard's last reading, whenever the guard runs. Returns a function that removes them.
 * Combine with `OOMGUARD_METRICS=none` (or `start({ metrics: 'none' })`) for no endpoint of the
 * guard's own; `OOMGUARD_METRICS=global` does the same with the app's global provider.
 */
export function publishMetrics(meterProvider: MeterProvider): () => void {
  const s = slot();
  if (!s.publishMetrics) throw new Error('oomguard: the running guard comes from an older copy of oomguard without publishMetrics()');
  return s.publishMetrics(meterProvider);
}

/** The reading the policy last decided on (no new sample is taken), or undefined if not running. */
export function reading(): Readonly<Reading> | undefined {
  return slot().reading();
}

/** Everything the guard knows right now: reading, thresholds in bytes, state, budget, limit. */
export function status(): Status | undefined {
  return slot().status();
}
