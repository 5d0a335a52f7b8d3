import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeEvent, Events, jsonLine, type EventsDeps, type PressureListener } from '../../src/events';
import type { Evaluation } from '../../src/policy';
import { INITIAL_POLICY_STATE } from '../../src/policy';
import type { TelemetryHandle } from '../../src/telemetry';
import type { Decision, PressureEvent, Reading } from '../../src/types';

const MiB = 1024 * 1024;
const reading: Reading = {
  time: Date.UTC(2025, 0, 2, 3, 4, 5),
  heapInUse: 90 * MiB,
  heapCommitted: 100 * MiB,
  heapReleased: 0,
  heapLimit: 150 * MiB,
  heapBudget: 100 * MiB,
  oldGenInUse: 85 * MiB,
  heapSignal: 85 * MiB,
  rss: 120 * MiB,
  memorySignal: 120 * MiB,
  gc: { majorCount: 3, recentMajors: 1, recentGcShare: 0.1, recentWindowMs: 10_000, livePoints: [], ineffectiveMajors: 0 },
};
const thresholds = { heap: { warn: 70 * MiB, shutdown: 80 * MiB }, rss: {} };
const evaluation: Evaluation = { state: INITIAL_POLICY_STATE, decisions: [], thresholds, pressure: 1.0625, confirmHeap: false, held: false };
const shutdownDecision: Decision = { action: 'shutdown', signal: 'heap', value: 85 * MiB, threshold: 80 * MiB, reason: 'heap-threshold' };

function setup(telemetry?: Promise<TelemetryHandle | undefined>, action: EventsDeps['config']['action'] = 'auto') {
  const lines: string[] = [];
  const loads: boolean[] = [];
  const order: string[] = [];
  const listeners = new Set<PressureListener>();
  const runs: { event: PressureEvent; options: Parameters<EventsDeps['shutdown']['run']>[1] }[] = [];
  const aborts: string[] = [];
  const deps: EventsDeps = {
    config: { exitCode: 2, shutdownTimeoutMs: 5000, action },
    log: (line) => (lines.push(line), order.push('log')),
    listeners,
    shutdown: {
      run: (event, options) => (runs.push({ event, options }), order.push('shutdown'), Promise.resolve([])),
      abort: (why) => void aborts.push(why),
      get running() {
        return runs.length > 0;
      },
    },
    telemetry: (load) => (loads.push(load), telemetry),
  };
  const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => void order.push('warning'));
  return { events: new Events(deps), lines, order, listeners, runs, aborts, warnings, loads };
}

afterEach(() => vi.restoreAllMocks());

