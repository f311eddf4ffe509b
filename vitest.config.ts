import { defineConfig } from "vitest/config";

// Tests drive the built package (dist/) exactly as users do: `npm test` builds first.
// Two cores: test files run two at a time; each spawns its own worker processes.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 2,
    fileParallelism: true,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // CI also keeps a JSON record, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env.CI ? ["default", "json"] : ["default"],
    ...(process.env.CI ? { outputFile: { json: "test-results/vitest.json" } } : {}),
  },
});
