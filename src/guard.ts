/**
 * The armed guard: config -> GC tracker + sampler -> watcher -> events, wired and started. What
 * each part does lives in its own file: sampling (sampler.ts), deciding (policy.ts), when to
 * look (watcher.ts, cadence.ts), when to observe or force GCs (heap-probe.ts, major-gc.ts), what
 * a decision becomes (events.ts), where the memory went (evidence/), shadow mode (observe.ts),
 * who acts on the container's memory (process-tree.ts).
 *
 * This module, and everything it imports, is loaded by the agent on the first turn of the event
 * loop (or on the first `status()`, or from a callback of the native part), never by the preload
 * itself (agent.ts says why). Nothing here runs on import.
 */
import type { Config, Snapshot, ThresholdSpec } from './types';
import { formatBytes } from './units';
import { Sampler, type MemoryLimit } from './sampler';
import { Watcher, systemClock, type Clock, type Trigger } from './watcher';
import type { Shutdown } from './shutdown';
import { processHeapBudget, type HeapBudget } from './heap';
import { GcTracker } from './gc';
import type { MajorGcSentinel } from './major-gc';
import { HeapProbe } from './heap-probe';
import { openCgroup, type CgroupHandle } from './cgroup';
import { Events, type PressureListener } from './events';
import { Evidence } from './evidence';
import type { TelemetryHandle } from './telemetry';
import type { ProcessRole } from './launcher';
import { ContainerOwnership, limitScope, procSource } from './process-tree';
import { ObserveGate } from './observe';
import { nearLimitEvent, type NativeGuard } from './native-guard';
import type { NearLimitInfo } from './native';
import type { AgentLog } from './log';
import { safe } from './safely';

/**
 * The system clock, but its "next turn" is an unref'd 0 ms timer, not an unref'd
 * `setImmediate`: the guard is armed from a callback, and an unref'd immediate queued there runs
 * only after the loop's next poll, which in an idle process waits for the next timer or I/O
 * (seconds, measured); every timer, unref'd or not, bounds that wait (libuv's poll timeout).
 */
