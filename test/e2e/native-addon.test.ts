/**
 * The native part on its own (dist/native.js, no agent), in real children on every supported
 * Node: the ONE committed prebuilt binary loads everywhere, V8's near-heap-limit callback stops a
 * runaway wherever it sits (an I/O callback, a timer, an immediate, a microtask, the main module,
 * one builtin call) and hands over to JavaScript with the reserve as headroom, the reserve never
 * goes past the memory limit, a spent reserve still ends in exit 2, removal brings V8's own abort
 * back, and mark-compacts are reported with their pause and heap spaces.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runChild, tempDir, V8_OOM, why } from '../helpers/child';
import { dist, ROOT } from '../helpers/dist';
import { nodeMatrix } from '../helpers/node-matrix';

const DIRECT = join(__dirname, '..', 'fixtures', 'native', 'direct.js');
const tmp = tempDir('oomguard-native-');
afterAll(() => tmp.remove());
let n = 0;
const marker = () => join(tmp.dir, `marker-${++n}.json`);
const distDir = () => join(ROOT, 'dist');

function run(node: string, env: Record<string, string>, args: string[] = ['--max-old-space-size=64']) {
  dist('native.js');
  return runChild({ node, args: [...args, DIRECT], env: { OOMGUARD_DIST: distDir(), ...env }, timeoutMs: 60_000 });
}

for (const node of nodeMatrix()) {
  describe.concurrent(`Node ${node.major}`, () => {
    for (const context of ['handler', 'timer', 'immediate', 'microtask', 'top', 'builtin']) {
      it(`a runaway in ${context === 'top' ? 'the main module' : `a ${context}`} is stopped at the heap limit: the handler runs, its async work too, exit 2, no V8 abort`, async () => {
        const m = marker();
        const r = await run(node.path, { CONTEXT: context, MARKER: m });
        expect(r.stderr, why(r)).not.toMatch(V8_OOM);
        expect(r.stderr).not.toMatch(/async hook stack has become corrupted/);
        expect(r.code, why(r)).toBe(2);
        const info = JSON.parse(readFileSync(m, 'utf8')) as { heapLimit: number; raisedBy: number; terminated: boolean; eid: number };
        expect(info.heapLimit).toBeGreaterThanOrEqual(64 * 1024 * 1024);
        expect(info.raisedBy).toBeGreaterThanOrEqual(64 * 1024 * 1024);
        expect(info.terminated).toBe(true);
        // Node's async-context stack was reset before the handler ran
        expect(info.eid).toBe(0);
      });
    }

    it('the reserve is cut to what the memory limit leaves', async () => {
      const m = marker();
      // A 64 MiB heap at its limit has 100-160 MiB resident: a 256 MiB limit leaves some room,
      // never the 512 MiB reserve asked for.
      const limit = 256 * 1024 * 1024;
      const r = await run(node.path, { CONTEXT: 'timer', MARKER: m, MEMORY_LIMIT: String(limit), RESERVE_MB: '512' });
      expect(r.code, why(r)).toBe(2);
      const info = JSON.parse(readFileSync(m, 'utf8')) as { raisedBy: number; rss: number };
      expect(info.rss).toBeGreaterThan(0);
      expect(info.raisedBy).toBeGreaterThan(0);
      expect(info.raisedBy).toBe(limit - info.rss);
    });

    it('with no room left under the memory limit: exit 2 at once, with the reason on stderr', async () => {
      const r = await run(node.path, { CONTEXT: 'timer', MARKER: marker(), MEMORY_LIMIT: String(32 * 1024 * 1024) });
      expect(r.stderr, why(r)).not.toMatch(V8_OOM);
      expect(r.code, why(r)).toBe(2);
      expect(r.stderr).toMatch(/memory limit leaves no room for the reserve.*exiting now with code 2/);
    });

    it('a handler that fills the reserve too: exit 2 instead of V8 abort', async () => {
      const r = await run(node.path, { CONTEXT: 'timer', MARKER: marker(), HANDLER: 'leak', RESERVE_MB: '16' });
      expect(r.stderr, why(r)).not.toMatch(V8_OOM);
      expect(r.code, why(r)).toBe(2);
      expect(r.stderr).toMatch(/reached its limit again, past the reserve.*exiting now with code 2/);
    });

    it('removed again: V8 aborts as before (nothing is left installed)', async () => {
      const m = marker();
      const r = await run(node.path, { CONTEXT: 'timer', MARKER: m, UNINSTALL: '1' });
      expect(r.stderr, why(r)).toMatch(V8_OOM);
      expect(r.signal === 'SIGABRT' || r.code === 134, why(r)).toBe(true);
      expect(existsSync(m)).toBe(false);
    });

    it('--heapsnapshot-near-heap-limit keeps working: the snapshot is written to --diagnostic-dir first', async () => {
      const dir = join(tmp.dir, `snap-${node.major}`);
      mkdirSync(dir);
      const m = marker();
      const r = await run(node.path, { CONTEXT: 'timer', MARKER: m }, ['--max-old-space-size=64', '--heapsnapshot-near-heap-limit=1', `--diagnostic-dir=${dir}`]);
      expect(r.code, why(r)).toBe(2);
      expect(existsSync(m)).toBe(true);
      const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^Heap\..*\.heapsnapshot$/.test(f)) : [];
      expect(files, why(r)).toHaveLength(1);
      expect(readFileSync(join(dir, files[0]!), 'utf8').slice(0, 20)).toMatch(/^\{"snapshot":/);
    });

    it('mark-compacts are reported with their pause and the heap spaces after them; none after removal', async () => {
      const r = await run(node.path, { GC: '1' }, ['--expose-gc']);
      expect(r.code, why(r)).toBe(0);
      const out = JSON.parse(r.stdout) as {
        seen: Array<{ end: number; duration: number; spaces: Array<{ space_name: string; space_used_size: number }> }>;
        state: { majorGc: boolean; majorGcs: number };
      };
      expect(out.seen.length).toBe(3);
      for (const gc of out.seen) {
        expect(gc.duration).toBeGreaterThan(0);
        expect(Math.abs(Date.now() - gc.end)).toBeLessThan(30_000);
        expect(gc.spaces.map((s) => s.space_name)).toContain('old_space');
        expect(gc.spaces.find((s) => s.space_name === 'old_space')!.space_used_size).toBeGreaterThan(0);
      }
      expect(out.state.majorGc).toBe(false);
      expect(out.state.majorGcs).toBe(3);
    });
  });
}

describe('only the main thread guards', () => {
  it('in a worker thread the native part is not active, and says why', async () => {
    dist('native.js');
    const code = `const { Worker } = require('node:worker_threads');
      const w = new Worker('const n = require(process.env.OOMGUARD_DIST + "/native.js"); const s = n.loadNative("auto"); require("node:worker_threads").parentPort.postMessage({ active: s.active, reason: s.reason });', { eval: true });
      w.on('message', (m) => { process.stdout.write(JSON.stringify(m)); w.terminate(); });`;
    const r = await runChild({ args: ['-e', code], env: { OOMGUARD_DIST: distDir() }, timeoutMs: 20_000 });
    expect(r.code, why(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ active: false, reason: 'a worker thread: only the main thread guards' });
  });
});
