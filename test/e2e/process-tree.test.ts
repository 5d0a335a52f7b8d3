/**
 * Process trees in one real memory cgroup, every process guarded through NODE_OPTIONS, as in a
 * container: a cluster (an idle primary and its workers), `npm start`, and a parent with `node`
 * children. When the container fills up, only the process that holds the memory shuts down (exit
 * 2, its hook complete); the primary, npm and the other processes carry on, and the launchers
 * leave the metrics port to the app.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runChild, tempDir, why, type ChildResult } from '../helpers/child';
import { cgroupSkipReason, createMemoryCgroup } from '../helpers/cgroup';
import { REGISTER, dist } from '../helpers/dist';
import { nodeMatrix } from '../helpers/node-matrix';
import { freePort, getWhenUp } from '../fixtures/telemetry/child';

const FIX = join(__dirname, '..', 'fixtures', 'tree');
const MiB = 1024 * 1024;
const tmp = tempDir();
afterAll(() => tmp.remove());
let n = 0;

/** A `{"tree":...}` line a fixture wrote on stderr. */
type TreeLine = { tree: string; pid: number; [key: string]: unknown };

interface TreeResult extends ChildResult {
  oomKills: number;
  /** Pid of the process the test started (npm, the primary, the parent). */
  pid: number;
  lines: TreeLine[];
  /** Marker files the shutdown hooks wrote: `<role>-<pid>.json`. */
  markers: string[];
  /** `process_pid` of whoever served /metrics on the test's port while the tree ran. */
  metricsPid: number | undefined;
}

/**
 * Run `command args` inside a fresh cgroup of `limit` bytes with NODE_OPTIONS preloading the
 * guard, so every node process of the tree runs one; scrape /metrics once it answers.
 */
