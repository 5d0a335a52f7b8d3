import { afterEach, describe, expect, it } from 'vitest';
import { Watcher, MIN_CHECK_GAP_MS } from '../../src/watcher';
import type { Decision, Reading, ThresholdSpec } from '../../src/types';

const MiB = 1024 * 1024;
const pct = (percent: number): ThresholdSpec => ({ kind: 'percent', percent });

function reading(heapFraction: number): Reading {
  const budget = 100 * MiB;
  return {
    time: Date.now(),
    heapInUse: heapFraction * budget,
    heapCommitted: budget,
    heapReleased: 0,
    heapLimit: 2 * budget,
    heapBudget: budget,
    oldGenInUse: heapFraction * budget,
    heapSignal: heapFraction * budget,
    gc: { majorCount: 0, recentMajors: 0, recentGcShare: 0, recentWindowMs: 10_000, burstMajors: 0 },
  };
}

const config = { heapThreshold: pct(80), heapWarn: pct(70), rssThreshold: pct(90), rssWarn: pct(80), pollIntervalMs: 40 };
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate').length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let watcher: Watcher | undefined;
afterEach(() => watcher?.stop());

describe('Watcher', () => {
  it('has a reading at once, decides on the next loop turn, then polls on its own timer', async () => {
    let heap = 0.1;
    let samples = 0;
    const decisions: Decision[] = [];
    watcher = new Watcher({ config, sample: () => (samples++, reading(heap)), onDecision: (d) => decisions.push(d) });
    watcher.start();
    expect(watcher.latest?.reading.heapSignal).toBe(0.1 * 100 * MiB);
    expect(watcher.checks).toBe(0);
    await sleep(5);
    expect(watcher.checks).toBe(1);
    heap = 0.75;
    await sleep(120);
    expect(decisions.map((d) => d.action)).toEqual(['warn']);
    expect(samples).toBeGreaterThanOrEqual(3);
  });

  it('its timers never keep the process alive, and stop() ends the checks', async () => {
    // getActiveResourcesInfo() lists what keeps the event loop alive: unref'd timers are not in it.
    const before = timers();
    watcher = new Watcher({ config, sample: () => reading(0.1), onDecision: () => undefined });
    watcher.start();
    expect(timers()).toBe(before);
    await sleep(60);
    expect(timers()).toBe(before);
    watcher.stop();
    const checks = watcher.checks;
    await sleep(100);
    expect(watcher.checks).toBe(checks);
  });

  it('a sampler that throws reaches onError, never the app, and the loop goes on', async () => {
    let n = 0;
    const errors: unknown[] = [];
    watcher = new Watcher({
      config,
      sample: () => {
        if (++n % 2 === 0) throw new Error('boom');
        return reading(0.1);
      },
      onDecision: () => undefined,
      onError: (e) => errors.push(e),
    });
    watcher.start();
    await sleep(400);
    expect(errors.length).toBeGreaterThan(0);
    expect(watcher.checks).toBeGreaterThan(2);
  });

  it('never checks twice within the floor, however often the GC asks', async () => {
    watcher = new Watcher({ config: { ...config, pollIntervalMs: 10_000 }, sample: () => reading(0.1), onDecision: () => undefined });
    watcher.start();
    await sleep(5);
    const base = watcher.checks;
    let ran = 0;
    for (let i = 0; i < 100; i++) if (watcher.check('gc')) ran++;
    expect(ran).toBeLessThanOrEqual(1);
    await sleep(MIN_CHECK_GAP_MS + 5);
    expect(watcher.check('gc')).toBe(true);
    expect(watcher.checks).toBeLessThanOrEqual(base + 2);
  });

  it('polls faster past the warn line, and keeps watching at the floor cadence while shutting down', async () => {
    let heap = 0.75;
    watcher = new Watcher({ config: { ...config, pollIntervalMs: 400 }, sample: () => reading(heap), onDecision: () => undefined });
    watcher.start();
    await sleep(450);
    // warn: 400 / 4 = 100 ms between ticks -> about 4 checks in 450 ms instead of 1-2
    expect(watcher.checks).toBeGreaterThanOrEqual(3);
    heap = 0.85;
    await sleep(120);
    expect(watcher.state.state).toBe('shutdown');
    const c = watcher.checks;
    await sleep(300);
    // 20 ms cadence: ~15 checks in 300 ms; a loaded machine still gets well past the warn cadence's 3
    expect(watcher.checks - c).toBeGreaterThanOrEqual(5);
  });
});
