// `npm run demo`: runs demo/app.mjs under the guard, sends it traffic until its leak fills the
// heap, draws a live gauge from the guard's own /metrics endpoint, and ends with a summary.
//
// Everything the gauge shows comes from scraping http://127.0.0.1:<port>/metrics, i.e. exactly
// what Prometheus would see. Options (environment): DEMO_HEAP_MB (default 96), DEMO_RPS
// (default 60), DEMO_METRICS_PORT (default: a free port).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { createServer, Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const heapMb = Number(process.env.DEMO_HEAP_MB ?? 96);
const rps = Number(process.env.DEMO_RPS ?? 60);
const tty = process.stdout.isTTY;
const MiB = 1048576;

async function freePort() {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  return port;
}

const metricsPort = Number(process.env.DEMO_METRICS_PORT ?? (await freePort()));
const work = mkdtempSync(join(tmpdir(), 'oomguard-demo-'));
const logPath = join(work, 'requests.log');

console.log(`oomguard demo: a service with a leaking response cache, under --max-old-space-size=${heapMb}`);
console.log(`  command : node --max-old-space-size=${heapMb} --require oomguard/register demo/app.mjs`);
console.log(`  metrics : http://127.0.0.1:${metricsPort}/metrics   (curl it while the demo runs)`);
console.log(`  log file: ${logPath}`);
console.log('');

const child = spawn(process.execPath, [`--max-old-space-size=${heapMb}`, '--require', 'oomguard/register', join(root, 'demo', 'app.mjs')], {
  cwd: root,
  env: {
    ...process.env,
    NODE_OPTIONS: '',
    DEMO_LOG: logPath,
    OTEL_SERVICE_NAME: 'oomguard-demo',
    OOMGUARD_METRICS_HOST: '127.0.0.1',
    OOMGUARD_METRICS_PORT: String(metricsPort),
    NODE_NO_WARNINGS: '1',
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
const started = Date.now();
let stderr = '';
child.stderr.setEncoding('utf8').on('data', (d) => {
  stderr += d;
  for (const line of d.split('\n')) {
    if (line.startsWith('app: memory pressure')) note(line);
  }
});
let appPort;
child.stdout.setEncoding('utf8').on('data', (d) => {
  for (const line of d.split('\n')) {
    if (line.startsWith('{"ready"')) appPort = JSON.parse(line).port;
  }
});

let lastLine = '';
function note(text) {
  if (tty) process.stdout.write(`\r\x1b[2K${text}\n${lastLine}`);
  else console.log(text);
}

// Traffic: `rps` requests a second over keep-alive connections, until the app stops answering.
const agent = new Agent({ keepAlive: true, maxSockets: 8 });
let sent = 0;
let answered = 0;
const traffic = setInterval(() => {
  if (!appPort) return;
  for (let i = 0; i < Math.max(1, Math.round(rps / 20)); i++) {
    sent++;
    const req = request({ host: '127.0.0.1', port: appPort, path: `/items/${sent}`, agent }, (res) => {
      res.resume();
      res.on('end', () => answered++);
    });
    req.on('error', () => undefined);
    req.end();
  }
}, 50);

// The gauge, from the guard's own /metrics.
function parseMetrics(text) {
  // name{labels} value -> { 'name{oomguard labels}': value }, leaving out the otel_scope_* labels.
  const m = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('oomguard_')) continue;
    const match = /^(\w+)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const [, name, labels = '', value] = match;
    const kept = labels
      .split(/,(?=\w+=)/)
      .filter((l) => l && !l.startsWith('otel_scope_'))
      .join(',');
    m[kept ? `${name}{${kept}}` : name] = Number(value);
  }
  return m;
}
const bar = (value, warn, shut, width = 30) => {
  const full = shut ?? value;
  const cells = [];
  for (let i = 0; i < width; i++) {
    const at = ((i + 1) / width) * full;
    const mark = warn !== undefined && Math.abs(at - warn) < full / width / 2 ? ':' : '-';
    cells.push(at <= value ? '#' : mark);
  }
  return `[${cells.join('')}|`;
};
const mb = (n) => (n === undefined ? '   -  ' : `${(n / MiB).toFixed(1).padStart(6)}`);
const STATE = ['ok', 'WARN', 'SHUTDOWN'];
let peak = 0;
let last = {};
const gauge = setInterval(async () => {
  try {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(500) });
    last = parseMetrics(await res.text());
  } catch {
    return;
  }
  const heap = last.oomguard_heap_in_use;
  const warn = last['oomguard_threshold{oomguard_signal="heap",oomguard_level="warn"}'];
  const shut = last['oomguard_threshold{oomguard_signal="heap",oomguard_level="shutdown"}'];
  const pressure = last.oomguard_pressure ?? 0;
  peak = Math.max(peak, pressure);
  const line =
    `heap ${bar(heap ?? 0, warn, shut)} ${mb(heap)} MiB (warn ${mb(warn).trim()}, shutdown ${mb(shut).trim()}, limit ${mb(last.oomguard_heap_limit).trim()})` +
    `  rss ${mb(last.oomguard_memory_rss).trim()} MiB` +
    `  pressure ${pressure.toFixed(2)}  ${STATE[last.oomguard_state ?? 0] ?? '?'}  ${((Date.now() - started) / 1000).toFixed(1)}s`;
  lastLine = line;
  if (tty) process.stdout.write(`\r\x1b[2K${line}`);
  else if (Math.round((Date.now() - started) / 250) % 8 === 0) console.log(line);
}, 250);

