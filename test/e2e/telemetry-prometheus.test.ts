import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeMatrix } from '../helpers/node-matrix';
import { baseEnv, freePort, getWhenUp, parseExposition, run, type Child } from '../fixtures/telemetry/child';

const children: Child[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
});

/** Ask the idle fixture for one JSON line (it answers on stdout). */
async function ask<T>(child: Child, command: string): Promise<T> {
  const before = child.stdout().length;
  child.proc.stdin!.write(`${command}\n`);
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const fresh = child.stdout().slice(before);
    const nl = fresh.indexOf('\n');
    if (nl >= 0) return JSON.parse(fresh.slice(0, nl)) as T;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no answer to ${command}; stderr:\n${child.stderr()}`);
}

type HeapStats = { used_heap_size: number; total_heap_size: number; heap_size_limit: number };

/**
 * The heap statistics the child reports over `ms`, every ~20 ms: a scrape reports the reading
 * of the last tick, which may have come just before a scavenge (young garbage included) while
 * one sample taken now comes just after it; over a poll interval both ends are seen.
 */
async function statsOver(child: Child, ms: number): Promise<HeapStats[]> {
  const out: HeapStats[] = [];
  const end = Date.now() + ms;
  do {
    out.push(await ask<HeapStats>(child, 'stats'));
    await new Promise((r) => setTimeout(r, 20));
  } while (Date.now() < end);
  return out;
}

describe.each(nodeMatrix().map((n) => [n.major, n.path] as const))('Prometheus endpoint of a preloaded child on Node %i', (_major, node) => {
  it('serves oomguard gauges, runtime and host metrics and target_info, the heap reading within what the child reports', async () => {
    const port = await freePort();
    const child = run(
      'idle.js',
      baseEnv({
        OOMGUARD_METRICS_HOST: '127.0.0.1',
        OOMGUARD_METRICS_PORT: String(port),
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=e2e,team=memory',
      }),
      { node },
    );
    children.push(child);
    await child.waitFor('stderr', /app ready/);
    const url = `http://127.0.0.1:${port}/metrics`;
    expect(await getWhenUp(url), `no endpoint; stderr:\n${child.stderr()}`).toBeDefined();
    // Let a few ticks and a couple of GCs happen so every source has reported, and let the
    // exposition that answered getWhenUp age out (scrapes share one collection for a second):
    // the scrape below is then collected between the two stats.
    await new Promise((r) => setTimeout(r, 1100));

    const around = await statsOver(child, 150); // the poll interval is 100 ms (baseEnv)
    const res = await fetch(url);
    const text = await res.text();
    around.push(...(await statsOver(child, 50)));
    const used = around.map((s) => s.used_heap_size);
    const total = around.map((s) => s.total_heap_size);
    const after = around.at(-1)!;
    expect(res.status).toBe(200);
    const { samples, units, types } = parseExposition(text);
    const one = (name: string) => {
      const found = samples.filter((s) => s.name === name);
      expect(found, `${name} in:\n${text}`).toHaveLength(1);
      return found[0]!;
    };

    // Names and units: OTel names with underscores, no unit suffix, the unit in `# UNIT`.
    for (const name of ['oomguard_heap_in_use', 'oomguard_heap_committed', 'oomguard_heap_released', 'oomguard_heap_limit', 'oomguard_memory_rss', 'oomguard_threshold']) {
      expect([name, units.get(name), types.get(name)]).toEqual([name, 'By', 'gauge']);
    }
    expect(units.get('oomguard_pressure')).toBe('1');
    expect(units.get('oomguard_state')).toBe('1');

    // Values: the reading of the last tick sits within what V8 reported around the scrape.
    const lo = Math.min(...used);
    const hi = Math.max(...used);
    const inUse = one('oomguard_heap_in_use').value;
    expect(inUse).toBeGreaterThanOrEqual(lo * 0.75);
    expect(inUse).toBeLessThanOrEqual(hi * 1.25);
    const committed = one('oomguard_heap_committed').value;
    expect(committed).toBeGreaterThanOrEqual(Math.min(...total) * 0.75);
    expect(committed).toBeLessThanOrEqual(Math.max(...total) * 1.25);
    expect(committed).toBeGreaterThanOrEqual(inUse);
    expect(one('oomguard_heap_limit').value).toBe(after.heap_size_limit);
    expect(one('oomguard_heap_released').value).toBeGreaterThanOrEqual(0);
    expect(one('oomguard_memory_rss').value).toBeGreaterThan(inUse);
    expect(one('oomguard_state').value).toBe(0);
    const pressure = one('oomguard_pressure').value;
    expect(pressure).toBeGreaterThan(0);
    expect(pressure).toBeLessThan(1);

    // Thresholds: labelled by signal and level; the heap ones always exist, warn below shutdown.
    const th = samples.filter((s) => s.name === 'oomguard_threshold');
    const heapWarn = th.find((s) => s.labels.oomguard_signal === 'heap' && s.labels.oomguard_level === 'warn');
    const heapShutdown = th.find((s) => s.labels.oomguard_signal === 'heap' && s.labels.oomguard_level === 'shutdown');
    expect(heapWarn!.value).toBeLessThan(heapShutdown!.value);
    expect(heapShutdown!.value).toBeLessThan(after.heap_size_limit);
    for (const s of th) expect(['heap', 'rss']).toContain(s.labels.oomguard_signal);

    // Runtime and host context, under their semantic-convention names.
    const spaces = samples.filter((s) => s.name === 'v8js_memory_heap_used').map((s) => s.labels.v8js_heap_space_name);
    expect(spaces).toEqual(expect.arrayContaining(['new_space', 'old_space', 'code_space']));
    expect(types.get('v8js_gc_duration')).toBe('histogram');
    const les = samples.filter((s) => s.name === 'v8js_gc_duration_bucket').map((s) => s.labels.le);
    expect(les).toEqual(expect.arrayContaining(['0.0005', '0.001', '0.1', '10', '+Inf']));
    expect(samples.some((s) => s.name.startsWith('nodejs_eventloop_'))).toBe(true);
    expect(samples.some((s) => s.name === 'process_memory_usage')).toBe(true);
    expect(samples.some((s) => s.name === 'system_memory_usage')).toBe(true);

    // target_info: service.name as the SDK names an app that names none (not the package.json
    // beside the script), host and runtime, OTEL_RESOURCE_ATTRIBUTES kept, no command line.
    const target = one('target_info').labels;
    expect(target).toMatchObject({
      service_name: `unknown_service:${node}`,
      process_pid: String(child.proc.pid),
      process_runtime_name: 'nodejs',
      process_runtime_version: (await ask<{ version: string }>(child, 'version')).version,
      deployment_environment_name: 'e2e',
      team: 'memory',
    });
    expect(target.host_name).toBeTruthy();
    expect(target.service_instance_id).toMatch(/^[0-9a-f-]{36}$/);
    for (const key of Object.keys(target)) expect(key).not.toMatch(/command|executable_path|owner/);

    child.proc.stdin!.end('exit 0\n');
    expect((await child.exited).code).toBe(0);
  });
});

