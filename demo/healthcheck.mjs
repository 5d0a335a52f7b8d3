// The container health check of the demo image (Dockerfile HEALTHCHECK, docker-compose.yml):
// healthy only when the guard itself is up, not merely when a port answers. The agent's
// oomguard_state gauge exists once the guard has decided on a reading (it is absent before the
// first tick and when the guard is not loaded); 0 (ok) and 1 (warn) are healthy, 2 (shutting
// down) is not. Exit 0 healthy, 1 not, with one line saying why.
//
//   node demo/healthcheck.mjs      (reads OOMGUARD_METRICS_PORT, default 9465)
const port = process.env.OOMGUARD_METRICS_PORT || '9465';
const url = `http://127.0.0.1:${port}/metrics`;

function verdict(text) {
  const states = [...text.matchAll(/^oomguard_state(?:_ratio)?(?:\{[^}]*\})?\s+(\S+)/gm)].map((m) => Number(m[1]));
  if (states.length === 0) return [false, `no oomguard_state at ${url}: the guard is not loaded or has not taken a reading yet`];
  const state = Math.max(...states);
  if (state >= 2) return [false, 'oomguard is shutting the process down (state 2)'];
  return [true, `oomguard up, state ${state === 1 ? 'warn' : 'ok'}`];
}

try {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  const [ok, why] = res.ok ? verdict(await res.text()) : [false, `${url} answered ${res.status}`];
  process.stdout.write(`${why}\n`);
  process.exitCode = ok ? 0 : 1;
} catch (err) {
  process.stdout.write(`${url} unreachable: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
