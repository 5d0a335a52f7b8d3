/**
 * Where the memory went: the evidence a shutdown carries. From the first warn line on (or from
 * the start, `OOMGUARD_HEAP_SAMPLING=always`) V8's sampling heap profiler runs; at the shutdown
 * the guard reads it once, ranks the allocation sites that still hold live bytes, and measures
 * which kinds of memory grew since the warn line. The summary goes into the shutdown event (the
 * JSON line, the span and log record, the process warning), the container's termination message,
 * and, when asked, a `.heapprofile` file for Chrome DevTools.
 *
 * It all happens inside the shutdown deadline, before the hooks, so each part is bounded and the
 * costly one, reading the profile (a full GC), is skipped when it would eat too much of it or
 * when the heap is past V8's 80% line, where one more full GC could be what makes V8 abort.
 * Nothing here throws into the guard: a failure becomes a reason in the evidence or one line.
 */
import { basename, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { HeapSampling, PressureEvent } from '../types';
import { describeError } from '../safely';
import { formatBytes, formatDuration } from '../units';
import { HeapSampler, samplingInterval, type SamplingProfile } from './profiler';
import { MAX_NODES, TOP_SITES, rankSites } from './summary';
import { emptyBaseline, memoryGrowth, readMemoryByKind, type MemoryByKind } from './growth';
import { profileFileName, writeHeapProfile } from './heapprofile';
import { terminationMessage, type ShutdownEvidence } from './report';
import { writeTerminationLog } from './termination-log';

export type { ShutdownEvidence } from './report';

export interface EvidenceOptions {
  sampling: HeapSampling;
  /** The old-generation budget in bytes: the interval follows it, and so does the V8-line check. */
  heapBudget: number;
  /** Where to write `.heapprofile` files; undefined: none. */
  profileDir: string | undefined;
  /** The termination message file; undefined: none. */
  terminationLog: string | undefined;
  exitCode: number;
  log: (line: string) => void;
  now?: () => number;
}

/** The evidence may take at most this share of the shutdown deadline; the hooks keep the rest. */
export const EVIDENCE_DEADLINE_SHARE = 0.25;

/**
 * Growth is reported since the warn line only when that line was reached at least this long
 * before the shutdown; a jump past both lines in one check compares the shutdown's reading with
 * itself (a few KiB of noise, in which RSS pages can look like the biggest grower).
 */
export const GROWTH_MIN_SPAN_MS = 1000;
/**
 * What reading the profile costs per MiB of old generation, for the estimate. It is one full GC:
 * 0.8-2 ms/MiB for 200-800 MiB heaps on a lightly loaded core of the development machine, and a
 * median of 3.4 ms/MiB (1.4-6.3) for the whole summary with the 2 shared cores at a load of 10-12
 * (BENCHMARKS.md, figure 8): a pod under a CPU limit is as slow, so the higher figure.
 */
export const FULL_GC_MS_PER_MIB = 3;
/**
 * No profile read (it runs a full GC) from this share of the budget on. V8 aborts after four
 * consecutive mark-compacts that each leave the old generation at 80% of its maximum or more with
 * the mutator under 40% of the time (heap.cc, IsIneffectiveMarkCompact); below 80% before our GC
 * it is below 80% after (an atomic GC only frees), so ours can never count as one of the four.
 */
export const PROFILE_HEAP_SHARE_LIMIT = 0.8;

/**
 * The guard's own scripts (this build's root, dist/), as paths and as `file:` URLs. This module is
 * dist/evidence/index.js as tsc writes it, or part of dist/guard.js as the build bundles it
 * (scripts/build.mjs). One level above the bundle is the package's root, which in a checkout
 * also holds apps (this repository's test fixtures).
 */
const OWN_DIR = (basename(__dirname) === 'evidence' ? join(__dirname, '..') : __dirname) + sep;
const OWN_URL = pathToFileURL(OWN_DIR).href;
const isOwn = (url: string): boolean => url.startsWith(OWN_DIR) || url.startsWith(OWN_URL);

export class Evidence {
  readonly #opts: EvidenceOptions;
  readonly #now: () => number;
  #sampler: HeapSampler | undefined;
  #samplingError: string | undefined;
  /** Memory by kind when the guard started (after the app's start-up code). */
  #startBase: MemoryByKind | undefined;
  /** Memory by kind when the heap in use first reached the warn line, or at the warning. */
  #warnBase: MemoryByKind | undefined;
  #profile: SamplingProfile | undefined;
  #startTimer: NodeJS.Immediate | undefined;

  constructor(options: EvidenceOptions) {
    this.#opts = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The guard started: take the start baseline, and sample from now on with `always`. Both after
   * the app's own start-up code has run (an immediate), like the telemetry.
   */
  start(): void {
    this.#startTimer = setImmediate(() => {
      this.#startTimer = undefined;
      this.#startBase ??= readMemoryByKind(this.#now());
      if (this.#opts.sampling === 'always') this.#startSampling();
    });
    this.#startTimer.unref();
  }

  stop(): void {
    if (this.#startTimer) clearImmediate(this.#startTimer);
    this.#startTimer = undefined;
    this.#sampler?.stop();
    this.#profile = undefined;
  }

  /**
   * Each reading: once the heap in use (garbage included) reaches the heap warn line, sampling
   * starts, even before a warning: the policy warns on what a major GC left alive, and a fast
   * leak can be confirmed past the warn and the shutdown line in one check, which would leave no
   * time to sample. Sampling costs nothing on a heap far from its line.
   */
  onReading(heapInUse: number, heapWarnLine: number | undefined): void {
    if (heapWarnLine === undefined || heapInUse < heapWarnLine) return;
    this.#warnBase ??= readMemoryByKind(this.#now());
    if (this.#opts.sampling !== 'off') this.#startSampling();
  }

  /** A warn line crossed: baseline and sampling from here. A recovery ends the episode. */
  onEvent(event: PressureEvent): void {
    if (event.level === 'ok') {
      this.#warnBase = undefined;
      return;
    }
    if (event.level !== 'warn') return;
    this.#warnBase ??= readMemoryByKind(this.#now());
    if (this.#opts.sampling !== 'off') this.#startSampling();
  }

  /**
   * The evidence for a shutdown, within `deadlineMs` (the whole shutdown deadline: this takes at
   * most {@link EVIDENCE_DEADLINE_SHARE} of it). Synchronous: it goes into the JSON line.
   */
  summarize(event: PressureEvent, deadlineMs: number): ShutdownEvidence {
    const started = this.#now();
    const budgetMs = deadlineMs * EVIDENCE_DEADLINE_SHARE;
    const evidence: ShutdownEvidence = { topSites: [], sampledBytes: 0, ms: 0 };
    const memory = readMemoryByKind(started);
    if (memory) {
      // A warn line crossed a moment ago (a leak past both lines in one check) says nothing
      // about what grew: the growth is then the whole run's.
      const warn = this.#warnBase && started - this.#warnBase.time >= GROWTH_MIN_SPAN_MS ? this.#warnBase : undefined;
      evidence.growth = warn
        ? memoryGrowth(warn, memory, 'warn')
        : memoryGrowth(this.#startBase ?? emptyBaseline(started - process.uptime() * 1000), memory, 'start');
    }
    const sampler = this.#sampler;
    if (sampler?.since !== undefined) {
      evidence.samplingInterval = sampler.interval;
      evidence.samplingSince = new Date(sampler.since).toISOString();
    }
    const skip = this.#skipProfile(event, budgetMs);
    if (skip) evidence.sitesSkipped = skip;
    else this.#rank(evidence, started + budgetMs);
    if (this.#profile && this.#opts.profileDir) {
      evidence.profile = resolve(this.#opts.profileDir, profileFileName(process.pid, started));
    }
    evidence.ms = Math.round(this.#now() - started);
    return evidence;
  }

  /**
   * After the JSON line: the termination message, then the `.heapprofile` file. Synchronous and
   * bounded (the file's walk has a node cap and the time left of the evidence's share).
   */
  persist(event: PressureEvent, evidence: ShutdownEvidence | undefined, deadlineMs: number): void {
    const { terminationLog, profileDir, log } = this.#opts;
    if (terminationLog) {
      const failed = writeTerminationLog(terminationLog, terminationMessage(event, this.#opts.exitCode, evidence));
      if (failed && failed !== 'absent') log(`oomguard: could not write the termination message to ${terminationLog}: ${failed}`);
    }
    const profile = this.#profile;
    this.#profile = undefined;
    if (!profile || !profileDir || !evidence?.profile) return;
    try {
      const deadline = this.#now() + Math.max(0, deadlineMs * EVIDENCE_DEADLINE_SHARE - evidence.ms);
      const written = writeHeapProfile(evidence.profile, profile, deadline, this.#now);
      if (written.truncated) log(`oomguard: the heap profile ${written.path} was cut at ${written.nodes} nodes (size or time cap)`);
    } catch (err) {
      log(`oomguard: could not write the heap profile ${evidence.profile}: ${describeError(err)}`);
    }
  }

  #startSampling(): void {
    if (this.#samplingError !== undefined) return;
    try {
      this.#sampler ??= new HeapSampler(samplingInterval(this.#opts.heapBudget));
      this.#sampler.start(this.#now());
    } catch (err) {
      this.#samplingError = describeError(err);
      this.#opts.log(`oomguard: heap sampling is unavailable (${this.#samplingError}); a shutdown will report growth by kind only`);
    }
  }

  /** Why the profile is not read now, or undefined when it is. */
  #skipProfile(event: PressureEvent, budgetMs: number): string | undefined {
    if (this.#opts.sampling === 'off') return 'heap sampling is off (OOMGUARD_HEAP_SAMPLING=off)';
    if (this.#samplingError !== undefined) return `heap sampling is unavailable: ${this.#samplingError}`;
    if (this.#sampler?.since === undefined) return 'heap sampling had not started (no warn line was crossed before the shutdown)';
    const r = event.reading;
    if (r.oldGenInUse >= r.heapBudget * PROFILE_HEAP_SHARE_LIMIT) {
      return `the old generation is at ${((r.oldGenInUse / r.heapBudget) * 100).toFixed(0)}% of the heap budget, V8's 80% line, where the full GC that reading the profile runs could make V8 abort`;
    }
    const estimateMs = (r.oldGenInUse / 2 ** 20) * FULL_GC_MS_PER_MIB;
    if (estimateMs > budgetMs) {
      return `reading the profile runs a full GC of ${formatBytes(r.oldGenInUse)} (about ${formatDuration(Math.round(estimateMs))}), more than ${formatDuration(Math.round(budgetMs))} of the shutdown deadline`;
    }
    return undefined;
  }

  #rank(evidence: ShutdownEvidence, deadline: number): void {
    let profile: SamplingProfile;
    try {
      profile = this.#sampler!.profile();
    } catch (err) {
      // The app's own session stopped V8's (shared) sampling profiler.
      evidence.sitesSkipped = `the heap profile could not be read: ${describeError(err)}`;
      return;
    }
    const ranking = rankSites(profile, { limit: TOP_SITES, maxNodes: MAX_NODES, deadline, now: this.#now, isOwn });
    evidence.topSites = ranking.sites;
    evidence.sampledBytes = ranking.sampledBytes;
    if (ranking.sites.length === 0) {
      evidence.sitesSkipped = `no sampled allocation of the app's is still alive (one sample per ${formatBytes(this.#sampler!.interval)} allocated on average)`;
    }
    if (ranking.truncated) evidence.truncated = true;
    if (this.#opts.profileDir) this.#profile = profile;
  }
}
