/**
 * The running guard: wires config -> GC tracker + sampler -> watcher -> events and shutdown, and
 * brings telemetry up lazily once the guard is armed.
 *
 * Nothing here runs on import. `Agent.start()` installs a timer, a GC observer and (later) the
 * telemetry; `Agent.stop()` removes all of it.
 */
import type { Config, Decision, GuardState, PressureEvent, Reading, Snapshot, ThresholdSpec } from './types';
import { formatBytes } from './units';
import type { Evaluation } from './policy';
import { Sampler, type CgroupSource } from './sampler';
import { Watcher } from './watcher';
import { Shutdown } from './shutdown';
import { processHeapBudget } from './heap';
import { GcTracker, majorGcTrigger, readSpaces } from './gc';
import { openCgroup } from './cgroup';
import type { TelemetryHandle } from './telemetry';
import { inheritedParentPid, markAsParent, unmarkAsParent } from './parent';
import { safe } from './safely';

/** Listener of warn, recovery and shutdown events. */
export type PressureListener = (event: PressureEvent) => void;

export interface AgentDeps {
  /** Where the agent's own lines go (stderr by default, written synchronously). */
  log: (line: string) => void;
  shutdown: Shutdown;
  listeners: Set<PressureListener>;
}

/** The GC observer runs while the old generation is at or above this share of the heap line... */
const GC_OBSERVE_FROM = 0.5;
/** ...and stops once it is back under this share (and the guard is not warning). */
const GC_OBSERVE_UNTIL = 0.4;

/** Major GCs the guard runs itself (see `#confirmHeap`): at most one a second... */
const FORCED_GC_GAP_MS = 1000;
/** ...or one per this share of the budget of old-generation growth... */
const FORCED_GC_GROWTH = 0.02;
/** ...but never two within this. */
const FORCED_GC_MIN_GAP_MS = 50;

const EVENT_NAME: Record<GuardState, string> = {
  ok: 'oomguard.recovered',
  warn: 'oomguard.warning',
  shutdown: 'oomguard.shutdown',
};

export class Agent {
  readonly config: Config;
  readonly heapBudget: { bytes: number; source: string };
  readonly #deps: AgentDeps;
  readonly #gc: GcTracker;
  readonly #sampler: Sampler;
  readonly #watcher: Watcher;
  readonly #cgroup: (CgroupSource & { close?(): void }) | undefined;
  #telemetry: Promise<TelemetryHandle | undefined> | undefined;
  #telemetryTimer: NodeJS.Immediate | undefined;
  #snapshot: Snapshot | undefined;
  #forceGc: (() => void) | null | undefined;
  #lastForcedGc = -Infinity;
  #oldGenAtForcedGc = 0;
  /** The guarded parent's pid, when this process was started by one (see `start()`). */
  readonly #parentPid: string | undefined;

