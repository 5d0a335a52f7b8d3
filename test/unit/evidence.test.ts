import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_NODES, rankSites, type RankOptions } from '../../src/evidence/summary';
import { MIN_SAMPLING_INTERVAL, samplingInterval, type ProfileNode, type SamplingProfile } from '../../src/evidence/profiler';
import { memoryGrowth, type MemoryByKind } from '../../src/evidence/growth';
import { headline, terminationMessage, TERMINATION_MESSAGE_BYTES, type ShutdownEvidence } from '../../src/evidence/report';
import { writeTerminationLog } from '../../src/evidence/termination-log';
import { writeHeapProfile } from '../../src/evidence/heapprofile';
import { Evidence, GROWTH_MIN_SPAN_MS } from '../../src/evidence/index';
import { parseHeapSampling, parsePath } from '../../src/parsers';
import { tempDir } from '../helpers/child';
import type { PressureEvent } from '../../src/types';

const MiB = 2 ** 20;
let id = 0;
function node(functionName: string, url: string, selfSize: number, children: ProfileNode[] = [], line = 9): ProfileNode {
  return { callFrame: { functionName, scriptId: '1', url, lineNumber: line, columnNumber: 4 }, selfSize, id: ++id, children };
}
const GUARD = '/srv/app/node_modules/oomguard/dist/';
const options = (over: Partial<RankOptions> = {}): RankOptions => ({
  limit: 5,
  maxNodes: MAX_NODES,
  deadline: Infinity,
  now: () => 0,
  isOwn: (url) => url.startsWith(GUARD),
  ...over,
});
const root = (...children: ProfileNode[]): SamplingProfile => ({ head: node('(root)', '', 0, children), samples: [] });

describe('rankSites', () => {
  it('adds up a site over every stack it allocates in, and ranks sites by live bytes with their share', () => {
    const profile = root(
      node('handler', '/app/a.js', 0, [node('leak', '/app/a.js', 60, [], 20)]),
      node('other', '/app/b.js', 0, [node('leak', '/app/a.js', 20, [], 20), node('small', '/app/b.js', 20)]),
    );
    const r = rankSites(profile, options());
    expect(r.sites.map((s) => [s.function, s.bytes, s.share])).toEqual([
      ['leak', 80, 0.8],
      ['small', 20, 0.2],
    ]);
    expect(r.sites[0]).toMatchObject({ file: '/app/a.js', line: 21, column: 5 });
    expect([r.sampledBytes, r.nodes, r.truncated]).toEqual([100, 6, false]);
  });

  it("credits Node's own frames and V8's builtins to the app function that called them", () => {
    const profile = root(node('cacheBody', '/app/c.js', 1, [node('toString', 'node:buffer', 0, [node('repeat', '', 99)])]));
    expect(rankSites(profile, options()).sites.map((s) => [s.function, s.bytes])).toEqual([['cacheBody', 100]]);
  });

  it('names an internal frame itself when no app frame is above it', () => {
    const profile = root(node('listOnTimeout', 'node:internal/timers', 10), node('(V8 API)', '', 5));
    const sites = rankSites(profile, options()).sites;
    expect(sites.map((s) => [s.function, s.file, s.line])).toEqual([
      ['listOnTimeout', 'node:internal/timers', 10],
      ['(V8 API)', '', 0],
    ]);
  });

  it("leaves the guard's own allocations out, but not those of an app listener it calls", () => {
    const profile = root(
      node('check', `${GUARD}watcher.js`, 50, [node('writeSync', 'node:fs', 30), node('onPressure', '/app/l.js', 0, [node('dropCache', '/app/l.js', 30)])]),
      node('leak', '/app/a.js', 10),
    );
    const r = rankSites(profile, options());
    expect(r.sites.map((s) => [s.function, s.share])).toEqual([
      ['dropCache', 0.75],
      ['leak', 0.25],
    ]);
    expect(r.sampledBytes).toBe(40);
  });

  it('keeps the limit heaviest sites, heaviest first', () => {
    const profile = root(...[5, 1, 9, 3, 7, 2, 8].map((b, i) => node(`f${i}`, '/app/x.js', b, [], i)));
    expect(rankSites(profile, options({ limit: 3 })).sites.map((s) => s.bytes)).toEqual([9, 8, 7]);
  });

  it('stops at the node cap or the deadline and says so', () => {
    const wide = root(...Array.from({ length: 3000 }, (_, i) => node(`f${i}`, '/app/x.js', 1, [], i)));
    expect(rankSites(wide, options({ maxNodes: 10 }))).toMatchObject({ nodes: 10, truncated: true });
    let t = 0;
    const r = rankSites(wide, options({ deadline: 5, now: () => (t += 10) }));
    expect(r).toMatchObject({ nodes: 1024, truncated: true });
  });

  it('walks a stack deeper than the call stack allows without recursion', () => {
    let deep = node('leaf', '/app/deep.js', 7);
    for (let i = 0; i < 50_000; i++) deep = node(`f${i % 3}`, '/app/deep.js', 0, [deep], i % 3);
    expect(rankSites(root(deep), options({ maxNodes: 100_000 })).sites[0]).toMatchObject({ function: 'leaf', bytes: 7, share: 1 });
  });

  it('shows ES module frames as paths, unnamed functions as (anonymous), and bounds long names', () => {
    const file = '/srv/app/src/server.mjs';
    const profile = root(node('', pathToFileURL(file).href, 3), node('x'.repeat(500), `/${'d/'.repeat(300)}f.js`, 2));
    const [first, second] = rankSites(profile, options()).sites;
    expect(first).toMatchObject({ function: '(anonymous)', file });
    expect(second!.function.length).toBeLessThanOrEqual(120);
    expect(second!.file.length).toBeLessThanOrEqual(240);
    expect(second!.file.endsWith('d/f.js')).toBe(true);
  });
});

