// What obtaining the guard's own GC function costs at start-up (figure 7): the preload sets
// --expose-gc, creates one context to take `gc` from, and unsets the flag. Prints one JSON line
// with the time that took and the heap it added; modules are loaded first, so only the
// function's own cost is measured.
'use strict';
const v8 = require('node:v8');
require('node:vm');
const { majorGcTrigger } = require(process.env.GC_MODULE);
const heap0 = v8.getHeapStatistics().used_heap_size;
const t0 = performance.now();
const gc = majorGcTrigger();
const ms = performance.now() - t0;
process.stdout.write(`${JSON.stringify({ ms, heapKiB: (v8.getHeapStatistics().used_heap_size - heap0) / 1024, ok: typeof gc === 'function' })}\n`);
