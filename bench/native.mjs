// The native part's cost next to the JavaScript mode's: `node bench/native.mjs` (after
// `npm run build`; about 2 minutes). Prints a markdown section (docs/native.md, "Cost").
//   --runs N   children per figure and Node version (default 15)
//
// 1. Start-up: loading the addon and installing both callbacks, timed inside fresh children;
//    the JavaScript mode's counterpart is creating the `gc` PerformanceObserver.
// 2. Per mark-compact, in instructions (valgrind's callgrind, deterministic where wall time on a
//    shared machine is not): 50 `gc()` calls, each followed by a setImmediate so the report
//    reaches JavaScript; the native part's own functions (inside the GC: prologue + epilogue;
//    after it: the delivery, the JS listener included) against Node's delivery of the
//    PerformanceObserver's entry (MarkGarbageCollectionEnd's queued callback, JS included).
//    Needs valgrind and the unstripped build/Release/oomguard.node (`npm run build:native`).
// 3. The whole process: `node --require oomguard/register -e 0` with OOMGUARD_NATIVE=auto and
//    =off (telemetry off, so the guard alone is timed), alternating, wall time of each child.
// 4. A scavenge-heavy loop (short-lived objects; hundreds of young GCs a second): throughput
//    with each of the three, alternating; the observer gets an entry per scavenge, the native
//    callbacks are never called for one.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureMatrix } from '../scripts/node-matrix.mjs';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..');
const DIST = join(ROOT, 'dist');
const ADDON = join(ROOT, 'build', 'Release', 'oomguard.node');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 15;

const CHILD = String.raw`
const { PerformanceObserver, performance } = require('node:perf_hooks');
// What the preload has loaded already, so only the native part's own modules are timed.
require('node:worker_threads');
require('node:v8');
require(process.env.DIST + '/units.js');
require(process.env.DIST + '/heap.js');
const what = process.argv[1];
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
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
  offNear(); offGc(); o.disconnect();
  process.stdout.write(JSON.stringify({ requireMs: t1 - t0, loadMs: t2 - t1, installMs: t3 - t2, observerMs: t4 - t3 }));
} else if (what === 'callgrind') {
  const native = require(process.env.DIST + '/native.js');
  const binding = require(process.env.ADDON);
  let seen = 0;
  if (process.argv[2] === 'native') native.onMajorGc(binding, () => { seen++; });
  else new PerformanceObserver((l) => { seen += l.getEntries().length; }).observe({ entryTypes: ['gc'] });
  (async () => { for (let i = 0; i < 50; i++) { globalThis.gc(); await new Promise((r) => setImmediate(r)); } })();
} else {
  const native = require(process.env.DIST + '/native.js');
  const binding = native.loadNative('auto').binding;
  let seen = 0;
  const modes = {
    none: () => () => {},
    native: () => native.onMajorGc(binding, () => { seen++; }),
    observer: () => { const o = new PerformanceObserver((l) => { seen += l.getEntries().length; }); o.observe({ entryTypes: ['gc'] }); return () => o.disconnect(); },
  };
  const ring = new Array(4096);
  const out = { none: [], native: [], observer: [] };
  (async () => {
    for (let round = 0; round < 8; round++) {
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
}`;

function child(node, what, flags = []) {
  return JSON.parse(execFileSync(node, [...flags, '-e', CHILD, what], { env: { PATH: process.env.PATH, DIST }, encoding: 'utf8' }));
}

/** Inclusive instructions per GC of the functions matching `re`, from one callgrind run. */
function callgrind(node, mode, re) {
  const out = join(tmpdir(), `oomguard-cg-${process.pid}-${mode}`);
  try {
    execFileSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, node, '--expose-gc', '-e', CHILD, 'callgrind', mode], {
      env: { PATH: process.env.PATH, DIST, ADDON }, stdio: 'ignore',
    });
    const text = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', out], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const sum = (pattern) => text.split('\n').filter((l) => pattern.test(l)).reduce((a, l) => a + Number(l.trim().split(/\s/)[0].replace(/,/g, '')), 0);
    return Object.fromEntries(Object.entries(re).map(([k, pattern]) => [k, sum(pattern) / 50]));
  } finally {
    rmSync(out, { force: true });
  }
}
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const f = (n, d = 2) => n.toFixed(d);

