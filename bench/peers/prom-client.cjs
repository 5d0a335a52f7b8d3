// Peer preload: what a user who wants gauges with prom-client would add.
// `collectDefaultMetrics()` served on /metrics at 127.0.0.1:PEER_METRICS_PORT (default 9464).
'use strict';
const http = require('node:http');
const client = require('prom-client');

client.collectDefaultMetrics();
const server = http.createServer((req, res) => {
  if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
    res.statusCode = 404;
    res.end();
    return;
  }
  client.register.metrics().then(
    (body) => {
      res.setHeader('content-type', client.register.contentType);
      res.end(body);
    },
    (err) => {
      res.statusCode = 500;
      res.end(String(err));
    },
  );
});
// Like the guard's own endpoint: never keep the app alive for the sake of a scrape.
server.unref();
server.listen(Number(process.env.PEER_METRICS_PORT || 9464), '127.0.0.1');
