import { defineConfig } from 'vitest/config';

/**
 * Files whose assertions are about timing on a loaded machine: a shutdown hook that must finish
 * before V8's own abort rule (replayed from mark-compact pauses and mutator time), a decision
 * that must land between two percent marks, an alert that must fire before the process exits.
 * Their children share two cores with no other test file: they run after the rest, one file at
 * a time. (Run alongside the rest, a forced GC of 110 MB took 830 ms instead of ~100 ms and V8's
 * replayed count said "about to abort" during a calm drain.)
 */
const ALONE = ['test/e2e/heap-precision.test.ts', 'test/e2e/operator-live.test.ts'];

// Unit tests are pure and fast; e2e tests spawn real `node` children, real cgroups, a real
// Prometheus. Both run in one `vitest run` so CI and the README call one command.
export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: ALONE,
          // e2e files each spawn memory-hungry children; two cores, so at most two files at once.
          maxWorkers: 2,
          fileParallelism: true,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'timing',
          include: ALONE,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
