// The vitest configuration every package shares: two kinds of test, each with its own project,
// timeouts and worker pool (docs/contributing.md, "Tests"). A package's vitest.config.ts is
// `export default defineConfig(testKinds())`.
//
// - fast: `*.test.ts`, in this process only: pure code, fakes, temp files, in-process servers
//   on loopback or unix sockets, virtual clocks. Nothing waits for wall-clock time to pass.
// - process: `*.process.test.ts`, anything that starts another process: real daemons, crash
//   loops with SIGKILL, network namespaces, external binaries (buf, promtool, python).
//
// `pnpm test` runs every package's fast kind first (many at once), then the process kinds a
// few packages at a time (scripts/test.mjs), so slow process tests never share the CPU with
// a full pool of fast ones. Within one package `vitest run` runs the fast project first, then
// the process project (one file at a time unless `processWorkers` says more).
import type { ViteUserConfig } from "vitest/config";

/**
 * Backstop timeouts, not expectations: a test waits for events with its own deadlines and
 * fails naming what it waited for long before these. Fitted to a 2-core machine under
 * `stress-ng --cpu 2` and other builds, where a CPU-bound property test that takes 15 s alone
 * took 380 s (measured).
 */
export const FAST_TEST_TIMEOUT_MS = 600_000;
/** A process test starts daemons and waits for them: minutes on a loaded 2-core machine. */
export const PROCESS_TEST_TIMEOUT_MS = 900_000;

const PROCESS_FILES = ["src/**/*.process.test.ts", "test/**/*.process.test.ts"];
const ALL_FILES = ["src/**/*.test.ts", "test/**/*.test.ts"];

/** Options of {@link testKinds}. */
export interface TestKindsOptions {
  /**
   * Process test files of this package run at once (default 1). Raise it only for a package
   * whose process tests mostly wait for daemons (elections, drains, restarts) and whose files
   * share nothing (apps/ipamd and apps/ipamctl: 2), and measure it on an idle machine: at 3,
   * apps/ipamd took longer than at 2 (its daemons compete for the cores). The suite must still
   * pass beside `stress-ng --cpu 2` (docs/contributing.md).
   */
  readonly processWorkers?: number;
  /** Timeout of each process test and hook (default {@link PROCESS_TEST_TIMEOUT_MS}). */
  readonly processTimeoutMs?: number;
  /** Setup files of the process project (e.g. one that removes the file's temp folders). */
  readonly processSetupFiles?: readonly string[];
}

/**
 * The config of a package with both kinds. Reports go to `test-results/vitest.json`; the
 * `test:fast` and `test:process` scripts pass `--project` and `--outputFile.json` to write
 * `test-results/fast.json` and `test-results/process.json` (read by scripts/test-totals.mjs).
 */
export function testKinds(options: TestKindsOptions = {}): ViteUserConfig {
  return {
    test: {
      reporters: ["default", "json"],
      outputFile: { json: "test-results/vitest.json" },
      projects: [
        {
          extends: true,
          test: {
            name: "fast",
            include: ALL_FILES,
            exclude: PROCESS_FILES,
            testTimeout: FAST_TEST_TIMEOUT_MS,
            hookTimeout: FAST_TEST_TIMEOUT_MS,
            sequence: { groupOrder: 0 },
          },
        },
        {
          extends: true,
          test: {
            name: "process",
            include: PROCESS_FILES,
            testTimeout: options.processTimeoutMs ?? PROCESS_TEST_TIMEOUT_MS,
            hookTimeout: options.processTimeoutMs ?? PROCESS_TEST_TIMEOUT_MS,
            // Few process test files at a time per package: each starts its own processes.
            maxWorkers: options.processWorkers ?? 1,
            setupFiles: [...(options.processSetupFiles ?? [])],
            sequence: { groupOrder: 1 },
          },
        },
      ],
    },
  };
}
