import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalizeLimit, openCgroup, parseLimit, parseNumber, parseStat, workingSet } from '../../src/cgroup';
import { locateMemoryCgroup, parseMountinfo, parseProcCgroup, type CgroupOptions } from '../../src/cgroup-locate';

const MiB = 2 ** 20;
const FIX = join(__dirname, '..', 'fixtures', 'cgroup');

/** A fixture case: `root/` is the fake /sys/fs/cgroup, plus `proc-self-cgroup` and `mountinfo`. */
function fixture(name: string): CgroupOptions & { root: string } {
  const dir = join(FIX, name);
  const opts: CgroupOptions & { root: string } = {
    root: join(dir, 'root'),
    procSelfCgroup: readFileSync(join(dir, 'proc-self-cgroup'), 'utf8'),
  };
  if (existsSync(join(dir, 'mountinfo'))) opts.mountinfo = readFileSync(join(dir, 'mountinfo'), 'utf8');
  return opts;
}

describe('parseLimit treats every spelling of "unlimited" as none', () => {
  it.each([
    ['536870912\n', 536870912],
    ['max\n', undefined],
    ['9223372036854771712\n', undefined], // v1 sentinel, 4 KiB pages
    ['9223372036854710272\n', undefined], // v1 sentinel, 64 KiB pages
    ['9223372036854775807', undefined], // LONG_MAX
    [String(2 ** 62), undefined],
    [String(2 ** 62 - 4096), 2 ** 62 - 4096],
    ['0', undefined],
    ['-1', undefined],
    ['', undefined],
    ['garbage', undefined],
    [undefined, undefined],
  ])('%j -> %j', (text, want) => {
    expect(parseLimit(text)).toBe(want);
  });

  it.each([
    [2 ** 64 - 1, undefined], // process.constrainedMemory() without a limit
    [9223372036854771712, undefined], // v1 sentinel as a number (hierarchical_memory_limit)
    [0, undefined],
    [undefined, undefined],
    [Number.NaN, undefined],
    [Infinity, undefined],
    [256 * MiB, 256 * MiB],
  ])('normalizeLimit(%d) -> %j', (n, want) => {
    expect(normalizeLimit(n)).toBe(want);
  });
});

describe('parseProcCgroup', () => {
  it('splits v1 lines, combined controllers, named hierarchies and the v2 line', () => {
    const got = parseProcCgroup('9:name=systemd:/\n5:memory,cpu:/a/b\n0::/\n\nbogus\n');
    expect(got).toEqual([
      { id: 9, controllers: ['name=systemd'], path: '/' },
      { id: 5, controllers: ['memory', 'cpu'], path: '/a/b' },
      { id: 0, controllers: [], path: '/' },
    ]);
  });

  it('keeps colons that are part of the path', () => {
    expect(parseProcCgroup('0::/system.slice/a:b.scope\n')[0]?.path).toBe('/system.slice/a:b.scope');
  });
});

describe('parseMountinfo', () => {
  it('keeps cgroup mounts with their root, mount point and controllers, unescaping octal', () => {
    const text = [
      '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
      '1217 1210 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid master:15 - cgroup cgroup rw,memory',
      '41 31 0:38 / /sys/fs/cgroup/my\\040dir rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate',
    ].join('\n');
    expect(parseMountinfo(text)).toEqual([
      { mountPoint: '/sys/fs/cgroup/memory', root: '/docker/abc', fstype: 'cgroup', options: ['rw', 'memory'] },
      { mountPoint: '/sys/fs/cgroup/my dir', root: '/', fstype: 'cgroup2', options: ['rw', 'nsdelegate'] },
    ]);
  });
});

describe('parseStat and parseNumber', () => {
  it('reads only the wanted keys of memory.stat, or all of them', () => {
    const text = 'cache 10\nrss 20\ntotal_inactive_file 3\ntotal_active_file 4\n';
    expect(parseStat(text, ['total_inactive_file', 'total_active_file'])).toEqual({ total_inactive_file: 3, total_active_file: 4 });
    expect(parseStat(text)).toEqual({ cache: 10, rss: 20, total_inactive_file: 3, total_active_file: 4 });
    expect(parseStat('no_trailing_newline 7')).toEqual({ no_trailing_newline: 7 });
    expect(parseStat('')).toEqual({});
  });

  it.each([
    ['12345\n', 12345],
    ['', undefined],
    ['max', undefined],
  ])('parseNumber(%j) -> %j', (text, want) => {
    expect(parseNumber(text)).toBe(want);
  });
});

describe('workingSet subtracts the whole file LRU (page cache), never anon or shmem', () => {
  it.each([
    // version, usage, stat, expected
    [1, 300 * MiB, { total_inactive_file: 100 * MiB, total_active_file: 150 * MiB }, 50 * MiB],
    [2, 300 * MiB, { inactive_file: 100 * MiB, active_file: 150 * MiB }, 50 * MiB],
    // the v1 per-cgroup keys are not the hierarchical ones: not used
    [1, 300 * MiB, { inactive_file: 100 * MiB, active_file: 150 * MiB }, undefined],
    [2, 300 * MiB, { inactive_file: 100 * MiB }, undefined],
    // usage is fuzzy on v1 (per-cpu charge batches): never below zero
    [1, 10 * MiB, { total_inactive_file: 8 * MiB, total_active_file: 4 * MiB }, 0],
    [2, undefined, { inactive_file: 1, active_file: 1 }, undefined],
  ] as const)('v%d usage=%j -> %j', (version, usage, stat, want) => {
    expect(workingSet(version, usage, stat)).toBe(want);
  });
});