describe('Prometheus endpoint settings', () => {
  it('takes service.name from OTEL_SERVICE_NAME over the package name', async () => {
    const port = await freePort();
    const child = run('idle.js', baseEnv({ OOMGUARD_METRICS_HOST: '127.0.0.1', OOMGUARD_METRICS_PORT: String(port), OTEL_SERVICE_NAME: 'checkout' }));
    children.push(child);
    const got = await getWhenUp(`http://127.0.0.1:${port}/metrics`);
    expect(got, child.stderr()).toBeDefined();
    const target = parseExposition(got!.text).samples.find((s) => s.name === 'target_info');
    expect(target?.labels.service_name).toBe('checkout');
    child.proc.stdin!.end();
    expect((await child.exited).code).toBe(0);
  });

  it.each([
    ['the default settings', true, {}],
    ['OOMGUARD_METRICS=none', false, { OOMGUARD_METRICS: 'none' }],
    ['OTEL_SDK_DISABLED=true', false, { OTEL_SDK_DISABLED: 'true' }],
    ['OTEL_METRICS_EXPORTER=none', false, { OTEL_METRICS_EXPORTER: 'none' }],
  ])('with %s the metrics port is open: %s (and the SDK is loaded only then)', async (_what, open, extra: Record<string, string>) => {
    const port = await freePort();
    const child = run('idle.js', baseEnv({ OOMGUARD_METRICS_HOST: '127.0.0.1', OOMGUARD_METRICS_PORT: String(port), ...extra }));
    children.push(child);
    await child.waitFor('stderr', /app ready/);
    // Telemetry comes up right after start-up; 2 s is several times what it takes here.
    const got = await getWhenUp(`http://127.0.0.1:${port}/metrics`, 2000);
    expect(got !== undefined).toBe(open);
    const { otelModules } = await ask<{ otelModules: number }>(child, 'otel-loaded');
    // With nothing to export the SDK is not even loaded.
    if (open) expect(otelModules).toBeGreaterThan(0);
    else expect(otelModules).toBe(0);
    child.proc.stdin!.end();
    expect((await child.exited).code).toBe(0);
    expect(child.stderr()).not.toMatch(/oomguard/);
  });
});

