/**
 * The sampling profile as a `.heapprofile` file: the JSON of `HeapProfiler.SamplingHeapProfile`
 * (`{"head": node, "samples": [...]}`), which Chrome DevTools' Memory panel loads ("Load profile")
 * and shows as a tree, heavy-bottom-up view and flame chart, as it does one it recorded itself.
 *
 * Written at shutdown, near the heap limit, so it is streamed: the tree is walked without
 * recursion and serialised in 64 KiB chunks, never as one `JSON.stringify` of the whole profile
 * (which would hold a second copy of it in the heap). A walk cut short by the node or time cap
 * still closes every bracket, so the file always parses; its samples are then left out, since
 * they may name nodes that were not written (DevTools needs them only for a time-range view).
 * Samples of nodes the tree does not hold are dropped too: V8 builds the samples after the tree,
 * and the names it allocates while building the tree can themselves be sampled, under new nodes
 * (sampling-heap-profiler.cc, GetAllocationProfile).
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ProfileNode, SamplingProfile } from './profiler';

/** Nodes written at most; the guard's own interval gives a few thousand. */
export const MAX_FILE_NODES = 100_000;
const CHUNK_CHARS = 64 * 1024;

/** `oomguard-<pid>-<time>.heapprofile`: DevTools recognises the extension; the name sorts by time. */
export function profileFileName(pid: number, time: number): string {
  return `oomguard-${pid}-${new Date(time).toISOString().replace(/[:.]/g, '-')}.heapprofile`;
}

/** What was written. */
export interface WrittenProfile {
  path: string;
  nodes: number;
  samples: number;
  truncated: boolean;
}

/** A file written in chunks of about {@link CHUNK_CHARS}. */
class ChunkWriter {
  #fd: number;
  #pending = '';

  constructor(fd: number) {
    this.#fd = fd;
  }

  write(text: string): void {
    this.#pending += text;
    if (this.#pending.length >= CHUNK_CHARS) this.flush();
  }

  flush(): void {
    if (this.#pending) writeSync(this.#fd, this.#pending);
    this.#pending = '';
  }
}

function openNode(node: ProfileNode): string {
  const f = node.callFrame;
  return (
    `{"callFrame":{"functionName":${JSON.stringify(f.functionName)},"scriptId":${JSON.stringify(String(f.scriptId))},` +
    `"url":${JSON.stringify(f.url)},"lineNumber":${f.lineNumber},"columnNumber":${f.columnNumber}},` +
    `"selfSize":${node.selfSize},"id":${node.id},"children":[`
  );
}

/**
 * Write `profile` to `path` (its directory created if missing). Throws on a file system error;
 * the caller reports it. `deadline`/`now` bound the time spent, as {@link MAX_FILE_NODES} the size.
 */
export function writeHeapProfile(path: string, profile: SamplingProfile, deadline: number, now: () => number): WrittenProfile {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  try {
    const out = new ChunkWriter(fd);
    out.write('{"head":');
    // Depth-first: the path of open nodes and, for each, the index of its next child to write.
    const open: ProfileNode[] = [profile.head];
    const next: number[] = [0];
    out.write(openNode(profile.head));
    let nodes = 1;
    let truncated = false;
    const ids = new Set<number>([profile.head.id]);
    while (open.length > 0) {
      const top = open[open.length - 1]!;
      const i = next[next.length - 1]!;
      if (!truncated && i < top.children.length && (nodes >= MAX_FILE_NODES || ((nodes & 1023) === 0 && now() > deadline))) {
        truncated = true;
      }
      if (!truncated && i < top.children.length) {
        next[next.length - 1] = i + 1;
        const child = top.children[i]!;
        out.write(i > 0 ? `,${openNode(child)}` : openNode(child));
        open.push(child);
        next.push(0);
        ids.add(child.id);
        nodes++;
      } else {
        out.write(']}');
        open.pop();
        next.pop();
      }
    }
    out.write(',"samples":[');
    let samples = 0;
    for (const s of truncated ? [] : (profile.samples ?? [])) {
      if (!ids.has(s.nodeId)) continue;
      out.write(`${samples++ > 0 ? ',' : ''}{"size":${s.size},"nodeId":${s.nodeId},"ordinal":${s.ordinal}}`);
    }
    out.write(']}\n');
    out.flush();
    return { path, nodes, samples, truncated };
  } finally {
    closeSync(fd);
  }
}
