/**
 * The loop: tick -> sample -> evaluate -> act.
 *
 * A self-rescheduling `setTimeout` that is `unref()`'d and `refresh()`'d, never `setInterval`
 * (as fastify's under-pressure does): ticks never pile up behind a busy event loop, and the timer
 * never keeps the app alive. The timer is only half of it: the GC tracker calls `check()` after
 * every major GC, because as the heap fills V8 runs major GCs ever more often, and a fast leak
 * can go from 80% to V8's abort in less than one poll interval.
 */
import type { Decision, Reading } from './types';
import { MIN_POLL_INTERVAL_MS } from './config';
import { evaluate, INITIAL_POLICY_STATE, nearLine, type Evaluation, type PolicyConfig, type PolicyState } from './policy';

/** Shortest time between two checks, whatever asks for them: the poll interval's floor. */
export const MIN_CHECK_GAP_MS = MIN_POLL_INTERVAL_MS;

/** Growth is measured over about this long (see `#timeToLine`)... */
export const RATE_WINDOW_MS = 1000;
/** ...and over no less than this. */
export const RATE_MIN_SPAN_MS = 50;

/** Next check within this fraction of the time memory needs to reach a shutdown line. */
export const ETA_DIVISOR = 4;

/** Cadence while a shutdown is running (see `#interval`). */
export const SHUTDOWN_POLL_MS = 20;

/** Once a warn line is crossed, poll this many times faster (never under the floor). */
export const HOT_POLL_DIVISOR = 4;

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
   * Asked when the old generation in use reaches the heap line before a major GC has said how
   * much of it is alive: run one now (returns false when it did not), and the check is taken
   * again on fresh numbers.
   */
  confirmHeap?: (reading: Reading) => boolean;
  now?: () => number;
}

/** What a check was triggered by; kept for the record and the benchmarks. */
export type Trigger = 'start' | 'timer' | 'gc';

export class Watcher {
  readonly #opts: WatcherOptions;
  readonly #now: () => number;
  #state: PolicyState = INITIAL_POLICY_STATE;
  #timer: NodeJS.Timeout | undefined;
  #timerMs = 0;
  #first: NodeJS.Immediate | undefined;
  /** Recent readings, oldest first, to tell how fast memory grows (see `#timeToLine`). */
  readonly #history: Reading[] = [];
  #lastCheck = -Infinity;
  #running = false;
  #latest: { reading: Reading; evaluation: Evaluation } | undefined;
  #checks = 0;

  constructor(options: WatcherOptions) {
    this.#opts = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * A first reading right away (so `status()` has one from the start), the first decision on the
   * next turn of the event loop, then every poll. The decision waits that one turn because under
   * a preload `start()` runs before the app's main module: a process that starts above the line
   * must not wait a poll interval, but it must get the chance to register its shutdown hooks.
   */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#prime();
    this.#first = setImmediate(() => {
      this.#first = undefined;
      this.check('start');
      if (this.#running) this.#arm(this.#interval());
    });
    this.#first.unref();
  }

  /** Removes the timer. The watcher can be started again. */
  stop(): void {
    this.#running = false;
    if (this.#first) clearImmediate(this.#first);
    this.#first = undefined;
    if (this.#timer) clearTimeout(this.#timer);
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
    const now = this.#now();
    if (trigger !== 'start' && now - this.#lastCheck < MIN_CHECK_GAP_MS) return false;
    this.#lastCheck = now;
    this.#checks++;
    let reading: Reading;
    let evaluation: Evaluation;
    try {
      reading = this.#opts.sample();
      evaluation = evaluate(reading, this.#state, this.#opts.config);
      if (evaluation.confirmHeap && this.#opts.confirmHeap?.(reading)) {
        reading = this.#opts.sample();
        evaluation = evaluate(reading, this.#state, this.#opts.config);
      }
    } catch (err) {
      this.#opts.onError?.(err);
      return true;
    }
    this.#remember(reading);
    const before = this.#state.state;
    this.#state = evaluation.state;
    this.#latest = { reading, evaluation };
    this.#guard(() => this.#opts.onEvaluation?.(reading, evaluation));
    for (const decision of evaluation.decisions) this.#guard(() => this.#opts.onDecision(decision, reading, evaluation));
    if (evaluation.state.emergency) {
      this.stop();
    } else if (this.#timer && (before !== evaluation.state.state || trigger === 'gc')) {
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
      clearTimeout(this.#timer);
      this.#arm(interval);
    }
  }

  #arm(ms: number): void {
    this.#timerMs = ms;
    this.#timer = setTimeout(() => this.#onTimer(), ms);
    this.#timer.unref();
  }

  #interval(): number {
    const base = this.#opts.config.pollIntervalMs;
    // While shutting down the app may still be allocating fast: watch at the floor cadence so an
    // emergency exit comes before V8's abort or the kernel's kill.
    if (this.#state.state === 'shutdown') return SHUTDOWN_POLL_MS;
    const relaxed = this.#state.state === 'ok' ? base : Math.max(MIN_CHECK_GAP_MS, Math.floor(base / HOT_POLL_DIVISOR));
    // And whatever the state: look again before memory, growing at its current rate, can reach
    // a shutdown line (a quarter of the time it would take). A 100 MB/s leak in a 128 MiB heap
    // crosses from 70% to 80% in 130 ms, between two 1 s ticks.
    const eta = this.#timeToLine();
    return eta === undefined ? relaxed : Math.max(MIN_CHECK_GAP_MS, Math.min(relaxed, Math.floor(eta / ETA_DIVISOR)));
  }

  #remember(reading: Reading): void {
    const h = this.#history;
    h.push(reading);
    // Keep what the rate needs: readings of the last RATE_WINDOW_MS, and never more than 32.
    while (h.length > 32 || (h.length > 2 && reading.time - h[1]!.time >= RATE_WINDOW_MS)) h.shift();
  }

  /**
   * Milliseconds until a signal reaches its shutdown line at the rate memory grew over the last
   * second or so. Two readings a few ms apart say little (allocation comes in bursts, and a
   * GC-driven check lands right after one), so the baseline is the oldest reading kept, at least
   * RATE_MIN_SPAN_MS before the latest.
   */
  #timeToLine(): number | undefined {
    const latest = this.#latest;
    const base = this.#history[0];
    if (!latest || !base) return undefined;
    const dt = latest.reading.time - base.time;
    if (!(dt >= RATE_MIN_SPAN_MS)) return undefined;
    const t = latest.evaluation.thresholds;
    let eta: number | undefined;
    const consider = (now: number | undefined, before: number | undefined, line: number | undefined): void => {
      if (now === undefined || before === undefined || line === undefined) return;
      const rate = (now - before) / dt;
      if (!(rate > 0)) return;
      const ms = Math.max(0, line - now) / rate;
      if (eta === undefined || ms < eta) eta = ms;
    };
    consider(latest.reading.oldGenInUse, base.oldGenInUse, t.heap.shutdown);
    // And the heap as a whole (young objects are the old generation of the next scavenge), once
    // it is near its line; before that, its growth is mostly young garbage.
    if (t.heap.shutdown !== undefined && nearLine(latest.reading, t.heap.shutdown)) {
      consider(latest.reading.heapInUse, base.heapInUse, t.heap.shutdown);
    }
    consider(latest.reading.memorySignal, base.memorySignal, t.rss.shutdown);
    return eta;
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#opts.onError?.(err);
    }
  }
}
