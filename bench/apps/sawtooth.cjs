// Figure 5 false-positive workload: a healthy service whose heap rises to ~60% of the budget
// and falls again, repeatedly (a batch job, a cache rebuilt on a schedule). Exits 0 after
// DURATION_MS. The budget is the guard's when it runs, else V8's heap_size_limit.
'use strict';
const v8 = require('node:v8');

const duration = Number(process.env.DURATION_MS || 10_000);
const share = Number(process.env.SHARE || 0.6);
let guard;
try {
  guard = require('oomguard');
} catch {
  guard = undefined;
}
const started = Date.now();
let held = [];
let bytes = 0;
let cycles = 0;
let target;
const timer = setInterval(() => {
  // The guard's first reading comes one loop turn after start, so ask on the first tick.
  target ??= share * (guard?.status()?.heapBudget.bytes ?? v8.getHeapStatistics().heap_size_limit);
  if (bytes >= target) {
    held = []; // the whole batch becomes garbage
    bytes = 0;
    cycles++;
  }
  const n = Math.floor((2 * 1048576) / 160); // ~2 MiB of small objects per 10 ms
  const arr = new Array(n);
  for (let i = 0; i < n; i++) arr[i] = { i, s: `v${i}` };
  held.push(arr);
  bytes += 2 * 1048576;
  if (Date.now() - started > duration) {
    clearInterval(timer);
    process.stderr.write(`sawtooth: ${cycles} cycles to ${Math.round(target / 1048576)} MiB\n`);
    process.exit(0);
  }
}, 10);
