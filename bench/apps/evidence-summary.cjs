// Figure 7, part 2: what the shutdown's evidence costs to build. Fills the old generation with
// objects retained through many distinct stacks (20 entry functions x call depths 0-39, like a
// request path through middleware), tells the guard's Evidence a warn line was crossed at 70% of
// TARGET_MIB (sampling starts there), fills on to TARGET_MIB, then times summarize() (read the
// profile, which runs a full GC, and rank it) and persist() (the .heapprofile), and, for
// comparison, one plain full GC. Prints one JSON line on stdout.
'use strict';
const { join } = require('node:path');
const { mkdtempSync, rmSync, statSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { getHeapStatistics } = require('node:v8');
const dist = join(__dirname, '..', '..', 'dist');
const { Evidence } = require(join(dist, 'evidence', 'index.js'));
const { rankSites, MAX_NODES } = require(join(dist, 'evidence', 'summary.js'));

const target = Number(process.env.TARGET_MIB) * 2 ** 20;
const budget = getHeapStatistics().heap_size_limit;
const kept = [];
function store(tag) {
  for (let i = 0; i < 50; i++) kept.push({ tag, i, text: `${tag}:${kept.length}:${'k'.repeat(200)}` });
}
function descend(depth, tag) {
  return depth === 0 ? store(tag) : descend(depth - 1, tag);
}
const entries = Array.from({ length: 20 }, (_, n) => ({ [`route${n}`]: (d) => descend(d, n) })[`route${n}`]);
let step = 0;
function fillTo(bytes) {
  while (process.memoryUsage().heapUsed < bytes) {
    for (let k = 0; k < 200; k++, step++) entries[step % 20](step % 40);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'oomguard-bench-'));
const evidence = new Evidence({ sampling: 'warn', heapBudget: budget, profileDir: dir, terminationLog: undefined, exitCode: 2, log: () => {} });
fillTo(target * 0.7);
evidence.onEvent({ level: 'warn' });
fillTo(target);
const oldGenInUse = process.memoryUsage().heapUsed;
const event = { level: 'shutdown', signal: 'heap', reason: 'heap-threshold', value: oldGenInUse, threshold: oldGenInUse, pressure: 1, reading: { oldGenInUse, heapBudget: budget } };

let t = performance.now();
// A deadline long enough that no size here is skipped: this measures the cost, not the policy.
const e = evidence.summarize(event, 60_000);
const summarizeMs = performance.now() - t;
t = performance.now();
evidence.persist(event, e, 60_000);
const persistMs = performance.now() - t;
const profileBytes = e.profile ? statSync(e.profile).size : 0;

// The parts: one plain full GC (what reading the profile starts with) and the ranking alone.
t = performance.now();
globalThis.gc();
const gcMs = performance.now() - t;
const profile = JSON.parse(require('node:fs').readFileSync(e.profile, 'utf8'));
t = performance.now();
const ranking = rankSites(profile, { limit: 5, maxNodes: MAX_NODES, deadline: Infinity, now: () => 0, isOwn: () => false });
const rankMs = performance.now() - t;
rmSync(dir, { recursive: true, force: true });
process.stdout.write(
  `${JSON.stringify({
    oldGenMiB: oldGenInUse / 2 ** 20,
    summarizeMs,
    persistMs,
    gcMs,
    rankMs,
    nodes: ranking.nodes,
    samples: profile.samples.length,
    profileBytes,
    interval: e.samplingInterval,
    top: e.topSites[0]?.function,
    skipped: e.sitesSkipped,
  })}\n`,
);
