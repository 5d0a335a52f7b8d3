// Traffic for the compose demo (service `load` in docker-compose.yml): every request makes the
// demo app cache ~64 KiB it never frees, so traffic is the leak. It sends LOAD_FAST_RPS until the
// guard's own oomguard_pressure reaches LOAD_SLOW_FROM, then LOAD_SLOW_RPS, so memory creeps
// towards the shutdown line slowly enough for the production alert rules (pressure > 0.8 and
// rising for 5 minutes) to fire before the guard acts. It keeps going across the app's restarts.
//
//   TARGET_URL=http://app:3000 METRICS_URL=http://app:9465/metrics node demo/load.mjs
const target = process.env.TARGET_URL ?? 'http://app:3000';
const metricsUrl = process.env.METRICS_URL ?? 'http://app:9465/metrics';
const fastRps = Number(process.env.LOAD_FAST_RPS ?? 40);
const slowRps = Number(process.env.LOAD_SLOW_RPS ?? 0.5);
const slowFrom = Number(process.env.LOAD_SLOW_FROM ?? 0.7);
for (const [name, value] of Object.entries({ LOAD_FAST_RPS: fastRps, LOAD_SLOW_RPS: slowRps, LOAD_SLOW_FROM: slowFrom })) {
  if (!Number.isFinite(value) || value <= 0) {
    process.stderr.write(`load: ${name}=${process.env[name]} is not a positive number\n`);
    process.exit(1);
  }
}

let pressure = 0;
let slow = false;
let sent = 0;
let failed = 0;

async function readPressure() {
  try {
    const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(1500) });
    const m = /^oomguard_pressure(?:_ratio)?(?:\{[^}]*\})?\s+(\S+)/m.exec(await res.text());
    pressure = m ? Number(m[1]) : 0;
  } catch {
    pressure = 0; // restarting: start over fast
  }
  const nowSlow = pressure >= slowFrom;
  if (nowSlow !== slow) {
    slow = nowSlow;
    process.stdout.write(
      slow
        ? `load: pressure ${pressure.toFixed(2)}, slowing to ${slowRps} req/s so the alerts have time to fire\n`
        : `load: pressure ${pressure.toFixed(2)} (app restarted?), back to ${fastRps} req/s\n`,
    );
  }
}

function send() {
  sent++;
  fetch(`${target}/items/${sent}`, { signal: AbortSignal.timeout(5000) })
    .then((res) => res.arrayBuffer())
    .catch(() => {
      failed++;
    });
}

setInterval(() => void readPressure(), 2000);
// A token bucket ticking every 50 ms, so fractional rates (0.5 req/s) work too.
let credit = 0;
setInterval(() => {
  credit += (slow ? slowRps : fastRps) / 20;
  for (; credit >= 1; credit--) send();
}, 50);
setInterval(() => process.stdout.write(`load: ${sent} sent, ${failed} failed, pressure ${pressure.toFixed(2)}\n`), 60_000);
process.on('SIGTERM', () => process.exit(0));
process.stdout.write(`load: ${fastRps} req/s to ${target} until oomguard_pressure >= ${slowFrom}, then ${slowRps} req/s\n`);
