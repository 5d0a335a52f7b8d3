import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_RESERVE, loadNative, nativeSettings } from '../../src/native';
import { heapSnapshotPath, heapSnapshotRequested, optionValue } from '../../src/native-snapshot';
import { tempDir } from '../helpers/child';

describe('nativeSettings (OOMGUARD_NATIVE, OOMGUARD_NATIVE_RESERVE)', () => {
  it.each([
    [{}, 'auto', DEFAULT_RESERVE, 0],
    [{ OOMGUARD_NATIVE: 'off' }, 'off', DEFAULT_RESERVE, 0],
    [{ OOMGUARD_NATIVE: 'OFF' }, 'off', DEFAULT_RESERVE, 0],
    [{ OOMGUARD_NATIVE: 'false' }, 'off', DEFAULT_RESERVE, 0],
    [{ OOMGUARD_NATIVE: 'on' }, 'on', DEFAULT_RESERVE, 0],
    [{ OOMGUARD_NATIVE: 'yes please' }, 'auto', DEFAULT_RESERVE, 1],
    [{ OOMGUARD_NATIVE_RESERVE: '128MiB' }, 'auto', 128 * 1024 * 1024, 0],
    [{ OOMGUARD_NATIVE_RESERVE: '512KiB' }, 'auto', DEFAULT_RESERVE, 1],
    [{ OOMGUARD_NATIVE_RESERVE: '64m' }, 'auto', DEFAULT_RESERVE, 1],
  ] as const)('%j -> %s, %d bytes, %d issue(s)', (env, mode, reserve, issues) => {
    const s = nativeSettings(env);
    expect(s.mode).toBe(mode);
    expect(s.reserveBytes).toBe(reserve);
    expect(s.issues).toHaveLength(issues);
  });

  it('a bad value is one line naming the variable, the value and the expected form', () => {
    const [line] = nativeSettings({ OOMGUARD_NATIVE_RESERVE: '1KiB' }).issues;
    expect(line).toMatch(/^oomguard: OOMGUARD_NATIVE_RESERVE="1KiB": .*expected a size of at least 1MiB/);
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
