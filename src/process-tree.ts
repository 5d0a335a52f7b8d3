/**
 * Which process acts on the container's memory. Every guarded process of a cgroup reads the same
 * working set, so if each acted on it they would all shut down at once for the memory one of
 * them holds (measured: a cluster primary, its idle worker and the leaking worker all exited 2).
 *
 * The kernel settles a memory-cgroup OOM by killing one process: the one with the highest
 * "badness", its resident pages plus `oom_score_adj` thousandths of the limit, skipping those
 * at -1000 (`oom_badness()` in mm/oom_kill.c; it also counts swap entries and page tables,
 * left out here: containers rarely swap, and page tables are a small share). That process is the
 * one the guard must beat to it, so exactly that process acts on the container's working set;
 * every other keeps its own RSS line and its heap line. Two refinements on the kernel's choice:
 * launchers (launcher.ts) are passed over, since stopping npm or a cluster primary frees nothing
 * the app holds, and the choice is among the processes of the cgroup that has the limit,
 * its sub-cgroups included, as the kernel's is.
 *
 * Cost: `cgroup.procs` of that cgroup and two small `/proc/<pid>` files per process
 * (`statm`, `oom_score_adj`), plus the command line of any process bigger than this one. Read
 * only while the working set is above the process's own RSS (below it the working set changes
 * nothing), at most once a second, and sooner only while memory moves fast.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isLauncherCmdline } from './launcher';

/** One process as the kernel's OOM killer weighs it. */
export interface Candidate {
  pid: number;
  /** Resident pages (`/proc/<pid>/statm`, second field). */
  resident: number;
  /** `/proc/<pid>/oom_score_adj`, -1000..1000. */
  adj: number;
}

/** `OOM_SCORE_ADJ_MIN` (include/uapi/linux/oom.h): the kernel never picks such a process. */
export const OOM_SCORE_ADJ_MIN = -1000;

/** The kernel's badness in pages: resident pages plus `adj` thousandths of the limit; -Infinity when unkillable. */
export function badness(c: Candidate, limitPages: number): number {
  if (c.adj <= OOM_SCORE_ADJ_MIN) return -Infinity;
  return c.resident + Math.trunc((c.adj * limitPages) / 1000);
}

/**
 * Whether `self` is the process the kernel would kill, among `others`, launchers passed over:
 * no other process weighs more (on a tie the lower pid wins, so two readers agree).
 * `isLauncher` is asked only about processes that weigh more than `self`.
 */
export function isOwner(self: Candidate, others: readonly Candidate[], limitPages: number, isLauncher: (pid: number) => boolean): boolean {
  const mine = badness(self, limitPages);
  for (const other of others) {
    if (other.pid === self.pid) continue;
    const theirs = badness(other, limitPages);
    if (theirs < mine || (theirs === mine && other.pid > self.pid)) continue;
    if (!isLauncher(other.pid)) return false;
  }
  return true;
}

/** `statm` and `oom_score_adj` to a candidate, or undefined when either does not parse. */
export function parseCandidate(pid: number, statm: string | undefined, adj: string | undefined): Candidate | undefined {
  const resident = Number(statm?.split(' ')[1]);
  const score = adj === undefined ? 0 : Number(adj.trim());
  if (!Number.isFinite(resident) || !Number.isInteger(score)) return undefined;
  return { pid, resident, adj: score };
}

/**
 * The cgroup whose processes the kernel chooses among when the limit is hit: the directory of the
 * limit file the limit came from (`MemoryLimit.from`), or, for v1's `hierarchical_memory_limit`
 * (a limit on an ancestor the container cannot see), the top of the visible tree.
 */
export function limitScope(from: string | undefined, top: string | undefined): string | undefined {
  if (from === undefined) return undefined;
  if (/\/memory\.(limit_in_bytes|max)$/.test(from)) return dirname(from);
  return from.endsWith(':hierarchical_memory_limit') ? top : undefined;
}

/** Sub-cgroups visited at most when listing processes (a container has one or a few). */
const MAX_CGROUP_DIRS = 64;
/** Processes weighed at most; a cgroup with more (a host slice) is read at a slower pace. */
const MAX_PIDS = 512;

/** Every pid in the cgroup at `dir` and its sub-cgroups (bounded), or undefined when unreadable. */
export function cgroupPids(dir: string): number[] | undefined {
  const pids: number[] = [];
  const queue = [dir];
  let visited = 0;
  let readAny = false;
  while (queue.length > 0 && visited < MAX_CGROUP_DIRS && pids.length < MAX_PIDS) {
    const d = queue.shift()!;
    visited++;
    const text = readSmall(join(d, 'cgroup.procs'));
    if (text === undefined) continue;
    readAny = true;
    for (const line of text.split('\n')) {
      const pid = Number(line);
      if (line !== '' && Number.isInteger(pid) && pid > 0) pids.push(pid);
    }
    try {
      for (const entry of readdirSync(d, { withFileTypes: true })) if (entry.isDirectory()) queue.push(join(d, entry.name));
    } catch {
      // A cgroup removed while we walk: what was read stands.
    }
  }
  return readAny ? pids.slice(0, MAX_PIDS) : undefined;
}

