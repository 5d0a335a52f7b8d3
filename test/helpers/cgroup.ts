/**
 * Real cgroup v1 memory cgroups for e2e tests: create one with a limit, run a command inside it
 * from its first instruction, and remove everything afterwards.
 *
 * Only v1 here: this machine mounts the memory controller at /sys/fs/cgroup/memory (its v2
 * hierarchy at /sys/fs/cgroup/unified has no memory controller). The kernel OOM-kills at the
 * limit: a child killed that way exits with signal SIGKILL (code null), or 137 through a shell.
 *
 * Usage in a test file:
 * ```ts
 * const skip = cgroupSkipReason();   // undefined under CI: the tests run and fail loudly
 * describe.skipIf(skip)(`... ${skip ? `(skipped: ${skip})` : ''}`, () => { ... });
 * ```
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the v1 memory controller is mounted here. */
export const V1_MEMORY_ROOT = '/sys/fs/cgroup/memory';

/** Name prefix of every cgroup this helper creates (find leftovers with `ls -d .../oomguard-test-*`). */
export const TEST_CGROUP_PREFIX = 'oomguard-test-';

export interface CgroupAvailability {
  ok: boolean;
  /** Why not, when `ok` is false. */
  why?: string;
  /** Swap is on (`/proc/swaps`); then the helper relies on memsw and swappiness 0. */
  swap?: boolean;
  /** `memory.memsw.limit_in_bytes` exists, so swap cannot hide the limit. */
  memsw?: boolean;
}

let availability: CgroupAvailability | undefined;

/**
 * Whether this process can create v1 memory cgroups: Linux, the controller mounted, and a probe
 * cgroup can really be created, limited and removed (root or delegated). Cached.
 */
export function cgroupAvailable(): CgroupAvailability {
  if (availability) return availability;
  availability = probe();
  return availability;
}

function probe(): CgroupAvailability {
  if (process.platform !== 'linux') return { ok: false, why: `cgroups need Linux, this is ${process.platform}` };
  if (!existsSync(join(V1_MEMORY_ROOT, 'memory.limit_in_bytes'))) {
    return { ok: false, why: `no cgroup v1 memory controller at ${V1_MEMORY_ROOT}` };
  }
  try {
    accessSync(V1_MEMORY_ROOT, constants.W_OK);
  } catch {
    return { ok: false, why: `${V1_MEMORY_ROOT} is not writable (needs root or a delegated cgroup)` };
  }
  const dir = join(V1_MEMORY_ROOT, `${TEST_CGROUP_PREFIX}probe-${process.pid}-${randomBytes(3).toString('hex')}`);
  try {
    mkdirSync(dir);
    writeFileSync(join(dir, 'memory.limit_in_bytes'), String(64 * 2 ** 20));
  } catch (err) {
    return { ok: false, why: `cannot create a memory cgroup: ${(err as Error).message}` };
  } finally {
    try {
      rmdirSync(dir);
    } catch {
      // Not created, nothing to remove.
    }
  }
  const swap = swapOn();
  const memsw = existsSync(join(V1_MEMORY_ROOT, 'memory.memsw.limit_in_bytes'));
  return { ok: true, swap, memsw };
}

/** True when `/proc/swaps` lists any swap device (the first line is a header). */
function swapOn(): boolean {
  try {
    return readFileSync('/proc/swaps', 'utf8').trim().split('\n').length > 1;
  } catch {
    return false;
  }
}

/**
 * Undefined when cgroup tests should run; otherwise the reason to skip. Under `CI` it is always
 * undefined, so a machine that cannot make cgroups fails the tests instead of hiding them.
 */
export function cgroupSkipReason(): string | undefined {
  const a = cgroupAvailable();
  if (a.ok || process.env.CI) return undefined;
  // Visible in the run output, not only in the skipped test's title.
  console.warn(`[cgroup tests skipped] ${a.why}`);
  return a.why;
}

/** A created cgroup. */
export interface TestCgroup {
  /** Its directory, e.g. `/sys/fs/cgroup/memory/oomguard-test-123-ab12cd`. */
  dir: string;
  /** Its path inside the hierarchy, e.g. `/oomguard-test-123-ab12cd` (what `/proc/<pid>/cgroup` shows). */
  path: string;
  /** The limit written, in bytes. */
  limit: number;
  /** Pids currently in it. */
  pids(): number[];
  /** `oom_kill` from `memory.oom_control`: how many processes the kernel OOM-killed in it. */
  oomKills(): number;
  /** `memory.max_usage_in_bytes`: the high-water mark of charged memory. */
  maxUsage(): number;
  /** SIGKILLs whatever is left inside, waits until it is empty, and removes it. Idempotent. */
  cleanup(): Promise<void>;
}

