/**
 * The loop: tick -> sample -> evaluate -> act.
 *
 * A self-rescheduling `setTimeout` that is `unref()`'d and `refresh()`'d, never `setInterval`
 * (the pattern of fastify's under-pressure): ticks never pile up behind a busy event loop, and
 * the timer never keeps the app alive. The timer is only half of it: the GC tracker calls
 * `check()` after every major GC, because as the heap fills V8 runs major GCs ever more often,
 * and a fast leak can go from 80% to V8's abort in less than one poll interval. How long the
 * timer waits is cadence.ts's pure function; the clock and timers are injected (`Clock`).
 */
import type { Decision, Reading } from './types';
import { evaluate, INITIAL_POLICY_STATE, type Evaluation, type PolicyConfig, type PolicyState } from './policy';
import type { Evaluate } from './observe';
import type { ConfirmUrgency } from './heap-decision';
import { MIN_CHECK_GAP_MS, nextCheckIn, recentReadings } from './cadence';

/** A pending timer of the watcher's clock. */
export interface ClockTimer {
  cancel(): void;
}

/** A pending timeout that can be restarted with the same delay (Node's `timeout.refresh()`). */
export interface ClockTimeout extends ClockTimer {
  refresh(): void;
}

/**
 * Time and timers as the watcher uses them; `systemClock` is the real one, tests pass a fake
 * that they advance by hand. Timers made here must never keep the process alive.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): ClockTimeout;
  /** Run `fn` on the next turn of the event loop. */
  setImmediate(fn: () => void): ClockTimer;
}

/** `Date.now` and Node's timers, `unref()`'d: the guard must never hold the app's process open. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer), refresh: () => void timer.refresh() };
  },
  setImmediate(fn) {
    const immediate = setImmediate(fn);
    immediate.unref();
    return { cancel: () => clearImmediate(immediate) };
  },
};

export interface WatcherOptions {
  config: PolicyConfig & { readonly pollIntervalMs: number };
  sample: () => Reading;
  /** Called after every evaluation, with the reading it decided on. */
  onEvaluation?: (reading: Reading, evaluation: Evaluation) => void;
  /** Called for each decision, in order. Must not throw (the watcher guards it anyway). */
  onDecision: (decision: Decision, reading: Reading, evaluation: Evaluation) => void;
  /** Errors in sampling or listeners end up here instead of in the app. */
  onError?: (err: unknown) => void;
  /**
   * Asked when the heap in use reaches its line but no major GC says the live set has
   * (`Evaluation.confirmHeap`): run one now (returns false when it did not), and the check is
   * taken again on fresh numbers.
   */
  confirmHeap?: (reading: Reading, line: number, urgency: ConfirmUrgency) => boolean;
  /**
   * Whether the app's main module has been evaluated (main-module.ts); until then a shutdown
   * waits, unless V8's trajectory leaves no time. Default: always.
   */
  mainReady?: () => boolean;
  /** Default `systemClock`. */
  clock?: Clock;
  /** The policy's `evaluate`, or a wrapper of it (shadow mode, observe.ts). */
  evaluate?: Evaluate;
}

/** What a check was triggered by; kept for the record and the benchmarks. */
export type Trigger = 'start' | 'timer' | 'gc' | 'main';

export class Watcher {
  readonly #opts: WatcherOptions;
  readonly #clock: Clock;
  readonly #evaluate: Evaluate;
  #state: PolicyState = INITIAL_POLICY_STATE;
  #timer: ClockTimeout | undefined;
  #timerMs = 0;
  #first: ClockTimer | undefined;
  /** Recent readings, oldest first, to tell how fast memory grows (cadence.ts). */
  #history: Reading[] = [];
  #lastCheck = -Infinity;
  #running = false;
  #latest: { reading: Reading; evaluation: Evaluation } | undefined;
  #checks = 0;

  constructor(options: WatcherOptions) {
    this.#opts = options;
    this.#clock = options.clock ?? systemClock;
    this.#evaluate = options.evaluate ?? evaluate;
  }

