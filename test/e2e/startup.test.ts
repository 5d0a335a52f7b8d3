/**
 * What the preload costs the processes NODE_OPTIONS puts it in: a process that ends before its
 * event loop turns loads the preload and the API only; one that turns it loads the guard on that
 * turn; telemetry loads once the process has lived OOMGUARD_TELEMETRY_DELAY (default 5 s) or at
 * its first warning; and `require('oomguard')` after the preload is still the one agent. What
 * each step costs in time and memory is BENCHMARKS.md, figure 4.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runChild, why, type ChildResult } from '../helpers/child';
import { dist, ROOT } from '../helpers/dist';
import { nodeMatrix } from '../helpers/node-matrix';

const LIFETIME = join(ROOT, 'test', 'fixtures', 'core', 'lifetime.js');

interface Report {
  at: number | 'exit' | 'warning';
  uptimeMs: number;
  /** The package's own files loaded, relative to dist/. */
  own: string[];
  /** OpenTelemetry modules loaded. */
  otel: number;
}

function reports(r: ChildResult): Report[] {
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Report);
}

function at(r: ChildResult, when: Report['at']): Report {
  const found = reports(r).find((x) => x.at === when);
  if (!found) throw new Error(`no report at ${when}; ${why(r)}`);
  return found;
}

describe.concurrent('what a preloaded process loads, and when', () => {
  for (const node of nodeMatrix()) {
    it(`Node ${node.major}: a process that ends without turning its event loop loads the preload and the API only`, async () => {
      const r = await runChild({ node: node.path, args: ['--require', dist('register.js'), LIFETIME], env: { LIFETIME_MS: '0' }, timeoutMs: 20_000 });
      expect(r.code, why(r)).toBe(0);
      expect(r.stderr).toBe('');
      expect(at(r, 'exit')).toMatchObject({ own: ['api.js', 'register.js'], otel: 0 });
    });
  }

  it('with an OOMGUARD_* or OTEL_* variable set, the parsers load too, and still nothing else', async () => {
    const r = await runChild({
      args: ['--require', dist('register.js'), LIFETIME],
      env: { LIFETIME_MS: '0', OTEL_SERVICE_NAME: 'svc', OOMGUARD_POLL_INTERVAL: '2s' },
      timeoutMs: 20_000,
    });
    expect(r.code, why(r)).toBe(0);
    expect(at(r, 'exit')).toMatchObject({ own: ['api.js', 'config.js', 'register.js'], otel: 0 });
  });

  it('a process that turns its event loop arms the guard on that turn, never loads telemetry within 5 s, and ends when it would anyway', async () => {
    const r = await runChild({
      args: ['--require', dist('register.js'), LIFETIME],
      env: { LIFETIME_MS: '400', REPORT_AT: '150', OOMGUARD_METRICS_PORT: '0' },
      timeoutMs: 20_000,
    });
    expect(r.code, why(r)).toBe(0);
    expect(r.stderr).toBe('');
    expect(at(r, 150)).toMatchObject({ own: ['api.js', 'config.js', 'guard.js', 'register.js'], otel: 0 });
    expect(at(r, 'exit').otel).toBe(0);
    // Nothing the agent armed (timer, immediate, telemetry timer) holds the process open.
    expect(at(r, 'exit').uptimeMs).toBeLessThan(1_500);
  });

  it('telemetry loads once the process has lived the default 5 s, not before', async () => {
    const r = await runChild({
      args: ['--require', dist('register.js'), LIFETIME],
      env: { LIFETIME_MS: '7000', REPORT_AT: '3500,6800', OOMGUARD_METRICS_PORT: '0' },
      timeoutMs: 30_000,
    });
    expect(r.code, why(r)).toBe(0);
    expect(at(r, 3500).otel).toBe(0);
    expect(at(r, 6800).otel, why(r)).toBeGreaterThan(0);
  });

  it('an idle process is checked on its first turns, and its first warning loads telemetry at once, whatever the delay', async () => {
    const r = await runChild({
      args: ['--require', dist('register.js'), LIFETIME],
      env: {
        LIFETIME_MS: '4000',
        OOMGUARD_METRICS_PORT: '0',
        OOMGUARD_TELEMETRY_DELAY: '1h',
        // The resident set is past 1 MiB from the start; a heap warning would wait for a major GC.
        OOMGUARD_RSS_WARN: '1MiB',
      },
      timeoutMs: 20_000,
    });
    expect(r.code, why(r)).toBe(0);
    expect(r.events.map((e) => e.name)).toContain('oomguard.warning');
    // The process warning follows the telemetry call within the same check, and that check came
    // on the first turns of the loop although the process idles on a 4 s timer.
    expect(at(r, 'warning').otel, why(r)).toBeGreaterThan(0);
    expect(at(r, 'warning').uptimeMs).toBeLessThan(1_500);
  });
});