describe('Events: what a decision becomes', () => {
  it('a shutdown: the JSON line first, then the listeners, the process warning, then the shutdown with the configured exit', () => {
    const { events, lines, order, listeners, runs, warnings } = setup();
    listeners.add(() => void order.push('listener'));
    events.onDecision(shutdownDecision, reading, evaluation);
    expect(order).toEqual(['log', 'listener', 'warning', 'shutdown']);
    expect(JSON.parse(lines[0]!)).toMatchObject({ name: 'oomguard.shutdown', level: 'shutdown', reason: 'heap-threshold', value: 85 * MiB });
    expect(warnings).toHaveBeenCalledWith('memory pressure: heap 85MiB >= 80MiB; shutting down (pressure 1.06)', {
      code: 'OOMGUARD_MEMORY_PRESSURE',
      detail: 'reason: heap-threshold',
    });
    expect(runs[0]?.options).toMatchObject({ exitCode: 2, timeoutMs: 5000, action: 'auto' });
  });

  it('a warning may load telemetry that is not up yet; a shutdown and its flush never do (memory is scarcest then)', async () => {
    const { events, loads, runs } = setup();
    events.onDecision({ action: 'warn', signal: 'heap', value: 72 * MiB, threshold: 70 * MiB, reason: 'heap-warn' }, reading, evaluation);
    expect(loads).toEqual([true]);
    events.onDecision({ action: 'recover', signal: 'heap', value: 50 * MiB, threshold: 70 * MiB, reason: 'heap-recovered' }, reading, evaluation);
    events.onDecision(shutdownDecision, reading, evaluation);
    await runs[0]!.options.flush!(1000, []);
    expect(loads).toEqual([true, false, false, false]);
  });

  it('a listener that throws is logged, and the next listener still hears the event', () => {
    const { events, lines, listeners } = setup();
    const heard: string[] = [];
    listeners.add(() => {
      throw new Error('listener bug');
    });
    listeners.add((e) => void heard.push(e.level));
    events.onDecision({ action: 'warn', signal: 'heap', value: 72 * MiB, threshold: 70 * MiB, reason: 'heap-warn' }, reading, evaluation);
    expect(heard).toEqual(['warn']);
    expect(lines[1]).toMatch(/onPressure listener threw: Error: listener bug/);
  });

  it('a recovery is a JSON line and an event, not a process warning', () => {
    const { events, lines, warnings, runs } = setup();
    events.onDecision({ action: 'recover', signal: 'heap', value: 50 * MiB, threshold: 70 * MiB, reason: 'heap-recovered' }, reading, evaluation);
    expect(JSON.parse(lines[0]!)).toMatchObject({ name: 'oomguard.recovered', level: 'ok' });
    expect(warnings).not.toHaveBeenCalled();
    expect(runs).toEqual([]);
  });

  it('the grounds of a shutdown reaches the JSON line, the listeners and the telemetry event', () => {
    const { events, lines, listeners, runs } = setup();
    const heard: PressureEvent[] = [];
    listeners.add((e) => heard.push(e));
    const grounds = { basis: 'live', confirmedBy: 'guard', lastMajorAt: 1000, liveAfterMajor: 85 * MiB, majorGcMs: 80, ineffectiveMajors: 0 } as const;
    events.onDecision({ ...shutdownDecision, grounds }, reading, evaluation);
    expect(JSON.parse(lines[0]!).grounds).toEqual(grounds);
    expect(heard[0]?.grounds).toEqual(grounds);
    expect(runs[0]?.event.grounds).toEqual(grounds);
    // a warning carries none
    const again = setup();
    again.events.onDecision({ action: 'warn', signal: 'heap', value: 75 * MiB, threshold: 70 * MiB, reason: 'heap-warn' }, reading, evaluation);
    expect(JSON.parse(again.lines[0]!)).not.toHaveProperty('grounds');
  });

  it('an emergency cuts the running shutdown short and says why', () => {
    const { events, aborts, lines } = setup();
    events.onDecision({ action: 'emergency', signal: 'rss', value: 190 * MiB, threshold: 180 * MiB, reason: 'rss-emergency' }, reading, evaluation);
    events.onDecision(
      { action: 'emergency', signal: 'heap', value: 95 * MiB, threshold: 80 * MiB, reason: 'gc-thrash-emergency', grounds: { basis: 'gc-thrash', ineffectiveMajors: 2, mutatorUtilization: 0.12 } },
      reading,
      evaluation,
    );
    events.onDecision(
      { action: 'emergency', signal: 'heap', value: 110 * MiB, threshold: 128 * MiB, reason: 'heap-emergency', grounds: { basis: 'growth', liveGrowthPerSec: 60 * MiB, timeToBudgetMs: 180.4 } },
      reading,
      evaluation,
    );
    expect(aborts).toEqual([
      'memory is still rising during the shutdown (rss 190MiB >= 180MiB)',
      'memory is still rising during the shutdown (V8 is about to give up on its heap: 2 ineffective mark-compacts in a row, mutator utilisation 0.12)',
      'memory is still rising during the shutdown (live heap 110MiB growing 60MiB/s, 180 ms from the budget)',
    ]);
    expect(lines).toEqual([]);
  });

  it('hands the event to telemetry, and the shutdown flush waits for a slow telemetry start no longer than the time left', async () => {
    const recorded: PressureEvent[] = [];
    const handle = { recordEvent: (e: PressureEvent) => void recorded.push(e), flush: vi.fn(async () => undefined) } as unknown as TelemetryHandle;
    let up: (t: TelemetryHandle) => void = () => undefined;
    const { events, runs } = setup(new Promise((resolve) => (up = resolve)));
    events.onDecision(shutdownDecision, reading, evaluation);
    const t0 = Date.now();
    await runs[0]!.options.flush!(30, []);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(handle.flush).not.toHaveBeenCalled();
    up(handle);
    const hooks = [{ name: 'wal', outcome: 'ok' as const, ms: 12 }];
    await runs[0]!.options.flush!(200, hooks);
    expect(recorded.map((e) => e.level)).toEqual(['shutdown']);
    // The hooks' outcomes go along: they end the shutdown span.
    expect(handle.flush).toHaveBeenCalledWith(expect.any(Number), hooks);
    expect((handle.flush as unknown as { mock: { calls: number[][] } }).mock.calls[0]![0]).toBeLessThanOrEqual(200);
  });
});

describe('Events in shadow mode (OOMGUARD_ACTION=observe)', () => {
  it('a shutdown is recorded as observed (JSON line, telemetry, process warning) and nothing else: no listener, no shutdown', async () => {
    const recorded: PressureEvent[] = [];
    const handle = { recordEvent: (e: PressureEvent) => void recorded.push(e) } as unknown as TelemetryHandle;
    const { events, lines, order, listeners, runs, warnings } = setup(Promise.resolve(handle), 'observe');
    listeners.add(() => void order.push('listener'));
    events.onDecision(shutdownDecision, reading, evaluation);
    await Promise.resolve();
    expect(order).toEqual(['log', 'warning']);
    expect(runs).toEqual([]);
    expect(JSON.parse(lines[0]!)).toMatchObject({ name: 'oomguard.shutdown', level: 'shutdown', reason: 'heap-threshold', observed: true });
    expect(recorded.map((e) => [e.level, e.observed])).toEqual([['shutdown', true]]);
    expect(warnings).toHaveBeenCalledWith('memory pressure: heap 85MiB >= 80MiB; would shut down, not acting (OOMGUARD_ACTION=observe; pressure 1.06)', {
      code: 'OOMGUARD_MEMORY_PRESSURE',
      detail: 'reason: heap-threshold',
    });
  });

  it('warnings and recoveries are unchanged: listeners hear them, and the JSON line has no observed field', () => {
    const { events, lines, listeners } = setup(undefined, 'observe');
    const heard: string[] = [];
    listeners.add((e) => void heard.push(e.level));
    events.onDecision({ action: 'warn', signal: 'heap', value: 72 * MiB, threshold: 70 * MiB, reason: 'heap-warn' }, reading, evaluation);
    expect(heard).toEqual(['warn']);
    expect(JSON.parse(lines[0]!)).not.toHaveProperty('observed');
  });
});

