import { afterEach, describe, expect, it } from 'vitest';
import { systemClock, Watcher, type WatcherOptions } from '../../src/watcher';
import { MIN_CHECK_GAP_MS, SHUTDOWN_POLL_MS } from '../../src/cadence';
import type { Decision, Reading, ThresholdSpec } from '../../src/types';
import { FakeClock } from './fake-clock';

const MiB = 1024 * 1024;
const BUDGET = 100 * MiB;
const pct = (percent: number): ThresholdSpec => ({ kind: 'percent', percent });
/** Heap warn at 70% of the budget, shutdown at 80%. */
const config = { heapThreshold: pct(80), heapWarn: pct(70), rssThreshold: pct(90), rssWarn: pct(80), pollIntervalMs: 400 };

/** A reading as right after a major GC that left `heap` alive (so the heap decides on its own). */
function reading(time: number, heap: number, gc: Partial<Reading['gc']> = {}): Reading {
  return {
    time,
    heapInUse: heap,
    heapCommitted: BUDGET,
    heapReleased: 0,
    heapLimit: 2 * BUDGET,
    heapBudget: BUDGET,
    oldGenInUse: heap,
    heapSignal: heap,
    gc: { majorCount: 1, recentMajors: 0, recentGcShare: 0, recentWindowMs: 10_000, livePoints: [], ineffectiveMajors: 0, oldGenLive: heap, ...gc },
  };
}

let watcher: Watcher | undefined;
afterEach(() => watcher?.stop());

/** A watcher on a fake clock whose heap is `heap(now)` of the budget; records when each check sampled. */
function watch(heap: (now: number) => number, over: Partial<WatcherOptions> = {}, gc: () => Partial<Reading['gc']> = () => ({})) {
  const clock = new FakeClock(0);
  const sampledAt: number[] = [];
  const decisions: Decision[] = [];
  watcher = new Watcher({
    config,
    clock,
    sample: () => {
      sampledAt.push(clock.now());
      return reading(clock.now(), Math.round(heap(clock.now()) * BUDGET), gc());
    },
    onDecision: (d) => decisions.push(d),
    ...over,
  });
  return { w: watcher, clock, sampledAt, decisions };
}

/** Gaps between consecutive samples after the first `skip`. */
const gaps = (at: number[], skip = 0): number[] => at.slice(skip + 1).map((t, i) => t - at[skip + i]!);

describe('Watcher', () => {
  it('has a reading at once, decides on the next loop turn, then polls on its own timer', () => {
    let heap = 0.1;
    const { w, clock, decisions } = watch(() => heap);
    w.start();
    expect(w.latest?.reading.heapSignal).toBe(0.1 * BUDGET);
    expect(w.checks).toBe(0);
    clock.advance(0);
    expect(w.checks).toBe(1);
    clock.advance(399);
    expect(w.checks).toBe(1);
    clock.advance(1);
    expect(w.checks).toBe(2);
    heap = 0.75;
    clock.advance(400);
    expect(decisions.map((d) => d.action)).toEqual(['warn']);
  });

  it('stop() ends the checks and leaves no timer behind', () => {
    const { w, clock } = watch(() => 0.1);
    w.start();
    clock.advance(1000);
    const checks = w.checks;
    w.stop();
    expect(clock.pending).toBe(0);
    clock.advance(10_000);
    expect(w.checks).toBe(checks);
    expect(w.check('gc')).toBe(false);
  });

  it('a sampler that throws reaches onError, never the app, and the loop goes on', () => {
    let n = 0;
    const errors: unknown[] = [];
    const { w, clock } = watch(
      () => {
        if (++n % 2 === 0) throw new Error('boom');
        return 0.1;
      },
      { onError: (e) => errors.push(e) },
    );
    w.start();
    clock.advance(0);
    clock.advance(4 * 400);
    expect(errors).toHaveLength(3); // every second sample: the start check, 800 and 1600 ms
    expect(w.checks).toBe(5);
  });

  it('never checks twice within the floor, however often the GC asks', () => {
    const { w, clock } = watch(() => 0.1, { config: { ...config, pollIntervalMs: 10_000 } });
    w.start();
    clock.advance(0);
    let ran = 0;
    for (let i = 0; i < 100; i++) if (w.check('gc')) ran++;
    expect(ran).toBe(0);
    clock.advance(MIN_CHECK_GAP_MS - 1);
    expect(w.check('gc')).toBe(false);
    clock.advance(1);
    expect(w.check('gc')).toBe(true);
    expect(w.checks).toBe(2);
  });

  it('polls four times faster past the warn line, and at the shutdown cadence while shutting down', () => {
    let heap = 0.75;
    const { w, clock, sampledAt } = watch(() => heap);
    w.start();
    clock.advance(0);
    expect(w.state.state).toBe('warn');
    clock.advance(3 * 100);
    heap = 0.85;
    clock.advance(100);
    expect(w.state.state).toBe('shutdown');
    clock.advance(3 * SHUTDOWN_POLL_MS);
    // after the prime and the start check: 400 / 4 while warning, then 20 ms while shutting down
    expect(gaps(sampledAt, 1)).toEqual([100, 100, 100, 100, SHUTDOWN_POLL_MS, SHUTDOWN_POLL_MS, SHUTDOWN_POLL_MS]);
  });

  it('a GC-driven check that changes the state switches cadence at once, not at the next tick', () => {
    let heap = 0.69;
    const { w, clock, sampledAt } = watch(() => heap);
    w.start();
    clock.advance(100);
    heap = 0.7; // the warn line
    expect(w.check('gc')).toBe(true);
    expect(w.state.state).toBe('warn');
    clock.advance(200);
    // start at 0, the GC check at 100, then the warn cadence from there: 200, not the old 400
    expect(sampledAt.slice(1)).toEqual([0, 100, 200, 300]);
  });

  it('looks again before a leak, at its current rate, can reach the line', () => {
    // The 80% line is 83886080 bytes; the heap grows 16384 bytes/ms from 3500 ms short of it.
    const line = 83886080;
    const { clock, sampledAt, w } = watch((now) => (line - 16384 * (3500 - now)) / BUDGET, {
      config: { ...config, heapWarn: { kind: 'off' }, pollIntervalMs: 1000 },
    });
    w.start();
    clock.advance(2100);
    // 1000 (nothing measured yet), then a quarter of the time left: 2500 / 4, then 1875 / 4
    expect(gaps(sampledAt, 1).slice(0, 3)).toEqual([1000, 625, 468]);
  });

  it('an emergency decision during a shutdown stops the watcher', () => {
    let ineffective = 0;
    const { w, clock, decisions } = watch(() => 0.85, {}, () => ({ ineffectiveMajors: ineffective }));
    w.start();
    clock.advance(0);
    expect(decisions.map((d) => d.action)).toEqual(['warn', 'shutdown']);
    ineffective = 3; // V8 counting ineffective mark-compacts
    clock.advance(SHUTDOWN_POLL_MS);
    expect(decisions.map((d) => d.action)).toEqual(['warn', 'shutdown', 'emergency']);
    expect(w.running).toBe(false);
    expect(clock.pending).toBe(0);
  });
});

