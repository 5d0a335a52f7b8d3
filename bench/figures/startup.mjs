// Figure 4: start-up cost. What the preload adds to a whole short process (`node -e 0`, and a
// short CLI that turns its event loop once), on every supported Node major: wall time of paired,
// alternated runs with an A/A control, and the same processes' instruction counts under
// callgrind (repeatable where wall times are not). Then, on the bench's own Node: the time spent
// in the preload before the app's first line, the modules loaded at each step, and how long
// loading telemetry blocks the event loop.
import { join } from 'node:path';
import { BENCH, REGISTER, ROOT, fmt, median, pinnedEnv, run, table } from '../lib/util.mjs';
import { VARIANTS, metricsEnv } from '../lib/variants.mjs';
import { freePort } from '../lib/util.mjs';
import { callgrindAvailable, nodeMajors } from '../lib/nodes.mjs';
import { instructionCount } from '../lib/callgrind.mjs';

const GOAL_MS = 10;
const SHORT_CLI = join(BENCH, 'apps', 'short-cli.cjs');
/** Under callgrind time runs ~50x slower: telemetry must not come due inside the measured process. */
const NO_TELEMETRY_YET = { OOMGUARD_TELEMETRY_DELAY: '1h' };

const WALL_VARIANTS = [
  ['none', 'no preload', [], {}],
  ['none2', 'no preload again (A/A control)', [], {}],
  ['oomguard', 'oomguard, no variable set (defaults)', ['--require', REGISTER], {}],
  ['oomguardEnv', 'oomguard with an `OTEL_*` variable set (the parsers load)', ['--require', REGISTER], { OTEL_SERVICE_NAME: 'svc' }],
];
const APPS = [
  ['exit', '`node -e 0` (ends without turning its event loop)', ['-e', '0']],
  ['cli', 'short CLI (bench/apps/short-cli.cjs: one async file read, one line printed)', [SHORT_CLI]],
];

/** Paired, alternated wall times of every variant x app on one Node binary. */
async function wallTimes(node, rounds) {
  const ms = {};
  for (let r = 0; r < rounds; r++) {
    for (const [app, , appArgs] of APPS) {
      for (let i = 0; i < WALL_VARIANTS.length; i++) {
        const [key, , args, env] = WALL_VARIANTS[(i + r) % WALL_VARIANTS.length];
        const out = await run(node, [...args, ...appArgs], { env: pinnedEnv(env), timeoutMs: 30_000 });
        if (out.code !== 0) throw new Error(`${key} ${app}: code=${out.code}\n${out.stderr}`);
        (ms[`${key}:${app}`] ??= []).push(out.ms);
      }
    }
  }
  return ms;
}

const diff = (a, b) => a.map((x, i) => x - b[i]);

/** Interquartile range. */
function iqr(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(0.75 * (s.length - 1))] - s[Math.floor(0.25 * (s.length - 1))];
}

/** Instruction counts (callgrind) of the same processes, two at a time. */
async function instructionCounts(node) {
  const jobs = {
    'none:exit': [['-e', '0'], {}],
    // A process that never turns its loop never loads telemetry: no variable, so the defaults'
    // count has no parsers in it (any OOMGUARD_* variable loads them).
    'oomguard:exit': [['--require', REGISTER, '-e', '0'], {}],
    'oomguardEnv:exit': [['--require', REGISTER, '-e', '0'], { OTEL_SERVICE_NAME: 'svc' }],
    'none:cli': [[SHORT_CLI], {}],
    'oomguard:cli': [['--require', REGISTER, SHORT_CLI], NO_TELEMETRY_YET],
  };
  const out = {};
  const entries = Object.entries(jobs);
  for (let i = 0; i < entries.length; i += 2) {
    await Promise.all(entries.slice(i, i + 2).map(async ([k, [args, env]]) => (out[k] = await instructionCount(node, args, pinnedEnv(env)))));
  }
  return out;
}

const M = (n) => `${(n / 1e6).toFixed(1)} M`;

