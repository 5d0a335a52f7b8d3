// Figure 6 app: makes a signal cross its shutdown threshold at a known instant, and records when
// the guard's shutdown hook starts. Prints one JSON line on stdout from the hook.
//   MODE=rss   THRESHOLD_BYTES (= OOMGUARD_RSS_THRESHOLD): RSS is brought to 8 MiB under the
//              threshold at start; at the jump, pages of a pre-allocated, untouched buffer are
//              touched 1 MiB at a time, checking RSS after each MiB; the crossing is
//              the first check at or above the threshold (synchronous: the guard cannot run
//              in between, so the hook necessarily starts after it).
//   MODE=heap  JUMP_MB of double arrays are retained, then a major GC (--expose-gc) makes the
//              heap signal (judged on the last major GC) cross; the crossing is when gc() returns.
//   DELAY_MS   the jump happens after 300 ms + a random share of DELAY_MS (a random phase
//              against the guard's poll timer).
'use strict';
const fs = require('node:fs');
const guard = require('oomguard');

const mode = process.env.MODE || 'rss';
const MiB = 1048576;
let crossedAt;
let crossedValue;
let workMs;
guard.onShutdown(
  function report(event) {
    const hookAt = performance.now();
    fs.writeSync(1, `${JSON.stringify({ mode, crossedAt, hookAt, latencyMs: hookAt - crossedAt, workMs, crossedValue, signal: event.signal, reason: event.reason })}\n`);
  },
  { timeout: '1s' },
);

let big;
let kept;
let off = 0;
if (mode === 'rss') {
  // Pre-fill to 8 MiB under the threshold now, so the jump itself is short (a long synchronous
  // jump would leave the poll timer overdue and flatter the latency).
  big = Buffer.allocUnsafeSlow(Number(process.env.THRESHOLD_BYTES) + 64 * MiB);
  const below = Number(process.env.THRESHOLD_BYTES) - 8 * MiB;
  while (off < big.length && process.memoryUsage.rss() < below) {
    big.fill(1, off, off + MiB);
    off += MiB;
  }
}
if (mode === 'heap') globalThis.gc();

setTimeout(jump, 300 + Math.random() * Number(process.env.DELAY_MS || 1000));
setInterval(() => undefined, 1000); // stays alive until the guard ends it (or the bench does)

function jump() {
  const t0 = performance.now();
  if (mode === 'rss') {
    const threshold = Number(process.env.THRESHOLD_BYTES);
    for (; off < big.length; off += MiB) {
      big.fill(1, off, Math.min(off + MiB, big.length));
      const rss = process.memoryUsage.rss();
      if (rss >= threshold) {
        crossedAt = performance.now();
        crossedValue = rss;
        break;
      }
    }
  } else {
    // Arrays of 1024 doubles: 8 KiB each on the V8 heap, so JUMP_MB is what really stays alive.
    const n = Math.floor((Number(process.env.JUMP_MB || 48) * MiB) / 8192);
    kept = new Array(n);
    for (let i = 0; i < n; i++) {
      const a = new Array(1024);
      for (let k = 0; k < 1024; k++) a[k] = k + 0.5;
      kept[i] = a;
    }
    globalThis.gc();
    crossedAt = performance.now();
    crossedValue = kept.length;
  }
  workMs = performance.now() - t0;
}
