import { defineConfig } from "vitest/config";
import { testKinds } from "../../scripts/test-kinds.js";

// Two kinds of test, fast (`*.test.ts`) and process (`*.process.test.ts`): docs/contributing.md.
// The process tests here mostly wait for daemons (elections, restarts, drains): three files at a
// time (30 files, ~800 s of file time on an idle machine; the critical path of `pnpm test`).
// Each file's temp folders (daemon and etcd data dirs) are removed after it (temp-cleanup.ts).
export default defineConfig(
  testKinds({ processWorkers: 3, processSetupFiles: ["test/helpers/temp-cleanup.ts"] }),
);