  constructor(config: Config, deps: AgentDeps) {
    this.config = config;
    this.#deps = deps;
    this.#parentPid = inheritedParentPid(process.env, process.pid);
    this.heapBudget = processHeapBudget();
    this.#gc = new GcTracker({
      heapBudget: this.heapBudget.bytes,
      // A major GC is when the heap signal moves, and near the limit they come faster than any
      // sensible poll: check right away.
      onMajor: () => this.#watcher.check('gc'),
    });
    this.#cgroup = safe(() => openCgroup());
    this.#sampler = new Sampler({
      heapBudget: this.heapBudget.bytes,
      gc: this.#gc,
      cgroup: this.#cgroup,
      constrainedMemory: typeof process.constrainedMemory === 'function' ? () => process.constrainedMemory() : undefined,
    });
    this.#watcher = new Watcher({
      config,
      sample: () => this.#sampler.sample(),
      onEvaluation: (reading, evaluation) => {
        this.#snapshot = snapshotOf(reading, evaluation);
        this.#observeGcWhenNear(reading, evaluation.thresholds.heap.shutdown);
      },
      onDecision: (decision, reading, evaluation) => this.#onDecision(decision, reading, evaluation),
      onError: (err) => this.#deps.log(`oomguard: check failed: ${String(err)}`),
      confirmHeap: (reading) => this.#confirmHeap(reading),
    });
  }

  /**
   * The heap crossed its line between two major GCs: run one now so the decision is taken on
   * what is alive, not on garbage and not a whole GC cycle late. Once a second, or sooner when
   * the old generation has grown by 2% of the budget since the last one (a leak that keeps
   * going must not wait a second: at 60 MB/s in a 128 MiB heap that is 45% of it).
   */
  #confirmHeap(reading: Reading): boolean {
    const now = Date.now();
    const since = now - this.#lastForcedGc;
    const grown = reading.oldGenInUse - this.#oldGenAtForcedGc >= this.heapBudget.bytes * FORCED_GC_GROWTH;
    if (since < FORCED_GC_MIN_GAP_MS || (since < FORCED_GC_GAP_MS && !grown)) return false;
    if (this.#forceGc === undefined) this.#forceGc = majorGcTrigger() ?? null;
    if (!this.#forceGc) return false;
    this.#lastForcedGc = now;
    try {
      this.#forceGc();
    } catch {
      return false;
    }
    const sizes = readSpaces();
    this.#oldGenAtForcedGc = sizes?.oldGen ?? reading.oldGenInUse;
    this.#gc.recordMajor(sizes);
    return true;
  }

  /** The memory limit the sampler sees, and where it came from (for `doctor` and telemetry). */
  memoryLimit(): ReturnType<Sampler['memoryLimit']> {
    return this.#sampler.memoryLimit();
  }

  /** The last reading the policy decided on, with its thresholds and state. */
  snapshot(): Snapshot | undefined {
    return this.#snapshot;
  }

  get running(): boolean {
    return this.#watcher.running;
  }

  /**
   * A `gc` PerformanceObserver is not free: Node makes a performance entry for every GC, young
   * ones included, and a GC-heavy app (hundreds of scavenges a second) measurably slows down
   * (10-25% in a synthetic allocation loop here). The guard needs GC events only when the heap
   * is near its line, so it observes from half the line up (half the budget when the heap line
   * is off) and lets go below 40% of it; below that the timer, timed by the growth rate, is
   * enough, and a crossing is confirmed by a major GC of the guard's own. After a pause the last
   * GC's numbers are stale, so they are forgotten.
   */
  #observeGcWhenNear(reading: Reading, line: number | undefined): void {
    const share = reading.oldGenInUse / (line ?? this.heapBudget.bytes);
    if (!this.#gc.observing && share >= GC_OBSERVE_FROM) {
      this.#gc.start();
    } else if (this.#gc.observing && share < GC_OBSERVE_UNTIL && this.#watcher.state.state === 'ok') {
      this.#gc.stop();
      this.#gc.forgetLive();
    }
  }

  start(): void {
    // Child node processes inherit NODE_OPTIONS, so they run a guard of their own and try the
    // same metrics port: the mark tells their telemetry that this is expected (parent.ts).
    markAsParent(process.env, process.pid);
    this.#warnUnreachable();
    this.#watcher.start(); // its first reading decides whether GCs are observed yet
    if (this.config.sdkDisabled || this.#telemetry || this.#telemetryTimer) return;
    // Telemetry (the OTel SDK, exporters, an HTTP server) costs ~100+ ms to load: bring it up
    // after the app's own start-up code has run, never before the guard is armed.
    this.#telemetryTimer = setImmediate(() => this.#ensureTelemetry());
    this.#telemetryTimer.unref();
  }

  /**
   * A size threshold at or above the wall it guards (the heap budget, the memory limit) can never
   * fire: V8 or the kernel ends the process first. Valid configuration, so not an error, but the
   * operator must hear about it.
   */
  #warnUnreachable(): void {
    const limit = this.#sampler.memoryLimit().bytes;
    const check = (spec: ThresholdSpec, variable: string, wall: number | undefined, what: string): void => {
      if (spec.kind === 'bytes' && wall !== undefined && spec.bytes >= wall) {
        this.#deps.log(
          `oomguard: warning: ${variable}=${formatBytes(spec.bytes)} is at or above the ${what} (${formatBytes(wall)}): ` +
            'that line can never be reached; use a percent or a smaller size',
        );
      }
    };
    check(this.config.heapThreshold, 'OOMGUARD_HEAP_THRESHOLD', this.heapBudget.bytes, 'heap budget');
    check(this.config.rssThreshold, 'OOMGUARD_RSS_THRESHOLD', limit, 'memory limit');
  }

  /** Telemetry, started now if its turn has not come yet (an event must not be lost to it). */
  #ensureTelemetry(): Promise<TelemetryHandle | undefined> | undefined {
    if (this.#telemetryTimer) {
      clearImmediate(this.#telemetryTimer);
      this.#telemetryTimer = undefined;
      this.#telemetry = this.#startTelemetry();
    }
    return this.#telemetry;
  }

  async stop(): Promise<void> {
    this.#watcher.stop();
    this.#gc.stop();
    unmarkAsParent(process.env, process.pid, this.#parentPid);
    if (this.#telemetryTimer) clearImmediate(this.#telemetryTimer);
    this.#telemetryTimer = undefined;
    const telemetry = await this.#telemetry;
    this.#telemetry = undefined;
    await telemetry?.shutdown().catch(() => undefined);
    safe(() => this.#cgroup?.close?.());
  }

  async #startTelemetry(): Promise<TelemetryHandle | undefined> {
    try {
      const { startTelemetry } = require('./telemetry') as typeof import('./telemetry');
      return await startTelemetry(this.config, { latest: () => this.#snapshot }, this.#deps.log, { parentPid: this.#parentPid });
    } catch (err) {
      this.#deps.log(`oomguard: telemetry is off (${String(err)}); the guard still guards`);
      return undefined;
    }
  }

  #onDecision(decision: Decision, reading: Reading, evaluation: Evaluation): void {
    if (decision.action === 'emergency') {
      const what = decision.reason === 'gc-thrash-emergency' ? 'V8 is thrashing in GC near its limit' : `${decision.signal} ${formatBytes(decision.value)} >= ${formatBytes(decision.threshold)}`;
      this.#deps.shutdown.abort(`memory is still rising during the shutdown (${what})`);
      return;
    }
    const level: GuardState = decision.action === 'warn' ? 'warn' : decision.action === 'shutdown' ? 'shutdown' : 'ok';
    const event: PressureEvent = {
      level,
      signal: decision.signal,
      reason: decision.reason,
      value: decision.value,
      threshold: decision.threshold,
      pressure: evaluation.pressure,
      reading,
      thresholds: evaluation.thresholds,
    };
    // The JSON line first and synchronously: if anything after it fails, or the process dies
    // anyway, the operator still has the record.
    this.#deps.log(JSON.stringify(jsonLine(event)));
    for (const listener of this.#deps.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.#deps.log(`oomguard: onPressure listener threw: ${String(err)}`);
      }
    }
    void this.#ensureTelemetry()?.then((t) => t?.recordEvent(event));
    if (level !== 'ok') {
      safe(() =>
        process.emitWarning(describeEvent(event), { code: 'OOMGUARD_MEMORY_PRESSURE', detail: `reason: ${event.reason}` }),
      );
    }
    if (level === 'shutdown') {
      void this.#deps.shutdown.run(event, {
        exitCode: this.config.exitCode,
        timeoutMs: this.config.shutdownTimeoutMs,
        action: this.config.action,
        flush: (msLeft) => this.#flush(msLeft),
      });
    }
  }

  async #flush(msLeft: number): Promise<void> {
    const pending = this.#telemetry;
    if (!pending) return;
    // Telemetry may still be starting; it gets what is left of the deadline, not more.
    let timer: NodeJS.Timeout | undefined;
    const bounded = new Promise<undefined>((resolve) => {
      timer = setTimeout(resolve, msLeft, undefined);
      timer.unref();
    });
    try {
      const started = Date.now();
      const telemetry = await Promise.race([pending, bounded]);
      if (telemetry) await telemetry.flush(Math.max(0, msLeft - (Date.now() - started)));
    } finally {
      clearTimeout(timer);
    }
  }
}

function snapshotOf(reading: Reading, evaluation: Evaluation): Snapshot {
  return { reading, thresholds: evaluation.thresholds, state: evaluation.state.state, pressure: evaluation.pressure };
}

function describeEvent(e: PressureEvent): string {
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
  };
}

