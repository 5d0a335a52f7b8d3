// Figure 5 workload: a service that leaks until memory runs out, keeping a write-ahead-style log.
//   LEAK_KIND      heap | buffer | worker (a worker_threads Worker leaks Buffers)
//   LEAK_MB_PER_S  leak rate, spread over 10 ms ticks like real traffic
//   LOG            the log file: one JSON record per 20 ms; under the guard, the shutdown hook
//                  appends a footer and fsyncs, so a clean stop leaves a whole log with a footer
'use strict';
const fs = require('node:fs');

const kind = process.env.LEAK_KIND || 'heap';
const rate = Number(process.env.LEAK_MB_PER_S || 20);
const fd = fs.openSync(process.env.LOG, 'w');
const started = Date.now();
const kept = [];
let leaked = 0;
let seq = 0;

let guard;
try {
  guard = require('oomguard'); // self-reference: the user's import of the running agent
} catch {
  guard = undefined;
}
const logTimer = setInterval(() => {
  fs.writeSync(fd, `${JSON.stringify({ seq: ++seq, t: Date.now(), leakedMB: Math.round(leaked / 1048576) })}\n`);
}, 20);
if (guard) {
  guard.onShutdown(
    function closeLog(event) {
      const hookStartedAt = Date.now();
      clearInterval(logTimer);
      fs.writeSync(fd, `${JSON.stringify({ footer: 'closed-cleanly', records: seq, reason: event.reason, hookStartedAt })}\n`);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    },
    { timeout: '5s' },
  );
}

const tickMs = 10;
const perTick = Math.max(1, Math.round((rate * 1048576 * tickMs) / 1000));
if (kind === 'worker') {
  const { Worker } = require('node:worker_threads');
  const w = new Worker(`const kept = []; setInterval(() => { kept.push(Buffer.alloc(${perTick}, 1)); }, ${tickMs});`, { eval: true });
  w.on('error', (e) => process.stderr.write(`worker error: ${e.message}\n`));
  setInterval(() => {
    leaked += perTick;
  }, tickMs);
} else {
  setInterval(() => {
    if (kind === 'buffer') {
      kept.push(Buffer.alloc(perTick, 1)); // touches every page: RSS and the cgroup really grow
    } else {
      // Many small objects with distinct strings (~160 bytes each): a leaking cache.
      const n = Math.ceil(perTick / 160);
      const arr = new Array(n);
      for (let i = 0; i < n; i++) arr[i] = { id: leaked + i, name: `k${leaked + i}`, t: started };
      kept.push(arr);
    }
    leaked += perTick;
  }, tickMs);
}
process.stderr.write('ready\n');
