/**
 * Shutdown: the hook registry, the deadline and the exit code.
 *
 * One shot. `run()` arms the deadline timer first, then starts every hook at once (memory is
 * running out; a slow hook must not hold up the others), flushes telemetry within a bounded
 * slice of what is left ({@link flushBudget}), and ends: `exit`, or SIGTERM so the app's own
 * shutdown path runs with the rest of the deadline. Everything process-wide (`exit`, `kill`,
 * the platform, the clock, the logger) is injected so unit tests never exit, and only e2e tests
 * see real exit codes.
 */
import type { PressureEvent, ShutdownAction } from './types';
import { describeError } from './safely';

/** A function to run before the process exits on memory pressure. */
export type ShutdownHook = (event: PressureEvent) => unknown;

/** Options of `onShutdown`. */
export interface HookOptions {
  /**
   * How long this hook may take, in milliseconds or as a duration string (`'5s'`). It is also
   * bounded by the overall deadline (`OOMGUARD_SHUTDOWN_TIMEOUT`). Default: the overall deadline.
   */
  timeout?: number | string;
  /** Used in log lines; defaults to the function's name. */
  name?: string;
}

/** What the process-wide side of shutdown needs; `processDeps()` gives the real ones. */
export interface ShutdownDeps {
  exit(code: number): void;
  /** Make `code` the exit code however the process ends from now on. */
  forceExitCode(code: number): void;
  kill(signal: NodeJS.Signals): void;
  listenerCount(signal: NodeJS.Signals): number;
  /** `process.platform`: a signal to oneself on Windows ends the process at once. */
  platform: NodeJS.Platform;
  log(line: string): void;
  setTimer(fn: () => void, ms: number): { unref(): void; ref(): void };
  clearTimer(timer: unknown): void;
  now(): number;
}

export interface RunOptions {
  exitCode: number;
  timeoutMs: number;
  action: ShutdownAction;
  /** Telemetry flush, bounded by the time left, told how each hook ended; must not reject (errors are logged). */
  flush?: (msLeft: number, hooks: readonly HookResult[]) => Promise<void>;
  /** Milliseconds of the deadline already spent before `run()` (the shutdown's evidence). */
  spentMs?: number;
}

interface Hook {
  fn: ShutdownHook;
  name: string;
  timeoutMs: number | undefined;
}

/** Outcome of one hook, reported in the log and returned by `run()` for tests. */
export interface HookResult {
  name: string;
  outcome: 'ok' | 'error' | 'timeout';
  ms: number;
  error?: string;
}

export type DurationParser = (value: string) => number;

/** The telemetry flush gets at least this much of the deadline, when that much is left... */
export const FLUSH_MIN_MS = 250;
/** ...and otherwise at most this share of it. */
export const FLUSH_SHARE = 0.15;

/**
 * The telemetry flush's slice of the deadline: what is left after the hooks, but never more than
 * max(250 ms, 15% of the deadline) (1.5 s of the default 10 s), whatever the collector does. The
 * hooks come first, and the app's own SIGTERM path (`signal`, `auto`) needs the rest: a collector
 * that accepts and never answers must not eat it. 250 ms is ten times what a final export to a
 * reachable collector takes here (a few kilobytes on loopback: 5-20 ms).
 */
export function flushBudget(timeoutMs: number, leftMs: number): number {
  return Math.max(0, Math.min(leftMs, Math.max(FLUSH_MIN_MS, Math.round(timeoutMs * FLUSH_SHARE))));
}

/**
 * After the guard's SIGTERM, the event loop is held this long by a ref'd timer, so that the
 * signal is delivered and the app's listeners run even when nothing else is pending (a signal
 * does not keep the loop alive). The signal reaches JavaScript on the next turn of the loop; the
 * margin covers a loop slowed by GC.
 */
export const SIGNAL_GRACE_MS = 100;

/**
 * How a shutdown ends. `auto` sends SIGTERM when the app listens for it (the guard itself never
 * does), else exits. On Windows `process.kill(process.pid, 'SIGTERM')` is an unconditional
 * TerminateProcess with exit code 1 and no handler runs, so `signal` and `auto` exit there.
 */
export function endAction(action: ShutdownAction, platform: NodeJS.Platform, appListeners: number): 'exit' | 'signal' {
  if (platform === 'win32' || action === 'exit') return 'exit';
  if (action === 'auto') return appListeners > 0 ? 'signal' : 'exit';
  return 'signal';
}

