/**
 * The running guard, as an orchestrator only: it wires config -> GC tracker + sampler ->
 * watcher -> events, starts them and stops them. What each part does lives in its own file:
 * sampling (sampler.ts), deciding (policy.ts), when to look (watcher.ts, cadence.ts), when to
 * observe or force GCs (heap-probe.ts), what a decision becomes (events.ts), shadow mode
 * (observe.ts), the process tree (parent.ts, launcher.ts, process-tree.ts), telemetry (telemetry/),
 * the optional native part (native-guard.ts).
 *
 * Nothing here runs on import. `Agent.start()` installs the native part's V8 callbacks when it
 * loads, a timer, a GC observer and (later) the telemetry; `Agent.stop()` removes all of it.
 */
import type { Config, Snapshot, ThresholdSpec } from './types';
import { formatBytes } from './units';
import { Sampler, type MemoryLimit } from './sampler';
import { systemClock, Watcher } from './watcher';
import { MainModule } from './main-module';
import type { Shutdown } from './shutdown';
import { processHeapBudget, type HeapBudget } from './heap';
import { exposedGc, GcTracker, majorGcTrigger, readSpaces } from './gc';
import { MajorGcSentinel } from './major-gc';
import { HeapProbe } from './heap-probe';
import { openCgroup, type CgroupHandle } from './cgroup';
import { Events, type PressureListener } from './events';
import { Evidence } from './evidence';
import type { TelemetryHandle } from './telemetry';
import { inheritedParentPid, markAsParent, unmarkAsParent } from './parent';
import { ProcessRole } from './launcher';
import { ContainerOwnership, limitScope, procSource } from './process-tree';
import { ObserveGate } from './observe';
import { safe } from './safely';
import { NativeGuard, nearLimitEvent } from './native-guard';
import type { AgentLog } from './log';

export interface AgentDeps {
  /** Where the agent's own lines go: stderr, written synchronously, diagnostics by level (log.ts). */
  log: AgentLog;
  shutdown: Shutdown;
  listeners: Set<PressureListener>;
  /**
   * Started by the preload, before the app's first line: only then may the guard obtain a GC
   * function of its own (gc.ts, `majorGcTrigger`); later it uses the app's `gc`, if any.
   */
  preloaded?: boolean;
}

export class Agent {
  readonly config: Config;
  readonly heapBudget: HeapBudget;
  readonly #log: AgentLog;
  readonly #gc: GcTracker;
  readonly #majors: MajorGcSentinel;
  readonly #sampler: Sampler;
  readonly #watcher: Watcher;
  readonly #cgroup: CgroupHandle | undefined;
  readonly #role: ProcessRole;
  readonly #observe: ObserveGate | undefined;
  readonly #events: Events;
  /** V8's near-heap-limit and major-GC callbacks (docs/native.md), from `start()` to `stop()`. */
  #native: NativeGuard | undefined;
  readonly #evidence: Evidence;
  readonly #main = new MainModule({ clock: systemClock });
  /** Started by the preload (before the app's main module), not by the app's own `start()`. */
  readonly #preloaded: boolean;
  #telemetry: Promise<TelemetryHandle | undefined> | undefined;
  #telemetryTimer: NodeJS.Immediate | undefined;
  #snapshot: Snapshot | undefined;
  /** The guarded parent's pid, when this process was started by one (parent.ts). */
  readonly #parentPid: string | undefined;

