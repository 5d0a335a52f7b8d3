import { describe, expect, it } from 'vitest';
import { generationSizes, heapBudget, lastFlag, spaceGeneration, splitNodeOptions, watchedOldGen } from '../../src/heap';
import {
  initialOldGenerationLimit,
  limitBeforeFirstMajorGc,
  defaultSemiSpace,
  dynamicGrowingFactor,
  maxGrowingFactor,
  nextGcEstimate,
  semiFromPhysical,
  V8_11,
  V8_13,
  V8_14,
  v8Rules,
} from '../../src/heap-rules';

const MiB = 1024 * 1024;

// heap_size_limit values measured on this machine (24 GiB RAM; cgroup v1 limits for the rest),
// with the old-generation size V8 configured (docs/heap-model.md, "Sizing").
const measured: Array<{ v8: string; what: string; limitMiB: number; budgetMiB: number }> = [
  { v8: '11.3.244.8-node.38', what: 'Node 20, 24 GiB host', limitMiB: 4144, budgetMiB: 4096 },
  { v8: '12.4.254.21-node.57', what: 'Node 22, 24 GiB host', limitMiB: 4144, budgetMiB: 4096 },
  { v8: '13.6.233.17-node.53', what: 'Node 24, 24 GiB host', limitMiB: 4288, budgetMiB: 4096 },
  { v8: '11.3.244.8-node.38', what: 'Node 20, 512 MiB cgroup', limitMiB: 259, budgetMiB: 256 },
  { v8: '13.6.233.17-node.53', what: 'Node 24, 512 MiB cgroup', limitMiB: 259, budgetMiB: 256 },
  { v8: '11.3.244.8-node.38', what: 'Node 20, 640 MiB cgroup', limitMiB: 332, budgetMiB: 320 },
  { v8: '13.6.233.17-node.53', what: 'Node 24, 640 MiB cgroup', limitMiB: 368, budgetMiB: 320 },
  { v8: '11.3.244.8-node.38', what: 'Node 20, 1 GiB cgroup', limitMiB: 524, budgetMiB: 512 },
  { v8: '13.6.233.17-node.53', what: 'Node 24, 1 GiB cgroup', limitMiB: 560, budgetMiB: 512 },
  { v8: '11.3.244.8-node.38', what: 'Node 20, 1.5 GiB cgroup', limitMiB: 792, budgetMiB: 768 },
  { v8: '13.6.233.17-node.53', what: 'Node 24, 1.5 GiB cgroup', limitMiB: 864, budgetMiB: 768 },
  { v8: '11.3.244.8-node.38', what: 'Node 20, 2 GiB cgroup', limitMiB: 1048, budgetMiB: 1024 },
  { v8: '13.6.233.17-node.53', what: 'Node 24, 2 GiB cgroup', limitMiB: 1120, budgetMiB: 1024 },
  { v8: '11.3.244.8-node.38', what: 'Node 20, 2.5 GiB cgroup', limitMiB: 1328, budgetMiB: 1280 },
  { v8: '13.6.233.17-node.53', what: 'Node 24, 2.5 GiB cgroup', limitMiB: 1472, budgetMiB: 1280 },
  { v8: '11.3.244.8-node.38', what: 'Node 20, 3 GiB cgroup (12 MiB semi rounds to 16)', limitMiB: 1584, budgetMiB: 1536 },
  { v8: '13.6.233.17-node.53', what: 'Node 24, 3 GiB cgroup', limitMiB: 1728, budgetMiB: 1536 },
  { v8: '11.3.244.8-node.38', what: 'Node 20, 3.5 GiB cgroup', limitMiB: 1840, budgetMiB: 1792 },
  { v8: '13.6.233.17-node.53', what: 'Node 24, 3.5 GiB cgroup', limitMiB: 1984, budgetMiB: 1792 },
  { v8: '11.3.244.8-node.38', what: 'Node 20, 4 GiB cgroup', limitMiB: 2096, budgetMiB: 2048 },
  { v8: '13.6.233.17-node.53', what: 'Node 24, 4 GiB cgroup', limitMiB: 2240, budgetMiB: 2048 },
];

describe('heapBudget without flags inverts V8 sizing from heap_size_limit', () => {
  it.each(measured)('$what: $limitMiB MiB limit -> $budgetMiB MiB old generation', ({ v8, limitMiB, budgetMiB }) => {
    const b = heapBudget({ heapSizeLimit: limitMiB * MiB, execArgv: [], nodeOptions: undefined, v8Version: v8 });
    expect(b.bytes / MiB).toBe(budgetMiB);
    expect(b.youngReserve / MiB).toBe(limitMiB - budgetMiB);
    expect(b.source).toMatch(/young reserve/);
  });
});

