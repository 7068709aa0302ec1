import { defineConfig } from "vitest/config";

/**
 * Three tiers (docs/architecture.md, "Tests"). `unit`: pure code beside its source, the import
 * direction and the repository's self-containment, in seconds (`npm run test:unit`). `integration`:
 * everything else under test/ (in-process services, fakes, a real Request Tracker, SQLite and
 * PostgreSQL). Both run first, in parallel; then `e2e`: the scenarios with real Prometheus,
 * Alertmanager and Request Tracker processes, and the crash loop, one file at a time, so that the
 * suite's own CPU load cannot trip the CPU alert those scenarios drive nor skew the other tests.
 */
const UNIT = ["src/**/*.test.ts", "test/architecture/**/*.test.ts", "test/repo/**/*.test.ts"];
const E2E = ["test/e2e/**/*.test.ts", "test/reliability/crash-loop.test.ts"];
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
          include: UNIT,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          exclude: [...UNIT, ...E2E],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: E2E,
          fileParallelism: false,
          // Real Prometheus, Alertmanager and RT on a possibly slow, busy machine: a scenario waits
          // several times, each wait up to 3 min (a wait returns as soon as its condition holds).
          testTimeout: 900_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
