import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Every test here renders with kubectl or starts real processes: generous bounds, so that a
    // busy machine makes them slower, not red.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    reporters: ["default", ["json", { outputFile: "test-results/vitest.json" }]],
  },
});
