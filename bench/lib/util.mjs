// Shared helpers of the benchmarks: statistics, child processes with a pinned environment,
// free loopback ports and real cgroup v1 memory cgroups. Plain ESM run by Node >= 20.6; no
// TypeScript, so nothing here imports from test/ (which is TS).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BENCH = join(ROOT, 'bench');
/** The built preload, as users pass it to `--require`. */
export const REGISTER = join(ROOT, 'dist', 'register.js');
export const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Statistics

/** Median of a list of numbers (NaN when empty). */
export function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Min and max: the spread we report (with few runs, the full range is the honest spread). */
export function range(xs) {
  const v = xs.filter((x) => Number.isFinite(x));
  return v.length ? [Math.min(...v), Math.max(...v)] : [NaN, NaN];
}

/** `median (min-max)` with `digits` decimals and a unit suffix. */
export function fmt(xs, digits = 1, unit = '') {
  const list = Array.isArray(xs) ? xs : [xs];
  const m = median(list);
  if (!Number.isFinite(m)) return 'n/a';
  const [lo, hi] = range(list);
  const f = (x) => x.toFixed(digits);
  return list.length > 1 ? `${f(m)}${unit} (${f(lo)}-${f(hi)})` : `${f(m)}${unit}`;
}

/** Element-wise ratio a[i]/b[i] of paired runs (the same round of an A/B alternation). */
export function ratios(a, b) {
  const n = Math.min(a.length, b.length);
  const out = [];
  for (let i = 0; i < n; i++) if (b[i] > 0) out.push(a[i] / b[i]);
  return out;
}

/** A markdown table from a header row and rows of cells. */
export function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Processes

/** PATH and HOME only, plus `extra`: nothing from the bench's own environment leaks in. */
export function pinnedEnv(extra = {}) {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = String(v);
  return env;
}

/**
 * Runs a command to completion; SIGKILL after `timeoutMs`. Resolves with code, signal, output,
 * wall time and the spawn/close instants (Date.now() terms, to compare with the agent's JSON).
 * `onLine(stream, line, child)` sees each output line as it arrives.
 */
export function run(cmd, args, { env = pinnedEnv(), timeoutMs = 60_000, cwd = ROOT, onLine, cgroup } = {}) {
  return new Promise((resolve) => {
    let argv = [cmd, ...args];
    // In a cgroup from the first instruction: the shell writes its own pid, then execs (same pid).
    if (cgroup) argv = ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', join(cgroup.dir, 'cgroup.procs'), ...argv];
    const spawnedAt = Date.now();
    const t0 = performance.now();
    const child = spawn(argv[0], argv.slice(1), { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    const out = { stdout: '', stderr: '' };
    for (const stream of ['stdout', 'stderr']) {
      let partial = '';
      child[stream].setEncoding('utf8').on('data', (d) => {
        out[stream] += d;
        if (!onLine) return;
        partial += d;
        let nl;
        while ((nl = partial.indexOf('\n')) >= 0) {
          const line = partial.slice(0, nl);
          partial = partial.slice(nl + 1);
          try {
            onLine(stream, line, child);
          } catch {
            // a bad line must not break the run
          }
        }
      });
    }
    child.on('error', (err) => {
      out.stderr += `spawn error: ${err.message}\n`;
    });
    child.on('close', (code, signal) => {
      resolve({ code, signal, ...out, ms: performance.now() - t0, spawnedAt, closedAt: Date.now(), pid: child.pid });
    });
  });
}

/** The agent's `{"name":"oomguard.*"}` JSON lines on stderr. */
export function agentEvents(stderr) {
  const out = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{"name":"oomguard.')) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // a line cut short by the process dying
    }
  }
  return out;
}

/** V8's own fatal out-of-memory messages (Node 20-24). */
export const V8_OOM = /JavaScript heap out of memory|Reached heap limit|Ineffective mark-compacts near heap limit|Allocation failed/;

/** A free loopback TCP port (bind 0, read, close). Racy in theory; fine on loopback here. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// cgroup v1 memory cgroups (this machine mounts the memory controller there; see docs/cgroup.md)

export const V1_MEMORY_ROOT = '/sys/fs/cgroup/memory';
const live = new Set();
let exitHook = false;

/** Why real cgroups cannot be used here, or undefined when they can. */
export function cgroupUnavailable() {
  if (process.platform !== 'linux') return `cgroups need Linux (this is ${process.platform})`;
  if (!existsSync(join(V1_MEMORY_ROOT, 'memory.limit_in_bytes'))) return `no cgroup v1 memory controller at ${V1_MEMORY_ROOT}`;
  try {
    const cg = createCgroup(64 * MiB);
    cg.removeSync();
  } catch (err) {
    return `cannot create a memory cgroup: ${err.message}`;
  }
  return undefined;
}

/**
 * A v1 memory cgroup with `limit` bytes; swap cannot hide the limit (swappiness 0, memsw = limit).
 * `remove()` kills what is left inside and removes it; an exit hook removes any that remain.
 */
export function createCgroup(limit) {
  const dir = join(V1_MEMORY_ROOT, `oomguard-bench-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir);
  const cg = {
    dir,
    limit,
    oomKills: () => Number(/^oom_kill (\d+)$/m.exec(read(join(dir, 'memory.oom_control')) ?? '')?.[1] ?? 0),
    async remove() {
      live.delete(cg);
      const deadline = Date.now() + 10_000;
      while (existsSync(dir)) {
        if (tryRemove(dir) || Date.now() > deadline) return;
        await sleep(50);
      }
    },
    removeSync() {
      live.delete(cg);
      const deadline = Date.now() + 5_000;
      while (existsSync(dir) && !tryRemove(dir) && Date.now() < deadline) {
        const until = Date.now() + 20;
        while (Date.now() < until);
      }
    },
  };
  live.add(cg);
  if (!exitHook) {
    exitHook = true;
    // Last resort when the bench dies mid-run: no cgroup outlives it.
    process.once('exit', () => [...live].forEach((c) => c.removeSync()));
  }
  try {
    // v1 refuses memsw below the memory limit, so lower memory first, then memsw.
    writeFileSync(join(dir, 'memory.swappiness'), '0');
    writeFileSync(join(dir, 'memory.limit_in_bytes'), String(limit));
    if (existsSync(join(dir, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), String(limit));
  } catch (err) {
    cg.removeSync();
    throw err;
  }
  return cg;
}

function read(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Kill whatever is inside and rmdir; false while the kernel has not reaped the tasks yet. */
function tryRemove(dir) {
  for (const pid of (read(join(dir, 'cgroup.procs')) ?? '').split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    return err.code === 'ENOENT';
  }
}
