// Figure 11 breakdown, preloaded after the guard (itself run with OTEL_SDK_DISABLED=true): brings
// the agent's own telemetry (dist/telemetry, the same bundle the agent loads) part of the way up,
// so each step's memory shows on its own. STEP:
//   load   the telemetry bundle loaded (compiled), nothing started
//   sdk    + started without the runtime and host instrumentations: the SDK's meter provider,
//          the guard's gauges, the Prometheus reader and the /metrics server (PEER_METRICS_PORT)
// (With both instrumentations started it is the agent's default: OOMGUARD_TELEMETRY_DELAY=0s.)
'use strict';
const { join } = require('node:path');

const dist = join(__dirname, '..', '..', 'dist');
const { startTelemetry } = require(join(dist, 'telemetry', 'index.js'));

if (process.env.STEP === 'sdk') {
  const { loadConfig } = require(join(dist, 'config.js'));
  const loaded = loadConfig({ OOMGUARD_METRICS_HOST: '127.0.0.1', OOMGUARD_METRICS_PORT: process.env.PEER_METRICS_PORT ?? '0' });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  const slot = globalThis[Symbol.for('oomguard')];
  // As the agent does: after the app's start-up, off its first turn.
  setTimeout(() => void startTelemetry(loaded.config, { latest: () => slot?.status() }, (line) => process.stderr.write(`${line}\n`), { instrumentations: false }), 0).unref();
}
