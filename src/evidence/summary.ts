/**
 * The top allocation sites of a sampling heap profile: which functions allocated the sampled
 * objects that are still alive, heaviest first, with their share of all sampled live bytes.
 *
 * Built at shutdown, when the heap may be a few percent from V8's limit, so the walk allocates
 * little: no recursion, no copy of the tree, one small record per distinct site, and a cap on the
 * nodes walked and on the time spent (a profile the app's own fine-grained sampling made can be
 * far larger than the guard's).
 */
import { fileURLToPath } from 'node:url';
import type { CallFrame, ProfileNode, SamplingProfile } from './profiler';

/** One allocation site: a function and where it is, with the live bytes it allocated. */
export interface AllocationSite {
  /** The function's name; `(anonymous)` when it has none. */
  function: string;
  /** The script's path (a URL when it is not a file); empty for V8's own pseudo-frames. */
  file: string;
  /** 1-based line and column; 0 when unknown. */
  line: number;
  column: number;
  /** Estimated live bytes allocated there (the samples scaled up by V8 by their interval). */
  bytes: number;
  /** Share of all sampled live bytes, 0..1, 4 decimals. */
  share: number;
}

/** The top sites of one profile. */
export interface SiteRanking {
  /** Heaviest first, at most the number asked for. */
  sites: AllocationSite[];
  /** All sampled live bytes in the profile. */
  sampledBytes: number;
  /** Profile nodes walked. */
  nodes: number;
  /** True when the walk stopped at its node or time cap: shares are of what was walked. */
  truncated: boolean;
}

export interface RankOptions {
  /** How many sites to return. */
  limit: number;
  /** Stop after this many nodes. */
  maxNodes: number;
  /** Stop when `now()` passes this. */
  deadline: number;
  now: () => number;
  /** Whether a script is the guard's own (its bytes are left out; see {@link rankSites}). */
  isOwn: (url: string) => boolean;
}

/** How many sites the JSON line, the telemetry and the termination message carry. */
export const TOP_SITES = 5;
/** The walk's node cap: a profile made at the guard's interval has a few hundred to a few thousand. */
export const MAX_NODES = 20_000;
const MAX_FUNCTION_CHARS = 120;
const MAX_FILE_CHARS = 240;

/**
 * A frame of Node's own JavaScript (`node:` URLs) or a V8 pseudo-frame (no URL: `(root)`,
 * `(V8 API)`) says nothing about the app: `Buffer.from`, `JSON.parse` or a stream's `push`
 * allocate for a caller, and the caller is the site the operator can fix.
 */
function isInternal(frame: CallFrame): boolean {
  return frame.url === '' || frame.url.startsWith('node:');
}

/** The owner of bytes allocated under the guard's own code and no app frame: left out. */
const GUARD = '\0guard';

/**
 * Rank the sites of `profile`: each node's live bytes go to its own frame when that is the app's,
 * else to the nearest app frame above it, else to the frame itself (a Node internal with no app
 * caller, such as a timer list). Bytes the guard itself allocated (its own frames with no app
 * frame above, e.g. the context its forced GC uses) are left out of the ranking and the total:
 * they are not the app's, and an app's `onPressure` listener, called from the guard's code,
 * still counts as the app's.
 */
export function rankSites(profile: SamplingProfile, options: RankOptions): SiteRanking {
  const bytesBySite = new Map<string, { frame: CallFrame; bytes: number }>();
  // Depth-first with an explicit stack: deep allocation stacks (V8 keeps up to 128 frames) must
  // not cost call-stack depth, and siblings are pushed, never copied.
  const nodes: ProfileNode[] = [profile.head];
  const owners: (string | undefined)[] = [undefined];
  let walked = 0;
  let sampledBytes = 0;
  let truncated = false;
  while (nodes.length > 0) {
    if (walked >= options.maxNodes || ((walked & 1023) === 0 && walked > 0 && options.now() > options.deadline)) {
      truncated = true;
      break;
    }
    const node = nodes.pop()!;
    const inherited = owners.pop();
    walked++;
    const frame = node.callFrame;
    const guard = options.isOwn(frame.url);
    const app = !guard && !isInternal(frame);
    let own: string | undefined;
    if (app) own = siteKey(frame);
    else if (guard) own = inherited === undefined || inherited === GUARD ? GUARD : inherited;
    else own = inherited;
    const key = own ?? siteKey(frame);
    if (key !== GUARD && node.selfSize > 0) {
      sampledBytes += node.selfSize;
      const entry = bytesBySite.get(key);
      if (entry) entry.bytes += node.selfSize;
      else bytesBySite.set(key, { frame, bytes: node.selfSize });
    } else if (app && !bytesBySite.has(key)) {
      // An app frame with no bytes of its own may still own its internal callees' bytes.
      bytesBySite.set(key, { frame, bytes: 0 });
    }
    for (const child of node.children) {
      nodes.push(child);
      owners.push(own);
    }
  }
  return { sites: top(bytesBySite, options.limit, sampledBytes), sampledBytes, nodes: walked, truncated };
}

function siteKey(frame: CallFrame): string {
  return `${frame.url}:${frame.lineNumber}:${frame.columnNumber}:${frame.functionName}`;
}

/** The `limit` heaviest entries, by selection: no sort of every site. */
function top(bytesBySite: ReadonlyMap<string, { frame: CallFrame; bytes: number }>, limit: number, total: number): AllocationSite[] {
  const best: { frame: CallFrame; bytes: number }[] = [];
  for (const entry of bytesBySite.values()) {
    if (entry.bytes <= 0) continue;
    if (best.length === limit && entry.bytes <= best[limit - 1]!.bytes) continue;
    if (best.length < limit) best.push(entry);
    else best[limit - 1] = entry;
    for (let i = best.length - 1; i > 0 && best[i - 1]!.bytes < entry.bytes; i--) {
      best[i] = best[i - 1]!;
      best[i - 1] = entry;
    }
  }
  return best.map(({ frame, bytes }) => ({
    function: cut(frame.functionName || '(anonymous)', MAX_FUNCTION_CHARS, 'end'),
    file: cut(filePath(frame.url), MAX_FILE_CHARS, 'start'),
    line: frame.url === '' ? 0 : frame.lineNumber + 1,
    column: frame.url === '' ? 0 : frame.columnNumber + 1,
    bytes,
    share: total > 0 ? Number((bytes / total).toFixed(4)) : 0,
  }));
}

/** `file:` URLs (ES modules) as paths, like the CommonJS frames. */
function filePath(url: string): string {
  if (!url.startsWith('file:')) return url;
  try {
    return fileURLToPath(url);
  } catch {
    return url;
  }
}

/** Bounded text: long paths keep their end (the file name), long names their start. */
function cut(text: string, max: number, keep: 'start' | 'end'): string {
  if (text.length <= max) return text;
  return keep === 'start' ? `...${text.slice(text.length - max + 3)}` : `${text.slice(0, max - 3)}...`;
}

/** `fn (file:line:column)`, the way a stack trace names a frame. */
export function siteText(site: AllocationSite): string {
  if (!site.file) return site.function;
  return `${site.function} (${site.file}${site.line ? `:${site.line}:${site.column}` : ''})`;
}
