// Figure 13 app: what `npm start` runs in the container: the JSON service (http-json.cjs's
// handler, items from items.cjs), which answers REQUESTS requests from a client in the same
// process over keep-alive, then closes and exits.
'use strict';
const http = require('node:http');
const items = require('./items.cjs');

const total = Number(process.env.REQUESTS ?? 300);
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ ok: true, path: req.url, items }));
});
server.listen(0, '127.0.0.1', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const { port } = server.address();
  const one = () =>
    new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
  for (let i = 0; i < total; i += 4) await Promise.all([one(), one(), one(), one()]);
  agent.destroy();
  server.close();
});
