// Figure 13: a container's day, tried as a new user would: NODE_OPTIONS="--require
// oomguard/register" set once for everything, and the usual commands run under it: an npm
// script that builds (tsc over this repository), `npm start` of a small service that answers a
// few hundred requests and exits, and `npx tsc --version`. Each command's CPU time (its whole
// process tree, from the shell's `times`: far less moved by other work on the machine than wall
// time) and wall time, with and without the preload, in alternated pairs, with an A/A control.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH, REGISTER, ROOT, fmt, median, pinnedEnv, ratios, run, table } from '../lib/util.mjs';

/** `times`' children line, `0m8.830s 0m0.990s`: user + system in ms. */
function cpuMs(line) {
  let total = 0;
  for (const [, m, s] of line.matchAll(/(\d+)m([\d.]+)s/g)) total += (Number(m) * 60 + Number(s)) * 1000;
  return total;
}

export async function container(ctx) {
  const rounds = ctx.quick ? 1 : 4;
  const dir = mkdtempSync(join(tmpdir(), 'oomguard-container-'));
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'container-day',
      private: true,
      scripts: {
        build: `node ${tsc} -p ${join(ROOT, 'tsconfig.json')} --noEmit`,
        start: `node ${join(BENCH, 'apps', 'container-app.cjs')}`,
      },
      devDependencies: {},
    }),
  );
  // npx finds tsc through a local node_modules/.bin, as in a project that depends on it.
  const { symlinkSync, mkdirSync } = await import('node:fs');
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(tsc, join(dir, 'node_modules', '.bin', 'tsc'));
  const STEPS = [
    ['build', '`npm run build` (npm, then tsc over this repository)', ['npm', ['run', '--silent', 'build']]],
    ['start', '`npm start` (npm, then a service answering 300 requests)', ['npm', ['start', '--silent']]],
    ['npx', '`npx tsc --version`', ['npx', ['--no-install', 'tsc', '--version']]],
  ];
  const VARIANTS = [
    ['none', {}],
    ['none2', {}],
    ['oomguard', { NODE_OPTIONS: `--require ${REGISTER}` }],
  ];
  const ms = {};
  const cpu = {};
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [step, , [cmd, args]] of STEPS) {
        for (let i = 0; i < VARIANTS.length; i++) {
          const [key, env] = VARIANTS[(i + r) % VARIANTS.length];
          // The shell's `times` prints its children's user and system time last: the whole tree's CPU.
          const out = await run('/bin/sh', ['-c', '"$@"; s=$?; times >&2; exit $s', 'sh', cmd, ...args], { env: pinnedEnv(env), cwd: dir, timeoutMs: 300_000 });
          if (out.code !== 0) throw new Error(`${step} (${key}): code=${out.code}\n${out.stderr.slice(-2000)}`);
          const lines = out.stderr.trim().split('\n');
          const children = lines.pop();
          if (key === 'oomguard' && lines.some((l) => l.includes('oomguard'))) throw new Error(`${step}: the agent wrote to stderr:\n${out.stderr.slice(-2000)}`);
          (ms[`${key}:${step}`] ??= []).push(out.ms);
          (cpu[`${key}:${step}`] ??= []).push(cpuMs(children));
        }
      }
      ctx.log(`  container round ${r + 1}/${rounds}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = [];
  const verdict = [];
  for (const [step, label] of STEPS) {
    const base = cpu[`none:${step}`];
    const withAgent = ratios(cpu[`oomguard:${step}`], base);
    const aa = ratios(cpu[`none2:${step}`], base);
    rows.push([
      label,
      fmt(base, 0),
      fmt(cpu[`oomguard:${step}`], 0),
      fmt(cpu[`oomguard:${step}`].map((x, i) => x - base[i]), 0),
      fmt(withAgent, 3),
      fmt(aa, 3),
      fmt(ratios(ms[`oomguard:${step}`], ms[`none:${step}`]), 2),
    ]);
    verdict.push(`${step} CPU ${median(withAgent).toFixed(3)}x (A/A ${median(aa).toFixed(3)}x)`);
  }
  const md = [
    `A scratch project whose scripts build this repository with tsc (\`--noEmit\`) and start bench/apps/container-app.cjs; ${rounds} rounds, each running every command without the preload, again without it (A/A control) and with \`NODE_OPTIONS="--require dist/register.js"\`, in rotating order; no other variable set, so the agent runs with its defaults in every node process (npm, tsc, the service; telemetry in those that live past 5 s). CPU time of each command's whole process tree (user + system, ms) and its ratio per round; the wall-time ratio last.`,
    '',
    table(['command', 'CPU without ms', 'CPU with oomguard ms', 'added CPU ms (paired)', 'CPU ratio', 'A/A CPU ratio', 'wall ratio'], rows),
    '',
    `Every run with the preload left stderr free of the agent's lines (checked). Ratios: ${verdict.join('; ')}.`,
  ].join('\n');
  return { md, summary: { figure: "13. a container's day (npm, tsc, the app)", result: verdict.join('; '), goal: 'not noticeably slower', met: undefined } };
}
