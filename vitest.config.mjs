import { defineConfig } from 'vitest/config';

// Unit tests are pure and fast; e2e tests spawn real `node` children, real cgroups, a real
// Prometheus. Both run in one `vitest run` so CI and the README call one command.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // e2e files each spawn memory-hungry children; two cores, so at most two files at once.
    maxWorkers: 2,
    fileParallelism: true,
    reporters: ['default'],
  },
});
