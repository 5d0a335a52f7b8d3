// The benchmarks, in one command: `npm run bench` (full, about 30 minutes on 2 busy cores, most of
// it instruction counts under callgrind) or `npm run bench -- --quick` (a few minutes, no
// instruction counts). Writes BENCHMARKS.md at the repository root (or --out <file>).
//   --quick            fewer runs and shorter loads, no instruction counts
//   --only a,b         run only these figures (tick, scrape, load, startup, survival, latency,
//                      native, evidence, majors, host, footprint, overhead, container)
//   --out <file>       where to write the markdown (default BENCHMARKS.md)
//   --update           with --only: replace those figures' sections and summary rows in the
//                      existing page and keep the rest (to run the bench in chunks of minutes)
// The machine is shared and noisy: every figure alternates A/B runs and reports medians with
// their spread, and ratios to the peers measured in the same run.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, release } from 'node:os';
import { join } from 'node:path';
import { ROOT, table } from './lib/util.mjs';
import { nodeMajors } from './lib/nodes.mjs';
import { tick } from './figures/tick.mjs';
import { scrape } from './figures/scrape.mjs';
import { load } from './figures/load.mjs';
import { startup } from './figures/startup.mjs';
import { footprint } from './figures/footprint.mjs';
import { overhead } from './figures/overhead.mjs';
import { survival } from './figures/survival.mjs';
import { latency } from './figures/latency.mjs';
import { native } from './figures/native.mjs';
import { evidence } from './figures/evidence.mjs';
import { majors } from './figures/majors.mjs';
import { host } from './figures/host.mjs';
import { container } from './figures/container.mjs';

const FIGURES = [
  ['tick', '1. Per-tick cost', tick],
  ['scrape', '2. Scrape cost', scrape],
  ['load', '3. Application overhead (throughput)', load],
  ['startup', '4. Start-up cost, per Node major', startup],
  ['survival', '5. Survival', survival],
  ['latency', '6. Detection latency', latency],
  ['native', '7. Native part cost', native],
  ['evidence', '8. Leak evidence', evidence],
  ['majors', '9. Major-GC detection in a GC-heavy app', majors],
  ['host', '10. Host costs', host],
  ['footprint', '11. Footprint, per Node major', footprint],
  ['overhead', "12. The agent's own CPU time", overhead],
  ['container', "13. A container's day: npm, a build and the app under NODE_OPTIONS", container],
];

