import { defineConfig } from "vitest/config";
import { testKinds } from "../../scripts/test-kinds.js";

// Two kinds of test, fast (`*.test.ts`) and process (`*.process.test.ts`): docs/contributing.md.
// Its process tests mostly wait (daemons electing, drains, ipamctl runs): two files at a time.
// Each file's temp folders (made by apps/ipamd's tempDir helper) are removed after it.
export default defineConfig(
  testKinds({
    processWorkers: 2,
    processSetupFiles: ["../ipamd/test/helpers/temp-cleanup.ts"],
  }),
);
