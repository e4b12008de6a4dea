import { defineConfig, mergeConfig } from "vitest/config";
import { testKinds } from "../../scripts/test-kinds.js";

// Two kinds of test, fast (`*.test.ts`) and process (`*.process.test.ts`): docs/contributing.md.
// Every test here packs, installs and compiles in other processes: process kind only.
export default mergeConfig(
  defineConfig(
    testKinds({
      // Packing, a real `pnpm install`, two tsc runs and attw on every package take a minute or
      // two on a busy 2-core machine: one generous deadline for the whole preparation.
      processTimeoutMs: 900_000,
    }),
  ),
  defineConfig({
    // Failures are lists of problems (a missing export, a compiler error): print them whole.
    test: { chaiConfig: { truncateThreshold: 0 } },
  }),
);
