// A small HTTP JSON service (figures 2, 3, 5, 6): GET / answers a small JSON document built per
// request. Prints {"port":N} on stdout once listening on 127.0.0.1 (ephemeral port).
// /__cpu and /__mem are the bench's own probes (CPU time and requests served; memory).
'use strict';
const http = require('node:http');
const { readFileSync } = require('node:fs');

/**
 * Peak RSS of this program: `VmHWM` of /proc/self/status. Not `resourceUsage().maxRSS`: Linux
 * carries the peak of the pre-exec copy of the parent into it (the bench process, 55-70 MiB), so
 * every variant read the same number. Then from /proc/self/smaps the anonymous (private,
 * heap-like) part of RSS now and the node binary's part.
 */
function memory() {
  const out = { maxRssBytes: peakRss(), rssBytes: process.memoryUsage.rss(), otelModules: 0 };
  try {
    const rollup = readFileSync('/proc/self/smaps_rollup', 'utf8');
    out.anonBytes = Number(/^Anonymous:\s+(\d+) kB/m.exec(rollup)?.[1]) * 1024;
    // The node binary's own resident pages (file-backed, shared by every node process).
    const exe = require('node:fs').realpathSync(process.execPath);
    let inBinary = false;
    out.binaryBytes = 0;
    for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
      const mapping = /^[0-9a-f]+-[0-9a-f]+ /.test(line);
      if (mapping) inBinary = line.trimEnd().endsWith(` ${exe}`);
      else if (inBinary && line.startsWith('Rss:')) out.binaryBytes += Number(/(\d+)/.exec(line)[1]) * 1024;
    }
  } catch {
    // not Linux
  }
  for (const file of Object.keys(require.cache)) if (file.includes('@opentelemetry')) out.otelModules++;
  // V8's heap as committed (physical), by space: which part of the memory is the JS heap.
  const v8 = require('node:v8');
  out.heapSpaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.physical_space_size]));
  return out;
}

function peakRss() {
  try {
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
  } catch {
    return process.resourceUsage().maxRSS * 1024; // not Linux
  }
}

const items = require('./items.cjs');
let served = 0;
const server = http.createServer((req, res) => {
  if (req.url === '/__mem') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(memory()));
    return;
  }
  if (req.url.startsWith('/__cpu')) {
    // The bench reads the process's CPU time around a measured run: CPU per request is far less
    // sensitive to other work on a shared machine than requests per second.
    const { user, system } = process.cpuUsage();
    const thread = process.threadCpuUsage();
    res.setHeader('content-type', 'application/json');
    // hrtimeNs: the monotonic clock, to cut a CPU profile of the app to a measured run.
    res.end(JSON.stringify({ cpuUs: user + system, threadCpuUs: thread.user + thread.system, served, hrtimeNs: String(process.hrtime.bigint()) }));
    return;
  }
  served++;
  const body = JSON.stringify({ ok: true, served, path: req.url, items });
  res.setHeader('content-type', 'application/json');
  res.end(body);
});
server.keepAliveTimeout = 10_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
// The bench closes stdin to stop it.
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
