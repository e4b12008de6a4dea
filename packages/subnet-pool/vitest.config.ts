import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // CI runs every package's tests at once on two cores: CPU-bound property tests that take
    // 2 s alone can take several times that there.
    testTimeout: 60_000,
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    reporters: ["default", ["json", { outputFile: "test-results/vitest.json" }]],
  },
});
