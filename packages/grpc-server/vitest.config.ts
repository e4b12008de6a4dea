import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // Tests start real servers and child processes on a shared 2-core machine.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    reporters: ["default", ["json", { outputFile: "test-results/vitest.json" }]],
  },
});
