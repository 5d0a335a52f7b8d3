import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  badness,
  cgroupPids,
  ContainerOwnership,
  OWNERSHIP_CONFIRM_MS,
  isOwner,
  limitScope,
  OWNERSHIP_MIN_GAP_MS,
  OWNERSHIP_REFRESH_MS,
  pageSizeFrom,
  parseCandidate,
  type Candidate,
  type ProcSource,
} from '../../src/process-tree';
import { tempDir } from '../helpers/child';

const MiB = 1024 * 1024;
const pages = (mib: number) => (mib * MiB) / 4096;
const c = (pid: number, mib: number, adj = 0): Candidate => ({ pid, resident: pages(mib), adj });
const LIMIT = pages(512);
const none = () => false;

describe("the kernel's choice of process (oom_badness)", () => {
  it('resident pages plus oom_score_adj thousandths of the limit; -1000 is never chosen', () => {
    expect(badness(c(1, 100), LIMIT)).toBe(pages(100));
    expect(badness(c(1, 100, 500), LIMIT)).toBe(pages(100) + LIMIT / 2);
    expect(badness(c(1, 100, -1000), LIMIT)).toBe(-Infinity);
  });

  it('the largest process owns the memory; a smaller one does not', () => {
    const worker = c(20, 300);
    const primary = c(10, 46);
    expect(isOwner(worker, [primary, c(21, 60)], LIMIT, none)).toBe(true);
    expect(isOwner(primary, [worker, c(21, 60)], LIMIT, none)).toBe(false);
  });

  it('oom_score_adj moves the choice as it moves the kernel: -1000 hands it to the next', () => {
    expect(isOwner(c(10, 100), [c(20, 300, -1000)], LIMIT, none)).toBe(true);
    expect(isOwner(c(10, 100, 900), [c(20, 300)], LIMIT, none)).toBe(true);
  });

  it('on a tie the lower pid owns, so two processes reading the same numbers agree', () => {
    expect(isOwner(c(10, 100), [c(20, 100)], LIMIT, none)).toBe(true);
    expect(isOwner(c(20, 100), [c(10, 100)], LIMIT, none)).toBe(false);
  });

  it('launchers bigger than this process are passed over; only they are asked about', () => {
    const asked: number[] = [];
    const npm = (pid: number) => (asked.push(pid), pid === 30);
    expect(isOwner(c(10, 50), [c(30, 68), c(5, 40), c(6, 12)], LIMIT, npm)).toBe(true);
    expect(asked).toEqual([30]);
  });

  it('reads statm (resident pages, second field) and oom_score_adj; garbage is no candidate', () => {
    expect(parseCandidate(7, '429915 17525 13000 11423 0 153977 0\n', '0\n')).toEqual({ pid: 7, resident: 17525, adj: 0 });
    expect(parseCandidate(7, '1 2 3', '-998\n')).toEqual({ pid: 7, resident: 2, adj: -998 });
    expect(parseCandidate(7, undefined, '0')).toBeUndefined();
    expect(parseCandidate(7, '1 x', '0')).toBeUndefined();
  });

  it('the page size comes from the resident set in bytes and in pages', () => {
    expect(pageSizeFrom(41 * MiB + 1234, (41 * MiB) / 4096)).toBe(4096);
    expect(pageSizeFrom(640 * MiB, (640 * MiB) / 65536)).toBe(65536);
    expect(pageSizeFrom(undefined, 10)).toBe(4096);
  });
});

describe('which cgroup the choice is made in', () => {
  it('the directory of the limit file; the visible top for a limit only hierarchical_memory_limit sees', () => {
    expect(limitScope('/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes', '/sys/fs/cgroup/memory')).toBe('/sys/fs/cgroup/memory/docker/abc');
    expect(limitScope('/sys/fs/cgroup/kubepods/pod1/memory.max', '/sys/fs/cgroup')).toBe('/sys/fs/cgroup/kubepods/pod1');
    expect(limitScope('/sys/fs/cgroup/memory/x/memory.stat:hierarchical_memory_limit', '/sys/fs/cgroup/memory')).toBe('/sys/fs/cgroup/memory');
    expect(limitScope('process.constrainedMemory()', '/sys/fs/cgroup')).toBeUndefined();
    expect(limitScope(undefined, '/sys/fs/cgroup')).toBeUndefined();
  });

  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('lists the processes of the cgroup and of its sub-cgroups; undefined when nothing can be read', () => {
    const root = join(tmp.dir, 'limit');
    mkdirSync(join(root, 'app', 'sidecar'), { recursive: true });
    writeFileSync(join(root, 'cgroup.procs'), '10\n11\n');
    writeFileSync(join(root, 'app', 'cgroup.procs'), '20\n');
    writeFileSync(join(root, 'app', 'sidecar', 'cgroup.procs'), '');
    expect(cgroupPids(root)?.sort()).toEqual([10, 11, 20]);
    expect(cgroupPids(join(tmp.dir, 'missing'))).toBeUndefined();
  });
});

