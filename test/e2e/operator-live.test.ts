import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import { startCountingCollector, type CountingCollector } from '../helpers/collector-counter';
import { freePort, root, run, SUFFIXED_NAMES, scaleRuleDurations, startPrometheus, substituteGrafanaVars, tool, type PrometheusServer } from '../helpers/prometheus';

const promtool = tool('promtool');
const prometheus = tool('prometheus');

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
  fieldConfig?: { defaults?: { unit?: string } };
  datasource?: { uid?: string };
}
const dashboardText = readFileSync(join(root, 'dashboards', 'oomguard.json'), 'utf8');
const dashboard = JSON.parse(dashboardText) as {
  schemaVersion: number;
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
};
const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');
const rawExprs = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, raw: t.expr })));
const exprs = rawExprs.map((e) => ({ panel: e.panel, expr: substituteGrafanaVars(e.raw) }));

describe('dashboards/oomguard.json', () => {
  it('is a current-schema dashboard with a datasource variable and no ${DS_...} inputs', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(dashboardText).not.toMatch(/\$\{DS_/);
    expect(dashboardText).not.toContain('__inputs');
    const ds = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(ds).toMatchObject({ name: 'datasource', query: 'prometheus' });
    for (const p of queryPanels) expect(p.datasource?.uid, p.title).toBe('${datasource}');
  });

  it('has every panel the operator needs, each with a unit', () => {
    const titles = queryPanels.map((p) => p.title.toLowerCase()).join('\n');
    for (const want of ['heap signal, thresholds, budget and v8 limit', 'next gc', 'committed and released', 'rss vs memory limit', 'pressure', 'state', 'gc duration', 'gc rate', 'event loop delay', 'event loop utilisation', 'alerts firing', 'shutdowns by reason']) {
      expect(titles).toContain(want);
    }
    for (const p of queryPanels) expect(p.fieldConfig?.defaults?.unit, p.title).toBeTruthy();
  });

  it('draws the heap budget, limit, signal and thresholds on one panel per instance, never summed across instances', () => {
    const heap = dashboard.panels.find((p) => /heap signal, thresholds, budget/i.test(p.title)) as Panel & { repeat?: string };
    expect(heap.repeat).toBe('instance');
    const text = heap.targets!.map((t) => t.expr).join('\n');
    for (const name of ['oomguard_heap_signal', 'oomguard_threshold', 'oomguard_heap_budget', 'oomguard_heap_limit']) expect(text).toContain(name);
    for (const e of rawExprs) {
      const m = /\b(sum|max|min|avg) by \(([^)]*)\)/.exec(e.raw);
      if (m && /instance|oomguard_|v8js_|nodejs_/.test(e.raw) && !/ALERTS|oomguard_shutdowns/.test(e.raw)) expect(m[2], `${e.panel}: ${e.raw}`).toMatch(/\binstance\b/);
    }
  });

  it('matches both metric name sets in every query: the suffix-free and the suffixed name', () => {
    for (const e of rawExprs) {
      for (const m of e.raw.matchAll(/\{__name__=~"([^"]+)"/g)) {
        const [plain, suffixed, ...rest] = m[1]!.split('|');
        expect(rest, e.raw).toEqual([]);
        expect(SUFFIXED_NAMES[plain!], `${e.panel}: ${plain}`).toBe(suffixed);
      }
      // No metric selected by one name alone (ALERTS is Prometheus' own).
      const bare = [...e.raw.matchAll(/\b([a-z][a-z0-9_]*)\{/g)].map((x) => x[1]!).filter((n) => n !== 'ALERTS');
      expect(bare, e.raw).toEqual([]);
    }
  });

  it.skipIf(!promtool)('every query parses as PromQL (promtool check rules on one recording rule per query)', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'oomguard-dash-'));
    try {
      const groups = { groups: [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `dashboard:query_${i}`, expr: e.expr })) }] };
      writeFileSync(join(dir, 'dashboard.yml'), JSON.stringify(groups));
      const r = await run(promtool!, ['check', 'rules', join(dir, 'dashboard.yml')]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain(`SUCCESS: ${exprs.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * The live proof: the real Prometheus scrapes a leaking child preloaded with the built agent,
 * evaluates the repository's own alert rules (durations divided by 60, see
 * scaleRuleDurations), and the pressure alert fires while the child is still alive; then the
 * guard shuts the child down with exit code 2, and "the guard fired" (OomguardShutdown) fires
 * from that real shutdown twice: from the counter the collector derives from the agent's
 * shutdown log record (test/helpers/collector-counter.ts does what otel-collector/config.yaml's
 * count connector and prometheus exporter do), and from kube-state-metrics' view of the exit
 * (the test is the supervisor: it exports the restart count and the real exit code under
 * kube-state-metrics' names). The child runs in a cgroup v1 memory cgroup with a generous limit
 * so the memory-limit gauges exist too.
 */
describe.skipIf(!prometheus)('live: Prometheus with the repo rules and a leaking guarded child', () => {
  const cgroup = `/sys/fs/cgroup/memory/oomguard-operator-${process.pid}`;
  let prom: PrometheusServer | undefined;
  let collector: CountingCollector | undefined;
  const ksm = { restarts: 0, exitCode: undefined as number | undefined };
  const ksmServer = createServer((_req, res) => {
    const l = 'namespace="live",pod="app-0",container="app",uid="u0"';
    res.end(
      `kube_pod_container_status_restarts_total{${l}} ${ksm.restarts}\n` +
        (ksm.exitCode === undefined ? '' : `kube_pod_container_status_last_terminated_exitcode{${l}} ${ksm.exitCode}\n`),
    );
  });
  afterAll(async () => {
    ksmServer.close();
    await collector?.close();
    await prom?.stop();
    if (existsSync(cgroup)) rmdirSync(cgroup);
  });

  it('fires OomguardMemoryPressureHigh before the guard exits 2, OomguardShutdown from the collector counter and from kube-state-metrics after, and every dashboard query returns data', async () => {
    expect(existsSync(join(root, 'dist', 'register.js')), 'npm run build first').toBe(true);
    const port = await freePort();
    collector = await startCountingCollector(readFileSync(join(root, 'otel-collector', 'config.yaml'), 'utf8'));
    ksmServer.listen(0, '127.0.0.1');
    await once(ksmServer, 'listening');
    const ksmTarget = `127.0.0.1:${(ksmServer.address() as { port: number }).port}`;
    const rules = scaleRuleDurations(readFileSync(join(root, 'prometheus', 'alerts.yml'), 'utf8'), 60);
    const config = [
      'global: { scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 900ms }',
      'rule_files: [alerts.yml]',
      'scrape_configs:',
      `  - job_name: oomguard`,
      `    static_configs: [{ targets: ['127.0.0.1:${port}'] }]`,
      `  - job_name: otel-collector-exporter`,
      `    honor_labels: true`,
      `    static_configs: [{ targets: ['${collector.target}'] }]`,
      `  - job_name: kube-state-metrics`,
      `    static_configs: [{ targets: ['${ksmTarget}'] }]`,
    ].join('\n');
    prom = await startPrometheus(prometheus!, config, { 'alerts.yml': rules });

    // A memory cgroup (v1) with a limit far above what the child needs: the heap threshold acts.
    let limited = false;
    if (existsSync('/sys/fs/cgroup/memory/cgroup.procs')) {
      mkdirSync(cgroup);
      writeFileSync(join(cgroup, 'memory.limit_in_bytes'), String(512 * 1024 * 1024));
      limited = true;
    } else if (process.env.CI) {
      throw new Error('cgroup v1 memory controller not mounted at /sys/fs/cgroup/memory');
    }
    const nodeArgs = ['--max-old-space-size=64', '--require', join(root, 'dist', 'register.js'), join(root, 'test', 'fixtures', 'operator', 'slow-leak.js')];
    // sh puts itself into the cgroup, then execs node: the agent sees the limit from its first tick.
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      OOMGUARD_METRICS_HOST: '127.0.0.1',
      OOMGUARD_METRICS_PORT: String(port),
      OTEL_SERVICE_NAME: 'oomguard-live-test',
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.otlpUrl,
      OOMGUARD_POLL_INTERVAL: '250ms',
      // Telemetry from the first second, as the leak starts: loaded at the default 5 s, its
      // exporters' few MiB would land on a heap the leak has already filled to its plateau.
      OOMGUARD_TELEMETRY_DELAY: '0s',
    };
    const options = { env, timeout: 150_000, killSignal: 'SIGKILL' as const, stdio: ['ignore', 'ignore', 'pipe'] as ['ignore', 'ignore', 'pipe'] };
    const child = limited
      ? spawn('/bin/sh', ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec "$0" "$@"`, process.execPath, ...nodeArgs], options)
      : spawn(process.execPath, nodeArgs, options);
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    let childExited = false;
    void exited.then(() => {
      childExited = true;
    });

    // Poll the HTTP API until the alert fires; it must happen while the child still runs.
    let firing: Awaited<ReturnType<PrometheusServer['alerts']>>[number] | undefined;
    let dashboardResults: { panel: string; expr: string; n: number }[] = [];
    const deadline = Date.now() + 120_000;
    while (!firing && !childExited && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      firing = (await prom.alerts()).find((a) => a.labels.alertname === 'OomguardMemoryPressureHigh' && a.state === 'firing');
    }
    const aliveWhenFiring = !childExited;
    if (firing && aliveWhenFiring) {
      // Every dashboard query, variables substituted as for "All", against live data.
      dashboardResults = await Promise.all(
        rawExprs.map(async (e) => {
          const expr = substituteGrafanaVars(e.raw, { rateInterval: '15s', interval: '5s', range: '1m' });
          return { panel: e.panel, expr, n: (await prom!.query(expr)).length };
        }),
      );
    }
    const firedAt = Date.now();
    const [code, signal] = await exited;
    // The supervisor's record of the exit, as kube-state-metrics exports it after a restart.
    ksm.exitCode = code ?? 128 + 9;
    ksm.restarts++;
    const exitAt = Date.now();
    // "The guard fired", after the process is gone: from the collector's counter (job = the
    // app's service.name) and from kube-state-metrics.
    let fromCounter: Awaited<ReturnType<PrometheusServer['alerts']>>[number] | undefined;
    let fromKsm: typeof fromCounter;
    while ((!fromCounter || !fromKsm) && Date.now() < exitAt + 30_000) {
      await new Promise((r) => setTimeout(r, 250));
      const shutdowns = (await prom.alerts()).filter((a) => a.labels.alertname === 'OomguardShutdown' && a.state === 'firing');
      fromCounter ??= shutdowns.find((a) => a.labels.job === 'oomguard-live-test');
      fromKsm ??= shutdowns.find((a) => a.labels.source === 'kube-state-metrics');
    }
    if (fromCounter && fromKsm) {
      // Event queries (shutdowns by reason) have data only now; the gauges only while it ran.
      const after = await Promise.all(
        rawExprs.map(async (e) => (await prom!.query(substituteGrafanaVars(e.raw, { rateInterval: '15s', interval: '5s', range: '1m' }))).length),
      );
      dashboardResults = dashboardResults.map((r, i) => ({ ...r, n: r.n + after[i]! }));
    }
    // The margin the operator had: from the alert firing to the guard's exit.
    if (firing) console.info(`OomguardMemoryPressureHigh fired ${Date.now() - firedAt} ms before the child exited (value ${firing.value})`);
    const diag = `exit ${code}/${signal}\nchild stderr:\n${stderr.slice(-3000)}\nprometheus:\n${prom.log().slice(-2000)}`;

    expect(firing, `no firing OomguardMemoryPressureHigh\n${diag}`).toBeDefined();
    expect(aliveWhenFiring, `alert fired only after the child exited\n${diag}`).toBe(true);
    expect(firing!.labels).toMatchObject({ job: 'oomguard', instance: `127.0.0.1:${port}`, severity: 'warning' });
    expect(firing!.annotations.summary).toMatch(/memory pressure [\d.]+% of the shutdown threshold and rising/);
    expect(Number(firing!.value)).toBeGreaterThan(0.8);
    expect({ code, signal }, diag).toEqual({ code: 2, signal: null });
    expect(stderr).toContain('oomguard.shutdown');
    const counted = `collector /metrics: ${await (await fetch(`http://${collector.target}/metrics`)).text()}\n${diag}`;
    expect(fromCounter, `no OomguardShutdown from the collector counter\n${counted}`).toBeDefined();
    expect(fromCounter!.labels).toMatchObject({ severity: 'warning', source: 'telemetry', job: 'oomguard-live-test' });
    expect(fromKsm, `no OomguardShutdown from kube-state-metrics\n${diag}`).toBeDefined();
    expect(fromKsm!.labels).toMatchObject({ severity: 'warning', namespace: 'live', pod: 'app-0', container: 'app' });
    console.info(`OomguardShutdown fired from the counter and kube-state-metrics within ${Date.now() - exitAt} ms of the exit`);

    const empty = dashboardResults.filter((r) => r.n === 0 && (limited || !/memory_limit/.test(r.expr)));
    expect(dashboardResults.length).toBe(exprs.length);
    expect(empty, `dashboard queries without data:\n${empty.map((e) => `${e.panel}: ${e.expr}`).join('\n')}`).toEqual([]);
  }, 210_000);
});
