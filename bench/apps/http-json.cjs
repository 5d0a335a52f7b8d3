// A small HTTP JSON service (figures 2 and 3): GET / answers a small JSON document built per
// request. Prints {"port":N} on stdout once listening on 127.0.0.1 (ephemeral port).
'use strict';
const http = require('node:http');

const items = Array.from({ length: 20 }, (_, i) => ({ id: i, name: `item-${i}`, price: i * 1.5, tags: ['a', 'b'] }));
let served = 0;
const server = http.createServer((req, res) => {
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
