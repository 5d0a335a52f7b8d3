import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatIssue, loadConfig } from '../../src/config';
import { loadNative } from '../../src/native';
import { NativeGuard, nearLimitEvent } from '../../src/native-guard';
import { DEFAULTS } from '../../src/config';
import type { Reading } from '../../src/types';
import { heapSnapshotPath, heapSnapshotRequested, optionValue } from '../../src/native-snapshot';
import { tempDir } from '../helpers/child';

const MiB = 1024 * 1024;

describe('OOMGUARD_NATIVE and OOMGUARD_NATIVE_RESERVE are read with the rest of the configuration', () => {
  it.each([
    [{}, 'auto', 64 * MiB],
    [{ OOMGUARD_NATIVE: 'off' }, 'off', 64 * MiB],
    [{ OOMGUARD_NATIVE: ' OFF ' }, 'off', 64 * MiB],
    [{ OOMGUARD_NATIVE: 'false' }, 'off', 64 * MiB],
    [{ OOMGUARD_NATIVE: 'On' }, 'on', 64 * MiB],
    [{ OOMGUARD_NATIVE: 'yes' }, 'on', 64 * MiB],
    [{ OOMGUARD_NATIVE_RESERVE: '128MiB' }, 'auto', 128 * MiB],
    [{ OOMGUARD_NATIVE_RESERVE: '1MiB' }, 'auto', MiB],
  ] as const)('%j -> %s, %d bytes', (env, mode, reserve) => {
    const r = loadConfig(env);
    if (!r.ok) throw new Error(r.issues.map(formatIssue).join('\n'));
    expect(r.config.native).toBe(mode);
    expect(r.config.nativeReserveBytes).toBe(reserve);
    expect(r.warnings).toEqual([]);
  });

  it('start() options win over the variables', () => {
    const r = loadConfig({ OOMGUARD_NATIVE: 'off', OOMGUARD_NATIVE_RESERVE: '8MiB' }, { native: 'on', nativeReserve: 32 * MiB });
    expect(r.ok && [r.config.native, r.config.nativeReserveBytes]).toEqual(['on', 32 * MiB]);
  });

  it.each([
    [{ OOMGUARD_NATIVE: 'yes please' }, 'oomguard: OOMGUARD_NATIVE="yes please": this is not a mode of the native part; expected auto, on or off (or true/false)'],
    [{ OOMGUARD_NATIVE_RESERVE: '512KiB' }, 'oomguard: OOMGUARD_NATIVE_RESERVE="512KiB": less than 1MiB cannot hold a shutdown; expected a size of at least 1MiB, such as 64MiB or 256MiB'],
    [{ OOMGUARD_NATIVE_RESERVE: '64' }, 'oomguard: OOMGUARD_NATIVE_RESERVE="64": less than 1MiB cannot hold a shutdown; expected a size of at least 1MiB, such as 64MiB or 256MiB'],
    [{ OOMGUARD_NATIVE_RESERVE: '64m' }, expect.stringMatching(/^oomguard: OOMGUARD_NATIVE_RESERVE="64m": the unit "m" is ambiguous .*; expected a size of at least 1MiB/)],
  ])('a bad value %j is one error line naming the variable, the value and the expected form', (env, line) => {
    const r = loadConfig(env);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map(formatIssue)).toEqual([line]);
  });

  it('they are known variables: no "did you mean" warning', () => {
    const r = loadConfig({ OOMGUARD_NATIVE: 'auto', OOMGUARD_NATIVE_RESERVE: '64MiB' });
    expect(r.warnings).toEqual([]);
  });
});

