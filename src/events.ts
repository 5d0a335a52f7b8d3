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
import type { HookResult, Shutdown } from './shutdown';
import type { TelemetryHandle } from './telemetry';
import type { Evidence } from './evidence';
import { headline } from './evidence/report';
import { formatBytes } from './units';
import { bounded, safe } from './safely';

/** Listener of warn, recovery and shutdown events. */
export type PressureListener = (event: PressureEvent) => void;

export interface EventsDeps {
  config: Pick<Config, 'exitCode' | 'shutdownTimeoutMs' | 'action'>;
  /** Where the agent's own lines go (stderr, written synchronously). */
  log: (line: string) => void;
  listeners: ReadonlySet<PressureListener>;
  shutdown: Pick<Shutdown, 'run' | 'abort' | 'running'>;
  /**
   * Telemetry: with `load`, started now if it was not up yet and there is room for it (a warning
   * must not be lost to a lazy start); without, only if it is up or starting (a shutdown never
   * loads it: agent.ts). Undefined when it is off or not loaded.
   */
  telemetry: (load: boolean) => Promise<TelemetryHandle | undefined> | undefined;
  /** Where the memory went (evidence/): told of each event, asked at a shutdown. */
  evidence?: Pick<Evidence, 'onEvent' | 'summarize' | 'persist'>;
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
  /** V8 reached its heap limit and the native part raised it by the reserve (`heapLimit`). */
  #heapLimitRaised = false;

  constructor(deps: EventsDeps) {
    this.#deps = deps;
  }

  /** Act on one decision of the policy (the watcher's `onDecision`). */
  onDecision(decision: Decision, reading: Reading, evaluation: Evaluation): void {
    const deps = this.#deps;
    if (decision.action === 'emergency') {
      if (this.#heapLimitRaised && decision.signal === 'heap') return;
      deps.shutdown.abort(describeEmergency(decision));
      return;
    }
    // The policy decides nothing but emergencies once it has shut down; a shutdown that V8's
    // near-heap-limit callback started runs ahead of it, and is not announced a second time.
    if (deps.shutdown.running) return;
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
    if (event.level === 'shutdown' && deps.config.action === 'observe') {
      this.#observed({ ...event, observed: true });
      return;
    }
    this.#announce(event);
  }

  /**
   * V8 reached its heap limit, and the native part raised it by the reserve and stopped the
   * JavaScript that ran (docs/native.md): the `heap-limit` shutdown, made by `event()` on a fresh
   * reading and announced as any other. If a shutdown is already running (its hooks filled the
   * heap), it ends now instead.
   */
  heapLimit(event: () => PressureEvent): void {
    if (this.#deps.shutdown.running) {
      this.#deps.shutdown.abort('the V8 heap reached its limit during the shutdown');
      return;
    }
    this.#heapLimitRaised = true;
    this.#announce(event());
  }

  /** The JSON line, the listeners, the telemetry event, the warning, and for `shutdown` the shutdown. */
  #announce(event: PressureEvent): void {
    const deps = this.#deps;
    const decidedAt = Date.now();
    // Before the JSON line, so the line names the leak; bounded, and counted in the deadline.
    if (event.level === 'shutdown' && deps.evidence) event.evidence = safe(() => deps.evidence!.summarize(event, deps.config.shutdownTimeoutMs));
    deps.log(JSON.stringify(jsonLine(event)));
    safe(() => deps.evidence?.onEvent(event));
    for (const listener of deps.listeners) {
      try {
        listener(event);
      } catch (err) {
        deps.log(`oomguard: onPressure listener threw: ${String(err)}`);
      }
    }
    void deps.telemetry(event.level === 'warn')?.then((t) => t?.recordEvent(event));
    if (event.level !== 'ok') {
      safe(() => process.emitWarning(describeEvent(event), { code: 'OOMGUARD_MEMORY_PRESSURE', detail: `reason: ${event.reason}` }));
    }
    if (event.level === 'shutdown') {
      safe(() => deps.evidence?.persist(event, event.evidence, deps.config.shutdownTimeoutMs));
      void deps.shutdown.run(event, {
        spentMs: Date.now() - decidedAt,
        exitCode: deps.config.exitCode,
        timeoutMs: deps.config.shutdownTimeoutMs,
        action: deps.config.action,
        flush: (msLeft, hooks) => this.#flush(msLeft, hooks),
      });
    }
  }

  /**
   * Shadow mode: the record of the shutdown the guard would have made (JSON line, telemetry, a
   * process warning) and nothing else. `onPressure` listeners are not told: one that drains on
   * `level: 'shutdown'` would stop the very process this mode promises to leave alone.
   */
  #observed(event: PressureEvent): void {
    const deps = this.#deps;
    deps.log(JSON.stringify(jsonLine(event)));
    void deps.telemetry(true)?.then((t) => t?.recordEvent(event));
    safe(() => process.emitWarning(describeEvent(event), { code: 'OOMGUARD_MEMORY_PRESSURE', detail: `reason: ${event.reason}` }));
  }

  /**
   * Telemetry may still be starting: it gets what is left of the deadline, not more. The hooks'
   * outcomes end the shutdown span before it is sent.
   */
  async #flush(msLeft: number, hooks: readonly HookResult[]): Promise<void> {
    const pending = this.#deps.telemetry(false);
    if (!pending) return;
    const started = Date.now();
    const telemetry = await bounded(pending, msLeft);
    if (telemetry) await telemetry.flush(Math.max(0, msLeft - (Date.now() - started)), hooks);
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
  const what =
    e.reason === 'gc-thrash'
      ? 'heap near its limit and GC thrashing'
      : e.reason === 'heap-limit'
        ? `the V8 heap reached its limit (${formatBytes(e.value)})`
        : `${e.signal} ${formatBytes(e.value)} >= ${formatBytes(e.threshold)}`;
  if (e.level !== 'shutdown') return `memory pressure: ${what} (pressure ${e.pressure.toFixed(2)})`;
  if (e.observed) return `memory pressure: ${what}; would shut down, not acting (OOMGUARD_ACTION=observe; pressure ${e.pressure.toFixed(2)})`;
  const why = e.evidence && headline(e.evidence);
  return `memory pressure: ${what}; shutting down (pressure ${e.pressure.toFixed(2)})${why ? `; ${why}` : ''}`;
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
    ...(e.observed ? { observed: true } : {}),
    ...(e.evidence && { evidence: e.evidence }),
    ...(e.grounds ? { grounds: e.grounds } : {}),
  };
}
