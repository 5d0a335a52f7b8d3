import { afterEach, describe, expect, it } from 'vitest';
import { nodeMatrix } from '../helpers/node-matrix';
import { baseEnv, freePort, getWhenUp, parseExposition, run, type Child, type Sample } from '../fixtures/telemetry/child';

const children: Child[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
});

type Up = { primary: number; workers: Record<string, number> };

async function startCluster(node: string): Promise<{ child: Child; up: Up; url: string }> {
  const port = await freePort();
  const child = run('cluster.js', baseEnv({ OOMGUARD_METRICS_HOST: '127.0.0.1', OOMGUARD_METRICS_PORT: String(port) }), {
    node,
    flags: ['--max-old-space-size=128'],
    timeout: 60_000,
  });
  children.push(child);
  const line = await child.waitFor('stdout', /\{"primary".*\}\n/, 20_000);
  return { child, up: JSON.parse(line[0]) as Up, url: `http://127.0.0.1:${port}/metrics` };
}

/** Scrape until every worker's readings are in (their telemetry comes up after start-up), bounded. */
async function scrapeUntil(url: string, done: (samples: Sample[]) => boolean, ms = 10_000): Promise<{ samples: Sample[]; text: string; types: Map<string, string> }> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await getWhenUp(url, 2000);
    const parsed = got ? { ...parseExposition(got.text), text: got.text } : { samples: [], types: new Map<string, string>(), text: '' };
    if (done(parsed.samples) || Date.now() > deadline) return parsed;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const byWorker = (samples: Sample[], name: string) => new Map(samples.filter((s) => s.name === name).map((s) => [s.labels.oomguard_worker_id ?? 'primary', s]));

describe.each(nodeMatrix())('Node $major: a cluster', ({ path }) => {
  it("exports both workers' readings through the primary's endpoint, labelled by worker id and pid", async () => {
    const { child, up, url } = await startCluster(path);
    const { samples, text, types } = await scrapeUntil(url, (s) => byWorker(s, 'oomguard_heap_in_use').size === 3);
    const inUse = byWorker(samples, 'oomguard_heap_in_use');
    expect([...inUse.keys()].sort(), `${child.stderr()}\n${text}`).toEqual(['1', '2', 'primary']);
    for (const id of ['1', '2']) expect(inUse.get(id)!.labels.process_pid).toBe(String(up.workers[id]));
    // The primary's own series keep their labels as in a process of its own.
    expect(inUse.get('primary')!.labels).toEqual({ otel_scope_name: 'oomguard', otel_scope_version: expect.any(String) });
    // Each worker's own reading: worker 2 holds 16 MiB more live heap than worker 1.
    expect(inUse.get('2')!.value - inUse.get('1')!.value).toBeGreaterThan(12 * 1024 * 1024);
    // One family each, whatever the number of processes behind it.
    expect(text.match(/^# TYPE oomguard_heap_in_use /gm)).toHaveLength(1);
    expect(types.get('oomguard_state')).toBe('gauge');
    const targets = byWorker(samples, 'target_info');
    expect(targets.get('2')!.labels).toMatchObject({ oomguard_worker_id: '2', process_pid: String(up.workers['2']) });
    expect(targets.get('primary')!.labels.process_pid).toBe(String(up.primary));
    // No worker tried the primary's port.
    expect(child.stderr()).not.toMatch(/metrics port|metrics endpoint off/);
    child.proc.stdin!.end('exit\n');
    expect((await child.exited).code).toBe(0);
  });
});

describe('a cluster worker shut down for memory pressure', () => {
  it('is counted by the primary, and its series leave while the other worker stays', async () => {
    const { child, url } = await startCluster(process.execPath);
    await scrapeUntil(url, (s) => byWorker(s, 'oomguard_heap_in_use').size === 3);
    child.proc.stdin!.write('leak 2\n');
    await child.waitFor('stdout', /\{"exited":2,"code":2,"signal":null\}/, 45_000);
    const { samples, text } = await scrapeUntil(url, (s) => byWorker(s, 'oomguard_heap_in_use').size === 2);
    expect([...byWorker(samples, 'oomguard_heap_in_use').keys()].sort(), text).toEqual(['1', 'primary']);
    expect(samples.find((s) => s.name === 'oomguard_cluster_worker_shutdowns_total')?.value, text).toBe(1);
    // Its own stderr line said why, with its pid.
    expect(child.stderr()).toMatch(/"name":"oomguard.shutdown"/);
    child.proc.stdin!.end('exit\n');
    expect((await child.exited).code).toBe(0);
  }, 90_000);
});
