/**
 * What a decision becomes: one JSON line on stderr, the `onPressure` listeners, the telemetry
 * event, a process warning, and for a shutdown the shutdown itself (hooks, bounded telemetry
 * flush, exit). An emergency cuts a running shutdown short.
 *
 * Order matters and is fixed here: the JSON line first and synchronously, so the operator has
 * the record even if everything after it fails or the process dies anyway.
 */
import type { Config, Decision, GuardState, PressureEvent, Reading } from './types';
import type { Evaluation } from './policy';
import type { Shutdown } from './shutdown';
import type { TelemetryHandle } from './telemetry';
import { formatBytes } from './units';
import { bounded, safe } from './safely';

/** Listener of warn, recovery and shutdown events. */
export type PressureListener = (event: PressureEvent) => void;

export interface EventsDeps {
  config: Pick<Config, 'exitCode' | 'shutdownTimeoutMs' | 'action'>;
  /** Where the agent's own lines go (stderr, written synchronously). */
  log: (line: string) => void;
  listeners: ReadonlySet<PressureListener>;
  shutdown: Pick<Shutdown, 'run' | 'abort'>;
  /**
   * Telemetry, started now if it was not up yet (an event must not be lost to a lazy start);
   * undefined when it is off.
   */
  telemetry: () => Promise<TelemetryHandle | undefined> | undefined;
}

const EVENT_NAME: Record<GuardState, string> = {
  ok: 'oomguard.recovered',
  warn: 'oomguard.warning',
  shutdown: 'oomguard.shutdown',
};

const LEVEL: Record<Exclude<Decision['action'], 'emergency'>, GuardState> = {
  warn: 'warn',
  recover: 'ok',
  shutdown: 'shutdown',
};

export class Events {
  readonly #deps: EventsDeps;

  constructor(deps: EventsDeps) {
    this.#deps = deps;
  }

  /** Act on one decision of the policy (the watcher's `onDecision`). */
  onDecision(decision: Decision, reading: Reading, evaluation: Evaluation): void {
    const deps = this.#deps;
    if (decision.action === 'emergency') {
      deps.shutdown.abort(describeEmergency(decision));
      return;
    }
    const event: PressureEvent = {
      level: LEVEL[decision.action],
      signal: decision.signal,
      reason: decision.reason,
      value: decision.value,
      threshold: decision.threshold,
      pressure: evaluation.pressure,
      reading,
      thresholds: evaluation.thresholds,
    };
    if (decision.grounds) event.grounds = decision.grounds;
    deps.log(JSON.stringify(jsonLine(event)));
    for (const listener of deps.listeners) {
      try {
        listener(event);
      } catch (err) {
        deps.log(`oomguard: onPressure listener threw: ${String(err)}`);
      }
    }
    void deps.telemetry()?.then((t) => t?.recordEvent(event));
    if (event.level !== 'ok') {
      safe(() => process.emitWarning(describeEvent(event), { code: 'OOMGUARD_MEMORY_PRESSURE', detail: `reason: ${event.reason}` }));
    }
    if (event.level === 'shutdown') {
      void deps.shutdown.run(event, {
        exitCode: deps.config.exitCode,
        timeoutMs: deps.config.shutdownTimeoutMs,
        action: deps.config.action,
        flush: (msLeft) => this.#flush(msLeft),
      });
    }
  }

  /** Telemetry may still be starting: it gets what is left of the deadline, not more. */
  async #flush(msLeft: number): Promise<void> {
    const pending = this.#deps.telemetry();
    if (!pending) return;
    const started = Date.now();
    const telemetry = await bounded(pending, msLeft);
    if (telemetry) await telemetry.flush(Math.max(0, msLeft - (Date.now() - started)));
  }
}

/** Why a running shutdown is cut short, with the grounds, for the `oomguard:` line. */
export function describeEmergency(d: Extract<Decision, { action: 'emergency' }>): string {
  const e = d.grounds;
  if (d.reason === 'gc-thrash-emergency') {
    return `memory is still rising during the shutdown (V8 is about to give up on its heap: ${e?.ineffectiveMajors ?? '?'} ineffective mark-compacts in a row, mutator utilisation ${e?.mutatorUtilization ?? '?'})`;
  }
  if (d.reason === 'heap-emergency') {
    const rate = e?.liveGrowthPerSec === undefined ? '' : ` growing ${formatBytes(e.liveGrowthPerSec)}/s`;
    const left = e?.timeToBudgetMs === undefined ? '' : `, ${Math.round(e.timeToBudgetMs)} ms from the budget`;
    return `memory is still rising during the shutdown (live heap ${formatBytes(d.value)}${rate}${left})`;
  }
  return `memory is still rising during the shutdown (${d.signal} ${formatBytes(d.value)} >= ${formatBytes(d.threshold)})`;
}

/** The process warning's text: what crossed, and whether the guard is shutting down. */
export function describeEvent(e: PressureEvent): string {
  const what = e.reason === 'gc-thrash' ? 'heap near its limit and GC thrashing' : `${e.signal} ${formatBytes(e.value)} >= ${formatBytes(e.threshold)}`;
  return e.level === 'shutdown'
    ? `memory pressure: ${what}; shutting down (pressure ${e.pressure.toFixed(2)})`
    : `memory pressure: ${what} (pressure ${e.pressure.toFixed(2)})`;
}

/** The one JSON line on stderr for each event (stable field names; bytes are plain numbers). */
export function jsonLine(e: PressureEvent): Record<string, unknown> {
  const r = e.reading;
  return {
    name: EVENT_NAME[e.level],
    level: e.level,
    time: new Date(r.time).toISOString(),
    pid: process.pid,
    signal: e.signal,
    reason: e.reason,
    value: e.value,
    threshold: e.threshold,
    pressure: Number(e.pressure.toFixed(4)),
    heapSignal: r.heapSignal,
    heapInUse: r.heapInUse,
    heapBudget: r.heapBudget,
    heapLimit: r.heapLimit,
    rss: r.rss,
    memorySignal: r.memorySignal,
    memoryLimit: r.memoryLimit,
    external: r.external,
    thresholds: e.thresholds,
    ...(e.grounds ? { grounds: e.grounds } : {}),
  };
}
