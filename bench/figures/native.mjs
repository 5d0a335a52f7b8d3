// Figure 7: the native part's cost next to the JavaScript mode's, on every supported Node major
// (the one prebuilt binary serves all of them).
//
// 1. Start-up inside the process: loading the module and the addon and installing both
//    callbacks, timed in fresh children; the JavaScript mode's counterpart is creating the `gc`
//    PerformanceObserver.
// 2. The whole process: `node --require oomguard/register -e 0` with OOMGUARD_NATIVE=auto and
//    =off (telemetry off, so the guard alone is timed), alternating, wall time of each child.
// 3. Per mark-compact, in instructions (valgrind's callgrind: deterministic where wall time on a
//    shared machine is not): 50 `gc()` calls, each followed by a turn of the loop; the native
//    part's own functions (inside the GC: prologue + epilogue; after it: the delivery, the JS
//    listener included) against Node's delivery of the observer's entry. Needs valgrind and the
//    unstripped build/Release/oomguard.node (`npm run build:native`); skipped otherwise and in
//    --quick.
// 4. A scavenge-heavy loop (hundreds of young GCs a second): throughput with nothing, the native
//    callbacks, the observer, alternating in one child; V8 never calls the native callbacks for
//    a scavenge, the observer gets an entry for each.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH, REGISTER, ROOT, median, pinnedEnv, table } from '../lib/util.mjs';
import { ensureMatrix } from '../../scripts/node-matrix.mjs';

const DIST = join(ROOT, 'dist');
const ADDON = join(ROOT, 'build', 'Release', 'oomguard.node');
const CHILD = join(BENCH, 'apps', 'native.cjs');
const f = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const signed = (n, d = 1) => `${n >= 0 ? '+' : ''}${f(n, d)}`;

function child(node, args, env = {}) {
  return JSON.parse(execFileSync(node, [CHILD, ...args], { env: pinnedEnv({ DIST, ...env }), encoding: 'utf8', timeout: 120_000 }));
}

function wall(node, mode) {
  const t = process.hrtime.bigint();
  execFileSync(node, ['--require', REGISTER, '-e', '0'], {
    env: pinnedEnv({ OOMGUARD_NATIVE: mode, OOMGUARD_METRICS: 'none', OTEL_SDK_DISABLED: 'true' }),
    timeout: 30_000,
  });
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function callgrindAvailable() {
  // callgrind_annotate --version prints its version and exits 255: being found is what counts.
  return existsSync(ADDON) && spawnSync('valgrind', ['--version']).status === 0 && !spawnSync('callgrind_annotate', ['--version']).error;
}

/** Inclusive instructions per GC of the functions matching each pattern, from one callgrind run. */
function callgrind(node, mode, patterns) {
  const out = join(tmpdir(), `oomguard-cg-${process.pid}-${mode}`);
  try {
    execFileSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, node, '--expose-gc', CHILD, 'callgrind', mode], {
      env: pinnedEnv({ DIST, ADDON }),
      stdio: 'ignore',
      timeout: 300_000,
    });
    const text = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', out], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const sum = (re) => text.split('\n').filter((l) => re.test(l)).reduce((a, l) => a + Number(l.trim().split(/\s/)[0].replace(/,/g, '')), 0);
    return Object.fromEntries(Object.entries(patterns).map(([k, re]) => [k, sum(re) / 50]));
  } finally {
    rmSync(out, { force: true });
  }
}

