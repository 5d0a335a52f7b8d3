import { accessSync, constants } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nodeMatrix } from '../helpers/node-matrix';
import { CGROUP_V1, runLeak } from '../fixtures/heap/run-leak';

// A child without any agent leaks ~60 MB/s until V8 kills it. What it last saw proves the budget:
// the old generation died at or past 80% of heapBudget() (V8's ineffective-mark-compact line) and
// not far above 100% (promotion may overshoot by about a semi-space), and the guard's signal,
// min(old-gen in use, old-gen live after the last major GC), had crossed 80% before the abort.
const MiB = 1024 * 1024;

function cgroupWritable(): boolean {
  try {
    accessSync(CGROUP_V1, constants.W_OK);
    return true;
  } catch {
    if (process.env.CI) throw new Error(`${CGROUP_V1} is not writable; the default-size case needs a cgroup v1 memory controller`);
    return false;
  }
}

const cases = [
  { name: '--max-old-space-size=64', flags: ['--max-old-space-size=64'], cgroup: undefined, budgetMiB: 64 },
  { name: '--max-old-space-size=128 --max-semi-space-size=32', flags: ['--max-old-space-size=128', '--max-semi-space-size=32'], cgroup: undefined, budgetMiB: 128 },
  { name: 'default size in a 512 MiB cgroup', flags: [], cgroup: 512 * MiB, budgetMiB: 256 },
];

describe.each(nodeMatrix())('Node $major: the old-generation budget is where a leak dies', ({ path }) => {
  it.each(cases)('$name', async ({ flags, cgroup, budgetMiB }) => {
    if (cgroup !== undefined && !cgroupWritable()) return;
    const run = await runLeak(path, flags, cgroup === undefined ? {} : { cgroupBytes: cgroup });
    expect(run.signal, run.stderr.slice(-400)).toBe('SIGABRT');
    expect(run.stderr).toMatch(/FATAL ERROR: .*JavaScript heap out of memory/);
    const start = run.lines.find((l) => l.type === 'start');
    expect(start?.budget).toBe(budgetMiB * MiB);
    const last = run.lines.filter((l) => l.type === 'tick').at(-1);
    const budget = budgetMiB * MiB;
    const maxOld = Number(last?.maxOld) / budget;
    const maxSignal = Number(last?.maxSignal) / budget;
    expect(maxOld).toBeGreaterThanOrEqual(0.8);
    expect(maxOld).toBeLessThan(1.25);
    expect(maxSignal).toBeGreaterThanOrEqual(0.8);
  });
});
