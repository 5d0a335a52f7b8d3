/**
 * The optional native part: loads it (never throwing), and wraps its two services.
 *
 * - `installNearHeapLimit`: V8's near-heap-limit callback. Inside the GC that would fail, the
 *   limit is raised once by a reserve, the running JavaScript is terminated, and `onNearLimit`
 *   runs as soon as that JavaScript has left V8, with the reserve as headroom. No JavaScript
 *   guard can act while one synchronous loop runs; V8 itself can.
 * - `onMajorGc`: one call per mark-compact with its pause and the heap spaces right after it,
 *   from GC callbacks that V8 never calls for scavenges (a `gc` PerformanceObserver gets an
 *   entry for every GC).
 *
 * Where the binary is missing, does not load (another platform without a compiler, a node whose
 * binary lacks a symbol) or `OOMGUARD_NATIVE=off` (`Config.native`), `loadNative()` says why and
 * the guard runs in its JavaScript mode, exactly as without this module. docs/native.md has the
 * whole story. Nothing runs on import.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as v8 from 'node:v8';
import { isMainThread } from 'node:worker_threads';
import type { SpaceStats } from './heap';
import { heapSnapshotRequested, heapSnapshotPath } from './native-snapshot';
import type { NativeMode } from './types';

/** What the addon exports (native/addon.cc). */
export interface Binding {
  readonly abi: number;
  installNearHeapLimit(handler: (info: NearLimitInfo) => void, reserveBytes: number, memoryLimitBytes: number, exitCode: number): void;
  uninstallNearHeapLimit(): void;
  setMemoryLimit(bytes: number): void;
  resetAsyncStack(error: Error): void;
  installMajorGc(cb: (agoMs: number, durationMs: number, used: number[], available: number[]) => void): string[];
  uninstallMajorGc(): void;
  state(): { nearHeapLimit: string; majorGc: boolean; majorGcs: number; missed: number; reserve: number; memoryLimit: number };
}

/** Whether the native part is active, and why (not). `doctor` prints it. */
export interface NativeStatus {
  active: boolean;
  mode: NativeMode;
  /** One line: the file that loaded, or why none did. */
  reason: string;
  path?: string;
}

/** The addon ABI this JavaScript speaks; a build of another ABI is not used. */
const ABI = 1;

/** The package root (dist/ or src/ is one level down). */
const ROOT = join(__dirname, '..');

let loaded: { status: NativeStatus; binding?: Binding } | undefined;

/**
 * Loads the addon once per process: the prebuilt binary for this platform (the prebuildify
 * layout: `prebuilds/<platform>-<arch>/oomguard[.libc].node`), else a binary built from source at
 * install (`build/Release/oomguard.node`). Never throws. Only the main thread may use it.
 */
export function loadNative(mode: NativeMode = 'auto', root: string = ROOT): NativeStatus & { binding?: Binding } {
  if (mode === 'off') return { active: false, mode, reason: 'OOMGUARD_NATIVE=off: the JavaScript mode was asked for' };
  if (!isMainThread) return { active: false, mode, reason: 'a worker thread: only the main thread guards' };
  if (loaded && root === ROOT) return { ...loaded.status, mode, ...(loaded.binding ? { binding: loaded.binding } : {}) };
  const tried: string[] = [];
  let result: { status: NativeStatus; binding?: Binding } | undefined;
  for (const path of candidates(root)) {
    try {
      const binding = require(path) as Binding;
      if (binding.abi !== ABI) {
        tried.push(`${path}: addon ABI ${String(binding.abi)}, expected ${ABI}`);
        continue;
      }
      result = { status: { active: true, mode, reason: `loaded ${path}`, path }, binding };
      break;
    } catch (err) {
      tried.push(`${path}: ${firstLine(err)}`);
    }
  }
  result ??= {
    status: {
      active: false,
      mode,
      reason: tried.length
        ? `no binary loads (${tried.join('; ')})`
        : `no binary for ${process.platform}-${process.arch} (no prebuilt one, and none was built at install)`,
    },
  };
  if (root === ROOT) loaded = result;
  return { ...result.status, ...(result.binding ? { binding: result.binding } : {}) };
}

function candidates(root: string): string[] {
  const out: string[] = [];
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  const libc = process.platform === 'linux' ? (isMusl() ? 'musl' : 'glibc') : undefined;
  let files: string[] = [];
  try {
    files = readdirSync(dir);
  } catch {
    // no prebuilt binaries for this platform
  }
  for (const file of files.sort()) {
    const tags = file.split('.');
    if (tags.pop() !== 'node' || tags[0] !== 'oomguard') continue;
    const fileLibc = tags.find((t) => t === 'glibc' || t === 'musl');
    if (fileLibc && fileLibc !== libc) continue;
    out.push(join(dir, file));
  }
  const built = join(root, 'build', 'Release', 'oomguard.node');
  if (existsSync(built)) out.push(built);
  return out;
}

