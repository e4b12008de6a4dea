import { defineConfig } from "vitest/config";
import { testKinds } from "../../scripts/test-kinds.js";

// Two kinds of test, fast (`*.test.ts`) and process (`*.process.test.ts`): docs/contributing.md.
// Every test here renders with kubectl or starts real processes: process kind only.
export default defineConfig(testKinds());
