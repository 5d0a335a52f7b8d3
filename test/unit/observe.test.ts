import { describe, expect, it } from 'vitest';
import { ObserveGate, OBSERVE_REARM_MS } from '../../src/observe';
import { INITIAL_POLICY_STATE, type PolicyConfig, type PolicyState } from '../../src/policy';
import type { Reading } from '../../src/types';

const MiB = 1024 * 1024;
const config: PolicyConfig = {
  heapThreshold: { kind: 'percent', percent: 75 },
  heapWarn: { kind: 'percent', percent: 70 },
  rssThreshold: { kind: 'off' },
  rssWarn: { kind: 'off' },
};

/** A reading at `time` whose heap signal is `heapMiB` of a 100 MiB budget (line 75, warn 70). */
function reading(time: number, heapMiB: number): Reading {
  const bytes = heapMiB * MiB;
  return {
    time,
    heapInUse: bytes,
    heapCommitted: bytes,
    heapReleased: 0,
    heapLimit: 200 * MiB,
    heapBudget: 100 * MiB,
    oldGenInUse: bytes,
    heapSignal: bytes,
    gc: { majorCount: 1, oldGenLive: bytes, recentMajors: 0, recentGcShare: 0, recentWindowMs: 10_000, ineffectiveMajors: 0, livePoints: [] },
  };
}

/** Feed `[time, heapMiB]` readings through the gate as the watcher does; the actions decided at each. */
function run(gate: ObserveGate, steps: [number, number][]): { actions: string[][]; state: PolicyState } {
  let state = INITIAL_POLICY_STATE;
  const actions: string[][] = [];
  for (const [time, mib] of steps) {
    const ev = gate.evaluate(reading(time, mib), state, config);
    state = ev.state;
    actions.push(ev.decisions.map((d) => d.action));
  }
  return { actions, state };
}

describe('shadow mode: the policy decides, the gate turns a shutdown into one observation', () => {
  it('a crossing is decided as a shutdown once, and the guard stays in warn, still deciding', () => {
    const gate = new ObserveGate();
    const { actions, state } = run(gate, [
      [0, 50],
      [1000, 80],
      [2000, 85],
      [3000, 90],
    ]);
    expect(actions).toEqual([[], ['warn', 'shutdown'], [], []]);
    expect(state).toEqual({ state: 'warn', warned: { heap: true, rss: false } });
    expect(gate.count).toBe(1);
  });

  it('after a recovery, a new crossing is observed again, but not sooner than a minute after the last', () => {
    const gate = new ObserveGate();
    const { actions } = run(gate, [
      [0, 80],
      [1000, 60],
      [2000, 80],
      [OBSERVE_REARM_MS - 1, 80],
      [OBSERVE_REARM_MS, 80],
      [OBSERVE_REARM_MS + 1000, 80],
    ]);
    expect(actions).toEqual([['warn', 'shutdown'], ['recover'], ['warn'], [], ['shutdown'], []]);
    expect(gate.count).toBe(2);
  });

  it('without a recovery in between, a minute is not enough: one value parked above the line is one record', () => {
    const gate = new ObserveGate();
    const { actions } = run(gate, [
      [0, 80],
      [OBSERVE_REARM_MS * 2, 80],
      [OBSERVE_REARM_MS * 3, 90],
    ]);
    expect(actions).toEqual([['warn', 'shutdown'], [], []]);
    expect(gate.count).toBe(1);
  });

  it('warnings and recoveries pass through as the policy decides them', () => {
    const { actions } = run(new ObserveGate(), [
      [0, 71],
      [1000, 60],
    ]);
    expect(actions).toEqual([['warn'], ['recover']]);
  });
});
