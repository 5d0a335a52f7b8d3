// Figure 8: the cost of the shutdown's evidence (where the memory went). V8's sampling heap
// profiler in a GC-heavy app and an HTTP app (on from the warn line vs always on: once a process
// has warned both sample, so the difference is what a healthy process pays), what `always` adds
// at start, and the time to build the summary at shutdown, which comes out of the deadline.
import { join } from 'node:path';
import autocannon from 'autocannon';
import { BENCH, fmt, median, ratios, run, pinnedEnv, sleep, table } from '../lib/util.mjs';
import { VARIANTS, get, startApp } from '../lib/variants.mjs';

const APPS = join(BENCH, 'apps');

async function gcHeavy(ctx) {
  const runs = ctx.quick ? 1 : 3;
  const rounds = ctx.quick ? 4 : 8;
  const cpu = {};
  let intervals;
  for (let i = 0; i < runs; i++) {
    const r = await run(process.execPath, ['--max-old-space-size=512', join(APPS, 'evidence-gc.cjs')], { env: pinnedEnv({ ROUNDS: rounds }), timeoutMs: 300_000 });
    const line = r.stdout.trim().split('\n').pop();
    if (r.code !== 0 || !line) throw new Error(`evidence-gc child failed: code=${r.code}\n${r.stderr}`);
    const res = JSON.parse(line);
    intervals = res.intervals;
    for (const [k, v] of Object.entries(res.cpuUs)) (cpu[k] ??= []).push(...v);
    ctx.log(`  evidence gc-heavy run ${i + 1}/${runs}`);
  }
  const kib = (b) => `${b / 1024} KiB`;
  const rows = [
    ['sampling off (a healthy process under `warn`)', fmt(cpu.off.map((x) => x / 1000), 0), '1.00'],
    [`**sampling at the guard's interval (${kib(intervals.guard)}: budget / 4096)**`, fmt(cpu.guard.map((x) => x / 1000), 0), fmt(ratios(cpu.guard, cpu.off), 3)],
    [`sampling at V8's default interval (${kib(intervals.v8default)})`, fmt(cpu.v8default.map((x) => x / 1000), 0), fmt(ratios(cpu.v8default, cpu.off), 3)],
    ['sampling off again (A/A control)', fmt(cpu.off2.map((x) => x / 1000), 0), fmt(ratios(cpu.off2, cpu.off), 3)],
  ];
  return { rows, runs, rounds, guard: ratios(cpu.guard, cpu.off), aa: ratios(cpu.off2, cpu.off) };
}

