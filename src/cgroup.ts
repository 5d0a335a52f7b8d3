/**
 * The process's memory cgroup, read (Linux, v1 or v2): its lowest limit on the way up the tree,
 * the charged usage and the working set (usage minus the page cache the kernel reclaims before
 * an OOM kill). Finding the cgroup is cgroup-locate.ts's job.
 *
 * Pure parsers plus thin readers; nothing here throws at run time: a file that is missing or
 * unreadable becomes an undefined field. See docs/cgroup.md for the experiments behind the
 * choices.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { locateMemoryCgroup, readText, type CgroupLocation, type CgroupOptions } from './cgroup-locate';

export type { CgroupOptions } from './cgroup-locate';

/**
 * At or above this a limit means "none". v1 writes "unlimited" as PAGE_COUNTER_MAX pages
 * rounded down to the page size: 9223372036854771712 with 4 KiB pages, 9223372036854710272 with
 * 64 KiB pages (https://github.com/torvalds/linux/blob/v6.6/mm/memcontrol.c, `PAGE_COUNTER_MAX`).
 * `process.constrainedMemory()` reports 2^64-1 for "none". No real machine has 4 EiB.
 */
export const UNLIMITED_FLOOR = 2 ** 62;

/** The object the sampler holds for the life of the process. */
export interface CgroupHandle {
  readonly version: 1 | 2;
  /** The process's own memory cgroup directory. */
  readonly dir: string;
  /** The top of the tree this process can see (the mount point), where the limit walk stops. */
  readonly top: string;
  /**
   * The lowest memory limit from `dir` up to the visible top, and the file it came from; for v1
   * also the kernel's `hierarchical_memory_limit`, which sees ancestors a container cannot.
   * `{}` when there is none. Costs a few file reads: call it at a slow cadence (~30 s).
   */
  readLimit(): { bytes?: number; from?: string };
  /**
   * Charged memory and working set (charged minus the file LRU lists, i.e. page cache the kernel
   * can reclaim before it OOM-kills). Per tick; keeps the two files open between calls.
   */
  readUsage(): { usage?: number; workingSet?: number };
  /** Closes the kept file descriptors. The handle reopens them if used again. */
  close(): void;
}

// ---------------------------------------------------------------------------------------------
// Pure parsers

/**
 * A limit file's content (`memory.max`, `memory.limit_in_bytes`, `hierarchical_memory_limit`)
 * to bytes, or undefined for "none": `max`, the v1 sentinel, anything >= 2^62, 0, garbage.
 */
export function parseLimit(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (!/^\d+$/.test(t)) return undefined; // `max`, empty, `-1`
  return normalizeLimit(Number(t));
}

/**
 * A limit in bytes, or undefined when it means "none": 0 (unknown), negative, not finite, or
 * at/above `UNLIMITED_FLOOR` (v1's page-rounded 2^63, and the 2^64-1 that libuv, hence
 * `process.constrainedMemory()`, reports for no limit).
 */
export function normalizeLimit(bytes: number | undefined): number | undefined {
  if (bytes === undefined || !Number.isFinite(bytes) || bytes <= 0 || bytes >= UNLIMITED_FLOOR) return undefined;
  return bytes;
}

/** A single-number file (`memory.current`, `memory.usage_in_bytes`) to a number. */
export function parseNumber(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (!/^\d+$/.test(t)) return undefined;
  return Number(t);
}

/**
 * `memory.stat` (`key value` lines) to the values of `keys`, or of every key when `keys` is
 * omitted. Scans without splitting the whole text: ~3.7 us for v1's 40 lines against ~12 us for
 * split-everything (measured here, Node 20).
 */
export function parseStat(text: string, keys?: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  let s = 0;
  const n = text.length;
  while (s < n) {
    let e = text.indexOf('\n', s);
    if (e < 0) e = n;
    const sp = text.indexOf(' ', s);
    if (sp > s && sp < e) {
      const k = text.slice(s, sp);
      if (keys === undefined || keys.includes(k)) {
        const v = Number(text.slice(sp + 1, e));
        if (Number.isFinite(v)) out[k] = v;
      }
    }
    s = e + 1;
  }
  return out;
}

/** `memory.stat` keys of the file LRU lists: v1 hierarchical totals, v2 (already hierarchical). */
const FILE_KEYS: Record<1 | 2, readonly [string, string]> = {
  1: ['total_inactive_file', 'total_active_file'],
  2: ['inactive_file', 'active_file'],
};

/**
 * Working set: charged memory minus the page cache on the file LRU lists (active and inactive),
 * floored at 0; undefined when either list is missing.
 *
 * Not Kubernetes' `usage - inactive_file`: measured on this kernel (6.18, v1, 256 MiB limit),
 * a process that only writes 1.5 GiB to a file drives `active_file` up to 165 MiB, so
 * `usage - inactive_file` reads 180 MiB (70% of the limit) for memory the kernel reclaims
 * without an OOM kill; re-reading a file pushed it to 123 MiB. `usage - (inactive + active)`
 * stayed at 16 MiB in every page-cache run and followed an anonymous Buffer leak byte for byte
 * to the OOM kill. shmem/tmpfs pages sit on the anon lists, so they stay counted, as they must
 * (they cannot be dropped without swap). Details: docs/cgroup.md.
 */
