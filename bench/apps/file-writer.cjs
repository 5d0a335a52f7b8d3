// Figure 5 false-positive workload: writes far more file data than its cgroup's limit (page
// cache), while its own memory stays small, then exits 0.   WRITE_MB, FILE
'use strict';
const fs = require('node:fs');

const total = Number(process.env.WRITE_MB || 1024) * 1048576;
const chunk = Buffer.alloc(4 * 1048576, 7);
const fd = fs.openSync(process.env.FILE, 'w');
let written = 0;
function step() {
  for (let i = 0; i < 8 && written < total; i++) {
    fs.writeSync(fd, chunk);
    written += chunk.length;
  }
  if (written < total) return setImmediate(step);
  fs.closeSync(fd);
  fs.unlinkSync(process.env.FILE);
  process.stderr.write(`writer: wrote ${written / 1048576} MB\n`);
}
step();
