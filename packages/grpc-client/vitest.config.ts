import { defineConfig } from "vitest/config";
import { testKinds } from "../../scripts/test-kinds.js";

// Two kinds of test, fast (`*.test.ts`) and process (`*.process.test.ts`): docs/contributing.md.
export default defineConfig(testKinds());
