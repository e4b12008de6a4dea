import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Packing, a real `pnpm install`, two tsc runs and attw on every package take a minute or
    // two on a busy 2-core machine: one generous deadline for the whole preparation.
    hookTimeout: 900_000,
    testTimeout: 120_000,
    // Failures are lists of problems (a missing export, a compiler error): print them whole.
    chaiConfig: { truncateThreshold: 0 },
    reporters: ["default", ["json", { outputFile: "test-results/vitest.json" }]],
  },
});
