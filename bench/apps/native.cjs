// Child of figure 7 (bench/figures/native.mjs): the native part's cost next to the JavaScript
// mode's gc PerformanceObserver. argv[2] picks what it measures; DIST is dist/, ADDON the
// unstripped build of the addon (for callgrind's function names). Prints one JSON line.
//   startup      require native.js, load the addon, install both callbacks; create the observer
//   callgrind    50 gc() calls, each followed by a turn of the loop, with argv[3] = native | observer
//   young        a scavenge-heavy loop with nothing, the native callbacks, the observer (alternating)
'use strict';
const { PerformanceObserver } = require('node:perf_hooks');
// What the preload has loaded already, so only the native part's own modules are timed.
require('node:worker_threads');
require('node:v8');
require(process.env.DIST + '/units.js');
require(process.env.DIST + '/heap.js');

const what = process.argv[2];
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
};

if (what === 'startup') {
  const t0 = performance.now();
  const native = require(process.env.DIST + '/native.js');
  const t1 = performance.now();
  const s = native.loadNative('auto');
  const t2 = performance.now();
  const offNear = native.installNearHeapLimit(s.binding, { reserveBytes: 64 << 20, exitCode: 2, onNearLimit() {}, log() {} });
  const offGc = native.onMajorGc(s.binding, () => {});
  const t3 = performance.now();
  const o = new PerformanceObserver(() => {});
  o.observe({ entryTypes: ['gc'] });
  const t4 = performance.now();
  offNear();
  offGc();
  o.disconnect();
  process.stdout.write(JSON.stringify({ requireMs: t1 - t0, loadMs: t2 - t1, installMs: t3 - t2, observerMs: t4 - t3 }));
} else if (what === 'callgrind') {
  const native = require(process.env.DIST + '/native.js');
  const binding = require(process.env.ADDON);
  let seen = 0;
  if (process.argv[3] === 'native') native.onMajorGc(binding, () => void seen++);
  else new PerformanceObserver((l) => void (seen += l.getEntries().length)).observe({ entryTypes: ['gc'] });
  (async () => {
    for (let i = 0; i < 50; i++) {
      globalThis.gc();
      await new Promise((r) => setImmediate(r));
    }
  })();
} else if (what === 'young') {
  const native = require(process.env.DIST + '/native.js');
  const binding = native.loadNative('auto').binding;
  const rounds = Number(process.env.ROUNDS || 8);
  let seen = 0;
  const modes = {
    none: () => () => {},
    native: () => native.onMajorGc(binding, () => void seen++),
    observer: () => {
      const o = new PerformanceObserver((l) => void (seen += l.getEntries().length));
      o.observe({ entryTypes: ['gc'] });
      return () => o.disconnect();
    },
  };
  const ring = new Array(4096);
  const out = { none: [], native: [], observer: [] };
  (async () => {
    for (let round = 0; round < rounds; round++) {
      for (const m of Object.keys(modes)) {
        const off = modes[m]();
        const end = performance.now() + 300;
        let ops = 0;
        while (performance.now() < end) {
          // Short-lived objects that do escape (a ring buffer): real young-generation garbage.
          for (let i = 0; i < 1000; i++) ring[(ops * 1000 + i) & 4095] = { a: i, b: [i, i], c: 'x' + i };
          ops++;
          if (ops % 50 === 0) await new Promise((r) => setImmediate(r));
        }
        out[m].push(ops / 0.3);
        off();
      }
    }
    process.stdout.write(JSON.stringify({ none: median(out.none), native: median(out.native), observer: median(out.observer), seen }));
  })();
} else {
  throw new Error(`native bench child: unknown measurement ${what}`);
}