describe.concurrent('telemetry never takes the memory the app needs', () => {
  it('a shutdown before the delay does not load telemetry: the process exits 2 with its JSON line, and no OpenTelemetry was loaded', async () => {
    const r = await runChild({
      args: ['--require', dist('register.js'), LIFETIME],
      // Past the RSS line (and its warn line) from the first check.
      env: { LIFETIME_MS: '4000', OOMGUARD_METRICS_PORT: '0', OOMGUARD_RSS_THRESHOLD: '1MiB' },
      timeoutMs: 20_000,
    });
    expect(r.code, why(r)).toBe(2);
    expect(r.events.map((e) => e.name)).toEqual(['oomguard.warning', 'oomguard.shutdown']);
    expect(at(r, 'exit'), why(r)).toMatchObject({ otel: 0 });
    expect(at(r, 'exit').own.filter((f) => f.startsWith('telemetry'))).toEqual([]);
  });

  it('a heap within reach of its shutdown line when the delay ends: telemetry waits (one line at OOMGUARD_LOG_LEVEL=warn) and loads once there is room', async () => {
    const r = await runChild({
      args: ['--expose-gc', '--require', dist('register.js'), LIFETIME],
      env: {
        LIFETIME_MS: '6000',
        REPORT_AT: '2200,5500',
        // ~94 MiB live, 6 MiB below a 100 MiB line: less than the 8 MiB loading telemetry takes.
        HOLD_MB: '94',
        RELEASE_AT: '2500',
        OOMGUARD_HEAP_THRESHOLD: '100MiB',
        OOMGUARD_HEAP_WARN: 'off',
        OOMGUARD_TELEMETRY_DELAY: '1s',
        OOMGUARD_POLL_INTERVAL: '200ms',
        OOMGUARD_METRICS_PORT: '0',
        OOMGUARD_LOG_LEVEL: 'warn',
      },
      timeoutMs: 30_000,
    });
    expect(r.code, why(r)).toBe(0);
    expect(r.events, why(r)).toEqual([]);
    expect(at(r, 2200).otel, why(r)).toBe(0);
    expect(r.stderr).toMatch(/^oomguard: telemetry not loaded yet: the heap is [\d.]+ MiB below its shutdown line, and loading telemetry takes about 8\.0 MiB of it; it loads once there is room/m);
    expect(r.stderr.match(/telemetry not loaded yet/g)).toHaveLength(1);
    expect(at(r, 5500).otel, why(r)).toBeGreaterThan(0);
  });
});

describe.concurrent('require and import after the preload', () => {
  it('require() and import() of oomguard are the preload\'s agent: the same status object, the same error class', async () => {
    const script = `
      const a = require('oomguard');
      import('oomguard').then((b) => {
        const same = a.status().config === b.status().config && a.OomguardConfigError === b.OomguardConfigError;
        console.log(JSON.stringify({ same, running: a.status() !== undefined }));
      });`;
    const r = await runChild({ args: ['--require', 'oomguard/register', '-e', script], env: { OOMGUARD_METRICS: 'none' }, timeoutMs: 20_000 });
    expect(r.code, why(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ same: true, running: true });
  });

  it('after a preload turned off by a bad variable, start() throws an OomguardConfigError that instanceof recognises', async () => {
    const script = `
      const g = require('oomguard');
      try { g.start(); console.log('started') } catch (e) { console.log(JSON.stringify({ isError: e instanceof g.OomguardConfigError, code: e.code })) }`;
    const r = await runChild({ args: ['--require', 'oomguard/register', '-e', script], env: { OOMGUARD_POLL_INTERVAL: 'fast' }, timeoutMs: 20_000 });
    expect(r.code, why(r)).toBe(0);
    expect(r.stderr).toMatch(/OOMGUARD_POLL_INTERVAL="fast".*the guard is off/);
    expect(JSON.parse(r.stdout)).toEqual({ isError: true, code: 'OOMGUARD_INVALID_CONFIG' });
  });
});
