import { describe, expect, it } from 'vitest';
import { nodeMatrix } from '../helpers/node-matrix';
import { runLeak } from '../fixtures/heap/run-leak';

// V8 prints its new old-generation limit after each major GC with --trace-gc-verbose, in the same
// form on Node 20, 22 and 24 (Node 22+ adds a thread id to the prefix):
//   [pid:0x...]  294 ms: [HeapController] Limit: old size: 17328 KB, new limit: 41432 KB (1.3)
// The child's GcTracker prints its own L and estimate after each major GC it observes; each is
// paired with the trace line whose "old size" is nearest (the observer is asynchronous, and V8
// also recomputes limits outside major GCs, so order alone does not pair them).
const LINE = /\[HeapController\] Limit: old size: (\d+) KB, new limit: (\d+) KB/g;

describe.each(nodeMatrix())('Node $major: next-GC estimate vs V8', ({ path }) => {
  it.each([
    { feed: 'a gc PerformanceObserver', tracker: '1' },
    { feed: "the native part's mark-compact reports", tracker: 'native' },
  ] as const)('fed by $feed, stays within 5% of the limit --trace-gc-verbose prints, GC by GC', async ({ tracker }) => {
    const run = await runLeak(path, ['--trace-gc-verbose', '--max-old-space-size=128'], { tracker });
    const trace = [...run.stdout.matchAll(LINE)].map((m) => ({ L: Number(m[1]) * 1024, limit: Number(m[2]) * 1024 }));
    const mine = run.lines.filter((l) => l.type === 'major');
    expect(trace.length).toBeGreaterThan(4);
    let compared = 0;
    for (const m of mine) {
      const L = Number(m.L);
      let best = trace[0];
      for (const t of trace) if (best && Math.abs(t.L - L) < Math.abs(best.L - L)) best = t;
      if (!best || Math.abs(best.L - L) > 0.01 * best.L) continue; // heap moved before the callback ran
      compared++;
      expect(Math.abs(Number(m.nextGc) - best.limit) / best.limit, `L=${L} estimate=${m.nextGc} V8=${best.limit}`).toBeLessThanOrEqual(0.05);
    }
    expect(compared).toBeGreaterThan(4);
  });
});
