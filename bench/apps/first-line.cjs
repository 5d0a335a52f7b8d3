// Figure 4 app. Its first line takes the time since node started (performance.now() counts from
// the process's time origin) and the modules loaded so far; then it watches the event loop for
// SETTLE_MS (the preloads bring telemetry up after start-up: how long does that block the loop?)
// and prints one JSON line with the peak RSS, then exits.
'use strict';
const firstLineMs = performance.now();
const preloadStart = globalThis.__oomguardBenchPreloadStart;
const atFirstLine = Object.keys(require.cache);
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
  const slot = globalThis[Symbol.for('oomguard')];
  const agent = slot?.agent?.();
  process.stdout.write(
    `${JSON.stringify({
      firstLineMs,
      // Time spent in the preloads after bench/apps/mark.cjs (when it was preloaded first).
      inPreloadMs: preloadStart === undefined ? undefined : firstLineMs - preloadStart,
      modulesAtFirstLine: atFirstLine,
      modulesAfterSettle: Object.keys(require.cache).length,
      guardArmed: Boolean(agent?.running),
      maxLoopBlockMs: maxGap,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
    })}\n`,
  );
  process.exit(0);
}, settle);
