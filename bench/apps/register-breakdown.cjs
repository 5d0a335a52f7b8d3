// Figure 4 breakdown: where the register entry's time goes, in a fresh process. Does what
// dist/register.js does, step by step, with a clock between the steps. One JSON line on stdout.
'use strict';
const path = require('node:path');

const dist = path.join(__dirname, '..', '..', 'dist');
const t = [performance.now()];
const { loadConfig } = require(path.join(dist, 'config.js'));
t.push(performance.now());
const { slot } = require(path.join(dist, 'api.js')); // api -> agent, sampler, watcher, gc, cgroup, heap, shutdown
t.push(performance.now());
const result = loadConfig(process.env);
t.push(performance.now());
slot().startResolved(result.config); // Agent constructor (budget, cgroup, GC tracker) + start (first reading)
t.push(performance.now());
const ms = (i) => t[i + 1] - t[i];
process.stdout.write(`${JSON.stringify({ requireConfig: ms(0), requireApi: ms(1), loadConfig: ms(2), start: ms(3), total: t[4] - t[0] })}\n`);
process.exit(0);