interface Case {
  name: string;
  version?: 1 | 2;
  dir?: string;
  limit?: number;
  limitFrom?: string;
  usage?: number;
  workingSet?: number;
}

const cases: Case[] = [
  {
    name: 'v2-container-root',
    version: 2, dir: '.', limit: 512 * MiB, limitFrom: 'memory.max',
    usage: 300 * MiB, workingSet: (300 - 120 - 60) * MiB,
  },
  {
    name: 'v2-nested-lower-parent',
    version: 2,
    dir: 'kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-abc.scope',
    limit: 256 * MiB,
    limitFrom: 'kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/memory.max',
    usage: 200 * MiB, workingSet: (200 - 30 - 15) * MiB,
  },
  { name: 'v2-max', version: 2, dir: 'user.slice/app.service', usage: 40 * MiB, workingSet: 32 * MiB },
  { name: 'v1-unlimited', version: 1, dir: 'memory', usage: 50 * MiB, workingSet: 20 * MiB },
  {
    name: 'v1-nested-lower-parent',
    version: 1, dir: 'memory/kubepods/burstable/pod1/abc', limit: 128 * MiB,
    limitFrom: 'memory/kubepods/burstable/pod1/memory.limit_in_bytes',
    usage: 100 * MiB, workingSet: 62 * MiB,
  },
  {
    name: 'v1-combined', version: 1, dir: 'memory,cpu/app', limit: 300 * MiB,
    limitFrom: 'memory,cpu/app/memory.limit_in_bytes', usage: 70 * MiB, workingSet: 50 * MiB,
  },
  {
    name: 'v1-container-hidden-parent', version: 1, dir: 'memory', limit: 200 * MiB,
    limitFrom: 'memory/memory.stat:hierarchical_memory_limit', usage: 90 * MiB, workingSet: 80 * MiB,
  },
  {
    name: 'hybrid', version: 1, dir: 'memory/process_api/x', limit: 64 * MiB,
    limitFrom: 'memory/process_api/x/memory.limit_in_bytes', usage: 32 * MiB, workingSet: 30 * MiB,
  },
  {
    name: 'v1-mountinfo-odd-name', version: 1, dir: 'mem/svc', limit: 96 * MiB,
    limitFrom: 'mem/svc/memory.limit_in_bytes', usage: 10 * MiB, workingSet: 8 * MiB,
  },
  { name: 'none-v2-host-root' },
];

describe('openCgroup on fixture trees', () => {
  it.each(cases)('$name', (c) => {
    const opts = fixture(c.name);
    const cg = openCgroup(opts);
    if (c.version === undefined) {
      expect(cg).toBeUndefined();
      return;
    }
    expect(cg).toBeDefined();
    if (!cg) return;
    try {
      expect(cg.version).toBe(c.version);
      expect(cg.dir).toBe(join(opts.root, c.dir ?? '.'));
      const limit = cg.readLimit();
      expect(limit.bytes).toBe(c.limit);
      expect(limit.from).toBe(c.limitFrom === undefined ? undefined : join(opts.root, c.limitFrom));
      expect(cg.readUsage()).toEqual({ usage: c.usage, workingSet: c.workingSet });
      // Twice: the kept descriptors are re-read from offset 0, not appended to.
      expect(cg.readUsage()).toEqual({ usage: c.usage, workingSet: c.workingSet });
    } finally {
      cg.close();
    }
  });

  it('the hybrid tree is detected as v1 even though unified has memory.pressure and a 0:: line', () => {
    expect(locateMemoryCgroup(fixture('hybrid'))?.version).toBe(1);
  });

  it('the same hybrid tree without mountinfo is still found by probing the usual mount names', () => {
    const { mountinfo: _, ...opts } = fixture('hybrid');
    expect(locateMemoryCgroup(opts)).toEqual({ version: 1, dir: join(opts.root, 'memory/process_api/x'), top: join(opts.root, 'memory') });
  });

  it.each([
    ['no cgroup root at all', { root: join(FIX, 'does-not-exist'), procSelfCgroup: '4:memory:/\n0::/\n' }],
    ['empty /proc/self/cgroup', { root: join(FIX, 'v1-unlimited', 'root'), procSelfCgroup: '' }],
    ['v1 memory line but the controller is not mounted', { root: join(FIX, 'v2-max', 'root'), procSelfCgroup: '4:memory:/x\n' }],
  ])('returns undefined, never throws: %s', (_name, opts) => {
    expect(openCgroup(opts)).toBeUndefined();
  });

  // (A removed cgroup behind an already open fd is proven on a real cgroup in the e2e test:
  // a regular filesystem keeps serving unlinked files.)
  it('a handle whose cgroup vanished before a read returns empty readings, then recovers', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'oomguard-cg-'));
    try {
      cpSync(join(FIX, 'v1-combined', 'root'), tmp, { recursive: true });
      const cg = openCgroup({ root: tmp, procSelfCgroup: '5:memory,cpu:/app\n' });
      expect(cg?.dir).toBe(join(tmp, 'memory,cpu', 'app'));
      const app = join(tmp, 'memory,cpu', 'app');
      rmSync(app, { recursive: true });
      expect(cg?.readUsage()).toEqual({});
      expect(cg?.readLimit()).toEqual({});
      cpSync(join(FIX, 'v1-combined', 'root', 'memory,cpu', 'app'), app, { recursive: true });
      expect(cg?.readUsage()).toEqual({ usage: 70 * MiB, workingSet: 50 * MiB });
      cg?.close();
      cg?.close(); // idempotent
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
