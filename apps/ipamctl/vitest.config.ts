import { defineConfig } from "vitest/config";
import { testKinds } from "../../scripts/test-kinds.js";

// Two kinds of test, fast (`*.test.ts`) and process (`*.process.test.ts`): docs/contributing.md.
// Its process tests mostly wait (daemons electing, drains, ipamctl runs): two files at a time.
export default defineConfig(testKinds({ processWorkers: 2 }));