// Node 26 (V8 14.6) sizes the semi-space from the physical memory Node passes to V8 (the cgroup
// limit here), not from the old generation: heap_size_limit measured on this machine in cgroup v1
// limits, with the physical memory each run had.
const measuredV8_14: Array<{ what: string; physicalMiB: number; limitMiB: number; budgetMiB: number; argv?: string[] }> = [
  { what: '64 MiB cgroup (semi-space floor 2 MiB)', physicalMiB: 64, limitMiB: 262, budgetMiB: 256 },
  { what: '200 MiB cgroup', physicalMiB: 200, limitMiB: 262, budgetMiB: 256 },
  { what: '512 MiB cgroup', physicalMiB: 512, limitMiB: 268, budgetMiB: 256 },
  { what: '640 MiB cgroup', physicalMiB: 640, limitMiB: 344, budgetMiB: 320 },
  { what: '1 GiB cgroup', physicalMiB: 1024, limitMiB: 536, budgetMiB: 512 },
  { what: '1100 MiB cgroup', physicalMiB: 1100, limitMiB: 598, budgetMiB: 550 },
  { what: '2 GiB cgroup', physicalMiB: 2048, limitMiB: 1072, budgetMiB: 1024 },
  { what: '2100 MiB cgroup', physicalMiB: 2100, limitMiB: 1146, budgetMiB: 1050 },
  { what: '3 GiB cgroup', physicalMiB: 3072, limitMiB: 1632, budgetMiB: 1536 },
  { what: '8 GiB cgroup (semi-space cap 32 MiB)', physicalMiB: 8192, limitMiB: 2144, budgetMiB: 2048 },
  { what: '24 GiB host', physicalMiB: 24105, limitMiB: 4192, budgetMiB: 4096 },
];

describe('heapBudget on V8 14 (Node 26) derives the young reserve from physical memory', () => {
  it('picks the V8 14 rules for Node 26', () => {
    expect(v8Rules('14.6.202.34-node.40')).toBe(V8_14);
  });
  it.each(measuredV8_14)('$what: $limitMiB MiB limit -> $budgetMiB MiB old generation', ({ physicalMiB, limitMiB, budgetMiB }) => {
    const b = heapBudget({ heapSizeLimit: limitMiB * MiB, execArgv: [], nodeOptions: undefined, v8Version: '14.6.202.34-node.40', physicalMemory: physicalMiB * MiB });
    expect(b.bytes / MiB).toBe(budgetMiB);
    expect(b.source).toMatch(/semi-space from/);
  });
  it('--max-old-space-size=100 in a 512 MiB cgroup: 112 MiB = 100 + 3 x 4 MiB (semi-space from memory, not from the old generation)', () => {
    expect(semiFromPhysical(512 * MiB, V8_14)).toBe(4 * MiB);
    const b = heapBudget({ heapSizeLimit: 112 * MiB, execArgv: ['--max-old-space-size=100'], nodeOptions: undefined, v8Version: '14.6', physicalMemory: 512 * MiB });
    expect(b.bytes / MiB).toBe(100);
    expect(b.youngReserve / MiB).toBe(12);
  });
  it('older lines ignore physical memory', () => {
    expect(semiFromPhysical(512 * MiB, V8_13)).toBeUndefined();
  });
});

