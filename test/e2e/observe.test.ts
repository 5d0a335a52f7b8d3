/**
 * Shadow mode, OOMGUARD_ACTION=observe: a real leaking process crosses the line, the guard
 * records the shutdown it would have made (JSON line, span and log record, counter on /metrics)
 * and does nothing else: no hook runs, the process keeps going until V8 ends it or it stops
 * leaking and exits 0 by itself. A healthy app runs exactly as without the guard.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runChild, tempDir, V8_OOM, why, type ChildResult } from '../helpers/child';
import { REGISTER, dist } from '../helpers/dist';
import { nodeMatrix } from '../helpers/node-matrix';
import { freePort, getWhenUp } from '../fixtures/telemetry/child';
import { startCountingCollector } from '../helpers/collector-counter';

const APP = join(__dirname, '..', 'fixtures', 'core', 'observe-app.js');
const tmp = tempDir();
afterAll(() => tmp.remove());
let n = 0;
const marker = () => join(tmp.dir, `marker-${++n}`);

/** The leaked MB the app printed on each progress line after stderr offset `from`. */
function leakedAfter(stderr: string, from: number): number[] {
  return [...stderr.slice(from).matchAll(/^app: (?:done )?t=\d+ms leaked=(\d+)MB$/gm)].map((m) => Number(m[1]));
}

function observedLine(r: ChildResult): { line: Record<string, unknown> | undefined; at: number } {
  const line = r.events.find((e) => e.name === 'oomguard.shutdown');
  return { line, at: r.stderr.indexOf('{"name":"oomguard.shutdown"') };
}