async function runTree(node: string, command: string, args: string[], env: Record<string, string>, cwd?: string): Promise<TreeResult> {
  dist('register.js');
  const markerDir = join(tmp.dir, `markers-${++n}`);
  mkdirSync(markerDir);
  const port = await freePort();
  const cg = createMemoryCgroup(320 * MiB);
  let pid = 0;
  let scraped: Promise<{ status: number; text: string } | undefined> | undefined;
  try {
    const r = await runChild({
      node: command,
      args,
      cwd,
      timeoutMs: 60_000,
      env: {
        // The node under test first: `npm`'s `#!/usr/bin/env node` then runs on it too.
        PATH: `${dirname(node)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        NODE_OPTIONS: `--require ${REGISTER}`,
        OOMGUARD_METRICS_PORT: String(port),
        OOMGUARD_METRICS_HOST: '127.0.0.1',
        MARKER_DIR: markerDir,
        npm_config_update_notifier: 'false',
        ...env,
      },
      wrap: (argv) => ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', join(cg.dir, 'cgroup.procs'), ...argv],
      onSpawn: (child) => {
        pid = child.pid ?? 0;
        scraped = getWhenUp(`http://127.0.0.1:${port}/metrics`, 15_000);
      },
    });
    const metrics = await scraped;
    const served = metrics && /^target_info\{[^}]*process_pid="(\d+)"/m.exec(metrics.text);
    const lines = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{"tree":'))
      .map((l) => JSON.parse(l) as TreeLine);
    return { ...r, oomKills: cg.oomKills(), pid, lines, markers: readdirSync(markerDir).sort(), metricsPid: served ? Number(served[1]) : undefined };
  } finally {
    await cg.cleanup();
  }
}

/** The guard's JSON lines written by `pid`. */
const eventsOf = (r: TreeResult, pid: number) => r.events.filter((e) => e.pid === pid).map((e) => `${String(e.name)} ${String(e.reason)}`);

const skip = cgroupSkipReason();

describe.skipIf(skip)(`process trees in one 320 MiB memory cgroup, every process guarded${skip ? ` (skipped: ${skip})` : ''}`, () => {
  for (const node of nodeMatrix()) {
    describe(`Node ${node.major}`, () => {
      it('cluster: the leaking worker exits 2 with its hook complete; the idle primary and the other worker do not act, and the primary serves /metrics', async () => {
        const r = await runTree(node.path, node.path, [join(FIX, 'cluster-app.js')], { WORKERS: '2', IDLE_MB: '48' });
        const primary = r.lines.find((l) => l.tree === 'primary');
        const workers = (primary?.workers ?? []) as number[];
        const leaker = r.lines.find((l) => l.tree === 'worker' && l.leaks === true)?.pid ?? -1;
        const idle = workers.filter((p) => p !== leaker);
        expect(primary?.pid, why(r)).toBe(r.pid);
        expect(r.oomKills, why(r)).toBe(0);
        expect(r.lines.find((l) => l.tree === 'exit' && l.child === leaker), why(r)).toMatchObject({ code: 2, signal: null });
        expect(r.markers, why(r)).toEqual([`worker1-${leaker}.json`]);
        expect(eventsOf(r, leaker), why(r)).toContain('oomguard.shutdown rss-threshold');
        for (const pid of [r.pid, ...idle]) expect(eventsOf(r, pid), `pid ${pid}\n${why(r)}`).toEqual([]);
        // The primary outlived its worker and ended on its own terms.
        expect([r.code, r.signal], why(r)).toEqual([0, null]);
        // The primary holds the port; its workers' series come merged into its /metrics (cluster.ts).
        expect(r.metricsPid, 'who served /metrics').toBe(r.pid);
      }, 70_000);

      it('npm start: the app exits 2 with its hook complete, npm does not act and leaves /metrics to the app', async () => {
        const app = join(tmp.dir, `npm-${++n}`);
        mkdirSync(app);
        writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'tree-npm', private: true, scripts: { start: `node ${join(FIX, 'npm-app.js')}` } }));
        const r = await runTree(node.path, 'npm', ['start'], { IDLE_MB: '0' }, app);
        const appPid = r.lines.find((l) => l.tree === 'app')?.pid ?? -1;
        expect(r.lines.find((l) => l.tree === 'app')?.lifecycle, why(r)).toBe('start');
        expect(r.oomKills, why(r)).toBe(0);
        expect(r.markers, why(r)).toEqual([`app-${appPid}.json`]);
        expect(eventsOf(r, appPid), why(r)).toContain('oomguard.shutdown rss-threshold');
        expect(eventsOf(r, r.pid), why(r)).toEqual([]);
        // npm reports the script's exit code as its own.
        expect([r.code, r.signal], why(r)).toEqual([2, null]);
        expect(r.metricsPid, 'who served /metrics').toBe(appPid);
      }, 70_000);

      it('a parent with guarded children: the leaking child exits 2 with its hook complete; the parent and the other child do not act', async () => {
        const r = await runTree(node.path, node.path, [join(FIX, 'parent-app.js')], { LEAKER: 'child1', IDLE_MB: '48' });
        const leaker = r.lines.find((l) => l.tree === 'child' && l.leaks === true)?.pid ?? -1;
        const other = r.lines.find((l) => l.tree === 'child' && l.leaks === false)?.pid ?? -1;
        expect(r.oomKills, why(r)).toBe(0);
        expect(r.lines.find((l) => l.tree === 'exit' && l.child === leaker), why(r)).toMatchObject({ code: 2, signal: null });
        expect(r.markers, why(r)).toEqual([`child1-${leaker}.json`]);
        expect(eventsOf(r, leaker), why(r)).toContain('oomguard.shutdown rss-threshold');
        for (const pid of [r.pid, other]) expect(eventsOf(r, pid), `pid ${pid}\n${why(r)}`).toEqual([]);
        expect([r.code, r.signal], why(r)).toEqual([0, null]);
      }, 70_000);

      it('a parent that leaks itself exits 2 with its hook complete; its guarded children do not act', async () => {
        const r = await runTree(node.path, node.path, [join(FIX, 'parent-app.js')], { LEAKER: 'parent', IDLE_MB: '48' });
        const children = r.lines.filter((l) => l.tree === 'child').map((l) => l.pid);
        expect(children, why(r)).toHaveLength(2);
        expect(r.oomKills, why(r)).toBe(0);
        expect([r.code, r.signal], why(r)).toEqual([2, null]);
        expect(r.markers, why(r)).toEqual([`parent-${r.pid}.json`]);
        for (const pid of children) expect(eventsOf(r, pid), `pid ${pid}\n${why(r)}`).toEqual([]);
      }, 70_000);
    });
  }
});
