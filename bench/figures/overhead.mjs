// Figure 12: the agent's own CPU cost as a share of the app's, in a GC-heavy app and an HTTP app,
// at the default poll and at the 10 ms floor, with and without telemetry.
// - Per unit of work (callgrind): the app's instructions per batch of allocations / per request,
//   with and without the agent, each from two runs of different sizes so that start-up (and
//   loading telemetry) cancels out; the poll is set to 1 h so that callgrind's slowed-down clock
//   adds no ticks. This is what the agent costs per GC and per request (GC observers, the
//   runtime instrumentation, the performance entries Node makes for them), counted to a
//   fraction of a percent whatever else the machine does; the kernel's time is not in it.
// - Per tick: figure 1's time per tick (sample + decide, kernel time included), times the ticks
//   per second at the default poll and at the floor, as a share of one busy core.
// - Whole process: the GC-heavy app's main-thread CPU time for a fixed amount of work, each
//   variant against the no-agent run of the same round, with an A/A control; figure 3 is the
//   same for the HTTP app's throughput.
import { join } from 'node:path';
import { Agent } from 'node:http';
import { BENCH, REGISTER, fmt, median, pinnedEnv, ratios, run, table } from '../lib/util.mjs';
import { get } from '../lib/variants.mjs';
import { callgrindAvailable } from '../lib/nodes.mjs';
import { instructions } from '../lib/callgrind.mjs';

const GOAL = 0.01;
const GC_APP = join(BENCH, 'apps', 'gc-work.cjs');
const HTTP_APP = join(BENCH, 'apps', 'http-json.cjs');
const telemetryNow = { OOMGUARD_TELEMETRY_DELAY: '0s', OOMGUARD_METRICS_HOST: '127.0.0.1', OOMGUARD_METRICS_PORT: '0', WAIT_TELEMETRY: '1' };
const noTicks = { OOMGUARD_POLL_INTERVAL: '1h' };
/**
 * Under callgrind every count runs with V8's `--single-threaded`: its GC and compiler then work on
 * the main thread, in an order the work decides. With V8's helper threads, when a concurrent
 * compile or marking job landed moved a run's count by up to 2x from one run to the next (the
 * same command at 400 batches: 291 M to 584 M instructions); single-threaded, within 2%.
 */
const ST = ['--single-threaded'];
const BATCHES = [400, 2000];
const REQUESTS = [300, 1500];

const pct = (x) => `${(x * 100).toFixed(Math.abs(x) < 0.001 ? 4 : Math.abs(x) < 0.01 ? 3 : 2)}%`;
/** A share with its sign: `+0.5%`, `-0.1%`. */
const signed = (x) => `${x >= 0 ? '+' : ''}${pct(x)}`;

/** The agent's configurations in the whole-process comparison. */
const AGENT = [
  ['guard', 'guard alone, poll 1 s (default)', { OTEL_SDK_DISABLED: 'true' }],
  ['guard10', 'guard alone, poll 10 ms (floor)', { OTEL_SDK_DISABLED: 'true', OOMGUARD_POLL_INTERVAL: '10ms' }],
  ['full', 'guard + telemetry, poll 1 s (**defaults**)', telemetryNow],
  ['full10', 'guard + telemetry, poll 10 ms', { ...telemetryNow, OOMGUARD_POLL_INTERVAL: '10ms' }],
];

/** Per unit of work, the variants counted with callgrind (no ticks: see above). */
const COUNTED = [
  ['none', 'no agent', [], {}],
  ['none2', 'no agent again (A/A control: how far two identical counts differ)', [], {}],
  ['guard', 'guard alone', ['--require', REGISTER], { ...noTicks, OTEL_SDK_DISABLED: 'true' }],
  ['noneNear', 'no agent, the same app holding 32 MiB in a 128 MiB heap (the baseline of the row below)', [], {}],
  ['nearLine', 'guard alone, heap past half its line (its GC observer on)', ['--require', REGISTER], { ...noTicks, OTEL_SDK_DISABLED: 'true' }],
  ['full', 'guard + telemetry (the runtime and host instrumentations on)', ['--require', REGISTER], { ...noTicks, ...telemetryNow }],
];
/** The GC-heavy app holding ~55 MiB in a 128 MiB heap: past half the heap line, the guard observes GCs. */
const NEAR_LINE = { flags: ['--max-old-space-size=128'], env: { RETAIN_MB: '32' } };

