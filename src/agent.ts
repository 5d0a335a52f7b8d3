/**
 * The running guard, as an orchestrator only: it wires config -> GC tracker + sampler ->
 * watcher -> events, starts them and stops them. What each part does lives in its own file:
 * sampling (sampler.ts), deciding (policy.ts), when to look (watcher.ts, cadence.ts), when to
 * observe or force GCs (heap-probe.ts), what a decision becomes (events.ts), the process tree
 * (parent.ts), telemetry (telemetry/).
 *
 * Nothing here runs on import. `Agent.start()` installs a timer, a GC observer and (later) the
 * telemetry; `Agent.stop()` removes all of it.
 */
import type { Config, Snapshot, ThresholdSpec } from './types';
import { formatBytes } from './units';
import { Sampler, type MemoryLimit } from './sampler';
import { systemClock, Watcher } from './watcher';
import { MainModule } from './main-module';
import type { Shutdown } from './shutdown';
import { processHeapBudget, type HeapBudget } from './heap';
import { GcTracker } from './gc';
import { HeapProbe } from './heap-probe';
import { openCgroup, type CgroupHandle } from './cgroup';
import { Events, type PressureListener } from './events';
import type { TelemetryHandle } from './telemetry';
import { inheritedParentPid, markAsParent, unmarkAsParent } from './parent';
import { safe } from './safely';

export interface AgentDeps {
  /** Where the agent's own lines go (stderr by default, written synchronously). */
  log: (line: string) => void;
  shutdown: Shutdown;
  listeners: Set<PressureListener>;
}

export class Agent {
  readonly config: Config;
  readonly heapBudget: HeapBudget;
  readonly #log: (line: string) => void;
  readonly #gc: GcTracker;
  readonly #sampler: Sampler;
  readonly #watcher: Watcher;
  readonly #cgroup: CgroupHandle | undefined;
  readonly #main = new MainModule({ clock: systemClock });
  #telemetry: Promise<TelemetryHandle | undefined> | undefined;
  #telemetryTimer: NodeJS.Immediate | undefined;
  #snapshot: Snapshot | undefined;
  /** The guarded parent's pid, when this process was started by one (parent.ts). */
  readonly #parentPid: string | undefined;

  constructor(config: Config, deps: AgentDeps) {
    this.config = config;
    this.#log = deps.log;
    this.#parentPid = inheritedParentPid(process.env, process.pid);
    this.heapBudget = processHeapBudget();
    this.#gc = new GcTracker({
      heapBudget: this.heapBudget.bytes,
      // A major GC is when the heap signal moves, and near the limit they come faster than any
      // sensible poll: check right away.
      onMajor: () => this.#watcher.check('gc'),
    });
    const probe = new HeapProbe({ heapBudget: this.heapBudget.bytes, gc: this.#gc });
    this.#cgroup = safe(() => openCgroup());
    this.#sampler = new Sampler({
      heapBudget: this.heapBudget.bytes,
      gc: this.#gc,
      cgroup: this.#cgroup,
      constrainedMemory: typeof process.constrainedMemory === 'function' ? () => process.constrainedMemory() : undefined,
    });
    const events = new Events({ ...deps, config, telemetry: () => this.#ensureTelemetry() });
    this.#watcher = new Watcher({
      config,
      sample: () => this.#sampler.sample(),
      onEvaluation: (reading, evaluation) => {
        this.#snapshot = { reading, thresholds: evaluation.thresholds, state: evaluation.state.state, pressure: evaluation.pressure };
        probe.follow(reading, evaluation.thresholds.heap.shutdown, evaluation.state.state);
      },
      onDecision: (decision, reading, evaluation) => events.onDecision(decision, reading, evaluation),
      onError: (err) => this.#log(`oomguard: check failed: ${String(err)}`),
      confirmHeap: (reading, line, urgency) => probe.confirm(reading, line, urgency),
      mainReady: () => this.#main.ready,
    });
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
    // same metrics port: the mark tells their telemetry that this is expected (parent.ts).
    markAsParent(process.env, process.pid);
    for (const line of unreachableLines(this.config, this.heapBudget.bytes, this.#sampler.memoryLimit().bytes)) this.#log(line);
    // Before the watcher: under a preload the main module is not resolved yet (main-module.ts).
    this.#main.start(() => this.#watcher.check('main'));
    this.#watcher.start(); // its first reading decides whether GCs are observed yet
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
    unmarkAsParent(process.env, process.pid, this.#parentPid);
    if (this.#telemetryTimer) clearImmediate(this.#telemetryTimer);
    this.#telemetryTimer = undefined;
    const telemetry = await this.#telemetry;
    this.#telemetry = undefined;
    await telemetry?.shutdown().catch(() => undefined);
    safe(() => this.#cgroup?.close());
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
      return await startTelemetry(this.config, { latest: () => this.#snapshot }, this.#log, { parentPid: this.#parentPid });
    } catch (err) {
      this.#log(`oomguard: telemetry is off (${String(err)}); the guard still guards`);
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