/** musl (Alpine) has its dynamic loader at /lib/ld-musl-<arch>.so.1; glibc has none of those. */
function isMusl(): boolean {
  try {
    return readdirSync('/lib').some((f) => f.startsWith('ld-musl-'));
  } catch {
    return false;
  }
}

/** What the near-heap-limit callback saw, passed to `onNearLimit`. */
export interface NearLimitInfo {
  /** The heap limit V8 reached (bytes, V8's old-generation limit). */
  heapLimit: number;
  /** The limit the process started with. */
  initialHeapLimit: number;
  /** How much the limit was raised: the reserve plus what the heap already held above the limit. */
  raisedBy: number;
  /** Resident set size at that moment (0 when unknown). */
  rss: number;
  /** How long ago that was, in ms (the time the runaway JavaScript took to stop). */
  agoMs: number;
  /** True when JavaScript was running and was terminated. */
  terminated: boolean;
}

export interface NearLimitOptions {
  reserveBytes: number;
  /** The container's memory limit: the raise never goes past what it leaves. */
  memoryLimit?: number | undefined;
  exitCode: number;
  /**
   * The shutdown path. Runs on the main thread once the runaway JavaScript has stopped: its
   * synchronous work always runs; its asynchronous work runs as the event loop turns.
   */
  onNearLimit: (info: NearLimitInfo) => void;
  /** Where errors and the heap-snapshot line go. */
  log: (line: string) => void;
}

/**
 * Installs the near-heap-limit callback; returns the function that removes it. Throws when the
 * addon refuses (another thread installed it, it fired already).
 */
export function installNearHeapLimit(binding: Binding, options: NearLimitOptions): () => void {
  const handler = (info: NearLimitInfo): void => {
    // Terminated JavaScript skipped Node's own bookkeeping (async context of timers, immediates,
    // nextTick): reset it first, so everything after, hooks included, runs in a sound state.
    if (info.terminated) resetAsyncStack(binding, options.log);
    // --heapsnapshot-near-heap-limit: Node's own callback is the one this one replaced.
    if (heapSnapshotRequested()) {
      try {
        options.log(`oomguard: heap snapshot written to ${v8.writeHeapSnapshot(heapSnapshotPath())} (--heapsnapshot-near-heap-limit)`);
      } catch (err) {
        options.log(`oomguard: heap snapshot failed: ${firstLine(err)}`);
      }
    }
    try {
      options.onNearLimit(info);
    } catch (err) {
      options.log(`oomguard: near-heap-limit handler threw: ${firstLine(err)}`);
    }
  };
  binding.installNearHeapLimit(handler, options.reserveBytes, options.memoryLimit ?? 0, options.exitCode);
  return () => binding.uninstallNearHeapLimit();
}

/**
 * Node empties its async-context stack when an uncaught exception is handled; a terminated
 * callback never gets there. Hand Node one such exception, handled by a capture callback that
 * is in place only for this call (when the app has its own, Node would give it ours: skipped,
 * and the guard's exit-code handler still ends the process with the guard's code).
 */
function resetAsyncStack(binding: Binding, log: (line: string) => void): void {
  if (process.hasUncaughtExceptionCaptureCallback()) {
    log('oomguard: the app has an uncaught-exception capture callback; Node\'s async context is left as the terminated code left it');
    return;
  }
  const marker = new Error('oomguard: JavaScript stopped at the V8 heap limit');
  process.setUncaughtExceptionCaptureCallback((err) => {
    if (err !== marker) throw err;
  });
  try {
    binding.resetAsyncStack(marker);
  } finally {
    process.setUncaughtExceptionCaptureCallback(null);
  }
}

/** One mark-compact, as `onMajorGc` delivers it. */
export interface MajorGc {
  /** `Date.now()` terms: when the GC ended. */
  end: number;
  /** The pause in ms. */
  duration: number;
  /** Heap spaces right after the GC. */
  spaces: SpaceStats[];
}

/** Calls `cb` after every mark-compact; returns the function that removes the GC callbacks. */
export function onMajorGc(binding: Binding, cb: (gc: MajorGc) => void): () => void {
  let names: string[] = [];
  names = binding.installMajorGc((agoMs, durationMs, used, available) => {
    const spaces: SpaceStats[] = names.map((name, i) => ({
      space_name: name,
      space_used_size: used[i] ?? 0,
      space_available_size: available[i] ?? 0,
    }));
    cb({ end: Date.now() - agoMs, duration: durationMs, spaces });
  });
  return () => binding.uninstallMajorGc();
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n', 1)[0] ?? '';
}