/** Where a process's files are; tests point it at fixtures. */
export interface ProcSource {
  /** The pids of the cgroup that holds the limit, or undefined when unknown. */
  pids(): number[] | undefined;
  candidate(pid: number): Candidate | undefined;
  cmdline(pid: number): string | undefined;
}

/** The real `/proc`, and the cgroup directory `scope()` names (the one that has the limit). */
export function procSource(scope: () => string | undefined): ProcSource {
  return {
    pids: () => {
      const dir = scope();
      return dir === undefined ? undefined : cgroupPids(dir);
    },
    candidate: (pid) => parseCandidate(pid, readSmall(`/proc/${pid}/statm`), readSmall(`/proc/${pid}/oom_score_adj`)),
    cmdline: (pid) => readSmall(`/proc/${pid}/cmdline`),
  };
}

export interface OwnershipOptions {
  pid: number;
  source: ProcSource;
  /** True while this process is a launcher: it then never owns the container's memory. */
  launcher: () => boolean;
  /** Processes known to be launchers without reading them (a cluster worker's primary). */
  knownLaunchers: () => readonly number[];
  /** This process's resident set in bytes: with its resident pages it gives the page size. */
  rss: () => number | undefined;
}

/** At most one look per second; sooner only while the working set moves by this share of the limit. */
export const OWNERSHIP_REFRESH_MS = 1000;
export const OWNERSHIP_MOVE_SHARE = 0.05;
export const OWNERSHIP_MIN_GAP_MS = 100;
/**
 * A process that did not own the memory and now looks like it does looks once more, this long
 * later, before it acts on it: when the largest process has just exited, the cgroup still charges
 * its pages for a moment, and the next largest would take the whole working set for its own.
 */
export const OWNERSHIP_CONFIRM_MS = 250;

/**
 * The verdict "this process acts on the container's memory", kept between looks. Never throws;
 * when the processes cannot be read, the answer is yes: the guard then acts as a lone process
 * would, rather than leave the container to the OOM killer.
 */
export class ContainerOwnership {
  readonly #opts: OwnershipOptions;
  #verdict = true;
  /** The last look found this process the owner where it was not: the next look confirms it. */
  #gained = false;
  #at = -Infinity;
  #workingSet = 0;
  #pace = OWNERSHIP_REFRESH_MS;
  #pageSize: number | undefined;

  constructor(options: OwnershipOptions) {
    this.#opts = options;
  }

  /** Whether this process acts on a working set of `workingSet` bytes against a limit of `limit`. */
  owns(now: number, workingSet: number, limit: number | undefined): boolean {
    if (this.#opts.launcher()) return false;
    const moved = Math.abs(workingSet - this.#workingSet) >= (limit ?? workingSet) * OWNERSHIP_MOVE_SHARE;
    const age = now - this.#at;
    if (age >= this.#pace || (moved && age >= OWNERSHIP_MIN_GAP_MS) || (this.#gained && age >= OWNERSHIP_CONFIRM_MS)) {
      this.#at = now;
      this.#workingSet = workingSet;
      const owner = this.#look(limit);
      if (owner && !this.#verdict && !this.#gained) {
        // Newly the largest: confirmed by the next look (OWNERSHIP_CONFIRM_MS), not acted on yet.
        this.#gained = true;
      } else {
        this.#gained = false;
        this.#verdict = owner;
      }
    }
    return this.#verdict;
  }

  #look(limit: number | undefined): boolean {
    try {
      const { pid, source, knownLaunchers } = this.#opts;
      const pids = source.pids();
      const self = source.candidate(pid);
      if (!pids || !self) return true;
      this.#pace = OWNERSHIP_REFRESH_MS * Math.max(1, Math.ceil(pids.length / 64));
      const others: Candidate[] = [];
      for (const p of pids) {
        const c = p === pid ? undefined : source.candidate(p);
        if (c) others.push(c);
      }
      const known = new Set(knownLaunchers());
      // The kernel weighs oom_score_adj against the limit in pages.
      this.#pageSize ??= pageSizeFrom(this.#opts.rss(), self.resident);
      const limitPages = limit === undefined ? 0 : Math.floor(limit / this.#pageSize);
      return isOwner(self, others, limitPages, (p) => known.has(p) || isLauncherCmdline(source.cmdline(p) ?? ''));
    } catch {
      return true;
    }
  }
}

/**
 * Bytes per page, from this process's resident set in bytes and in pages, rounded to a power of
 * two (4 KiB on x86-64, 4-64 KiB on arm64); 4096 when the two do not give a sensible answer.
 */
export function pageSizeFrom(rssBytes: number | undefined, residentPages: number | undefined): number {
  if (!rssBytes || !residentPages) return 4096;
  const size = 2 ** Math.round(Math.log2(rssBytes / residentPages));
  return size >= 4096 && size <= 1 << 20 ? size : 4096;
}

/** A small `/proc` or cgroup file, or undefined when it cannot be read (the process is gone). */
function readSmall(file: string): string | undefined {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
}