describe('samplingInterval', () => {
  it('is the heap budget / 4096, never finer than V8 default of 32 KiB', () => {
    expect(samplingInterval(2 * 1024 * MiB)).toBe(512 * 1024);
    expect(samplingInterval(128 * MiB)).toBe(MIN_SAMPLING_INTERVAL);
    expect(samplingInterval(16 * MiB)).toBe(MIN_SAMPLING_INTERVAL);
  });
});

const memory = (over: Partial<MemoryByKind>): MemoryByKind => ({
  time: 0,
  spaces: { old_space: 10 * MiB, new_space: MiB },
  heapResident: 12 * MiB,
  arrayBuffers: MiB,
  external: 2 * MiB,
  rss: 60 * MiB,
  ...over,
});

describe('memoryGrowth', () => {
  it('names the heap for an object leak, with the spaces that grew first', () => {
    const g = memoryGrowth(memory({}), memory({ time: 2500, spaces: { old_space: 50 * MiB, new_space: MiB, large_object_space: 2 * MiB }, heapResident: 56 * MiB, rss: 104 * MiB }), 'warn');
    expect(g).toMatchObject({ since: 'warn', seconds: 2.5, heap: 42 * MiB, arrayBuffers: 0, external: 0, grewMost: 'heap' });
    expect(Object.entries(g.spaces)).toEqual([
      ['old_space', 40 * MiB],
      ['large_object_space', 2 * MiB],
    ]);
  });

  it('names ArrayBuffer memory for a Buffer leak', () => {
    const g = memoryGrowth(memory({}), memory({ arrayBuffers: 101 * MiB, external: 102 * MiB, rss: 160 * MiB }), 'warn');
    expect(g).toMatchObject({ heap: 0, arrayBuffers: 100 * MiB, external: 0, native: 0, grewMost: 'arrayBuffers' });
  });

  it('names native memory only when RSS grew by more than every other kind together', () => {
    expect(memoryGrowth(memory({}), memory({ rss: 160 * MiB }), 'warn').grewMost).toBe('native');
    const mixed = memoryGrowth(memory({}), memory({ spaces: { old_space: 16 * MiB, new_space: MiB }, heapResident: 18 * MiB, rss: 70 * MiB }), 'warn');
    expect(mixed).toMatchObject({ heap: 6 * MiB, native: 4 * MiB, grewMost: 'heap' });
  });

  it('names nothing when nothing grew', () => {
    expect(memoryGrowth(memory({}), memory({}), 'start').grewMost).toBeUndefined();
  });
});

