/**
 * The agent's lifecycle: when each part of the guard is loaded and started, and stopped again.
 *
 * `NODE_OPTIONS` puts the preload into every node process a container starts (npm, build tools,
 * short CLIs, every child), so what the preload does before the app's first line is paid by all
 * of them, most of which never need a guard. Hence three steps, each paid only by the processes
 * that get there:
 *
 * 1. `start()`, in the preload: two unref'd timers, the parent mark, and what can only be done
 *    before the app's first line: the native part's near-heap-limit callback (a runaway in the
 *    main module itself ends in it), the GC function of the guard's own (V8 flags must not
 *    change once workers may exist; gc.ts) and the watch for the main module (main-module.ts).
 * 2. The first turn of the event loop (or the first `status()`/`reading()`, or a callback of the
 *    native part): the guard itself (guard.ts: heap budget, cgroup, sampler, watcher, GC
 *    tracker, events; one more module) is loaded and armed, and takes its first reading. A
 *    process that ends without turning its event loop (`node -e 0`, a synchronous CLI) never
 *    loads it: the guard acts from timers and GC callbacks, which only run on a turning loop.
 * 3. `telemetryDelayMs` later (default 5 s, `OOMGUARD_TELEMETRY_DELAY`), or at the first warning,
 *    whichever comes first: telemetry (the OTel SDK, exporters, the `/metrics` server: 100-400 ms
 *    of loading and most of the agent's memory). A process that ends sooner would not have been
 *    scraped anyway: Prometheus scrapes every 15-60 s. Never at a shutdown, and never into a heap
 *    or memory limit too close to its shutdown line to hold it (`#roomShort`).
 *
 * Every timer here is unref'd: none of them ever keeps a process alive or delays its exit.
 */
import type { Config, Snapshot } from './types';
import type { Shutdown } from './shutdown';
import type { HeapBudget } from './heap';
import type { MemoryLimit } from './sampler';
import type { PressureListener } from './events';
import type { TelemetryHandle } from './telemetry';
import type { Guard } from './guard';
import type { AgentLog } from './log';
import type { Clock } from './watcher';
import { MainModule } from './main-module';
import { inheritedParentPid, markAsParent, unmarkAsParent } from './parent';
import { ProcessRole } from './launcher';
import { exposedGc, majorGcTrigger, readSpaces } from './gc';
import { MajorGcSentinel } from './major-gc';
import { NativeGuard } from './native-guard';
import { normalizeLimit } from './cgroup';
import { safe } from './safely';

/** Whether anything goes out over OTLP: its exporters come as packages (see below) and weigh more. */
function usesOtlp(config: Config): boolean {
  return config.otlp || config.export.traces.otlp || config.export.metrics.otlp || config.export.logs.otlp;
}

/**
 * Telemetry's code. The build bundles the OpenTelemetry SDK with it into one file
 * (dist/telemetry/bundle.js, scripts/build.mjs): it loads in about half the CPU time and ~9 MiB
 * less RSS than the SDK's ~200 files (BENCHMARKS.md, figure 11). The OTLP exporters are chosen
 * by protocol at run time and come as packages that bring their own copy of the SDK, so with
 * OTLP on the SDK is loaded as packages too, once (dist/telemetry/index.js).
 */
function telemetryModule(config: Config): typeof import('./telemetry') {
  if (!usesOtlp(config)) {
    try {
      return require('./telemetry/bundle') as typeof import('./telemetry');
    } catch {
      // A build without the bundle (the sources run directly): the packages.
    }
  }
  return require('./telemetry') as typeof import('./telemetry');
}

/** A size for the one line below, without loading the units module into the preload. */
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/**
 * What loading telemetry takes, with a margin for its garbage while it loads: about twice what it
 * keeps (BENCHMARKS.md, figure 11: the bundle ~3 MiB of live heap and ~10 MiB of RSS; with the
 * OTLP exporters, packages, ~7 MiB and ~28 MiB).
 */
