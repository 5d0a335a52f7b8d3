// Figure 12 app: a GC-heavy workload of fixed size (figure 9 has its own, gc-heavy.cjs). WORK
// batches, each allocating 4000 small short-lived objects (hundreds of scavenges a second), with
// a turn of the event loop every 25 batches so that timers and GC observers run as they would in
// a real app. RETAIN_MB keeps that much alive (to bring the old generation near the guard's line:
// its GC observer is then on). WAIT_TELEMETRY=1 starts the work only once the agent's telemetry
// is loaded. Prints one JSON line: the main thread's CPU time over the work, the process's, wall
// time, and the work's start and end on the monotonic clock.
'use strict';
const { join, sep } = require('node:path');

const work = Number(process.env.WORK ?? 20000);
const kept = [];
for (let i = 0; i < (Number(process.env.RETAIN_MB ?? 0) * 2 ** 20) / 64; i++) kept.push({ i, a: i + 1, b: i + 2, c: 'kept' });
const telemetry = join('dist', 'telemetry', 'bundle.js').split('/').join(sep);

function ready(then) {
  if (process.env.WAIT_TELEMETRY !== '1' || Object.keys(require.cache).some((f) => f.endsWith(telemetry))) return setTimeout(then, 200);
  setTimeout(() => ready(then), 20);
}

ready(() => {
  const fromNs = process.hrtime.bigint();
  const t0 = process.threadCpuUsage();
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  let done = 0;
  let sink = 0;
  const step = () => {
    for (let n = 0; n < 25 && done < work; n++, done++) {
      const batch = [];
      for (let j = 0; j < 4000; j++) batch.push({ j, s: 'x', t: j * 2 });
      sink += batch.length;
    }
    if (done < work) return setImmediate(step);
    const t = process.threadCpuUsage(t0);
    const c = process.cpuUsage(c0);
    const toNs = process.hrtime.bigint();
    process.stdout.write(
      `${JSON.stringify({
        wallMs: performance.now() - w0,
        threadCpuUs: t.user + t.system,
        cpuUs: c.user + c.system,
        fromNs: String(fromNs),
        toNs: String(toNs),
        sink,
        keptObjects: kept.length,
      })}\n`,
    );
    process.exit(0);
  };
  step();
});
