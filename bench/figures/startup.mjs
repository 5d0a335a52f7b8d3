// Figure 4: start-up cost. Time from node's start to the app's first line, the longest event-loop
// block in the first second (telemetry coming up late), and the peak RSS, with each preload
// against none; which modules each preload has loaded by the app's first line.
import { join, relative, sep } from 'node:path';
import { BENCH, ROOT, fmt, median, pinnedEnv, ratios, run, table } from '../lib/util.mjs';
import { VARIANTS, metricsEnv } from '../lib/variants.mjs';
import { freePort } from '../lib/util.mjs';

const VARS = [
  ['none', VARIANTS.none, {}],
  ['oomguard', VARIANTS.oomguard, {}],
  ['oomguardImport', { ...VARIANTS.oomguard, label: 'oomguard via `--import`', args: ['--import', join(ROOT, 'dist', 'register.mjs')] }, {}],
  ['importEmpty', { ...VARIANTS.none, label: '`--import` of an empty module (ESM loader control)', args: ['--import', join(BENCH, 'apps', 'empty.mjs')] }, {}],
  ['oomguardNoTelemetry', { ...VARIANTS.oomguard, label: 'oomguard, `OTEL_SDK_DISABLED=true` (guard only)' }, { OTEL_SDK_DISABLED: 'true' }],
  ['promClient', VARIANTS.promClient, {}],
  ['otelSdk', VARIANTS.otelSdk, {}],
];