describe("Events: V8's near-heap-limit callback (the native part)", () => {
  const heapLimitEvent: PressureEvent = { level: 'shutdown', signal: 'heap', reason: 'heap-limit', value: 100 * MiB, threshold: 100 * MiB, pressure: 1.3, reading, thresholds };
  const heapEmergency: Decision = { action: 'emergency', signal: 'heap', value: 95 * MiB, threshold: 90 * MiB, reason: 'heap-emergency' };

  it('starts the heap-limit shutdown on the same path as the policy: JSON line, listeners, warning, then the shutdown', () => {
    const { events, lines, order, listeners, runs, warnings } = setup();
    listeners.add(() => void order.push('listener'));
    events.heapLimit(() => heapLimitEvent);
    expect(order).toEqual(['log', 'listener', 'warning', 'shutdown']);
    expect(JSON.parse(lines[0]!)).toMatchObject({ name: 'oomguard.shutdown', level: 'shutdown', signal: 'heap', reason: 'heap-limit', value: 100 * MiB });
    expect(warnings).toHaveBeenCalledWith('memory pressure: the V8 heap reached its limit (100MiB); shutting down (pressure 1.30)', {
      code: 'OOMGUARD_MEMORY_PRESSURE',
      detail: 'reason: heap-limit',
    });
    expect(runs.map((r) => r.event.reason)).toEqual(['heap-limit']);
  });

  it('during a running shutdown it ends that shutdown at once, without a second event', () => {
    const { events, lines, runs, aborts } = setup();
    events.onDecision(shutdownDecision, reading, evaluation);
    const made = vi.fn(() => heapLimitEvent);
    events.heapLimit(made);
    expect(made).not.toHaveBeenCalled();
    expect(aborts).toEqual(['the V8 heap reached its limit during the shutdown']);
    expect(runs).toHaveLength(1);
    expect(lines).toHaveLength(1);
  });

  it("after it: the policy's later shutdown is not announced again, its heap emergencies are dropped, an RSS emergency still ends the shutdown", () => {
    const { events, lines, runs, aborts } = setup();
    events.heapLimit(() => heapLimitEvent);
    events.onDecision(shutdownDecision, reading, evaluation);
    events.onDecision(heapEmergency, reading, evaluation);
    events.onDecision({ ...heapEmergency, reason: 'gc-thrash-emergency' }, reading, evaluation);
    expect(lines).toHaveLength(1);
    expect(runs).toHaveLength(1);
    expect(aborts).toEqual([]);
    events.onDecision({ action: 'emergency', signal: 'rss', value: 190 * MiB, threshold: 180 * MiB, reason: 'rss-emergency' }, reading, evaluation);
    expect(aborts).toEqual(['memory is still rising during the shutdown (rss 190MiB >= 180MiB)']);
  });

  it('without it, a heap emergency still ends a policy shutdown', () => {
    const { events, aborts } = setup();
    events.onDecision(shutdownDecision, reading, evaluation);
    events.onDecision(heapEmergency, reading, evaluation);
    expect(aborts).toEqual(['memory is still rising during the shutdown (live heap 95MiB)']);
  });
});

describe('the JSON line', () => {
  it('has the stable field names, bytes as plain numbers and the pressure to 4 places', () => {
    const event: PressureEvent = { ...shutdownDecision, level: 'shutdown', reason: 'heap-threshold', pressure: 1.062512345, reading, thresholds };
    const line = jsonLine(event);
    expect(Object.keys(line)).toEqual([
      'name', 'level', 'time', 'pid', 'signal', 'reason', 'value', 'threshold', 'pressure', 'heapSignal', 'heapInUse',
      'heapBudget', 'heapLimit', 'rss', 'memorySignal', 'memoryLimit', 'external', 'thresholds',
    ]);
    expect(line).toMatchObject({ time: '2025-01-02T03:04:05.000Z', pid: process.pid, pressure: 1.0625, heapSignal: 85 * MiB });
  });

  it('a GC-thrash shutdown is described as such, not as a threshold crossing', () => {
    const event: PressureEvent = { ...shutdownDecision, level: 'shutdown', reason: 'gc-thrash', pressure: 0.9, reading, thresholds };
    expect(describeEvent(event)).toBe('memory pressure: heap near its limit and GC thrashing; shutting down (pressure 0.90)');
  });
});
