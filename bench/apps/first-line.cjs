// Figure 4 app. Its first line takes the time since node started (performance.now() counts from
// the process's time origin) and the modules loaded so far; then it watches the event loop for
// SETTLE_MS (where the guard is armed and, without a delay, telemetry loads: how long does that
// block the loop?) and prints one JSON line, then exits.
'use strict';
const firstLineMs = performance.now();
const preloadStart = globalThis.__oomguardBenchPreloadStart;
const atFirstLine = Object.keys(require.cache);
const { sep } = require('node:path');
const settle = Number(process.env.SETTLE_MS || 1000);
let last = performance.now();
let maxGap = 0;
const tick = setInterval(() => {
  const now = performance.now();
  maxGap = Math.max(maxGap, now - last);
  last = now;
}, 2);
setTimeout(() => {
  clearInterval(tick);
  const loaded = Object.keys(require.cache);
  const dist = `${sep}dist${sep}`;
  process.stdout.write(
    `${JSON.stringify({
      firstLineMs,
      // Time spent in the preloads after bench/apps/mark.cjs (when it was preloaded first).
      inPreloadMs: preloadStart === undefined ? undefined : firstLineMs - preloadStart,
      modulesAtFirstLine: atFirstLine,
      modulesAfterSettle: loaded.length,
      // The package's own files (dist/), in the order they were loaded.
      ownAfterSettle: loaded.filter((f) => f.includes(dist) && !f.includes('node_modules')).map((f) => f.slice(f.lastIndexOf(dist) + dist.length)),
      maxLoopBlockMs: maxGap,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
    })}\n`,
  );
  process.exit(0);
}, settle);