const binaries = { [process.versions.node.split('.')[0]]: process.execPath, ...ensureMatrix() };
const rows = { startup: [], process: [], major: [], young: [] };
function wall(node, mode) {
  const t = process.hrtime.bigint();
  execFileSync(node, ['--require', join(DIST, 'register.js'), '-e', '0'], {
    env: { PATH: process.env.PATH, OOMGUARD_NATIVE: mode, OOMGUARD_METRICS: 'none', OTEL_SDK_DISABLED: 'true' },
  });
  return Number(process.hrtime.bigint() - t) / 1e6;
}
for (const [major, node] of Object.entries(binaries)) {
  const s = Array.from({ length: runs }, () => child(node, 'startup'));
  rows.startup.push(`| ${major} | ${f(med(s.map((x) => x.requireMs)))} | ${f(med(s.map((x) => x.loadMs)))} | ${f(med(s.map((x) => x.installMs)), 3)} | ${f(med(s.map((x) => x.observerMs)), 3)} |`);
  const on = [];
  const off = [];
  for (let i = 0; i < runs * 2; i++) {
    on.push(wall(node, 'auto'));
    off.push(wall(node, 'off'));
  }
  rows.process.push(`| ${major} | ${f(med(off), 1)} | ${f(med(on), 1)} (${med(on) - med(off) >= 0 ? '+' : ''}${f(med(on) - med(off), 1)}) |`);
  if (existsSync(ADDON)) {
    const nat = callgrind(node, 'native', {
      inGc: /oomguard::\(anonymous namespace\)::On(Pro|Epi)logue\(/,
      after: /oomguard::\(anonymous namespace\)::Deliver\(/,
    });
    const obs = callgrind(node, 'observer', { after: /MarkGarbageCollectionEnd.*lambda.*::Call\(/ });
    const k = (n) => `${f(n / 1000, 1)}k`;
    rows.major.push(`| ${major} | ${k(nat.inGc)} | ${k(nat.after)} | ${obs.after ? k(obs.after) : 'n/a'} |`);
  }
  const y = Array.from({ length: Math.max(3, Math.round(runs / 3)) }, () => child(node, 'young'));
  const [yn, ynat, yobs] = ['none', 'native', 'observer'].map((k) => med(y.map((x) => x[k])));
  rows.young.push(`| ${major} | ${f(yn / 1000, 1)}k | ${f(ynat / 1000, 1)}k (${f((ynat / yn - 1) * 100, 1)}%) | ${f(yobs / 1000, 1)}k (${f((yobs / yn - 1) * 100, 1)}%) |`);
  process.stderr.write(`node ${major} done\n`);
}
console.log(`Measured with \`node bench/native.mjs --runs ${runs}\` (medians; ${runs} children per start-up figure).

Start-up, inside the process (ms): loading the module, loading the addon (dlopen), installing both
callbacks; the JavaScript mode's counterpart is creating the \`gc\` PerformanceObserver.

| Node | require native.js | load addon | install both | observer (JS mode) |
|---|---|---|---|---|
${rows.startup.join('\n')}

Whole process, \`node --require oomguard/register -e 0\` (ms, ${runs * 2} alternating runs each):

| Node | OOMGUARD_NATIVE=off | auto (native active) |
|---|---|---|
${rows.process.join('\n')}

Per mark-compact, instructions (callgrind; a mark-compact of this small heap is ~26 million):

| Node | native, inside the GC pause | native, delivery to the JS listener | PerformanceObserver, delivery to the JS listener |
|---|---|---|---|
${rows.major.join('\n')}

Scavenge-heavy loop (iterations/s of 1000 short-lived objects that escape into a ring buffer;
difference to nothing installed; the three alternate in one child, medians of 8 rounds):

| Node | nothing | native callbacks | PerformanceObserver |
|---|---|---|---|
${rows.young.join('\n')}`);
