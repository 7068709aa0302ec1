import { defineConfig } from "vitest/config";

/**
 * Two groups: everything else first, in parallel; then the end-to-end scenarios with real
 * Prometheus, Alertmanager and Request Tracker processes, and the crash loop, one file at a time, so
 * that the suite's own CPU load cannot trip the CPU alert those scenarios drive nor skew the
 * timing-sensitive unit tests.
 */
export default defineConfig({
  test: {
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 240_000,
    reporters: ["default", "./test/kit/summary-reporter.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["src/**/*.test.ts", "test/**/*.test.ts"],
          exclude: ["test/e2e/**", "test/reliability/crash-loop.test.ts"],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts", "test/reliability/crash-loop.test.ts"],
          fileParallelism: false,
          testTimeout: 180_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
