// A small HTTP JSON service (figures 2 and 3): GET / answers a small JSON document built per
// request. Prints {"port":N} on stdout once listening on 127.0.0.1 (ephemeral port).
'use strict';
const http = require('node:http');

const items = Array.from({ length: 20 }, (_, i) => ({ id: i, name: `item-${i}`, price: i * 1.5, tags: ['a', 'b'] }));
let served = 0;
const server = http.createServer((req, res) => {
  if (req.url === '/__cpu') {
    // The bench reads the process's CPU time around a measured run: CPU per request is far less
    // sensitive to other work on a shared machine than requests per second.
    const { user, system } = process.cpuUsage();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ cpuUs: user + system, served }));
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
