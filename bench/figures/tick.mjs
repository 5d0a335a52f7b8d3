// Figure 1: per-tick cost. sample + evaluate, against the floor (the bare calls the reading
// needs), in separate child processes run inside a fresh memory cgroup (what a container sees).
import { join } from 'node:path';
import { BENCH, MiB, cgroupUnavailable, createCgroup, fmt, median, pinnedEnv, ratios, run, table } from '../lib/util.mjs';

/** @param {{ quick: boolean, log: (s: string) => void }} ctx */
export async function tick(ctx) {
  const runs = ctx.quick ? 2 : 5;
  const rounds = ctx.quick ? 5 : 15;
  const noCgroup = cgroupUnavailable();
  const all = {};
  let where = 'the bench process\'s own cgroup';
  for (let i = 0; i < runs; i++) {
    const cg = noCgroup ? undefined : createCgroup(512 * MiB);
    try {
      const r = await run(process.execPath, [join(BENCH, 'apps', 'tick.cjs')], {
        env: pinnedEnv({ ROUNDS: rounds, BATCH: 2000 }),
        timeoutMs: 120_000,
        cgroup: cg,
      });
      const line = r.stdout.trim().split('\n').pop();
      if (r.code !== 0 || !line) throw new Error(`tick child failed: code=${r.code} signal=${r.signal}\n${r.stderr}`);
      const res = JSON.parse(line);
      if (cg) where = `a fresh cgroup v${res.cgroup?.version} memory cgroup (512 MiB limit)`;
      else if (res.cgroup) where = `cgroup v${res.cgroup.version} ${res.cgroup.dir}`;
      for (const [k, v] of Object.entries(res.nsPerCall)) (all[k] ??= []).push(...v);
    } finally {
      await cg?.remove();
    }
    ctx.log(`  tick run ${i + 1}/${runs}`);
  }
  const us = (k) => all[k].map((x) => x / 1000);
  const tickVsFloor = ratios(all.tick, all.floor);
  const tickVsSamplerCalls = ratios(all.tick, all.floorSamplerCalls);
  const ratio = median(tickVsFloor);
  const rows = [
    ['floor: `getHeapStatistics()` + `memoryUsage.rss()` + cgroup reads (kept fd, no parsing)', fmt(us('floor'), 1), '1.00'],
    ['floor with the calls the sampler makes (+ `getHeapSpaceStatistics()`, `memoryUsage()` instead of `rss()`)', fmt(us('floorSamplerCalls'), 1), fmt(ratios(all.floorSamplerCalls, all.floor), 2)],
    ['**guard tick: `Sampler.sample()` + `evaluate()`**', fmt(us('tick'), 1), fmt(tickVsFloor, 2)],
    ['`Sampler.sample()` alone', fmt(us('sampleOnly'), 1), fmt(ratios(all.sampleOnly, all.floor), 2)],
    ['`evaluate()` alone', fmt(us('evaluateOnly'), 2), fmt(ratios(all.evaluateOnly, all.floor), 3)],
  ];
  const met = ratio <= 1.5;
  const md = [
    `${runs} child processes x ${rounds} rounds; each round times a batch of 2000 calls of every variant, in rotating order; children run in ${where}. Ratios are per round (same round, same child), then median (min-max) over all rounds.`,
    '',
    table(['variant', 'us per call, median (min-max)', 'ratio to floor'], rows),
    '',
    `Goal: the tick within 1.5x of the floor. **${met ? 'Met' : 'Not met'}**: ${fmt(tickVsFloor, 2)}x (the sampler's own calls alone are ${fmt(ratios(all.floorSamplerCalls, all.floor), 2)}x; tick vs those calls ${fmt(tickVsSamplerCalls, 2)}x).`,
  ].join('\n');
  // Figure 12 turns the time per tick into a share of a busy core.
  ctx.tickUs = median(us('tick'));
  return { md, summary: { figure: '1. per-tick cost', result: `${median(us('tick')).toFixed(1)} us/tick, ${ratio.toFixed(2)}x floor`, goal: '<= 1.5x floor', met } };
}