export async function startup(ctx) {
  const rounds = ctx.quick ? 6 : 40;
  const majors = nodeMajors();
  const withCallgrind = !ctx.quick && callgrindAvailable();
  const rows = [];
  const irRows = [];
  const verdicts = [];
  const summaries = [];
  for (const { major, node, version } of majors) {
    const ms = await wallTimes(node, rounds);
    const ir = withCallgrind ? await instructionCounts(node) : undefined;
    for (const [app, appLabel] of APPS) {
      const base = ms[`none:${app}`];
      const aa = diff(ms[`none2:${app}`], base);

      for (const [key, label] of WALL_VARIANTS) {
        const x = ms[`${key}:${app}`];
        rows.push([`${major} (${version})`, appLabel, label, fmt(x, 1), key === 'none' ? '-' : fmt(diff(x, base), 1)]);
      }
      const added = median(diff(ms[`oomguard:${app}`], base));
      const addedEnv = median(diff(ms[`oomguard:${app}`.replace('oomguard', 'oomguardEnv')], base));
      // What the machine can resolve: the spread (interquartile) of the A/A control's differences.
      const resolution = iqr(aa);
      // Instructions turned into ms at a bare node's pace: its whole count over its fastest run.
      const rate = ir ? ir[`none:exit`].raw / Math.min(...ms['none:exit']) : undefined;
      const irMs = ir ? Math.max(...['oomguard', 'oomguardEnv'].map((k) => (ir[`${k}:${app}`]?.net ?? -Infinity) - ir[`none:${app}`].net)) / rate : undefined;
      const worst = Math.max(added, addedEnv);
      const met = resolution <= GOAL_MS / 2 ? worst <= GOAL_MS : irMs !== undefined ? irMs <= GOAL_MS : 'inconclusive';
      verdicts.push({ major, app, added, addedEnv, resolution, irMs, met });
      if (ir) {
        const none = ir[`none:${app}`];
        for (const key of ['oomguard', 'oomguardEnv']) {
          const v = ir[`${key}:${app}`];
          if (v === undefined) continue;
          const rate = ir['none:exit'].raw / Math.min(...ms['none:exit']);
          irRows.push([`${major}`, appLabel, WALL_VARIANTS.find(([k]) => k === key)[1], M(none.net), M(v.net), `+${M(v.net - none.net)}`, `${((v.net - none.net) / rate).toFixed(1)} ms`]);
        }
      }
    }
    const mine = verdicts.filter((v) => v.major === major);
    summaries.push(`${major}: ${mine.map((v) => `${v.app === 'exit' ? '`-e 0`' : 'CLI'} ${v.resolution <= GOAL_MS / 2 || v.irMs === undefined ? `+${v.added.toFixed(1)} ms` : `~${v.irMs.toFixed(1)} ms (instructions)`}`).join(', ')}`);
    ctx.log(`  startup: Node ${major} done`);
  }
  const allMet = verdicts.every((v) => v.met === true);
  const anyMiss = verdicts.some((v) => v.met === false);
  const met = allMet ? true : anyMiss ? false : 'inconclusive';
  const detail = await firstLineDetail(ctx);
  const missText = verdicts
    .filter((v) => v.met !== true)
    .map((v) => `Node ${v.major}, ${v.app === 'exit' ? '`node -e 0`' : 'the short CLI'}: +${v.added.toFixed(1)} ms wall (+${v.addedEnv.toFixed(1)} ms with a variable set; the A/A control's spread was ${v.resolution.toFixed(1)} ms)${v.irMs === undefined ? '' : `, ~${v.irMs.toFixed(1)} ms in instructions`}`)
    .join('; ');
  const md = [
    `Whole processes, ${rounds} rounds per Node major; each round runs every variant of both apps once, in rotating order. "Added" is the paired difference to the no-preload run of the same round (median (min-max)); the A/A control is a second no-preload run, and the spread of its differences (interquartile) is what this machine could resolve at that moment: where it is over ${GOAL_MS / 2} ms, the goal is judged on the instruction counts below instead (turned into ms at the pace of a bare \`node -e 0\`: its whole instruction count over its fastest run). No \`OOMGUARD_*\` or \`OTEL_*\` variable is set unless the row says so. Telemetry never loads in these processes (they end long before \`OOMGUARD_TELEMETRY_DELAY\`, 5 s).`,
    '',
    table(['Node', 'app', 'preload', 'wall ms', 'added ms (paired)'], rows),
    '',
    withCallgrind
      ? [
          `The same processes under \`valgrind --tool=callgrind\` (user-space instructions of all threads, less V8's snapshot set-up, whose random hash seed moves it by 10+ M; repeatable to about 1%). The short CLI runs there with \`OOMGUARD_TELEMETRY_DELAY=1h\` because time runs ~50x slower under callgrind and telemetry must not come due: that variable loads the parsers too, so its count is an upper bound for the defaults (by the difference of the two \`node -e 0\` rows):`,
          '',
          table(['Node', 'app', 'preload', 'instructions without', 'with', 'added', 'added, at a bare node\'s pace'], irRows),
          '',
        ].join('\n')
      : `_Instruction counts skipped (${ctx.quick ? '--quick' : 'valgrind not found'})._\n`,
    `Goal: a short process pays at most ${GOAL_MS} ms of wall time for the preload, on every supported major. **${met === true ? 'Met' : met === false ? 'Not met' : 'Inconclusive at this noise level'}**${met === true ? `: ${summaries.join('; ')} (median added wall time where the A/A spread allowed, else from instructions).` : `: ${missText}.`} A process that ends without turning its event loop loads \`dist/register.js\` and \`dist/api.js\` only (plus \`dist/config.js\` where a variable is set); one that turns it also loads and arms the guard (\`dist/guard.js\`: heap budget, cgroup discovery, the process-tree check, the first reading), once, on that turn; see below for what each step loads.`,
    '',
    detail.md,
  ].join('\n');
  return {
    md,
    summary: [
      { figure: '4. start-up: short process, per major', result: summaries.join('; '), goal: `<= ${GOAL_MS} ms added wall`, met },
      ...detail.summary,
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// On the bench's own Node: inside the preload, modules, telemetry's loop block.

const DETAIL = [
  ['none', VARIANTS.none, {}],
  ['oomguard', { ...VARIANTS.oomguard, label: 'oomguard (defaults, no variable set)', metrics: false }, {}],
  ['oomguardImport', { ...VARIANTS.oomguard, label: 'oomguard via `--import`', args: ['--import', join(ROOT, 'dist', 'register.mjs')], metrics: false }, {}],
  ['importEmpty', { ...VARIANTS.none, label: '`--import` of an empty module (ESM loader control)', args: ['--import', join(BENCH, 'apps', 'empty.mjs')] }, {}],
  ['oomguardNow', { ...VARIANTS.oomguard, label: 'oomguard, `OOMGUARD_TELEMETRY_DELAY=0s` (telemetry at once)' }, { OOMGUARD_TELEMETRY_DELAY: '0s' }],
  ['promClient', VARIANTS.promClient, {}],
  ['otelSdk', VARIANTS.otelSdk, {}],
];

async function firstLineDetail(ctx) {
  const rounds = ctx.quick ? 2 : 8;
  const app = join(BENCH, 'apps', 'first-line.cjs');
  const res = Object.fromEntries(DETAIL.map(([k]) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < DETAIL.length; i++) {
      const [key, v, extra] = DETAIL[(i + r) % DETAIL.length];
      const port = v.metrics ? await freePort() : undefined;
      // mark.cjs first: the app can then tell the time spent in the preloads themselves.
      const out = await run(process.execPath, ['--require', join(BENCH, 'apps', 'mark.cjs'), ...v.args, app], {
        env: pinnedEnv({ ...v.env, ...metricsEnv(v, port), ...extra, SETTLE_MS: 1000 }),
        timeoutMs: 30_000,
      });
      const line = out.stdout.trim().split('\n').pop();
      if (out.code !== 0 || !line) throw new Error(`${key}: code=${out.code} signal=${out.signal}\n${out.stderr}`);
      res[key].push(JSON.parse(line));
    }
  }
  const col = (k, f) => res[k].map(f);
  const rows = DETAIL.map(([k, v]) => [
    v.label,
    fmt(col(k, (x) => x.inPreloadMs), 1),
    fmt(col(k, (x) => x.maxLoopBlockMs), 1),
    String(median(col(k, (x) => x.modulesAtFirstLine.length))),
    String(median(col(k, (x) => x.modulesAfterSettle))),
    own(res[k][0]),
  ]);
  const block = col('oomguardNow', (x) => x.maxLoopBlockMs);
  const md = [
    `bench/apps/first-line.cjs on the bench's Node (${process.version}), ${rounds} rounds in rotating order. "In the preload" runs from a marker preloaded first (bench/apps/mark.cjs, in every variant) to the app's first line. "Loop block" is the longest gap between 2 ms interval ticks in the first second after the first line: where loading the guard (on the first turn) and telemetry (with no delay) land.`,
    '',
    table(['preload', 'in the preload ms', 'loop block ms (1st s)', 'modules at first line', 'modules after 1 s', "the package's own files after 1 s"], rows),
    '',
    `Loading telemetry (the OpenTelemetry SDK, the Prometheus exporter, both instrumentations, the \`/metrics\` server) blocks the event loop for ${fmt(block, 1)} ms at its longest step; by default that happens ${'5 s'} after start-up, never in a process that ends sooner, and at once at the first warning.`,
  ].join('\n');
  return { md, summary: [{ figure: '4. start-up: in the preload (bench Node)', result: `${median(col('oomguard', (x) => x.inPreloadMs)).toFixed(1)} ms before the first line; telemetry's loop block ${median(block).toFixed(0)} ms`, goal: '(no goal set)', met: undefined }] };
}

/** dist/ files a run had loaded after the settle, as `register, api, guard`. */
function own(result) {
  const files = result.ownAfterSettle ?? [];
  return files.length ? files.map((f) => f.replace(/\.js$/, '')).join(', ') : '-';
}