describe('heapBudget with flags', () => {
  const cases = [
    { what: '--max-old-space-size in execArgv is the budget', v8: '11.3', limit: 176, argv: ['--max-old-space-size=128'], opts: undefined, budget: 128, source: '--max-old-space-size=128 (execArgv)' },
    { what: 'underscore spelling', v8: '13.6', limit: 320, argv: ['--max_old_space_size=128'], opts: undefined, budget: 128, source: '--max-old-space-size=128 (execArgv)' },
    { what: 'NODE_OPTIONS counts', v8: '12.4', limit: 560, argv: [], opts: '--require x --max-old-space-size=512', budget: 512, source: '--max-old-space-size=512 (NODE_OPTIONS)' },
    { what: 'execArgv overrides NODE_OPTIONS (measured: 248 = 200 + 48)', v8: '11.3', limit: 248, argv: ['--max-old-space-size=200'], opts: '--max-old-space-size=300', budget: 200, source: '--max-old-space-size=200 (execArgv)' },
    { what: 'last occurrence wins', v8: '11.3', limit: 112, argv: ['--max-old-space-size=128', '--max-old-space-size=64'], opts: undefined, budget: 64, source: '--max-old-space-size=64 (execArgv)' },
    { what: '--max-semi-space-size=32 on Node 24 (measured limit 224 with old 128)', v8: '13.6', limit: 224, argv: ['--max-semi-space-size=32'], opts: undefined, budget: 128, source: /3 x --max-semi-space-size=32/ },
    { what: '--max-semi-space-size=3 rounds up to 4 MiB (measured 4108)', v8: '11.3', limit: 4108, argv: ['--max-semi-space-size=3'], opts: undefined, budget: 4096, source: /rounded to 4MiB/ },
    { what: '--max-semi-space-size=0 means default', v8: '13.6', limit: 4288, argv: ['--max-semi-space-size=0'], opts: undefined, budget: 4096, source: /V8 13.6 rule/ },
    { what: '--max-heap-size=256 on Node 20 keeps a 1 MiB semi-space', v8: '11.3', limit: 256, argv: ['--max-heap-size=256'], opts: undefined, budget: 253, source: /--max-heap-size=256 \(execArgv\)/ },
  ];
  it.each(cases)('$what', ({ v8, limit, argv, opts, budget, source }) => {
    const b = heapBudget({ heapSizeLimit: limit * MiB, execArgv: argv, nodeOptions: opts, v8Version: v8 });
    expect(b.bytes / MiB).toBe(budget);
    expect(b.source).toMatch(source);
  });

  it('a limit no V8 rule produces errs small (largest reserve)', () => {
    // 300 MiB: no power-of-two semi-space s gives semi(300 - 3s) = s under the 13.6 rule.
    const b = heapBudget({ heapSizeLimit: 300 * MiB, execArgv: [], nodeOptions: undefined, v8Version: '13.6' });
    expect(b.bytes).toBe(150 * MiB); // the reserve is capped at half the limit
    expect(b.source).toMatch(/not produced by its rule/);
  });
});

describe('flag parsing', () => {
  it.each([
    { args: ['--max-old-space-size=64'], flag: '--max-old-space-size', out: 64 },
    { args: ['--max_old_space_size=64'], flag: '--max-old-space-size', out: 64 },
    { args: ['--max-old-space-size', '64'], flag: '--max-old-space-size', out: undefined },
    { args: ['--max-old-space-size=6.5'], flag: '--max-old-space-size', out: undefined },
    { args: ['--max-old-space-size-percentage=50'], flag: '--max-old-space-size', out: undefined },
  ])('lastFlag($args) = $out', ({ args, flag, out }) => {
    expect(lastFlag(args, flag)).toBe(out);
  });
  it('splits NODE_OPTIONS on whitespace and honours double quotes', () => {
    expect(splitNodeOptions(' --require "a b.js"  --max-old-space-size=9 ')).toEqual(['--require', 'a b.js', '--max-old-space-size=9']);
    expect(splitNodeOptions(undefined)).toEqual([]);
  });
});

describe('semi-space sizing', () => {
  it.each([
    { rules: V8_11, oldMiB: 256, semiMiB: 1 },
    { rules: V8_11, oldMiB: 1536, semiMiB: 16 },
    { rules: V8_11, oldMiB: 4096, semiMiB: 16 },
    { rules: V8_13, oldMiB: 512, semiMiB: 16 },
    { rules: V8_13, oldMiB: 4096, semiMiB: 64 },
  ])('$rules.name: old $oldMiB MiB -> semi $semiMiB MiB', ({ rules, oldMiB, semiMiB }) => {
    expect(defaultSemiSpace(oldMiB * MiB, rules) / MiB).toBe(semiMiB);
  });
});

describe('next-GC estimate (V8 CalculateAllocationLimit)', () => {
  // "old size" / "new limit" pairs printed by --trace-gc-verbose (KB), 64 MiB old space, 16 MiB semi.
  it.each([
    { L: 17328, limit: 41432, note: 'halfway cap binds (Node 20)' },
    { L: 62841, limit: 64188, note: 'near the max (Node 20)' },
    { L: 76159, limit: 70847, note: 'above the max: limit drops below L (Node 20)' },
    { L: 63981, limit: 64758, note: 'Node 24' },
  ])('$note', ({ L, limit }) => {
    const est = nextGcEstimate({ oldGenLive: L * 1024, maxOldSize: 64 * MiB, newSpaceCapacity: 16 * MiB, factor: 1.3 });
    expect(Math.abs(est / 1024 - limit)).toBeLessThan(1);
  });
  it('grows by at least 8 MiB plus the new space when far from the max', () => {
    expect(nextGcEstimate({ oldGenLive: 10 * MiB, maxOldSize: 4096 * MiB, newSpaceCapacity: 1 * MiB, factor: 1.1 })).toBe(19 * MiB);
    expect(nextGcEstimate({ oldGenLive: 100 * MiB, maxOldSize: 4096 * MiB, newSpaceCapacity: 1 * MiB, factor: 4 })).toBe(401 * MiB);
  });
});