describe('OOMGUARD_INSTRUMENTATIONS', () => {
  it.each([
    ['none', [], ['v8js_', 'nodejs_eventloop_', 'process_', 'system_']],
    ['host', ['process_', 'system_'], ['v8js_', 'nodejs_eventloop_']],
  ])('=%s leaves out the runtime or host series it does not name, and keeps the oomguard ones', async (value, kept, gone) => {
    const port = await freePort();
    const child = run('idle.js', baseEnv({ OOMGUARD_METRICS_HOST: '127.0.0.1', OOMGUARD_METRICS_PORT: String(port), OOMGUARD_INSTRUMENTATIONS: value }));
    children.push(child);
    await child.waitFor('stderr', /app ready/);
    expect(await getWhenUp(`http://127.0.0.1:${port}/metrics`), child.stderr()).toBeDefined();
    await new Promise((r) => setTimeout(r, 500));
    const names = parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).samples.map((s) => s.name);
    expect(names).toContain('oomguard_heap_in_use');
    for (const prefix of kept) expect(names.some((n) => n.startsWith(prefix)), prefix).toBe(true);
    for (const prefix of gone) expect(names.filter((n) => n.startsWith(prefix)), prefix).toEqual([]);
    child.proc.stdin!.end();
    expect((await child.exited).code).toBe(0);
  });
});

describe('a metrics port already taken', () => {
  let holder: Server | undefined;
  afterEach(() => holder?.close());

  it.each([
    ['asked for explicitly: one line, the user must pick another', {}, /^oomguard: metrics endpoint off: cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/],
    ['held by the guarded parent (OOMGUARD_PARENT_PID): expected, so silent', { OOMGUARD_PARENT_PID: '4242' }, undefined],
    ['held by the guarded parent, with OOMGUARD_LOG_LEVEL=debug: the diagnostic says so', { OOMGUARD_PARENT_PID: '4242', OOMGUARD_LOG_LEVEL: 'debug' }, /held by the parent process \(pid 4242\)/],
  ])('%s; the app runs and its exit code is unchanged', async (_what, extra: Record<string, string>, line) => {
    holder = createServer();
    await new Promise<void>((r) => holder!.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    const child = run(
      'idle.js',
      baseEnv({ OOMGUARD_METRICS_HOST: '127.0.0.1', OOMGUARD_METRICS_PORT: String(port), IDLE_MS: '2500', IDLE_EXIT_CODE: '7', ...extra }),
    );
    children.push(child);
    const { code, signal } = await child.exited;
    expect([code, signal]).toEqual([7, null]);
    expect(child.stderr()).toMatch(/app ready/);
    const lines = child.stderr().split('\n').filter((l) => l.includes('oomguard'));
    expect(lines).toHaveLength(line ? 1 : 0);
    if (line) expect(lines[0]).toMatch(line);
  });
});
