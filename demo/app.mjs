// The demo service: an HTTP API that appends every request to a log file and "caches" each
// response in a Map that is never evicted (the leak). Run it under the guard:
//
//   node --max-old-space-size=96 --require oomguard/register demo/app.mjs
//
// Its shutdown hook is what a real service does with a write-ahead log: stop taking requests,
// flush and fsync the log, write a footer that marks the file as cleanly closed.
import { createServer } from 'node:http';
import { openSync, writeSync, fsyncSync, closeSync } from 'node:fs';
import { onShutdown, onPressure } from 'oomguard';

const port = Number(process.env.PORT ?? 0);
const logPath = process.env.DEMO_LOG ?? 'demo-requests.log';
const fd = openSync(logPath, 'w');
let pending = [];
let records = 0;
const cache = new Map(); // the leak: keyed by request id, never evicted

function flush() {
  if (pending.length === 0) return;
  writeSync(fd, pending.join(''));
  pending = [];
}
const flusher = setInterval(flush, 200);

const server = createServer((req, res) => {
  const id = ++records;
  // ~64 KiB of retained objects per request: a response cache that forgets to forget.
  const entry = Array.from({ length: 1024 }, (_, i) => ({ id, i, path: req.url }));
  cache.set(id, entry);
  pending.push(`${JSON.stringify({ id, t: Date.now(), method: req.method, url: req.url })}\n`);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ id, cached: cache.size }));
});

let shedding = false;
onPressure((event) => {
  // A real service would shed load here; the demo only says so once.
  if (event.level === 'warn' && !shedding) {
    shedding = true;
    process.stderr.write(`app: memory pressure warning (${event.signal}); a real service would shed load now\n`);
  }
});

onShutdown(
  async function closeLog(event) {
    clearInterval(flusher);
    await new Promise((resolve) => server.close(resolve));
    flush();
    writeSync(fd, `${JSON.stringify({ footer: 'closed-cleanly', records, reason: event.reason })}\n`);
    fsyncSync(fd);
    closeSync(fd);
  },
  { timeout: '5s' },
);

server.listen(port, process.env.HOST ?? '127.0.0.1', () => {
  process.stderr.write(`app: listening on http://127.0.0.1:${server.address().port}\n`);
  process.stdout.write(`${JSON.stringify({ ready: true, port: server.address().port })}\n`);
});
