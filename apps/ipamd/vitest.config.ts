import { defineConfig } from "vitest/config";
import { testKinds } from "../../scripts/test-kinds.js";

// Two kinds of test, fast (`*.test.ts`) and process (`*.process.test.ts`): docs/contributing.md.
// The process tests here mostly wait for daemons (elections, restarts, drains): two files at a
// time. Three were tried: on an idle machine the package took longer (454 s, 1,274 s of file
// time, against 430 s and 815 s with two), the files' daemons competing for the two cores.
// Each file's temp folders (daemon and etcd data dirs) are removed after it (temp-cleanup.ts).
export default defineConfig(
  testKinds({ processWorkers: 2, processSetupFiles: ["test/helpers/temp-cleanup.ts"] }),
);