export class Shutdown {
  readonly #deps: ShutdownDeps;
  readonly #parseDuration: DurationParser;
  readonly #hooks = new Set<Hook>();
  readonly #pending = new Set<string>();
  #running: Promise<HookResult[]> | undefined;
  #exitCode: number | undefined;

  constructor(deps: ShutdownDeps, parseDuration: DurationParser) {
    this.#deps = deps;
    this.#parseDuration = parseDuration;
  }

  /**
   * Register a hook; returns a function that removes it. Throws (at registration, never at
   * shutdown time) when the function or timeout is invalid.
   */
  add(fn: ShutdownHook, options: HookOptions = {}): () => void {
    if (typeof fn !== 'function') {
      throw new TypeError(`oomguard: onShutdown(fn) expects a function, got ${typeof fn}`);
    }
    let timeoutMs: number | undefined;
    if (options.timeout !== undefined) {
      timeoutMs = typeof options.timeout === 'number' ? options.timeout : this.#parseDuration(options.timeout);
      if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
        throw new RangeError(`oomguard: onShutdown timeout must be a positive duration, got ${String(options.timeout)}`);
      }
    }
    const hook: Hook = { fn, name: options.name ?? (fn.name || `hook#${this.#hooks.size + 1}`), timeoutMs };
    this.#hooks.add(hook);
    return () => {
      this.#hooks.delete(hook);
    };
  }

  get size(): number {
    return this.#hooks.size;
  }

  /**
   * True once `run()` has been called: from its first line, since hooks start synchronously
   * inside it and one that V8 terminated at the heap limit (native part) never returns to it.
   */
  get running(): boolean {
    return this.#running !== undefined || this.#exitCode !== undefined;
  }

  /** Run the shutdown once; later calls return the first call's promise. */
  run(event: PressureEvent, options: RunOptions): Promise<HookResult[]> {
    this.#running ??= this.#run(event, options);
    return this.#running;
  }

  /**
   * Exit now, with the shutdown's exit code, whatever is still running: memory kept rising during
   * the shutdown and waiting longer would let V8 abort or the kernel kill. No-op before `run()`.
   */
  abort(why: string): void {
    if (this.#exitCode === undefined) return;
    const pending = [...this.#pending];
    this.#deps.log(
      `oomguard: ${why}; exiting now with code ${this.#exitCode}` +
        (pending.length ? ` (unfinished hooks: ${pending.map((n) => `"${n}"`).join(', ')})` : ''),
    );
    this.#deps.exit(this.#exitCode);
  }

  async #run(event: PressureEvent, options: RunOptions): Promise<HookResult[]> {
    const deps = this.#deps;
    this.#exitCode = options.exitCode;
    const started = deps.now() - (options.spentMs ?? 0);
    const deadline = started + options.timeoutMs;
    // From here on the exit code is ours, whoever ends the process: a hook, the app's own
    // SIGTERM handler calling process.exit(0), or the event loop running dry.
    deps.forceExitCode(options.exitCode);
    // Armed before any hook runs, as close-with-grace does: a hook may hang or block, and the
    // deadline must hold regardless. Kept ref'd while hooks run so a pending hook is waited for.
    const timer = deps.setTimer(() => {
      deps.log(`oomguard: shutdown deadline of ${options.timeoutMs}ms passed; exiting with code ${options.exitCode}`);
      deps.exit(options.exitCode);
    }, Math.max(0, deadline - deps.now()));

    const results = await Promise.all([...this.#hooks].map((hook) => this.#runHook(hook, event, deadline)));
    for (const r of results) {
      if (r.outcome === 'error') deps.log(`oomguard: shutdown hook "${r.name}" failed after ${r.ms}ms: ${r.error}`);
      if (r.outcome === 'timeout') deps.log(`oomguard: shutdown hook "${r.name}" did not finish within ${r.ms}ms; moving on`);
    }
    if (options.flush) {
      try {
        await options.flush(flushBudget(options.timeoutMs, deadline - deps.now()), results);
      } catch (err) {
        deps.log(`oomguard: telemetry flush failed: ${describeError(err)}`);
      }
    }
    this.#end(options, timer);
    return results;
  }

  /**
   * `exit`, or SIGTERM to the process so the app's own shutdown path runs. If that path ends the
   * process (process.exit, an empty event loop, or a library such as signal-exit re-raising the
   * signal), the forced exit code applies; if it hangs, the deadline does. The deadline no
   * longer holds the loop open: the app decides how long it stays up. A short ref'd grace timer
   * does, until the signal has been delivered. The guard adds no SIGTERM listener of its own:
   * signal-exit (used by execa, write-file-atomic and many more) re-raises the signal only when
   * it is the sole listener, and would otherwise leave the app serving until the deadline.
   */
  #end(options: RunOptions, deadlineTimer: { unref(): void }): void {
    const deps = this.#deps;
    const listeners = deps.listenerCount('SIGTERM');
    if (endAction(options.action, deps.platform, listeners) === 'signal' && listeners > 0) {
      deadlineTimer.unref();
      deps.setTimer(() => undefined, SIGNAL_GRACE_MS);
      deps.kill('SIGTERM');
      return;
    }
    if (options.action === 'signal') {
      deps.log(
        deps.platform === 'win32'
          ? 'oomguard: OOMGUARD_ACTION=signal does nothing on Windows (a signal there ends the process at once, exit code 1, no handler runs); exiting'
          : 'oomguard: OOMGUARD_ACTION=signal but the app has no SIGTERM listener; exiting',
      );
    }
    deps.clearTimer(deadlineTimer);
    deps.exit(options.exitCode);
  }

  async #runHook(hook: Hook, event: PressureEvent, deadline: number): Promise<HookResult> {
    const deps = this.#deps;
    const start = deps.now();
    this.#pending.add(hook.name);
    const budget = Math.max(0, Math.min(hook.timeoutMs ?? Infinity, deadline - start));
    let timer: unknown;
    const timeout = new Promise<'timeout'>((resolve) => {
      const t = deps.setTimer(() => resolve('timeout'), budget);
      t.unref();
      timer = t;
    });
    try {
      const outcome = await Promise.race([
        (async () => {
          const result = hook.fn(event);
          // A synchronous hook is done when it returns; said now, not in a later microtask, which
          // V8 drops when it terminates the JavaScript that ran at the heap limit (native part).
          if (!isThenable(result)) this.#pending.delete(hook.name);
          await result;
          return 'ok' as const;
        })(),
        timeout,
      ]);
      return { name: hook.name, outcome, ms: deps.now() - start };
    } catch (err) {
      return { name: hook.name, outcome: 'error', ms: deps.now() - start, error: describeError(err) };
    } finally {
      this.#pending.delete(hook.name);
      deps.clearTimer(timer);
    }
  }
}

