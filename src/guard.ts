/**
 * The armed guard: config -> GC tracker + sampler -> watcher -> events, wired and started. What
 * each part does lives in its own file: sampling (sampler.ts), deciding (policy.ts), when to
 * look (watcher.ts, cadence.ts), when to observe or force GCs (heap-probe.ts), what a decision
 * becomes (events.ts), shadow mode (observe.ts), who acts on the container's memory
 * (process-tree.ts).
 *
 * This module, and everything it imports, is loaded by the agent on the first turn of the event
 * loop (or on the first `status()`), never by the preload itself (agent.ts says why). Nothing
 * here runs on import.
 */
import type { Config, Snapshot, ThresholdSpec } from './types';
import { formatBytes } from './units';
import { Sampler, type MemoryLimit } from './sampler';
import { Watcher, systemClock, type Clock } from './watcher';
import type { Shutdown } from './shutdown';
import { processHeapBudget, type HeapBudget } from './heap';
import { GcTracker } from './gc';
import { HeapProbe } from './heap-probe';
import { openCgroup, type CgroupHandle } from './cgroup';
import { Events, type PressureListener } from './events';
import type { TelemetryHandle } from './telemetry';
import type { ProcessRole } from './launcher';
import { ContainerOwnership, limitScope, procSource } from './process-tree';
import { ObserveGate } from './observe';
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
  /** Where the agent's own lines go (stderr by default, written synchronously). */
  log: (line: string) => void;
  shutdown: Shutdown;
  listeners: Set<PressureListener>;
  /** Whether this process only starts the app (launcher.ts). */
  role: ProcessRole;
  /** Telemetry, started now if its turn has not come yet; undefined when it is off. */
  telemetry: () => Promise<TelemetryHandle | undefined> | undefined;
}

export class Guard {
  readonly heapBudget: HeapBudget;
  readonly #config: Config;
  readonly #log: (line: string) => void;
  readonly #gc: GcTracker;
  readonly #sampler: Sampler;
  readonly #watcher: Watcher;
  readonly #cgroup: CgroupHandle | undefined;
  readonly #role: ProcessRole;
  readonly #observe: ObserveGate | undefined;
  #snapshot: Snapshot | undefined;

  constructor(config: Config, deps: GuardDeps) {
    this.#config = config;
    this.#log = deps.log;
    this.heapBudget = processHeapBudget();
    this.#gc = new GcTracker({
      heapBudget: this.heapBudget.bytes,
      // A major GC is when the heap signal moves, and near the limit they come faster than any
      // sensible poll: check right away.
      onMajor: () => this.#watcher.check('gc'),
    });
    const probe = new HeapProbe({ heapBudget: this.heapBudget.bytes, gc: this.#gc });
    this.#cgroup = safe(() => openCgroup());
    this.#role = deps.role;
    this.#sampler = new Sampler({
      heapBudget: this.heapBudget.bytes,
      gc: this.#gc,
      cgroup: this.#cgroup,
      constrainedMemory: typeof process.constrainedMemory === 'function' ? () => process.constrainedMemory() : undefined,
      ownsContainer: this.#ownership(),
    });
    this.#observe = config.action === 'observe' ? new ObserveGate() : undefined;
    const events = new Events({ ...deps, config });
    this.#watcher = new Watcher({
      config,
      clock: promptClock,
      sample: () => this.#sampler.sample(),
      evaluate: this.#observe?.evaluate,
      onEvaluation: (reading, evaluation) => {
        this.#snapshot = { reading, thresholds: evaluation.thresholds, state: evaluation.state.state, pressure: evaluation.pressure };
        if (this.#observe) this.#snapshot.observedShutdowns = this.#observe.count;
        probe.follow(reading, evaluation.thresholds.heap.shutdown, evaluation.state.state);
      },
      onDecision: (decision, reading, evaluation) => events.onDecision(decision, reading, evaluation),
      onError: (err) => this.#log(`oomguard: check failed: ${String(err)}`),
      confirmHeap: (reading) => probe.confirm(reading),
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

  start(): void {
    for (const line of unreachableLines(this.#config, this.heapBudget.bytes, this.#sampler.memoryLimit().bytes)) this.#log(line);
    this.#watcher.start(); // its first reading decides whether GCs are observed yet
  }

  stop(): void {
    this.#watcher.stop();
    this.#gc.stop();
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
