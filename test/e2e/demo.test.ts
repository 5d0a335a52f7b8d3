/**
 * The README's first command runs `npm run demo`: it must keep ending in a clean shutdown.
 * (The build step of `npm run demo` is what `npm test` already did; this runs the demo itself.)
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runChild, why } from '../helpers/child';
import { dist, ROOT } from '../helpers/dist';

describe('npm run demo', () => {
  it('drives the leaking service into a clean shutdown: exit 2, log closed with no torn line, metrics seen', async () => {
    dist('register.js');
    const r = await runChild({ args: [join(ROOT, 'demo', 'run.mjs')], env: { DEMO_RPS: '120' }, timeoutMs: 120_000 });
    expect(r.code, why(r)).toBe(0);
    expect(r.stdout).toMatch(/exit\s+code 2 \(memory-pressure shutdown\)/);
    expect(r.stdout).toMatch(/log file\s+\d+ lines, 0 torn, footer: closed-cleanly/);
    // The gauge is drawn from the guard's own /metrics: a pressure above 0 means it was scraped.
    expect(r.stdout).toMatch(/peak pressure\s+(0\.[1-9]|1\.)/);
    expect(r.stdout).toMatch(/Clean shutdown/);
  }, 130_000);
});
