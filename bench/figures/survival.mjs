// Figure 5: survival. Leaking workloads in real memory cgroups and under --max-old-space-size, N
// runs with and without the guard (alternated): clean exits vs V8 aborts vs kernel kills, the
// margin (the reading at the trigger against the limit) and the time from trigger to exit. Then
// false positives: a healthy sawtooth heap and a heavy file writer must see 0 shutdowns.
import { existsSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH, MiB, REGISTER, V8_OOM, agentEvents, cgroupUnavailable, createCgroup, fmt, pinnedEnv, run, table } from '../lib/util.mjs';

const WORKLOADS = [
  { key: 'heap-slow', label: 'heap leak, slow (5 MB/s), `--max-old-space-size=64`', kind: 'heap', rate: 5, flags: ['--max-old-space-size=64'], cgroup: 512 * MiB },
  { key: 'heap-fast', label: 'heap leak, fast (50 MB/s), `--max-old-space-size=64`', kind: 'heap', rate: 50, flags: ['--max-old-space-size=64'], cgroup: 512 * MiB },
  { key: 'buffer', label: '`Buffer` leak (40 MB/s) in a 192 MiB cgroup', kind: 'buffer', rate: 40, flags: [], cgroup: 192 * MiB },
  { key: 'worker', label: '`worker_threads` leak (40 MB/s) in a 192 MiB cgroup', kind: 'worker', rate: 40, flags: [], cgroup: 192 * MiB },
];

/** What a finished run was. */
function classify(r, logFile, guarded) {
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
  const lines = log.split('\n').filter(Boolean);
  let intact = true;
  for (const l of lines) {
    try {
      JSON.parse(l);
    } catch {
      intact = false;
    }
  }
  const footer = lines.length ? safeJson(lines[lines.length - 1])?.footer === 'closed-cleanly' : false;
  if (guarded && r.code === 2 && footer && intact) return 'clean';
  if (r.code === 2) return 'exit 2, log not intact';
  if (r.signal === 'SIGABRT' || r.code === 134 || V8_OOM.test(r.stderr)) return 'V8 abort';
  if ((r.signal === 'SIGKILL' || r.code === 137) && r.oomKills > 0) return 'kernel kill';
  if (r.signal === 'SIGKILL') return 'timeout';
  return `other (code ${r.code}, signal ${r.signal})`;
}