function isThenable(value: unknown): boolean {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** Whether `process.kill(pid, signal)` sends this process a SIGTERM (the default signal). */
function isSigtermToSelf(pid: number, signal: string | number | undefined): boolean {
  return Number(pid) === process.pid && (signal === undefined || signal === 'SIGTERM' || signal === 15);
}

/** The real process. */
export function processDeps(log: (line: string) => void): ShutdownDeps {
  let forced: number | undefined;
  // Taken before the app runs (the slot is created by the preload): the guard's own signal.
  const kill = process.kill.bind(process);
  return {
    exit: (code) => process.exit(code),
    forceExitCode(code) {
      if (forced === undefined) {
        // Node sets process.exitCode from process.exit(code) before emitting 'exit' and exits
        // with process.exitCode after the listeners ran (lib/internal/process/per_thread.js), so
        // a listener has the last word on the code, whatever the app passed.
        process.on('exit', () => {
          process.exitCode = forced;
        });
        // And so that the app's own 'exit' listeners (logs, metrics) see the code the process
        // really ends with, a process.exit() from the app during the shutdown passes ours.
        const exit = process.exit;
        process.exit = function exitWithForcedCode() {
          return exit.call(process, forced);
        } as typeof process.exit;
        // A SIGTERM the process sends itself with no listener left would end it by the signal,
        // without an exit code: signal-exit does exactly that after running its handlers (it
        // removes its listener, then re-raises, synchronously, inside the delivery of ours, so
        // no listener added later could catch it). During the shutdown, that becomes an exit
        // with the forced code.
        const appKill = process.kill;
        process.kill = function killOrExitWithForcedCode(pid: number, signal?: string | number) {
          if (isSigtermToSelf(pid, signal) && process.listenerCount('SIGTERM') === 0) return exit.call(process, forced);
          return appKill.call(process, pid, signal);
        } as typeof process.kill;
      }
      forced = code;
      process.exitCode = code;
    },
    kill: (signal) => void kill(process.pid, signal),
    listenerCount: (signal) => process.listenerCount(signal),
    platform: process.platform,
    log,
    setTimer: (fn, ms) => setTimeout(fn, ms),
    clearTimer: (t) => clearTimeout(t as NodeJS.Timeout),
    now: () => Date.now(),
  };
}