const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
const [code, signal] = await once(child, 'close');
clearTimeout(killer);
clearInterval(traffic);
clearInterval(gauge);
agent.destroy();
if (tty) process.stdout.write('\n');

// The summary: what happened and why.
const seconds = ((Date.now() - started) / 1000).toFixed(1);
const events = stderr
  .split('\n')
  .filter((l) => l.startsWith('{"name":"oomguard.'))
  .map((l) => JSON.parse(l));
const shutdown = events.find((e) => e.name === 'oomguard.shutdown');
const warning = events.find((e) => e.name === 'oomguard.warning');
let log = { lines: 0, torn: 0, footer: undefined };
try {
  const lines = readFileSync(logPath, 'utf8').split('\n');
  const tail = lines.pop();
  log = { lines: lines.length, torn: tail === '' ? 0 : 1, footer: undefined };
  const parsed = lines.map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      log.torn++;
      return undefined;
    }
  });
  log.footer = parsed.at(-1)?.footer;
  log.records = parsed.at(-1)?.records;
} catch (err) {
  log.error = String(err);
}
rmSync(work, { recursive: true, force: true });

console.log('');
console.log('summary');
console.log(`  ran for            ${seconds}s, ${answered} requests answered of ${sent} sent`);
if (warning) console.log(`  warning at         ${warning.signal} ${mb(warning.value).trim()} MiB >= ${mb(warning.threshold).trim()} MiB (the app was told through onPressure)`);
if (shutdown) {
  console.log(
    `  shutdown because   ${shutdown.reason}: ${shutdown.signal} ${mb(shutdown.value).trim()} MiB >= ${mb(shutdown.threshold).trim()} MiB ` +
      `(${(100 * shutdown.value / shutdown.heapBudget).toFixed(0)}% of the ${mb(shutdown.heapBudget).trim()} MiB old-generation budget)`,
  );
}
console.log(`  exit               ${signal ? `signal ${signal}` : `code ${code}`}${code === 2 ? ' (memory-pressure shutdown)' : ''}`);
console.log(`  log file           ${log.lines} lines, ${log.torn} torn, footer: ${log.footer ?? 'MISSING'}${log.records !== undefined ? ` (${log.records} records)` : ''}`);
console.log(`  peak pressure      ${peak.toFixed(2)} (1.00 = the guard acts)`);
const clean = code === 2 && log.footer === 'closed-cleanly' && log.torn === 0;
console.log('');
console.log(
  clean
    ? 'Clean shutdown: the hook flushed and closed the log, and the process exited with code 2 before V8 could abort.'
    : `NOT a clean shutdown. Last lines from the app:\n${stderr.split('\n').slice(-15).join('\n')}`,
);
process.exitCode = clean ? 0 : 1;