/** A /proc of fixed processes; counts how often the cgroup is listed. */
function proc(procs: Candidate[], cmdlines: Record<number, string> = {}): ProcSource & { looks: number } {
  const src = {
    looks: 0,
    pids: () => (src.looks++, procs.map((p) => p.pid)),
    candidate: (pid: number) => procs.find((p) => p.pid === pid),
    cmdline: (pid: number) => cmdlines[pid],
  };
  return src;
}

function ownership(source: ProcSource, opts: { pid?: number; launcher?: boolean; known?: number[] } = {}) {
  return new ContainerOwnership({
    pid: opts.pid ?? 10,
    source,
    launcher: () => opts.launcher ?? false,
    knownLaunchers: () => opts.known ?? [],
    rss: () => 46 * MiB,
  });
}

describe('ContainerOwnership', () => {
  it('an idle cluster primary next to the 300 MiB worker does not own the memory; the worker does', () => {
    const procs = [c(10, 46), c(20, 300), c(21, 60)];
    expect(ownership(proc(procs), { pid: 10 }).owns(0, 400 * MiB, 512 * MiB)).toBe(false);
    expect(ownership(proc(procs), { pid: 20, known: [10] }).owns(0, 400 * MiB, 512 * MiB)).toBe(true);
  });

  it('passes over npm, bigger than a small app, and a cluster worker\'s primary', () => {
    const procs = [c(10, 68), c(20, 40)];
    expect(ownership(proc(procs, { 10: 'npm start\0' }), { pid: 20 }).owns(0, 400 * MiB, 512 * MiB)).toBe(true);
    expect(ownership(proc(procs), { pid: 20, known: [10] }).owns(0, 400 * MiB, 512 * MiB)).toBe(true);
    expect(ownership(proc(procs), { pid: 20 }).owns(0, 400 * MiB, 512 * MiB)).toBe(false);
  });

  it('a launcher never owns it, and does not even look', () => {
    const src = proc([c(10, 300)]);
    expect(ownership(src, { pid: 10, launcher: true }).owns(0, 400 * MiB, 512 * MiB)).toBe(false);
    expect(src.looks).toBe(0);
  });

  it('looks at most once a second while the working set holds still, sooner when it moves by 5% of the limit', () => {
    const src = proc([c(10, 46), c(20, 300)]);
    const o = ownership(src);
    o.owns(0, 400 * MiB, 512 * MiB);
    o.owns(500, 401 * MiB, 512 * MiB);
    expect(src.looks).toBe(1);
    o.owns(OWNERSHIP_REFRESH_MS, 401 * MiB, 512 * MiB);
    expect(src.looks).toBe(2);
    o.owns(OWNERSHIP_REFRESH_MS + OWNERSHIP_MIN_GAP_MS, 430 * MiB, 512 * MiB);
    expect(src.looks).toBe(3);
    o.owns(OWNERSHIP_REFRESH_MS + OWNERSHIP_MIN_GAP_MS + 10, 470 * MiB, 512 * MiB);
    expect(src.looks).toBe(3);
  });

  it('a process that becomes the largest (the leaker has just exited, its pages still charged) acts only once a second look confirms it', () => {
    const procs = [c(10, 46), c(20, 300)];
    const src = proc(procs);
    const o = ownership(src, { pid: 10 });
    expect(o.owns(0, 400 * MiB, 512 * MiB)).toBe(false);
    procs.splice(1, 1); // pid 20 exits; the working set has not dropped yet
    expect(o.owns(OWNERSHIP_REFRESH_MS, 400 * MiB, 512 * MiB)).toBe(false);
    expect(o.owns(OWNERSHIP_REFRESH_MS + OWNERSHIP_CONFIRM_MS - 1, 400 * MiB, 512 * MiB)).toBe(false);
    expect(o.owns(OWNERSHIP_REFRESH_MS + OWNERSHIP_CONFIRM_MS, 60 * MiB, 512 * MiB)).toBe(true);
    expect(src.looks).toBe(3);
  });

  it('when the processes cannot be read it acts, as a process alone in its container must', () => {
    const unreadable: ProcSource = { pids: () => undefined, candidate: () => undefined, cmdline: () => undefined };
    expect(ownership(unreadable).owns(0, 400 * MiB, 512 * MiB)).toBe(true);
    const throwing: ProcSource = {
      pids: () => {
        throw new Error('EACCES');
      },
      candidate: () => undefined,
      cmdline: () => undefined,
    };
    expect(ownership(throwing).owns(0, 400 * MiB, 512 * MiB)).toBe(true);
  });
});
