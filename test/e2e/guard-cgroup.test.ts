/**
 * Real memory cgroups (v1 here) and the real kernel OOM killer. With the agent the process
 * exits 2 before the kernel kills it; without it the kernel kills it (SIGKILL, 137 in a shell).
 * A heavy file writer (page cache) is never mistaken for memory pressure.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runChild, tempDir, V8_OOM, why, type ChildResult } from '../helpers/child';
import { cgroupSkipReason, createMemoryCgroup } from '../helpers/cgroup';
import { dist } from '../helpers/dist';
import { nodeMatrix } from '../helpers/node-matrix';

const LEAK = join(__dirname, '..', 'fixtures', 'core', 'leak.js');
const WRITER = join(__dirname, '..', 'fixtures', 'core', 'file-writer.js');
const MiB = 1024 * 1024;
const tmp = tempDir();
afterAll(() => tmp.remove());
let n = 0;
const marker = () => join(tmp.dir, `marker-${++n}.json`);

/** Run `args` on `node` inside a fresh cgroup of `limit` bytes; the cgroup is removed after. */
async function inCgroup(
  limit: number,
  args: string[],
  env: Record<string, string>,
  node = process.execPath,
  timeoutMs = 90_000,
): Promise<ChildResult & { oomKills: number }> {
  const cg = createMemoryCgroup(limit);
  try {
    const r = await runChild({
      node,
      args,
      env,
      timeoutMs,
      // The shell puts itself in the cgroup, then execs node: charged from the first instruction.
      wrap: (argv) => ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', join(cg.dir, 'cgroup.procs'), ...argv],
    });
    return { ...r, oomKills: cg.oomKills() };
  } finally {
    await cg.cleanup();
  }
}

const skip = cgroupSkipReason();

describe.skipIf(skip)(`in a real memory cgroup${skip ? ` (skipped: ${skip})` : ''}`, () => {
  describe.concurrent('Buffer leak (external memory; the heap stays small) in 256 MiB', () => {
    it('with the agent: exits 2 with its hook run, before the kernel kills it', async () => {
      dist('register.js');
      const m = marker();
      const r = await inCgroup(256 * MiB, ['--require', 'oomguard/register', LEAK], { LEAK_KIND: 'buffer', LEAK_MB_PER_S: '40', MARKER: m });
      expect(r.oomKills, why(r)).toBe(0);
      expect(r.code, why(r)).toBe(2);
      expect(existsSync(m)).toBe(true);
      const shutdown = r.events.find((e) => e.name === 'oomguard.shutdown');
      expect(shutdown?.signal, why(r)).toBe('rss');
      expect(shutdown?.memoryLimit).toBe(256 * MiB);
    });

    it('without the agent: the kernel OOM-kills it', async () => {
      const r = await inCgroup(256 * MiB, [LEAK], { LEAK_KIND: 'buffer', LEAK_MB_PER_S: '40' });
      expect(r.signal, why(r)).toBe('SIGKILL');
      expect(r.oomKills).toBeGreaterThanOrEqual(1);
    });
  });

  it('a leak inside a worker_threads Worker (main isolate small): exits 2 before the kernel kills it', async () => {
    const m = marker();
    const r = await inCgroup(256 * MiB, ['--require', 'oomguard/register', LEAK], { LEAK_KIND: 'worker', LEAK_MB_PER_S: '40', MARKER: m });
    expect(r.oomKills, why(r)).toBe(0);
    expect(r.code, why(r)).toBe(2);
    expect(existsSync(m)).toBe(true);
    expect(r.events.find((e) => e.name === 'oomguard.shutdown')?.signal).toBe('rss');
  });

  it('a process writing 4x its limit in file data (page cache) is NOT shut down', async () => {
    const r = await inCgroup(
      128 * MiB,
      ['--require', 'oomguard/register', WRITER],
      { WRITE_MB: '512', FILE: join(tmp.dir, 'big.bin'), OOMGUARD_POLL_INTERVAL: '50ms' },
    );
    expect(r.code, why(r)).toBe(0);
    expect(r.events, why(r)).toEqual([]);
    expect(r.stderr).toMatch(/wrote 512 MB/);
  });

  it('oomguard doctor inside a 256 MiB cgroup reports the limit from cgroup v1 and warns that a 1 GiB heap cannot fit', async () => {
    const r = await inCgroup(256 * MiB, ['--max-old-space-size=1024', dist('cli.js'), 'doctor'], {}, process.execPath, 20_000);
    expect(r.code, why(r)).toBe(0);
    expect(r.stdout).toMatch(/memory limit\s+256MiB\s+\(cgroup-v1: .*memory\.limit_in_bytes/);
    expect(r.stdout).toMatch(/heap budget\s+1GiB\s+\(--max-old-space-size=1024/);
    expect(r.stdout).toMatch(/does not fit in the memory limit \(256MiB\)/);
  });

  /**
   * Node sizes its default heap from the cgroup limit: no --max-old-space-size, DEFAULT guard
   * settings, a fast heap leak. The guard must fire before V8 aborts (or the kernel kills).
   */
  describe('default heap size inside a 512 MiB cgroup, default settings, 60 MB/s heap leak', () => {
    for (const node of nodeMatrix()) {
      it(`Node ${node.major}: exits 2 before V8 aborts`, async () => {
        const m = marker();
        const r = await inCgroup(512 * MiB, ['--require', 'oomguard/register', LEAK], { LEAK_MB_PER_S: '60', MARKER: m }, node.path);
        expect(r.stderr, why(r)).not.toMatch(V8_OOM);
        expect(r.oomKills, why(r)).toBe(0);
        expect(r.code, why(r)).toBe(2);
        expect(existsSync(m)).toBe(true);
      }, 100_000);
    }
  });
});