/** @param {{ quick: boolean, log: (s: string) => void }} ctx */
export async function native(ctx) {
  const runs = ctx.quick ? 5 : 15;
  const youngChildren = ctx.quick ? 1 : 5;
  const youngRounds = ctx.quick ? 3 : 8;
  const withCallgrind = !ctx.quick && callgrindAvailable();
  const rows = { startup: [], process: [], major: [], young: [] };
  const added = [];
  const majors = [];
  for (const [major, node] of Object.entries(ensureMatrix())) {
    majors.push(major);
    const s = Array.from({ length: runs }, () => child(node, ['startup']));
    const col = (k) => median(s.map((x) => x[k]));
    rows.startup.push([major, f(col('requireMs')), f(col('loadMs')), f(col('installMs'), 3), f(col('observerMs'), 3)]);
    const on = [];
    const off = [];
    for (let i = 0; i < runs * 2; i++) {
      on.push(wall(node, 'auto'));
      off.push(wall(node, 'off'));
    }
    added.push(median(on) - median(off));
    rows.process.push([major, f(median(off), 1), `${f(median(on), 1)} (${signed(median(on) - median(off))})`]);
    if (withCallgrind) {
      const nat = callgrind(node, 'native', { inGc: /oomguard::\(anonymous namespace\)::On(Pro|Epi)logue\(/, after: /oomguard::\(anonymous namespace\)::Deliver\(/ });
      const obs = callgrind(node, 'observer', { after: /MarkGarbageCollectionEnd.*lambda.*::Call\(/ });
      const k = (n) => (n > 0 ? `${f(n / 1000, 1)}k` : 'n/a');
      rows.major.push([major, k(nat.inGc), k(nat.after), k(obs.after)]);
    }
    const y = Array.from({ length: youngChildren }, () => child(node, ['young'], { ROUNDS: youngRounds }));
    const [none, nat, obs] = ['none', 'native', 'observer'].map((key) => median(y.map((x) => x[key])));
    const pct = (v) => `${f(v / 1000, 1)}k (${signed((v / none - 1) * 100)}%)`;
    rows.young.push([major, `${f(none / 1000, 1)}k`, pct(nat), pct(obs)]);
    ctx.log(`  native: Node ${major} done`);
  }
  const md = [
    `Every supported Node major (the one prebuilt binary serves them all); bench/apps/native.cjs in fresh children.`,
    '',
    `Start-up inside the process (ms, medians of ${runs} children): loading the module (with what the preload loads anyway already loaded), loading the addon (dlopen), installing both callbacks; the JavaScript mode's counterpart is creating the \`gc\` PerformanceObserver.`,
    '',
    table(['Node', 'require native.js', 'load addon', 'install both', 'observer (JS mode)'], rows.startup),
    '',
    `Whole process, \`node --require oomguard/register -e 0\` with telemetry off (ms, medians of ${runs * 2} alternating runs each):`,
    '',
    table(['Node', 'OOMGUARD_NATIVE=off', 'auto (native active)'], rows.process),
    '',
    withCallgrind
      ? `Per mark-compact, instructions (callgrind, 50 \`gc()\` each followed by a turn of the loop; a mark-compact of this small heap costs about 26 million). The delivery includes the JavaScript listener, whose cost depends on V8's tiering; n/a: that Node's observer delivery has another function name.\n\n${table(['Node', 'native, inside the GC pause', 'native, delivery to the JS listener', 'PerformanceObserver, delivery to the JS listener'], rows.major)}`
      : `Per mark-compact instructions (callgrind): not measured in this run (${ctx.quick ? '--quick' : 'needs valgrind and the unstripped build/Release/oomguard.node from `npm run build:native`'}).`,
    '',
    `Scavenge-heavy loop (iterations/s of 1000 short-lived objects that escape into a ring buffer; the three alternate in one child, medians of ${youngRounds} rounds, ${youngChildren} child${youngChildren > 1 ? 'ren' : ''}; difference to nothing installed). V8 never calls the native callbacks for a scavenge; the observer gets an entry for each.`,
    '',
    table(['Node', 'nothing', 'native callbacks', 'PerformanceObserver'], rows.young),
  ].join('\n');
  return {
    md,
    summary: { figure: '7. native part: whole-process start-up', result: `${added.map((ms) => signed(ms)).join(' / ')} ms (Node ${majors.join(' / ')}) over OOMGUARD_NATIVE=off`, goal: '(no goal set)', met: undefined },
  };
}
