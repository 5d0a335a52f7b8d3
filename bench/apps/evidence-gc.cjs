// Figure 7, part 1: what V8's sampling heap profiler costs a GC-heavy app. One process, rounds
// of the same allocation-heavy batch (short-lived objects, strings and arrays, and a ring of
// 50,000 retained records that keeps the old generation collecting), each round running every
// variant once in rotating order: sampling off, on at the guard's interval for this heap
// (budget / 4096), and on at V8's default 32 KiB for reference, plus sampling off a second time
// (A/A control: the distance between two identical variants is this machine's noise). Sampling starts before a timed
// batch and stops after it (stopping runs a full GC, outside the timing). CPU time per batch
// (process.cpuUsage), far steadier than wall time on a shared machine. Prints one JSON line.
'use strict';
const { join } = require('node:path');
const dist = join(__dirname, '..', '..', 'dist');
const { HeapSampler, samplingInterval } = require(join(dist, 'evidence', 'profiler.js'));
const { processHeapBudget } = require(join(dist, 'heap.js'));

const rounds = Number(process.env.ROUNDS ?? 10);
const budget = processHeapBudget().bytes;
const variants = { off: undefined, guard: samplingInterval(budget), v8default: 32 * 1024, off2: undefined };
const ring = new Array(50_000);
let n = 0;
function batch() {
  let sink = 0;
  for (let i = 0; i < 1_500_000; i++) {
    const o = { i, s: `item-${i}`, a: [i, i + 1, i + 2] };
    sink += o.a.length + o.s.length;
    if ((i & 7) === 0) ring[n++ % ring.length] = { o, at: i };
  }
  return sink;
}
for (let i = 0; i < 3; i++) batch(); // warm-up: JIT and heap growth
const cpuUs = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
const names = Object.keys(variants);
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < names.length; i++) {
    const name = names[(i + r) % names.length];
    const sampler = variants[name] === undefined ? undefined : new HeapSampler(variants[name]);
    sampler?.start();
    const before = process.cpuUsage();
    batch();
    const after = process.cpuUsage(before);
    sampler?.stop();
    cpuUs[name].push(after.user + after.system);
  }
}
process.stdout.write(`${JSON.stringify({ budget, intervals: variants, cpuUs })}\n`);