  /**
   * A first reading right away (so `status()` has one from the start), the first check on the
   * next turn of the event loop, then every poll. Under a preload `start()` runs before the app's
   * main module: a process that starts above the line must not wait a poll interval, but it must
   * get the chance to register its shutdown hooks, so a shutdown waits for `mainReady` (the
   * agent checks again with trigger `main` the moment it turns true).
   */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#prime();
    this.#first = this.#clock.setImmediate(() => {
      this.#first = undefined;
      this.check('start');
      if (this.#running) this.#arm(this.#interval());
    });
  }

  /** Removes the timer. The watcher can be started again. */
  stop(): void {
    this.#running = false;
    this.#first?.cancel();
    this.#first = undefined;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Checks taken so far (for tests and the benchmarks). */
  get checks(): number {
    return this.#checks;
  }

  get state(): PolicyState {
    return this.#state;
  }

  /** The last reading and what the policy made of it. */
  get latest(): { reading: Reading; evaluation: Evaluation } | undefined {
    return this.#latest;
  }

  /**
   * Take a reading and act on it now, unless one was taken less than `MIN_CHECK_GAP_MS` ago
   * (GC-driven checks can come in bursts). Returns whether a check ran.
   */
  check(trigger: Trigger): boolean {
    if (!this.#running) return false;
    const now = this.#clock.now();
    if (trigger !== 'start' && trigger !== 'main' && now - this.#lastCheck < MIN_CHECK_GAP_MS) return false;
    this.#lastCheck = now;
    this.#checks++;
    let reading: Reading;
    let evaluation: Evaluation;
    try {
      const context = { mainReady: this.#opts.mainReady?.() ?? true };
      reading = this.#opts.sample();
      evaluation = this.#evaluate(reading, this.#state, this.#opts.config, context);
      const line = evaluation.thresholds.heap.shutdown;
      if (evaluation.confirmHeap && line !== undefined && this.#opts.confirmHeap?.(reading, line, evaluation.confirmHeap)) {
        reading = this.#opts.sample();
        evaluation = this.#evaluate(reading, this.#state, this.#opts.config, context);
      }
    } catch (err) {
      this.#opts.onError?.(err);
      return true;
    }
    this.#history = recentReadings(this.#history, reading);
    const before = this.#state.state;
    this.#state = evaluation.state;
    this.#latest = { reading, evaluation };
    this.#guard(() => this.#opts.onEvaluation?.(reading, evaluation));
    for (const decision of evaluation.decisions) this.#guard(() => this.#opts.onDecision(decision, reading, evaluation));
    if (evaluation.state.emergency) {
      this.stop();
    } else if (this.#timer && (before !== evaluation.state.state || trigger === 'gc' || evaluation.held)) {
      // Switch cadence now rather than at the next tick (a GC-driven check also refreshes the
      // growth rate, which may call for an earlier look).
      this.#reschedule();
    }
    return true;
  }

  /** A reading and what the policy would make of it, without acting or changing state. */
  #prime(): void {
    try {
      const reading = this.#opts.sample();
      // The policy itself: nothing is decided here, so a wrapper (shadow mode) must not count it.
      const evaluation = evaluate(reading, this.#state, this.#opts.config);
      const primed: Evaluation = { ...evaluation, state: this.#state, decisions: [] };
      this.#latest = { reading, evaluation: primed };
      this.#guard(() => this.#opts.onEvaluation?.(reading, primed));
    } catch (err) {
      this.#opts.onError?.(err);
    }
  }

  #onTimer(): void {
    if (!this.#running) return;
    this.check('timer');
    if (this.#running) this.#reschedule();
  }

  #reschedule(): void {
    if (!this.#timer) return;
    const interval = this.#interval();
    // refresh() keeps the same timer object; a changed cadence needs a new one.
    if (this.#timerMs === interval) {
      this.#timer.refresh();
    } else {
      this.#timer.cancel();
      this.#arm(interval);
    }
  }

  #arm(ms: number): void {
    this.#timerMs = ms;
    this.#timer = this.#clock.setTimeout(() => this.#onTimer(), ms);
  }

  #interval(): number {
    return nextCheckIn({
      state: this.#state.state,
      pollIntervalMs: this.#opts.config.pollIntervalMs,
      readings: this.#history,
      thresholds: this.#latest?.evaluation.thresholds,
      held: this.#latest?.evaluation.held ?? false,
    });
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#opts.onError?.(err);
    }
  }
}