function telemetryRoom(config: Config): { heap: number; memory: number } {
  return usesOtlp(config) ? { heap: 16 * 2 ** 20, memory: 64 * 2 ** 20 } : { heap: 8 * 2 ** 20, memory: 32 * 2 ** 20 };
}

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

/**
 * Unref'd timers for the main-module watch; its "next turn" a 0 ms timer, as the guard's own
 * (guard.ts, promptClock): an unref'd setImmediate could wait for the next timer or I/O event.
 */
const preloadClock: Pick<Clock, 'setTimeout' | 'setImmediate'> = {
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer), refresh: () => void timer.refresh() };
  },
  setImmediate(fn) {
    const timer = setTimeout(fn, 0);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

export class Agent {
  readonly config: Config;
  readonly #deps: AgentDeps;
  #started = false;
  #stopped = false;
  #guard: Guard | undefined;
  #armTimer: NodeJS.Timeout | undefined;
  #telemetry: Promise<TelemetryHandle | undefined> | undefined;
  /** Whether the line saying telemetry waits for room was written (once per process). */
  #roomReported = false;
  #telemetryTimer: NodeJS.Timeout | undefined;
  /** The guarded parent's pid, when this process was started by one (parent.ts). */
  readonly #parentPid: string | undefined;
  /** A launcher (npm, a cluster primary) leaves the container's memory and the port to the app (launcher.ts). */
  readonly #role: ProcessRole;
  /** The guard's own major GC, obtained in the preload or never (see `AgentDeps.preloaded`). */
  #forceGc: (() => void) | undefined;
  /** V8's near-heap-limit and major-GC callbacks (docs/native.md), from `start()` to `stop()`. */
  #native: NativeGuard | undefined;
  /** When the app's main module has been evaluated: the first shutdown waits for it. */
  readonly #main = new MainModule({ clock: preloadClock });
  /**
   * Every major GC, at any heap size, without the observer's cost per scavenge: an upper bound of
   * what it left alive and V8's next limit (`oomguard.heap.next_gc`), in the JavaScript mode. From the preload
   * on: the heap decisions weigh the live set's trajectory, and the main module's own major GCs
   * (a cache filled at start-up) are its first points. The first one arms the guard.
   */
  readonly #majors = new MajorGcSentinel({ onMajor: () => this.#armed().gcTracker.recordSentinelMajor(readSpaces()) });

  constructor(config: Config, deps: AgentDeps) {
    this.config = config;
    this.#deps = deps;
    this.#parentPid = inheritedParentPid(process.env, process.pid);
    this.#role = new ProcessRole();
  }

  /** The heap budget (arms the guard if it is not yet). */
  get heapBudget(): HeapBudget {
    return this.#armed().heapBudget;
  }

  /** The memory limit the sampler sees, and where it came from (arms the guard if it is not yet). */
  memoryLimit(): MemoryLimit {
    return this.#armed().memoryLimit();
  }

  /** The last reading the policy decided on, with its thresholds and state (arms the guard if it is not yet). */
  snapshot(): Snapshot | undefined {
    if (!this.running) return undefined;
    return this.#armed().snapshot();
  }

  /** From `start()` until `stop()` (or until an emergency exit took over). */
  get running(): boolean {
    return this.#started && !this.#stopped && (this.#guard?.running ?? true);
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    // Child node processes inherit NODE_OPTIONS, so they run a guard of their own and try the
    // same metrics port: the mark tells their telemetry that this is expected (parent.ts). A
    // package manager leaves the port to the app it starts, so it does not claim to hold it.
    if (!this.#role.byScript) markAsParent(process.env, process.pid);
    // Obtained once, now: V8 flags must not be flipped once workers may exist. Only the heap
    // line asks for a GC of the guard's own (policy.ts, confirmHeap): without one, none is made
    // (creating the context for it costs 1.5-2 ms and ~400 KiB of heap at start-up on Node 24
    // and 26, medians under load: BENCHMARKS.md).
    const wantsGc = this.config.heapThreshold.kind !== 'off';
    this.#forceGc = this.#deps.preloaded && wantsGc ? majorGcTrigger() : exposedGc();
    // Shadow mode promises not to act, and the native part's one job is to act at V8's limit: it
    // stays off there, and the process meets V8's limit as it would without the guard.
    if (this.config.action !== 'observe') this.#native = this.#startNative();
    // The native part reports every mark-compact itself; the sentinel is the JavaScript mode's.
    if (!this.#native?.observesGc) this.#majors.start();
    // Under a preload the main module is not resolved yet (main-module.ts). Only a preload runs
    // before the main module; an app that calls start() itself is already in it and registers
    // its hooks next to that call, so there is nothing to wait for.
    if (this.#deps.preloaded) this.#main.start(() => void this.#armed().check('main'));
    else this.#main.stop();
    if (this.config.heapThreshold.kind === 'bytes' || this.config.rssThreshold.kind === 'bytes') {
      // Whether a size can ever be reached depends on the heap budget and the memory limit, and
      // the operator should read it with the other configuration lines, before the app's first
      // line (guard.ts): such a configuration arms the guard right away.
      this.#armed();
    } else {
      // A 0 ms timer runs on the first turn of the loop after the main module; an unref'd
      // setImmediate could wait for the next timer or I/O event (guard.ts, promptClock).
      this.#armTimer = setTimeout(() => {
        this.#armTimer = undefined;
        this.#armed();
      }, 0);
      this.#armTimer.unref();
    }
    if (this.config.sdkDisabled) return;
    this.#telemetryTimer = setTimeout(() => this.#telemetryTurn(), this.config.telemetryDelayMs);
    this.#telemetryTimer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#armTimer) clearTimeout(this.#armTimer);
    this.#armTimer = undefined;
    this.#guard?.stop();
    this.#main.stop();
    this.#majors.stop();
    this.#native?.stop();
    this.#native = undefined;
    this.#role.stop();
    unmarkAsParent(process.env, process.pid, this.#parentPid);
    if (this.#telemetryTimer) clearTimeout(this.#telemetryTimer);
    this.#telemetryTimer = undefined;
    const telemetry = await this.#telemetry;
    this.#telemetry = undefined;
    await telemetry?.shutdown().catch(() => undefined);
  }

  /** The guard, loaded and started now if the event loop has not turned yet. */
  #armed(): Guard {
    if (!this.#guard) {
      const { Guard } = require('./guard') as typeof import('./guard');
      this.#guard = new Guard(this.config, {
        ...this.#deps,
        role: this.#role,
        forceGc: this.#forceGc,
        native: this.#native,
        mainReady: () => this.#main.ready,
        majors: this.#majors,
        telemetry: (load) => this.#ensureTelemetry(load),
      });
      if (!this.#stopped) this.#guard.start();
    }
    return this.#guard;
  }

  /**
   * The native part, installed in the preload so that a runaway in the main module ends in its
   * near-heap-limit callback; its callbacks arm the guard if it is not yet. Until the guard reads
   * the cgroup, the reserve is capped by `process.constrainedMemory()`. Without the addon (or with
   * `OOMGUARD_NATIVE=off`) the guard runs in its JavaScript mode.
   */
  #startNative(): NativeGuard {
    const constrained = typeof process.constrainedMemory === 'function' ? safe(() => process.constrainedMemory()) : undefined;
    return NativeGuard.start({
      config: this.config,
      memoryLimit: normalizeLimit(constrained),
      gc: {
        record: (gc) => this.#armed().gcTracker.record(gc),
        recordMajor: (...args) => this.#armed().gcTracker.recordMajor(...args),
      },
      onMajor: () => void this.#armed().check('gc'),
      onNearLimit: (info) => this.#armed().heapLimit(info),
      log: this.#deps.log,
    });
  }

  /**
   * Telemetry, started now if its turn has not come yet and the memory it takes is there (see
   * `telemetryRoom`). `load: false` (a shutdown, its flush) only returns what is loaded or
   * loading: a shutdown is when memory is scarcest, and the few MiB of heap and tens of MiB of RSS
   * the SDK takes to load could end the drain it is part of.
   */
  #ensureTelemetry(load: boolean): Promise<TelemetryHandle | undefined> | undefined {
    if (!load || !this.#telemetryTimer || this.#stopped) return this.#telemetry;
    const short = this.#roomShort();
    if (short) {
      // A warning that finds no room leaves the timer as it is; the timer retries at its period.
      return undefined;
    }
    clearTimeout(this.#telemetryTimer);
    this.#telemetryTimer = undefined;
    this.#telemetry = this.#startTelemetry();
    return this.#telemetry;
  }

  /** The timer's turn: telemetry loads if there is room for it, else the timer tries again later. */
  #telemetryTurn(): void {
    if (this.#stopped || this.#telemetry) return;
    const short = this.#roomShort();
    if (!short) {
      this.#telemetryTimer = undefined;
      this.#telemetry = this.#startTelemetry();
      return;
    }
    if (!this.#roomReported) {
      this.#roomReported = true;
      this.#deps.log(`oomguard: telemetry not loaded yet: ${short}; it loads once there is room (the guard guards meanwhile)`, 'warn');
    }
    this.#telemetryTimer = setTimeout(() => this.#telemetryTurn(), Math.max(1000, this.config.telemetryDelayMs));
    this.#telemetryTimer.unref();
  }

  /**
   * Why telemetry must not load now, or undefined if it may: what loading it takes would bring
   * the last reading within reach of a shutdown line. Loading telemetry must never be what shuts
   * the app down (nor end a drain in an emergency exit): in a small heap near its line, the guard
   * guards without it rather than spend the app's last MiB on it.
   */
  #roomShort(): string | undefined {
    const s = this.#guard?.snapshot();
    if (!s) return undefined;
    const need = telemetryRoom(this.config);
    // Shadow mode never shuts down, and telemetry is what it is for: there only V8's heap budget
    // and the memory limit bound what loading it may take.
    const observe = this.config.action === 'observe';
    const heapLine = observe ? s.reading.heapBudget : s.thresholds.heap.shutdown;
    if (heapLine !== undefined && s.reading.heapSignal + need.heap > heapLine) {
      return `the heap is ${mib(Math.max(0, heapLine - s.reading.heapSignal))} below ${observe ? "V8's heap budget" : 'its shutdown line'}, and loading telemetry takes about ${mib(need.heap)} of it`;
    }
    const rssLine = observe ? s.reading.memoryLimit : s.thresholds.rss.shutdown;
    const memory = s.reading.memorySignal;
    if (rssLine !== undefined && memory !== undefined && memory + need.memory > rssLine) {
      return `memory is ${mib(Math.max(0, rssLine - memory))} below ${observe ? 'its limit' : 'its shutdown line'}, and loading telemetry takes about ${mib(need.memory)} of it`;
    }
    return undefined;
  }

  async #startTelemetry(): Promise<TelemetryHandle | undefined> {
    try {
      const { startTelemetry } = telemetryModule(this.config);
      // A package manager leaves the metrics port to the app it starts (launcher.ts). A cluster
      // primary keeps it: its /metrics carries its workers' series too, merged with its own, and
      // the workers serve theirs on local sockets (telemetry/cluster.ts).
      const config = this.#role.byScript ? { ...this.config, metrics: { ...this.config.metrics, enabled: false } } : this.config;
      return await startTelemetry(config, { latest: () => this.#guard?.snapshot() }, this.#deps.log, { parentPid: this.#parentPid });
    } catch (err) {
      this.#deps.log(`oomguard: telemetry is off (${String(err)}); the guard still guards`, 'error');
      return undefined;
    }
  }
}