const event = { level: 'shutdown', signal: 'heap', reason: 'heap-threshold', value: 100 * MiB, threshold: 96 * MiB, pressure: 1.04 } as PressureEvent;
const site = (fn: string, share: number) => ({ function: fn, file: '/app/a.js', line: 3, column: 7, bytes: Math.round(share * 10 * MiB), share });

describe('the growth baseline', () => {
  it('is the warn line once it was reached a while before the shutdown, the start when both lines were crossed at once', async () => {
    let now = 1_000;
    const ev = new Evidence({ sampling: 'off', heapBudget: 256 * MiB, profileDir: undefined, terminationLog: undefined, exitCode: 2, log: () => undefined, now: () => now });
    ev.start();
    await new Promise((resolve) => setImmediate(resolve));
    now = 5_000;
    ev.onEvent({ ...event, level: 'warn', reason: 'heap-warn' });
    expect(ev.summarize(event, 10_000).growth?.since).toBe('start');
    now = 5_000 + GROWTH_MIN_SPAN_MS;
    expect(ev.summarize(event, 10_000).growth?.since).toBe('warn');
    // A recovery ends the episode: the next jump past both lines is measured from the start again.
    ev.onEvent({ ...event, level: 'ok', reason: 'heap-recovered' });
    ev.onEvent({ ...event, level: 'warn', reason: 'heap-warn' });
    expect(ev.summarize(event, 10_000).growth?.since).toBe('start');
    ev.stop();
  });
});

describe('the evidence in words', () => {
  it('opens the termination message with the reason, then the top site, the ranking, the growth and the profile', () => {
    const e: ShutdownEvidence = {
      topSites: [site('leak', 0.9), site('other', 0.1)],
      sampledBytes: 10 * MiB,
      samplingInterval: 32768,
      samplingSince: '2026-01-01T00:00:00.000Z',
      growth: memoryGrowth(memory({}), memory({ spaces: { old_space: 20 * MiB, new_space: MiB }, heapResident: 22 * MiB, rss: 70 * MiB }), 'warn'),
      profile: '/p/x.heapprofile',
      ms: 12,
    };
    expect(terminationMessage(event, 2, e).split('\n')).toEqual([
      'oomguard: memory-pressure shutdown, exit code 2: heap 100MiB >= 96MiB (heap-threshold, pressure 1.04)',
      'top allocation site: leak (/app/a.js:3:7), 90.0% of sampled live heap (9MiB)',
      'top allocation sites by sampled live bytes (10MiB in all, sampled every 32KiB since 2026-01-01T00:00:00.000Z):',
      '   90.0%       9MiB  leak (/app/a.js:3:7)',
      '   10.0%       1MiB  other (/app/a.js:3:7)',
      'growth since the warn line (0s): heap +10MiB (old_space +10MiB), arrayBuffers +0B, external +0B, native +0B, rss +10MiB',
      'heap profile: /p/x.heapprofile',
      '',
    ]);
  });

  it('puts memory outside the heap first when that grew most, and says why sites are missing', () => {
    const e: ShutdownEvidence = {
      topSites: [],
      sampledBytes: 0,
      sitesSkipped: 'heap sampling is off (OOMGUARD_HEAP_SAMPLING=off)',
      growth: memoryGrowth(memory({}), memory({ arrayBuffers: 81 * MiB, external: 82 * MiB, rss: 141 * MiB }), 'warn'),
      ms: 1,
    };
    expect(headline(e)).toBe('Buffer/ArrayBuffer memory (outside the V8 heap, unseen by the heap profiler) grew most: +80MiB since the warn line (heap +0B)');
    expect(terminationMessage(event, 2, e)).toContain('\nno allocation sites: heap sampling is off (OOMGUARD_HEAP_SAMPLING=off)\n');
  });

  it('keeps the termination message within 4096 bytes, dropping whole lines', () => {
    const long = { ...site('f'.repeat(120), 0.2), file: `/${'x'.repeat(239)}` };
    const e: ShutdownEvidence = { topSites: Array(30).fill(long), sampledBytes: 1, ms: 0 };
    const text = terminationMessage(event, 2, e);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(TERMINATION_MESSAGE_BYTES);
    expect(text.endsWith('\n')).toBe(true);
    expect(text.split('\n').every((line) => line === '' || line.startsWith('oomguard') || line.startsWith('top') || line.startsWith('  '))).toBe(true);
  });

  it('words a GC-thrash shutdown as the process warning does', () => {
    const thrash = { ...event, reason: 'gc-thrash', value: 91 * MiB } as PressureEvent;
    expect(terminationMessage(thrash, 2, undefined)).toBe(
      'oomguard: memory-pressure shutdown, exit code 2: heap near its limit and GC thrashing (91MiB, line 96MiB) (gc-thrash, pressure 1.04)\n',
    );
  });

  it('has no headline without evidence to name', () => {
    expect(headline({ topSites: [], sampledBytes: 0, ms: 0 })).toBeUndefined();
  });
});

