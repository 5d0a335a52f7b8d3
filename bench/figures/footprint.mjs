// Figure 11: footprint. The peak RSS the agent adds to a small HTTP service on every supported
// Node major: the guard alone (metrics off), then its telemetry one step at a time (the bundle
// loaded; started without the instrumentations: SDK, gauges, /metrics server; both
// instrumentations started: the default), against prom-client's default metrics and the
// OpenTelemetry SDK. Each process serves a burst of requests, runs until its telemetry is up,
// then reports its memory.
import { Agent } from 'node:http';
import { join } from 'node:path';
import { BENCH, REGISTER, fmt, median, ratios, sleep, table } from '../lib/util.mjs';
import { VARIANTS, get, startApp, waitForMetrics } from '../lib/variants.mjs';
import { nodeMajors } from '../lib/nodes.mjs';

const GUARD_GOAL_MIB = 3;
const WARM_REQUESTS = 400;
const STEP = join(BENCH, 'apps', 'telemetry-step.cjs');
const guardOnly = { OTEL_SDK_DISABLED: 'true' };
const stepVariant = (name, label, step) => ({
  name,
  label,
  args: ['--require', REGISTER, '--require', STEP],
  env: { ...guardOnly, STEP: step },
  // Its /metrics port comes as PEER_METRICS_PORT (lib/variants.mjs), which telemetry-step.cjs reads.
  metrics: step === 'sdk',
});

/** Cumulative steps: each row adds one thing to the row above it. */
const STEPS = [
  ['none', { ...VARIANTS.none }],
  ['guard', { ...VARIANTS.oomguard, name: 'oomguardGuard', label: 'the guard alone (`OTEL_SDK_DISABLED=true`)', env: guardOnly, metrics: false }],
  ['load', stepVariant('load', '+ the telemetry bundle loaded (module loading: the SDK\'s code), nothing started', 'load')],
  ['sdk', stepVariant('sdk', '+ started without the instrumentations (meter provider, gauges, Prometheus reader, `/metrics` server)', 'sdk')],
  ['full', { ...VARIANTS.oomguard, name: 'oomguardFull', label: '+ runtime and host instrumentations started: **oomguard with its defaults**', env: { OOMGUARD_TELEMETRY_DELAY: '0s' } }],
];
const PEERS = [
  ['promClient', VARIANTS.promClient],
  ['otelSdk', VARIANTS.otelSdk],
];

/** One app under `variant` on `node`: peak and current memory once its telemetry is up. */
async function measure(node, variant) {
  const a = await startApp(variant, join(BENCH, 'apps', 'http-json.cjs'), { node });
  try {
    // A service that has served some requests: its young generation has grown as it would.
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    for (let i = 0; i < WARM_REQUESTS; i += 4) await Promise.all([0, 1, 2, 3].map(() => get(a.port, '/', agent)));
    agent.destroy();
    if (variant.metrics) await waitForMetrics(a.metricsPort);
    // Let the first collections, GCs and the guard's first readings happen.
    await sleep(1000);
    if (variant.metrics) await get(a.metricsPort, '/metrics');
    const mem = JSON.parse((await get(a.port, '/__mem')).body.toString('utf8'));
    if (['sdk', 'oomguardFull', 'otelSdk'].includes(variant.name) && mem.otelModules === 0) {
      throw new Error(`${variant.name}: telemetry did not load\n${a.stderr()}`);
    }
    return mem;
  } finally {
    await a.stop();
  }
}