describe('OOMGUARD_ACTION=observe', () => {
  for (const node of nodeMatrix()) {
    it(`Node ${node.major}: a heap leak crosses the line, the would-have shutdown is recorded, no hook runs, and the app leaks on until V8 aborts it`, async () => {
      dist('register.js');
      const m = marker();
      const r = await runChild({
        node: node.path,
        args: ['--max-old-space-size=96', '--require', REGISTER, APP],
        env: { MODE: 'leak', LEAK_MB_PER_S: '30', MARKER: m, OOMGUARD_ACTION: 'observe', OOMGUARD_METRICS: 'none' },
        timeoutMs: 60_000,
      });
      const { line, at } = observedLine(r);
      expect(line, why(r)).toMatchObject({ level: 'shutdown', signal: 'heap', reason: expect.stringMatching(/^(heap-threshold|gc-thrash)$/), observed: true });
      // V8, not the guard, ended it: no exit code of ours, no hook.
      expect(r.stderr, why(r)).toMatch(V8_OOM);
      expect(r.code, why(r)).not.toBe(2);
      expect(r.signal ?? r.code, why(r)).not.toBe(0);
      expect(existsSync(m), 'the shutdown hook ran').toBe(false);
      // It went on leaking past the line.
      const after = leakedAfter(r.stderr, at);
      expect(after.length, why(r)).toBeGreaterThan(1);
      expect(Math.max(...after), why(r)).toBeGreaterThan(after[0]!);
      expect(r.stderr).toMatch(/would shut down, not acting \(OOMGUARD_ACTION=observe/);
      expect(r.events.filter((e) => e.name === 'oomguard.shutdown'), 'one observed shutdown per crossing').toHaveLength(1);
    }, 70_000);
  }

  it('a leak that stops: one observed shutdown on stderr, over OTLP and in oomguard_shutdowns_observed_total, none in the collector\'s shutdown count; the app exits 0 by itself', async () => {
    dist('register.js');
    const m = marker();
    const port = await freePort();
    // The collector of otel-collector/config.yaml, as far as its shutdown counter goes.
    const collector = await startCountingCollector(readFileSync(join(__dirname, '..', '..', 'otel-collector', 'config.yaml'), 'utf8'));
    const rx = collector.otlp;
    let scrape: Promise<{ status: number; text: string } | undefined> | undefined;
    try {
      const r = await runChild({
        args: ['--max-old-space-size=128', '--require', REGISTER, APP],
        env: {
          MODE: 'leak-stop',
          LEAK_MB_PER_S: '40',
          LEAK_TO_MB: '90',
          STAY_MS: '3000',
          MARKER: m,
          OOMGUARD_ACTION: 'observe',
          OOMGUARD_HEAP_THRESHOLD: '50%',
          OOMGUARD_METRICS_HOST: '127.0.0.1',
          OOMGUARD_METRICS_PORT: String(port),
          OTEL_EXPORTER_OTLP_ENDPOINT: collector.otlpUrl,
          OTEL_METRIC_EXPORT_INTERVAL: '600000',
        },
        timeoutMs: 60_000,
        onSpawn: () => {
          // Scrape while the app holds its leak, after the crossing.
          scrape = (async () => {
            const deadline = Date.now() + 30_000;
            for (;;) {
              const res = await getWhenUp(`http://127.0.0.1:${port}/metrics`, 5_000);
              if (res && /^oomguard_shutdowns_observed_total(\{[^}]*\})? [1-9]/m.test(res.text)) return res;
              if (Date.now() > deadline) return res;
              await new Promise((resolve) => setTimeout(resolve, 200));
            }
          })();
        },
      });
      const { line, at } = observedLine(r);
      expect([r.code, r.signal], why(r)).toEqual([0, null]);
      expect(line, why(r)).toMatchObject({ level: 'shutdown', signal: 'heap', observed: true });
      expect(existsSync(m), 'the shutdown hook ran').toBe(false);
      expect(r.stderr.indexOf('app: done'), why(r)).toBeGreaterThan(at);
      expect(r.events.map((e) => e.name), why(r)).toEqual(['oomguard.warning', 'oomguard.shutdown']);

      const metrics = await scrape;
      expect(metrics?.text, 'scrape').toMatch(/^oomguard_shutdowns_observed_total(\{[^}]*\})? 1$/m);
      expect(metrics?.text).toMatch(/^oomguard_state(\{[^}]*\})? 1$/m);

      const log = rx.logs.find((l) => l.eventName === 'oomguard.shutdown');
      expect(log, JSON.stringify(rx.logs)).toBeDefined();
      expect([log!.severityText, log!.attributes['oomguard.observed'], log!.attributes['oomguard.level']]).toEqual(['WARN', true, 'shutdown']);
      const span = rx.spans.find((s) => s.name === 'oomguard.shutdown');
      expect(span?.attributes['oomguard.observed']).toBe(true);
      const counted = await (await fetch(`http://${collector.target}/metrics`)).text();
      expect(counted).toMatch(/^oomguard_warnings\{/m);
      expect(counted).not.toMatch(/^oomguard_shutdowns/m);
    } finally {
      await collector.close();
    }
  }, 70_000);

  it('a healthy, garbage-heavy app runs as without the guard: exit 0, no event, no line of the agent', async () => {
    dist('register.js');
    const env = { MODE: 'healthy', GARBAGE_MB_PER_S: '150', RUN_MS: '2500', OOMGUARD_METRICS: 'none' };
    const args = ['--max-old-space-size=64', '--require', REGISTER, APP];
    const [observed, acting] = await Promise.all([
      runChild({ args, env: { ...env, OOMGUARD_ACTION: 'observe' }, timeoutMs: 30_000 }),
      runChild({ args, env, timeoutMs: 30_000 }),
    ]);
    for (const r of [observed, acting]) {
      expect([r.code, r.signal], why(r)).toEqual([0, null]);
      expect(r.events, why(r)).toEqual([]);
      expect(r.stderr, why(r)).not.toMatch(/oomguard/);
      expect(r.stderr, why(r)).toMatch(/^app: done/m);
    }
    expect(observed.stdout).toBe(acting.stdout);
  }, 40_000);
});
