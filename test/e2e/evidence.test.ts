import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runChild, tempDir, why, type ChildResult } from '../helpers/child';
import { cgroupSkipReason, createMemoryCgroup } from '../helpers/cgroup';
import { REGISTER } from '../helpers/dist';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver';

/**
 * Where the memory went, from real leaking children: the shutdown names the leaking function in
 * every place an operator looks first (the JSON line, the process warning, the OTLP span and log
 * record, the termination message file), tells a Buffer leak from an object leak, writes a heap
 * profile Chrome DevTools loads, and leaves an app's own node:inspector use alone.
 */

const FIXTURES = join(__dirname, '..', 'fixtures', 'evidence');

let rx: OtlpReceiver;
let tmp: { dir: string; remove: () => void };
beforeEach(async () => {
  rx = await startOtlpReceiver();
  tmp = tempDir('oomguard-evidence-');
});
afterEach(async () => {
  await rx.close();
  tmp.remove();
});

const MiB = 2 ** 20;

/** Run a fixture with the preload; in a fresh memory cgroup of `cgroupLimit` bytes when given. */
// 256 MiB: the 5% between the default warn and shutdown lines is 13 MiB, so a loaded machine that
// checks late still decides below V8's 80% line, where the guard reads the profile.
async function leak(fixture: string, env: Record<string, string>, flags = ['--max-old-space-size=256'], cgroupLimit?: number): Promise<ChildResult> {
  const cg = cgroupLimit === undefined ? undefined : createMemoryCgroup(cgroupLimit);
  try {
    return await runChild({
      args: [...flags, '--require', REGISTER, join(FIXTURES, fixture)],
      env: { OOMGUARD_POLL_INTERVAL: '100ms', OOMGUARD_METRICS: 'none', ...env },
      timeoutMs: 60_000,
      // The shell puts itself in the cgroup, then execs node: charged from the first instruction.
      wrap: cg && ((argv) => ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', join(cg.dir, 'cgroup.procs'), ...argv]),
    });
  } finally {
    await cg?.cleanup();
  }
}

const noCgroup = cgroupSkipReason();

interface Site {
  function: string;
  file: string;
  line: number;
  bytes: number;
  share: number;
}
interface Evidence {
  topSites: Site[];
  sampledBytes: number;
  sitesSkipped?: string;
  profile?: string;
  ms: number;
  growth: { since: string; heap: number; arrayBuffers: number; external: number; grewMost?: string };
}

function shutdownEvidence(r: ChildResult): Evidence {
  const line = r.events.find((e) => e.name === 'oomguard.shutdown');
  expect(line, why(r)).toBeDefined();
  expect(line!.evidence, why(r)).toBeDefined();
  const evidence = line!.evidence as Evidence;
  // Why the sites are missing, in the message of whatever assertion fails next.
  r.stderr += `\n--- evidence ---\n${JSON.stringify(evidence)}`;
  return evidence;
}

/** What Chrome DevTools does with a loaded `.heapprofile` (SamplingHeapProfileModel): every node's total. */
function devtoolsTotals(head: unknown): Map<string, number> {
  type Node = { callFrame: Record<string, unknown>; selfSize: number; id: number; children: Node[] };
  const byFunction = new Map<string, number>();
  const ids = new Set<number>();
  const total = (node: Node): number => {
    const f = node.callFrame;
    expect([typeof f.functionName, typeof f.scriptId, typeof f.url, typeof f.lineNumber, typeof f.columnNumber]).toEqual([
      'string',
      'string',
      'string',
      'number',
      'number',
    ]);
    expect(typeof node.selfSize).toBe('number');
    expect(ids.has(node.id), `duplicate node id ${node.id}`).toBe(false);
    ids.add(node.id);
    expect(Array.isArray(node.children)).toBe(true);
    const sum = node.selfSize + node.children.reduce((s, c) => s + total(c), 0);
    byFunction.set(f.functionName as string, (byFunction.get(f.functionName as string) ?? 0) + sum);
    return sum;
  };
  byFunction.set('(total)', total(head as Node));
  byFunction.set('(ids)', ids.size);
  return byFunction;
}

describe('the shutdown says where the memory went', () => {
  it('names the leaking function first in the JSON line, the process warning, the span, the log record and the termination message', async () => {
    const terminationLog = join(tmp.dir, 'termination-log');
    const r = await leak('leak-known.js', {
      OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
      OTEL_METRIC_EXPORT_INTERVAL: '600000',
      OOMGUARD_TERMINATION_LOG: terminationLog,
    });
    expect([r.code, r.signal], why(r)).toEqual([2, null]);

    const evidence = shutdownEvidence(r);
    expect(evidence.topSites[0], why(r)).toMatchObject({ function: 'retainSessions', file: join(FIXTURES, 'leak-known.js'), line: 11 });
    expect(evidence.topSites[0]!.share).toBeGreaterThan(0.5);
    // Since the warn line, or since the start when the leak was confirmed past both lines at once.
    expect(evidence.growth).toMatchObject({ since: expect.stringMatching(/^(warn|start)$/), grewMost: 'heap' });
    // The guard's own allocations (its forced-GC context, the inspector's answer) are not the app's.
    for (const site of evidence.topSites) expect(site.file.startsWith(join(__dirname, '..', '..', 'dist'))).toBe(false);

    // The human line on stderr, from process.emitWarning.
    expect(r.stderr.match(/^.*Warning: memory pressure: .*shutting down.*$/m)?.[0], why(r)).toMatch(
      /Warning: memory pressure: heap .*; shutting down \(pressure [\d.]+\); top allocation site: retainSessions \(/,
    );

    const span = rx.spans.find((s) => s.name === 'oomguard.shutdown');
    expect(span, `spans: ${JSON.stringify(rx.spans)}\n${why(r)}`).toBeDefined();
    expect(span!.attributes).toMatchObject({
      'oomguard.evidence.top_site.function': 'retainSessions',
      'oomguard.evidence.top_site.line': 11,
      'oomguard.evidence.grew_most': 'heap',
    });
    expect(String((span!.attributes['oomguard.evidence.top_sites'] as string[])[0])).toContain('retainSessions');
    const log = rx.logs.find((l) => l.eventName === 'oomguard.shutdown');
    expect(log, JSON.stringify(rx.logs)).toBeDefined();
    expect(log!.attributes['oomguard.evidence.top_site.function']).toBe('retainSessions');
    expect(log!.body).toMatch(/; top allocation site: retainSessions \(/);

    const message = readFileSync(terminationLog, 'utf8').split('\n');
    // A loaded machine can see V8 thrash in GC just under the line first: either reason is the heap's.
    expect(message[0]).toMatch(/^oomguard: memory-pressure shutdown, exit code 2: heap .* \((heap-threshold|gc-thrash), pressure/);
    expect(message[1]).toMatch(/^top allocation site: retainSessions \(.*leak-known\.js:11:\d+\), \d+\.\d% of sampled live heap/);
    expect(message.join('\n')).toMatch(/growth since (the warn line|the guard started)/);
    expect(Buffer.byteLength(message.join('\n'))).toBeLessThanOrEqual(4096);
  });

  // Buffers hardly move the heap: the RSS lines of a real memory limit stop this one. Its own
  // cgroup, so the working set it is judged on is its own and not the test runner's.
  it.skipIf(noCgroup)(`reports a Buffer leak as memory outside the V8 heap, not as a heap leak${noCgroup ? ` (skipped: ${noCgroup})` : ''}`, async () => {
    const terminationLog = join(tmp.dir, 'termination-log');
    const r = await leak('leak-buffers.js', { OOMGUARD_TERMINATION_LOG: terminationLog }, [], 512 * MiB);
    expect([r.code, r.signal], why(r)).toEqual([2, null]);
    const line = r.events.find((e) => e.name === 'oomguard.shutdown')!;
    expect(line.reason, why(r)).toBe('rss-threshold');
    const { growth } = shutdownEvidence(r);
    // Default lines: warn at 80% of 512 MiB, shut down at 90%; about 51 MiB of Buffers between.
    expect(growth.grewMost).toBe('arrayBuffers');
    expect(growth.arrayBuffers).toBeGreaterThan(25 * MiB);
    expect(growth.heap).toBeLessThan(growth.arrayBuffers / 10);
    const message = readFileSync(terminationLog, 'utf8');
    expect(message.split('\n')[1]).toMatch(/^Buffer\/ArrayBuffer memory \(outside the V8 heap, unseen by the heap profiler\) grew most: \+\d/);
    expect(r.stderr).toMatch(/shutting down \(pressure [\d.]+\); Buffer\/ArrayBuffer memory .* grew most/);
  });

  it('writes a .heapprofile that Chrome DevTools loads when OOMGUARD_PROFILE_DIR is set, creating the directory', async () => {
    const dir = join(tmp.dir, 'profiles', 'nested');
    const r = await leak('leak-known.js', { OOMGUARD_PROFILE_DIR: dir });
    expect([r.code, r.signal], why(r)).toEqual([2, null]);
    const evidence = shutdownEvidence(r);
    expect(evidence.profile, why(r)).toBeDefined();
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(new RegExp(`^oomguard-${r.events[0]!.pid}-\\d{4}-\\d\\d-\\d\\dT[\\d-]+Z\\.heapprofile$`));
    expect(evidence.profile).toBe(join(dir, files[0]!));

    const profile = JSON.parse(readFileSync(evidence.profile!, 'utf8')) as { head: unknown; samples: { size: number; nodeId: number; ordinal: number }[] };
    expect(Object.keys(profile)).toEqual(['head', 'samples']);
    const totals = devtoolsTotals(profile.head);
    // The leaking function holds most of what DevTools would show, as it did in the summary.
    expect(totals.get('retainSessions')! / totals.get('(total)')!).toBeGreaterThan(0.5);
    // Samples name nodes of the tree and add up to its bytes (V8 rounds each scaled sample).
    expect(profile.samples.length).toBeGreaterThan(0);
    const ids = new Set<number>();
    const collect = (n: { id: number; children: unknown[] }): void => {
      ids.add(n.id);
      for (const c of n.children) collect(c as typeof n);
    };
    collect(profile.head as { id: number; children: unknown[] });
    for (const s of profile.samples) expect(ids.has(s.nodeId)).toBe(true);
    const sampled = profile.samples.reduce((sum, s) => sum + s.size, 0);
    expect(Math.abs(sampled - totals.get('(total)')!) / totals.get('(total)')!).toBeLessThan(0.02);
  });

  it('leaves an app that uses node:inspector itself alone: its session, CPU profiler and heap sampling keep working', async () => {
    const report = join(tmp.dir, 'app-report.json');
    const r = await leak('app-inspector.js', { APP_REPORT: report });
    expect([r.code, r.signal], why(r)).toEqual([2, null]);
    expect(existsSync(report), why(r)).toBe(true);
    const app = JSON.parse(readFileSync(report, 'utf8')) as Record<string, unknown>;
    expect(app).toMatchObject({ evaluate: 42, cpuStart: {}, heapStart: {}, evaluateAfter: 'still works' });
    expect(app.heapError).toBeUndefined();
    expect(app.cpuError).toBeUndefined();
    expect(app.cpuNodes).toBeGreaterThan(0);
    // The app's own profile, at its own interval, still holds its allocations...
    expect(app.heapFunctions).toContain('cacheResponses');
    expect(app.heapSamples).toBeGreaterThan(1000);
    // ...and the guard read the same shared profiler without stopping it.
    const evidence = shutdownEvidence(r);
    expect(evidence.topSites.map((s) => s.function)).toContain('cacheResponses');
  });

  it('with OOMGUARD_HEAP_SAMPLING=always samples from the start, before any warn line', async () => {
    const r = await leak('leak-known.js', { OOMGUARD_HEAP_SAMPLING: 'always' });
    expect([r.code, r.signal], why(r)).toEqual([2, null]);
    const warnedAt = Date.parse(String(r.events.find((e) => e.name === 'oomguard.warning')?.time));
    const evidence = shutdownEvidence(r) as Evidence & { samplingSince: string };
    expect(Date.parse(evidence.samplingSince), why(r)).toBeLessThan(warnedAt);
    expect(evidence.topSites[0]?.function, why(r)).toBe('retainSessions');
  });

  it('with OOMGUARD_HEAP_SAMPLING=off reads no profile and still reports growth by kind', async () => {
    const r = await leak('leak-known.js', { OOMGUARD_HEAP_SAMPLING: 'off' });
    expect([r.code, r.signal], why(r)).toEqual([2, null]);
    const evidence = shutdownEvidence(r);
    expect(evidence.topSites).toEqual([]);
    expect(evidence.sitesSkipped).toMatch(/OOMGUARD_HEAP_SAMPLING=off/);
    expect(evidence.growth).toMatchObject({ since: 'warn', grewMost: 'heap' });
  });

  it('skips the profile (a full GC) when the shutdown deadline is short, and keeps the deadline', async () => {
    const r = await leak('leak-known.js', { OOMGUARD_SHUTDOWN_TIMEOUT: '100ms' });
    expect([r.code, r.signal], why(r)).toEqual([2, null]);
    const evidence = shutdownEvidence(r);
    expect(evidence.topSites).toEqual([]);
    expect(evidence.sitesSkipped).toMatch(/reading the profile runs a full GC of .* more than 25ms of the shutdown deadline/);
  });
});