const live = new Set<TestCgroup>();
let exitHookInstalled = false;

/**
 * Creates a v1 memory cgroup with `limit` bytes. Swap cannot hide the limit: swappiness 0 and,
 * where the kernel has it, `memory.memsw.limit_in_bytes` equal to the limit.
 * Throws when cgroups are unavailable (callers gate on `cgroupSkipReason()`).
 */
export function createMemoryCgroup(limit: number): TestCgroup {
  const name = `${TEST_CGROUP_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`;
  const dir = join(V1_MEMORY_ROOT, name);
  mkdirSync(dir);
  let done = false;
  const cg: TestCgroup = {
    dir,
    path: `/${name}`,
    limit,
    pids: () => readPids(dir),
    oomKills: () => Number(/^oom_kill (\d+)$/m.exec(readFileSync(join(dir, 'memory.oom_control'), 'utf8'))?.[1] ?? 0),
    maxUsage: () => Number(readFileSync(join(dir, 'memory.max_usage_in_bytes'), 'utf8')),
    async cleanup() {
      if (done) return;
      done = true;
      live.delete(cg);
      await removeCgroup(dir);
    },
  };
  live.add(cg);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Last resort if a test forgets cleanup or the worker exits mid-test: kill and rmdir
    // synchronously (no awaiting in 'exit'), so no cgroup outlives the test run.
    process.once('exit', () => {
      for (const c of live) removeCgroupSync(c.dir);
    });
  }
  try {
    // Order matters: v1 refuses a memsw limit below the memory limit, and a memory limit above
    // the memsw limit, so lower memory first, then memsw.
    writeFileSync(join(dir, 'memory.swappiness'), '0');
    writeFileSync(join(dir, 'memory.limit_in_bytes'), String(limit));
    if (existsSync(join(dir, 'memory.memsw.limit_in_bytes'))) {
      writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), String(limit));
    }
  } catch (err) {
    live.delete(cg);
    removeCgroupSync(dir);
    throw err;
  }
  return cg;
}

/**
 * Spawns `command args` inside `cg` from its first instruction: a shell writes its own pid into
 * `cgroup.procs`, then `exec`s the command, so the command's whole life (and every descendant)
 * is charged to the cgroup. The exec keeps the pid, so an OOM kill shows as signal SIGKILL on
 * the returned child. Pass `timeout` and `killSignal: 'SIGKILL'` like every e2e child; defaults
 * are 60 s and SIGKILL.
 */
export function spawnInCgroup(cg: TestCgroup, command: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const procs = join(cg.dir, 'cgroup.procs');
  // $0 carries the procs path so nothing is interpolated into the script.
  return spawn('/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', procs, command, ...args], {
    timeout: 60_000,
    killSignal: 'SIGKILL',
    ...opts,
  });
}

/** `createMemoryCgroup` + `spawnInCgroup` in one call. */
export function runInMemoryCgroup(
  limit: number,
  command: string,
  args: readonly string[],
  opts: SpawnOptions = {},
): { cgroup: TestCgroup; child: ChildProcess; cleanup: () => Promise<void> } {
  const cgroup = createMemoryCgroup(limit);
  let child: ChildProcess;
  try {
    child = spawnInCgroup(cgroup, command, args, opts);
  } catch (err) {
    removeCgroupSync(cgroup.dir);
    throw err;
  }
  return { cgroup, child, cleanup: () => cgroup.cleanup() };
}

function readPids(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map(Number);
  } catch {
    return [];
  }
}

function killAll(dir: string): void {
  for (const pid of readPids(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/**
 * rmdir fails with EBUSY while a task is still inside (a SIGKILLed process leaves the cgroup
 * only once the kernel has reaped it), so kill, wait and retry for up to ~10 s.
 */
async function removeCgroup(dir: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (!existsSync(dir)) return;
    killAll(dir);
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (Date.now() > deadline) throw new Error(`cannot remove ${dir}: ${code} (pids ${readPids(dir).join(',')})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function removeCgroupSync(dir: string): void {
  const deadline = Date.now() + 5_000;
  while (existsSync(dir) && Date.now() < deadline) {
    killAll(dir);
    try {
      rmdirSync(dir);
      return;
    } catch {
      // Busy-wait a little: this runs in 'exit' where nothing async is possible.
      const until = Date.now() + 20;
      while (Date.now() < until);
    }
  }
}