const promptClock: Clock = {
  ...systemClock,
  setImmediate(fn) {
    const timer = setTimeout(fn, 0);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

export interface GuardDeps {
  /** Where the agent's own lines go: stderr, written synchronously, diagnostics by level (log.ts). */
  log: AgentLog;
  shutdown: Shutdown;
  listeners: Set<PressureListener>;
  /** Whether this process only starts the app (launcher.ts). */
  role: ProcessRole;
  /** The guard's own major GC, obtained by the preload (agent.ts), or undefined. */
  forceGc: (() => void) | undefined;
  /** The native part the preload installed, if any. */
  native: NativeGuard | undefined;
  /** Whether the app's main module has been evaluated (main-module.ts, watched from the preload). */
  mainReady: () => boolean;
  /** The JavaScript mode's major-GC sentinel, started by the preload (agent.ts). */
  majors: Pick<MajorGcSentinel, 'armed'>;
  /** Telemetry: `EventsDeps.telemetry` (events.ts). */
  telemetry: (load: boolean) => Promise<TelemetryHandle | undefined> | undefined;
}

export class Guard {
  readonly heapBudget: HeapBudget;
  /** Fed by the observer near the line, by the sentinel, or by the native part's GC callbacks. */
  readonly gcTracker: GcTracker;
  readonly #config: Config;
  readonly #log: AgentLog;
  readonly #sampler: Sampler;
  readonly #watcher: Watcher;
  readonly #cgroup: CgroupHandle | undefined;
  readonly #role: ProcessRole;
  readonly #observe: ObserveGate | undefined;
  readonly #events: Events;
  readonly #evidence: Evidence;
  readonly #native: NativeGuard | undefined;
  #snapshot: Snapshot | undefined;

  constructor(config: Config, deps: GuardDeps) {
    this.#config = config;
    this.#log = deps.log;
    this.#role = deps.role;
    this.#native = deps.native;
    this.heapBudget = processHeapBudget();
    this.gcTracker = new GcTracker({
      heapBudget: this.heapBudget.bytes,
      // A major GC is when the heap signal moves, and near the limit they come faster than any
      // sensible poll: check right away.
      onMajor: () => this.#watcher.check('gc'),
    });
    const forceGc = deps.forceGc;
    const probe = new HeapProbe({ heapBudget: this.heapBudget.bytes, gc: this.gcTracker, gcTrigger: () => forceGc, majorsReported: () => deps.majors.armed });
    this.#cgroup = safe(() => openCgroup());
    this.#sampler = new Sampler({
      heapBudget: this.heapBudget.bytes,
      gc: this.gcTracker,
      cgroup: this.#cgroup,
      constrainedMemory: typeof process.constrainedMemory === 'function' ? () => process.constrainedMemory() : undefined,
      ownsContainer: this.#ownership(),
    });
    this.#observe = config.action === 'observe' ? new ObserveGate() : undefined;
    this.#evidence = new Evidence({
      sampling: config.heapSampling,
      heapBudget: this.heapBudget.bytes,
      profileDir: config.profileDir,
      terminationLog: config.terminationLog,
      exitCode: config.exitCode,
      log: deps.log,
    });
    this.#events = new Events({ ...deps, config, evidence: this.#evidence });
    this.#watcher = new Watcher({
      config,
      clock: promptClock,
      sample: () => this.#sampler.sample(),
      evaluate: this.#observe?.evaluate,
      onEvaluation: (reading, evaluation) => {
        // Once shutting down, the snapshot stays the reading the guard acted on, so the final
        // export reports it; the checks that run during the shutdown (the evidence's GC starts
        // one) only look for an emergency.
        if (this.#snapshot?.state !== 'shutdown' || this.#observe) {
          this.#snapshot = { reading, thresholds: evaluation.thresholds, state: evaluation.state.state, pressure: evaluation.pressure };
          if (this.#observe) this.#snapshot.observedShutdowns = this.#observe.count;
        }
        this.#native?.setMemoryLimit(reading.memoryLimit);
        this.#evidence.onReading(reading.heapInUse, evaluation.thresholds.heap.warn);
        // The native part reports every mark-compact itself: no `gc` PerformanceObserver then.
        if (!this.#native?.observesGc) probe.follow(reading, evaluation.thresholds.heap.shutdown, evaluation.state.state);
      },
      onDecision: (decision, reading, evaluation) => this.#events.onDecision(decision, reading, evaluation),
      onError: (err) => this.#log(`oomguard: check failed: ${String(err)}`, 'error'),
      confirmHeap: (reading, line, urgency) => probe.confirm(reading, line, urgency),
      mainReady: deps.mainReady,
    });
  }

  /**
   * Who acts on the container's working set (process-tree.ts): among the processes of the cgroup
   * that has the limit, the one the kernel's OOM killer would pick, launchers passed over.
   */
  #ownership(): ((now: number, workingSet: number, limit: number | undefined) => boolean) | undefined {
    const cgroup = this.#cgroup;
    if (!cgroup) return undefined;
    const ownership = new ContainerOwnership({
      pid: process.pid,
      source: procSource(() => limitScope(this.#sampler.memoryLimit().from, cgroup.top)),
      launcher: () => this.#role.launcher,
      knownLaunchers: () => this.#role.knownLaunchers(),
      rss: () => safe(() => process.memoryUsage.rss()),
    });
    return (now, workingSet, limit) => ownership.owns(now, workingSet, limit);
  }

  /** The memory limit the sampler sees, and where it came from (for `doctor` and telemetry). */
  memoryLimit(): MemoryLimit {
    return this.#sampler.memoryLimit();
  }

  /** The last reading the policy decided on, with its thresholds and state. */
  snapshot(): Snapshot | undefined {
    return this.#snapshot;
  }

  /** False once stopped, or after an emergency exit took over. */
  get running(): boolean {
    return this.#watcher.running;
  }

  /** Take a reading and act on it now (a major GC the native part reported). */
  check(trigger: Trigger): boolean {
    return this.#watcher.check(trigger);
  }

  /** V8 reached its heap limit and the native part raised it: the `heap-limit` shutdown, on a reading taken now. */
  heapLimit(info: NearLimitInfo): void {
    this.#events.heapLimit(() => nearLimitEvent(info, this.#sampler.sample(), this.#config));
  }

  start(): void {
    for (const line of unreachableLines(this.#config, this.heapBudget.bytes, this.#sampler.memoryLimit().bytes)) this.#log(line);
    this.#watcher.start(); // its first reading decides whether GCs are observed yet
    this.#evidence.start();
  }

  stop(): void {
    this.#watcher.stop();
    this.gcTracker.stop();
    this.#evidence.stop();
    safe(() => this.#cgroup?.close());
  }
}

/**
 * A size threshold at or above the wall it guards (the heap budget, the memory limit) can never
 * fire: V8 or the kernel ends the process first. Valid configuration, so not an error, but the
 * operator must hear about it: one line per such threshold.
 */
function unreachableLines(config: Config, heapBudget: number, memoryLimit: number | undefined): string[] {
  const lines: string[] = [];
  const check = (spec: ThresholdSpec, variable: string, wall: number | undefined, what: string): void => {
    if (spec.kind === 'bytes' && wall !== undefined && spec.bytes >= wall) {
      lines.push(
        `oomguard: warning: ${variable}=${formatBytes(spec.bytes)} is at or above the ${what} (${formatBytes(wall)}): ` +
          'that line can never be reached; use a percent or a smaller size',
      );
    }
  };
  check(config.heapThreshold, 'OOMGUARD_HEAP_THRESHOLD', heapBudget, 'heap budget');
  check(config.rssThreshold, 'OOMGUARD_RSS_THRESHOLD', memoryLimit, 'memory limit');
  return lines;
}