function safeJson(s) {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** Runs node `args` inside a fresh cgroup of `limit` bytes (or none when cgroups are unavailable). */
async function runIn(limit, args, env, timeoutMs) {
  const cg = limit && !NO_CGROUP ? createCgroup(limit) : undefined;
  try {
    const r = await run(process.execPath, args, { env: pinnedEnv(env), timeoutMs, cgroup: cg });
    return { ...r, oomKills: cg ? cg.oomKills() : 0 };
  } finally {
    await cg?.remove();
  }
}

let NO_CGROUP;

export async function survival(ctx) {
  NO_CGROUP = cgroupUnavailable();
  if (NO_CGROUP && process.env.CI) throw new Error(`real cgroups are needed: ${NO_CGROUP}`);
  const n = ctx.quick ? 1 : 3;
  const tmp = mkdtempSync(join(tmpdir(), 'oomguard-bench-'));
  const leak = join(BENCH, 'apps', 'leak.cjs');
  const results = {};
  try {
    for (let i = 0; i < n; i++) {
      for (const w of WORKLOADS) {
        // The slow leak takes ~35 s per pair: the full run only.
        if (ctx.quick && w.key === 'heap-slow') continue;
        // Alternate which goes first, so neither always meets the machine in the same state.
        const order = i % 2 ? [false, true] : [true, false];
        for (const guarded of order) {
          const logFile = join(tmp, `${w.key}-${guarded}-${i}.log`);
          const args = [...w.flags, ...(guarded ? ['--require', REGISTER] : []), leak];
          const r = await runIn(w.cgroup, args, { LEAK_KIND: w.kind, LEAK_MB_PER_S: w.rate, LOG: logFile, OOMGUARD_METRICS: 'none' }, 90_000);
          const outcome = classify(r, logFile, guarded);
          const ev = agentEvents(r.stderr).find((e) => e.name === 'oomguard.shutdown');
          const rec = { outcome, ms: r.ms };
          if (ev) {
            const limit = ev.signal === 'heap' ? ev.heapBudget : ev.memoryLimit;
            rec.signal = ev.signal;
            rec.reason = ev.reason;
            rec.atTriggerPct = (100 * ev.value) / limit;
            rec.triggerToExitMs = r.closedAt - Date.parse(ev.time);
          }
          (results[`${w.key}:${guarded}`] ??= []).push(rec);
          rmSync(logFile, { force: true });
        }
      }
      ctx.log(`  survival pass ${i + 1}/${n}`);
    }

    // False positives: healthy workloads under the guard.
    const fp = { sawtooth: [], writer: [] };
    for (let i = 0; i < n; i++) {
      const saw = await runIn(512 * MiB, ['--max-old-space-size=128', '--require', REGISTER, join(BENCH, 'apps', 'sawtooth.cjs')], { DURATION_MS: ctx.quick ? 4000 : 10_000, OOMGUARD_METRICS: 'none' }, 60_000);
      fp.sawtooth.push({ code: saw.code, shutdowns: agentEvents(saw.stderr).filter((e) => e.name === 'oomguard.shutdown').length, warns: agentEvents(saw.stderr).filter((e) => e.name === 'oomguard.warning').length, note: /sawtooth: .*/.exec(saw.stderr)?.[0] ?? '' });
      const file = join(tmp, `write-${i}.bin`);
      // The same writer the e2e test uses (test/fixtures/core/file-writer.js).
      const wr = await runIn(128 * MiB, ['--require', REGISTER, join(BENCH, '..', 'test', 'fixtures', 'core', 'file-writer.js')], { WRITE_MB: ctx.quick ? 512 : 1024, FILE: file, OOMGUARD_METRICS: 'none' }, 90_000);
      fp.writer.push({ code: wr.code, shutdowns: agentEvents(wr.stderr).filter((e) => e.name === 'oomguard.shutdown').length, warns: agentEvents(wr.stderr).filter((e) => e.name === 'oomguard.warning').length, note: /wrote \d+ MB/.exec(wr.stderr)?.[0]?.replace(/^/, 'writer: ') ?? '' });
      rmSync(file, { force: true });
    }

    const count = (list, what) => list.filter((x) => x.outcome === what).length;
    const rows = [];
    let guardedRuns = 0;
    let guardedClean = 0;
    for (const w of WORKLOADS) {
      if (ctx.quick && w.key === 'heap-slow') continue;
      for (const guarded of [true, false]) {
        const list = results[`${w.key}:${guarded}`] ?? [];
        const other = list.filter((x) => !['clean', 'V8 abort', 'kernel kill'].includes(x.outcome)).map((x) => x.outcome);
        if (guarded) {
          guardedRuns += list.length;
          guardedClean += count(list, 'clean');
        }
        const trig = list.filter((x) => x.atTriggerPct !== undefined);
        rows.push([
          w.label,
          guarded ? 'oomguard' : 'none',
          `${count(list, 'clean')}/${list.length}`,
          String(count(list, 'V8 abort')),
          String(count(list, 'kernel kill')),
          other.length ? other.join('; ') : '0',
          trig.length ? `${fmt(trig.map((x) => x.atTriggerPct), 1)}% of ${trig[0].signal === 'heap' ? 'budget' : 'limit'} (${[...new Set(trig.map((x) => x.reason))].join(', ')})` : '-',
          trig.length ? fmt(trig.map((x) => x.triggerToExitMs), 0) : '-',
          fmt(list.map((x) => x.ms / 1000), 1),
        ]);
      }
    }
    const fpRows = [
      ['heap sawtooth to 60% of the budget, `--max-old-space-size=128`', fp.sawtooth],
      [`file writer, ${ctx.quick ? 512 : 1024} MiB into page cache, 128 MiB cgroup`, fp.writer],
    ].map(([label, list]) => [
      label,
      String(list.length),
      String(list.reduce((a, x) => a + x.shutdowns, 0)),
      String(list.reduce((a, x) => a + x.warns, 0)),
      list.map((x) => x.code).join(', '),
      list[0]?.note ?? '',
    ]);
    const fpTotal = [...fp.sawtooth, ...fp.writer].reduce((a, x) => a + x.shutdowns, 0);
    const md = [
      `${n} run(s) per workload with and without the guard, alternating which goes first; each run in a fresh v1 memory cgroup${NO_CGROUP ? ` (**not available here: ${NO_CGROUP}; no cgroup was used**)` : ''}, guard at its defaults (metrics endpoint off so parallel runs never share a port). **Clean** = exit 2, the shutdown hook's footer is the log's last record and every record parses; **V8 abort** = SIGABRT/134 or V8's out-of-memory message; **kernel kill** = SIGKILL with the cgroup's \`oom_kill\` count raised. "At trigger" is the shutdown event's \`value\` against \`heapBudget\` (heap) or \`memoryLimit\` (rss), from the guard's JSON line on stderr; "trigger to exit" is from that line's \`time\` to the bench seeing the process close (hooks, flush and exit).`,
      '',
      table(['workload', 'preload', 'clean', 'V8 abort', 'kernel kill', 'other', 'reading at trigger', 'trigger to exit ms', 'run s'], rows),
      '',
      'False positives (guarded, healthy workloads; expected: 0 shutdowns, exit 0):',
      '',
      table(['workload', 'runs', 'shutdowns', 'warnings', 'exit codes', 'what it did'], fpRows),
      '',
      `Guarded leaks that ended clean: **${guardedClean}/${guardedRuns}**. False-positive shutdowns: **${fpTotal}**.`,
    ].join('\n');
    return {
      md,
      summary: [
        { figure: '5. survival (guarded leaks clean)', result: `${guardedClean}/${guardedRuns}`, goal: 'all clean', met: guardedClean === guardedRuns },
        { figure: '5. false positives', result: String(fpTotal), goal: '0', met: fpTotal === 0 },
      ],
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
