/**
 * Shadow mode, `OOMGUARD_ACTION=observe`: the guard decides exactly as it would and reports a
 * shutdown it would have made (the JSON line with `"observed":true`, the span and log record,
 * the `oomguard.shutdowns.observed` counter), but runs no hook and never exits, so a team can
 * trial it in production and see what it would have done before letting it act.
 *
 * The policy shuts down once and then only watches the shutdown run. Here the process keeps
 * going, so the guard must keep deciding: an observed shutdown leaves the guard in `warn` with
 * that signal past its warn line. The next one is observed only after the signal has fallen back
 * below its warn line (the policy's own `recover`, 5% under the line) and `OBSERVE_REARM_MS` has
 * passed, so a value hovering at the line, or a GC sawtooth across it, is one record a minute at
 * most, not one per reading.
 */
import { evaluate, type Evaluation, type EvaluationContext, type PolicyConfig, type PolicyState } from './policy';
import type { Reading, Signal } from './types';

/** Least time between two observed shutdowns. */
export const OBSERVE_REARM_MS = 60_000;

/** The policy's evaluation, as the watcher calls it. */
export type Evaluate = (reading: Reading, previous: PolicyState, config: PolicyConfig, context?: EvaluationContext) => Evaluation;

export class ObserveGate {
  readonly #inner: Evaluate;
  readonly #rearmMs: number;
  #count = 0;
  #lastAt = -Infinity;
  /** The signal last observed, until it has recovered. */
  #pending: Signal | undefined;

  constructor(inner: Evaluate = evaluate, rearmMs: number = OBSERVE_REARM_MS) {
    this.#inner = inner;
    this.#rearmMs = rearmMs;
  }

  /** Shutdowns observed so far (the `oomguard.shutdowns.observed` counter). */
  get count(): number {
    return this.#count;
  }

  /** The policy's evaluation with every shutdown turned into an observation (or dropped, if too soon). */
  readonly evaluate: Evaluate = (reading, previous, config, context) => {
    const evaluation = this.#inner(reading, previous, config, context);
    for (const d of evaluation.decisions) {
      if (d.action === 'recover' && d.signal === this.#pending) this.#pending = undefined;
    }
    const shutdown = evaluation.decisions.find((d) => d.action === 'shutdown');
    if (evaluation.state.state !== 'shutdown' || !shutdown) return evaluation;
    const others = evaluation.decisions.filter((d) => d !== shutdown);
    const state: PolicyState = { state: 'warn', warned: { ...evaluation.state.warned, [shutdown.signal]: true } };
    if (this.#pending !== undefined || reading.time - this.#lastAt < this.#rearmMs) {
      return { ...evaluation, state, decisions: others };
    }
    this.#count++;
    this.#lastAt = reading.time;
    this.#pending = shutdown.signal;
    return { ...evaluation, state, decisions: [...others, shutdown] };
  };
}