describe("V8's limit before its first major GC", () => {
  it('starts at half the max old generation, at most 512 MiB, rounded down to a 256 KiB page', () => {
    expect(initialOldGenerationLimit(128 * MiB)).toBe(64 * MiB);
    expect(initialOldGenerationLimit(4144 * MiB)).toBe(512 * MiB);
    expect(initialOldGenerationLimit(100 * MiB + 100_000)).toBe(50 * MiB);
  });
  it('is lowered by scavenges to the old generation + 8 MiB (as measured: 4.6-5.0 MiB idle -> 12-13 MiB)', () => {
    expect(limitBeforeFirstMajorGc(5 * MiB, 4096 * MiB)).toBe(13 * MiB);
    expect(limitBeforeFirstMajorGc(5 * MiB, 16 * MiB)).toBe(8 * MiB);
    expect(limitBeforeFirstMajorGc(600 * MiB, 4096 * MiB)).toBe(512 * MiB);
  });
});

describe('growing factors', () => {
  it.each([
    { maxMiB: 64, f: 1.3 },
    { maxMiB: 256, f: 1.3 },
    { maxMiB: 512, f: 1.4 },
    { maxMiB: 2048, f: 4 },
    { maxMiB: 4096, f: 4 },
  ])('max factor for a $maxMiB MiB old space is $f', ({ maxMiB, f }) => {
    expect(maxGrowingFactor(maxMiB * MiB, V8_11)).toBeCloseTo(f, 10);
  });
  it.each([
    { gc: 0, mut: 1000, f: 1.3, why: 'unknown GC speed gives the max' },
    { gc: 1_373_093, mut: 51_961, f: 1.3, why: 'speed ratio 26 (< 32.3) gives the max' },
    { gc: 1_000_000, mut: 10_000, f: 1.3, why: 'speed ratio 100 would be 1.48, capped' },
    { gc: 1_741_124, mut: 1_000, f: 1.1, why: 'an idle mutator gives the minimum' },
  ])('$why', ({ gc, mut, f }) => {
    expect(dynamicGrowingFactor(gc, mut, 1.3)).toBeCloseTo(f, 6);
  });
  it('speed ratio 100 with a high max gives a / b', () => {
    expect(dynamicGrowingFactor(100, 1, 4)).toBeCloseTo(3 / 2.03, 6);
  });
});

describe('heap spaces by generation', () => {
  it.each([
    ['new_space', 'young'],
    ['new_large_object_space', 'young'],
    ['old_space', 'old'],
    ['code_space', 'old'],
    ['large_object_space', 'old'],
    ['code_large_object_space', 'old'],
    ['trusted_space', 'old'],
    ['trusted_large_object_space', 'old'],
    ['read_only_space', 'other'],
    ['shared_space', 'other'],
    ['shared_large_object_space', 'other'],
    ['shared_trusted_space', 'other'],
  ])('%s is %s', (name, gen) => {
    expect(spaceGeneration(name)).toBe(gen);
  });
  it('sums spaces like the trace\'s "old size" (Node 20 sample)', () => {
    const kb = (n: number): number => n * 1024;
    const sizes = generationSizes([
      { space_name: 'read_only_space', space_used_size: kb(48), space_available_size: 0 },
      { space_name: 'new_space', space_used_size: 0, space_available_size: kb(16107) },
      { space_name: 'old_space', space_used_size: kb(17043), space_available_size: 0 },
      { space_name: 'code_space', space_used_size: kb(28), space_available_size: 0 },
      { space_name: 'large_object_space', space_used_size: kb(256), space_available_size: 0 },
    ]);
    expect(sizes).toEqual({ oldGen: kb(17327), young: 0, youngLarge: 0, newSpaceCapacity: kb(16107) });
  });
  it('watches young large objects as old generation (promoted whole), and leaves them out of V8\'s old size', () => {
    const sizes = generationSizes([
      { space_name: 'new_space', space_used_size: 3 * MiB, space_available_size: 5 * MiB },
      { space_name: 'new_large_object_space', space_used_size: 15 * MiB, space_available_size: 0 },
      { space_name: 'old_space', space_used_size: 40 * MiB, space_available_size: 0 },
      { space_name: 'read_only_space', space_used_size: MiB, space_available_size: 0 },
    ]);
    expect(sizes).toEqual({ oldGen: 40 * MiB, young: 18 * MiB, youngLarge: 15 * MiB, newSpaceCapacity: 8 * MiB });
    expect(watchedOldGen(sizes)).toBe(55 * MiB);
  });
});
