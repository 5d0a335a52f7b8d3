// Figure 7 child: a GC-heavy workload (hundreds of scavenges, a few dozen mark-compacts) under
// one way of learning about major GCs, chosen by MODE:
//   none      nothing
//   sentinel  the guard's MajorGcSentinel (dist/major-gc.js), its callback reading the heap spaces
//   observer  a `gc` PerformanceObserver reading every entry (what the guard runs near its line)
// Prints one JSON line: { ms, cpuMs, ownUs, majors, reported }: wall and CPU time of the workload,
// time inside the variant's own callbacks (the sentinel's cleanup callback, the observer's
// callback), and the major GCs as the variant saw them.
//   ROUNDS (default 800): rounds of 50 000 short-lived objects; 1 in 10 replaces an entry of a
//   300 000-slot ring, so old objects keep dying and V8 keeps running mark-compacts.
'use strict';
const path = require('node:path');
const v8 = require('node:v8');
const { PerformanceObserver, constants } = require('node:perf_hooks');

const mode = process.env.MODE || 'none';
const dist = path.join(__dirname, '..', '..', 'dist');
let majors = 0;
// Warm the call both variants make on a major GC (the guard's sampler makes it every tick anyway).
let sink = v8.getHeapSpaceStatistics().length;
/** Time spent inside the variant's own callbacks, in microseconds (its direct cost). */
let ownUs = 0;
const timed = (fn) => (...args) => {
  const t = process.hrtime.bigint();
  fn(...args);
  ownUs += Number(process.hrtime.bigint() - t) / 1000;
};
let sentinel; // held: a collected sentinel (and its registry) reports nothing
if (mode === 'sentinel') {
  const { MajorGcSentinel } = require(path.join(dist, 'major-gc.js'));
  sentinel = new MajorGcSentinel({
    onMajor: timed(() => {
      majors++;
      sink += v8.getHeapSpaceStatistics().length;
    }),
  });
  sentinel.start();
} else if (mode === 'observer') {
  new PerformanceObserver(
    timed((list) => {
      for (const e of list.getEntries()) {
        if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
          majors++;
          sink += v8.getHeapSpaceStatistics().length;
        }
      }
    }),
  ).observe({ entryTypes: ['gc'] });
}

const ring = new Array(300_000).fill(null);
let slot = 0;
let left = Number(process.env.ROUNDS || 800);
const t0 = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
// One round per turn of the event loop, as a service handles one request after another: V8's
// cleanup tasks and the observer's callbacks run between rounds, as they would in the app.
function round() {
  for (let i = 0; i < 50_000; i++) {
    const o = { i, s: `v${i}` };
    if (i % 10 === 0) {
      ring[slot] = o;
      slot = (slot + 1) % ring.length;
    }
  }
  if (--left > 0) return void setImmediate(round);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  // CPU time of the whole process (GC helper threads included): less at the mercy of a shared
  // machine's scheduler than wall time.
  const cpuMs = (cpu.user + cpu.system) / 1000;
  setTimeout(() => process.stdout.write(`${JSON.stringify({ ms, cpuMs, ownUs, majors, reported: sentinel?.count, sink: sink > 1 })}\n`), 50);
}
round();