export function workingSet(version: 1 | 2, usage: number | undefined, stat: Record<string, number>): number | undefined {
  if (usage === undefined) return undefined;
  const [inactiveKey, activeKey] = FILE_KEYS[version];
  const inactive = stat[inactiveKey];
  const active = stat[activeKey];
  if (inactive === undefined || active === undefined) return undefined;
  return Math.max(0, usage - inactive - active);
}

// ---------------------------------------------------------------------------------------------
// Readers

/**
 * Lowest limit from `loc.dir` up to `loc.top`. v2: `memory.max` (the OOM line; `memory.high`
 * only throttles). v1: `memory.limit_in_bytes`, and the kernel's own `hierarchical_memory_limit`
 * from `memory.stat`, which also covers ancestors outside the container's view.
 * Measured here: `process.constrainedMemory()` on Node 20 and 24 does NOT see a parent's lower
 * limit (a 64 MiB parent, unlimited child: it reports 2^64-1); `hierarchical_memory_limit` does.
 */
export function readLimitAt(loc: CgroupLocation): { bytes?: number; from?: string } {
  const file = loc.version === 2 ? 'memory.max' : 'memory.limit_in_bytes';
  let best: { bytes?: number; from?: string } = {};
  const consider = (bytes: number | undefined, from: string): void => {
    if (bytes !== undefined && (best.bytes === undefined || bytes < best.bytes)) best = { bytes, from };
  };
  try {
    const top = resolve(loc.top);
    let dir = resolve(loc.dir);
    // Bounded: a path has few components; the guard also stops at the filesystem root.
    for (let i = 0; i < 64; i++) {
      const f = join(dir, file);
      consider(parseLimit(readText(f)), f);
      if (dir === top || !dir.startsWith(`${top}/`)) break;
      dir = dirname(dir);
    }
    if (loc.version === 1) {
      const f = join(loc.dir, 'memory.stat');
      const text = readText(f);
      if (text !== undefined) {
        const v = parseStat(text, ['hierarchical_memory_limit']).hierarchical_memory_limit;
        consider(normalizeLimit(v), `${f}:hierarchical_memory_limit`);
      }
    }
  } catch {
    // Never throws: what was found so far stands.
  }
  return best;
}

/**
 * A file kept open and re-read at offset 0 each time. Measured here (Node 20, v1):
 * `readFileSync` of `memory.usage_in_bytes` 16.5 us against 2.4 us for `readSync` on a kept fd;
 * `memory.stat` 24 us against 10 us (most of that is the kernel formatting the file).
 */
class KeptFile {
  #fd: number | undefined;
  #buf = Buffer.allocUnsafe(4096);
  constructor(readonly file: string) {}

  read(): string | undefined {
    try {
      if (this.#fd === undefined) this.#fd = openSync(this.file, 'r');
      let n = readSync(this.#fd, this.#buf, 0, this.#buf.length, 0);
      // v2 memory.stat grows with the kernel; a full buffer may mean truncation, so grow and retry.
      while (n === this.#buf.length && this.#buf.length < 1 << 20) {
        this.#buf = Buffer.allocUnsafe(this.#buf.length * 4);
        n = readSync(this.#fd, this.#buf, 0, this.#buf.length, 0);
      }
      return this.#buf.toString('latin1', 0, n);
    } catch {
      // The cgroup may have gone (process moved, container torn down): reopen next time.
      this.close();
      return undefined;
    }
  }

  close(): void {
    if (this.#fd === undefined) return;
    try {
      closeSync(this.#fd);
    } catch {
      // Already closed or invalid: nothing to release.
    }
    this.#fd = undefined;
  }
}

/**
 * Opens the process's memory cgroup for reading, or undefined when there is none. Never throws.
 * Opening reads only `/proc/self/cgroup`, mountinfo and a few `stat`s; the usage files are
 * opened on the first `readUsage()`.
 */
export function openCgroup(opts: CgroupOptions = {}): CgroupHandle | undefined {
  const loc = locateMemoryCgroup(opts);
  if (!loc) return undefined;
  const v = loc.version;
  const usageFile = new KeptFile(join(loc.dir, v === 2 ? 'memory.current' : 'memory.usage_in_bytes'));
  const statFile = new KeptFile(join(loc.dir, 'memory.stat'));
  const keys = FILE_KEYS[v];
  return {
    version: v,
    dir: loc.dir,
    top: loc.top,
    readLimit: () => readLimitAt(loc),
    readUsage() {
      const out: { usage?: number; workingSet?: number } = {};
      const usage = parseNumber(usageFile.read());
      if (usage === undefined) return out;
      out.usage = usage;
      const stat = statFile.read();
      const ws = stat === undefined ? undefined : workingSet(v, usage, parseStat(stat, keys));
      if (ws !== undefined) out.workingSet = ws;
      return out;
    },
    close() {
      usageFile.close();
      statFile.close();
    },
  };
}
