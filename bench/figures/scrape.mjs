// Figure 2: scrape cost. One /metrics with everything enabled, its round-trip time and size,
// oomguard against prom-client's default metrics and the OTel SDK, all three apps up at once
// and scraped in alternation (keep-alive, like Prometheus).
import { Agent } from 'node:http';
import { join } from 'node:path';
import { BENCH, fmt, median, ratios, table, sleep } from '../lib/util.mjs';
import { VARIANTS, get, startApp, waitForMetrics } from '../lib/variants.mjs';

export async function scrape(ctx) {
  const rounds = ctx.quick ? 5 : 20;
  const perRound = ctx.quick ? 10 : 20;
  const names = ['oomguard', 'promClient', 'otelSdk'];
  const app = join(BENCH, 'apps', 'http-json.cjs');
  const apps = {};
  const agents = {};
  try {
    for (const n of names) {
      // The agent's telemetry right away, not 5 s after start-up: the same endpoint, sooner.
      const v = VARIANTS[n];
      apps[n] = await startApp(n === 'oomguard' ? { ...v, env: { ...v.env, OOMGUARD_TELEMETRY_DELAY: '0s' } } : v, app);
      await waitForMetrics(apps[n].metricsPort);
      agents[n] = new Agent({ keepAlive: true, maxSockets: 1 });
    }
    // Let the first collections, JIT and the guard's first readings settle.
    await sleep(1000);
    for (const n of names) for (let i = 0; i < 10; i++) await get(apps[n].metricsPort, '/metrics', agents[n]);
    const ms = Object.fromEntries(names.map((n) => [n, []]));
    const bytes = Object.fromEntries(names.map((n) => [n, []]));
    const series = {};
    let families = '';
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < names.length; i++) {
        const n = names[(i + r) % names.length];
        const times = [];
        for (let k = 0; k < perRound; k++) {
          const res = await get(apps[n].metricsPort, '/metrics', agents[n]);
          if (res.status !== 200) throw new Error(`${n}: /metrics answered ${res.status}`);
          times.push(res.ms);
          bytes[n].push(res.body.length);
          const text = res.body.toString('utf8');
          series[n] = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
          if (n === 'oomguard') families = byFamily(text);
        }
        ms[n].push(median(times));
      }
      if (r % 5 === 4) ctx.log(`  scrape round ${r + 1}/${rounds}`);
    }
    const rows = names.map((n) => [
      VARIANTS[n].label,
      fmt(ms[n], 2),
      fmt(bytes[n], 0),
      String(series[n]),
      n === 'oomguard' ? '1.00' : fmt(ratios(ms.oomguard, ms[n]), 2),
    ]);
    const vsProm = ratios(ms.oomguard, ms.promClient);
    const met = median(vsProm) < 1;
    const md = [
      `Three copies of the JSON service (bench/apps/http-json.cjs), one per preload, up at once and idle; ${rounds} rounds, each scraping every endpoint ${perRound} times in rotating order over a keep-alive connection. Time is the client's round trip on 127.0.0.1 (median per round, then median (min-max) over rounds). oomguard runs with everything on: its gauges, \`instrumentation-runtime-node\` and \`instrumentation-host-metrics\`.`,
      '',
      table(['preload', 'ms per scrape', 'bytes', 'series (lines)', 'oomguard time / this'], rows),
      '',
      `Where oomguard's bytes go (by metric name prefix, HELP/TYPE lines included): ${families}.`,
      '',
      `Goal: faster than prom-client's default metrics. **${met ? 'Met' : 'Not met'}**: oomguard takes ${fmt(vsProm, 2)}x prom-client's time per scrape and serves ${fmt(ratios(bytes.oomguard, bytes.promClient), 2)}x its bytes.`,
    ].join('\n');
    return { md, summary: { figure: '2. scrape cost', result: `${median(ms.oomguard).toFixed(2)} ms, ${median(bytes.oomguard).toFixed(0)} B; ${median(vsProm).toFixed(2)}x prom-client`, goal: '< 1x prom-client', met } };
  } finally {
    for (const a of Object.values(agents)) a.destroy();
    await Promise.all(Object.values(apps).map((a) => a.stop()));
  }
}

/** Bytes of an exposition by metric-name prefix (the part before the first underscore). */
function byFamily(text) {
  const sizes = {};
  for (const line of text.split('\n')) {
    const name = line.startsWith('#') ? line.split(' ')[2] : line.split(/[{ ]/)[0];
    if (!name) continue;
    const key = name.split('_')[0];
    sizes[key] = (sizes[key] ?? 0) + line.length + 1;
  }
  return Object.entries(sizes)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `\`${k}_*\` ${v} B`)
    .join(', ');
}