async function gcRun(args, env, work) {
  const out = await run(process.execPath, [...args, GC_APP], { env: pinnedEnv({ WORK: work, ...env }), timeoutMs: 120_000 });
  const line = out.stdout.trim().split('\n').pop();
  if (out.code !== 0 || !line) throw new Error(`gc-heavy: code=${out.code}\n${out.stderr}`);
  return JSON.parse(line);
}

/** Jobs two at a time (two cores). */
async function pairwise(jobs) {
  for (let i = 0; i < jobs.length; i += 2) await Promise.all(jobs.slice(i, i + 2).map((job) => job()));
}

/** Instructions per batch of the GC-heavy app, per variant. */
async function perBatch(small, large) {
  const ir = {};
  const jobs = COUNTED.flatMap(([key, , args, env]) =>
    [small, large].map((work) => async () => {
      const near = key === 'nearLine' || key === 'noneNear' ? NEAR_LINE : { flags: [], env: {} };
      (ir[key] ??= {})[work] = await instructions(process.execPath, [...ST, ...near.flags, ...args, GC_APP], pinnedEnv({ WORK: work, ...near.env, ...env }));
    }),
  );
  await pairwise(jobs);
  return Object.fromEntries(COUNTED.map(([key]) => [key, (ir[key][large] - ir[key][small]) / (large - small)]));
}

/** The HTTP app under callgrind, `requests` requests over keep-alive once it (and its telemetry) is up. */
async function httpInstructions(args, env, requests) {
  const { spawn } = await import('node:child_process');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { spawnSync } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'oomguard-cg-'));
  try {
    const out = join(dir, 'callgrind.out');
    const child = spawn('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, '--smc-check=all-non-file', process.execPath, ...ST, ...args, HTTP_APP], { env: pinnedEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const port = await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`http app under callgrind not up\n${stderr}`)), 240_000);
      child.stdout.setEncoding('utf8').on('data', (d) => {
        stdout += d;
        const m = /\{"port":(\d+)\}/.exec(stdout);
        if (m) {
          clearTimeout(t);
          resolve(Number(m[1]));
        }
      });
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    if (env.WAIT_TELEMETRY) {
      const until = Date.now() + 240_000;
      // Under callgrind, loading telemetry blocks the app for tens of seconds: generous timeouts.
      while (Date.now() < until && JSON.parse((await get(port, '/__mem', agent, 120_000)).body.toString()).otelModules === 0) await new Promise((r) => setTimeout(r, 200));
    }
    for (let i = 0; i < requests; i++) await get(port, '/', agent, 120_000);
    agent.destroy();
    const closed = new Promise((resolve) => child.on('close', resolve));
    child.stdin.end();
    await closed;
    const a = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', out], { encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
    let total = 0;
    let snapshot = 0;
    for (const line of a.stdout.split('\n')) {
      const m = /^\s*([\d,]+)\s/.exec(line);
      if (!m) continue;
      const n = Number(m[1].replaceAll(',', ''));
      if (line.includes('PROGRAM TOTALS')) total = n;
      else if (line.includes('v8::internal::Snapshot::Initialize(')) snapshot = Math.max(snapshot, n);
    }
    return total - snapshot;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Instructions per request of the HTTP app, per variant (the GC observer variant does not apply). */
export async function perRequest(small, large) {
  const ir = {};
  const variants = COUNTED.filter(([key]) => key !== 'nearLine' && key !== 'noneNear');
  const jobs = variants.flatMap(([key, , args, env]) => [small, large].map((n) => async () => ((ir[key] ??= {})[n] = await httpInstructions(args, env, n))));
  await pairwise(jobs);
  return Object.fromEntries(variants.map(([key]) => [key, (ir[key][large] - ir[key][small]) / (large - small)]));
}

/** Whole process: main-thread CPU for the same work, paired with the round's no-agent run. */
async function wholeGc(rounds, work) {
  const variants = [['none', {}], ['none2', {}], ...AGENT.map(([k, , e]) => [k, e])];
  const cpu = {};
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < variants.length; i++) {
      const [key, env] = variants[(i + r) % variants.length];
      const args = key.startsWith('none') ? [] : ['--require', REGISTER];
      (cpu[key] ??= []).push((await gcRun(args, env, work)).threadCpuUs);
    }
  }
  return cpu;
}

