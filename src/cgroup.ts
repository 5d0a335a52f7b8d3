/**
 * cgroup v1 and v2 memory readers (Linux): where the process's own memory cgroup lives, its
 * lowest limit on the way up the tree, the charged usage and working set, and v2 pressure (PSI).
 *
 * Pure parsers plus thin readers. The readers take the cgroup root and the text of
 * `/proc/self/cgroup` (and optionally `/proc/self/mountinfo`) so tests point them at fixture
 * trees. Nothing here throws at run time: a file that is missing or unreadable becomes an
 * undefined field. See docs/cgroup.md for the experiments behind the choices.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where cgroup hierarchies are mounted on practically every Linux distribution and container. */
export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * At or above this a limit means "none". v1 writes "unlimited" as PAGE_COUNTER_MAX pages
 * rounded down to the page size: 9223372036854771712 with 4 KiB pages, 9223372036854710272 with
 * 64 KiB pages (https://github.com/torvalds/linux/blob/v6.6/mm/memcontrol.c, `PAGE_COUNTER_MAX`).
 * `process.constrainedMemory()` reports 2^64-1 for "none". No real machine has 4 EiB.
 */
export const UNLIMITED_FLOOR = 2 ** 62;

/** One line of `/proc/self/cgroup`: `hierarchy-id:controller-list:path`. */
export interface ProcCgroupEntry {
  id: number;
  /** Controllers bound to the hierarchy (`memory`, `cpu,cpuacct`); empty for the v2 line `0::`. */
  controllers: string[];
  /** Path of the process's cgroup inside that hierarchy, e.g. `/kubepods/pod1/abc` or `/`. */
  path: string;
}

/** A cgroup filesystem mount from `/proc/self/mountinfo`. */
export interface CgroupMount {
  /** Where it is mounted, e.g. `/sys/fs/cgroup/memory`. */
  mountPoint: string;
  /** The hierarchy path mounted there (`/` normally; `/docker/<id>` for a v1 container bind). */
  root: string;
  /** `cgroup` (v1) or `cgroup2`. */
  fstype: 'cgroup' | 'cgroup2';
  /** v1 super options: the controllers of the hierarchy (`memory`, `rw`, `name=systemd`, ...). */
  options: string[];
}

/** The process's memory cgroup. */
export interface CgroupLocation {
  version: 1 | 2;
  /** Directory of the process's own cgroup, e.g. `/sys/fs/cgroup/memory/kubepods/pod1/abc`. */
  dir: string;
  /** Directory of the hierarchy's visible top (its mount point); the limit walk stops there. */
  top: string;
}

/** Parsed v2 `memory.pressure` (PSI): percent of wall time stalled, and total stall in us. */
export interface Pressure {
  some10?: number;
  some60?: number;
  some300?: number;
  someTotal?: number;
  full10?: number;
  full60?: number;
  full300?: number;
  fullTotal?: number;
}

/** Where the readers look. Every field defaults to the real system. */
export interface CgroupOptions {
  /** Cgroup mount root. Default `/sys/fs/cgroup`. */
  root?: string;
  /** Text of `/proc/self/cgroup`. Default: read it. */
  procSelfCgroup?: string;
  /**
   * Text of `/proc/self/mountinfo`, used to map hierarchy paths to directories. Default: read it
   * when `root` is the default; with a custom `root` and no text, only directory probing is used.
   */
  mountinfo?: string;
}

/** The object the sampler holds for the life of the process. */
export interface CgroupHandle {
  readonly version: 1 | 2;
  /** The process's own memory cgroup directory. */
  readonly dir: string;
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
  /** v2 `memory.pressure`; undefined on v1 or when the file is missing. */
  readPressure(): Pressure | undefined;
  /** Closes the kept file descriptors. The handle reopens them if used again. */
  close(): void;
}

// ---------------------------------------------------------------------------------------------
// Pure parsers

/** Parses `/proc/self/cgroup`. Malformed lines are skipped. */
export function parseProcCgroup(text: string): ProcCgroupEntry[] {
  const out: ProcCgroupEntry[] = [];
  for (const line of text.split('\n')) {
    // The path may itself contain ':' so split only the first two.
    const a = line.indexOf(':');
    const b = a < 0 ? -1 : line.indexOf(':', a + 1);
    if (b < 0) continue;
    const id = Number(line.slice(0, a));
    const p = line.slice(b + 1).trim();
    if (!Number.isInteger(id) || !p.startsWith('/')) continue;
    const list = line.slice(a + 1, b);
    out.push({ id, controllers: list === '' ? [] : list.split(','), path: p });
  }
  return out;
}

/**
 * Parses the cgroup mounts out of `/proc/self/mountinfo`
 * (https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html): field 4 is the mount root,
 * field 5 the mount point, and after the `-` separator come fstype, source and super options.
 */
export function parseMountinfo(text: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (sep < 6) continue;
    const fstype = fields[sep + 1];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const root = unescapeMount(fields[3] ?? '');
    const mountPoint = unescapeMount(fields[4] ?? '');
    if (!root.startsWith('/') || !mountPoint.startsWith('/')) continue;
    out.push({ mountPoint, root, fstype, options: (fields[sep + 3] ?? '').split(',') });
  }
  return out;
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

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

/** v2 `memory.pressure`: `some avg10=0.12 avg60=0.05 avg300=0.00 total=1234` and a `full` line. */
export function parsePressure(text: string): Pressure | undefined {
  const out: Pressure = {};
  let any = false;
  for (const line of text.split('\n')) {
    const [kind, ...pairs] = line.trim().split(' ');
    if (kind !== 'some' && kind !== 'full') continue;
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      const v = Number(pair.slice(eq + 1));
      if (eq < 0 || !Number.isFinite(v)) continue;
      const name = pair.slice(0, eq);
      const field =
        name === 'avg10' ? '10' : name === 'avg60' ? '60' : name === 'avg300' ? '300' : name === 'total' ? 'Total' : undefined;
      if (field === undefined) continue;
      out[`${kind}${field}` as keyof Pressure] = v;
      any = true;
    }
  }
  return any ? out : undefined;
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
// Location

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function exists(file: string): boolean {
  try {
    fs.accessSync(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Candidate directories for a hierarchy path below a mount: the full path first, then with
 * leading components stripped. Inside a container (v1 without a cgroup namespace)
 * `/proc/self/cgroup` shows the host path `/docker/<id>` while the mount shows only the
 * container's subtree, so the tail that exists is the right one; the mount itself comes last.
 */
function candidates(mountDir: string, hierarchyPath: string): string[] {
  const parts = hierarchyPath.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  const out: string[] = [];
  for (let i = 0; i <= parts.length; i++) out.push(path.join(mountDir, ...parts.slice(i)));
  return out;
}

/** Maps a mount point seen in mountinfo to a directory under `root` (fixtures use a fake root). */
function mountDirUnder(root: string, mountPoint: string): string | undefined {
  if (root === DEFAULT_CGROUP_ROOT) return mountPoint;
  const rel = path.posix.relative(DEFAULT_CGROUP_ROOT, mountPoint);
  if (rel.startsWith('..') || path.posix.isAbsolute(rel)) return undefined;
  return path.join(root, rel);
}

/**
 * Finds the process's memory cgroup. v2 wins only when its directory really has the memory
 * controller's files (`memory.current`): on hybrid systems `/sys/fs/cgroup/unified` is a v2
 * mount without the memory controller (it still has `memory.pressure`), and the `0::/` line
 * exists anyway. Otherwise the v1 hierarchy that lists `memory` (alone or combined, e.g.
 * `memory,cpu`). Undefined when neither is found (not Linux, no cgroup mounted, no permission).
 */
export function locateMemoryCgroup(opts: CgroupOptions = {}): CgroupLocation | undefined {
  try {
    const root = opts.root ?? DEFAULT_CGROUP_ROOT;
    const procText = opts.procSelfCgroup ?? readText('/proc/self/cgroup');
    if (procText === undefined) return undefined;
    const entries = parseProcCgroup(procText);
    const mountText = opts.mountinfo ?? (root === DEFAULT_CGROUP_ROOT ? readText('/proc/self/mountinfo') : undefined);
    const mounts = mountText === undefined ? [] : parseMountinfo(mountText);

    const v2 = entries.find((e) => e.id === 0 && e.controllers.length === 0);
    if (v2) {
      const tops: { dir: string; root: string }[] = [];
      for (const m of mounts) {
        if (m.fstype !== 'cgroup2') continue;
        const d = mountDirUnder(root, m.mountPoint);
        if (d !== undefined) tops.push({ dir: d, root: m.root });
      }
      // Pure v2 mounts at the root; hybrid (systemd) at `unified`.
      tops.push({ dir: root, root: '/' }, { dir: path.join(root, 'unified'), root: '/' });
      const found = pick(tops, v2.path, 'memory.current');
      if (found) return { version: 2, ...found };
    }

    const v1 = entries.find((e) => e.controllers.includes('memory'));
    if (v1) {
      const tops: { dir: string; root: string }[] = [];
      for (const m of mounts) {
        if (m.fstype !== 'cgroup' || !m.options.includes('memory')) continue;
        const d = mountDirUnder(root, m.mountPoint);
        if (d !== undefined) tops.push({ dir: d, root: m.root });
      }
      // Without mountinfo: the usual names, `memory` and the combined one as /proc lists it.
      const combined = v1.controllers.join(',');
      tops.push({ dir: path.join(root, 'memory'), root: '/' });
      if (combined !== 'memory') tops.push({ dir: path.join(root, combined), root: '/' });
      const found = pick(tops, v1.path, 'memory.limit_in_bytes');
      if (found) return { version: 1, ...found };
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** First existing cgroup directory holding `marker`, trying each mount's candidates in order. */
function pick(
  tops: readonly { dir: string; root: string }[],
  hierarchyPath: string,
  marker: string,
): { dir: string; top: string } | undefined {
  for (const t of tops) {
    if (!exists(t.dir)) continue;
    // A mount of a subtree (`root` /docker/abc): strip it from the process's path first.
    let rel = hierarchyPath;
    if (t.root !== '/' && (rel === t.root || rel.startsWith(`${t.root}/`))) rel = rel.slice(t.root.length) || '/';
    for (const c of candidates(t.dir, rel)) {
      if (exists(path.join(c, marker))) return { dir: c, top: t.dir };
    }
  }
  return undefined;
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
    const top = path.resolve(loc.top);
    let dir = path.resolve(loc.dir);
    // Bounded: a path has few components; the guard also stops at the filesystem root.
    for (let i = 0; i < 64; i++) {
      const f = path.join(dir, file);
      consider(parseLimit(readText(f)), f);
      if (dir === top || !dir.startsWith(`${top}/`)) break;
      dir = path.dirname(dir);
    }
    if (loc.version === 1) {
      const f = path.join(loc.dir, 'memory.stat');
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
      if (this.#fd === undefined) this.#fd = fs.openSync(this.file, 'r');
      let n = fs.readSync(this.#fd, this.#buf, 0, this.#buf.length, 0);
      // v2 memory.stat grows with the kernel; a full buffer may mean truncation, so grow and retry.
      while (n === this.#buf.length && this.#buf.length < 1 << 20) {
        this.#buf = Buffer.allocUnsafe(this.#buf.length * 4);
        n = fs.readSync(this.#fd, this.#buf, 0, this.#buf.length, 0);
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
      fs.closeSync(this.#fd);
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
  const usageFile = new KeptFile(path.join(loc.dir, v === 2 ? 'memory.current' : 'memory.usage_in_bytes'));
  const statFile = new KeptFile(path.join(loc.dir, 'memory.stat'));
  const pressureFile = v === 2 ? new KeptFile(path.join(loc.dir, 'memory.pressure')) : undefined;
  const keys = FILE_KEYS[v];
  return {
    version: v,
    dir: loc.dir,
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
    readPressure() {
      const text = pressureFile?.read();
      return text === undefined ? undefined : parsePressure(text);
    },
    close() {
      usageFile.close();
      statFile.close();
      pressureFile?.close();
    },
  };
}
