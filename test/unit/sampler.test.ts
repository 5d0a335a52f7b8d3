import { describe, expect, it } from 'vitest';
import { readMemoryLimit, Sampler, type CgroupSource } from '../../src/sampler';
import type { GcSummary } from '../../src/types';

const MiB = 1024 * 1024;
const gc = (over: Partial<GcSummary> = {}) => ({
  summary: (): GcSummary => ({ majorCount: 0, recentMajors: 0, recentGcShare: 0, recentWindowMs: 10_000, livePoints: [], ineffectiveMajors: 0, ...over }),
});

function cgroup(over: Partial<CgroupSource> & { limit?: number } = {}): CgroupSource & { limitReads: number } {
  const src = {
    version: 1 as const,
    limitReads: 0,
    readLimit() {
      src.limitReads++;
      return over.limit === undefined ? {} : { bytes: over.limit, from: '/fake/memory.limit_in_bytes' };
    },
    readUsage: () => ({ usage: 300 * MiB, workingSet: 250 * MiB }),
    ...over,
  };
  return src;
}

describe('Sampler', () => {
  it('takes the heap from V8 and the process, and judges the heap by what survived the last major GC', () => {
    const s = new Sampler({ heapBudget: 128 * MiB, gc: gc({ oldGenLive: 1 }) });
    const r = s.sample();
    expect(r.heapInUse).toBeGreaterThan(0);
    expect(r.heapLimit).toBeGreaterThan(r.heapCommitted);
    expect(r.oldGenInUse).toBeGreaterThan(0);
    expect(r.oldGenInUse).toBeLessThanOrEqual(r.heapInUse);
    expect(r.heapSignal).toBe(1); // min(old generation in use, alive after the last major GC)
    expect(r.heapBudget).toBe(128 * MiB);
    expect(r.rss).toBeGreaterThan(r.heapInUse);
  });

  it('uses the old generation in use as the heap signal until the first major GC', () => {
    const r = new Sampler({ heapBudget: 128 * MiB, gc: gc() }).sample();
    expect(r.heapSignal).toBe(r.oldGenInUse);
  });

  it("reports V8's limit before its first major GC until one has run: the old generation + 8 MiB, at most half the budget", () => {
    const r = new Sampler({ heapBudget: 4096 * MiB, gc: gc() }).sample();
    // used_heap_size terms: the old generation (what V8 limits) + 8 MiB + the young generation in use.
    expect(r.heapNextGc).toBeGreaterThanOrEqual(r.heapInUse + 8 * MiB - 256 * 1024);
    expect(r.heapNextGc).toBeLessThanOrEqual(r.heapInUse + 8 * MiB + 256 * 1024);
    const tiny = new Sampler({ heapBudget: 16 * MiB, gc: gc() }).sample();
    expect(tiny.heapNextGc! - (tiny.heapInUse - tiny.oldGenInUse)).toBeLessThanOrEqual(8 * MiB + 256 * 1024);
  });

  it('reports the next GC in used_heap_size terms (old-generation limit plus the young generation in use)', () => {
    const r = new Sampler({ heapBudget: 128 * MiB, gc: gc({ nextGc: 64 * MiB }) }).sample();
    expect(r.heapNextGc).toBeGreaterThanOrEqual(64 * MiB);
    // two V8 calls a few allocations apart: allow a little slack
    expect(r.heapNextGc! - 64 * MiB).toBeLessThanOrEqual(r.heapInUse - r.oldGenInUse + 256 * 1024);
  });

  it('judges RSS by the larger of the process RSS and the cgroup working set (not the usage with page cache)', () => {
    const big = new Sampler({ heapBudget: MiB, gc: gc(), cgroup: cgroup({ limit: 512 * MiB }) }).sample();
    expect(big.cgroupWorkingSet).toBe(250 * MiB);
    expect(big.memorySignal).toBe(Math.max(big.rss!, 250 * MiB));
    expect(big.memoryLimit).toBe(512 * MiB);
    const small = new Sampler({ heapBudget: MiB, gc: gc(), cgroup: cgroup({ readUsage: () => ({ usage: MiB, workingSet: MiB }) }) }).sample();
    expect(small.memorySignal).toBe(small.rss);
  });

  it('counts the working set of a shared cgroup only in the process that owns its memory; its own RSS always', () => {
    const asked: number[] = [];
    const sampler = (owns: boolean | 'throws') =>
      new Sampler({
        heapBudget: MiB,
        gc: gc(),
        cgroup: cgroup({ limit: 512 * MiB, readUsage: () => ({ usage: 500 * MiB, workingSet: 450 * MiB }) }),
        ownsContainer: (_now, workingSet, limit) => {
          asked.push(workingSet, limit ?? -1);
          if (owns === 'throws') throw new Error('proc unreadable');
          return owns;
        },
      }).sample();
    const other = sampler(false);
    expect(other.cgroupWorkingSet).toBe(450 * MiB);
    expect(other.memorySignal).toBe(other.rss);
    expect(asked).toEqual([450 * MiB, 512 * MiB]);
    expect(sampler(true).memorySignal).toBe(450 * MiB);
    // Not knowing is owning: a lone process must still act on its container.
    expect(sampler('throws').memorySignal).toBe(450 * MiB);
  });

  it('does not ask who owns the cgroup while the process alone is above its working set', () => {
    let asked = 0;
    const r = new Sampler({
      heapBudget: MiB,
      gc: gc(),
      cgroup: cgroup({ readUsage: () => ({ usage: MiB, workingSet: MiB }) }),
      ownsContainer: () => (asked++, false),
    }).sample();
    expect(asked).toBe(0);
    expect(r.memorySignal).toBe(r.rss);
  });

  it('never throws: a failing cgroup leaves its fields missing and the rest of the reading intact', () => {
    const broken = cgroup({
      readLimit: () => {
        throw new Error('EIO');
      },
      readUsage: () => {
        throw new Error('ENODEV');
      },
    });
    const r = new Sampler({ heapBudget: MiB, gc: gc(), cgroup: broken }).sample();
    expect(r.cgroupWorkingSet).toBeUndefined();
    expect(r.memoryLimit).toBeUndefined();
    expect(r.heapInUse).toBeGreaterThan(0);
    expect(r.memorySignal).toBe(r.rss);
  });

  it('caches the memory limit and re-reads it only every limitRefreshMs', () => {
    let now = 1_000;
    const cg = cgroup({ limit: 256 * MiB });
    const s = new Sampler({ heapBudget: MiB, gc: gc(), cgroup: cg, limitRefreshMs: 30_000, now: () => now });
    for (let i = 0; i < 50; i++) s.sample();
    expect(cg.limitReads).toBe(1);
    now += 30_000;
    s.sample();
    expect(cg.limitReads).toBe(2);
  });
});

describe('memory limit', () => {
  it('prefers the cgroup limit, falls back to process.constrainedMemory(), and says where each came from', () => {
    expect(readMemoryLimit(cgroup({ limit: 256 * MiB }), () => 512 * MiB)).toMatchObject({ bytes: 256 * MiB, source: 'cgroup-v1' });
    expect(readMemoryLimit(cgroup(), () => 512 * MiB)).toMatchObject({ bytes: 512 * MiB, source: 'constrained-memory' });
    expect(readMemoryLimit(undefined, () => 2 ** 64 - 1)).toEqual({ bytes: undefined, source: 'none' });
    expect(readMemoryLimit(undefined, undefined)).toEqual({ bytes: undefined, source: 'none' });
  });
});