function parseArgs(argv) {
  const opts = { quick: false, only: undefined, update: false, out: join(ROOT, 'BENCHMARKS.md') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') opts.quick = true;
    else if (a === '--only') opts.only = argv[++i].split(',');
    else if (a.startsWith('--only=')) opts.only = a.slice(7).split(',');
    else if (a === '--out') opts.out = argv[++i];
    else if (a.startsWith('--out=')) opts.out = a.slice(6);
    else if (a === '--update') opts.update = true;
    else throw new Error(`unknown argument ${a} (expected --quick, --only a,b, --out file, --update)`);
  }
  const known = FIGURES.map(([k]) => k);
  for (const k of opts.only ?? []) if (!known.includes(k)) throw new Error(`--only: unknown figure ${k} (known: ${known.join(', ')})`);
  if (opts.update && !opts.only) throw new Error('--update needs --only (the figures to replace)');
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const log = (s) => process.stderr.write(`${s}\n`);
const ctx = { quick: opts.quick, log };
const started = Date.now();
const loadAtStart = loadavg()[0];
const sections = [];
const summary = [];
for (const [key, title, fn] of FIGURES) {
  if (opts.only && !opts.only.includes(key)) continue;
  log(`[bench] ${title}`);
  const t0 = Date.now();
  try {
    const res = await fn(ctx);
    sections.push(`## ${title}\n\n${res.md}\n\n_Took ${((Date.now() - t0) / 1000).toFixed(0)} s._`);
    // Summary rows carry their figure's number as the page does.
    for (const s of [res.summary].flat()) summary.push({ ...s, figure: s.figure.replace(/^\d+\.\s*/, `${title.split('.')[0]}. `) });
  } catch (err) {
    // One failed figure must not cost the others; the page says what failed.
    sections.push(`## ${title}\n\n**Failed**: ${String(err?.stack ?? err).split('\n').slice(0, 6).join(' / ')}`);
    summary.push({ figure: title, result: 'failed', goal: '', met: false });
    process.exitCode = 1;
  }
}

const cmd = `npm run bench${opts.quick ? ' -- --quick' : ''}${opts.only ? ` (--only ${opts.only.join(',')})` : ''}`;
const summaryRows = summary.map((s) => [s.figure, s.result, s.goal, s.met === undefined ? '-' : s.met === 'inconclusive' ? 'inconclusive (noise)' : s.met ? 'yes' : '**no**']);
const md = opts.update ? updatedPage(readFileSync(opts.out, 'utf8')) : fullPage();
writeFileSync(opts.out, md);
log(`[bench] wrote ${opts.out} in ${((Date.now() - started) / 1000).toFixed(0)} s`);

function fullPage() {
  return [
    '# oomguard benchmarks',
    '',
    `Generated by \`${cmd}\` (\`bench/run.mjs\`); do not edit by hand.`,
    '',
    `- Date: ${new Date(started).toISOString()}; took ${((Date.now() - started) / 1000).toFixed(0)} s`,
    machineLine(),
    `- Node ${process.version} (V8 ${process.versions.v8}) for every child unless a figure says otherwise (figures 4 and 11 run on every supported major: ${nodeMajors().map((n) => n.version).join(', ')})`,
    `- Peers: **none** (no preload), **prom-client** 15 (\`collectDefaultMetrics()\` served on \`/metrics\`, bench/peers/prom-client.cjs), **otel-sdk** (\`@opentelemetry/sdk-node\` + \`instrumentation-runtime-node\` + \`instrumentation-host-metrics\` + \`exporter-prometheus\`, bench/peers/otel-sdk.cjs)`,
    '- Spread: `median (min-max)` over the runs; ratios are taken per pair of alternated runs, then summarised the same way.',
    '',
    '## Summary',
    '',
    table(['figure', 'measured', 'goal', 'met'], summaryRows),
    '',
    ...sections.flatMap((s) => [s, '']),
  ].join('\n');
}

function machineLine() {
  return `- Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}; shared with other work while it ran, load average ${loadAtStart.toFixed(1)} at the start and ${loadavg()[0].toFixed(1)} at the end (noisy: read the ratios, the paired differences and the instruction counts, not the absolute times)`;
}

/**
 * The existing page with the figures just run in place of their old sections and summary rows
 * (matched by number), and a line that says which figures were run again, when, under what load.
 */
function updatedPage(old) {
  const parts = old.split(/\n(?=## )/);
  const numberOf = (text) => /^(?:## |\| )(\d+)\./.exec(text)?.[1];
  const redone = new Set(sections.map(numberOf));
  const rerun = `- Figure${redone.size > 1 ? 's' : ''} ${[...redone].join(', ')} run again on ${new Date(started).toISOString()} by \`npm run bench -- --only ${opts.only.join(',')} --update\` (${((Date.now() - started) / 1000).toFixed(0)} s, load average ${loadAtStart.toFixed(1)} at the start and ${loadavg()[0].toFixed(1)} at the end); the rest of the page is from the run above.`;
  const head = parts[0].split('\n').filter((l) => !/^- Figures? [\d, ]+ run again/.test(l) || !l.includes(`--only ${opts.only.join(',')} --update`));
  const peersAt = head.findIndex((l) => l.startsWith('- Peers:'));
  head.splice(peersAt < 0 ? head.length : peersAt, 0, rerun);
  const out = [head.join('\n')];
  for (const part of parts.slice(1)) {
    if (part.startsWith('## Summary')) {
      const lines = part.split('\n');
      const rows = lines.filter((l) => l.startsWith('| ') && !l.startsWith('| figure') && !l.startsWith('| ---'));
      const kept = rows.filter((l) => !redone.has(numberOf(l)));
      const fresh = table(['figure', 'measured', 'goal', 'met'], summaryRows).split('\n').slice(2);
      const all = [...kept, ...fresh].sort((a, b) => Number(numberOf(a)) - Number(numberOf(b)));
      out.push(['## Summary', '', ...table(['figure', 'measured', 'goal', 'met'], []).split('\n').slice(0, 2), ...all, ''].join('\n'));
      continue;
    }
    const fresh = sections.find((sec) => numberOf(sec) === numberOf(part));
    out.push(fresh ? `${fresh}\n` : part);
  }
  return out.join('\n');
}