/** `dist/agent.js` for our files, the package name for node_modules, else the path. */
function moduleKey(file) {
  const rel = relative(ROOT, file);
  const nm = rel.lastIndexOf(`node_modules${sep}`);
  if (nm >= 0) {
    const parts = rel.slice(nm + 13).split(sep);
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  return rel;
}

export async function startup(ctx) {
  const rounds = ctx.quick ? 2 : 10;
  const app = join(BENCH, 'apps', 'first-line.cjs');
  const res = Object.fromEntries(VARS.map(([k]) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < VARS.length; i++) {
      const [key, v, extra] = VARS[(i + r) % VARS.length];
      const port = v.metrics ? await freePort() : undefined;
      // mark.cjs first: the app can then tell the time spent in the preloads themselves.
      const out = await run(process.execPath, ['--require', join(BENCH, 'apps', 'mark.cjs'), ...v.args, app], {
        env: pinnedEnv({ ...v.env, ...metricsEnv(v, port), ...extra, SETTLE_MS: 1000 }),
        timeoutMs: 30_000,
      });
      const line = out.stdout.trim().split('\n').pop();
      if (out.code !== 0 || !line) throw new Error(`${key}: code=${out.code} signal=${out.signal}\n${out.stderr}`);
      res[key].push({ ...JSON.parse(line), wallMs: out.ms });
    }
    ctx.log(`  startup round ${r + 1}/${rounds}`);
  }
  // Where the register entry's own time goes, step by step, in fresh processes.
  const steps = { requireConfig: [], requireApi: [], loadConfig: [], start: [], total: [] };
  for (let r = 0; r < rounds; r++) {
    const out = await run(process.execPath, [join(BENCH, 'apps', 'register-breakdown.cjs')], { env: pinnedEnv({ OOMGUARD_METRICS: 'none' }), timeoutMs: 30_000 });
    const line = out.stdout.trim().split('\n').pop();
    if (out.code !== 0 || !line) throw new Error(`register breakdown: code=${out.code}\n${out.stderr}`);
    for (const [k, v] of Object.entries(JSON.parse(line))) steps[k].push(v);
  }
  const col = (k, f) => res[k].map(f);
  const first = (k) => col(k, (x) => x.firstLineMs);
  const rss = (k) => col(k, (x) => x.maxRssBytes / 2 ** 20);
  const added = (k) => first(k).map((x, i) => x - first('none')[i]);
  const addedRss = (k) => rss(k).map((x, i) => x - rss('none')[i]);
  const rows = VARS.map(([k, v]) => [
    v.label,
    fmt(first(k), 1),
    k === 'none' ? '-' : fmt(added(k), 1),
    fmt(col(k, (x) => x.inPreloadMs), 1),
    fmt(col(k, (x) => x.maxLoopBlockMs), 1),
    fmt(rss(k), 1),
    k === 'none' ? '-' : fmt(addedRss(k), 1),
    String(median(col(k, (x) => x.modulesAtFirstLine.length))),
    String(median(col(k, (x) => x.modulesAfterSettle))),
    k.startsWith('oomguard') ? (res[k].every((x) => x.guardArmed) ? 'yes' : 'NO') : '-',
  ]);
  // Which modules the --require register entry has loaded by the app's first line.
  const mods = res.oomguard[0].modulesAtFirstLine.filter((f) => f !== app).map(moduleKey);
  const counts = {};
  for (const m of mods) counts[m] = (counts[m] ?? 0) + 1;
  const list = Object.entries(counts)
    .map(([m, n]) => (n > 1 ? `${m} (${n} files)` : m))
    .join(', ');
  // The claim uses the time spent in the preload itself: "added to the first line" also carries
  // the run-to-run noise of node's own start-up, which on this shared machine is larger than 20 ms.
  const inPreload = col('oomguard', (x) => x.inPreloadMs);
  const armed = median(inPreload);
  const totalVsProm = ratios(rss('oomguard'), rss('promClient'));
  const armedMet = armed <= 20;
  const rssMet = median(totalVsProm) < 1;
  const md = [
    `bench/apps/first-line.cjs under each preload, ${rounds} rounds in rotating order. "First line" is \`performance.now()\` at the app's first statement (ms since node's time origin). "Loop block" is the longest gap between 2 ms interval ticks in the first second after the first line (where late telemetry start-up lands). Peak RSS is \`process.resourceUsage().maxRSS\` after that second, telemetry up. Added figures are per round against the no-agent run of the same round. "In the preload" is the time from a marker preloaded first (bench/apps/mark.cjs, in every variant) to the app's first line: the preload's own cost, without the noise of node's start-up.`,
    '',
    table(['preload', 'first line ms', 'added ms', 'in the preload ms', 'loop block ms (1st s)', 'peak RSS MiB', 'added MiB', 'modules at first line', 'modules after 1 s', 'guard armed at first line'], rows),
    '',
    `Modules the \`--require\` register entry has loaded by the app's first line (${mods.length} files): ${list}.`,
    '',
    `Goal: the guard armed within 20 ms of added start-up. **${armedMet ? 'Met' : 'Not met'}**: ${fmt(inPreload, 1)} ms spent in the register entry before the app's first line (${fmt(added('oomguard'), 1)} ms added to the first line against the no-agent run of the same round, which also carries node's start-up noise). Via \`--import\`: ${fmt(col('oomguardImport', (x) => x.inPreloadMs), 1)} ms in the preloads, of which the ESM loader alone (\`--import\` of an empty module) takes ${fmt(col('importEmpty', (x) => x.inPreloadMs), 1)} ms.`,
    '',
    `Where the register entry's time goes (bench/apps/register-breakdown.cjs, the same steps as dist/register.js, ${rounds} fresh processes, ms): require dist/config.js ${fmt(steps.requireConfig, 1)}; require dist/api.js and what it pulls in (agent, sampler, watcher, gc, cgroup, heap, shutdown) ${fmt(steps.requireApi, 1)}; \`loadConfig(env)\` ${fmt(steps.loadConfig, 2)}; \`startResolved()\` (heap budget, cgroup discovery, GC observer, first reading) ${fmt(steps.start, 1)}; total ${fmt(steps.total, 1)}.`,
    '',
    `Goal: telemetry brought up off the app's critical path. Nothing of the OTel SDK is loaded before the first line (compare the module counts at the first line and after 1 s); it loads on \`setImmediate\` after the main module, which shows as the loop block: ${fmt(col('oomguard', (x) => x.maxLoopBlockMs), 1)} ms with oomguard against ${fmt(col('none', (x) => x.maxLoopBlockMs), 1)} ms without (a request that arrives in that window waits).`,
    '',
    `Goal: total footprint below prom-client's. **${rssMet ? 'Met' : 'Not met'}**: oomguard's peak RSS is ${fmt(totalVsProm, 2)}x prom-client's (added over no agent: ${fmt(addedRss('oomguard'), 1)} MiB against ${fmt(addedRss('promClient'), 1)} MiB; guard only, telemetry off: ${fmt(addedRss('oomguardNoTelemetry'), 1)} MiB).`,
  ].join('\n');
  return {
    md,
    summary: [
      { figure: '4. start-up: guard armed', result: `${armed.toFixed(1)} ms in the register entry (+${median(added('oomguard')).toFixed(1)} ms to first line)`, goal: '<= 20 ms added', met: armedMet },
      { figure: '4. start-up: footprint', result: `+${median(addedRss('oomguard')).toFixed(1)} MiB peak RSS, ${median(totalVsProm).toFixed(2)}x prom-client's total`, goal: "< prom-client's", met: rssMet },
    ],
  };
}
