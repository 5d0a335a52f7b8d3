/**
 * The app's stderr is not the agent's notebook, and what the agent does write never carries a
 * credential: children started by a guarded parent are silent, diagnostics come only when asked
 * for, and values that may hold secrets are named, never quoted, in stderr and in `doctor`.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runChild, why } from '../helpers/child';
import { dist, REGISTER } from '../helpers/dist';
import { freePort } from '../fixtures/telemetry/child';

const HOST = join(__dirname, '..', 'fixtures', 'host');

type ChildReport = { code: number; stderr: string }[];

describe('a parent that starts guarded children', () => {
  async function parent(extra: Record<string, string>): Promise<ChildReport> {
    const r = await runChild({
      args: [join(HOST, 'spawn-children.js')],
      // A port of its own: any other guarded test process on the default port would hold it.
      // Telemetry (and so the metrics port) right after start-up, in the parent and in each child:
      // by default a process that lives less than OOMGUARD_TELEMETRY_DELAY never loads it.
      env: { NODE_OPTIONS: `--require ${REGISTER}`, OOMGUARD_METRICS_PORT: String(await freePort()), OOMGUARD_TELEMETRY_DELAY: '0s', ...extra },
      timeoutMs: 30_000,
    });
    expect(r.code, why(r)).toBe(0);
    expect(r.stderr).toBe('');
    const children = JSON.parse(r.stdout) as ChildReport;
    expect(children.map((c) => c.code)).toEqual([0, 0, 0]);
    return children;
  }

  it('sees nothing from the agent on their stderr (spawn, fork, execFile; each finds the parent on the metrics port)', async () => {
    expect((await parent({})).map((c) => c.stderr)).toEqual(['', '', '']);
  });

  it("gets the agent's diagnostics when it asks for them: OOMGUARD_LOG_LEVEL=debug, one line per child", async () => {
    for (const c of await parent({ OOMGUARD_LOG_LEVEL: 'debug' })) {
      expect(c.stderr).toMatch(/^oomguard: metrics port \S+ is held by the parent process \(pid \d+\), as expected in a child; no metrics endpoint here\n$/);
    }
  });
});

describe('credentials', () => {
  let hole: Server | undefined;
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
    hole?.close();
  });

  /** Every kind of value that may carry a credential, each with a secret of its own. */
  async function secretEnv(): Promise<Record<string, string>> {
    hole = createServer((s) => sockets.push(s)).listen(0, '127.0.0.1');
    await once(hole, 'listening');
    const port = (hole.address() as { port: number }).port;
    return {
      OOMGUARD_API_TOKEN: 'sekret-unknown-variable',
      OOMGUARD_HAEP_THRESHOLD: 'sekret-misspelt-variable',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'svc:sekret-not-a-url@collector:4317',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://svc:sekret-userinfo@127.0.0.1:${port}/v1/traces?token=sekret-query`,
      OTEL_EXPORTER_OTLP_HEADERS: 'Authorization: Bearer sekret-malformed-header',
      OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'api-key=sekret-good-header',
    };
  }

  it('appear in no stderr line of a guarded app, at the most talkative log level, while the names and expected forms do', async () => {
    const env = await secretEnv();
    const r = await runChild({
      args: ['--require', 'oomguard/register', '-e', 'setTimeout(() => {}, 1500)'],
      // A warning at the first check, so telemetry loads at once and events go to the
      // (black-holed) collector too. An RSS warning: a heap warning waits for a major GC.
      env: { ...env, OOMGUARD_LOG_LEVEL: 'all', OOMGUARD_METRICS: 'none', OOMGUARD_RSS_WARN: '1MiB', OTEL_METRIC_EXPORT_INTERVAL: '300' },
      timeoutMs: 20_000,
    });
    expect(r.code, why(r)).toBe(0);
    expect(r.stderr).not.toMatch(/sekret/);
    expect(r.stderr).toMatch(/OOMGUARD_API_TOKEN=<redacted>: oomguard does not read this variable/);
    expect(r.stderr).toMatch(/OOMGUARD_HAEP_THRESHOLD=<redacted>: .*did you mean OOMGUARD_HEAP_THRESHOLD\?/);
    expect(r.stderr).toMatch(/OTEL_EXPORTER_OTLP_ENDPOINT=<redacted>: this is not an http\(s\) URL; OTLP ignores it; expected an http/);
    expect(r.stderr).toMatch(/OTEL_EXPORTER_OTLP_HEADERS=<redacted>: each header is key=value/);
    expect(r.events.some((e) => e.name === 'oomguard.warning')).toBe(true);
  });

  it.each([[[]], [['--json']]])('appear nowhere in `oomguard doctor %s`, which shows the endpoints without them', async (flags: string[]) => {
    const env = await secretEnv();
    const r = await runChild({ args: [dist('cli.js'), 'doctor', ...flags], env, timeoutMs: 20_000 });
    expect(r.code, why(r)).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/sekret/);
    expect(r.stdout).toContain('http://127.0.0.1:');
    expect(r.stdout).toMatch(/\/v1\/traces \(<redacted>: user information, query\)/);
    expect(r.stdout).toMatch(/OTEL_EXPORTER_OTLP_HEADERS=<redacted>/);
  });
});
