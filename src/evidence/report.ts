/**
 * The shutdown's evidence in words: one headline for the places that carry a single line (the
 * process warning, the log record's body), and the termination message Kubernetes shows under
 * `kubectl describe pod`.
 */
import type { PressureEvent } from '../types';
import { formatBytes } from '../units';
import type { MemoryGrowth, MemoryKind } from './growth';
import { siteText, type AllocationSite } from './summary';

/** What the guard knows at shutdown about where the memory went (`PressureEvent.evidence`). */
export interface ShutdownEvidence {
  /** The top allocation sites by sampled live bytes, heaviest first; empty without a profile. */
  topSites: AllocationSite[];
  /** All sampled live bytes in the profile (0 without one). */
  sampledBytes: number;
  /** Mean bytes between two samples, and when the guard started sampling (ISO). */
  samplingInterval?: number;
  samplingSince?: string;
  /** True when the profile was larger than the walk's cap: shares are of the part walked. */
  truncated?: boolean;
  /** Why there are no top sites (sampling off, a full GC too long for the deadline, ...). */
  sitesSkipped?: string;
  /** Which kinds of memory grew since the warn line (or the start). */
  growth?: MemoryGrowth;
  /** The `.heapprofile` file written for Chrome DevTools (`OOMGUARD_PROFILE_DIR`). */
  profile?: string;
  /** Milliseconds spent on all of this, out of the shutdown deadline. */
  ms: number;
}

/**
 * The kubelet truncates a termination message to 4096 bytes
 * (https://kubernetes.io/docs/tasks/debug/debug-application/determine-reason-pod-failure/#customizing-the-termination-message).
 */
export const TERMINATION_MESSAGE_BYTES = 4096;

const KIND_TEXT: Record<Exclude<MemoryKind, 'heap'>, string> = {
  arrayBuffers: 'Buffer/ArrayBuffer memory (outside the V8 heap, unseen by the heap profiler)',
  external: 'external memory (outside the V8 heap)',
  native: 'native memory (RSS that neither the V8 heap nor external memory explains)',
};

const pct = (share: number): string => `${(share * 100).toFixed(1)}%`;
const signed = (bytes: number): string => (bytes >= 0 ? `+${formatBytes(bytes)}` : formatBytes(bytes));
const sinceText = (g: MemoryGrowth): string => (g.since === 'warn' ? 'the warn line' : 'the guard started');

/**
 * The one line that names the leak: memory outside the heap when that grew most, then the top
 * allocation site. Undefined when there is nothing to name.
 */
export function headline(e: ShutdownEvidence): string | undefined {
  const parts: string[] = [];
  const g = e.growth;
  if (g?.grewMost && g.grewMost !== 'heap') {
    parts.push(`${KIND_TEXT[g.grewMost]} grew most: ${signed(g[g.grewMost])} since ${sinceText(g)} (heap ${signed(g.heap)})`);
  }
  const site = e.topSites[0];
  if (site) parts.push(`top allocation site: ${siteText(site)}, ${pct(site.share)} of sampled live heap (${formatBytes(site.bytes)})`);
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/** Growth as one line: every kind, the spaces that grew. */
export function growthText(g: MemoryGrowth): string {
  const spaces = Object.entries(g.spaces)
    .filter(([, bytes]) => bytes > 0)
    .slice(0, 4)
    .map(([name, bytes]) => `${name} ${signed(bytes)}`);
  return (
    `growth since ${sinceText(g)} (${g.seconds}s): heap ${signed(g.heap)}${spaces.length ? ` (${spaces.join(', ')})` : ''}, ` +
    `arrayBuffers ${signed(g.arrayBuffers)}, external ${signed(g.external)}, native ${signed(g.native)}, rss ${signed(g.rss)}`
  );
}

/**
 * The termination message: why the container exited, then the evidence, most telling first, in
 * at most {@link TERMINATION_MESSAGE_BYTES} bytes (lines past it are dropped whole).
 */
export function terminationMessage(event: PressureEvent, exitCode: number, e: ShutdownEvidence | undefined): string {
  const what =
    event.reason === 'gc-thrash'
      ? `heap near its limit and GC thrashing (${formatBytes(event.value)}, line ${formatBytes(event.threshold)})`
      : `${event.signal} ${formatBytes(event.value)} >= ${formatBytes(event.threshold)}`;
  const lines = [`oomguard: memory-pressure shutdown, exit code ${exitCode}: ${what} (${event.reason}, pressure ${event.pressure.toFixed(2)})`];
  const first = e && headline(e);
  if (first) lines.push(first);
  if (e && e.topSites.length > 0) {
    const how = e.samplingInterval ? `, sampled every ${formatBytes(e.samplingInterval)}${e.samplingSince ? ` since ${e.samplingSince}` : ''}` : '';
    lines.push(`top allocation sites by sampled live bytes (${formatBytes(e.sampledBytes)} in all${how}):`);
    for (const site of e.topSites) lines.push(`  ${pct(site.share).padStart(6)} ${formatBytes(site.bytes).padStart(10)}  ${siteText(site)}`);
  } else if (e?.sitesSkipped) {
    lines.push(`no allocation sites: ${e.sitesSkipped}`);
  }
  if (e?.growth) lines.push(growthText(e.growth));
  if (e?.profile) lines.push(`heap profile: ${e.profile}`);
  let out = '';
  for (const line of lines) {
    const next = `${out}${line}\n`;
    if (Buffer.byteLength(next) > TERMINATION_MESSAGE_BYTES) break;
    out = next;
  }
  return out;
}