export async function footprint(ctx) {
  const rounds = ctx.quick ? Number(process.env.FP_ROUNDS ?? 1) : 3;
  const all = [...STEPS, ...PEERS];
  const rows = [];
  const summary = [];
  const verdicts = [];
  for (const { major, node } of nodeMajors()) {
    const res = Object.fromEntries(all.map(([k]) => [k, []]));
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < all.length; i++) {
        const [key, variant] = all[(i + r) % all.length];
        res[key].push(await measure(node, variant));
      }
    }
    const peak = (k) => res[k].map((m) => m.maxRssBytes / 2 ** 20);
    const anon = (k) => res[k].map((m) => (m.anonBytes ?? NaN) / 2 ** 20);
    const added = (k) => peak(k).map((x, i) => x - peak('none')[i]);
    let previous = 'none';
    for (const [key, variant] of all) {
      const isPeer = PEERS.some(([p]) => p === key);
      const step = isPeer || key === 'none' ? '-' : fmt(peak(key).map((x, i) => x - peak(previous)[i]), 1);
      rows.push([
        `${major}`,
        variant.label,
        fmt(peak(key), 1),
        key === 'none' ? '-' : fmt(added(key), 1),
        step,
        fmt(anon(key), 1),
      ]);
      if (!isPeer) previous = key;
    }
    const guard = median(added('guard'));
    const full = median(added('full'));
    const prom = median(added('promClient'));
    // Private memory added (anonymous pages at the end); the rest of the RSS added is pages of
    // mapped files, almost all of them the node binary's own (see the goal text below).
    const addedAnon = (k) => median(anon(k).map((x, i) => x - anon('none')[i]));
    const binary = (k) => res[k].map((m) => (m.binaryBytes ?? NaN) / 2 ** 20);
    const addedBinary = (k) => median(binary(k).map((x, i) => x - binary('none')[i]));
    verdicts.push({ major, guard, full, prom, guardAnon: addedAnon('guard'), guardBinary: addedBinary('guard'), fullAnon: addedAnon('full'), promAnon: addedAnon('promClient'), ratio: median(ratios(added('full'), added('promClient'))) });
    summary.push(`${major}: guard +${guard.toFixed(1)}, default +${full.toFixed(1)}, prom-client +${prom.toFixed(1)} MiB`);
    ctx.log(`  footprint: Node ${major} done`);
  }
  const guardMet = verdicts.every((v) => v.guard <= GUARD_GOAL_MIB);
  const fullMet = verdicts.every((v) => v.full <= v.prom);
  const md = [
    `bench/apps/http-json.cjs (a small HTTP service) under each preload, ${rounds} round(s) per Node major in rotating order; each process serves ${WARM_REQUESTS} requests (a service's young generation grows as it serves), runs until its \`/metrics\` answers (the agent with \`OOMGUARD_TELEMETRY_DELAY=0s\`: what a process that lives past the 5 s delay holds), then 1 s more and one scrape. "Peak" is \`process.resourceUsage().maxRSS\`; "added" is against the no-preload run of the same round, "step" against the row above it (the rows add one thing each; the steps' telemetry is started by bench/apps/telemetry-step.cjs through the agent's own \`startTelemetry\`). "Anonymous" is the process's private anonymous memory at the end (\`/proc/self/smaps_rollup\`): RSS without the pages of the node binary and other mapped files, which every node process of the container shares.`,
    '',
    table(['Node', 'preload', 'peak RSS MiB', 'added MiB', 'step MiB', 'anonymous MiB (end)'], rows),
    '',
    `Goal: the guard alone adds at most ${GUARD_GOAL_MIB} MiB. **${guardMet ? 'Met' : 'Not met'}**: ${verdicts.map((v) => `Node ${v.major} +${v.guard.toFixed(1)} MiB, of which +${v.guardAnon.toFixed(1)} MiB private (anonymous)`).join(', ')}.`,
    '',
    `Goal: with telemetry, at most prom-client's added RSS. **${fullMet ? 'Met' : 'Not met'}**: ${verdicts.map((v) => `Node ${v.major} +${v.full.toFixed(1)} MiB (+${v.fullAnon.toFixed(1)} private) against prom-client's +${v.prom.toFixed(1)} MiB (+${v.promAnon.toFixed(1)} private; ${v.ratio.toFixed(2)}x)`).join('; ')}.`,
    '',
    `Where the guard's MiB go (resident at the end, against the no-preload run: \`/proc/self/smaps\`): ${verdicts.map((v) => `Node ${v.major}: +${v.guardBinary.toFixed(1)} MiB pages of the node binary, +${v.guardAnon.toFixed(1)} MiB anonymous`).join('; ')}. The node binary's pages are those the guard's code path is the first to touch: the embedded sources and code of built-in modules (\`node:v8\` and \`node:worker_threads\`, which the preload imports for the GC function, the heap statistics and the main-thread check, load the streams modules too) and the C++ behind them. They are file-backed and shared: every node process of a container maps the same binary and a memory cgroup charges a page-cache page once, so they cost the container once however many processes run guarded, though each process's own \`process.memoryUsage().rss\` counts them. The anonymous part is the V8 heap's pages (the guard's compiled code and objects) and the C allocator's.`,
  ].join('\n');
  return {
    md,
    summary: [
      { figure: '11. footprint: guard alone', result: verdicts.map((v) => `${v.major}: +${v.guard.toFixed(1)} MiB (+${v.guardAnon.toFixed(1)} private)`).join(', '), goal: `<= ${GUARD_GOAL_MIB} MiB`, met: guardMet },
      { figure: '11. footprint: with telemetry', result: verdicts.map((v) => `${v.major}: +${v.full.toFixed(1)} vs +${v.prom.toFixed(1)} MiB`).join(', '), goal: "<= prom-client's added", met: fullMet },
    ],
  };
}
