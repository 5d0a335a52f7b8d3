import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, root, run, scaleRuleDurations, startPrometheus, substituteGrafanaVars, tool, type PrometheusServer } from '../helpers/prometheus';

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
    for (const want of ['heap in use vs thresholds', 'next gc', 'committed and released', 'rss vs memory limit', 'pressure', 'state', 'gc duration', 'gc rate', 'event loop delay', 'alerts firing', 'shutdowns']) {
      expect(titles).toContain(want);
    }
    for (const p of queryPanels) expect(p.fieldConfig?.defaults?.unit, p.title).toBeTruthy();
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
 * guard shuts the child down with exit code 2. The child runs in a cgroup v1 memory cgroup with
 * a generous limit so the memory-limit gauges exist too.
 */
describe.skipIf(!prometheus)('live: Prometheus with the repo rules and a leaking guarded child', () => {
  const cgroup = `/sys/fs/cgroup/memory/oomguard-operator-${process.pid}`;
  let prom: PrometheusServer | undefined;
  afterAll(async () => {
    await prom?.stop();
    if (existsSync(cgroup)) rmdirSync(cgroup);
  });

  it('fires OomguardMemoryPressureHigh before the guard exits 2, and every dashboard query returns data', async () => {
    expect(existsSync(join(root, 'dist', 'register.js')), 'npm run build first').toBe(true);
    const port = await freePort();
    const rules = scaleRuleDurations(readFileSync(join(root, 'prometheus', 'alerts.yml'), 'utf8'), 60);
    const config = [
      'global: { scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 900ms }',
      'rule_files: [alerts.yml]',
      'scrape_configs:',
      `  - job_name: oomguard`,
      `    static_configs: [{ targets: ['127.0.0.1:${port}'] }]`,
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
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      OTEL_SERVICE_NAME: 'oomguard-live-test',
      OOMGUARD_POLL_INTERVAL: '250ms',
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

    const empty = dashboardResults.filter((r) => r.n === 0 && (limited || !/memory_limit/.test(r.expr)));
    expect(dashboardResults.length).toBe(exprs.length);
    expect(empty, `dashboard queries without data:\n${empty.map((e) => `${e.panel}: ${e.expr}`).join('\n')}`).toEqual([]);
  }, 180_000);
});