describe('Watcher: a confirming GC and the main module', () => {
  it('asks for a confirming GC with the line and its urgency, then decides on a fresh reading', () => {
    // The heap in use is past the 80% line but no major GC has said what is alive yet.
    let live: number | undefined;
    const asked: [number, string][] = [];
    const { w, clock, decisions, sampledAt } = watch(() => 0.85, {
      confirmHeap: (_r, line, urgency) => {
        asked.push([line, urgency]);
        live = 0.82 * BUDGET;
        return true;
      },
    }, () => ({ oldGenLive: live, majorCount: live === undefined ? 0 : 1 }));
    w.start();
    clock.advance(0);
    expect(asked).toEqual([[Math.floor(0.8 * BUDGET), 'urgent']]);
    expect(sampledAt).toHaveLength(3); // the prime, the check, the fresh reading after the GC
    expect(decisions.map((d) => [d.action, d.grounds?.confirmedBy])).toEqual([['warn', 'v8'], ['shutdown', 'v8']]);
  });

  it('holds a shutdown until the main module is evaluated, looking at the shutdown cadence meanwhile', () => {
    let ready = false;
    const { w, clock, decisions, sampledAt } = watch(() => 0.85, { mainReady: () => ready });
    w.start();
    clock.advance(0);
    expect(decisions.map((d) => d.action)).toEqual(['warn']);
    expect(w.latest?.evaluation.held).toBe(true);
    clock.advance(2 * SHUTDOWN_POLL_MS);
    expect(gaps(sampledAt, 1)).toEqual([SHUTDOWN_POLL_MS, SHUTDOWN_POLL_MS]);
    ready = true;
    expect(w.check('main')).toBe(true); // at once, whatever the floor
    expect(decisions.map((d) => d.action)).toEqual(['warn', 'shutdown']);
  });

  it('does not hold a shutdown that V8 trajectory says cannot wait', () => {
    const { w, clock, decisions } = watch(() => 0.85, { mainReady: () => false }, () => ({ ineffectiveMajors: 3 }));
    w.start();
    clock.advance(0);
    expect(decisions.map((d) => d.action)).toEqual(['warn', 'shutdown']);
  });
});

describe('systemClock', () => {
  // getActiveResourcesInfo() lists what keeps the event loop alive: unref'd timers are not in it.
  const active = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate').length;

  it('runs timers that never keep the process alive, and cancels them', async () => {
    const before = active();
    const fired: string[] = [];
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    systemClock.setImmediate(() => fired.push('immediate'));
    systemClock.setTimeout(() => fired.push('cancelled'), 1).cancel();
    const t = systemClock.setTimeout(() => (fired.push('timeout'), done()), 1);
    t.refresh();
    expect(active()).toBe(before);
    await finished;
    expect(fired).toEqual(['immediate', 'timeout']);
  });
});