describe('loadNative', () => {
  const tmp = tempDir('oomguard-native-unit-');
  afterAll(() => tmp.remove());

  it('loads the committed prebuilt binary for this platform', () => {
    const s = loadNative('auto');
    expect(s.active, s.reason).toBe(true);
    expect(s.path).toMatch(/prebuilds[/\\]linux-x64[/\\]oomguard\.glibc\.node$/);
    expect(s.binding?.state().nearHeapLimit).toBe('idle');
  });

  it('OOMGUARD_NATIVE=off: not active, and says so', () => {
    expect(loadNative('off')).toEqual({ active: false, mode: 'off', reason: 'OOMGUARD_NATIVE=off: the JavaScript mode was asked for' });
  });

  it('no binary at all: the JavaScript mode, with the reason', () => {
    const s = loadNative('auto', join(tmp.dir, 'empty'));
    expect(s.active).toBe(false);
    expect(s.binding).toBeUndefined();
    expect(s.reason).toMatch(/no binary for linux-x64/);
  });

  it('a binary that does not load (wrong ELF, another ABI): the JavaScript mode, naming the file and the error', () => {
    const root = join(tmp.dir, 'broken');
    mkdirSync(join(root, 'prebuilds', 'linux-x64'), { recursive: true });
    writeFileSync(join(root, 'prebuilds', 'linux-x64', 'oomguard.glibc.node'), 'not an ELF file');
    writeFileSync(join(root, 'prebuilds', 'linux-x64', 'oomguard.musl.node'), 'skipped on glibc');
    const s = loadNative('auto', root);
    expect(s.active).toBe(false);
    expect(s.reason).toMatch(/no binary loads \(.*oomguard\.glibc\.node: .*(invalid ELF|too short)/);
    expect(s.reason).not.toMatch(/musl/);
  });
});

describe('--heapsnapshot-near-heap-limit', () => {
  it.each([
    [['--heapsnapshot-near-heap-limit=1'], true],
    [['--heapsnapshot-near-heap-limit', '3'], true],
    [['--heapsnapshot-near-heap-limit=0'], false],
    [['--heapsnapshot-near-heap-limit=2', '--heapsnapshot-near-heap-limit=0'], false],
    [[], false],
  ])('%j -> %s', (args, want) => {
    expect(heapSnapshotRequested(args)).toBe(want);
  });

  it("names the file as Node does, in --diagnostic-dir (the command line's value wins)", () => {
    const at = new Date(2026, 10, 30, 9, 5, 7);
    expect(optionValue(['--diagnostic-dir=/a', '--diagnostic-dir', '/b'], '--diagnostic-dir')).toBe('/b');
    expect(heapSnapshotPath(['--diagnostic-dir=/var/diag'], at)).toBe(`/var/diag/Heap.20261130.090507.${process.pid}.0.001.heapsnapshot`);
  });
});

describe('NativeGuard', () => {
  const tmp = tempDir('oomguard-native-guard-');
  afterAll(() => tmp.remove());
  const gc = { record: () => undefined, recordMajor: () => undefined };
  const start = (native: 'auto' | 'on' | 'off', root: string, log: (line: string) => void) =>
    NativeGuard.start({ config: { ...DEFAULTS, native }, memoryLimit: undefined, gc, onMajor: () => undefined, onNearLimit: () => undefined, log, root });

  it('without a binary it is inactive and silent under auto, and says why under on', () => {
    const lines: string[] = [];
    const auto = start('auto', join(tmp.dir, 'none'), (l) => lines.push(l));
    expect(auto.status.active).toBe(false);
    expect(auto.observesGc).toBe(false);
    expect(lines).toEqual([]);
    start('on', join(tmp.dir, 'none'), (l) => lines.push(l));
    expect(lines).toEqual([expect.stringMatching(/^oomguard: OOMGUARD_NATIVE=on but the native part is not active: no binary for linux-x64/)]);
  });

  it('off: inactive whatever is installed, and nothing is logged', () => {
    const lines: string[] = [];
    const guard = start('off', join(__dirname, '..', '..'), (l) => lines.push(l));
    expect(guard.status).toMatchObject({ active: false, mode: 'off' });
    expect(lines).toEqual([]);
  });
});

describe('nearLimitEvent', () => {
  it('is a heap-limit shutdown whose value and threshold are the limit V8 reached, on the reading taken then', () => {
    const MiB = 1024 * 1024;
    const reading = { time: 0, heapBudget: 100 * MiB, heapSignal: 90 * MiB, memorySignal: 300 * MiB, memoryLimit: 400 * MiB } as Reading;
    const info = { heapLimit: 100 * MiB, initialHeapLimit: 100 * MiB, raisedBy: 64 * MiB, rss: 300 * MiB, agoMs: 3, terminated: true };
    const event = nearLimitEvent(info, reading, DEFAULTS);
    expect(event).toMatchObject({ level: 'shutdown', signal: 'heap', reason: 'heap-limit', value: 100 * MiB, threshold: 100 * MiB, reading });
    expect(event.thresholds.heap.shutdown).toBe(75 * MiB);
    expect(event.pressure).toBeCloseTo(90 / 75, 5);
  });
});
