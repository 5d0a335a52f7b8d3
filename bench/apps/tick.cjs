// Figure 1 child: the guard's per-tick path (Sampler.sample() + evaluate(), from dist/) against
// the floor, the bare calls the reading needs. Batches alternate within each round so that
// machine noise hits every variant alike. Prints one JSON line: ns per call, per round.
//   ROUNDS (default 10), BATCH (calls per batch, default 2000)
'use strict';
const v8 = require('node:v8');
const fs = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '..', '..', 'dist');
const { Sampler } = require(path.join(dist, 'sampler.js'));
const { evaluate, INITIAL_POLICY_STATE } = require(path.join(dist, 'policy.js'));
const { DEFAULTS } = require(path.join(dist, 'config.js'));
const { processHeapBudget } = require(path.join(dist, 'heap.js'));
const { GcTracker } = require(path.join(dist, 'gc.js'));
const { openCgroup } = require(path.join(dist, 'cgroup.js'));

const rounds = Number(process.env.ROUNDS || 10);
const batch = Number(process.env.BATCH || 2000);

// The agent's own wiring (agent.ts), minus the watcher's timer.
const budget = processHeapBudget().bytes;
const gc = new GcTracker({ heapBudget: budget });
gc.start();
const cgroup = openCgroup();
const sampler = new Sampler({
  heapBudget: budget,
  gc,
  cgroup,
  constrainedMemory: typeof process.constrainedMemory === 'function' ? () => process.constrainedMemory() : undefined,
});

// Floor: the bare calls, the cgroup files read the cheapest way (kept fd, offset 0, no parsing).
const buf = Buffer.allocUnsafe(8192);
const v = cgroup?.version;
const usageFd = cgroup ? fs.openSync(path.join(cgroup.dir, v === 2 ? 'memory.current' : 'memory.usage_in_bytes'), 'r') : undefined;
const statFd = cgroup ? fs.openSync(path.join(cgroup.dir, 'memory.stat'), 'r') : undefined;
const psiFd = v === 2 ? fs.openSync(path.join(cgroup.dir, 'memory.pressure'), 'r') : undefined;
let sink = 0;
function cgroupReads() {
  if (usageFd !== undefined) sink += fs.readSync(usageFd, buf, 0, buf.length, 0);
  if (statFd !== undefined) sink += fs.readSync(statFd, buf, 0, buf.length, 0);
  if (psiFd !== undefined) sink += fs.readSync(psiFd, buf, 0, buf.length, 0);
}

const variants = {
  // What the issue names as the floor.
  floor() {
    sink += v8.getHeapStatistics().used_heap_size;
    sink += process.memoryUsage.rss();
    cgroupReads();
  },
  // The calls the sampler really makes (it also needs the old generation per space, and
  // external/arrayBuffers, which only process.memoryUsage() gives).
  floorSamplerCalls() {
    sink += v8.getHeapStatistics().used_heap_size;
    sink += v8.getHeapSpaceStatistics().length;
    sink += process.memoryUsage().rss;
    cgroupReads();
  },
  tick() {
    const r = sampler.sample();
    state = evaluate(r, state, DEFAULTS).state;
    sink += r.heapInUse;
  },
  sampleOnly() {
    sink += sampler.sample().heapInUse;
  },
};
let state = INITIAL_POLICY_STATE;
const fixed = sampler.sample();
variants.evaluateOnly = () => {
  state = evaluate(fixed, state, DEFAULTS).state;
};

function time(fn) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < batch; i++) fn();
  return Number(process.hrtime.bigint() - t0) / batch;
}

const names = Object.keys(variants);
for (const n of names) time(variants[n]); // warm-up: JIT, open fds, first limit read
const out = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < rounds; r++) {
  // Rotate the order each round so no variant always runs first (after a GC, say).
  for (let i = 0; i < names.length; i++) {
    const n = names[(i + r) % names.length];
    out[n].push(time(variants[n]));
  }
}
gc.stop();
process.stdout.write(`${JSON.stringify({ nsPerCall: out, cgroup: cgroup ? { version: v, dir: cgroup.dir } : null, sink: sink > 0 })}\n`);
