// Figure 7, part 3: what `OOMGUARD_HEAP_SAMPLING=always` adds at start: loading node:inspector,
// connecting the guard's session and starting the sampler, timed in a fresh process (the first
// load is the one a process pays). Also says whether the default preload (`warn`) loaded the
// inspector module at all in a process that never warned. Prints one JSON line.
'use strict';
const { join } = require('node:path');
const dist = join(__dirname, '..', '..', 'dist');
const loadedBefore = process.moduleLoadList.includes('NativeModule inspector');
const { HeapSampler, samplingInterval } = require(join(dist, 'evidence', 'profiler.js'));
const { processHeapBudget } = require(join(dist, 'heap.js'));
const sampler = new HeapSampler(samplingInterval(processHeapBudget().bytes));
const t = performance.now();
sampler.start();
const startMs = performance.now() - t;
process.stdout.write(`${JSON.stringify({ startMs, inspectorLoadedByPreload: loadedBefore })}\n`);