/**
 * @param {{ quick: boolean, log: (s: string) => void, tickUs?: number }} ctx  `tickUs`: figure 1's
 *   time per tick, when it ran first.
 */
export async function overhead(ctx) {
  const quick = ctx.quick;
  const work = quick ? 3000 : 40000;
  const withCallgrind = !quick && callgrindAvailable();
  let batch;
  let request;
  if (withCallgrind) {
    batch = await perBatch(...BATCHES);
    ctx.log('  overhead: instructions per batch (GC-heavy)');
    request = await perRequest(...REQUESTS);
    ctx.log('  overhead: instructions per request (HTTP)');
  }
  const wholeRounds = quick ? 2 : 10;
  const whole = await wholeGc(wholeRounds, work);
  ctx.log('  overhead: whole process');

  const countedRows = [];
  if (batch) {
    for (const [key, label] of COUNTED) {
      countedRows.push(['GC-heavy (per batch of 4000 objects)', label, `${(batch[key] / 1e3).toFixed(1)} k`, key === 'none' || key === 'noneNear' ? '-' : pct(batch[key] / (key === 'nearLine' ? batch.noneNear : batch.none) - 1)]);
    }
    for (const [key, label] of COUNTED.filter(([k]) => k !== 'nearLine' && k !== 'noneNear')) {
      countedRows.push(['HTTP (per request)', label, `${(request[key] / 1e3).toFixed(1)} k`, key === 'none' ? '-' : pct(request[key] / request.none - 1)]);
    }
  }
  const tickUs = ctx.tickUs;
  const tickShare = (perSecond) => (tickUs === undefined ? undefined : (perSecond * tickUs) / 1e6);
  const base = whole.none;
  const aa = ratios(whole.none2, base);
  const wholeRows = [['none2', 'no agent again (A/A control)'], ...AGENT.map(([k, l]) => [k, l])].map(([k, l]) => [l, fmt(whole[k].map((x) => x / 1000), 0), fmt(ratios(whole[k], base), 3)]);
  const noise = Math.abs(median(aa) - 1);

  const shares = batch
    ? {
        gcGuard: batch.guard / batch.none - 1,
        gcFull: batch.full / batch.none - 1,
        gcNear: batch.nearLine / batch.noneNear - 1,
        httpGuard: request.guard / request.none - 1,
        httpFull: request.full / request.none - 1,
        gcAa: batch.none2 / batch.none - 1,
        httpAa: request.none2 / request.none - 1,
      }
    : undefined;
  const t1 = tickShare(1);
  const t100 = tickShare(100);
  // An app's counts resolve 1% only if two identical no-agent counts agree within half of it, and
  // if no agent row comes out below the app without an agent by more than that (an agent cannot
  // make the app's work cheaper: such a row says the app's own GC work moved).
  const resolves = (aa, ...rows) => Math.abs(aa) < GOAL / 2 && rows.every((x) => x > -GOAL / 2);
  const gcResolved = shares !== undefined && resolves(shares.gcAa, shares.gcGuard, shares.gcNear, shares.gcFull);
  const httpResolved = shares !== undefined && resolves(shares.httpAa, shares.httpGuard, shares.httpFull);
  const totalDefault = shares && t1 !== undefined ? Math.max(gcResolved ? shares.gcFull : -Infinity, httpResolved ? shares.httpFull : -Infinity) + t1 : undefined;
  // Neither app resolved: no verdict, whatever the numbers say.
  const met = totalDefault === undefined ? undefined : !gcResolved && !httpResolved ? 'inconclusive' : totalDefault <= GOAL;
  const unresolved = (name, aa, guard) => ` The ${name} counts do not resolve 1% in this run (A/A control ${signed(aa)}, guard alone ${signed(guard)}).`;
  const caveats = [
    !shares || gcResolved ? '' : unresolved('GC-heavy', shares.gcAa, shares.gcGuard),
    !shares || httpResolved ? '' : unresolved('HTTP', shares.httpAa, shares.httpGuard),
    ' The telemetry rows count the runtime instrumentation\'s event-loop-delay histogram too (`monitorEventLoopDelay`, a timer every 10 ms of wall time), which callgrind\'s ~50x slower clock multiplies per unit of work: for telemetry they are upper bounds.',
  ].join('');
  const md = [
    `Per unit of work, in instructions (\`valgrind --tool=callgrind\`; V8 run \`--single-threaded\`, so its GC and compiler work on the main thread in an order the work decides and a count repeats within about 2% (with its helper threads the same run moved by up to 2x); each figure is the difference of two runs, ${BATCHES.join(' and ')} batches of the GC-heavy app (bench/apps/gc-work.cjs: 4000 short-lived objects per batch, hundreds of scavenges per CPU second) and ${REQUESTS.join(' and ')} requests over keep-alive to the HTTP app (bench/apps/http-json.cjs), divided by the difference in work, so start-up and loading telemetry cancel out; \`OOMGUARD_POLL_INTERVAL=1h\`: under callgrind the clock runs ~50x slower and would add ticks that the work would not have had; telemetry started at once with \`OOMGUARD_TELEMETRY_DELAY=0s\`, never scraped):`,
    '',
    batch ? table(['app', 'agent', 'instructions per unit of work', 'added'], countedRows) : `_Skipped (${quick ? '--quick' : 'valgrind not found'})._`,
    '',
    tickUs === undefined
      ? '_Per tick: figure 1 did not run._'
      : `Per tick (time-based, so not in the counts above): a tick (sample + decide) takes ${tickUs.toFixed(1)} us (figure 1, kernel time included). At the default poll (1 tick/s, 4 ticks/s past a warn line) that is ${pct(t1)} of a busy core (${pct(4 * t1)} past a warn line); at the 10 ms floor (100 ticks/s) ${pct(t100)}. A process in a shared cgroup also weighs the other processes' memory once a second at most while the container's working set exceeds its own RSS (process-tree.ts): one read of /proc per process of the cgroup.`,
    '',
    `Whole process: the GC-heavy app's main-thread CPU time for ${work} batches, ${wholeRounds} rounds in rotating order, each run as a ratio to the same round's no-agent run.`,
    '',
    table(['agent', 'main-thread CPU ms', 'ratio to no agent'], wholeRows),
    '',
    `The A/A control (two identical no-agent runs) came out at ${fmt(aa, 3)}, ${(noise * 100).toFixed(1)}% from 1 in the median: ${noise <= GOAL ? 'fine enough to see 1%' : 'this machine, shared and loaded while the bench ran, cannot resolve 1% from whole-process CPU time (nor from throughput: figure 3), which is why the goal is judged on the counted figures above'}.`,
    '',
    shares
      ? `Goal: the agent's own CPU at most 1% of the app's at the default poll, resolved. **${met === undefined ? 'Not judged (figure 1 did not run)' : met === 'inconclusive' ? 'Inconclusive: the counts do not resolve 1% here' : met ? 'Met' : 'Not met'}**: per unit of work the guard alone adds ${pct(shares.gcGuard)} (GC-heavy) and ${pct(shares.httpGuard)} (HTTP); near its line, with its GC observer on, ${pct(shares.gcNear)}; with telemetry (the runtime instrumentation observes every GC) ${pct(shares.gcFull)} and ${pct(shares.httpFull)}; plus ${t1 === undefined ? 'the ticks' : `${pct(t1)} for the ticks (${pct(t100)} at the 10 ms floor)`}.${caveats}`
      : '',
  ].join('\n');
  return {
    md,
    summary: {
      figure: '12. agent CPU share (counted)',
      result: shares
        ? `defaults: per GC-heavy batch ${signed(shares.gcFull)}${gcResolved ? '' : ' (not resolved)'}, per request ${signed(shares.httpFull)}${httpResolved ? '' : ' (not resolved)'}; guard alone ${signed(shares.gcGuard)}, ${signed(shares.httpGuard)}; A/A ${signed(shares.gcAa)}, ${signed(shares.httpAa)}; ticks ${t1 === undefined ? 'n/a' : pct(t1)} (10 ms: ${t100 === undefined ? 'n/a' : pct(t100)})`
        : 'not counted (no callgrind)',
      goal: '<= 1% at default poll, resolved',
      met: met === undefined ? 'inconclusive' : met,
    },
  };
}
