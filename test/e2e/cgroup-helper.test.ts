import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openCgroup, type CgroupHandle } from '../../src/cgroup';
import { cgroupSkipReason, createMemoryCgroup, runInMemoryCgroup, spawnInCgroup, type TestCgroup } from '../helpers/cgroup';
import { nodeMatrix } from '../helpers/node-matrix';

const MiB = 2 ** 20;
const DIST_CGROUP = join(__dirname, '..', '..', 'dist', 'cgroup.js');
const ENV = { PATH: '/usr/bin:/bin', LANG: 'C' };

const skip = cgroupSkipReason();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/**
 * `dist/` is rebuilt (rm, then tsc) by whoever runs `npm test` in this shared tree; wait out a
 * build in progress instead of failing on a window of a few seconds.
 */
async function waitForBuild(): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!existsSync(DIST_CGROUP)) {
    if (Date.now() > deadline) throw new Error(`${DIST_CGROUP} missing: run \`npm run build\` first`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Reads the cgroup from the test process, as the agent inside it would, by its hierarchy path. */
function watch(cg: TestCgroup): CgroupHandle {
  const h = openCgroup({ procSelfCgroup: `4:memory:${cg.path}\n0::/\n` });
  if (!h) throw new Error(`openCgroup did not find ${cg.dir}`);
  return h;
}

/** Samples the working set every 10 ms until the child exits; returns the highs. */
async function sampleUntilExit(child: ChildProcess, h: CgroupHandle): Promise<{ code: number | null; signal: NodeJS.Signals | null; maxUsage: number; maxWorkingSet: number }> {
  let maxUsage = 0;
  let maxWorkingSet = 0;
  const timer = setInterval(() => {
    const u = h.readUsage();
    maxUsage = Math.max(maxUsage, u.usage ?? 0);
    maxWorkingSet = Math.max(maxWorkingSet, u.workingSet ?? 0);
  }, 10);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearInterval(timer);
  return { code, signal, maxUsage, maxWorkingSet };
}

describe.skipIf(skip)(`real v1 memory cgroups${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('a child leaking Buffers past a 64 MiB limit is OOM-killed, the working set tracks the leak, and cleanup removes the cgroup', async () => {
    const leak = 'const keep = []; setInterval(() => { for (let i = 0; i < 4; i++) keep.push(Buffer.alloc(1 << 20, 1)); }, 5);';
    const { cgroup, child, cleanup } = runInMemoryCgroup(64 * MiB, process.execPath, ['-e', leak], { env: ENV, timeout: 30_000, stdio: 'ignore' });
    cleanups.push(cleanup);
    const h = watch(cgroup);
    cleanups.push(async () => h.close());
    expect(h.readLimit()).toEqual({ bytes: 64 * MiB, from: join(cgroup.dir, 'memory.limit_in_bytes') });

    const r = await sampleUntilExit(child, h);
    expect({ code: r.code, signal: r.signal }).toEqual({ code: null, signal: 'SIGKILL' });
    expect(cgroup.oomKills()).toBeGreaterThanOrEqual(1); // the kernel, not our timeout, killed it
    expect(cgroup.maxUsage()).toBeGreaterThanOrEqual(60 * MiB);
    // Anonymous memory is working set: it came within 20% of the limit before the kill.
    expect(r.maxWorkingSet).toBeGreaterThan(0.8 * 64 * MiB);

    await cleanup();
    expect(existsSync(cgroup.dir)).toBe(false);
  });

  it('through a shell that does not exec, the OOM kill shows as exit code 137', async () => {
    const cg = createMemoryCgroup(64 * MiB);
    cleanups.push(() => cg.cleanup());
    const leak = 'const k = []; for (;;) k.push(Buffer.alloc(1 << 20, 1));';
    const child = spawnInCgroup(cg, '/bin/sh', ['-c', `"${process.execPath}" -e '${leak}'; exit $?`], { env: ENV, timeout: 30_000, stdio: 'ignore' });
    const [code, signal] = await once(child, 'exit');
    expect({ code, signal }).toEqual({ code: 137, signal: null });
    expect(cg.oomKills()).toBeGreaterThanOrEqual(1);
  });

  it('page cache from writing 4x the limit to a file never counts as working set, though usage hits the limit', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'oomguard-cg-write-'));
    cleanups.push(async () => rmSync(tmp, { recursive: true, force: true }));
    // Plain writes without fsync: on kernel 6.18 these pages also land on the ACTIVE file list
    // (up to 165 of 256 MiB measured), which is why the working set excludes both file lists.
    const writer = `const fs = require('fs'); const fd = fs.openSync(${JSON.stringify(join(tmp, 'f'))}, 'w');
      const b = Buffer.alloc(1 << 20, 7); for (let i = 0; i < 512; i++) fs.writeSync(fd, b); fs.closeSync(fd);
      for (let p = 0; p < 2; p++) { const r = fs.openSync(${JSON.stringify(join(tmp, 'f'))}, 'r'); while (fs.readSync(r, b, 0, b.length, null) > 0); fs.closeSync(r); }`;
    const { cgroup, child, cleanup } = runInMemoryCgroup(128 * MiB, process.execPath, ['-e', writer], { env: ENV, timeout: 60_000, stdio: 'ignore' });
    cleanups.push(cleanup);
    const h = watch(cgroup);
    cleanups.push(async () => h.close());
    const r = await sampleUntilExit(child, h);
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
    expect(cgroup.oomKills()).toBe(0);
    expect(r.maxUsage).toBeGreaterThan(0.9 * 128 * MiB);
    expect(r.maxWorkingSet).toBeLessThan(0.5 * 128 * MiB);
  });

  it('a handle whose cgroup is removed returns empty readings instead of throwing', async () => {
    const cg = createMemoryCgroup(32 * MiB);
    cleanups.push(() => cg.cleanup());
    const h = watch(cg);
    expect(h.readUsage().usage).toBeTypeOf('number'); // opens and keeps the fds
    await cg.cleanup();
    expect(h.readUsage()).toEqual({});
    expect(h.readLimit()).toEqual({});
    h.close();
  });

  for (const node of nodeMatrix()) {
    it(`a Node ${node.major} child inside the cgroup finds it with openCgroup() and reads the limit that was written`, async () => {
      await waitForBuild();
      const cg = createMemoryCgroup(96 * MiB);
      cleanups.push(() => cg.cleanup());
      const script = `const { openCgroup } = require(${JSON.stringify(DIST_CGROUP)});
        const keep = Buffer.alloc(24 << 20, 1);
        const h = openCgroup();
        console.log(JSON.stringify({ version: h?.version, dir: h?.dir, limit: h?.readLimit(), usage: h?.readUsage(), kept: keep.length }));
        h?.close();`;
      const child = spawnInCgroup(cg, node.path, ['-e', script], { env: ENV, timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      const [code] = await once(child, 'exit');
      expect(err).toBe('');
      expect(code).toBe(0);
      const seen = JSON.parse(out) as { version: number; dir: string; limit: { bytes: number; from: string }; usage: { usage: number; workingSet: number } };
      expect(seen.version).toBe(1);
      expect(seen.dir).toBe(cg.dir);
      expect(seen.limit).toEqual({ bytes: 96 * MiB, from: join(cg.dir, 'memory.limit_in_bytes') });
      // The 24 MiB Buffer is charged and is working set; nothing near the limit besides.
      expect(seen.usage.workingSet).toBeGreaterThan(24 * MiB);
      expect(seen.usage.workingSet).toBeLessThanOrEqual(seen.usage.usage);
      expect(seen.usage.usage).toBeLessThan(96 * MiB);
    });
  }
});