function cannon(port, duration) {
  return new Promise((resolve, reject) => {
    autocannon({ url: `http://127.0.0.1:${port}/`, connections: 10, pipelining: 1, duration }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function http(ctx) {
  const rounds = ctx.quick ? 2 : 6;
  const duration = ctx.quick ? 1 : 3;
  const modes = { warn: 'warn', always: 'always', warn2: 'warn' };
  const names = Object.keys(modes);
  const rps = Object.fromEntries(names.map((n) => [n, []]));
  const cpuPerReq = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < names.length; i++) {
      const n = names[(i + r) % names.length];
      const a = await startApp(VARIANTS.oomguard, join(APPS, 'http-json.cjs'), { extraEnv: { OOMGUARD_HEAP_SAMPLING: modes[n] } });
      try {
        await sleep(500);
        await cannon(a.port, 1); // warm-up, discarded
        const before = JSON.parse((await get(a.port, '/__cpu')).body.toString('utf8'));
        const res = await cannon(a.port, duration);
        const after = JSON.parse((await get(a.port, '/__cpu')).body.toString('utf8'));
        cpuPerReq[n].push((after.cpuUs - before.cpuUs) / Math.max(1, after.served - before.served));
        rps[n].push(res.requests.average);
      } finally {
        await a.stop();
      }
    }
    ctx.log(`  evidence http round ${r + 1}/${rounds}`);
  }
  const labels = { warn: 'guard, `warn` (default): not sampling while healthy', always: '**guard, `always`: sampling**', warn2: 'guard, `warn` again (A/A control)' };
  const rows = names.map((n) => [labels[n], fmt(rps[n], 0), fmt(ratios(rps[n], rps.warn), 3), fmt(cpuPerReq[n], 1), fmt(ratios(cpuPerReq[n], cpuPerReq.warn), 3)]);
  return { rows, rounds, duration, always: ratios(cpuPerReq.always, cpuPerReq.warn), aa: ratios(cpuPerReq.warn2, cpuPerReq.warn) };
}

async function start(ctx) {
  const runs = ctx.quick ? 5 : 15;
  const ms = [];
  let loaded = false;
  for (let i = 0; i < runs; i++) {
    const r = await run(process.execPath, ['--require', join(BENCH, '..', 'dist', 'register.js'), join(APPS, 'evidence-start.cjs')], {
      env: pinnedEnv({ OOMGUARD_METRICS: 'none' }),
    });
    const res = JSON.parse(r.stdout.trim().split('\n').pop());
    ms.push(res.startMs);
    loaded ||= res.inspectorLoadedByPreload;
  }
  return { ms, loaded, runs };
}

async function summary(ctx) {
  const sizes = ctx.quick ? [128, 512] : [128, 512, 1024];
  const runs = ctx.quick ? 1 : 3;
  const rows = [];
  const perMiB = [];
  for (const mib of sizes) {
    const all = [];
    for (let i = 0; i < runs; i++) {
      const r = await run(process.execPath, ['--expose-gc', `--max-old-space-size=${mib * 3}`, join(APPS, 'evidence-summary.cjs')], {
        env: pinnedEnv({ TARGET_MIB: mib }),
        timeoutMs: 300_000,
      });
      const line = r.stdout.trim().split('\n').pop();
      if (r.code !== 0 || !line) throw new Error(`evidence-summary child failed: code=${r.code}\n${r.stderr}`);
      all.push(JSON.parse(line));
    }
    const pick = (k) => all.map((x) => x[k]);
    perMiB.push(...all.map((x) => x.summarizeMs / x.oldGenMiB));
    rows.push([
      `${mib} MiB`,
      fmt(pick('summarizeMs'), 0),
      fmt(pick('gcMs'), 0),
      fmt(pick('rankMs'), 2),
      fmt(pick('persistMs'), 1),
      `${median(pick('nodes'))} / ${median(pick('samples'))}`,
      `${(median(pick('profileBytes')) / 1024).toFixed(0)} KiB`,
      `${median(pick('interval')) / 1024} KiB`,
    ]);
    ctx.log(`  evidence summary ${mib} MiB`);
  }
  return { rows, runs, perMiB };
}

/** @param {{ quick: boolean, log: (s: string) => void }} ctx */
export async function evidence(ctx) {
  const gc = await gcHeavy(ctx);
  const web = await http(ctx);
  const st = await start(ctx);
  const sum = await summary(ctx);
  const md = [
    'V8\'s sampling heap profiler runs from the first warn line on (`OOMGUARD_HEAP_SAMPLING=warn`, the default) or from the start (`always`). Once a process has warned, both sample: the difference is what a healthy process pays.',
    '',
    `**GC-heavy app** (bench/apps/evidence-gc.cjs, \`--max-old-space-size=512\`): ${gc.runs} process(es) x ${gc.rounds} rounds, each round one batch per variant in rotating order; CPU ms per batch, ratios per round.`,
    '',
    table(['variant', 'CPU ms per batch', 'vs off'], gc.rows),
    '',
    `**HTTP app** (bench/apps/http-json.cjs under the default preload): autocannon, 10 connections, ${web.duration} s per run after a 1 s warm-up; ${web.rounds} rounds in rotating order.`,
    '',
    table(['preload', 'req/s', 'req/s vs warn', 'app CPU us/request', 'CPU/request vs warn'], web.rows),
    '',
    `**Start** with \`always\`: loading node:inspector, connecting the guard's session and starting the sampler takes ${fmt(st.ms, 2)} ms in a fresh process (${st.runs} processes), after the app's start-up code (an immediate). With \`warn\` a process that never warns loads no inspector module at all: ${st.loaded ? '**not so: the preload loaded it**' : 'checked in each of those processes'}.`,
    '',
    `**The summary at shutdown** (bench/apps/evidence-summary.cjs): the old generation filled through 20 entry functions x 40 call depths, sampling from 70% of it, then \`summarize()\` (read the profile, which starts with a full GC, and rank the sites) and \`persist()\` (the \`.heapprofile\` file); one plain full GC for comparison; ${sum.runs} process(es) per size.`,
    '',
    table(['old generation', 'summarize ms', 'plain full GC ms', 'ranking ms', '.heapprofile ms', 'nodes / samples', 'profile file', 'interval'], sum.rows),
    '',
    `Reading the profile costs about one full GC; ranking and writing are small beside it. Measured ${fmt(sum.perMiB, 2)} ms per MiB of old generation for the whole summary: the guard estimates 2 ms/MiB and skips the profile when that estimate exceeds a quarter of \`OOMGUARD_SHUTDOWN_TIMEOUT\` (2.5 s of the default 10 s: about 1.25 GiB).`,
  ].join('\n');
  return {
    md,
    summary: [
      {
        figure: '8. evidence: heap sampling cost',
        result: `GC-heavy CPU ${median(gc.guard).toFixed(3)}x (A/A ${median(gc.aa).toFixed(3)}x); HTTP CPU/request ${median(web.always).toFixed(3)}x (A/A ${median(web.aa).toFixed(3)}x); 0 while healthy under \`warn\``,
        goal: '(no goal set)',
      },
      { figure: '8. evidence: summary at shutdown', result: sum.rows.map((r) => `${r[1].split(' ')[0]} ms at ${r[0]}`).join(', '), goal: '(no goal set)' },
    ],
  };
}