  constructor(config: Config, deps: AgentDeps) {
    this.config = config;
    this.#log = deps.log;
    this.#preloaded = deps.preloaded ?? false;
    this.#parentPid = inheritedParentPid(process.env, process.pid);
    this.heapBudget = processHeapBudget();
    this.#gc = new GcTracker({
      heapBudget: this.heapBudget.bytes,
      // A major GC is when the heap signal moves, and near the limit they come faster than any
      // sensible poll: check right away.
      onMajor: () => this.#watcher.check('gc'),
    });
    // Every major GC, at any heap size, without the observer's cost per scavenge: an upper bound
    // of what it left alive and V8's next limit (`oomguard.heap.next_gc`). Near the line the
    // observer reports them, with their timing, instead.
    this.#majors = new MajorGcSentinel({ onMajor: () => this.#gc.recordSentinelMajor(readSpaces()) });
    // Obtained once, now: V8 flags must not be flipped once workers may exist. Only the heap
    // line asks for a GC of the guard's own (policy.ts, confirmHeap): without one, none is made
    // (creating the context for it costs 1.5-2 ms and ~400 KiB of heap at start-up on Node 24
    // and 26, medians under load: BENCHMARKS.md, figure 10).
    const wantsGc = config.heapThreshold.kind !== 'off';
    const forceGc = deps.preloaded && wantsGc ? majorGcTrigger() : exposedGc();
    const probe = new HeapProbe({ heapBudget: this.heapBudget.bytes, gc: this.#gc, gcTrigger: () => forceGc, majorsReported: () => this.#majors.armed });
    this.#cgroup = safe(() => openCgroup());
    this.#role = new ProcessRole();
    this.#sampler = new Sampler({
      heapBudget: this.heapBudget.bytes,
      gc: this.#gc,
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
    this.#events = new Events({ ...deps, config, telemetry: () => this.#ensureTelemetry(), evidence: this.#evidence });
    this.#watcher = new Watcher({
      config,
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
      mainReady: () => this.#main.ready,
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

  get running(): boolean {
    return this.#watcher.running;
  }

  start(): void {
    // Child node processes inherit NODE_OPTIONS, so they run a guard of their own and try the
    // same metrics port: the mark tells their telemetry that this is expected (parent.ts). A
    // package manager leaves the port to the app it starts, so it does not claim to hold it.
    if (!this.#role.byScript) markAsParent(process.env, process.pid);
    for (const line of unreachableLines(this.config, this.heapBudget.bytes, this.#sampler.memoryLimit().bytes)) this.#log(line);
    // Shadow mode promises not to act, and the native part's one job is to act at V8's limit: it
    // stays off there, and the process meets V8's limit as it would without the guard.
    if (this.config.action !== 'observe') this.#native ??= this.#startNative();
    // The native part reports every mark-compact itself; the sentinel is the JavaScript mode's.
    if (!this.#native?.observesGc) this.#majors.start();
    // Before the watcher: under a preload the main module is not resolved yet (main-module.ts).
    // Only a preload runs before the main module; an app that calls start() itself is already in
    // it and registers its hooks next to that call, so there is nothing to wait for.
    if (this.#preloaded) this.#main.start(() => this.#watcher.check('main'));
    else this.#main.stop();
    this.#watcher.start(); // its first reading decides whether GCs are observed yet
    this.#evidence.start();
    if (this.config.sdkDisabled || this.#telemetry || this.#telemetryTimer) return;
    // Telemetry (the OTel SDK, exporters, an HTTP server) costs ~100+ ms to load: bring it up
    // after the app's own start-up code has run, never before the guard is armed.
    this.#telemetryTimer = setImmediate(() => this.#ensureTelemetry());
    this.#telemetryTimer.unref();
  }

  async stop(): Promise<void> {
    this.#watcher.stop();
    this.#main.stop();
    this.#gc.stop();
    this.#role.stop();
    this.#native?.stop();
    this.#native = undefined;
    this.#evidence.stop();
    this.#majors.stop();
    unmarkAsParent(process.env, process.pid, this.#parentPid);
    if (this.#telemetryTimer) clearImmediate(this.#telemetryTimer);
    this.#telemetryTimer = undefined;
    const telemetry = await this.#telemetry;
    this.#telemetry = undefined;
    await telemetry?.shutdown().catch(() => undefined);
    safe(() => this.#cgroup?.close());
  }

  /**
   * The native part, before the first reading (which decides whether the `gc` observer is
   * needed), or the JavaScript mode when it is off or does not load. At V8's heap limit it starts
   * the `heap-limit` shutdown on a reading taken then (events.ts).
   */
  #startNative(): NativeGuard {
    return NativeGuard.start({
      config: this.config,
      memoryLimit: this.#sampler.memoryLimit().bytes,
      gc: this.#gc,
      onMajor: () => this.#watcher.check('gc'),
      onNearLimit: (info) => this.#events.heapLimit(() => nearLimitEvent(info, this.#sampler.sample(), this.config)),
      log: this.#log,
    });
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

  async #startTelemetry(): Promise<TelemetryHandle | undefined> {
    try {
      const { startTelemetry } = require('./telemetry') as typeof import('./telemetry');
      // A package manager leaves the metrics port to the app it starts (launcher.ts). A cluster
      // primary keeps it: its /metrics carries its workers' series too, merged with its own, and
      // the workers serve theirs on local sockets (telemetry/cluster.ts).
      const config = this.#role.byScript ? { ...this.config, metrics: { ...this.config.metrics, enabled: false } } : this.config;
      return await startTelemetry(config, { latest: () => this.#snapshot }, this.#log, { parentPid: this.#parentPid });
    } catch (err) {
      this.#log(`oomguard: telemetry is off (${String(err)}); the guard still guards`, 'error');
      return undefined;
    }
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