describe('files', () => {
  let tmp: { dir: string; remove: () => void } | undefined;
  afterEach(() => tmp?.remove());

  it('writes the termination message over what a file held, and only where a must-exist file exists', () => {
    tmp = tempDir();
    const path = join(tmp.dir, 'termination-log');
    expect(writeTerminationLog(path, 'short\n', true)).toBe('absent');
    expect(existsSync(path)).toBe(false);
    writeFileSync(path, 'x'.repeat(100));
    expect(writeTerminationLog(path, 'short\n', true)).toBeUndefined();
    expect(readFileSync(path, 'utf8')).toBe('short\n');
    const created = join(tmp.dir, 'other');
    expect(writeTerminationLog(created, 'made\n', false)).toBeUndefined();
    expect(readFileSync(created, 'utf8')).toBe('made\n');
    expect(writeTerminationLog(join(tmp.dir, 'no', 'dir'), 'x', false)).toMatch(/ENOENT/);
  });

  it('streams a .heapprofile that parses back to the profile, dropping samples of nodes it does not hold', () => {
    tmp = tempDir();
    const leaf = node('leak', '/app/"quoted"\\a.js', 64);
    const profile: SamplingProfile = {
      head: node('(root)', '', 0, [node('main', '/app/a.js', 0, [leaf]), node('b', '/app/b.js', 32)]),
      samples: [
        { size: 64, nodeId: leaf.id, ordinal: 1 },
        { size: 32, nodeId: 99_999, ordinal: 2 },
      ],
    };
    const path = join(tmp.dir, 'sub', 'p.heapprofile');
    const written = writeHeapProfile(path, profile, Infinity, () => 0);
    expect(written).toEqual({ path, nodes: 4, samples: 1, truncated: false });
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ head: profile.head, samples: [profile.samples![0]] });
  });

  it('closes every bracket when it stops at its time cap, and leaves the samples out', () => {
    tmp = tempDir();
    const profile = root(...Array.from({ length: 3000 }, (_, i) => node(`f${i}`, '/app/x.js', 1, [node('g', '/app/y.js', 1)])));
    profile.samples = [{ size: 1, nodeId: profile.head.id, ordinal: 1 }];
    let t = 0;
    const written = writeHeapProfile(join(tmp.dir, 'p.heapprofile'), profile, 5, () => (t += 10));
    expect(written).toMatchObject({ nodes: 1024, samples: 0, truncated: true });
    const back = JSON.parse(readFileSync(written.path, 'utf8')) as SamplingProfile;
    expect(back.samples).toEqual([]);
    expect(back.head.children.length).toBeGreaterThan(0);
  });
});

describe('parsers of the new settings', () => {
  it('parses heap sampling modes in any case', () => {
    expect(parseHeapSampling(' Always ')).toEqual({ ok: true, value: 'always' });
    expect(parseHeapSampling('on')).toMatchObject({ ok: false, expected: 'warn, always or off' });
  });

  it('parses paths, off and false; refuses true, empty values and control characters', () => {
    expect(parsePath(' /var/profiles ')).toEqual({ ok: true, value: '/var/profiles' });
    expect(parsePath('OFF')).toEqual({ ok: true, value: undefined });
    expect(parsePath(false)).toEqual({ ok: true, value: undefined });
    expect(parsePath(true)).toMatchObject({ ok: false, message: 'true is not a path' });
    expect(parsePath('  ')).toMatchObject({ ok: false, message: 'the value is empty' });
    expect(parsePath('/tmp/a\nb')).toMatchObject({ ok: false, message: 'a path has no control characters' });
  });
});
