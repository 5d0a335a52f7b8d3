/**
 * The benchmarks are not part of `npm test`, but their code must not rot: run the quick form's
 * two smallest figures (per-tick cost and scrape cost, which also start every peer preload) into
 * a temp file and check the page they write.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { pinnedEnv, tempDir } from '../helpers/child';
import { ROOT, dist } from '../helpers/dist';

const run = promisify(execFile);
const tmp = tempDir('oomguard-bench-smoke-');
afterAll(() => tmp.remove());

describe('bench (smoke)', () => {
  it('the quick per-tick and scrape figures run against the built package and write numbers for every peer', async () => {
    dist('register.js');
    const out = join(tmp.dir, 'BENCHMARKS.md');
    const r = await run(process.execPath, [join(ROOT, 'bench', 'run.mjs'), '--quick', '--only', 'tick,scrape', '--out', out], {
      cwd: ROOT,
      env: pinnedEnv(),
      timeout: 45_000,
      killSignal: 'SIGKILL',
    });
    expect(r.stderr).toContain('[bench] wrote');
    const md = readFileSync(out, 'utf8');
    expect(md).not.toContain('**Failed**');
    expect(md).toContain(`Node ${process.version}`);
    // Figure 1: the guard's tick row carries a time and a ratio to the floor.
    expect(md).toMatch(/\| \*\*guard tick: `Sampler\.sample\(\)` \+ `evaluate\(\)`\*\* \| \d+\.\d \(\d+\.\d-\d+\.\d\) \| \d+\.\d\d \(/);
    // Figure 2: every preload served a non-empty /metrics.
    for (const peer of ['oomguard (poll 1s, default)', 'prom-client', 'otel-sdk']) {
      expect(md).toMatch(new RegExp(`\\| ${peer.replace(/[()]/g, '\\$&')} \\| \\d+\\.\\d\\d [^|]*\\| [1-9]\\d* `));
    }
    expect(md).toMatch(/\| 1\. per-tick cost \| [\d.]+ us\/tick, [\d.]+x floor \|/);
  }, 60_000);
});
