/**
 * V8's sampling heap profiler, driven through an in-process `node:inspector` session of the
 * guard's own: no native part, nothing the app owns is touched.
 *
 * Facts this file is built on (Node 22-26, V8's src/inspector/v8-heap-profiler-agent-impl.cc,
 * each checked with two sessions in one process):
 * - an in-process session answers `post()` synchronously, before `post()` returns;
 * - V8 keeps ONE sampling profiler per isolate: a second `startSampling` from any session
 *   "succeeds" and keeps the first interval; `getSamplingProfile` from any session reads it; a
 *   `stopSampling` from any session stops it for all;
 * - a session that disconnects (or is garbage-collected) runs the agent's `disable()`, which
 *   stops sampling for everyone when that session had started it;
 * - `getSamplingProfile` runs a full, non-incremental GC first (`kSamplingForceGC`, always set by
 *   the inspector) so that only live objects are counted: its cost is a major GC's.
 * Hence: one session per process, kept in a module variable and never disconnected while the
 * process lives; `stopSampling` only when the guard itself is stopped; the profile read once, at
 * shutdown, where the caller has checked that a full GC is affordable.
 */
import type { Session } from 'node:inspector';

/** `Runtime.CallFrame` as the profile reports it (lines and columns 0-based, URL or path). */
export interface CallFrame {
  functionName: string;
  scriptId: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

/** `HeapProfiler.SamplingHeapProfileNode`: one frame of an allocation stack. */
export interface ProfileNode {
  callFrame: CallFrame;
  /** Estimated live bytes allocated with exactly this stack (V8 scales each sample up by its interval). */
  selfSize: number;
  id: number;
  children: ProfileNode[];
}

/** `HeapProfiler.SamplingHeapProfileSample`: one sampled object still alive. */
export interface ProfileSample {
  size: number;
  nodeId: number;
  ordinal: number;
}

/** `HeapProfiler.SamplingHeapProfile`: what Chrome DevTools loads from a `.heapprofile` file. */
export interface SamplingProfile {
  head: ProfileNode;
  samples?: ProfileSample[];
}

/** V8's and Chrome DevTools' default interval (32 KiB): the finest the guard ever samples at. */
export const MIN_SAMPLING_INTERVAL = 32 * 1024;
/**
 * The interval is the heap budget / 4096, so a full budget holds about 4096 live samples whatever
 * its size: the profile read at shutdown stays small (70 KB of JSON for 1,200 samples measured),
 * and the 5% of the budget between the default warn and shutdown lines still carries about 200
 * samples, enough to rank the leaking site first (the share of a site with n samples is known
 * to about 1/sqrt(n)). A 2 GiB budget samples every 512 KiB, the interval Datadog's profiler
 * uses by default; 128 MiB every 32 KiB.
 */
export const SAMPLES_PER_BUDGET = 4096;

/** The sampling interval for a heap budget, in bytes. */
export function samplingInterval(heapBudget: number): number {
  return Math.max(MIN_SAMPLING_INTERVAL, Math.round(heapBudget / SAMPLES_PER_BUDGET));
}

/** The guard's one session; see the file comment for why it is never disconnected. */
let session: Session | undefined;

/** Send one command and return its result synchronously; throws what the inspector answered. */
function call<T>(method: string, params?: Record<string, unknown>): T {
  if (!session) {
    // Loaded here, on first use: the preload must not pay for node:inspector.
    const inspector = require('node:inspector') as typeof import('node:inspector');
    const s = new inspector.Session();
    s.connect();
    session = s;
  }
  let answered = false;
  let error: Error | null = null;
  let result: unknown;
  session.post(method, params, (err: Error | null, res?: unknown) => {
    answered = true;
    error = err;
    result = res;
  });
  if (!answered) throw new Error(`the inspector did not answer ${method} synchronously`);
  if (error) throw error;
  return result as T;
}

export class HeapSampler {
  readonly #interval: number;
  #since: number | undefined;

  /** `interval`: the mean bytes between two samples (see {@link samplingInterval}). */
  constructor(interval: number) {
    this.#interval = interval;
  }

  get interval(): number {
    return this.#interval;
  }

  /** `Date.now()` when the guard started sampling, or undefined when it has not. */
  get since(): number | undefined {
    return this.#since;
  }

  /**
   * Start sampling; idempotent. If the app samples already, V8 keeps the app's interval and
   * this only marks that a profile can be read. Throws when the inspector is unavailable (a
   * Node built without it), which the caller turns into a line of its own.
   */
  start(now: number = Date.now()): void {
    if (this.#since !== undefined) return;
    call('HeapProfiler.startSampling', { samplingInterval: this.#interval });
    this.#since = now;
  }

  /** The live sampled allocations; runs a full GC first (see the file comment). Throws on failure. */
  profile(): SamplingProfile {
    return call<{ profile: SamplingProfile }>('HeapProfiler.getSamplingProfile').profile;
  }

  /**
   * Stop sampling, when the guard itself is stopped. `stopSampling` reads the profile first, so
   * it costs a full GC; disconnecting instead would also stop the app's heap-object tracking and
   * clear its snapshot object ids (the agent's `disable()`), so the GC is the lesser cost.
   */
  stop(): void {
    if (this.#since === undefined) return;
    this.#since = undefined;
    try {
      call('HeapProfiler.stopSampling');
    } catch {
      // Already stopped (by the app's own session): nothing of ours is left running.
    }
  }
}
